/*
 * smtp/session.c: the SMTP session: greeting, EHLO with HELO fallback,
 * STARTTLS, AUTH, VRFY, NOOP, RSET, QUIT, and the helpers every command
 * uses.  RFC 5321 (SMTP), RFC 3207 (STARTTLS), RFC 4954 (AUTH), RFC 2034 /
 * RFC 3463 (enhanced status codes).  Transactions are in send.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sasl/engine.h"
#include "smtp/smtp_internal.h"

/* RFC 4954 4: an AUTH command line with its initial response, CRLF included. */
#define SMTP_AUTH_LINE_MAX 512

static const char *const state_names[MJ_SMTP_ST_COUNT] = {
    [MJ_SMTP_ST_CONNECTED] = "connected", [MJ_SMTP_ST_EHLO] = "ehlo",
    [MJ_SMTP_ST_STARTTLS] = "starttls",   [MJ_SMTP_ST_READY] = "ready",
    [MJ_SMTP_ST_AUTH] = "auth",           [MJ_SMTP_ST_MAIL] = "mail",
    [MJ_SMTP_ST_BODY] = "body",           [MJ_SMTP_ST_CLOSED] = "closed",
    [MJ_SMTP_ST_BROKEN] = "broken",
};

const char *mj_smtp_state_name(mj_smtp_state st)
{
    return (unsigned)st < MJ_SMTP_ST_COUNT ? state_names[st] : "?";
}

void mj_smtp_set_state(mj_smtp *s, mj_smtp_state st)
{
#ifdef MJ_DEBUG
    fprintf(stderr, "smtp: %s -> %s\n", mj_smtp_state_name(s->state), mj_smtp_state_name(st));
#endif
    /* CLOSED and BROKEN are final: nothing after them may revive the session. */
    if (s->state == MJ_SMTP_ST_CLOSED || s->state == MJ_SMTP_ST_BROKEN)
        return;
    s->state = st;
}

mj_outcome mj_smtp_usable(mj_smtp *s)
{
    if (s->state == MJ_SMTP_ST_READY)
        return MJ_OK;
    return mj_error_set(mj_conn_error(s->c), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                        "the SMTP session cannot take a command now (state %s)",
                        mj_smtp_state_name(s->state));
}

mj_outcome mj_smtp_check_arg(mj_smtp *s, const char *what, const char *arg, size_t max,
                             bool angle)
{
    mj_error *err = mj_conn_error(s->c);
    size_t n = strlen(arg);
    if (n > max)
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT, "%s is longer than %zu bytes", what,
                            max);
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)arg[i];
        if (b < 0x20 || b == 0x7f || (angle && (b == '<' || b == '>'))) {
            char q[MJ_SMTP_QUOTE_MAX];
            return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                                "%s contains a forbidden byte (control byte or angle bracket): '%s'",
                                what, mj_escape(arg, n, q, sizeof q));
        }
    }
    return MJ_OK;
}

mj_outcome mj_smtp_put(mj_smtp *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s->line, MJ_SMTP_COMMAND_MAX + 1, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n > MJ_SMTP_COMMAND_MAX)
        return mj_error_set(mj_conn_error(s->c), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "SMTP command longer than %d bytes (MJ_SMTP_COMMAND_MAX)",
                            MJ_SMTP_COMMAND_MAX);
    memcpy(s->line + n, "\r\n", 3);
    return mj_conn_put(s->c, s->line, (size_t)n + 2, false);
}

mj_outcome mj_smtp_flush(mj_smtp *s)
{
    mj_outcome o = mj_conn_flush(s->c);
    if (o != MJ_OK)
        mj_smtp_set_state(s, MJ_SMTP_ST_CLOSED);
    return o;
}

