/*
 * pop3/pop3.c: the POP3 session: its state, the command table, reading
 * status lines, lists and bodies through the input window, the greeting,
 * CAPA and STLS.
 *
 * RFC 1939 (POP3), RFC 2449 (CAPA, response codes, PIPELINING), RFC 2595 §4
 * (STLS), RFC 8314 (implicit TLS).  STARTTLS hygiene (SECURITY-CASES A, B):
 * STLS only when mj_starttls_decide says DO; only +OK leads to a handshake;
 * -ERR is never retried; any byte waiting after the +OK line aborts with
 * MJ_R_DATA_AFTER_STARTTLS; capabilities are forgotten and asked again.
 */
#include "pop3/pop3_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Most bytes of server text quoted in an error message. */
#define POP3_QUOTE_MAX 200

/* ---- state ---------------------------------------------------------------------- */

static const char *const state_names[MJ_POP3_STATE_COUNT] = {
    [MJ_POP3_STATE_GREETING] = "greeting",
    [MJ_POP3_STATE_AUTHORIZATION] = "authorization",
    [MJ_POP3_STATE_TRANSACTION] = "transaction",
    [MJ_POP3_STATE_UPDATE] = "update",
    [MJ_POP3_STATE_FAILED] = "failed",
};

const char *mj_pop3_state_name(mj_pop3_state state)
{
    return (unsigned)state < MJ_POP3_STATE_COUNT ? state_names[state] : "invalid";
}

void pop3_set_state(mj_pop3 *s, mj_pop3_state state)
{
#ifdef MJ_DEBUG
    fprintf(stderr, "pop3: state %s -> %s\n", mj_pop3_state_name(s->state),
            mj_pop3_state_name(state));
#endif
    s->state = state;
}

bool pop3_outcome_fatal(mj_outcome o)
{
    switch (o) {
    case MJ_OK:
    case MJ_USAGE:
    case MJ_SERVER_REFUSED:
    case MJ_SERVER_BUSY:
    case MJ_AUTH_FAILED:
    case MJ_AUTH_UNSUPPORTED:
    case MJ_CLEARTEXT_REFUSED:
    case MJ_MESSAGE_REJECTED:
        return false;
    default:
        return true;
    }
}

mj_outcome pop3_fail_if_fatal(mj_pop3 *s, mj_outcome o)
{
    if (pop3_outcome_fatal(o))
        pop3_set_state(s, MJ_POP3_STATE_FAILED);
    return o;
}

/* ---- the command table ------------------------------------------------------------- */

#define IN_AUTH (1u << MJ_POP3_STATE_AUTHORIZATION)
#define IN_TRANS (1u << MJ_POP3_STATE_TRANSACTION)

/* Verb and the states it is allowed in (RFC 1939 §4-§7, RFC 2449, RFC 6856). */
static const struct {
    const char *verb;
    unsigned states;
} cmd_table[POP3_CMD_COUNT] = {
    [POP3_CMD_CAPA] = {"CAPA", IN_AUTH | IN_TRANS},
    [POP3_CMD_STLS] = {"STLS", IN_AUTH},
    [POP3_CMD_UTF8] = {"UTF8", IN_AUTH},
    [POP3_CMD_USER] = {"USER", IN_AUTH},
    [POP3_CMD_PASS] = {"PASS", IN_AUTH},
    [POP3_CMD_APOP] = {"APOP", IN_AUTH},
    [POP3_CMD_AUTH] = {"AUTH", IN_AUTH},
    [POP3_CMD_STAT] = {"STAT", IN_TRANS},
    [POP3_CMD_LIST] = {"LIST", IN_TRANS},
    [POP3_CMD_UIDL] = {"UIDL", IN_TRANS},
    [POP3_CMD_RETR] = {"RETR", IN_TRANS},
    [POP3_CMD_TOP] = {"TOP", IN_TRANS},
    [POP3_CMD_DELE] = {"DELE", IN_TRANS},
    [POP3_CMD_RSET] = {"RSET", IN_TRANS},
    [POP3_CMD_NOOP] = {"NOOP", IN_TRANS},
    [POP3_CMD_QUIT] = {"QUIT", IN_AUTH | IN_TRANS},
};

