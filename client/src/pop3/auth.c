/*
 * pop3/auth.c: POP3 authentication: AUTH with SASL (RFC 5034, through the
 * SASL engine), APOP (RFC 1939 §7), USER/PASS (RFC 1939 §7), and UTF8
 * before it (RFC 6856 §2).
 *
 * The credential policy comes first (SECURITY-CASES F): nothing that
 * exposes the password or a token goes out unless mj_sasl_cleartext_allowed;
 * APOP needs verified TLS or allow_apop_insecure (CVE-2007-1558); every
 * credential is checked for CR/LF before the first byte of USER.
 */
#include "pop3/pop3_internal.h"

#include <string.h>

#include <openssl/evp.h>

#include "sasl/engine.h"

/* "AUTH " SP and CRLF around the mechanism and its initial response. */
#define AUTH_OVERHEAD (sizeof "AUTH " - 1 + 1 + 2)

/* ---- AUTH: the SASL engine's protocol table ------------------------------------------ */

static mj_outcome auth_begin(void *ctx, mj_conn *c)
{
    (void)ctx;
    return mj_conn_puts(c, "AUTH ");
}

/* "+ text" / "+" -> challenge, "+OK" -> success, "-ERR" -> failure (code table). */
static mj_outcome auth_read_reply(void *ctx, mj_conn *c, mj_sasl_reply *reply_out)
{
    mj_pop3 *s = ctx;
    (void)c;
    mj_pop3_status st;
    mj_outcome o = pop3_read_status(s, true, &st);
    if (o != MJ_OK)
        return o;
    static const mj_sasl_reply_kind kinds[] = {
        [MJ_POP3_KIND_OK] = MJ_SASL_REPLY_SUCCESS,
        [MJ_POP3_KIND_ERR] = MJ_SASL_REPLY_FAILURE,
        [MJ_POP3_KIND_CONT] = MJ_SASL_REPLY_CHALLENGE,
    };
    reply_out->kind = kinds[st.kind];
    reply_out->text = st.text;
    reply_out->len = st.text_len;
    reply_out->failure = mj_pop3_code_outcome(st.code, MJ_AUTH_FAILED);
    return MJ_OK;
}

static const mj_sasl_proto pop3_sasl_proto = {
    .name = "pop3",
    .begin = auth_begin,
    .read_reply = auth_read_reply,
    .ir_max = 0, /* set per mechanism: RFC 5034 §4, the command within 255 octets */
    .empty_ir = "=",
};

static mj_outcome run_sasl(mj_pop3 *s, mj_sasl_mech mech, const mj_sasl_creds *creds,
                           const mj_sasl_channel *chan)
{
    mj_sasl *sasl = NULL;
    mj_outcome o = mj_sasl_new(mech, creds, chan, &sasl, mj_conn_error(s->conn));
    if (o != MJ_OK)
        return o;
    mj_sasl_proto proto = pop3_sasl_proto;
    proto.ir_max = MJ_POP3_COMMAND_MAX - AUTH_OVERHEAD - strlen(mj_sasl_mech_name(mech));
    o = mj_sasl_run(s->conn, &proto, s, sasl);
    mj_sasl_free(sasl);
    return pop3_fail_if_fatal(s, o);
}

/* ---- APOP and USER/PASS ------------------------------------------------------------------ */

/* digest = lower-case hex of MD5(timestamp password) (RFC 1939 §7). */
static mj_outcome apop_digest(mj_pop3 *s, const char *password, char hex_out[33])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, s->apop_timestamp, strlen(s->apop_timestamp)) == 1 &&
             EVP_DigestUpdate(ctx, password, strlen(password)) == 1 &&
             EVP_DigestFinal_ex(ctx, md, &md_len) == 1 && md_len == 16;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return mj_error_set(mj_conn_error(s->conn), MJ_INTERNAL, MJ_R_SYSTEM,
                            "MD5 is not available for APOP");
    for (unsigned i = 0; i < 16; i++) {
        hex_out[2 * i] = hex[md[i] >> 4];
        hex_out[2 * i + 1] = hex[md[i] & 0xf];
    }
    hex_out[32] = '\0';
    return MJ_OK;
}

static mj_outcome run_apop(mj_pop3 *s, const mj_sasl_creds *creds)
{
    char digest[33];
    mj_outcome o = apop_digest(s, creds->password, digest);
    if (o != MJ_OK)
        return o;
    pop3_arg args[] = {{creds->username, false}, {digest, true}};
    mj_pop3_status st;
    return pop3_simple(s, POP3_CMD_APOP, args, 2, MJ_AUTH_FAILED, &st);
}

static mj_outcome run_user_pass(mj_pop3 *s, const mj_sasl_creds *creds)
{
    pop3_arg user[] = {{creds->username, false}};
    pop3_arg pass[] = {{creds->password, true}};
    mj_pop3_status st;
    mj_outcome o = pop3_simple(s, POP3_CMD_USER, user, 1, MJ_AUTH_FAILED, &st);
    if (o == MJ_OK)
        o = pop3_simple(s, POP3_CMD_PASS, pass, 1, MJ_AUTH_FAILED, &st);
    return o;
}