/* Feed one line (the reader strips its terminator) and its CRLF. */
static mj_parse_result feed_line(mj_smtp *s, const char *line, size_t len, mj_error *err)
{
    size_t used = 0;
    mj_parse_result pr = mj_smtp_parse(&s->parser, line, len, &used, err);
    if (pr == MJ_PARSE_NEED_MORE)
        pr = mj_smtp_parse(&s->parser, "\r\n", 2, &used, err);
    return pr;
}

mj_outcome mj_smtp_read(mj_smtp *s, const mj_smtp_reply **r_out)
{
    mj_reader *rd = mj_conn_reader(s->c);
    mj_error *err = mj_conn_error(s->c);
    mj_reader_reply_begin(rd);
    mj_smtp_parser_init(&s->parser);
    for (;;) {
        const char *line = NULL;
        size_t len = 0;
        mj_outcome o = mj_reader_line(rd, &line, &len, err);
        if (o != MJ_OK) {
            mj_smtp_set_state(s, o == MJ_PROTOCOL_ERROR ? MJ_SMTP_ST_BROKEN : MJ_SMTP_ST_CLOSED);
            return o;
        }
        mj_parse_result pr = feed_line(s, line, len, err);
        if (pr == MJ_PARSE_ERROR) {
            mj_smtp_set_state(s, MJ_SMTP_ST_BROKEN);
            return err->outcome;
        }
        if (pr == MJ_PARSE_OK)
            break;
    }
    if (s->parser.reply.code == 421)
        mj_smtp_set_state(s, MJ_SMTP_ST_CLOSED);
    *r_out = &s->parser.reply;
    return MJ_OK;
}

/* Lines joined with " / ", escaped; from line `first` on. */
static void quote_lines(const mj_smtp_reply *r, size_t first, char *buf, size_t size)
{
    char raw[MJ_SMTP_QUOTE_MAX];
    size_t n = 0;
    for (size_t i = first; i < r->n_lines && n < sizeof raw; i++) {
        size_t len = 0;
        const char *t = mj_smtp_reply_line(r, i, &len);
        if (i > first && n + 3 < sizeof raw) {
            memcpy(raw + n, " / ", 3);
            n += 3;
        }
        size_t take = len < sizeof raw - n ? len : sizeof raw - n;
        memcpy(raw + n, t, take);
        n += take;
    }
    mj_escape(raw, n, buf, size);
}

const char *mj_smtp_quote_text(const mj_smtp_reply *r, char *buf, size_t size)
{
    quote_lines(r, 0, buf, size);
    return buf;
}

const char *mj_smtp_quote(const mj_smtp_reply *r, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%u%s%s", r->code, r->enhanced[0] ? " " : "", r->enhanced);
    size_t used = n > 0 && (size_t)n < size ? (size_t)n : 0;
    if (used + 2 < size && r->n_lines > 0 && (r->line_len[0] > 0 || r->n_lines > 1)) {
        buf[used++] = ' ';
        quote_lines(r, 0, buf + used, size - used);
    }
    return buf;
}

mj_outcome mj_smtp_refused(mj_smtp *s, const mj_smtp_reply *r, mj_outcome on_5xx,
                           const char *what)
{
    char q[MJ_SMTP_QUOTE_MAX];
    mj_error *err = mj_conn_error(s->c);
    mj_smtp_quote(r, q, sizeof q);
    if (r->code == 421)
        return mj_error_set(err, MJ_SERVER_BUSY, MJ_R_NONE,
                            "%s: the server is closing the session: %s", what, q);
    if (r->code >= 400 && r->code < 500)
        return mj_error_set(err, MJ_SERVER_BUSY, MJ_R_NONE, "%s: temporary failure: %s", what, q);
    if (r->code >= 500)
        return mj_error_set(err, on_5xx, MJ_R_NONE, "%s: %s", what, q);
    mj_smtp_set_state(s, MJ_SMTP_ST_BROKEN);
    return mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_MALFORMED, "%s: unexpected reply %s", what, q);
}

