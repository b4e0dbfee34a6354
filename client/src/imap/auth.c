/*
 * imap/auth.c: IMAP authentication: LOGIN (RFC 9051 §6.2.3) and
 * AUTHENTICATE (RFC 9051 §6.2.2, SASL-IR RFC 4959) through the SASL engine,
 * then ENABLE IMAP4rev2 (RFC 9051 §6.3.1, ext.c) when offered, ENABLE
 * UTF8=ACCEPT (RFC 6855) and COMPRESS DEFLATE (RFC 4978) when asked.
 *
 * The credential policy comes first (SECURITY-CASES F): LOGIN and the
 * cleartext mechanisms need mj_sasl_cleartext_allowed; LOGINDISABLED is
 * honoured; credentials with CR or LF are refused before a byte is sent.
 * The password is a secret span whatever its form (atom, quoted, literal),
 * so the protocol log never shows it (SECURITY-CASES #67).
 */
#include "imap/imap_internal.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "sasl/engine.h"

/* ---- AUTHENTICATE: the SASL engine's protocol table ------------------------------------ */

static mj_outcome auth_begin(void *ctx, mj_conn *c)
{
    mj_imap *s = ctx;
    mj_outcome o = imap_begin(s, IMAP_CMD_AUTHENTICATE);
    return o == MJ_OK ? mj_conn_puts(c, " ") : o;
}

/* What a NO/BAD to AUTHENTICATE means: RFC 5530 codes, [CANNOT] = no such mechanism. */
static mj_outcome auth_failure(const imap_done *done)
{
    if (strcasecmp(done->code, "CANNOT") == 0)
        return MJ_AUTH_UNSUPPORTED;
    return mj_imap_code_outcome(done->code[0] ? done->code : NULL,
                                done->status == MJ_IMAP_ST_BAD ? MJ_PROTOCOL_ERROR : MJ_AUTH_FAILED);
}

/* "+ text" -> challenge; tagged OK -> success, NO/BAD -> failure; untagged data handled. */
static mj_outcome auth_read_reply(void *ctx, mj_conn *c, mj_sasl_reply *reply_out)
{
    mj_imap *s = ctx;
    (void)c;
    memset(reply_out, 0, sizeof *reply_out);
    for (;;) {
        const mj_imap_response *r = NULL;
        mj_outcome o = imap_read(s, &r);
        if (o != MJ_OK)
            return o;
        if (r->kind == MJ_IMAP_CONTINUATION) {
            reply_out->kind = MJ_SASL_REPLY_CHALLENGE;
            reply_out->text = r->text != NULL ? r->text : "";
            reply_out->len = r->text != NULL ? r->text_len : 0;
            return MJ_OK;
        }
        if (r->kind == MJ_IMAP_UNTAGGED) {
            o = imap_untagged(s, r, NULL, NULL);
            if (o != MJ_OK)
                return o;
            continue;
        }
        imap_done done;
        o = imap_tagged(s, r, &done);
        if (o != MJ_OK)
            return o;
        reply_out->kind = done.status == MJ_IMAP_ST_OK ? MJ_SASL_REPLY_SUCCESS : MJ_SASL_REPLY_FAILURE;
        reply_out->text = r->text != NULL ? r->text : "";
        reply_out->len = r->text != NULL ? r->text_len : 0;
        reply_out->failure = auth_failure(&done);
        return MJ_OK;
    }
}

static const mj_sasl_proto imap_sasl_proto = {
    .name = "imap",
    .begin = auth_begin,
    .read_reply = auth_read_reply,
    .ir_max = 0, /* SIZE_MAX with SASL-IR */
    .empty_ir = "=",
};

static mj_outcome run_sasl(mj_imap *s, mj_sasl_mech mech, const mj_sasl_creds *creds,
                           const mj_sasl_channel *chan)
{
    mj_sasl *sasl = NULL;
    mj_outcome o = mj_sasl_new(mech, creds, chan, &sasl, mj_conn_error(s->conn));
    if (o != MJ_OK)
        return o;
    mj_sasl_proto proto = imap_sasl_proto;
    proto.ir_max = (s->caps.bits & MJ_IMAP_CAP_SASL_IR) ? SIZE_MAX : 0;
    o = mj_sasl_run(s->conn, &proto, s, sasl);
    mj_sasl_free(sasl);
    return imap_fail_if_fatal(s, o);
}

static mj_outcome run_login(mj_imap *s, const mj_sasl_creds *creds)
{
    imap_part parts[] = {
        {IMAP_P_ASTRING, creds->username, false, "user name", false},
        {IMAP_P_ASTRING, creds->password, true, "password", false},
    };
    return imap_run(s, IMAP_CMD_LOGIN, parts, 2, NULL, NULL, MJ_AUTH_FAILED, NULL);
}

/* ---- choosing ------------------------------------------------------------------------------ */

typedef enum auth_method { AUTH_NONE = 0, AUTH_SASL, AUTH_LOGIN } auth_method;

static bool has(const char *p)
{
    return p != NULL && p[0] != '\0';
}

