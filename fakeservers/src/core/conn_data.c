/*
 * conn_data.c: `expect: {data: ...}` in the step engine, the SMTP
 * personality's reading mode.  Two ways in, chosen by the loader
 * (fk_expect_data.bdat):
 *
 *  - DATA (RFC 5321 section 4.1.1.4): the step before answered DATA with
 *    354; the body is read up to "<CRLF>.<CRLF>" by smtp/data.c's state
 *    machine, un-stuffed, and streamed into smtp/data_check.c's checks.
 *    Bare LF, bare CR and smuggling sequences become transcript events.
 *  - BDAT (RFC 3030): "BDAT n [LAST]" lines, each followed by exactly n
 *    bytes; every chunk but the last is answered "250 2.0.0 n octets
 *    received"; the content is the chunks joined.
 *
 * Either way the content is matched when complete, and the step's send (the
 * final 250, or a refusal) follows.  Memory stays flat: bytes are consumed as
 * they arrive, and the caps (data_max) are named.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/conn_internal.h"
#include "smtp/data.h"
#include "smtp/data_check.h"

/* Sent instead of the error line when the content does not match, or is too big. */
#define REPLY_MISMATCH "554 5.6.0 message content does not match the scenario"
#define REPLY_TOO_BIG  "552 5.3.4 message too big"

struct fk_conn_data {
    fk_data_reader reader; /* DATA */
    fk_data_check check;
    bool in_chunk, last; /* BDAT: inside a chunk; it is the LAST one */
    uint64_t chunk_left; /* BDAT: bytes of the chunk still due */
    uint64_t total;      /* BDAT: content announced so far */
    unsigned chunks;
};

void fk_conn_data_free(fk_conn *c)
{
    if (c->data == NULL)
        return;
    fk_data_check_free(&c->data->check);
    free(c->data);
    c->data = NULL;
}

void fk_conn_describe_data(const fk_conn *c, const fk_step *s, char *out, size_t out_size)
{
    const struct fk_conn_data *d = c->data;
    if (!s->expect.data.bdat)
        snprintf(out, out_size, "the message up to <CRLF>.<CRLF>");
    else if (d != NULL && d->in_chunk)
        snprintf(out, out_size, "%" PRIu64 " more byte(s) of BDAT chunk %u", d->chunk_left,
                 d->chunks);
    else
        snprintf(out, out_size, "'BDAT <size> [LAST]'");
}