mj_outcome mj_smtp_simple(mj_smtp *s, const mj_smtp_reply **r_out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s->line, MJ_SMTP_COMMAND_MAX + 1, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n > MJ_SMTP_COMMAND_MAX)
        return mj_error_set(mj_conn_error(s->c), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "SMTP command longer than %d bytes", MJ_SMTP_COMMAND_MAX);
    memcpy(s->line + n, "\r\n", 3);
    mj_outcome o = mj_conn_put(s->c, s->line, (size_t)n + 2, false);
    if (o == MJ_OK)
        o = mj_smtp_flush(s);
    return o != MJ_OK ? o : mj_smtp_read(s, r_out);
}

/* ---- capabilities ----------------------------------------------------------- */

static const struct {
    const char *keyword;
    unsigned flag;
} ext_table[] = {
    {"STARTTLS", MJ_SMTP_EXT_STARTTLS},     {"PIPELINING", MJ_SMTP_EXT_PIPELINING},
    {"8BITMIME", MJ_SMTP_EXT_8BITMIME},     {"BINARYMIME", MJ_SMTP_EXT_BINARYMIME},
    {"CHUNKING", MJ_SMTP_EXT_CHUNKING},     {"SMTPUTF8", MJ_SMTP_EXT_SMTPUTF8},
    {"DSN", MJ_SMTP_EXT_DSN},               {"SIZE", MJ_SMTP_EXT_SIZE},
    {"AUTH", MJ_SMTP_EXT_AUTH},             {"REQUIRETLS", MJ_SMTP_EXT_REQUIRETLS},
    {"ENHANCEDSTATUSCODES", MJ_SMTP_EXT_ENHANCEDSTATUSCODES},
};

/* SIZE's argument: decimal; anything else (or a value past 2^63) means no known limit. */
static uint64_t parse_size(const char *p)
{
    uint64_t v = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX >> 1) / 10)
            return 0;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    return *p == '\0' ? v : 0;
}

/*
 * ehlo-line = ehlo-keyword *( SP ehlo-param )   (RFC 5321 4.1.1.1);
 * "AUTH=PLAIN LOGIN" (pre-RFC 4954 servers) counts as AUTH.
 */
static void parse_ext_line(mj_smtp_caps *caps, const char *line, size_t len)
{
    size_t kw = 0;
    while (kw < len && line[kw] != ' ' && line[kw] != '=')
        kw++;
    const char *params = kw < len ? line + kw + 1 : "";
    for (size_t i = 0; i < sizeof ext_table / sizeof ext_table[0]; i++) {
        if (strlen(ext_table[i].keyword) != kw || strncasecmp(line, ext_table[i].keyword, kw) != 0)
            continue;
        caps->flags |= ext_table[i].flag;
        if (ext_table[i].flag == MJ_SMTP_EXT_AUTH)
            caps->auth |= mj_sasl_set_parse(params);
        if (ext_table[i].flag == MJ_SMTP_EXT_SIZE)
            caps->size_max = parse_size(params);
    }
}

static void learn_caps(mj_smtp *s, const mj_smtp_reply *r)
{
    memset(&s->caps, 0, sizeof s->caps);
    for (size_t i = 1; i < r->n_lines; i++) {
        size_t len = 0;
        const char *t = mj_smtp_reply_line(r, i, &len);
        parse_ext_line(&s->caps, t, len);
    }
    memcpy(&s->ehlo, r, sizeof *r);
    s->have_ehlo = true;
}

