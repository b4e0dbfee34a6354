/*
 * tls_prep.h: the scenario's SSL_CTX built on a helper thread, so that READY
 * does not wait for it.
 *
 * Why: OpenSSL 3.0 spends ~5 ms (some 18 M instructions) in the first
 * context of a process -- SSL_CTX_new fetches every cipher, digest and group
 * from the default provider, and the certificate and key go through the
 * decoder framework -- while mjfake needs ~2.5 ms to print READY without it.
 * Started just after READY, the build overlaps the client's own start-up (a
 * harness starts the client after READY); the first
 * connection that needs TLS waits for it (fk_tls_prep_finish), so no
 * connection is ever served without its context, and a context that cannot
 * be built is still a load error (exit 2), announced as soon as the thread
 * ends (the loop watches fk_tls_prep.done_fd).
 *
 * Ownership: the fk_tls_prep is the caller's (embedded in fk_srv); sv and
 * certs_dir are borrowed and must outlive fk_tls_prep_cleanup.  The SSL_CTX
 * stays in prep->ctx and is freed by fk_tls_prep_cleanup.
 */
#ifndef FK_TLS_PREP_H
#define FK_TLS_PREP_H

#include <openssl/ssl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "scenario/scenario.h"

/* Longest message of a failed build ("PATH: cannot load ...: OpenSSL's reason"). */
#define FK_TLS_PREP_ERR_MAX 768

typedef struct fk_tls_prep {
    pthread_t thread;
    bool running;            /* started and not yet joined */
    int done_fd;             /* readable once the thread is done; -1 when none */
    int done_wr;             /* the thread's end of that pipe */
    const fk_server *sv;
    const char *certs_dir;
    SSL_CTX *ctx;            /* the result once joined; NULL: failed (err) */
    char err[FK_TLS_PREP_ERR_MAX];
} fk_tls_prep;

/*
 * Start building sv's context (fk_tls_ctx_new) on a thread that blocks every
 * signal (they stay the loop's).  Returns 0, or -1 with err set and
 * nothing left to clean up (no thread, no pipe).
 */
int fk_tls_prep_start(fk_tls_prep *p, const fk_server *sv, const char *certs_dir, char *err,
                      size_t err_size);

/*
 * Wait for the thread (at once when it is done) and return the context, or
 * NULL with the reason in p->err.  Idempotent: later calls return the same.
 */
SSL_CTX *fk_tls_prep_finish(fk_tls_prep *p);

/* Join a running thread, close the pipe, free the context. */
void fk_tls_prep_cleanup(fk_tls_prep *p);

#endif
