/*
 * tls_peer.h: an in-process TLS (or deliberately non-TLS) server for unit
 * tests, run in a pthread on one end of a socketpair.  It presents one of
 * the test certificates from $MJ_CERTS (see scenarios/CERTIFICATES.md) and
 * records what the client did (SNI, client certificate, bytes received).
 * Blocking I/O with a receive timeout, so a broken test cannot hang.
 */
#ifndef MAILJIG_TESTS_TLS_PEER_H
#define MAILJIG_TESTS_TLS_PEER_H

#include <stdbool.h>
#include <stddef.h>

/* Longest line the echo mode reads; longest recorded SNI / client CN. */
#define TLS_PEER_LINE_MAX 256
#define TLS_PEER_NAME_MAX 256

/* What the server does instead of / after the handshake. */
typedef enum tls_peer_mode {
    TLS_PEER_HANDSHAKE,   /* handshake, then run the after-steps */
    TLS_PEER_PLAINTEXT,   /* send opts.plaintext instead of a ServerHello */
    TLS_PEER_SILENT       /* read and never answer */
} tls_peer_mode;

/* How the server ends the connection after a successful handshake. */
typedef enum tls_peer_end {
    TLS_PEER_END_CLOSE_NOTIFY,   /* SSL_shutdown, then close */
    TLS_PEER_END_FIN             /* close the socket without close_notify */
} tls_peer_end;

typedef struct tls_peer_opts {
    tls_peer_mode mode;
    const char *cert;          /* test certificate name, e.g. "valid" */
    int min_version;           /* 0 = OpenSSL default */
    int max_version;           /* 0 = none */
    const char *plaintext;     /* TLS_PEER_PLAINTEXT: bytes sent at once */
    bool request_client_cert;  /* ask for (not require) a client certificate */
    bool echo_line;            /* after the handshake: read one line, send it back */
    const char *send;          /* after that: send these bytes */
    const void *raw;           /* then write these bytes to the socket, under TLS */
    size_t raw_len;
    tls_peer_end end;
} tls_peer_opts;

typedef struct tls_peer_result {
    bool handshake_ok;
    char sni[TLS_PEER_NAME_MAX];          /* "" when the client sent none */
    bool got_client_cert;
    char client_subject[TLS_PEER_NAME_MAX];
    char line[TLS_PEER_LINE_MAX];         /* what echo_line read */
    char error[TLS_PEER_NAME_MAX];        /* OpenSSL's text on failure */
} tls_peer_result;

typedef struct tls_peer tls_peer;

/* Path of a file in $MJ_CERTS (default build/certs), written to buf; returns buf. */
const char *tls_peer_cert_path(const char *file, char *buf, size_t size);

/*
 * Start serving on fd (taken over: closed by the peer).  Aborts the test
 * program if the server cannot be set up.  Owned by the caller until
 * tls_peer_join.
 */
tls_peer *tls_peer_start(int fd, const tls_peer_opts *opts);

/* Wait for the server to finish, copy its result, free it. */
void tls_peer_join(tls_peer *p, tls_peer_result *result_out);

#endif