/* EHLO, and HELO when EHLO gets a permanent refusal (RFC 5321 4.1.4 / 3.2). */
static mj_outcome ehlo(mj_smtp *s)
{
    const mj_smtp_reply *r = NULL;
    memset(&s->caps, 0, sizeof s->caps);
    s->have_ehlo = false;
    mj_smtp_set_state(s, MJ_SMTP_ST_EHLO);
    mj_outcome o = mj_smtp_simple(s, &r, "EHLO %s", s->client_name);
    if (o != MJ_OK)
        return o;
    if (r->code == 250) {
        learn_caps(s, r);
        return MJ_OK;
    }
    if (r->code < 500)
        return mj_smtp_refused(s, r, MJ_SERVER_REFUSED, "EHLO");
    o = mj_smtp_simple(s, &r, "HELO %s", s->client_name);
    if (o != MJ_OK)
        return o;
    if (r->code != 250)
        return mj_smtp_refused(s, r, MJ_SERVER_REFUSED, "HELO (after EHLO was refused)");
    s->caps.helo = true;
    return MJ_OK;
}

static mj_outcome greeting(mj_smtp *s)
{
    const mj_smtp_reply *r = NULL;
    mj_outcome o = mj_smtp_read(s, &r);
    if (o != MJ_OK)
        return o;
    if (r->code == 220)
        return MJ_OK;
    if (r->code == 554 || r->code == 421 || (r->code >= 400 && r->code < 500))
        return mj_smtp_refused(s, r, MJ_SERVER_REFUSED, "greeting");
    return mj_smtp_refused(s, r, MJ_PROTOCOL_ERROR, "greeting");
}

static mj_outcome starttls_unavailable(mj_smtp *s, const char *why)
{
    return mj_error_set(mj_conn_error(s->c), MJ_STARTTLS_UNAVAILABLE, MJ_R_NONE,
                        "security is starttls but %s; nothing else was sent", why);
}

/*
 * STARTTLS (RFC 3207).  Only 220 leads to the handshake (SECURITY-CASES #7);
 * the upgrade refuses any byte already waiting (#20-#22); everything learned
 * before TLS is dropped and asked again.
 */
static mj_outcome starttls(mj_smtp *s)
{
    const mj_smtp_reply *r = NULL;
    char q[MJ_SMTP_QUOTE_MAX];
    mj_smtp_set_state(s, MJ_SMTP_ST_STARTTLS);
    mj_outcome o = mj_smtp_simple(s, &r, "STARTTLS");
    if (o != MJ_OK)
        return o;
    if (r->code != 220) {
        if (r->code == 421)
            return mj_smtp_refused(s, r, MJ_SERVER_REFUSED, "STARTTLS");
        if (s->security == MJ_SEC_STARTTLS) {
            /* After a 354 or a 2xx, even QUIT could be taken as message data. */
            if (r->code < 400)
                mj_smtp_set_state(s, MJ_SMTP_ST_BROKEN);
            char why[MJ_SMTP_QUOTE_MAX + 48];
            snprintf(why, sizeof why, "the server answered STARTTLS with %s",
                     mj_smtp_quote(r, q, sizeof q));
            return starttls_unavailable(s, why);
        }
        if (r->code < 400)
            return mj_smtp_refused(s, r, MJ_PROTOCOL_ERROR, "STARTTLS");
        mj_smtp_set_state(s, MJ_SMTP_ST_READY); /* starttls-if-available: stay in plaintext */
        return MJ_OK;
    }
    o = mj_conn_starttls(s->c);
    if (o != MJ_OK) {
        mj_smtp_set_state(s, MJ_SMTP_ST_BROKEN);
        return o;
    }
    memset(&s->caps, 0, sizeof s->caps);
    s->have_ehlo = false;
    return ehlo(s);
}

mj_outcome mj_smtp_hello(mj_smtp *s)
{
    if (s->state != MJ_SMTP_ST_CONNECTED)
        return mj_smtp_usable(s);
    mj_outcome o = greeting(s);
    if (o == MJ_OK)
        o = ehlo(s);
    if (o != MJ_OK)
        return o;
    bool offered = (s->caps.flags & MJ_SMTP_EXT_STARTTLS) != 0;
    switch (mj_starttls_decide(s->security, offered)) {
    case MJ_STARTTLS_REFUSE:
        return starttls_unavailable(s, s->caps.helo
                                           ? "EHLO was refused and HELO cannot offer STARTTLS"
                                           : "the EHLO reply does not offer STARTTLS");
    case MJ_STARTTLS_DO:
        o = starttls(s);
        break;
    case MJ_STARTTLS_SKIP:
        break;
    }
    if (o == MJ_OK)
        mj_smtp_set_state(s, MJ_SMTP_ST_READY);
    return o;
}

