/*
 * tls.c: the TLS client transport over OpenSSL 3 (transport.h), entered from
 * a TCP transport by starttls, for implicit TLS and STARTTLS alike.
 *
 * Follows RFC 8446 / RFC 5246 through OpenSSL, with the mail-specific rules of
 * RFC 8314 (implicit TLS), RFC 2595 section 2.4 and RFC 9525 (server identity
 * from the subjectAltName; wildcards only as the whole left-most label),
 * RFC 6066 section 3 (no SNI for IP literals) and RFC 8996 (TLS 1.2 minimum).
 *
 * Policy, decided here once:
 *   - TLS 1.2 minimum unless configured, security level 2 (RSA/DH >= 2048
 *     bits, ECC >= 224 bits, no SHA-1 signatures), no compression, no
 *     renegotiation.  SSL_OP_IGNORE_UNEXPECTED_EOF stays off so a truncated
 *     stream is reported (MJ_R_TLS_TRUNCATED), never taken as a clean end.
 *   - CN-only certificates are rejected: X509_CHECK_FLAG_NEVER_CHECK_SUBJECT
 *     makes OpenSSL look only at the SANs, as RFC 9525 requires of new
 *     clients; a certificate without a SAN matches no name.
 *   - SSL_VERIFY_PEER and the host are set before the handshake, and the verify
 *     callback returns OpenSSL's verdict (only a pin lets chain errors pass,
 *     and then the pin is compared before the transport is usable).
 *   - The socket BIO is our own so every send uses MSG_NOSIGNAL: OpenSSL's
 *     socket BIO uses write(), which raises SIGPIPE on a closed peer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/crypto.h>

#include "mailjig/transport.h"
#include "tls_internal.h"

/* A quoted plaintext line in a message (escaped, so up to 4x the bytes). */
#define MJ_TLS_QUOTE_MAX 128
/* Wait for the rest of a plaintext greeting line once its start is seen. */
#define MJ_TLS_PLAINTEXT_LINGER_MS 100
/* One OpenSSL error string. */
#define MJ_TLS_ERRSTR_MAX 160

static mj_sock *sock_of(mj_transport *t)
{
    return (mj_sock *)t;
}

/* ---- our socket BIO: recv/send with MSG_NOSIGNAL, first bytes recorded ----- */

static int bio_sock_write(BIO *b, const char *buf, size_t len, size_t *written)
{
    mj_sock *s = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n = send(s->fd, buf, len, MSG_NOSIGNAL);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            BIO_set_retry_write(b);
        return 0;
    }
    *written = (size_t)n;
    return 1;
}

static int bio_sock_read(BIO *b, char *buf, size_t len, size_t *readbytes)
{
    mj_sock *s = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n = recv(s->fd, buf, len, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            BIO_set_retry_read(b);
        return 0;
    }
    if (n == 0) {
        /* OpenSSL asks BIO_eof() to tell truncation from a retry. */
        s->read_eof = true;
        return 0;
    }
    if (s->record_first && s->first_len < sizeof s->first_bytes) {
        size_t k = sizeof s->first_bytes - s->first_len;
        if (k > (size_t)n)
            k = (size_t)n;
        memcpy(s->first_bytes + s->first_len, buf, k);
        s->first_len += k;
    }
    *readbytes = (size_t)n;
    return 1;
}

static long bio_sock_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)num;
    (void)ptr;
    mj_sock *s = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_EOF:
        return s->read_eof ? 1 : 0;
    default:
        return 0;
    }
}

static mj_outcome attach_bio(mj_sock *s, mj_error *err)
{
    s->bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "mailjig socket");
    if (s->bio_method == NULL || !BIO_meth_set_write_ex(s->bio_method, bio_sock_write) ||
        !BIO_meth_set_read_ex(s->bio_method, bio_sock_read) ||
        !BIO_meth_set_ctrl(s->bio_method, bio_sock_ctrl))
        return mj_error_set(err, MJ_INTERNAL, MJ_R_NO_MEMORY, "cannot create the socket BIO");
    BIO *bio = BIO_new(s->bio_method);
    if (bio == NULL)
        return mj_error_set(err, MJ_INTERNAL, MJ_R_NO_MEMORY, "cannot create the socket BIO");
    BIO_set_data(bio, s);
    BIO_set_init(bio, 1);
    SSL_set_bio(s->ssl, bio, bio); /* the SSL owns it from here */
    return MJ_OK;
}