mj_outcome pop3_check_arg(mj_pop3 *s, const char *what, const char *text)
{
    if (strpbrk(text, "\r\n") != NULL)
        return mj_error_set(mj_conn_error(s->conn), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "the %s holds CR or LF; nothing was sent", what);
    return MJ_OK;
}

static mj_outcome check_command(mj_pop3 *s, pop3_cmd cmd, const pop3_arg *args, size_t n_args)
{
    mj_error *err = mj_conn_error(s->conn);
    if ((cmd_table[cmd].states & (1u << s->state)) == 0)
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT, "POP3 %s is not allowed in the %s state",
                            cmd_table[cmd].verb, mj_pop3_state_name(s->state));
    size_t total = strlen(cmd_table[cmd].verb) + 2;
    for (size_t i = 0; i < n_args; i++) {
        mj_outcome o = pop3_check_arg(s, "command argument", args[i].text);
        if (o != MJ_OK)
            return o;
        total += 1 + strlen(args[i].text);
    }
    if (total > MJ_POP3_COMMAND_MAX)
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "POP3 %s command of %zu bytes is over the limit of %d; nothing was sent",
                            cmd_table[cmd].verb, total, MJ_POP3_COMMAND_MAX);
    return MJ_OK;
}

mj_outcome pop3_send(mj_pop3 *s, pop3_cmd cmd, const pop3_arg *args, size_t n_args, bool flush)
{
    mj_outcome o = check_command(s, cmd, args, n_args);
    if (o != MJ_OK)
        return o;
    o = mj_conn_puts(s->conn, cmd_table[cmd].verb);
    for (size_t i = 0; o == MJ_OK && i < n_args; i++) {
        o = mj_conn_put(s->conn, " ", 1, false);
        if (o == MJ_OK)
            o = mj_conn_put(s->conn, args[i].text, strlen(args[i].text), args[i].secret);
    }
    if (o == MJ_OK)
        o = mj_conn_put(s->conn, "\r\n", 2, false);
    if (o == MJ_OK && flush)
        o = mj_conn_flush(s->conn);
    return pop3_fail_if_fatal(s, o);
}

/* ---- reading through the window -------------------------------------------------------- */

/* Refill the window when it is empty.  what names the unit for the message. */
static mj_outcome in_more(mj_pop3 *s, const char *what)
{
    if (s->in_len > 0)
        return MJ_OK;
    mj_error *err = mj_conn_error(s->conn);
    mj_outcome o = mj_reader_read_some(mj_conn_reader(s->conn), MJ_READER_CHUNK, &s->in,
                                       &s->in_len, err);
    if (o == MJ_OK)
        return MJ_OK;
    s->in = NULL;
    s->in_len = 0;
    if (what != NULL) {
        char cause[MJ_ERROR_MESSAGE_MAX];
        memcpy(cause, err->message, sizeof cause);
        mj_error_set(err, o, err->reason, "%s while reading %s", cause, what);
    }
    return pop3_fail_if_fatal(s, o);
}

static void in_take(mj_pop3 *s, size_t n)
{
    s->in += n;
    s->in_len -= n;
}

/* One line into s->line, capped at max. */
static mj_outcome read_line(mj_pop3 *s, size_t max, const char *what)
{
    mj_pop3_line_reset(&s->line, max);
    for (;;) {
        mj_outcome o = in_more(s, what);
        if (o != MJ_OK)
            return o;
        size_t used = 0;
        mj_parse_result r = mj_pop3_line_feed(&s->line, s->in, s->in_len, &used, what,
                                              mj_conn_error(s->conn));
        in_take(s, used);
        if (r == MJ_PARSE_OK)
            return MJ_OK;
        if (r == MJ_PARSE_ERROR)
            return pop3_fail_if_fatal(s, mj_conn_error(s->conn)->outcome);
    }
}

