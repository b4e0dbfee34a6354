/*
 * tls.c: server-side OpenSSL for mjfake (tls.h).  RFC 8446 §4.1.2 (the
 * ClientHello), §4.2.1 (supported_versions); RFC 6066 §3 (server_name);
 * RFC 5246 §7.2 (alerts).
 */
#include "core/tls.h"
#include "core/tls_tap.h"

#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const unsigned char fk_tls_alert_handshake_failure[7] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28};

const char *fk_tls_error(char *buf, size_t buf_size)
{
    unsigned long e = ERR_get_error();
    if (e == 0)
        snprintf(buf, buf_size, "unknown TLS error");
    else
        ERR_error_string_n(e, buf, buf_size);
    ERR_clear_error();
    return buf;
}

const char *fk_tls_version_name(unsigned v, char *buf, size_t buf_size)
{
    static const struct {
        unsigned v;
        const char *name;
    } names[] = {{0x0300, "SSLv3"}, {0x0301, "TLSv1"}, {0x0302, "TLSv1.1"},
                 {0x0303, "TLSv1.2"}, {0x0304, "TLSv1.3"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].v == v)
            return names[i].name;
    snprintf(buf, buf_size, "0x%04X", v);
    return buf;
}

/* server_name: list<2> { type<1> name<2> } (RFC 6066 §3); first host_name kept. */
static void read_sni(SSL *ssl, fk_client_hello *h)
{
    const unsigned char *p;
    size_t len;
    if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) || len < 5)
        return;
    size_t list = (size_t)p[0] << 8 | p[1];
    if (list + 2 > len || p[2] != 0)
        return;
    size_t n = (size_t)p[3] << 8 | p[4];
    if (n + 5 > len || n >= FK_SNI_MAX)
        return;
    memcpy(h->sni, p + 5, n);
    h->sni[n] = '\0';
}

static bool is_grease(unsigned v)
{
    return (v & 0x0f0f) == 0x0a0a;
}

/* supported_versions: versions<1> { version<2> } (RFC 8446 §4.2.1). */
static void read_versions(SSL *ssl, fk_client_hello *h)
{
    const unsigned char *p;
    size_t len;
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_supported_versions, &p, &len) && len >= 1) {
        size_t n = p[0];
        for (size_t i = 1; i + 1 < len && i < n + 1 && h->n_versions < FK_VERSIONS_MAX; i += 2) {
            unsigned v = (unsigned)p[i] << 8 | p[i + 1];
            if (!is_grease(v))
                h->versions[h->n_versions++] = v;
        }
        return;
    }
    h->versions[h->n_versions++] = SSL_client_hello_get0_legacy_version(ssl);
}

static int on_client_hello(SSL *ssl, int *alert, void *arg)
{
    (void)alert;
    (void)arg;
    fk_client_hello *h = SSL_get_app_data(ssl);
    if (h == NULL || h->seen)
        return SSL_CLIENT_HELLO_SUCCESS; /* a second hello (HRR): keep the first */
    h->seen = true;
    read_sni(ssl, h);
    read_versions(ssl, h);
    const unsigned char *m;
    size_t n = SSL_client_hello_get0_compression_methods(ssl, &m);
    for (size_t i = 0; i < n; i++)
        if (m[i] != 0)
            h->compression = true;
    return SSL_CLIENT_HELLO_SUCCESS;
}

json_t *fk_client_hello_json(const fk_client_hello *h)
{
    json_t *versions = json_array();
    char buf[16];
    for (size_t i = 0; i < h->n_versions; i++)
        json_array_append_new(versions,
                              json_string(fk_tls_version_name(h->versions[i], buf, sizeof buf)));
    return json_pack("{s:s, s:o, s:b}", "sni", h->sni, "versions", versions, "compression",
                     h->compression);
}

/* Remember the alerts the server sends (for `alert:` and the transcript). */
static void on_info(const SSL *ssl, int where, int ret)
{
    fk_client_hello *h = SSL_get_app_data(ssl);
    if (h != NULL && (where & SSL_CB_WRITE_ALERT) == SSL_CB_WRITE_ALERT)
        h->alert_sent = (unsigned)ret & 0xffffu;
}

static bool needs_level0(const fk_server *srv, const char *cert)
{
    return srv->ciphers != NULL || (srv->tls_min != 0 && srv->tls_min < TLS1_2_VERSION) ||
           (srv->tls_max != 0 && srv->tls_max < TLS1_2_VERSION) || strcmp(cert, "weak-key") == 0;
}

static int load_cert(SSL_CTX *ctx, const char *dir, const char *name, char *err, size_t err_size)
{
    char crt[PATH_MAX], key[PATH_MAX], why[256];
    snprintf(crt, sizeof crt, "%s/%s.crt", dir, name);
    snprintf(key, sizeof key, "%s/%s.key", dir, name);
    if (SSL_CTX_use_certificate_chain_file(ctx, crt) != 1) {
        snprintf(err, err_size, "%s: cannot load certificate '%s': %s", crt, name,
                 fk_tls_error(why, sizeof why));
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, err_size, "%s: cannot load key '%s': %s", key, name,
                 fk_tls_error(why, sizeof why));
        return -1;
    }
    return 0;
}

/* Version limits and ciphers; -1 with err set on a value OpenSSL refuses. */
static int set_policy(SSL_CTX *ctx, const fk_server *srv, char *err, size_t err_size)
{
    char why[256];
    if ((srv->tls_min != 0 && SSL_CTX_set_min_proto_version(ctx, srv->tls_min) != 1) ||
        (srv->tls_max != 0 && SSL_CTX_set_max_proto_version(ctx, srv->tls_max) != 1)) {
        snprintf(err, err_size, "tls_min/tls_max refused: %s", fk_tls_error(why, sizeof why));
        return -1;
    }
    if (srv->ciphers != NULL && SSL_CTX_set_cipher_list(ctx, srv->ciphers) != 1) {
        snprintf(err, err_size, "ciphers '%s' refused: %s", srv->ciphers,
                 fk_tls_error(why, sizeof why));
        return -1;
    }
    return 0;
}