/* The wire anomalies of a DATA body, one event each (SECURITY-CASES #140-#141). */
static void record_anomalies(fk_conn *c, const fk_data_reader *r)
{
    const struct {
        const char *event;
        const fk_data_anomaly *a;
        const char *what;
    } rows[] = {
        {"bare-lf", &r->bare_lf, "LF without CR in the message"},
        {"bare-cr", &r->bare_cr, "CR without LF in the message"},
        {"smuggling", &r->smuggling, "a '.' line delimited by a bare CR or LF"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (rows[i].a->count == 0)
            continue;
        json_t *extra = json_pack("{s:I, s:I}", "count", (json_int_t)rows[i].a->count, "first_at",
                                  (json_int_t)rows[i].a->first_at);
        if (extra != NULL && i == 2) {
            char esc[FK_DATA_SEQ_MAX * 4 + 1];
            fk_escape_bytes((const unsigned char *)r->smuggling_seq, strlen(r->smuggling_seq), esc,
                            sizeof esc);
            json_object_set_new(extra, "sequence", json_string(esc));
        }
        fk_conn_event(c, rows[i].event, rows[i].what, extra);
    }
}

/* The content is complete: record it and match it. */
static run_result data_finish(fk_conn *c, const fk_step *s)
{
    struct fk_conn_data *d = c->data;
    char why[FK_DATA_WHY_MAX], hex[65];
    if (!s->expect.data.bdat)
        record_anomalies(c, &d->reader);
    bool ok = fk_data_check_end(&d->check, why, sizeof why);
    fk_sha256_hex(d->check.digest, hex);
    fk_conn_event(c, "data", ok ? "content matched" : why,
                  json_pack("{s:s, s:I, s:s}", "mode", s->expect.data.bdat ? "bdat" : "data",
                            "size", (json_int_t)d->check.size, "sha256", hex));
    fk_conn_data_free(c);
    if (ok)
        return fk_conn_expect_done(c);
    char msg[FK_DATA_WHY_MAX + 16];
    snprintf(msg, sizeof msg, "expected %s", why);
    fk_conn_fail(c, "mismatch", c->where, msg, true, REPLY_MISMATCH);
    return R_NEXT;
}

/* Fail while content is still due: the client left, or broke data_max. */
static run_result data_broken(fk_conn *c, const fk_step *s, bool too_big)
{
    char got[160];
    uint64_t size = c->data->check.size;
    if (too_big)
        snprintf(got, sizeof got, "more than data_max (%" PRIu64 " bytes)", c->srv->data_max);
    else
        snprintf(got, sizeof got, "eof after %" PRIu64 " byte(s) of content", size);
    fk_conn_expect_failed(c, s, got, too_big ? REPLY_TOO_BIG : NULL);
    return R_NEXT;
}

static run_result data_body(fk_conn *c, const fk_step *s)
{
    size_t used = 0;
    fk_parse r = fk_data_reader_feed(&c->data->reader, c->in, c->in_len, &used, fk_data_check_feed,
                                     &c->data->check);
    fk_conn_consume(c, used);
    if (r == FK_PARSE_OK)
        return data_finish(c, s);
    if (r == FK_PARSE_ERROR || c->in_closed)
        return data_broken(c, s, r == FK_PARSE_ERROR);
    return fk_conn_wait_input(c);
}

/* The bytes of the current BDAT chunk that are there. */
static run_result bdat_chunk(fk_conn *c, const fk_step *s)
{
    struct fk_conn_data *d = c->data;
    size_t n = c->in_len < d->chunk_left ? c->in_len : (size_t)d->chunk_left;
    if (n > 0) {
        fk_data_check_feed(&d->check, c->in, n);
        fk_conn_consume(c, n);
        d->chunk_left -= n;
    }
    if (d->chunk_left > 0)
        return c->in_closed ? data_broken(c, s, false) : fk_conn_wait_input(c);
    d->in_chunk = false;
    if (d->last)
        return data_finish(c, s);
    char reply[64];
    int k = snprintf(reply, sizeof reply, "250 2.0.0 %" PRIu64 " octets received\r\n", d->total);
    if (fk_conn_out(c, reply, (size_t)k) != 0)
        return fk_conn_internal(c, "out of memory");
    return fk_conn_reply_and_expect(c);
}

/* A "BDAT n [LAST]" line, or the mismatch. */
static run_result bdat_line(fk_conn *c, const fk_step *s)
{
    struct fk_conn_data *d = c->data;
    const unsigned char *line;
    size_t len, used;
    uint64_t size = 0;
    bool last = false;
    if (!fk_conn_peek_line(c, &line, &len, &used))
        return c->in_closed ? fk_conn_expect_gone(c, s) : fk_conn_wait_input(c);
    if (fk_bdat_parse((const char *)line, len, &size, &last) != 0) {
        if (s->optional && d->chunks == 0)
            return fk_conn_skip_step(c);
        char shown[SHOW_MAX * 4 + 8];
        fk_conn_show_line(line, len, shown, sizeof shown);
        fk_conn_expect_failed(c, s, shown, NULL);
        return R_NEXT;
    }
    fk_conn_consume(c, used);
    if (size > c->srv->data_max - d->total)
        return data_broken(c, s, true);
    d->total += size;
    d->chunk_left = size;
    d->last = last;
    d->in_chunk = true;
    d->chunks++;
    c->n_matched = 1; /* begun: no longer skippable */
    fk_conn_event(c, "bdat", NULL, json_pack("{s:I, s:b}", "size", (json_int_t)size, "last", last));
    return bdat_chunk(c, s);
}

run_result fk_conn_expect_data(fk_conn *c, const fk_step *s)
{
    if (c->data == NULL) {
        if ((c->data = calloc(1, sizeof *c->data)) == NULL ||
            fk_data_check_begin(&c->data->check, &s->expect.data) != 0)
            return fk_conn_internal(c, "cannot start reading the message");
        fk_data_reader_init(&c->data->reader, c->srv->data_max);
    }
    if (!s->expect.data.bdat)
        return data_body(c, s);
    return c->data->in_chunk ? bdat_chunk(c, s) : bdat_line(c, s);
}
