/*
 * server.c: fk_serve (server.h), the glue of mjfake's core: TLS context
 * (built on a thread while READY goes out), transcript, listener,
 * "READY <port>", the loop, and the exit code.
 */
#include "core/server.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "core/tls.h"
#include "imap/literal.h"
#include "smtp/data.h"

void fk_srv_where(const fk_srv *srv, fk_pos pos, char *out, size_t out_size)
{
    snprintf(out, out_size, "%s:%u:%u", srv->sc->path ? srv->sc->path : "-", pos.line, pos.col);
}

void fk_srv_diag(fk_srv *srv, const char *msg)
{
    FILE *f = srv->opt->diag_out ? srv->opt->diag_out : stderr;
    fprintf(f, "%s\n", msg);
    fflush(f);
    srv->mismatch = true;
}

static void on_wait_timeout(fk_loop *loop, void *arg)
{
    fk_srv *srv = arg;
    srv->wait_timer = 0;
    char where[FK_WHERE_MAX], msg[FK_DIAG_MAX];
    const fk_server *sv = &srv->sc->server;
    fk_pos pos = srv->next_script < sv->n_connections ? sv->connections[srv->next_script].pos
                                                      : (fk_pos){1, 1};
    fk_srv_where(srv, pos, where, sizeof where);
    snprintf(msg, sizeof msg, "%s: expected connection %zu, none arrived within %u ms", where,
             srv->next_script + 1, srv->idle_ms);
    fk_transcript_event(srv->tr, 0, "mismatch", msg, false, where, NULL);
    fk_srv_diag(srv, msg);
    fk_loop_stop(loop);
}

/* With nothing active, wait idle_ms at most for the next scripted connection. */
void fk_srv_conn_done(fk_srv *srv)
{
    if (srv->opt->repeat || srv->n_active > 0 || srv->mismatch || srv->wait_timer != 0 ||
        srv->next_script >= srv->n_expected)
        return;
    srv->wait_timer = fk_loop_timer(srv->loop, srv->idle_ms, on_wait_timeout, srv);
}

static void before_sleep(fk_loop *loop, void *arg)
{
    fk_srv *srv = arg;
    if (!srv->opt->repeat && srv->n_active == 0 && srv->sc->server.accept != FK_ACCEPT_REFUSE &&
        (srv->next_script >= srv->n_expected || srv->mismatch || srv->internal))
        fk_loop_stop(loop);
}

/* Does any part of the scenario speak TLS (so a context is needed)? */
static bool needs_tls(const fk_server *sv)
{
    if (sv->tls == FK_TLS_IMPLICIT)
        return true;
    for (size_t c = 0; c < sv->n_connections; c++)
        for (size_t i = 0; i < sv->connections[c].n_steps; i++)
            if (sv->connections[c].steps[i].starttls.kind == FK_STARTTLS_HANDSHAKE)
                return true;
    return false;
}

/* After a signal: name what was still due, so the harness knows (exit 1). */
static void report_interrupted(fk_srv *srv)
{
    char where[FK_WHERE_MAX], msg[FK_DIAG_MAX];
    if (srv->opt->repeat)
        return; /* a signal is how repeat mode ends */
    for (const fk_conn *c = srv->conns; c != NULL; c = fk_conn_next(c)) {
        if (!fk_conn_complete(c, where, sizeof where)) {
            snprintf(msg, sizeof msg, "%s: interrupted by a signal before this step completed",
                     where);
            fk_srv_diag(srv, msg);
            return;
        }
    }
    if (srv->next_script >= srv->n_expected)
        return;
    snprintf(msg, sizeof msg, "%s: interrupted by a signal while waiting for connection %zu",
             srv->sc->path ? srv->sc->path : "-", srv->next_script + 1);
    fk_srv_diag(srv, msg);
}

/*
 * The TLS context is built on a thread started just after READY (tls_prep.h:
 * OpenSSL 3's first context costs twice what everything else before READY
 * does; started before READY, the thread would compete with READY for the
 * CPU on a busy machine); only the cheap file check runs before READY.  The
 * loop hears of the end through the pipe, so a failed build is reported even
 * if no connection needs TLS.
 */
static void on_tls_built(fk_loop *loop, int fd, unsigned events, void *arg)
{
    (void)events;
    fk_loop_unwatch(loop, fd);
    (void)fk_srv_tls_ctx(arg);
}

static int start_tls_build(fk_srv *srv, char *err, size_t err_size)
{
    if (fk_tls_prep_start(&srv->tls, &srv->sc->server, srv->opt->certs_dir, err, err_size) != 0)
        return -1;
    srv->tls_started = true;
    if (fk_loop_watch(srv->loop, srv->tls.done_fd, FK_EV_READ, on_tls_built, srv) != 0) {
        snprintf(err, err_size, "cannot watch the TLS context's build");
        return -1;
    }
    return 0;
}

SSL_CTX *fk_srv_tls_ctx(fk_srv *srv)
{
    if (srv->tls_settled || !srv->tls_started)
        return srv->ctx;
    srv->tls_settled = true;
    srv->ctx = fk_tls_prep_finish(&srv->tls);
    if (srv->ctx == NULL) { /* after READY, but still the load error it always was */
        FILE *f = srv->opt->diag_out ? srv->opt->diag_out : stderr;
        fprintf(f, "%s: %s\n", srv->sc->path ? srv->sc->path : "-", srv->tls.err);
        fflush(f);
        srv->load_failed = true;
        fk_loop_stop(srv->loop);
    }
    return srv->ctx;
}