/*
 * client_cert: ask for a certificate chaining to CERTS/ca.crt, the CA named
 * in CertificateRequest too.  OpenSSL's own verification decides: an
 * unverifiable certificate fails the handshake in both modes.
 */
static int set_client_verify(SSL_CTX *ctx, const fk_server *srv, const char *dir, char *err,
                             size_t err_size)
{
    if (srv->client_cert == FK_CLIENT_CERT_NONE)
        return 0;
    char ca[PATH_MAX], why[256];
    snprintf(ca, sizeof ca, "%s/ca.crt", dir);
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);
    if (names == NULL || SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
        sk_X509_NAME_pop_free(names, X509_NAME_free);
        snprintf(err, err_size, "%s: cannot load the client CA: %s", ca,
                 fk_tls_error(why, sizeof why));
        return -1;
    }
    SSL_CTX_set_client_CA_list(ctx, names); /* takes names */
    int mode = SSL_VERIFY_PEER;
    if (srv->client_cert == FK_CLIENT_CERT_REQUIRE)
        mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, mode, NULL);
    return 0;
}

int fk_tls_peer_cn(SSL *ssl, char *buf, size_t buf_size)
{
    X509 *peer = SSL_get0_peer_certificate(ssl);
    if (peer == NULL || SSL_get_verify_result(ssl) != X509_V_OK || buf_size == 0)
        return -1;
    X509_NAME *subject = X509_get_subject_name(peer);
    int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (i < 0)
        return -1;
    unsigned char *utf8 = NULL;
    int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i)));
    if (n < 0 || (size_t)n >= buf_size || memchr(utf8, '\0', (size_t)n) != NULL) {
        OPENSSL_free(utf8);
        return -1; /* too long for the cap, or a NUL: not an identity */
    }
    memcpy(buf, utf8, (size_t)n);
    buf[n] = '\0';
    OPENSSL_free(utf8);
    return 0;
}

int fk_tls_check_files(const fk_server *srv, const char *certs_dir, char *err, size_t err_size)
{
    static const struct {
        const char *ext, *what;
    } files[] = {{".crt", "certificate"}, {".key", "key"}};
    const char *cert = srv->certificate ? srv->certificate : "valid";
    const char *dir = certs_dir ? certs_dir : FK_CERTS_DIR_DEFAULT;
    char path[PATH_MAX];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s%s", dir, cert, files[i].ext);
        if (access(path, R_OK) != 0) {
            snprintf(err, err_size, "%s: cannot load %s '%s': %s", path, files[i].what, cert,
                     strerror(errno));
            return -1;
        }
    }
    snprintf(path, sizeof path, "%s/ca.crt", dir);
    if (srv->client_cert != FK_CLIENT_CERT_NONE && access(path, R_OK) != 0) {
        snprintf(err, err_size, "%s: cannot load the client CA: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

SSL_CTX *fk_tls_ctx_new(const fk_server *srv, const char *certs_dir, char *err, size_t err_size)
{
    const char *cert = srv->certificate ? srv->certificate : "valid";
    const char *dir = certs_dir ? certs_dir : FK_CERTS_DIR_DEFAULT;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        snprintf(err, err_size, "cannot create a TLS context");
        return NULL;
    }
    if (needs_level0(srv, cert))
        SSL_CTX_set_security_level(ctx, 0);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_client_hello_cb(ctx, on_client_hello, NULL);
    SSL_CTX_set_info_callback(ctx, on_info);
    if (load_cert(ctx, dir, cert, err, err_size) != 0 ||
        set_policy(ctx, srv, err, err_size) != 0 ||
        set_client_verify(ctx, srv, dir, err, err_size) != 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

SSL *fk_tls_new(SSL_CTX *ctx, int fd, fk_client_hello *hello)
{
    SSL *ssl = SSL_new(ctx);
    if (ssl == NULL)
        return NULL;
    BIO *tap = fk_tap_new(fd); /* the socket, under a layer that can inject faults */
    if (tap == NULL) {
        SSL_free(ssl);
        return NULL;
    }
    SSL_set_bio(ssl, tap, tap);
    SSL_set_app_data(ssl, hello);
    SSL_set_accept_state(ssl);
    return ssl;
}

int fk_tls_channel_binding(SSL *ssl, const char **type_out, unsigned char *buf, size_t buf_size,
                           size_t *len_out)
{
    static const char label[] = "EXPORTER-Channel-Binding";
    if (SSL_version(ssl) >= TLS1_3_VERSION) {
        if (buf_size < 32 ||
            SSL_export_keying_material(ssl, buf, 32, label, sizeof label - 1, NULL, 0, 0) != 1)
            return -1;
        *type_out = "tls-exporter";
        *len_out = 32;
        return 0;
    }
    X509 *cert = SSL_get_certificate(ssl);
    int md_nid = NID_undef;
    if (cert == NULL || !OBJ_find_sigid_algs(X509_get_signature_nid(cert), &md_nid, NULL))
        return -1;
    const EVP_MD *md = md_nid == NID_md5 || md_nid == NID_sha1 ? EVP_sha256()
                                                               : EVP_get_digestbynid(md_nid);
    unsigned int n = 0;
    if (md == NULL || (size_t)EVP_MD_get_size(md) > buf_size || X509_digest(cert, md, buf, &n) != 1)
        return -1;
    *type_out = "tls-server-end-point";
    *len_out = n;
    return 0;
}
