/*
 * imap_fixture.c: the IMAP unit tests' session over the in-memory transport
 * (see imap_fixture.h).  No cmocka here: support objects are linked into the
 * benchmarks too; an impossible setup failure aborts.
 */
#include "imap_fixture.h"

#include <stdlib.h>
#include <string.h>

static void must(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "imap_fixture: %s failed\n", what);
        abort();
    }
}

void imap_fixture_open(imap_fixture *f, const imap_fixture_args *a)
{
    memset(f, 0, sizeof *f);
    mj_error err;
    mj_mem_script script = {.input = a->server,
                            .input_len = a->server_len ? a->server_len : strlen(a->server),
                            .chunks = a->chunks,
                            .n_chunks = a->n_chunks,
                            .end = a->end,
                            .report_pending = a->report_pending,
                            .starttls_state = MJ_TLS_VERIFIED};
    f->logfp = open_memstream(&f->logbuf, &f->loglen);
    must(f->logfp != NULL, "open_memstream");
    f->log = mj_log_new(f->logfp);
    must(f->log != NULL, "mj_log_new");
    mj_conn_config cfg;
    mj_conn_config_init(&cfg, MJ_PROTO_IMAP);
    cfg.log = f->log;
    cfg.security = a->security;
    mj_conn *c = NULL;
    must(mj_mem_transport_new(&script, &cfg.timeouts, &f->t, &err) == MJ_OK, "mj_mem_transport_new");
    must(mj_conn_wrap(f->t, &cfg, &c, &err) == MJ_OK, "mj_conn_wrap");
    mj_error_clear(&f->err);
    f->start = mj_imap_start(c, a->security, a->opts, &f->s, &f->err);
    if (f->start != MJ_OK)
        f->t = NULL; /* closed with the conn */
}

const char *imap_fixture_wire(imap_fixture *f)
{
    size_t n = 0;
    const unsigned char *w = f->t != NULL ? mj_mem_transport_written(f->t, &n) : NULL;
    free(f->wire);
    f->wire = malloc(n + 1);
    must(f->wire != NULL, "malloc");
    if (n > 0)
        memcpy(f->wire, w, n);
    f->wire[n] = '\0';
    return f->wire;
}

const char *imap_fixture_log(imap_fixture *f)
{
    fflush(f->logfp);
    return f->logbuf != NULL ? f->logbuf : "";
}

void imap_fixture_close(imap_fixture *f)
{
    mj_imap_close(f->s);
    mj_log_free(f->log);
    if (f->logfp != NULL)
        fclose(f->logfp);
    free(f->logbuf);
    free(f->wire);
    memset(f, 0, sizeof *f);
}
