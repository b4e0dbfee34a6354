/*
 * server.h: mjfake's serving entry point, between main.c (options) and the
 * core (event loop, listeners, TLS, steps, transcript).
 */
#ifndef FK_SERVER_H
#define FK_SERVER_H

#include <stdbool.h>
#include <stdio.h>

#include "scenario/scenario.h"

/* mjfake's exit codes (README.md and scenarios/FORMAT.md). */
enum {
    FK_EXIT_OK = 0,        /* every scripted connection ran, every step matched */
    FK_EXIT_MISMATCH = 1,  /* a step did not match, or an oracle fired */
    FK_EXIT_LOAD = 2,      /* a scenario or option could not be loaded */
    FK_EXIT_INTERNAL = 3   /* anything else */
};

/* Default cap on one client line (a named limit; --line-max changes it). */
#define FK_LINE_MAX_DEFAULT ((size_t)64 * 1024)

typedef struct fk_options {
    const char *host;            /* listen address, default "127.0.0.1" */
    unsigned port;               /* with port_set: the port, 0 = pick a free one */
    bool port_set;               /* false: the scenario's server.port, or a free one */
    const char *certs_dir;       /* the generated certificates (CERTIFICATES.md) */
    const char *transcript_path; /* JSON lines; NULL = none */
    const char *log_path;        /* MailKit-format log; NULL = none */
    bool repeat;                 /* serve the script to every connection until SIGTERM */
    unsigned idle_timeout_ms;    /* a client silent this long fails the step; default 10000 */
    FILE *ready_out;             /* where "READY <port>\n" goes (stdout) */
    FILE *diag_out;              /* mismatch and error messages (stderr) */
} fk_options;

/*
 * Serve scenario s until its scripted connections are done (or, with repeat,
 * until SIGTERM/SIGINT).  Prints "READY <port>\n" on ready_out once
 * listening.  Returns one of the FK_EXIT_* codes; on mismatch diag_out gets
 * "FILE:LINE:COL: expected ..., got ..." naming the step.  s is borrowed.
 */
int fk_serve(const fk_scenario *s, const fk_options *opt);

#endif