/* ---- describing certificates ------------------------------------------------ */

/* Subject of x as RFC 2253 text, escaped. */
static void cert_name_text(const X509_NAME *name, char *out, size_t out_size)
{
    out[0] = '\0';
    BIO *mem = BIO_new(BIO_s_mem());
    if (mem == NULL)
        return;
    if (X509_NAME_print_ex(mem, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        char *data = NULL;
        long len = BIO_get_mem_data(mem, &data);
        if (len > 0)
            mj_escape(data, (size_t)len, out, out_size);
    }
    BIO_free(mem);
}

/* Append "DNS:a, IP:b" for x's DNS and IP SANs; "" when there are none. */
static void cert_san_text(X509 *x, char *out, size_t out_size)
{
    size_t used = 0;
    out[0] = '\0';
    GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        char one[MJ_TLS_INFO_TEXT_MAX] = "";
        if (g->type == GEN_DNS) {
            char esc[MJ_TLS_INFO_TEXT_MAX - 8];
            mj_escape(ASN1_STRING_get0_data(g->d.dNSName),
                      (size_t)ASN1_STRING_length(g->d.dNSName), esc, sizeof esc);
            snprintf(one, sizeof one, "DNS:%s", esc);
        } else if (g->type == GEN_IPADD) {
            char ip[INET6_ADDRSTRLEN] = "?";
            int len = ASN1_STRING_length(g->d.iPAddress);
            const unsigned char *p = ASN1_STRING_get0_data(g->d.iPAddress);
            if (len == 4 || len == 16)
                inet_ntop(len == 4 ? AF_INET : AF_INET6, p, ip, sizeof ip);
            snprintf(one, sizeof one, "IP:%s", ip);
        } else {
            continue;
        }
        int n = snprintf(out + used, out_size - used, "%s%s", used ? ", " : "", one);
        if (n < 0 || (size_t)n >= out_size - used)
            break;
        used += (size_t)n;
    }
    GENERAL_NAMES_free(names);
}

/* "\"CN=...\" (names: DNS:...)" for messages. */
static void cert_describe(X509 *x, char *out, size_t out_size)
{
    char subject[MJ_TLS_INFO_TEXT_MAX];
    char names[MJ_TLS_INFO_TEXT_MAX];
    cert_name_text(X509_get_subject_name(x), subject, sizeof subject);
    cert_san_text(x, names, sizeof names);
    /* Truncation is fine: the message is cut with "..." anyway. */
    if (snprintf(out, out_size, "\"%s\" (names: %s)", subject, names[0] ? names : "none") < 0)
        out[0] = '\0';
}

/* ---- verification ------------------------------------------------------------ */

/*
 * Keeps OpenSSL's verdict (returns preverify_ok) and records the first
 * failure with the leaf's description for the error message.  With a pin,
 * chain, date and name errors are let through: the pin replaces them and is
 * compared right after the handshake, before any byte is sent.
 */
static int verify_cb(int preverify_ok, X509_STORE_CTX *ctx)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx());
    mj_sock *s = ssl != NULL ? SSL_get_app_data(ssl) : NULL;
    if (s == NULL)
        return preverify_ok;
    if (s->pin_mode)
        return 1;
    if (!preverify_ok && s->vfail.code == 0) {
        s->vfail.code = X509_STORE_CTX_get_error(ctx);
        s->vfail.depth = X509_STORE_CTX_get_error_depth(ctx);
        X509 *leaf = X509_STORE_CTX_get0_cert(ctx);
        if (leaf != NULL)
            cert_describe(leaf, s->vfail.desc, sizeof s->vfail.desc);
        else
            snprintf(s->vfail.desc, sizeof s->vfail.desc, "(unknown)");
    }
    return preverify_ok;
}

/* X509 verify errors onto reasons, and how each is worded. */
typedef struct verify_row {
    int code;
    mj_reason reason;
    const char *what; /* follows "certificate for <desc> " */
} verify_row;