mj_outcome pop3_read_status(mj_pop3 *s, bool allow_cont, mj_pop3_status *st_out)
{
    size_t max = allow_cont ? MJ_POP3_CHALLENGE_LINE_MAX : MJ_POP3_STATUS_LINE_MAX;
    mj_outcome o = read_line(s, max, "a status line");
    if (o != MJ_OK)
        return o;
    if (mj_pop3_parse_status(s->line.buf, s->line.len, allow_cont, st_out,
                             mj_conn_error(s->conn)) != MJ_PARSE_OK)
        return pop3_fail_if_fatal(s, MJ_PROTOCOL_ERROR);
    return MJ_OK;
}

mj_outcome pop3_refused(mj_pop3 *s, pop3_cmd cmd, const mj_pop3_status *st, mj_outcome fallback)
{
    char text[POP3_QUOTE_MAX];
    char code[MJ_POP3_CODE_TEXT_MAX * 4 + 1] = "";
    mj_escape(st->text, st->text_len, text, sizeof text);
    if (st->code != MJ_POP3_CODE_NONE)
        mj_escape(st->code_text, st->code_len, code, sizeof code);
    mj_outcome o = mj_pop3_code_outcome(st->code, fallback);
    return mj_error_set(mj_conn_error(s->conn), o, MJ_R_NONE, "the server refused %s: -ERR %s%s%s%s",
                        cmd_table[cmd].verb, code[0] ? "[" : "", code, code[0] ? "] " : "",
                        text[0] ? text : "(no text)");
}

mj_outcome pop3_simple(mj_pop3 *s, pop3_cmd cmd, const pop3_arg *args, size_t n_args,
                       mj_outcome fallback, mj_pop3_status *st_out)
{
    mj_outcome o = pop3_send(s, cmd, args, n_args, true);
    if (o == MJ_OK)
        o = pop3_read_status(s, false, st_out);
    if (o == MJ_OK && st_out->kind == MJ_POP3_KIND_ERR)
        o = pop3_refused(s, cmd, st_out, fallback);
    return o;
}

mj_outcome pop3_read_list(mj_pop3 *s, pop3_line_fn fn, void *ctx)
{
    mj_error kept;
    mj_error_clear(&kept);
    for (uint32_t n = 0;; n++) {
        if (n > MJ_POP3_LIST_ENTRIES_MAX)
            return pop3_fail_if_fatal(
                s, mj_error_set(mj_conn_error(s->conn), MJ_PROTOCOL_ERROR, MJ_R_REPLY_TOO_LARGE,
                                "POP3 multi-line reply longer than the limit of %lu lines",
                                (unsigned long)MJ_POP3_LIST_ENTRIES_MAX));
        mj_outcome o = read_line(s, MJ_POP3_DATA_LINE_MAX, "a multi-line reply");
        if (o != MJ_OK)
            return o;
        const char *line = s->line.buf;
        size_t len = s->line.len;
        if (len == 1 && line[0] == '.')
            break;
        if (len > 0 && line[0] == '.') { /* byte-stuffed (RFC 1939 §3) */
            line++;
            len--;
        }
        if (kept.outcome == MJ_OK && fn(s, ctx, line, len) != MJ_OK)
            kept = *mj_conn_error(s->conn);
    }
    if (kept.outcome == MJ_OK)
        return MJ_OK;
    *mj_conn_error(s->conn) = kept;
    return pop3_fail_if_fatal(s, kept.outcome);
}