/* The client's order (mj_imap_login in imap.h); on AUTH_NONE the conn's error says why. */
static auth_method choose(mj_imap *s, const mj_sasl_creds *creds, mj_sasl_mech forced,
                          const mj_sasl_channel *chan, mj_sasl_mech *mech_out)
{
    mj_error *err = mj_conn_error(s->conn);
    mj_tls_state tls = mj_conn_tls_state(s->conn);
    mj_sasl_choice choice = {.server_mechs = s->caps.sasl, .tls = tls, .forced = forced};
    choice.channel_binding = chan->type != MJ_SASL_CB_NONE;
    mj_outcome o = mj_sasl_choose(&choice, &s->opts.policy, creds, mech_out, err);
    if (forced != MJ_SASL_NONE || has(creds->token))
        return o == MJ_OK ? AUTH_SASL : AUTH_NONE;
    if (o == MJ_OK && mj_sasl_mech_class(*mech_out) >= MJ_SASL_CLASS_CHALLENGE)
        return AUTH_SASL;
    bool pass = has(creds->username) && has(creds->password);
    bool login_ok = pass && (s->caps.bits & MJ_IMAP_CAP_LOGINDISABLED) == 0;
    if (login_ok && !mj_sasl_cleartext_allowed(tls, &s->opts.policy)) {
        mj_error_set(err, MJ_CLEARTEXT_REFUSED, MJ_R_NONE,
                     "refusing to send the password in LOGIN over a connection without verified "
                     "TLS (use TLS, or allow insecure authentication)");
        return AUTH_NONE;
    }
    if (login_ok)
        return AUTH_LOGIN;
    if (o == MJ_OK)
        return AUTH_SASL;
    if (pass && o == MJ_AUTH_UNSUPPORTED)
        mj_error_set(err, MJ_AUTH_UNSUPPORTED, MJ_R_NONE,
                     "the server disables LOGIN (LOGINDISABLED) and offers no usable SASL "
                     "mechanism");
    return AUTH_NONE;
}

/* ENABLE UTF8=ACCEPT when asked and advertised; a refusal leaves modified UTF-7. */
static mj_outcome enter_utf8(mj_imap *s)
{
    if (!s->opts.utf8 || s->utf8) /* IMAP4rev2 already speaks UTF-8 */
        return MJ_OK;
    if (!s->caps.known) {
        mj_outcome o = imap_capability(s);
        if (o != MJ_OK)
            return o;
    }
    if ((s->caps.bits & MJ_IMAP_CAP_UTF8_ACCEPT) == 0)
        return MJ_OK;
    static const char *const names[] = {"UTF8=ACCEPT"};
    uint32_t enabled = 0;
    mj_outcome o = mj_imap_enable(s, names, 1, &enabled);
    s->utf8 = o == MJ_OK && (enabled & MJ_IMAP_CAP_UTF8_ACCEPT) != 0;
    if (s->state == MJ_IMAP_STATE_FAILED)
        return o;
    mj_error_clear(mj_conn_error(s->conn)); /* a refused ENABLE leaves modified UTF-7 */
    return MJ_OK;
}

/* COMPRESS when asked: without COMPRESS=DEFLATE, or refused, the session goes on as it is. */
static mj_outcome enter_compress(mj_imap *s)
{
    if (!s->opts.compress || mj_conn_compressed(s->conn))
        return MJ_OK;
    mj_outcome o = mj_imap_compress(s);
    bool offered = (s->caps.bits & MJ_IMAP_CAP_COMPRESS_DEFLATE) != 0;
    if (o == MJ_OK || s->state == MJ_IMAP_STATE_FAILED || (o == MJ_USAGE && offered))
        return o;
    mj_error_clear(mj_conn_error(s->conn)); /* not offered, NO or BAD: uncompressed */
    return MJ_OK;
}

/* After authentication (LOGIN, AUTHENTICATE or PREAUTH): ENABLE IMAP4rev2 when offered,
   UTF8=ACCEPT and COMPRESS when asked, in that order (COMPRESS last: RFC 4978 leaves
   the choice, and the ENABLEs are then readable in a capture). */
static mj_outcome post_auth(mj_imap *s)
{
    mj_outcome o = imap_enter_rev2(s);
    if (o == MJ_OK)
        o = enter_utf8(s);
    return o == MJ_OK ? enter_compress(s) : o;
}

mj_outcome mj_imap_login(mj_imap *s, const mj_sasl_creds *creds, mj_sasl_mech forced)
{
    if (s->state == MJ_IMAP_STATE_AUTHENTICATED && forced == MJ_SASL_NONE) {
        if (s->post_auth_done) /* PREAUTH: no LOGIN, the post-authentication step once */
            return MJ_OK;
        return post_auth(s);
    }
    if (s->state != MJ_IMAP_STATE_NOT_AUTHENTICATED)
        return mj_error_set(mj_conn_error(s->conn), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "IMAP login is not allowed in the %s state",
                            mj_imap_state_name(s->state));
    if (creds == NULL)
        return mj_error_set(mj_conn_error(s->conn), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "IMAP login needs credentials; nothing was sent");
    mj_outcome o = mj_sasl_creds_check_lines(creds, mj_conn_error(s->conn));
    if (o != MJ_OK)
        return o;
    unsigned char cb[MJ_CB_DATA_MAX];
    mj_sasl_channel chan;
    mj_sasl_mech mech = MJ_SASL_NONE;
    (void)mj_sasl_channel_for(s->conn, s->caps.sasl, cb, &chan);
    auth_method how = choose(s, creds, forced, &chan, &mech);
    if (how == AUTH_NONE)
        return mj_conn_error(s->conn)->outcome;
    o = how == AUTH_SASL ? run_sasl(s, mech, creds, &chan) : run_login(s, creds);
    if (o != MJ_OK)
        return o;
    imap_set_state(s, MJ_IMAP_STATE_AUTHENTICATED);
    if (!s->caps_in_reply) {
        /* RFC 9051 §6.2.2-6.2.3: the capabilities may have changed with authentication;
           forget them and ask again (a NO or BAD to CAPABILITY leaves them unknown) */
        o = imap_capability(s);
        if (o != MJ_OK) {
            if (s->state == MJ_IMAP_STATE_FAILED)
                return o;
            memset(&s->caps, 0, sizeof s->caps);
            mj_error_clear(mj_conn_error(s->conn));
        }
    }
    return post_auth(s);
}
