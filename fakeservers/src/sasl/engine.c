/*
 * engine.c: fk_sasl_server_step, the part of every exchange that is not a
 * mechanism's: the client's "*", decoding and capping its message, handing
 * it to the mechanism, and turning the mechanism's wish into a reply with the
 * scripted failures applied.  RFC 4422 sections 3.3-3.6.
 */
#include "sasl/sasl_internal.h"

#include <stdio.h>
#include <string.h>

/* Reject-style scripted failures: what replaces the success. */
static const struct {
    fk_sasl_fail fail;
    fk_sasl_reason reason;
    const char *message;
} rejects[] = {
    {FK_SASL_FAIL_WRONG_PASSWORD, FK_SASL_R_WRONG_PASSWORD, "wrong password (scripted)"},
    {FK_SASL_FAIL_UNKNOWN_USER, FK_SASL_R_UNKNOWN_USER, "unknown user (scripted)"},
    {FK_SASL_FAIL_TEMPORARY, FK_SASL_R_TEMPORARY, "temporary failure (scripted)"},
};

/* The bait each malformed-challenge failure sends; OVERSIZED is built. */
static const struct {
    fk_sasl_fail fail;
    const char *text;
} malformed[] = {
    {FK_SASL_FAIL_CHALLENGE_NOT_BASE64, "!!!"},
    {FK_SASL_FAIL_CHALLENGE_EMPTY, ""},
    {FK_SASL_FAIL_CHALLENGE_OVERSIZED, NULL},
};

/* ---- replies --------------------------------------------------------------------- */

static int reply_challenge(fk_sasl_server *s, fk_sasl_reply *out)
{
    out->status = FK_SASL_CHALLENGE;
    out->b64 = s->out ? s->out : "";
    out->b64_len = s->out ? s->out_len : 0;
    return 0;
}

/* SUCCESS or FAILURE; data: whether s->out goes with it. */
static int reply_end(fk_sasl_server *s, fk_sasl_reply *out, fk_sasl_status st,
                     fk_sasl_reason reason, bool as_scripted, bool data)
{
    s->stage = FK_SS_DONE;
    out->status = st;
    out->b64 = data ? s->out : NULL;
    out->b64_len = data ? s->out_len : 0;
    out->reason = reason;
    out->as_scripted = as_scripted;
    out->message = st == FK_SASL_FAILURE ? s->msg : NULL;
    return 0;
}

static int reply_fail(fk_sasl_server *s, fk_sasl_reply *out, fk_sasl_reason reason,
                      bool as_scripted, const char *message)
{
    snprintf(s->msg, sizeof s->msg, "%s", message);
    return reply_end(s, out, FK_SASL_FAILURE, reason, as_scripted, false);
}

static int reply_internal(fk_sasl_server *s, fk_sasl_reply *out, const char *message)
{
    reply_fail(s, out, FK_SASL_R_INTERNAL, false, message);
    return -1;
}

/* ---- scripted failures ------------------------------------------------------------- */

/* Send the scripted malformed challenge; a correct client cancels it. */
static int send_malformed(fk_sasl_server *s, fk_sasl_reply *out)
{
    s->malformed_pending = false;
    int rc = -1;
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        if (malformed[i].fail != s->cfg.fail)
            continue;
        if (malformed[i].text) {
            rc = fk_sasl_out_raw(s, malformed[i].text, strlen(malformed[i].text));
            break;
        }
        /* "QUFB" is "AAA": valid base64, just too much of it. */
        rc = fk_sasl_out_alloc(s, s->cfg.oversized_len);
        if (rc == 0) {
            for (size_t k = 0; k < s->cfg.oversized_len; k += 4)
                memcpy(s->out + k, "QUFB", 4);
        }
        break;
    }
    if (rc != 0)
        return reply_internal(s, out, "out of memory");
    s->stage = FK_SS_BAIT;
    s->bait_rule = FK_BAIT_CANCEL;
    s->bait_reason = FK_SASL_R_CANCELLED;
    s->bait_what = "a malformed challenge";
    return reply_challenge(s, out);
}

/* The mechanism verified the credentials: success, or what the script says. */
static int on_verified(fk_sasl_server *s, const fk_mres *r, fk_sasl_reply *out)
{
    if (s->malformed_pending)
        return send_malformed(s, out);
    for (size_t i = 0; i < sizeof rejects / sizeof rejects[0]; i++)
        if (rejects[i].fail == s->cfg.fail)
            return reply_fail(s, out, rejects[i].reason, true, rejects[i].message);
    if (r->has_data && !s->cfg.success_with_data) {
        s->stage = FK_SS_FINAL_ACK;
        return reply_challenge(s, out);
    }
    return reply_end(s, out, FK_SASL_SUCCESS, FK_SASL_R_NONE, false, r->has_data);
}

static int on_bait(fk_sasl_server *s, const fk_mres *r, fk_sasl_reply *out)
{
    if (r->direct != FK_SASL_CHALLENGE && s->cfg.success_with_data) {
        snprintf(s->msg, sizeof s->msg, "%s (scripted)", r->what);
        return reply_end(s, out, r->direct, r->reason, true, true);
    }
    s->stage = FK_SS_BAIT;
    s->bait_rule = r->rule;
    s->bait_reason = r->reason;
    s->bait_what = r->what;
    return reply_challenge(s, out);
}