mj_outcome pop3_read_body(mj_pop3 *s, const mj_sink *sink, uint64_t *size_out)
{
    mj_error *err = mj_conn_error(s->conn);
    mj_pop3_unstuff u;
    uint64_t max = s->opts.body_max != 0 ? s->opts.body_max : MJ_POP3_BODY_MAX_DEFAULT;
    mj_pop3_unstuff_init(&u, max);
    for (;;) {
        mj_outcome o = in_more(s, "a message body (no terminating \".\" line)");
        if (o != MJ_OK)
            return o;
        size_t used = 0, produced = 0;
        mj_parse_result r =
            mj_pop3_unstuff_feed(&u, s->in, s->in_len, &used, s->out, &produced, err);
        if (r == MJ_PARSE_ERROR)
            return pop3_fail_if_fatal(s, err->outcome);
        in_take(s, used);
        if (produced > 0 && sink != NULL && sink->fn != NULL) {
            o = sink->fn(sink->ctx, s->out, produced, err);
            if (o != MJ_OK) { /* the rest of the body is unread: no way back in sync */
                pop3_set_state(s, MJ_POP3_STATE_FAILED);
                return o;
            }
        }
        if (r == MJ_PARSE_OK) {
            if (size_out != NULL)
                *size_out = u.total;
            return MJ_OK;
        }
    }
}

/* ---- CAPA ------------------------------------------------------------------------------ */

static mj_outcome capa_line(mj_pop3 *s, void *ctx, const char *line, size_t len)
{
    (void)ctx;
    if (mj_pop3_parse_capa_line(line, len, &s->caps, mj_conn_error(s->conn)) != MJ_PARSE_OK)
        return mj_conn_error(s->conn)->outcome;
    return MJ_OK;
}

mj_outcome pop3_capa(mj_pop3 *s, bool forget)
{
    if (forget)
        memset(&s->caps, 0, sizeof s->caps);
    mj_pop3_status st;
    mj_outcome o = pop3_send(s, POP3_CMD_CAPA, NULL, 0, true);
    if (o == MJ_OK)
        o = pop3_read_status(s, false, &st);
    if (o != MJ_OK)
        return o;
    if (st.kind == MJ_POP3_KIND_ERR) /* CAPA unknown or refused: keep what is known */
        return MJ_OK;
    memset(&s->caps, 0, sizeof s->caps);
    o = pop3_read_list(s, capa_line, NULL);
    if (o == MJ_OK)
        s->caps.known = true;
    else
        memset(&s->caps, 0, sizeof s->caps);
    return o;
}

/* ---- greeting and STLS -------------------------------------------------------------------- */

static mj_outcome read_greeting(mj_pop3 *s)
{
    mj_pop3_status st;
    mj_outcome o = pop3_read_status(s, false, &st);
    if (o != MJ_OK)
        return o;
    mj_escape(st.text, st.text_len, s->greeting, sizeof s->greeting);
    if (st.kind == MJ_POP3_KIND_ERR) {
        char text[POP3_QUOTE_MAX];
        mj_escape(st.text, st.text_len, text, sizeof text);
        pop3_set_state(s, MJ_POP3_STATE_FAILED);
        return mj_error_set(mj_conn_error(s->conn),
                            mj_pop3_code_outcome(st.code, MJ_SERVER_REFUSED), MJ_R_NONE,
                            "the POP3 server refused the session: -ERR %s", text);
    }
    mj_error ignored; /* no timestamp: APOP is simply not offered */
    s->has_apop = mj_pop3_apop_timestamp(st.text, st.text_len, s->apop_timestamp,
                                         sizeof s->apop_timestamp, &ignored) == MJ_PARSE_OK;
    pop3_set_state(s, MJ_POP3_STATE_AUTHORIZATION);
    return MJ_OK;
}

static mj_outcome stls_unavailable(mj_pop3 *s, const char *why)
{
    return mj_error_set(mj_conn_error(s->conn), MJ_STARTTLS_UNAVAILABLE, MJ_R_NONE,
                        "STLS is required but %s; nothing else was sent", why);
}

/* The upgrade after "+OK": the window must be empty (injection defence). */
static mj_outcome stls_upgrade(mj_pop3 *s)
{
    if (s->in_len > 0) {
        char text[POP3_QUOTE_MAX];
        mj_escape(s->in, s->in_len, text, sizeof text);
        size_t n = s->in_len;
        s->in_len = 0; /* never parsed */
        pop3_set_state(s, MJ_POP3_STATE_FAILED);
        return mj_error_set(mj_conn_error(s->conn), MJ_PROTOCOL_ERROR, MJ_R_DATA_AFTER_STARTTLS,
                            "data after the STARTTLS reply: \"%s\" (%zu bytes waiting; possible "
                            "injection, the connection must be closed)",
                            text, n);
    }
    mj_outcome o = mj_conn_starttls(s->conn);
    if (o != MJ_OK)
        return pop3_fail_if_fatal(s, o);
    return pop3_capa(s, true); /* nothing learned before TLS is kept */
}