static const verify_row verify_table[] = {
    {X509_V_ERR_CERT_HAS_EXPIRED, MJ_R_CERT_EXPIRED, "has expired"},
    {X509_V_ERR_CERT_NOT_YET_VALID, MJ_R_CERT_NOT_YET_VALID, "is not yet valid"},
    {X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, MJ_R_CERT_UNTRUSTED, "is not trusted"},
    {X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, MJ_R_CERT_UNTRUSTED, "is not trusted"},
    {X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, MJ_R_CERT_UNTRUSTED, "is not trusted"},
    {X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, MJ_R_CERT_UNTRUSTED, "is not trusted"},
    {X509_V_ERR_CERT_UNTRUSTED, MJ_R_CERT_UNTRUSTED, "is not trusted"},
    {X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, MJ_R_CERT_UNTRUSTED, "is not trusted"},
    {X509_V_ERR_HOSTNAME_MISMATCH, MJ_R_CERT_HOSTNAME, "does not match host"},
    {X509_V_ERR_IP_ADDRESS_MISMATCH, MJ_R_CERT_HOSTNAME, "does not match host"},
    {X509_V_ERR_INVALID_PURPOSE, MJ_R_CERT_PURPOSE, "is not valid for a TLS server"},
    {X509_V_ERR_INVALID_CA, MJ_R_CERT_CHAIN, "has an invalid chain"},
    {X509_V_ERR_PATH_LENGTH_EXCEEDED, MJ_R_CERT_CHAIN, "has an invalid chain"},
    {X509_V_ERR_INVALID_NON_CA, MJ_R_CERT_CHAIN, "has an invalid chain"},
    {X509_V_ERR_EE_KEY_TOO_SMALL, MJ_R_CERT_WEAK, "has a weak key or signature"},
    {X509_V_ERR_CA_KEY_TOO_SMALL, MJ_R_CERT_WEAK, "has a weak key or signature"},
    {X509_V_ERR_CA_MD_TOO_WEAK, MJ_R_CERT_WEAK, "has a weak key or signature"},
};

static mj_outcome verify_error(const mj_sock *s, long code, const char *host, mj_error *err)
{
    const verify_row *row = NULL;
    for (size_t i = 0; i < sizeof verify_table / sizeof verify_table[0]; i++)
        if (verify_table[i].code == code)
            row = &verify_table[i];
    const char *desc = s->vfail.code != 0 ? s->vfail.desc : "(unknown)";
    const char *why = X509_verify_cert_error_string(code);
    if (row == NULL)
        return mj_error_set(err, MJ_CERTIFICATE_INVALID, MJ_R_CERT_OTHER,
                            "certificate for %s failed verification: %s", desc, why);
    if (row->reason == MJ_R_CERT_HOSTNAME)
        return mj_error_set(err, MJ_CERTIFICATE_INVALID, row->reason,
                            "certificate for %s does not match host \"%s\"", desc, host);
    return mj_error_set(err, MJ_CERTIFICATE_INVALID, row->reason,
                        "certificate for %s %s (%s, at depth %d)", desc, row->what, why,
                        s->vfail.depth);
}

/* ---- context and connection setup ------------------------------------------- */

static bool is_ip_literal(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* The newest OpenSSL error as text, and the queue cleared. */
static const char *ssl_error_text(char *out, size_t out_size)
{
    unsigned long e = ERR_peek_last_error();
    if (e == 0)
        snprintf(out, out_size, "unknown error");
    else
        ERR_error_string_n(e, out, out_size);
    ERR_clear_error();
    return out;
}

static mj_outcome load_trust(SSL_CTX *ctx, const mj_tls_config *cfg, mj_error *err)
{
    char why[MJ_TLS_ERRSTR_MAX];
    if (cfg->insecure || cfg->has_pin)
        return MJ_OK;
    if (cfg->cafile != NULL) {
        if (SSL_CTX_load_verify_locations(ctx, cfg->cafile, NULL) != 1)
            return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT, "cannot load CA file %s: %s",
                                cfg->cafile, ssl_error_text(why, sizeof why));
        return MJ_OK;
    }
    if (SSL_CTX_set_default_verify_paths(ctx) != 1)
        return mj_error_set(err, MJ_INTERNAL, MJ_R_SYSTEM, "cannot load the system trust store: %s",
                            ssl_error_text(why, sizeof why));
    return MJ_OK;
}

static mj_outcome load_client_cert(SSL_CTX *ctx, const mj_tls_config *cfg, mj_error *err)
{
    char why[MJ_TLS_ERRSTR_MAX];
    if (cfg->client_cert == NULL)
        return MJ_OK;
    const char *key = cfg->client_key != NULL ? cfg->client_key : cfg->client_cert;
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->client_cert) != 1)
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "cannot load client certificate %s: %s", cfg->client_cert,
                            ssl_error_text(why, sizeof why));
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1)
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT, "cannot load client key %s: %s", key,
                            ssl_error_text(why, sizeof why));
    return MJ_OK;
}

