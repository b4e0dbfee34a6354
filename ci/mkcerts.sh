#!/bin/sh
# mkcerts.sh DIR: generate mailjig's test certificates into DIR (default
# build/certs) with nothing but the `openssl` command.  Every name is
# documented in scenarios/CERTIFICATES.md.
#
# Idempotent: when every file exists and no certificate that is meant to be
# valid now expires within 30 days, it does nothing and prints nothing.
# Otherwise it regenerates the whole set in a temporary directory next to DIR
# and swaps it in, so an interrupted run never leaves half a set behind.
# Certificates are never committed: committed ones expire and break suites.
set -eu

DIR=${1:-build/certs}
DIR=${DIR%/}

# Leaves signed by the test CA and meant to be valid now.
VALID_LEAVES="valid valid-rsa wrong-host wildcard cn-only client-auth-only
bad-intermediate weak-key client"
# Every certificate name; each has NAME.crt and NAME.key.
ALL="ca other-ca bad-intermediate-ca $VALID_LEAVES expired not-yet-valid self-signed
untrusted-ca"
# Certificates that must not expire within 30 days for the set to be kept.
MUST_BE_CURRENT="ca other-ca bad-intermediate-ca $VALID_LEAVES self-signed untrusted-ca"
RENEW_MARGIN_S=2592000

LEAF_DAYS=825
CA_DAYS=3650
SANS="DNS:localhost,DNS:mail.mailjig.test,IP:127.0.0.1,IP:::1"

set_is_fresh() {
    [ -d "$DIR" ] || return 1
    for n in $ALL; do
        [ -s "$DIR/$n.crt" ] && [ -s "$DIR/$n.key" ] || return 1
    done
    for n in $MUST_BE_CURRENT; do
        openssl x509 -in "$DIR/$n.crt" -noout -checkend $RENEW_MARGIN_S >/dev/null 2>&1 || return 1
    done
    return 0
}

if set_is_fresh; then
    exit 0
fi

PARENT=$(dirname "$DIR")
mkdir -p "$PARENT"
TMP=$(mktemp -d "$PARENT/.certs.tmp.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM
W="$TMP/work"
mkdir -p "$W/newcerts"

# Extensions for every kind of certificate, one section each.
cat >"$W/ext.cnf" <<EOF
[req]
distinguished_name = req_dn
prompt = no
[req_dn]
CN = unused

[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $SANS
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[selfsigned]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $SANS
subjectKeyIdentifier = hash

[wronghost]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:other.invalid
authorityKeyIdentifier = keyid

[wildcard]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:*.mailjig.test
authorityKeyIdentifier = keyid

[cnonly]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
authorityKeyIdentifier = keyid

[clientonly]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectAltName = $SANS
authorityKeyIdentifier = keyid

[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid

# An "intermediate" that is not a CA: no keyUsage, so OpenSSL still builds
# the chain through it and then rejects it for CA:FALSE (X509_V_ERR_INVALID_CA).
[nonca]
basicConstraints = critical, CA:FALSE
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

# Used by "openssl ca" for the certificates with explicit dates.
[ca_cmd]
default_ca = testca
[testca]
database = $W/index.txt
new_certs_dir = $W/newcerts
serial = $W/serial
default_md = sha256
policy = policy_any
unique_subject = no
[policy_any]
organizationName = optional
organizationalUnitName = optional
commonName = supplied
EOF
: >"$W/index.txt"
echo 1000 >"$W/serial"

# key NAME ec|rsa2048|rsa1024
key() {
    case $2 in
        ec) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/$1.key" ;;
        rsa*) openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:${2#rsa}" -out "$TMP/$1.key" ;;
    esac 2>/dev/null
}

# selfsigned NAME SUBJECT SECTION DAYS
selfsigned() {
    openssl req -new -x509 -key "$TMP/$1.key" -subj "$2" -days "$4" -sha256 \
        -config "$W/ext.cnf" -extensions "$3" -out "$TMP/$1.crt" 2>/dev/null
}

# csr NAME SUBJECT
csr() {
    openssl req -new -key "$TMP/$1.key" -subj "$2" -config "$W/ext.cnf" -out "$W/$1.csr" 2>/dev/null
}

# sign NAME ISSUER SECTION: NAME.crt signed by ISSUER for LEAF_DAYS.
sign() {
    openssl x509 -req -in "$W/$1.csr" -CA "$TMP/$2.crt" -CAkey "$TMP/$2.key" \
        -set_serial "0x$(openssl rand -hex 8)" -days $LEAF_DAYS -sha256 \
        -extfile "$W/ext.cnf" -extensions "$3" -out "$TMP/$1.crt" 2>/dev/null
}

# dated NAME START END: NAME.crt signed by the test CA with explicit dates.
dated() {
    openssl ca -batch -notext -preserveDN -config "$W/ext.cnf" -name testca \
        -cert "$TMP/ca.crt" -keyfile "$TMP/ca.key" -extfile "$W/ext.cnf" -extensions server \
        -startdate "$2" -enddate "$3" -in "$W/$1.csr" -out "$TMP/$1.crt" 2>/dev/null
}

# leaf NAME KEYTYPE SECTION [ISSUER]
leaf() {
    key "$1" "$2"
    csr "$1" "/O=mailjig test/OU=$1/CN=mail.mailjig.test"
    sign "$1" "${4:-ca}" "$3"
}

key ca ec
selfsigned ca "/O=mailjig test/CN=mailjig test CA" ca $CA_DAYS
key other-ca ec
selfsigned other-ca "/O=mailjig test/CN=mailjig other CA (not trusted)" ca $CA_DAYS

leaf valid ec server
leaf valid-rsa rsa2048 server
leaf wrong-host ec wronghost
leaf client-auth-only ec clientonly
leaf untrusted-ca ec server other-ca
leaf weak-key rsa1024 server

key wildcard ec
csr wildcard "/O=mailjig test/OU=wildcard/CN=*.mailjig.test"
sign wildcard ca wildcard

key cn-only ec
csr cn-only "/CN=mail.mailjig.test"
sign cn-only ca cnonly

key client ec
csr client "/O=mailjig test/CN=alice"
sign client ca client

key self-signed ec
selfsigned self-signed "/O=mailjig test/OU=self-signed/CN=mail.mailjig.test" selfsigned $LEAF_DAYS

key expired ec
csr expired "/O=mailjig test/OU=expired/CN=mail.mailjig.test"
dated expired 20200101000000Z 20210101000000Z
key not-yet-valid ec
csr not-yet-valid "/O=mailjig test/OU=not-yet-valid/CN=mail.mailjig.test"
dated not-yet-valid 20900101000000Z 20910101000000Z

# bad-intermediate: leaf <- non-CA "intermediate" <- test CA; the server
# presents leaf + intermediate, as a real server presents its chain.
key bad-intermediate-ca ec
csr bad-intermediate-ca "/O=mailjig test/CN=mailjig non-CA intermediate"
sign bad-intermediate-ca ca nonca
leaf bad-intermediate ec server bad-intermediate-ca
cat "$TMP/bad-intermediate-ca.crt" >>"$TMP/bad-intermediate.crt"

rm -rf "$W"
chmod 600 "$TMP"/*.key
chmod 755 "$TMP"

# Swap the new set in; a concurrent or interrupted run leaves either the old
# set or the new one, never a mix.
OLD="$PARENT/.certs.old.$$"
if [ -e "$DIR" ]; then
    mv "$DIR" "$OLD"
fi
mv "$TMP" "$DIR"
trap - EXIT INT TERM
rm -rf "$OLD"
echo "mkcerts: generated test certificates in $DIR"