static mj_outcome negotiate_tls(mj_pop3 *s)
{
    bool offered = (s->caps.bits & MJ_POP3_CAP_STLS) != 0;
    mj_starttls_action act = mj_starttls_decide(s->security, offered);
    if (act == MJ_STARTTLS_SKIP)
        return MJ_OK;
    if (act == MJ_STARTTLS_REFUSE)
        return stls_unavailable(s, s->caps.known ? "the server's CAPA does not list STLS"
                                                 : "the server refused CAPA");
    mj_pop3_status st;
    mj_outcome o = pop3_send(s, POP3_CMD_STLS, NULL, 0, true);
    if (o == MJ_OK)
        o = pop3_read_status(s, false, &st);
    if (o != MJ_OK)
        return o;
    if (st.kind == MJ_POP3_KIND_OK)
        return stls_upgrade(s);
    if (s->security == MJ_SEC_STARTTLS) { /* no retry (SECURITY-CASES #6) */
        char text[POP3_QUOTE_MAX];
        char why[POP3_QUOTE_MAX + 64];
        mj_escape(st.text, st.text_len, text, sizeof text);
        snprintf(why, sizeof why, "the server answered STLS with -ERR %s", text);
        return stls_unavailable(s, why);
    }
    return MJ_OK; /* starttls-if-available: stay in plaintext */
}

mj_outcome mj_pop3_start(mj_conn *c, mj_security security, const mj_pop3_options *opts,
                         mj_pop3 **s_out, mj_error *err)
{
    *s_out = NULL;
    mj_pop3 *s = calloc(1, sizeof *s);
    if (s == NULL) {
        mj_conn_close(c);
        return mj_error_set(err, MJ_INTERNAL, MJ_R_NO_MEMORY, "out of memory");
    }
    s->conn = c;
    s->security = security;
    if (opts != NULL)
        s->opts = *opts;
    s->state = MJ_POP3_STATE_GREETING;
    mj_outcome o = read_greeting(s);
    if (o == MJ_OK)
        o = pop3_capa(s, true);
    if (o == MJ_OK)
        o = negotiate_tls(s);
    if (o != MJ_OK) {
        if (err != NULL)
            *err = *mj_conn_error(c);
        mj_pop3_close(s);
        return o;
    }
    *s_out = s;
    return MJ_OK;
}

mj_outcome mj_pop3_connect(const mj_conn_config *cfg, const mj_pop3_options *opts,
                           mj_pop3 **s_out, mj_error *err)
{
    *s_out = NULL;
    mj_conn *c = NULL;
    mj_outcome o = mj_conn_open(cfg, &c, err);
    if (o != MJ_OK)
        return o;
    return mj_pop3_start(c, cfg->security, opts, s_out, err);
}

void mj_pop3_close(mj_pop3 *s)
{
    if (s == NULL)
        return;
    mj_conn_close(s->conn);
    free(s);
}

/* ---- accessors ------------------------------------------------------------------------------ */

const mj_pop3_caps *mj_pop3_capabilities(const mj_pop3 *s)
{
    return &s->caps;
}

mj_pop3_state mj_pop3_get_state(const mj_pop3 *s)
{
    return s->state;
}

mj_error *mj_pop3_error(mj_pop3 *s)
{
    return mj_conn_error(s->conn);
}

mj_conn *mj_pop3_conn(mj_pop3 *s)
{
    return s->conn;
}

const char *mj_pop3_greeting(const mj_pop3 *s)
{
    return s->greeting;
}

bool mj_pop3_has_apop(const mj_pop3 *s)
{
    return s->has_apop;
}

bool mj_pop3_utf8_active(const mj_pop3 *s)
{
    return s->utf8;
}