static mj_outcome make_ctx(const mj_tls_config *cfg, SSL_CTX **ctx_out, mj_error *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL)
        return mj_error_set(err, MJ_INTERNAL, MJ_R_NO_MEMORY, "cannot create a TLS context");
    int min = cfg->min_version != 0 ? cfg->min_version : TLS1_2_VERSION;
    SSL_CTX_set_security_level(ctx, 2);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
    mj_outcome o = MJ_OK;
    if (SSL_CTX_set_min_proto_version(ctx, min) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, cfg->max_version) != 1)
        o = mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT, "unsupported TLS version bounds");
    if (o == MJ_OK)
        o = load_trust(ctx, cfg, err);
    if (o == MJ_OK)
        o = load_client_cert(ctx, cfg, err);
    if (o != MJ_OK) {
        SSL_CTX_free(ctx);
        return o;
    }
    *ctx_out = ctx;
    return MJ_OK;
}

mj_outcome mj_tls_preload(mj_error *err)
{
    /* No trust store: loading it is per context, so a warm-up gains nothing. */
    mj_tls_config cfg = {.insecure = true};
    SSL_CTX *ctx = NULL;
    mj_outcome rc = make_ctx(&cfg, &ctx, err);
    SSL_CTX_free(ctx);
    return rc;
}

/* Verification mode, SNI and the reference identity, all before the handshake. */
static mj_outcome setup_ssl(mj_sock *s, const mj_tls_config *cfg, const char *host,
                            mj_error *err)
{
    bool ip = is_ip_literal(host);
    if (!ip && SSL_set_tlsext_host_name(s->ssl, host) != 1)
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT, "host name not usable for SNI");
    if (!ip)
        snprintf(s->sni, sizeof s->sni, "%s", host);
    s->pin_mode = cfg->has_pin && !cfg->insecure;
    if (cfg->insecure) {
        SSL_set_verify(s->ssl, SSL_VERIFY_NONE, NULL);
        return MJ_OK;
    }
    SSL_set_verify(s->ssl, SSL_VERIFY_PEER, verify_cb);
    if (s->pin_mode)
        return MJ_OK;
    SSL_set_hostflags(s->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS |
                                  X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
    /* OpenSSL 3's SSL_set1_host takes IP literals too (matched to IP SANs). */
    if (SSL_set1_host(s->ssl, host) != 1 ||
        SSL_set_purpose(s->ssl, X509_PURPOSE_SSL_SERVER) != 1)
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT, "cannot verify against host");
    return MJ_OK;
}

/* ---- handshake failures ------------------------------------------------------- */

/* What a support engineer would say, by the start of the plaintext answer. */
typedef struct plaintext_hint {
    const char *prefix;
    const char *hint;
} plaintext_hint;

static const plaintext_hint plaintext_hints[] = {
    {"220 ", "this looks like an SMTP server speaking plaintext: on port 587 or 25 use "
             "security=starttls"},
    {"220-", "this looks like an SMTP server speaking plaintext: on port 587 or 25 use "
             "security=starttls"},
    {"* OK", "this looks like an IMAP server speaking plaintext: port 143 speaks STARTTLS: use "
             "security=starttls"},
    {"* PREAUTH", "this looks like an IMAP server speaking plaintext: use security=starttls "
                  "or an implicit-TLS port (993)"},
    {"+OK", "this looks like a POP3 server speaking plaintext: port 110 speaks STARTTLS: use "
            "security=starttls"},
    {"HTTP/", "this looks like a web server: check the port"},
};

/* Collect the rest of the first plaintext line if it is already on its way. */
static void complete_first_line(mj_sock *s)
{
    int64_t until = mj_now_ms() + MJ_TLS_PLAINTEXT_LINGER_MS;
    while (s->first_len < sizeof s->first_bytes &&
           memchr(s->first_bytes, '\n', s->first_len) == NULL) {
        ssize_t n = recv(s->fd, s->first_bytes + s->first_len,
                         sizeof s->first_bytes - s->first_len, 0);
        if (n > 0) {
            s->first_len += (size_t)n;
            continue;
        }
        int64_t left = until - mj_now_ms();
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) || left <= 0)
            return;
        struct pollfd p = {.fd = s->fd, .events = POLLIN, .revents = 0};
        if (poll(&p, 1, (int)left) <= 0)
            return;
    }
}

