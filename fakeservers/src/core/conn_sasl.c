/*
 * conn_sasl.c: `expect: {sasl: MECH, ...}` in the step engine.  The step
 * matches the client's AUTHENTICATE (IMAP, RFC 9051 section 6.2.2, SASL-IR
 * RFC 4959) or AUTH (POP3 RFC 5034, SMTP RFC 4954) command for MECH, then
 * runs the exchange with fk_sasl (sasl/fk_sasl.h) in the protocol's framing
 * (personality.h's fk_sasl_frame): challenges go out as "+ b64" / "334 b64",
 * each client line is fed back, and the outcome picks the final line, which
 * the step's own `send:` replaces when it has one.
 *
 * A failure the scenario scripted, met by a correct client, lets the run go
 * on; any other failure (wrong credentials, a malformed message, a client
 * that did not cancel a bad challenge) fails it (exit 1) naming the step and
 * fk_sasl's message.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/conn_internal.h"

/* The opening command, split; spans point into the line. */
typedef struct auth_cmd {
    const char *mech, *ir;
    size_t mech_len, ir_len;
    bool has_ir;
} auth_cmd;

/* "[tag SP] VERB SP mechanism [SP initial-response]", verb in any case. */
static int parse_auth(const fk_sasl_frame *f, const char *line, size_t len, auth_cmd *out)
{
    size_t i = 0, vlen = strlen(f->verb);
    if (f->tagged) {
        i = fk_atom_len(line, len);
        if (i == 0 || i >= len || line[i++] != ' ')
            return -1;
    }
    if (len - i <= vlen || strncasecmp(line + i, f->verb, vlen) != 0 || line[i + vlen] != ' ')
        return -1;
    i += vlen + 1;
    const char *sp = memchr(line + i, ' ', len - i);
    out->mech = line + i;
    out->mech_len = sp ? (size_t)(sp - (line + i)) : len - i;
    out->has_ir = sp != NULL;
    out->ir = sp ? sp + 1 : NULL;
    out->ir_len = sp ? len - i - out->mech_len - 1 : 0;
    return out->mech_len > 0 ? 0 : -1;
}

void fk_conn_describe_sasl(const fk_conn *c, const fk_step *s, char *out, size_t out_size)
{
    const fk_sasl_frame *f = &c->srv->pers->sasl;
    if (s->expect.kind == FK_EXPECT_APOP)
        snprintf(out, out_size, "'APOP %s <digest>'", s->expect.apop.user);
    else if (c->sasl != NULL)
        snprintf(out, out_size, "the %s exchange to go on", s->expect.sasl.mechanism);
    else
        snprintf(out, out_size, "'%s%s %s ...'", f->tagged ? "{tag} " : "", f->verb,
                 s->expect.sasl.mechanism);
}

/* The final line for a failure, by reason. */
static const char *failure_line(const fk_sasl_frame *f, fk_sasl_reason r)
{
    switch (r) {
    case FK_SASL_R_TEMPORARY:
        return f->temporary;
    case FK_SASL_R_UNSUPPORTED:
        return f->unsupported;
    case FK_SASL_R_MALFORMED:
    case FK_SASL_R_TOO_LONG:
        return f->malformed;
    case FK_SASL_R_CANCELLED:
        return f->cancelled;
    default:
        return f->failed;
    }
}

/* The "sasl" transcript event: mechanism, user, verdict. */
static void record_verdict(fk_conn *c, const fk_sasl_reply *r)
{
    const char *user = fk_sasl_server_user(c->sasl);
    bool ok = r->status == FK_SASL_SUCCESS;
    json_t *extra =
        json_pack("{s:s, s:s?, s:s, s:s, s:b}", "mechanism", fk_sasl_server_mechanism(c->sasl),
                  "user", user, "verdict", ok ? "success" : "failure", "reason",
                  fk_sasl_reason_name(r->reason), "as_scripted", ok || r->as_scripted);
    fk_conn_event(c, "sasl", ok ? "success" : r->message, extra);
}

