/*
 * conn_proto.c: the line-level parts of the protocol personalities in the
 * step engine: an IMAP command with its literals as one unit (RFC 9051
 * section 7.5: "+" continuation, then the literal's bytes), POP3 APOP
 * (RFC 1939 section 7) checked against the greeting's timestamp, and the
 * dot-stuffing of a text send (RFC 1939 section 3, RFC 5321 section 4.5.2).
 */
#include <stdlib.h>
#include <string.h>

#include "core/conn_internal.h"
#include "imap/literal.h"

/* ---- one command, IMAP literals included ------------------------------------------- */

static unit_result plain_line(fk_conn *c, const unsigned char **line_out, size_t *len_out,
                              size_t *used_out, char *why, size_t why_size)
{
    if (fk_conn_peek_line(c, line_out, len_out, used_out))
        return UNIT_READY;
    if (c->in_closed || c->in_len < c->in_max)
        return UNIT_WAIT;
    snprintf(why, why_size, "a line longer than line_max (%zu bytes)", c->srv->line_max);
    return UNIT_ERROR;
}

/* Queue the "+" that lets the client send its literal, and record it. */
static unit_result send_continuation(fk_conn *c, size_t literal_size, char *why, size_t why_size)
{
    const char *text = c->srv->sc->server.literal_continuation;
    if (text == NULL)
        text = c->srv->pers->continuation;
    c->lit_acked++;
    fk_conn_event(c, "literal", NULL, json_pack("{s:I}", "size", (json_int_t)literal_size));
    if (fk_conn_expand(c, (const unsigned char *)text, strlen(text), false) != 0) {
        snprintf(why, why_size, "out of memory");
        return UNIT_ERROR;
    }
    return UNIT_REPLY;
}

unit_result fk_conn_peek_unit(fk_conn *c, const unsigned char **line_out, size_t *len_out,
                              size_t *used_out, char *why, size_t why_size)
{
    if (c->srv->pers->extra_mode != FK_READ_IMAP_LITERAL)
        return plain_line(c, line_out, len_out, used_out, why, why_size);
    fk_imap_limits lim = {c->srv->line_max, c->srv->literal_max, c->in_max};
    fk_imap_scan sc;
    switch (fk_imap_scan_command(c->in, c->in_len, c->in_closed, &lim, c->lit_acked, &sc)) {
    case FK_PARSE_OK:
        *line_out = c->in;
        *len_out = sc.cmd_len;
        *used_out = sc.used;
        return UNIT_READY;
    case FK_PARSE_ERROR:
        snprintf(why, why_size, "%s", sc.why);
        return UNIT_ERROR;
    case FK_PARSE_NEED_MORE:
        break;
    }
    return sc.continuation_due ? send_continuation(c, sc.literal_size, why, why_size) : UNIT_WAIT;
}

/* ---- POP3 APOP ----------------------------------------------------------------------- */

void fk_conn_note_greeting(fk_conn *c, const unsigned char *p, size_t len)
{
    if (c->srv->sc->protocol == FK_PROTO_POP3 && fk_apop_timestamp(p, len, c->apop_ts) != 0)
        c->apop_ts[0] = '\0';
}

/* Why the APOP line does not authenticate the step's user, or NULL when it does. */
static const char *apop_verdict(const fk_conn *c, const fk_expect_apop *a, const char *user,
                                const char *digest, char *why, size_t why_size)
{
    char want[FK_APOP_DIGEST_SIZE];
    if (c->apop_ts[0] == '\0')
        snprintf(why, why_size, "APOP, but the greeting sent no <timestamp> to digest");
    else if (strcmp(user, a->user) != 0)
        snprintf(why, why_size, "APOP for user '%s', got user '%.100s'", a->user, user);
    else if (fk_apop_digest(c->apop_ts, a->password, want) != 0)
        snprintf(why, why_size, "APOP: MD5 is not available");
    else if (strcmp(want, digest) != 0)
        snprintf(why, why_size, "APOP digest %s (MD5 of %s and the password), got %s", want,
                 c->apop_ts, digest);
    else
        return NULL;
    return why;
}

run_result fk_conn_expect_apop(fk_conn *c, const fk_step *s)
{
    const unsigned char *line;
    size_t len, used;
    char why[FK_DIAG_MAX / 2], shown[SHOW_MAX * 4 + 8], user[FK_APOP_USER_MAX],
        digest[FK_APOP_DIGEST_SIZE];
    unit_result u = plain_line(c, &line, &len, &used, why, sizeof why);
    if (u != UNIT_READY) {
        if (u == UNIT_ERROR)
            fk_conn_expect_failed(c, s, why, NULL);
        else if (c->in_closed)
            return fk_conn_expect_gone(c, s);
        return u == UNIT_ERROR ? R_NEXT : fk_conn_wait_input(c);
    }
    if (fk_apop_parse((const char *)line, len, user, digest) != 0) {
        if (s->optional)
            return fk_conn_skip_step(c);
        fk_conn_show_line(line, len, shown, sizeof shown);
        fk_conn_expect_failed(c, s, shown, NULL);
        return R_NEXT;
    }
    fk_conn_consume(c, used);
    const char *bad = apop_verdict(c, &s->expect.apop, user, digest, why, sizeof why);
    fk_conn_event(c, "apop", bad ? bad : "ok",
                  json_pack("{s:s, s:s}", "user", user, "verdict", bad ? "mismatch" : "success"));
    if (bad != NULL) {
        fk_conn_fail(c, "mismatch", c->where, bad, true, c->srv->pers->apop_failed);
        return R_NEXT;
    }
    c->auto_reply = c->srv->pers->apop_ok;
    return fk_conn_expect_done(c);
}

/* ---- dot-stuffing a text send ----------------------------------------------------------- */

int fk_conn_dotstuff_tail(fk_conn *c, size_t from)
{
    size_t n = c->out_len - from;
    unsigned char *copy = malloc(n ? n : 1);
    if (copy == NULL)
        return -1;
    memcpy(copy, c->out + from, n);
    c->out_len = from;
    int rc = 0;
    bool bol = true;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (bol && copy[i] == '.')
            rc = fk_conn_out(c, ".", 1);
        if (rc == 0)
            rc = fk_conn_out(c, &copy[i], 1);
        bol = copy[i] == '\n';
    }
    free(copy);
    return rc == 0 ? fk_conn_out(c, ".\r\n", 3) : rc;
}