static mj_outcome plaintext_error(mj_sock *s, mj_error *err)
{
    complete_first_line(s);
    size_t len = s->first_len;
    const unsigned char *lf = memchr(s->first_bytes, '\n', len);
    if (lf != NULL)
        len = (size_t)(lf - s->first_bytes);
    if (len > 0 && s->first_bytes[len - 1] == '\r')
        len--;
    char quote[MJ_TLS_QUOTE_MAX];
    mj_escape(s->first_bytes, len, quote, sizeof quote);
    const char *hint = "the server does not speak TLS on this port: check the port and the "
                       "security setting";
    for (size_t i = 0; i < sizeof plaintext_hints / sizeof plaintext_hints[0]; i++) {
        size_t plen = strlen(plaintext_hints[i].prefix);
        if (s->first_len >= plen && memcmp(s->first_bytes, plaintext_hints[i].prefix, plen) == 0)
            hint = plaintext_hints[i].hint;
    }
    return mj_error_set(err, MJ_TLS_FAILED, MJ_R_TLS_PLAINTEXT,
                        "the server answered in plaintext instead of TLS: \"%s\"; %s", quote,
                        hint);
}

/* A TLS record starts with content type 20..23 (RFC 8446 section 5.1). */
static bool answered_plaintext(const mj_sock *s)
{
    return s->first_len > 0 && (s->first_bytes[0] < 20 || s->first_bytes[0] > 23);
}

static bool is_version_error(unsigned long e)
{
    static const int reasons[] = {
        SSL_R_UNSUPPORTED_PROTOCOL,       SSL_R_TLSV1_ALERT_PROTOCOL_VERSION,
        SSL_R_NO_PROTOCOLS_AVAILABLE,     SSL_R_WRONG_SSL_VERSION,
        SSL_R_VERSION_TOO_LOW,            SSL_R_VERSION_TOO_HIGH,
        SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM,
    };
    if (ERR_GET_LIB(e) != ERR_LIB_SSL)
        return false;
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (ERR_GET_REASON(e) == reasons[i])
            return true;
    return false;
}

/* Classify a failed SSL_connect; clears the error queue. */
static mj_outcome handshake_error(mj_sock *s, int ssl_err, const char *host, mj_error *err)
{
    char why[MJ_TLS_ERRSTR_MAX];
    long vr = SSL_get_verify_result(s->ssl);
    mj_outcome o;
    if (answered_plaintext(s))
        o = plaintext_error(s, err);
    else if (vr != X509_V_OK && s->vfail.code != 0)
        o = verify_error(s, vr, host, err);
    else if (is_version_error(ERR_peek_last_error()))
        o = mj_error_set(err, MJ_TLS_FAILED, MJ_R_TLS_VERSION,
                         "no TLS version in common with the server: %s",
                         ssl_error_text(why, sizeof why));
    else if (ssl_err == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0 && !s->read_eof)
        o = mj_error_set(err, MJ_TLS_FAILED, MJ_R_TLS_HANDSHAKE, "TLS handshake failed: %s",
                         errno != 0 ? strerror(errno) : "connection closed");
    else if (s->read_eof && s->first_len == 0)
        o = mj_error_set(err, MJ_TLS_FAILED, MJ_R_TLS_HANDSHAKE,
                         "the server closed the connection during the TLS handshake");
    else
        o = mj_error_set(err, MJ_TLS_FAILED, MJ_R_TLS_HANDSHAKE, "TLS handshake failed: %s",
                         ssl_error_text(why, sizeof why));
    ERR_clear_error();
    return o;
}

/* Drive the non-blocking SSL_connect, each step bounded by the timeouts. */
static mj_outcome run_handshake(mj_sock *s, const char *host, mj_error *err)
{
    s->record_first = true;
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int rc = SSL_connect(s->ssl);
        if (rc == 1)
            break;
        int e = SSL_get_error(s->ssl, rc);
        short ev = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (ev == 0) {
            s->record_first = false;
            return handshake_error(s, e, host, err);
        }
        mj_outcome o = mj_net_wait(s->fd, ev, s->base.timeouts,
                                   "progress in the TLS handshake", err);
        if (o != MJ_OK) {
            ERR_clear_error();
            return o;
        }
    }
    s->record_first = false;
    return MJ_OK;
}

static void hex_fingerprint(const unsigned char *md, char *out, size_t out_size)
{
    size_t o = 0;
    for (size_t i = 0; i < MJ_SHA256_LEN && o + 4 <= out_size; i++)
        o += (size_t)snprintf(out + o, out_size - o, "%s%02X", i ? ":" : "", md[i]);
}