static int conclude(fk_sasl_server *s, const fk_mres *r, fk_sasl_reply *out)
{
    switch (r->kind) {
    case FK_M_CHALLENGE:
        if (s->malformed_pending && s->out_len > 0)
            return send_malformed(s, out);
        return reply_challenge(s, out);
    case FK_M_VERIFIED:
        return on_verified(s, r, out);
    case FK_M_BAIT:
        return on_bait(s, r, out);
    case FK_M_FAIL:
    default:
        return reply_end(s, out, FK_SASL_FAILURE, r->reason, false, false);
    }
}

/* ---- client answers after a bait or the server-final ------------------------------ */

static int on_bait_answer(fk_sasl_server *s, fk_sasl_reply *out)
{
    bool right = false;
    switch (s->bait_rule) {
    case FK_BAIT_CANCEL:
        snprintf(s->msg, sizeof s->msg, "the client answered %s instead of cancelling with \"*\"",
                 s->bait_what);
        return reply_end(s, out, FK_SASL_FAILURE, FK_SASL_R_NOT_CANCELLED, false, false);
    case FK_BAIT_EMPTY:
        right = s->in_len == 0;
        break;
    case FK_BAIT_KVSEP:
        right = s->in_len == 1 && s->in[0] == 0x01;
        break;
    case FK_BAIT_ANY:
        right = true;
        break;
    }
    if (!right) {
        snprintf(s->msg, sizeof s->msg, "unexpected answer to %s (expected %s or \"*\")",
                 s->bait_what, s->bait_rule == FK_BAIT_EMPTY ? "an empty response" : "\"\\x01\"");
        return reply_end(s, out, FK_SASL_FAILURE, FK_SASL_R_MALFORMED, false, false);
    }
    snprintf(s->msg, sizeof s->msg, "%s acknowledged (scripted)", s->bait_what);
    return reply_end(s, out, FK_SASL_FAILURE, s->bait_reason, true, false);
}

static int on_cancel(fk_sasl_server *s, fk_sasl_reply *out)
{
    if (s->stage == FK_SS_BAIT) {
        snprintf(s->msg, sizeof s->msg, "the client cancelled after %s (scripted)", s->bait_what);
        return reply_end(s, out, FK_SASL_FAILURE, FK_SASL_R_CANCELLED, true, false);
    }
    return reply_fail(s, out, FK_SASL_R_CANCELLED, false, "the client cancelled the exchange");
}

static int on_final_ack(fk_sasl_server *s, fk_sasl_reply *out)
{
    if (s->in_len != 0)
        return reply_fail(s, out, FK_SASL_R_MALFORMED, false,
                          "expected an empty response after the server-final message");
    return reply_end(s, out, FK_SASL_SUCCESS, FK_SASL_R_NONE, false, false);
}

/* ---- the step ------------------------------------------------------------------------- */

/* Decode the client's line into s->in; false with out a FAILURE when it is bad. */
static bool decode(fk_sasl_server *s, const char *line, size_t len, bool first, fk_sasl_reply *out)
{
    char m[FK_SASL_MESSAGE_MAX];
    if (len > FK_SASL_B64_MAX) {
        snprintf(m, sizeof m, "client message of %zu characters over FK_SASL_B64_MAX (%d)", len,
                 FK_SASL_B64_MAX);
        reply_fail(s, out, FK_SASL_R_TOO_LONG, false, m);
        return false;
    }
    s->in_len = 0;
    /* RFC 4422 4(3.b): "=" is an empty initial response (SMTP, IMAP SASL-IR). */
    bool empty_ir = first && len == 1 && line[0] == '=';
    if (!empty_ir && fk_b64_decode(line, len, s->in, sizeof s->in - 1, &s->in_len) != 0) {
        reply_fail(s, out, FK_SASL_R_MALFORMED, false, "client message is not base64");
        return false;
    }
    if (s->in_len > FK_SASL_MSG_MAX) {
        snprintf(m, sizeof m, "decoded client message of %zu bytes over FK_SASL_MSG_MAX (%d)",
                 s->in_len, FK_SASL_MSG_MAX);
        reply_fail(s, out, FK_SASL_R_TOO_LONG, false, m);
        return false;
    }
    s->in[s->in_len] = 0;
    return true;
}

int fk_sasl_server_step(fk_sasl_server *s, const char *line, size_t len, bool has_data,
                        fk_sasl_reply *out)
{
    memset(out, 0, sizeof *out);
    if (s->stage == FK_SS_DONE)
        return reply_internal(s, out, "SASL step after the exchange ended");
    bool first = s->stage == FK_SS_START;
    if (!has_data && !first)
        return reply_internal(s, out, "SASL step without data after the first");
    if (first && s->cfg.fail == FK_SASL_FAIL_UNSUPPORTED) {
        snprintf(s->msg, sizeof s->msg, "mechanism %s not supported (scripted)", s->mech->name);
        return reply_end(s, out, FK_SASL_FAILURE, FK_SASL_R_UNSUPPORTED, true, false);
    }
    /* "*" cancels an answer to a challenge; as an initial response it is just not base64. */
    if (has_data && !first && len == 1 && line[0] == '*')
        return on_cancel(s, out);
    if (has_data && !decode(s, line, len, first, out))
        return 0;
    if (s->stage == FK_SS_BAIT)
        return on_bait_answer(s, out);
    if (s->stage == FK_SS_FINAL_ACK)
        return on_final_ack(s, out);
    s->stage = FK_SS_MECH;
    fk_mres r;
    memset(&r, 0, sizeof r);
    int rc = has_data ? s->mech->input(s, &r) : s->mech->start(s, &r);
    if (rc != 0)
        return reply_internal(s, out, "out of memory or OpenSSL failure");
    return conclude(s, &r, out);
}