/* ---- lifecycle ------------------------------------------------------------- */

mj_outcome mj_smtp_new(mj_conn *c, mj_security security, const mj_smtp_config *scfg,
                       mj_smtp **s_out, mj_error *err)
{
    *s_out = NULL;
    const char *name = scfg != NULL && scfg->client_name != NULL ? scfg->client_name
                                                                  : MJ_SMTP_DEFAULT_CLIENT_NAME;
    mj_smtp *s = calloc(1, sizeof *s);
    if (s == NULL) {
        mj_conn_close(c);
        return mj_error_set(err, MJ_INTERNAL, MJ_R_NO_MEMORY, "out of memory (SMTP session)");
    }
    s->c = c;
    s->security = security;
    s->state = MJ_SMTP_ST_CONNECTED;
    mj_outcome o = name[0] == '\0'
                       ? mj_error_set(mj_conn_error(c), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                                      "the EHLO name is empty")
                       : mj_smtp_check_arg(s, "the EHLO name", name, MJ_SMTP_ARG_MAX, true);
    if (o != MJ_OK || strchr(name, ' ') != NULL) {
        if (o == MJ_OK)
            mj_error_set(mj_conn_error(c), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                         "the EHLO name contains a space");
        if (err != NULL)
            *err = *mj_conn_error(c);
        mj_smtp_free(s);
        return err != NULL ? err->outcome : MJ_USAGE;
    }
    memcpy(s->client_name, name, strlen(name) + 1);
    *s_out = s;
    return MJ_OK;
}

mj_outcome mj_smtp_open(const mj_conn_config *cfg, const mj_smtp_config *scfg, mj_smtp **s_out,
                        mj_error *err)
{
    mj_conn *c = NULL;
    *s_out = NULL;
    mj_outcome o = mj_conn_open(cfg, &c, err);
    if (o != MJ_OK)
        return o;
    mj_smtp *s = NULL;
    o = mj_smtp_new(c, cfg->security, scfg, &s, err);
    if (o != MJ_OK)
        return o;
    o = mj_smtp_hello(s);
    if (o != MJ_OK) {
        if (err != NULL)
            *err = *mj_conn_error(s->c);
        mj_smtp_quit(s);
        mj_smtp_free(s);
        return o;
    }
    *s_out = s;
    return MJ_OK;
}

mj_conn *mj_smtp_conn(mj_smtp *s)
{
    return s->c;
}

const mj_smtp_caps *mj_smtp_caps_get(const mj_smtp *s)
{
    return &s->caps;
}

const mj_smtp_reply *mj_smtp_ehlo_reply(const mj_smtp *s)
{
    return s->have_ehlo ? &s->ehlo : NULL;
}

const mj_smtp_reply *mj_smtp_last_reply(const mj_smtp *s)
{
    return &s->parser.reply;
}

const mj_error *mj_smtp_error(const mj_smtp *s)
{
    return mj_conn_error(s->c);
}

void mj_smtp_quit(mj_smtp *s)
{
    const mj_smtp_reply *r = NULL;
    if (s == NULL || s->state == MJ_SMTP_ST_CLOSED || s->state == MJ_SMTP_ST_BROKEN)
        return;
    mj_error keep = *mj_conn_error(s->c); /* QUIT's own failure must not hide the real one */
    if (mj_smtp_simple(s, &r, "QUIT") != MJ_OK)
        r = NULL; /* a server that hangs up on QUIT did what QUIT asks */
    *mj_conn_error(s->c) = keep;
    mj_smtp_set_state(s, MJ_SMTP_ST_CLOSED);
}