/* The pin replaces chain, date and name checks: compare it before any use. */
static mj_outcome check_pin(mj_sock *s, const mj_tls_config *cfg, mj_error *err)
{
    X509 *leaf = SSL_get0_peer_certificate(s->ssl);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (leaf == NULL || X509_digest(leaf, EVP_sha256(), md, &md_len) != 1 ||
        md_len != MJ_SHA256_LEN) {
        ERR_clear_error();
        return mj_error_set(err, MJ_CERTIFICATE_INVALID, MJ_R_CERT_PIN,
                            "the server presented no certificate to compare with the pin");
    }
    if (CRYPTO_memcmp(md, cfg->pin_sha256, MJ_SHA256_LEN) == 0)
        return MJ_OK;
    char desc[MJ_TLS_CERT_DESC_MAX];
    char got[MJ_SHA256_LEN * 3 + 1];
    cert_describe(leaf, desc, sizeof desc);
    hex_fingerprint(md, got, sizeof got);
    return mj_error_set(err, MJ_CERTIFICATE_INVALID, MJ_R_CERT_PIN,
                        "certificate for %s does not match the pinned SHA-256 (it has %s)", desc,
                        got);
}

mj_outcome mj_tls_start(mj_sock *s, const mj_tls_config *cfg, const char *host, mj_error *err)
{
    if (s->ssl != NULL)
        return mj_error_set(err, MJ_INTERNAL, MJ_R_SYSTEM, "TLS is already active");
    if (host == NULL || host[0] == '\0')
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "no host name to verify the server certificate against");
    ERR_clear_error();
    char host_text[MJ_TLS_INFO_TEXT_MAX];
    mj_escape(host, strlen(host), host_text, sizeof host_text);
    SSL_CTX *ctx = NULL;
    mj_outcome o = make_ctx(cfg, &ctx, err);
    if (o != MJ_OK)
        return o;
    s->ssl = SSL_new(ctx);
    SSL_CTX_free(ctx); /* the SSL holds its own reference */
    if (s->ssl == NULL)
        return mj_error_set(err, MJ_INTERNAL, MJ_R_NO_MEMORY, "cannot create a TLS connection");
    SSL_set_app_data(s->ssl, s);
    o = attach_bio(s, err);
    if (o == MJ_OK)
        o = setup_ssl(s, cfg, host, err);
    if (o == MJ_OK)
        o = run_handshake(s, host_text, err);
    if (o == MJ_OK && s->pin_mode)
        o = check_pin(s, cfg, err);
    ERR_clear_error();
    if (o != MJ_OK)
        return o;
    s->tls_state = cfg->insecure ? MJ_TLS_UNVERIFIED : MJ_TLS_VERIFIED;
    s->base.ops = &mj_tls_ops;
    return MJ_OK;
}

void mj_tls_release(mj_sock *s)
{
    SSL_free(s->ssl); /* frees the BIO too */
    s->ssl = NULL;
    BIO_meth_free(s->bio_method);
    s->bio_method = NULL;
    ERR_clear_error();
}

/* ---- the TLS ops ----------------------------------------------------------------- */

/* Classify a failed SSL_read/SSL_write after the handshake; clears the queue. */
static mj_outcome io_error(mj_sock *s, int ssl_err, int sys_errno, mj_error *err)
{
    char why[MJ_TLS_ERRSTR_MAX];
    unsigned long e = ERR_peek_last_error();
    mj_outcome o;
    if (ssl_err == SSL_ERROR_ZERO_RETURN)
        o = mj_error_set(err, MJ_CONNECTION_LOST, MJ_R_EOF,
                         "the server closed the TLS connection");
    else if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
             ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
        o = mj_error_set(err, MJ_CONNECTION_LOST, MJ_R_TLS_TRUNCATED,
                         "the server closed the connection without a TLS close_notify "
                         "(the data may be truncated)");
    else if (ssl_err == SSL_ERROR_SYSCALL && (sys_errno == ECONNRESET || sys_errno == EPIPE))
        o = mj_error_set(err, MJ_CONNECTION_LOST, MJ_R_RESET, "connection reset by the server");
    else if (ssl_err == SSL_ERROR_SYSCALL && e == 0 && s->read_eof)
        o = mj_error_set(err, MJ_CONNECTION_LOST, MJ_R_TLS_TRUNCATED,
                         "the server closed the connection without a TLS close_notify");
    else if (ssl_err == SSL_ERROR_SYSCALL && e == 0)
        o = mj_error_set(err, MJ_CONNECTION_LOST, MJ_R_SYSTEM, "TLS I/O failed: %s",
                         strerror(sys_errno));
    else
        o = mj_error_set(err, MJ_TLS_FAILED, MJ_R_TLS_ALERT, "fatal TLS error: %s",
                         ssl_error_text(why, sizeof why));
    ERR_clear_error();
    return o;
}

