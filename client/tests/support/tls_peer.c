/*
 * tls_peer.c: the in-process test TLS server of tls_peer.h (OpenSSL 3,
 * blocking, one pthread per connection).
 */
#include "tls_peer.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* A test never needs the server to wait longer than this for the client. */
#define TLS_PEER_RECV_TIMEOUT_S 10
#define TLS_PEER_PATH_MAX 1024

struct tls_peer {
    pthread_t thread;
    int fd;
    tls_peer_opts opts;
    tls_peer_result result;
};

const char *tls_peer_cert_path(const char *file, char *buf, size_t size)
{
    const char *dir = getenv("MJ_CERTS");
    if (snprintf(buf, size, "%s/%s", dir != NULL && dir[0] ? dir : "build/certs", file) < 0)
        buf[0] = '\0';
    return buf;
}

static void die(const char *what)
{
    fprintf(stderr, "tls_peer: %s\n", what);
    ERR_print_errors_fp(stderr);
    abort();
}

static SSL_CTX *server_ctx(const tls_peer_opts *o)
{
    char name[TLS_PEER_PATH_MAX];
    char crt[TLS_PEER_PATH_MAX];
    char key[TLS_PEER_PATH_MAX];
    char ca[TLS_PEER_PATH_MAX];
    snprintf(name, sizeof name, "%s.crt", o->cert);
    tls_peer_cert_path(name, crt, sizeof crt);
    snprintf(name, sizeof name, "%s.key", o->cert);
    tls_peer_cert_path(name, key, sizeof key);
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        die("SSL_CTX_new");
    /* Level 0: the server must be able to present weak keys and old versions. */
    SSL_CTX_set_security_level(ctx, 0);
    if (o->min_version != 0)
        SSL_CTX_set_min_proto_version(ctx, o->min_version);
    if (o->max_version != 0)
        SSL_CTX_set_max_proto_version(ctx, o->max_version);
    if (SSL_CTX_use_certificate_chain_file(ctx, crt) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
        die(crt);
    if (o->request_client_cert) {
        if (SSL_CTX_load_verify_locations(ctx, tls_peer_cert_path("ca.crt", ca, sizeof ca), NULL) != 1)
            die("ca.crt");
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    return ctx;
}

static void record_handshake(tls_peer *p, SSL *ssl)
{
    const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    snprintf(p->result.sni, sizeof p->result.sni, "%s", sni != NULL ? sni : "");
    X509 *client = SSL_get0_peer_certificate(ssl);
    p->result.got_client_cert = client != NULL;
    if (client != NULL)
        X509_NAME_oneline(X509_get_subject_name(client), p->result.client_subject,
                          (int)sizeof p->result.client_subject);
}

/* Read one line (up to LF) into the result and send it back. */
static void echo_line(tls_peer *p, SSL *ssl)
{
    size_t len = 0;
    char c = 0;
    while (len + 1 < sizeof p->result.line && c != '\n' && SSL_read(ssl, &c, 1) == 1)
        p->result.line[len++] = c;
    p->result.line[len] = '\0';
    if (len > 0)
        SSL_write(ssl, p->result.line, (int)len);
}

static void serve_tls(tls_peer *p)
{
    SSL_CTX *ctx = server_ctx(&p->opts);
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, p->fd);
    if (SSL_accept(ssl) == 1) {
        p->result.handshake_ok = true;
        record_handshake(p, ssl);
        if (p->opts.echo_line)
            echo_line(p, ssl);
        if (p->opts.send != NULL)
            SSL_write(ssl, p->opts.send, (int)strlen(p->opts.send));
        if (p->opts.raw_len > 0 &&
            send(p->fd, p->opts.raw, p->opts.raw_len, MSG_NOSIGNAL) != (ssize_t)p->opts.raw_len)
            die("send raw");
        if (p->opts.end == TLS_PEER_END_CLOSE_NOTIFY)
            SSL_shutdown(ssl);
    } else {
        ERR_error_string_n(ERR_peek_last_error(), p->result.error, sizeof p->result.error);
        record_handshake(p, ssl);
    }
    /* FIN (no close_notify) for TLS_PEER_END_FIN; after close_notify, too. */
    shutdown(p->fd, SHUT_WR);
    /* Wait for the client to close, so it never sees a reset. */
    char sink[512];
    while (recv(p->fd, sink, sizeof sink, 0) > 0)
        ;
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ERR_clear_error();
}

static void *serve(void *arg)
{
    tls_peer *p = arg;
    char sink[512];
    /*
     * OpenSSL's socket BIO writes with write(): a client that already closed
     * would raise SIGPIPE.  Blocked in this thread only, so a SIGPIPE caused
     * by the client code under test (main thread) would still kill the test.
     */
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);
    switch (p->opts.mode) {
    case TLS_PEER_HANDSHAKE:
        serve_tls(p);
        break;
    case TLS_PEER_PLAINTEXT:
        if (send(p->fd, p->opts.plaintext, strlen(p->opts.plaintext), MSG_NOSIGNAL) < 0)
            die("send");
        while (recv(p->fd, sink, sizeof sink, 0) > 0)
            ;
        break;
    case TLS_PEER_SILENT:
        while (recv(p->fd, sink, sizeof sink, 0) > 0)
            ;
        break;
    }
    close(p->fd);
    return NULL;
}

tls_peer *tls_peer_start(int fd, const tls_peer_opts *opts)
{
    tls_peer *p = calloc(1, sizeof *p);
    if (p == NULL)
        die("out of memory");
    p->fd = fd;
    p->opts = *opts;
    struct timeval tv = {.tv_sec = TLS_PEER_RECV_TIMEOUT_S, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (pthread_create(&p->thread, NULL, serve, p) != 0)
        die("pthread_create");
    return p;
}

void tls_peer_join(tls_peer *p, tls_peer_result *result_out)
{
    pthread_join(p->thread, NULL);
    if (result_out != NULL)
        *result_out = p->result;
    free(p);
}
