/*
 * tls_internal.h: what tcp.c and tls.c share inside libmailjig.
 *
 * One socket transport (mj_sock) carries plaintext TCP and, after
 * mj_tls_start, TLS over the same fd: STARTTLS and implicit TLS both enter TLS
 * through the TCP transport's starttls op, which swaps base.ops to
 * mj_tls_ops.  Nothing here is public API.
 */
#ifndef MAILJIG_NET_TLS_INTERNAL_H
#define MAILJIG_NET_TLS_INTERNAL_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "mailjig/transport.h"

/*
 * First bytes the server sent during the handshake, kept to recognise (and
 * quote) a plaintext answer; enough for one greeting line.
 */
#define MJ_TLS_FIRST_BYTES_MAX 160
/* Capacity of the verify-failure description (subject and names). */
#define MJ_TLS_CERT_DESC_MAX 320

/* Verification failure recorded by the verify callback (first one only). */
typedef struct mj_tls_verify_failure {
    int code;                           /* X509_V_ERR_*, 0 = none recorded */
    int depth;
    char desc[MJ_TLS_CERT_DESC_MAX];    /* "\"CN=...\" (names: DNS:...)" */
} mj_tls_verify_failure;

/*
 * A socket transport.  Owned by whoever holds the mj_transport pointer;
 * freed by the close op.  fd is owned; ssl, bio_method are owned once TLS
 * has started.
 */
typedef struct mj_sock {
    mj_transport base;                  /* first: mj_transport * == mj_sock * */
    int fd;
    SSL *ssl;                           /* NULL while plaintext */
    BIO_METHOD *bio_method;             /* our MSG_NOSIGNAL socket BIO */
    bool read_eof;                      /* recv() returned 0 under TLS */
    bool pin_mode;                      /* verify callback lets chain errors pass */
    bool record_first;                  /* capturing first_bytes (handshake) */
    mj_tls_state tls_state;
    unsigned char first_bytes[MJ_TLS_FIRST_BYTES_MAX];
    size_t first_len;
    mj_tls_verify_failure vfail;
    char sni[MJ_TLS_INFO_TEXT_MAX];
} mj_sock;

/* The TLS ops table installed by mj_tls_start. */
extern const mj_transport_ops mj_tls_ops;

/*
 * Wait until fd is ready for events (POLLIN / POLLOUT), bounded by t (io_ms
 * and the deadline).  what names what was awaited for the timeout message:
 * "no <what> for N ms".  Returns MJ_OK when ready (also on POLLERR/POLLHUP:
 * the next recv/send reports it) or MJ_TIMEOUT with MJ_R_IO_TIMEOUT /
 * MJ_R_DEADLINE.
 */
mj_outcome mj_net_wait(int fd, short events, const mj_timeouts *t, const char *what,
                       mj_error *err) MJ_MUST_CHECK;

/*
 * MJ_OK unless t has a total deadline that has already passed; then the same
 * MJ_TIMEOUT / MJ_R_DEADLINE error mj_net_wait gives.  Checked at the start of
 * every read and write, so a peer that always has data ready (a fast endless
 * stream) still cannot outlast the deadline.
 */
mj_outcome mj_net_deadline_check(const mj_timeouts *t, const char *what,
                                 mj_error *err) MJ_MUST_CHECK;

/*
 * Run the TLS client handshake on s (plaintext so far) and, on success,
 * switch s->base.ops to mj_tls_ops.  cfg and host are borrowed for the call.
 * On failure s stays a socket transport that the caller must close.
 */
mj_outcome mj_tls_start(mj_sock *s, const mj_tls_config *cfg, const char *host,
                        mj_error *err) MJ_MUST_CHECK;

/* Free the TLS state of s (no close_notify is sent); safe when none. */
void mj_tls_release(mj_sock *s);

#endif