static mj_outcome tls_read(mj_transport *t, void *buf, size_t cap, size_t *n_out, mj_error *err)
{
    mj_sock *s = sock_of(t);
    mj_outcome o = mj_net_deadline_check(t->timeouts, "data from the server", err);
    if (o != MJ_OK)
        return o;
    for (;;) {
        ERR_clear_error();
        errno = 0;
        size_t n = 0;
        if (SSL_read_ex(s->ssl, buf, cap, &n) == 1) {
            *n_out = n;
            return MJ_OK;
        }
        int sys_errno = errno;
        int e = SSL_get_error(s->ssl, 0);
        short ev = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (ev == 0)
            return io_error(s, e, sys_errno, err);
        o = mj_net_wait(s->fd, ev, t->timeouts, "data from the server", err);
        if (o != MJ_OK)
            return o;
    }
}

static mj_outcome tls_write(mj_transport *t, const void *buf, size_t len, mj_error *err)
{
    mj_sock *s = sock_of(t);
    const unsigned char *p = buf;
    mj_outcome o = mj_net_deadline_check(t->timeouts, "progress sending to the server", err);
    if (o != MJ_OK)
        return o;
    while (len > 0) {
        ERR_clear_error();
        errno = 0;
        size_t n = 0;
        if (SSL_write_ex(s->ssl, p, len, &n) == 1) {
            p += n;
            len -= n;
            continue;
        }
        int sys_errno = errno;
        int e = SSL_get_error(s->ssl, 0);
        short ev = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (ev == 0)
            return io_error(s, e, sys_errno, err);
        o = mj_net_wait(s->fd, ev, t->timeouts, "progress sending to the server", err);
        if (o != MJ_OK)
            return o;
    }
    return MJ_OK;
}

static size_t tls_pending(mj_transport *t)
{
    mj_sock *s = sock_of(t);
    int kernel = 0;
    if (ioctl(s->fd, FIONREAD, &kernel) != 0 || kernel < 0)
        kernel = 0;
    int buffered = SSL_pending(s->ssl);
    return (size_t)kernel + (buffered > 0 ? (size_t)buffered : 0);
}

static mj_outcome tls_starttls(mj_transport *t, const mj_tls_config *cfg, const char *host,
                               mj_error *err)
{
    (void)t;
    (void)cfg;
    (void)host;
    return mj_error_set(err, MJ_INTERNAL, MJ_R_SYSTEM, "TLS is already active");
}

static void tls_info(mj_transport *t, mj_tls_info *info_out)
{
    mj_sock *s = sock_of(t);
    memset(info_out, 0, sizeof *info_out);
    info_out->state = s->tls_state;
    snprintf(info_out->version, sizeof info_out->version, "%s", SSL_get_version(s->ssl));
    const SSL_CIPHER *c = SSL_get_current_cipher(s->ssl);
    snprintf(info_out->cipher, sizeof info_out->cipher, "%s", c ? SSL_CIPHER_get_name(c) : "");
    snprintf(info_out->sni, sizeof info_out->sni, "%s", s->sni);
    X509 *leaf = SSL_get0_peer_certificate(s->ssl);
    if (leaf == NULL)
        return;
    cert_name_text(X509_get_subject_name(leaf), info_out->peer_subject,
                   sizeof info_out->peer_subject);
    cert_name_text(X509_get_issuer_name(leaf), info_out->peer_issuer,
                   sizeof info_out->peer_issuer);
    cert_san_text(leaf, info_out->peer_names, sizeof info_out->peer_names);
    unsigned int md_len = 0;
    unsigned char md[EVP_MAX_MD_SIZE];
    if (X509_digest(leaf, EVP_sha256(), md, &md_len) == 1 && md_len == MJ_SHA256_LEN)
        memcpy(info_out->peer_sha256, md, MJ_SHA256_LEN);
    ERR_clear_error();
}

