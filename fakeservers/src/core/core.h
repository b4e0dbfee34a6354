/*
 * core.h: state shared inside mjfake's core (server.c, listen.c, conn.c);
 * not an interface for the rest of mjfake.
 */
#ifndef FK_CORE_H
#define FK_CORE_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/loop.h"
#include "core/personality.h"
#include "core/server.h"
#include "core/tls_prep.h"
#include "core/transcript.h"

/* Default for fk_options.idle_timeout_ms when it is 0. */
#define FK_IDLE_TIMEOUT_DEFAULT_MS 10000u
/* How long a closing connection keeps reading (so unread bytes cause no RST). */
#define FK_DRAIN_MS 2000u
/* Pause between the writes of `fragment:` so each one leaves as its own segment. */
#define FK_FRAGMENT_GAP_MS 5u
/* Longest "FILE:LINE:COL" kept for messages (longer paths are cut). */
#define FK_WHERE_MAX 512
/* How long accepting pauses when accept() runs out of descriptors or memory
   (EMFILE, ENFILE, ENOBUFS, ENOMEM): the listener stays readable, so retrying
   at once would spin. */
#define FK_ACCEPT_PAUSE_MS 100u
/* Longest mismatch message. */
#define FK_DIAG_MAX 1024

typedef struct fk_conn fk_conn;

typedef struct fk_srv {
    const fk_scenario *sc;
    const fk_options *opt;
    const fk_personality *pers;
    fk_loop *loop;
    fk_transcript *tr;
    SSL_CTX *ctx;          /* borrowed from tls once built (fk_srv_tls_ctx); NULL before */
    fk_tls_prep tls;       /* the context's build (tls_prep.h), when tls_started */
    bool tls_started;      /* the scenario speaks TLS: a build was started */
    bool tls_settled;      /* its result was taken (and a failure reported) */
    bool load_failed;      /* the context could not be built: exit 2 */
    int lfd;               /* listener, -1 once closed */
    unsigned port;
    unsigned n_accepted;   /* connection ids are 1-based */
    size_t next_script;    /* scripted connections handed out so far */
    size_t n_expected;     /* scripted connections to wait for */
    size_t n_active;
    fk_conn *conns;        /* active connections, for shutdown */
    bool mismatch;         /* a step failed or an oracle fired: exit 1 */
    bool internal;         /* exit 3 */
    uint64_t wait_timer;   /* waiting for the next scripted connection */
    uint64_t accept_timer; /* accepting paused (out of descriptors) until it fires */
    unsigned n_accept_paused; /* times accepting was paused, for the transcript */
    size_t line_max;
    size_t literal_max;    /* IMAP: largest client literal */
    uint64_t data_max;     /* SMTP: largest message content */
    unsigned idle_ms;
} fk_srv;

/* Start serving script on the accepted socket fd (script NULL: hang). */
int fk_conn_start(fk_srv *srv, int fd, const fk_script *script, unsigned id);

/* The next active connection after c (NULL at the end). */
const fk_conn *fk_conn_next(const fk_conn *c);

/* Free c without further I/O (shutdown after a signal); records "close". */
void fk_conn_abort(fk_conn *c, const char *why);

/*
 * True when c has nothing left that must happen (hung, closing, or only
 * optional steps left); otherwise writes "FILE:LINE:COL" of the pending step
 * into where.
 */
bool fk_conn_complete(const fk_conn *c, char *where, size_t where_size);

/* Called by conn.c when a connection is gone (n_active already lowered). */
void fk_srv_conn_done(fk_srv *srv);

/*
 * The scenario's TLS context, waiting for its build if need be (a few ms at
 * most, only at start-up).  NULL when it failed: the load error is then
 * reported (once), the loop stopped and the exit code is 2.
 */
SSL_CTX *fk_srv_tls_ctx(fk_srv *srv);

/* Report a mismatch: diag_out line, and exit code 1. */
void fk_srv_diag(fk_srv *srv, const char *msg);

/* "FILE:LINE:COL" of pos in the scenario. */
void fk_srv_where(const fk_srv *srv, fk_pos pos, char *out, size_t out_size);

/* Listener (listen.c): bind and listen; returns the fd or -1 with err. */
int fk_listen(const char *host, unsigned port, unsigned *port_out, char *err, size_t err_size);
/* The accept handler for the listener socket (arg: fk_srv). */
void fk_on_accept(fk_loop *loop, int fd, unsigned events, void *arg);

#endif
