/*
 * tls_prep.c: the scenario's SSL_CTX built on a helper thread (tls_prep.h
 * says why).  The thread does nothing but fk_tls_ctx_new; OpenSSL 3 is
 * thread-safe for that while the loop thread serves plaintext.  The pipe is
 * how the loop learns, without blocking, that the result is there.
 */
#include "core/tls_prep.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/tls.h"

static void *build(void *arg)
{
    fk_tls_prep *p = arg;
    p->ctx = fk_tls_ctx_new(p->sv, p->certs_dir, p->err, sizeof p->err);
    ssize_t w;
    do /* one byte in an empty pipe: it cannot block */
        w = write(p->done_wr, "x", 1);
    while (w < 0 && errno == EINTR);
    return NULL;
}

static int cloexec_pipe(int fds[2])
{
    if (pipe(fds) != 0)
        return -1;
    for (int i = 0; i < 2; i++)
        if (fcntl(fds[i], F_SETFD, FD_CLOEXEC) != 0) {
            close(fds[0]);
            close(fds[1]);
            return -1;
        }
    return 0;
}

int fk_tls_prep_start(fk_tls_prep *p, const fk_server *sv, const char *certs_dir, char *err,
                      size_t err_size)
{
    *p = (fk_tls_prep){.done_fd = -1, .done_wr = -1, .sv = sv, .certs_dir = certs_dir};
    int fds[2];
    if (cloexec_pipe(fds) != 0) {
        snprintf(err, err_size, "cannot create a pipe: %s", strerror(errno));
        return -1;
    }
    p->done_fd = fds[0];
    p->done_wr = fds[1];
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the new thread inherits the mask */
    int rc = pthread_create(&p->thread, NULL, build, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(err, err_size, "cannot start a thread: %s", strerror(rc));
        fk_tls_prep_cleanup(p);
        return -1;
    }
    p->running = true;
    return 0;
}

SSL_CTX *fk_tls_prep_finish(fk_tls_prep *p)
{
    if (p->running) {
        pthread_join(p->thread, NULL);
        p->running = false;
    }
    return p->ctx;
}

void fk_tls_prep_cleanup(fk_tls_prep *p)
{
    (void)fk_tls_prep_finish(p);
    if (p->done_fd >= 0)
        close(p->done_fd);
    if (p->done_wr >= 0)
        close(p->done_wr);
    p->done_fd = p->done_wr = -1;
    SSL_CTX_free(p->ctx);
    p->ctx = NULL;
}