static run_result sasl_reply(fk_conn *c, const fk_step *s, const fk_sasl_reply *r)
{
    const fk_sasl_frame *f = &c->srv->pers->sasl;
    if (r->status == FK_SASL_CHALLENGE) {
        if (fk_conn_out(c, f->challenge, strlen(f->challenge)) != 0 ||
            fk_conn_out(c, r->b64, r->b64_len) != 0 || fk_conn_out(c, "\r\n", 2) != 0)
            return fk_conn_internal(c, "out of memory");
        return fk_conn_reply_and_expect(c);
    }
    record_verdict(c, r);
    const char *line = r->status == FK_SASL_SUCCESS ? f->success : failure_line(f, r->reason);
    if (r->status == FK_SASL_FAILURE && !r->as_scripted) {
        char msg[FK_DIAG_MAX / 2];
        snprintf(msg, sizeof msg, "SASL %s: %s", s->expect.sasl.mechanism,
                 r->message ? r->message : fk_sasl_reason_name(r->reason));
        fk_sasl_server_free(c->sasl);
        c->sasl = NULL;
        fk_conn_fail(c, "mismatch", c->where, msg, true, line);
        return R_NEXT;
    }
    fk_sasl_server_free(c->sasl);
    c->sasl = NULL;
    c->auto_reply = line;
    return fk_conn_expect_done(c);
}

/* The step's configuration for fk_sasl, with the connection's channel binding. */
static void sasl_config(const fk_conn *c, const fk_expect_sasl *e, fk_sasl_server_config *cfg,
                        unsigned char *cb, size_t cb_size)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->user = e->user;
    cfg->password = e->password;
    cfg->fail = (fk_sasl_fail)e->fail;
    cfg->oversized_len = e->oversized_len;
    cfg->scram_error = e->scram_error;
    cfg->scram_iterations = e->scram_iterations;
    cfg->scram_salt = e->scram_salt.len ? e->scram_salt.data : NULL;
    cfg->scram_salt_len = e->scram_salt.len;
    cfg->tls_identity = true; /* EXTERNAL: the CN of a verified client certificate, or none */
    cfg->tls_cn = c->tls && c->has_peer_cn ? c->peer_cn : NULL;
    size_t cb_len = 0;
    if (c->tls && fk_tls_channel_binding(c->ssl, &cfg->cb_type, cb, cb_size, &cb_len) == 0) {
        cfg->cb_data = cb;
        cfg->cb_data_len = cb_len;
    }
}

/* The opening command: match it, create the exchange, feed the initial response. */
static run_result sasl_start(fk_conn *c, const fk_step *s, const unsigned char *line, size_t len,
                             size_t used)
{
    auth_cmd cmd;
    const fk_expect_sasl *e = &s->expect.sasl;
    if (parse_auth(&c->srv->pers->sasl, (const char *)line, len, &cmd) != 0 ||
        cmd.mech_len != strlen(e->mechanism) ||
        strncasecmp(cmd.mech, e->mechanism, cmd.mech_len) != 0) {
        if (s->optional)
            return fk_conn_skip_step(c);
        char shown[SHOW_MAX * 4 + 8];
        fk_conn_remember_tag(c, line, len);
        fk_conn_show_line(line, len, shown, sizeof shown);
        fk_conn_expect_failed(c, s, shown, NULL);
        return R_NEXT;
    }
    fk_conn_remember_tag(c, line, len);
    fk_sasl_server_config cfg;
    unsigned char cb[FK_SASL_CB_DATA_MAX];
    char err[FK_SASL_MESSAGE_MAX];
    sasl_config(c, e, &cfg, cb, sizeof cb);
    if ((c->sasl = fk_sasl_server_new(e->mechanism, &cfg, err, sizeof err)) == NULL)
        return fk_conn_internal(c, "cannot start the SASL exchange");
    fk_sasl_reply r;
    fk_sasl_server_step(c->sasl, cmd.ir, cmd.ir_len, cmd.has_ir, &r);
    fk_conn_consume(c, used);
    c->n_matched = 1; /* begun: no longer skippable */
    return sasl_reply(c, s, &r);
}

run_result fk_conn_expect_sasl(fk_conn *c, const fk_step *s)
{
    const unsigned char *line;
    size_t len, used;
    if (!fk_conn_peek_line(c, &line, &len, &used)) {
        if (c->in_closed)
            return fk_conn_expect_gone(c, s);
        if (c->in_len == c->in_max) {
            char got[128];
            snprintf(got, sizeof got, "a line longer than line_max (%zu bytes)", c->srv->line_max);
            fk_conn_expect_failed(c, s, got, NULL);
            return R_NEXT;
        }
        return fk_conn_wait_input(c);
    }
    if (c->sasl == NULL)
        return sasl_start(c, s, line, len, used);
    fk_sasl_reply r;
    fk_sasl_server_step(c->sasl, (const char *)line, len, true, &r);
    fk_conn_consume(c, used);
    return sasl_reply(c, s, &r);
}