/* Best effort close_notify (one non-blocking attempt), then free. */
static void tls_close(mj_transport *t)
{
    mj_sock *s = sock_of(t);
    if (s->ssl != NULL && !s->read_eof)
        (void)SSL_shutdown(s->ssl);
    mj_tls_release(s);
    if (s->fd >= 0)
        close(s->fd);
    free(s);
}

/*
 * RFC 5929 4.1: the hash of the server certificate, with SHA-256 when the
 * certificate's signature uses MD5 or SHA-1, else the signature's hash.
 */
static mj_outcome server_end_point(mj_sock *s, unsigned char *out, size_t cap, size_t *len_out,
                                   mj_error *err)
{
    X509 *leaf = SSL_get0_peer_certificate(s->ssl);
    int md_nid = NID_undef;
    if (leaf == NULL || X509_get_signature_info(leaf, &md_nid, NULL, NULL, NULL) != 1) {
        ERR_clear_error();
        return mj_error_set(err, MJ_TLS_FAILED, MJ_R_TLS_HANDSHAKE,
                            "no server certificate hash for channel binding");
    }
    const EVP_MD *md = (md_nid == NID_md5 || md_nid == NID_sha1 || md_nid == NID_undef)
                           ? EVP_sha256()
                           : EVP_get_digestbynid(md_nid);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (md == NULL || X509_digest(leaf, md, digest, &n) != 1 || n > cap) {
        ERR_clear_error();
        return mj_error_set(err, MJ_TLS_FAILED, MJ_R_TLS_HANDSHAKE,
                            "cannot hash the server certificate for channel binding");
    }
    memcpy(out, digest, n);
    *len_out = n;
    return MJ_OK;
}

/* RFC 9266: 32 bytes exported with the label "EXPORTER-Channel-Binding". */
static mj_outcome tls_channel_binding(mj_transport *t, mj_channel_binding *type_out,
                                      unsigned char *out, size_t cap, size_t *len_out,
                                      mj_error *err)
{
    static const char label[] = "EXPORTER-Channel-Binding";
    mj_sock *s = sock_of(t);
    if (SSL_version(s->ssl) < TLS1_3_VERSION) {
        *type_out = MJ_CB_TLS_SERVER_END_POINT;
        return server_end_point(s, out, cap, len_out, err);
    }
    *type_out = MJ_CB_TLS_EXPORTER;
    if (cap < 32 ||
        SSL_export_keying_material(s->ssl, out, 32, label, sizeof label - 1, NULL, 0, 0) != 1) {
        ERR_clear_error();
        return mj_error_set(err, MJ_TLS_FAILED, MJ_R_TLS_HANDSHAKE,
                            "cannot export TLS keying material for channel binding");
    }
    *len_out = 32;
    return MJ_OK;
}

const mj_transport_ops mj_tls_ops = {
    .name = "tls",
    .read = tls_read,
    .write = tls_write,
    .pending = tls_pending,
    .starttls = tls_starttls,
    .tls_info = tls_info,
    .close = tls_close,
    .channel_binding = tls_channel_binding,
};

/* ---- pins ---------------------------------------------------------------------------- */

mj_outcome mj_tls_parse_pin(const char *text, mj_tls_config *cfg, mj_error *err)
{
    unsigned char pin[MJ_SHA256_LEN];
    size_t len = strlen(text);
    /* Either 64 hex digits, or 32 pairs separated by single colons. */
    bool colons = len == MJ_SHA256_LEN * 3 - 1;
    bool ok = colons || len == MJ_SHA256_LEN * 2;
    for (size_t i = 0; ok && i < MJ_SHA256_LEN; i++) {
        const char *p = text + i * (colons ? 3 : 2);
        int hi = OPENSSL_hexchar2int((unsigned char)p[0]);
        int lo = OPENSSL_hexchar2int((unsigned char)p[1]);
        ok = hi >= 0 && lo >= 0 && (!colons || i == MJ_SHA256_LEN - 1 || p[2] == ':');
        if (ok)
            pin[i] = (unsigned char)(hi << 4 | lo);
    }
    if (!ok) {
        char shown[MJ_TLS_QUOTE_MAX];
        mj_escape(text, len, shown, sizeof shown);
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "pin \"%s\" is not a SHA-256 fingerprint (64 hex digits, "
                            "optionally as AB:CD:...)",
                            shown);
    }
    memcpy(cfg->pin_sha256, pin, sizeof pin);
    cfg->has_pin = true;
    return MJ_OK;
}