/* Listen (or, for accept: refuse, listen just long enough to learn the port). */
static int open_listener(fk_srv *srv, char *err, size_t err_size)
{
    const char *host = srv->opt->host ? srv->opt->host : "127.0.0.1";
    unsigned port = srv->opt->port_set ? srv->opt->port : srv->sc->server.port;
    srv->lfd = fk_listen(host, port, &srv->port, err, err_size);
    if (srv->lfd < 0)
        return -1;
    if (srv->sc->server.accept != FK_ACCEPT_REFUSE &&
        fk_loop_watch(srv->loop, srv->lfd, FK_EV_READ, fk_on_accept, srv) != 0) {
        snprintf(err, err_size, "cannot watch the listener");
        return -1;
    }
    return 0;
}

static void on_refuse_over(fk_loop *loop, void *arg)
{
    ((fk_srv *)arg)->wait_timer = 0;
    fk_loop_stop(loop);
}

static void announce(fk_srv *srv)
{
    FILE *f = srv->opt->ready_out ? srv->opt->ready_out : stdout;
    if (srv->sc->server.accept == FK_ACCEPT_REFUSE) { /* closed before READY: ECONNREFUSED */
        close(srv->lfd);
        srv->lfd = -1;
    }
    fprintf(f, "READY %u\n", srv->port);
    fflush(f);
    if (srv->opt->repeat)
        return;
    if (srv->sc->server.accept == FK_ACCEPT_REFUSE) /* stay up idle_ms (or until a signal) */
        srv->wait_timer = fk_loop_timer(srv->loop, srv->idle_ms, on_refuse_over, srv);
    else if (srv->n_expected > 0)
        srv->wait_timer = fk_loop_timer(srv->loop, srv->idle_ms, on_wait_timeout, srv);
}

/* The setup that can fail with a load error (exit 2); err names the cause. */
static int setup(fk_srv *srv, char *err, size_t err_size)
{
    const fk_options *opt = srv->opt;
    if (fk_personality_check(srv->sc, err, err_size) != 0)
        return -1;
    char why[FK_DIAG_MAX - 64];
    if (needs_tls(&srv->sc->server) &&
        fk_tls_check_files(&srv->sc->server, opt->certs_dir, why, sizeof why) != 0) {
        snprintf(err, err_size, "%s: %s", srv->sc->path ? srv->sc->path : "-", why);
        return -1;
    }
    if ((srv->tr = fk_transcript_open(opt->transcript_path, opt->log_path, err, err_size)) == NULL)
        return -1;
    if (open_listener(srv, why, sizeof why) != 0) {
        snprintf(err, err_size, "%s: %s", srv->sc->path ? srv->sc->path : "-", why);
        return -1;
    }
    return 0;
}

static int exit_code(const fk_srv *srv)
{
    return srv->load_failed ? FK_EXIT_LOAD
           : srv->internal  ? FK_EXIT_INTERNAL
           : srv->mismatch  ? FK_EXIT_MISMATCH
                            : FK_EXIT_OK;
}

/* From READY on: the TLS context's build, the loop, the exit code. */
static int run(fk_srv *srv)
{
    char err[FK_DIAG_MAX];
    if (needs_tls(&srv->sc->server) && start_tls_build(srv, err, sizeof err) != 0) {
        fprintf(srv->opt->diag_out ? srv->opt->diag_out : stderr, "mjfake: %s\n", err);
        return FK_EXIT_INTERNAL;
    }
    fk_loop_before_sleep(srv->loop, before_sleep, srv);
    if (fk_loop_run(srv->loop) != 0)
        srv->internal = true;
    (void)fk_srv_tls_ctx(srv); /* a build still running: its failure is the exit code */
    if (fk_loop_signalled(srv->loop) && !srv->load_failed)
        report_interrupted(srv);
    while (srv->conns != NULL)
        fk_conn_abort(srv->conns, "interrupted");
    return exit_code(srv);
}

int fk_serve(const fk_scenario *s, const fk_options *opt)
{
    fk_srv srv = {.sc = s, .opt = opt, .pers = fk_personality_get(s->protocol), .lfd = -1};
    const fk_server *sv = &s->server;
    srv.line_max = sv->line_max ? sv->line_max : FK_LINE_MAX_DEFAULT;
    srv.literal_max = sv->literal_max ? sv->literal_max : FK_LITERAL_MAX_DEFAULT;
    srv.data_max = sv->data_max ? sv->data_max : FK_DATA_MAX_DEFAULT;
    srv.idle_ms = opt->idle_timeout_ms ? opt->idle_timeout_ms : FK_IDLE_TIMEOUT_DEFAULT_MS;
    srv.n_expected = sv->accept == FK_ACCEPT_SERVE ? sv->n_connections
                     : sv->accept == FK_ACCEPT_REFUSE ? 0
                     : (sv->n_connections ? sv->n_connections : 1);
    char err[FK_DIAG_MAX];
    int rc = FK_EXIT_INTERNAL;
    if ((srv.loop = fk_loop_new()) == NULL || fk_loop_catch_signals(srv.loop) != 0) {
        fprintf(opt->diag_out ? opt->diag_out : stderr, "mjfake: cannot set up the event loop\n");
    } else if (setup(&srv, err, sizeof err) != 0) {
        fprintf(opt->diag_out ? opt->diag_out : stderr, "%s\n", err);
        rc = FK_EXIT_LOAD;
    } else {
        announce(&srv);
        rc = run(&srv);
    }
    if (srv.tls_started) {
        fk_loop_unwatch(srv.loop, srv.tls.done_fd);
        fk_tls_prep_cleanup(&srv.tls); /* joins the build if it still runs */
    }
    fk_loop_cancel(srv.loop, srv.accept_timer);
    if (srv.lfd >= 0) {
        fk_loop_unwatch(srv.loop, srv.lfd);
        close(srv.lfd);
    }
    fk_loop_free(srv.loop);
    fk_transcript_close(srv.tr);
    return rc;
}