void mj_smtp_free(mj_smtp *s)
{
    if (s == NULL)
        return;
    mj_conn_close(s->c);
    free(s);
}

/* ---- simple commands -------------------------------------------------------- */

mj_outcome mj_smtp_noop(mj_smtp *s)
{
    const mj_smtp_reply *r = NULL;
    mj_outcome o = mj_smtp_usable(s);
    if (o == MJ_OK)
        o = mj_smtp_simple(s, &r, "NOOP");
    if (o == MJ_OK && r->code != 250)
        o = mj_smtp_refused(s, r, MJ_SERVER_REFUSED, "NOOP");
    return o;
}

mj_outcome mj_smtp_rset(mj_smtp *s)
{
    const mj_smtp_reply *r = NULL;
    mj_outcome o = mj_smtp_usable(s);
    if (o == MJ_OK)
        o = mj_smtp_simple(s, &r, "RSET");
    if (o == MJ_OK && r->code != 250)
        o = mj_smtp_refused(s, r, MJ_SERVER_REFUSED, "RSET");
    return o;
}

mj_outcome mj_smtp_verify(mj_smtp *s, const char *arg, const mj_smtp_reply **reply_out)
{
    const mj_smtp_reply *r = NULL;
    *reply_out = NULL;
    mj_outcome o = mj_smtp_usable(s);
    if (o == MJ_OK)
        o = mj_smtp_check_arg(s, "the VRFY argument", arg, MJ_SMTP_ARG_MAX, false);
    if (o == MJ_OK)
        o = mj_smtp_simple(s, &r, "VRFY %s", arg);
    if (o != MJ_OK)
        return o;
    if (r->code != 250 && r->code != 251 && r->code != 252)
        return mj_smtp_refused(s, r, MJ_SERVER_REFUSED, "VRFY");
    *reply_out = r;
    return MJ_OK;
}

/* ---- AUTH (RFC 4954) through the SASL engine --------------------------------- */

static mj_outcome auth_begin(void *ctx, mj_conn *c)
{
    (void)ctx;
    return mj_conn_puts(c, "AUTH ");
}

/* What a refusal of AUTH means (RFC 4954 6); other 4xx are busy, other 5xx failed. */
static const struct {
    unsigned code;
    mj_outcome outcome;
} auth_failures[] = {
    {535, MJ_AUTH_FAILED},      {534, MJ_AUTH_FAILED},    {530, MJ_AUTH_FAILED},
    {538, MJ_AUTH_FAILED},      {504, MJ_AUTH_UNSUPPORTED}, {501, MJ_PROTOCOL_ERROR},
};

static mj_outcome auth_failure_outcome(unsigned code)
{
    for (size_t i = 0; i < sizeof auth_failures / sizeof auth_failures[0]; i++)
        if (auth_failures[i].code == code)
            return auth_failures[i].outcome;
    if (code >= 400 && code < 500)
        return MJ_SERVER_BUSY;
    return code >= 500 ? MJ_AUTH_FAILED : MJ_PROTOCOL_ERROR;
}

static mj_outcome auth_read(void *ctx, mj_conn *c, mj_sasl_reply *out)
{
    mj_smtp *s = ctx;
    const mj_smtp_reply *r = NULL;
    (void)c;
    mj_outcome o = mj_smtp_read(s, &r);
    if (o != MJ_OK)
        return o;
    size_t last = r->n_lines - 1, len = 0;
    const char *t = mj_smtp_reply_line(r, last, &len);
    if (r->code == 334) {
        out->kind = MJ_SASL_REPLY_CHALLENGE;
        out->text = t;
        out->len = len;
    } else if (r->code == 235) {
        out->kind = MJ_SASL_REPLY_SUCCESS;
    } else {
        /* Raw "535 5.7.8 text": the engine escapes it into its message. */
        int n = snprintf(s->sasl_text, sizeof s->sasl_text, "%u%s%s %s", r->code,
                         r->enhanced[0] ? " " : "", r->enhanced, t);
        out->kind = MJ_SASL_REPLY_FAILURE;
        out->text = s->sasl_text;
        out->len = n < 0 ? 0 : strnlen(s->sasl_text, sizeof s->sasl_text);
        out->failure = r->code == 421 ? MJ_SERVER_BUSY : auth_failure_outcome(r->code);
    }
    return MJ_OK;
}