/* ---- choosing the method ------------------------------------------------------------------- */

typedef enum auth_method { AUTH_NONE = 0, AUTH_SASL, AUTH_APOP, AUTH_USER_PASS } auth_method;

static bool has(const char *p)
{
    return p != NULL && p[0] != '\0';
}

static bool apop_usable(const mj_pop3 *s, const mj_sasl_creds *creds)
{
    return s->has_apop && !s->opts.no_apop && has(creds->username) && has(creds->password) &&
           (mj_conn_tls_state(s->conn) == MJ_TLS_VERIFIED || s->opts.allow_apop_insecure);
}

/*
 * The client's order (see mj_pop3_login in pop3.h).  On AUTH_NONE the
 * conn's error says why (the SASL choice's outcome, or cleartext-refused).
 */
static auth_method choose(mj_pop3 *s, const mj_sasl_creds *creds, mj_sasl_mech forced,
                          const mj_sasl_channel *chan, mj_sasl_mech *mech_out)
{
    mj_error *err = mj_conn_error(s->conn);
    mj_tls_state tls = mj_conn_tls_state(s->conn);
    mj_sasl_choice choice = {.server_mechs = s->caps.sasl, .tls = tls, .forced = forced};
    choice.channel_binding = chan->type != MJ_SASL_CB_NONE;
    if (forced != MJ_SASL_NONE && !s->caps.known) /* no CAPA: let the server say */
        choice.server_mechs = MJ_SASL_BIT(forced);
    mj_outcome o = mj_sasl_choose(&choice, &s->opts.policy, creds, mech_out, err);
    if (forced != MJ_SASL_NONE || has(creds->token))
        return o == MJ_OK ? AUTH_SASL : AUTH_NONE;
    if (o == MJ_OK && mj_sasl_mech_class(*mech_out) >= MJ_SASL_CLASS_CHALLENGE)
        return AUTH_SASL;
    bool pass = has(creds->username) && has(creds->password);
    bool clear = mj_sasl_cleartext_allowed(tls, &s->opts.policy);
    /* USER/PASS where the server says it works: APOP needs plaintext passwords
     * stored on the server and many greetings carry a timestamp regardless */
    if (pass && clear && (s->caps.bits & MJ_POP3_CAP_USER) != 0)
        return AUTH_USER_PASS;
    if (apop_usable(s, creds))
        return AUTH_APOP;
    if (o == MJ_OK)
        return AUTH_SASL;
    if (!pass)
        return AUTH_NONE; /* err from the choice */
    if (!clear) {
        mj_error_set(err, MJ_CLEARTEXT_REFUSED, MJ_R_NONE,
                     "refusing to send the password in USER/PASS over a connection without "
                     "verified TLS (use TLS, or allow insecure authentication)");
        return AUTH_NONE;
    }
    return AUTH_USER_PASS;
}

/* UTF8 (RFC 6856) when asked and advertised; a -ERR leaves ASCII mode. */
static mj_outcome enter_utf8(mj_pop3 *s)
{
    if (!s->opts.utf8 || (s->caps.bits & MJ_POP3_CAP_UTF8) == 0)
        return MJ_OK;
    mj_pop3_status st;
    mj_outcome o = pop3_simple(s, POP3_CMD_UTF8, NULL, 0, MJ_SERVER_REFUSED, &st);
    s->utf8 = o == MJ_OK;
    return pop3_outcome_fatal(o) ? o : MJ_OK;
}

mj_outcome mj_pop3_login(mj_pop3 *s, const mj_sasl_creds *creds, mj_sasl_mech forced)
{
    if (s->state != MJ_POP3_STATE_AUTHORIZATION)
        return mj_error_set(mj_conn_error(s->conn), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "POP3 login is not allowed in the %s state",
                            mj_pop3_state_name(s->state));
    mj_outcome o = mj_sasl_creds_check_lines(creds, mj_conn_error(s->conn));
    if (o != MJ_OK)
        return o;
    mj_sasl_mech mech = MJ_SASL_NONE;
    unsigned char cb[MJ_CB_DATA_MAX];
    mj_sasl_channel chan;
    (void)mj_sasl_channel_for(s->conn, s->caps.sasl, cb, &chan);
    auth_method how = choose(s, creds, forced, &chan, &mech);
    if (how == AUTH_NONE)
        return mj_conn_error(s->conn)->outcome;
    o = enter_utf8(s);
    if (o != MJ_OK)
        return o;
    if (how == AUTH_SASL)
        o = run_sasl(s, mech, creds, &chan);
    else if (how == AUTH_APOP)
        o = run_apop(s, creds);
    else
        o = run_user_pass(s, creds);
    if (o != MJ_OK)
        return o;
    pop3_set_state(s, MJ_POP3_STATE_TRANSACTION);
    return pop3_capa(s, false); /* RFC 2449 §5: capabilities may change after login */
}
