/*
 * engine.c: one SASL exchange over a connection (see engine.h).
 * RFC 4422 (SASL), RFC 9051 6.2.2 + RFC 4959 (IMAP AUTHENTICATE, SASL-IR),
 * RFC 5034 (POP3 AUTH), RFC 4954 (SMTP AUTH).
 */
#include "sasl/engine.h"

#include <string.h>

/* Most server text quoted in an error message (escaped). */
#define ENGINE_QUOTE_MAX 200

static mj_outcome put_line_end(mj_conn *c)
{
    mj_outcome o = mj_conn_put(c, "\r\n", 2, false);
    return o != MJ_OK ? o : mj_conn_flush(c);
}

/* The command: begin, the mechanism, the initial response if any. */
static mj_outcome send_command(mj_conn *c, const mj_sasl_proto *proto, void *ctx, mj_sasl *s,
                               const char *ir, size_t ir_len)
{
    const char *mech = mj_sasl_mech_name(mj_sasl_get_mech(s));
    mj_outcome o = proto->begin(ctx, c);
    if (o == MJ_OK)
        o = mj_conn_puts(c, mech);
    if (o == MJ_OK && ir != NULL) {
        o = mj_conn_put(c, " ", 1, false);
        if (o == MJ_OK && ir_len == 0)
            o = mj_conn_puts(c, proto->empty_ir);
        else if (o == MJ_OK)
            o = mj_conn_put(c, ir, ir_len, true);
    }
    return o != MJ_OK ? o : put_line_end(c);
}

/* A response line (possibly empty), always secret in the log. */
static mj_outcome send_response(mj_conn *c, const char *resp, size_t len)
{
    mj_outcome o = len > 0 ? mj_conn_put(c, resp, len, true) : MJ_OK;
    return o != MJ_OK ? o : put_line_end(c);
}

static mj_outcome server_failure(mj_conn *c, const mj_sasl_reply *reply, const char *mech)
{
    char text[ENGINE_QUOTE_MAX];
    mj_escape(reply->text != NULL ? reply->text : "", reply->text != NULL ? reply->len : 0, text,
              sizeof text);
    mj_outcome o = reply->failure != MJ_OK ? reply->failure : MJ_AUTH_FAILED;
    return mj_error_set(mj_conn_error(c), o, MJ_R_NONE, "the server refused %s authentication: %s",
                        mech, text[0] != '\0' ? text : "(no text)");
}

/*
 * The mechanism could not answer a challenge: answer what it says (an empty
 * line for XOAUTH2's error, "AQ==" for OAUTHBEARER's) or cancel with "*",
 * read the server's final reply, and report the mechanism's error.
 */
static mj_outcome abort_exchange(mj_conn *c, const mj_sasl_proto *proto, void *ctx,
                                 const char *resp, size_t len, const mj_error *why)
{
    mj_error *err = mj_conn_error(c);
    mj_outcome o = resp != NULL ? send_response(c, resp, len) : send_response(c, "*", 1);
    if (o == MJ_OK) {
        mj_sasl_reply reply;
        memset(&reply, 0, sizeof reply);
        (void)proto->read_reply(ctx, c, &reply); /* its outcome matters less than why */
    }
    *err = *why;
    return why->outcome;
}

mj_outcome mj_sasl_run(mj_conn *c, const mj_sasl_proto *proto, void *ctx, mj_sasl *s)
{
    mj_error *err = mj_conn_error(c);
    const char *mech = mj_sasl_mech_name(mj_sasl_get_mech(s));
    const char *resp = NULL;
    size_t len = 0;

    mj_outcome o = mj_sasl_initial(s, proto->ir_max, &resp, &len, err);
    if (o == MJ_OK)
        o = send_command(c, proto, ctx, s, resp, len);
    for (unsigned round = 0; o == MJ_OK; round++) {
        mj_sasl_reply reply;
        memset(&reply, 0, sizeof reply);
        o = proto->read_reply(ctx, c, &reply);
        if (o != MJ_OK)
            return o;
        if (reply.kind == MJ_SASL_REPLY_SUCCESS)
            return mj_sasl_finish(s, reply.has_data ? reply.data : NULL,
                                  reply.has_data ? reply.data_len : 0, err);
        if (reply.kind == MJ_SASL_REPLY_FAILURE)
            return server_failure(c, &reply, mech);
        mj_error why;
        mj_error_clear(&why);
        if (round >= MJ_SASL_ROUNDS_MAX) {
            mj_error_set(&why, MJ_PROTOCOL_ERROR, MJ_R_MALFORMED,
                         "%s authentication: more than %d challenges", mech, MJ_SASL_ROUNDS_MAX);
            return abort_exchange(c, proto, ctx, NULL, 0, &why);
        }
        o = mj_sasl_step(s, reply.text, reply.len, &resp, &len, &why);
        if (o != MJ_OK)
            return abort_exchange(c, proto, ctx, resp, len, &why);
        o = send_response(c, resp, len);
    }
    return o;
}

_Static_assert((int)MJ_CB_TLS_EXPORTER == (int)MJ_SASL_CB_TLS_EXPORTER &&
                   (int)MJ_CB_TLS_SERVER_END_POINT == (int)MJ_SASL_CB_TLS_SERVER_END_POINT,
               "transport.h and sasl.h channel-binding values agree");

bool mj_sasl_channel_for(mj_conn *c, mj_sasl_set server_mechs,
                         unsigned char buf[MJ_CB_DATA_MAX], mj_sasl_channel *chan_out)
{
    const mj_sasl_set plus = MJ_SASL_BIT(MJ_SASL_SCRAM_SHA_1_PLUS) |
                             MJ_SASL_BIT(MJ_SASL_SCRAM_SHA_256_PLUS) |
                             MJ_SASL_BIT(MJ_SASL_SCRAM_SHA_512_PLUS);
    memset(chan_out, 0, sizeof *chan_out);
    chan_out->server_offers_plus = (server_mechs & plus) != 0;
    if (mj_conn_tls_state(c) == MJ_TLS_NONE)
        return false;
    mj_error keep = *mj_conn_error(c);
    mj_channel_binding type = MJ_CB_NONE;
    size_t len = 0;
    bool ok = mj_conn_channel_binding(c, &type, buf, &len) == MJ_OK && type != MJ_CB_NONE;
    *mj_conn_error(c) = keep; /* no channel binding is not an error, just no -PLUS */
    if (ok) {
        chan_out->type = (mj_sasl_cb_type)type;
        chan_out->data = buf;
        chan_out->len = len;
    }
    return ok;
}