static const mj_sasl_proto smtp_sasl_proto = {"smtp", auth_begin, auth_read, 0, "="};

/* One exchange with mechanism m; chan NULL when there is no channel binding. */
static mj_outcome auth_once(mj_smtp *s, const mj_sasl_creds *creds, mj_sasl_mech m,
                            const mj_sasl_channel *chan)
{
    mj_sasl *sasl = NULL;
    mj_outcome o = mj_sasl_new(m, creds, chan, &sasl, mj_conn_error(s->c));
    if (o != MJ_OK)
        return o;
    mj_sasl_proto proto = smtp_sasl_proto;
    /* "AUTH " mech " " ir CRLF must fit in SMTP_AUTH_LINE_MAX. */
    proto.ir_max = SMTP_AUTH_LINE_MAX - 5 - strlen(mj_sasl_mech_name(m)) - 1 - 2;
    mj_smtp_set_state(s, MJ_SMTP_ST_AUTH);
    o = mj_sasl_run(s->c, &proto, s, sasl);
    mj_sasl_free(sasl);
    if (s->state == MJ_SMTP_ST_AUTH)
        mj_smtp_set_state(s, o == MJ_PROTOCOL_ERROR ? MJ_SMTP_ST_BROKEN : MJ_SMTP_ST_READY);
    return o;
}

mj_outcome mj_smtp_auth(mj_smtp *s, const mj_sasl_creds *creds, mj_sasl_mech mech,
                        const mj_sasl_policy *policy)
{
    mj_error *err = mj_conn_error(s->c);
    mj_outcome o = mj_smtp_usable(s);
    if (o != MJ_OK)
        return o;
    if ((s->caps.flags & MJ_SMTP_EXT_AUTH) == 0)
        return mj_error_set(err, MJ_AUTH_UNSUPPORTED, MJ_R_NONE,
                            "the server does not offer AUTH%s",
                            s->caps.helo ? " (EHLO was refused, HELO has no extensions)" : "");
    unsigned char cb[MJ_CB_DATA_MAX];
    mj_sasl_channel chan;
    bool have_cb = mj_sasl_channel_for(s->c, s->caps.auth, cb, &chan);
    mj_sasl_choice choice = {.server_mechs = s->caps.auth,
                             .tls = mj_conn_tls_state(s->c),
                             .channel_binding = have_cb,
                             .forced = mech};
    mj_sasl_mech m = MJ_SASL_NONE;
    o = mj_sasl_choose(&choice, policy, creds, &m, err);
    for (int attempt = 1; o == MJ_OK; attempt++) {
        o = auth_once(s, creds, m, have_cb ? &chan : NULL);
        if (o == MJ_OK || (o != MJ_AUTH_FAILED && o != MJ_AUTH_UNSUPPORTED) ||
            mech != MJ_SASL_NONE || attempt >= MJ_SMTP_AUTH_ATTEMPTS_MAX ||
            s->state != MJ_SMTP_ST_READY)
            return o;
        mj_error first = *err;
        mj_error ignored;
        if (mj_sasl_choose_after_failure(&choice, m, policy, creds, &m, &ignored) != MJ_OK) {
            *err = first; /* nothing left to try: the server's refusal is the answer */
            return first.outcome;
        }
        o = MJ_OK;
    }
    return o;
}
