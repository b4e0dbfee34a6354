/*
 * tls.h: the server side of TLS for mjfake (OpenSSL 3): one SSL_CTX per
 * scenario, from the certificate chosen by name, the version limits and the
 * cipher list; the client certificate asked for (client_cert) and its CN; the ClientHello recorded by a client-hello callback; the
 * hand-written fatal alert used by the "alert" failure mode.
 *
 * Ownership: fk_tls_ctx_new returns an SSL_CTX the caller frees with
 * SSL_CTX_free; fk_tls_new returns an SSL the caller frees with SSL_free.
 * The fk_client_hello given to fk_tls_new must outlive the SSL.
 */
#ifndef FK_TLS_H
#define FK_TLS_H

#include <jansson.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/parse.h"
#include "scenario/scenario.h"

#define FK_SNI_MAX      256 /* longest server name kept (DNS names are shorter) */
#define FK_VERSIONS_MAX 16  /* offered versions kept */

/* What the client offered, filled in by the client-hello callback. */
typedef struct fk_client_hello {
    bool seen;
    char sni[FK_SNI_MAX];        /* "" when none */
    unsigned versions[FK_VERSIONS_MAX]; /* supported_versions, else the legacy version */
    size_t n_versions;
    bool compression;            /* a compression method other than null was offered */
    unsigned alert_sent;         /* the last alert the server sent: level << 8 | description;
                                    0 when none (set by the info callback) */
} fk_client_hello;

/* Most bytes of a ClientHello kept for fk_client_hello_parse (one full record). */
#define FK_HELLO_MAX (16384 + 5)

/*
 * Parse the ClientHello at the start of p (TLS records as they came off the
 * wire, the handshake message possibly spread over several records): SNI,
 * offered versions, compression.  Used where no TLS object sees the hello
 * (the STARTTLS failure modes).  FK_PARSE_OK fills *out (seen = true);
 * FK_PARSE_NEED_MORE: more bytes are needed; FK_PARSE_ERROR: not a
 * ClientHello (or one larger than FK_HELLO_MAX).  Never reads past len.
 */
fk_parse fk_client_hello_parse(const unsigned char *p, size_t len, fk_client_hello *out);

/* TLS alert record: level fatal (2), handshake_failure (40), as TLS 1.2. */
extern const unsigned char fk_tls_alert_handshake_failure[7];

/* Directory used when fk_options.certs_dir is NULL. */
#define FK_CERTS_DIR_DEFAULT "build/certs"

/*
 * Build the context for srv: CERTS/NAME.crt (leaf then chain) and NAME.key,
 * NAME = srv->certificate or "valid"; tls_min/tls_max; ciphers.  Security
 * level 0 when the scenario asks for a cipher list, a version below 1.2 or
 * the weak-key certificate (OpenSSL 3 refuses them at its default level).
 * Returns NULL with a message in err.
 */
SSL_CTX *fk_tls_ctx_new(const fk_server *srv, const char *certs_dir, char *err, size_t err_size);

/*
 * The part of fk_tls_ctx_new's failures that costs no OpenSSL work: are
 * CERTS/NAME.crt and NAME.key readable?  Run before READY, so a missing
 * certificate stays a load error without READY.  0, or -1 with err as
 * fk_tls_ctx_new words it ("PATH: cannot load certificate 'NAME': why").
 */
int fk_tls_check_files(const fk_server *srv, const char *certs_dir, char *err, size_t err_size);

/* A server-side SSL on the (non-blocking) socket fd; NULL on failure. */
SSL *fk_tls_new(SSL_CTX *ctx, int fd, fk_client_hello *hello);

/* "TLSv1.3", "TLSv1.2", ... or "0xNNNN". */
const char *fk_tls_version_name(unsigned v, char *buf, size_t buf_size);

/* {"sni": ..., "versions": [...], "compression": bool}: a new reference. */
json_t *fk_client_hello_json(const fk_client_hello *h);

/*
 * The channel binding a SCRAM-*-PLUS client of this connection uses (RFC
 * 9266 / 5929): "tls-exporter" (32 bytes of keying material) on TLS 1.3,
 * else "tls-server-end-point" (the hash of the server certificate, SHA-256
 * for MD5 and SHA-1 signatures).  *type_out is static.  Returns 0, or -1
 * (no certificate, a signature without a digest, buf too small).
 */
int fk_tls_channel_binding(SSL *ssl, const char **type_out, unsigned char *buf, size_t buf_size,
                           size_t *len_out);

/* Longest client certificate CN kept, with its NUL. */
#define FK_PEER_CN_MAX 256

/*
 * The subject CN (UTF-8) of the client certificate ssl verified, into buf.
 * Returns 0, or -1: no certificate, not verified, no CN, a CN with a NUL or
 * of buf_size bytes or more.
 */
int fk_tls_peer_cn(SSL *ssl, char *buf, size_t buf_size);

/* The first OpenSSL error as text (clears the queue), for messages. */
const char *fk_tls_error(char *buf, size_t buf_size);

#endif
