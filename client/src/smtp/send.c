/*
 * smtp/send.c: one mail transaction.  RFC 5321 3.3 (MAIL, RCPT, DATA) and
 * 4.5.2 (transparency), RFC 2920 (PIPELINING), RFC 3030 (CHUNKING,
 * BINARYMIME), RFC 1870 (SIZE), RFC 6152 (8BITMIME), RFC 6531 (SMTPUTF8),
 * RFC 3461 (DSN: RET, ENVID, NOTIFY, ORCPT), RFC 8689 (REQUIRETLS).
 *
 * The commands of a transaction are numbered: 0 is MAIL, 1..n the RCPTs,
 * n+1 DATA (absent with BDAT).  Without PIPELINING each goes alone and
 * the transaction stops at the first answer that makes the rest pointless;
 * with it they go in groups of MJ_SMTP_PIPELINE_GROUP_MAX, DATA last, and
 * every reply is read in order before a byte of the message leaves.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtp/smtp_internal.h"

/* One transaction's progress. */
typedef struct txn {
    const mj_smtp_envelope *env;
    mj_smtp_send_result *res;
    const char *from; /* "" for the null reverse-path */
    bool bdat;
    bool mail_ok;
    bool data_go;     /* DATA got its 354 */
    mj_error refusal; /* the first refusal of MAIL or DATA (or a 421); MJ_OK if none */
} txn;

mj_outcome mj_smtp_source_fd(void *ctx, unsigned char *buf, size_t cap, size_t *n_out,
                             mj_error *err)
{
    int fd = *(int *)ctx;
    for (;;) {
        ssize_t n = read(fd, buf, cap);
        if (n >= 0) {
            *n_out = (size_t)n;
            return MJ_OK;
        }
        if (errno != EINTR)
            return mj_error_set(err, MJ_INTERNAL, MJ_R_LOCAL_IO, "reading the message: %s",
                                strerror(errno));
    }
}

void mj_smtp_send_result_free(mj_smtp_send_result *res)
{
    if (res == NULL)
        return;
    free(res->rcpt);
    res->rcpt = NULL;
    res->n_rcpt = 0;
}

/* ---- checks before any byte ----------------------------------------------- */

static bool has_8bit(const char *s)
{
    for (; s != NULL && *s != '\0'; s++)
        if ((unsigned char)*s >= 0x80)
            return true;
    return false;
}

static mj_outcome check_envelope(mj_smtp *s, const mj_smtp_envelope *env)
{
    mj_error *err = mj_conn_error(s->c);
    mj_outcome o = MJ_OK;
    if (env->from == NULL || env->to == NULL || env->n_to == 0 || env->n_to > MJ_SMTP_RCPT_MAX)
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "a message needs a sender and 1 to %d recipients", MJ_SMTP_RCPT_MAX);
    if (strcmp(env->from, "<>") != 0)
        o = mj_smtp_check_arg(s, "the sender", env->from, MJ_SMTP_ADDRESS_MAX, true);
    for (size_t i = 0; o == MJ_OK && i < env->n_to; i++) {
        if (env->to[i] == NULL || env->to[i][0] == '\0')
            return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT, "recipient %zu is empty", i + 1);
        o = mj_smtp_check_arg(s, "a recipient", env->to[i], MJ_SMTP_ADDRESS_MAX, true);
        if (o == MJ_OK && env->orcpt != NULL && env->orcpt[i] != NULL)
            o = mj_smtp_check_arg(s, "an ORCPT", env->orcpt[i], MJ_SMTP_ADDRESS_MAX, true);
    }
    if (o == MJ_OK && env->envid != NULL)
        o = mj_smtp_check_arg(s, "the ENVID", env->envid, MJ_SMTP_ARG_MAX / 3, true);
    for (size_t i = 0; o == MJ_OK && i <= env->n_to; i++) {
        unsigned nf = i == env->n_to ? env->notify
                                     : (env->notify_each != NULL ? env->notify_each[i] : 0);
        if ((nf & MJ_SMTP_NOTIFY_NEVER) != 0 && (nf & ~MJ_SMTP_NOTIFY_NEVER) != 0)
            o = mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                             "NOTIFY=NEVER excludes other values");
    }
    if (o == MJ_OK && (unsigned)env->body > MJ_SMTP_BODY_BINARYMIME)
        o = mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT, "unknown body type");
    return o;
}

static bool needs_utf8(const mj_smtp_envelope *env)
{
    bool any = env->smtputf8 || has_8bit(env->from);
    for (size_t i = 0; !any && i < env->n_to; i++)
        any = has_8bit(env->to[i]);
    return any;
}

/* What the message asks of the server, against what the server offers. */
static mj_outcome check_server(mj_smtp *s, const mj_smtp_envelope *env)
{
    const struct {
        bool wanted;
        unsigned needs;
        const char *what;
    } rows[] = {
        {needs_utf8(env), MJ_SMTP_EXT_SMTPUTF8, "SMTPUTF8 (non-ASCII addresses)"},
        {env->body == MJ_SMTP_BODY_8BITMIME, MJ_SMTP_EXT_8BITMIME, "8BITMIME"},
        {env->body == MJ_SMTP_BODY_BINARYMIME, MJ_SMTP_EXT_BINARYMIME | MJ_SMTP_EXT_CHUNKING,
         "BINARYMIME and CHUNKING"},
        {env->requiretls, MJ_SMTP_EXT_REQUIRETLS, "REQUIRETLS"},
    };
    mj_error *err = mj_conn_error(s->c);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (rows[i].wanted && (s->caps.flags & rows[i].needs) != rows[i].needs)
            return mj_error_set(err, MJ_MESSAGE_REJECTED, MJ_R_NONE,
                                "not sent: the server does not offer %s, which the message needs",
                                rows[i].what);
    if (env->requiretls && mj_conn_tls_state(s->c) != MJ_TLS_VERIFIED)
        return mj_error_set(err, MJ_MESSAGE_REJECTED, MJ_R_NONE,
                            "not sent: REQUIRETLS needs a verified TLS session");
    if ((s->caps.flags & MJ_SMTP_EXT_SIZE) && s->caps.size_max > 0 && env->size > s->caps.size_max)
        return mj_error_set(err, MJ_MESSAGE_REJECTED, MJ_R_NONE,
                            "not sent: the message (%llu bytes) exceeds the server's SIZE limit "
                            "(%llu bytes)",
                            (unsigned long long)env->size, (unsigned long long)s->caps.size_max);
    return MJ_OK;
}

/* ---- composing the commands ------------------------------------------------ */

/* Append printf output to buf (size cap) at *used; false when it does not fit. */
static bool append(char *buf, size_t cap, size_t *used, const char *fmt, ...) MJ_PRINTF(4, 5);
static bool append(char *buf, size_t cap, size_t *used, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *used, cap - *used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *used)
        return false;
    *used += (size_t)n;
    return true;
}

/* xtext (RFC 3461 4): '+', '=' and bytes outside '!'..'~' as +XX. */
static bool append_xtext(char *buf, size_t cap, size_t *used, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s != '\0'; s++) {
        unsigned char b = (unsigned char)*s;
        if (*used + 4 > cap)
            return false;
        if (b < '!' || b > '~' || b == '+' || b == '=') {
            buf[(*used)++] = '+';
            buf[(*used)++] = hex[b >> 4];
            buf[(*used)++] = hex[b & 15];
        } else {
            buf[(*used)++] = (char)b;
        }
    }
    buf[*used] = '\0';
    return true;
}

static const char *const body_names[] = {
    [MJ_SMTP_BODY_NONE] = NULL, [MJ_SMTP_BODY_7BIT] = "7BIT",
    [MJ_SMTP_BODY_8BITMIME] = "8BITMIME", [MJ_SMTP_BODY_BINARYMIME] = "BINARYMIME"};

static mj_outcome put_mail(mj_smtp *s, const txn *t)
{
    const mj_smtp_envelope *env = t->env;
    char p[MJ_SMTP_COMMAND_MAX] = "";
    char num[24];
    size_t u = 0;
    bool ok = true, dsn = (s->caps.flags & MJ_SMTP_EXT_DSN) != 0;
    snprintf(num, sizeof num, "%llu", (unsigned long long)env->size);
    if (env->size > 0 && (s->caps.flags & MJ_SMTP_EXT_SIZE))
        ok = append(p, sizeof p, &u, " SIZE=%s", num);
    if (ok && body_names[env->body] != NULL)
        ok = append(p, sizeof p, &u, " BODY=%s", body_names[env->body]);
    if (ok && needs_utf8(env))
        ok = append(p, sizeof p, &u, "%s", " SMTPUTF8");
    if (ok && dsn && env->ret != MJ_SMTP_RET_NONE)
        ok = append(p, sizeof p, &u, " RET=%s", env->ret == MJ_SMTP_RET_FULL ? "FULL" : "HDRS");
    if (ok && dsn && env->envid != NULL)
        ok = append(p, sizeof p, &u, "%s", " ENVID=") && append_xtext(p, sizeof p, &u, env->envid);
    if (ok && env->requiretls)
        ok = append(p, sizeof p, &u, "%s", " REQUIRETLS");
    if (!ok)
        return mj_error_set(mj_conn_error(s->c), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "MAIL parameters longer than %d bytes", MJ_SMTP_COMMAND_MAX);
    return mj_smtp_put(s, "MAIL FROM:<%s>%s", t->from, p);
}

static const struct {
    unsigned bit;
    const char *name;
} notify_names[] = {
    {MJ_SMTP_NOTIFY_SUCCESS, "SUCCESS"},
    {MJ_SMTP_NOTIFY_FAILURE, "FAILURE"},
    {MJ_SMTP_NOTIFY_DELAY, "DELAY"},
    {MJ_SMTP_NOTIFY_NEVER, "NEVER"},
};

static mj_outcome put_rcpt(mj_smtp *s, const txn *t, size_t i)
{
    const mj_smtp_envelope *env = t->env;
    char p[MJ_SMTP_COMMAND_MAX] = "";
    size_t u = 0;
    bool ok = true, dsn = (s->caps.flags & MJ_SMTP_EXT_DSN) != 0;
    unsigned notify = env->notify_each != NULL && env->notify_each[i] != 0 ? env->notify_each[i]
                                                                           : env->notify;
    for (size_t k = 0; dsn && ok && k < sizeof notify_names / sizeof notify_names[0]; k++)
        if (notify & notify_names[k].bit)
            ok = append(p, sizeof p, &u, u == 0 ? " NOTIFY=%s" : ",%s", notify_names[k].name);
    if (ok && dsn && env->orcpt != NULL && env->orcpt[i] != NULL)
        ok = append(p, sizeof p, &u, "%s", " ORCPT=rfc822;") &&
             append_xtext(p, sizeof p, &u, env->orcpt[i]);
    if (!ok)
        return mj_error_set(mj_conn_error(s->c), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "RCPT parameters longer than %d bytes", MJ_SMTP_COMMAND_MAX);
    return mj_smtp_put(s, "RCPT TO:<%s>%s", env->to[i], p);
}

static mj_outcome put_command(mj_smtp *s, const txn *t, size_t k)
{
    if (k == 0)
        return put_mail(s, t);
    if (k <= t->env->n_to)
        return put_rcpt(s, t, k - 1);
    return mj_smtp_put(s, "DATA");
}

/* ---- the replies ------------------------------------------------------------- */

static void keep_refusal(mj_smtp *s, txn *t)
{
    if (t->refusal.outcome == MJ_OK)
        t->refusal = *mj_conn_error(s->c);
}

static mj_outcome rcpt_reply(mj_smtp *s, txn *t, size_t i, const mj_smtp_reply *r)
{
    mj_smtp_rcpt_result *rr = &t->res->rcpt[i];
    if (r->code < 400 && r->code != 250 && r->code != 251) {
        char what[MJ_SMTP_ADDRESS_MAX + 16];
        snprintf(what, sizeof what, "RCPT TO:<%s>", t->env->to[i]);
        return mj_smtp_refused(s, r, MJ_PROTOCOL_ERROR, what);
    }
    rr->accepted = r->code == 250 || r->code == 251;
    rr->code = r->code;
    memcpy(rr->enhanced, r->enhanced, sizeof rr->enhanced);
    mj_smtp_quote_text(r, rr->text, sizeof rr->text);
    t->res->n_accepted += rr->accepted;
    if (r->code == 421) {
        (void)mj_smtp_refused(s, r, MJ_MESSAGE_REJECTED, "RCPT");
        keep_refusal(s, t);
    }
    return MJ_OK;
}

/* Classify the reply to command k. */
static mj_outcome handle_reply(mj_smtp *s, txn *t, size_t k, const mj_smtp_reply *r)
{
    char what[MJ_SMTP_ADDRESS_MAX + 48];
    if (k >= 1 && k <= t->env->n_to)
        return rcpt_reply(s, t, k - 1, r);
    bool mail = k == 0;
    if (mail ? r->code / 100 == 2 : r->code == 354) {
        t->mail_ok |= mail;
        t->data_go |= !mail;
        return MJ_OK;
    }
    snprintf(what, sizeof what, mail ? "the server refused the sender <%s>" : "%s",
             mail ? t->from : "the server refused DATA");
    mj_outcome o = mj_smtp_refused(s, r, MJ_MESSAGE_REJECTED, what);
    if (o == MJ_PROTOCOL_ERROR)
        return o;
    /*
     * DATA refused after every recipient was (pipelined: "554 5.5.1 no valid
     * recipients") is a consequence, not the cause: the recipients' replies
     * are the verdict (all_refused), so greylisted recipients (450) stay
     * server-busy rather than become a permanent rejection.  A 421 is news.
     */
    if (!mail && t->res->n_accepted == 0 && r->code != 421)
        return MJ_OK;
    keep_refusal(s, t);
    return MJ_OK;
}

/*
 * A write failed because the server hung up: it may have said why first
 * (552 "message too big" in the middle of DATA).  Read what is left; a
 * refusal found there becomes t->refusal.  Otherwise err is unchanged.
 */
static void late_reply(mj_smtp *s, txn *t)
{
    const mj_smtp_reply *r = NULL;
    mj_error keep = *mj_conn_error(s->c);
    if (mj_smtp_read(s, &r) == MJ_OK && r->code >= 400) {
        (void)mj_smtp_refused(s, r, MJ_MESSAGE_REJECTED, "the server refused the message");
        keep_refusal(s, t);
        return;
    }
    *mj_conn_error(s->c) = keep;
}

/*
 * The connection failed (err holds why).  When the server had already
 * refused something, that refusal is the answer (Hotmail hangs up right
 * after a 550): the user needs its text, not "connection lost".
 */
static mj_outcome lost(mj_smtp *s, txn *t, mj_outcome o)
{
    mj_error *err = mj_conn_error(s->c);
    if (t->refusal.outcome == MJ_OK && o == MJ_CONNECTION_LOST)
        late_reply(s, t);
    if (t->refusal.outcome == MJ_OK) {
        for (size_t i = 0; i < t->res->n_rcpt; i++) {
            const mj_smtp_rcpt_result *rr = &t->res->rcpt[i];
            if (rr->code >= 400) {
                return mj_error_set(err, rr->code < 500 ? MJ_SERVER_BUSY : MJ_MESSAGE_REJECTED,
                                    MJ_R_NONE,
                                    "the server refused <%s>: %u %s%s%s (then the connection "
                                    "ended)",
                                    t->env->to[i], rr->code, rr->enhanced,
                                    rr->enhanced[0] ? " " : "", rr->text);
            }
        }
        return o;
    }
    *err = t->refusal;
    size_t n = strlen(err->message);
    snprintf(err->message + n, sizeof err->message - n, " (then the connection ended)");
    return err->outcome;
}

static bool stop_before(const txn *t, size_t k)
{
    return (k >= 1 && !t->mail_ok) || t->refusal.outcome != MJ_OK ||
           (k == t->env->n_to + 1 && t->res->n_accepted == 0);
}

/* MAIL, RCPT..., DATA: in groups with PIPELINING, one at a time without. */
static mj_outcome exchange(mj_smtp *s, txn *t)
{
    size_t total = t->env->n_to + (t->bdat ? 1 : 2);
    size_t group = (s->caps.flags & MJ_SMTP_EXT_PIPELINING) ? MJ_SMTP_PIPELINE_GROUP_MAX : 1;
    for (size_t k = 0; k < total && !stop_before(t, k);) {
        size_t end = k + group < total ? k + group : total;
        mj_outcome o = MJ_OK;
        for (size_t j = k; j < end && o == MJ_OK; j++)
            o = put_command(s, t, j);
        if (o == MJ_OK)
            o = mj_smtp_flush(s);
        for (; o == MJ_OK && k < end; k++) {
            const mj_smtp_reply *r = NULL;
            o = mj_smtp_read(s, &r);
            if (o == MJ_OK)
                o = handle_reply(s, t, k, r);
            if (o == MJ_OK && s->state == MJ_SMTP_ST_CLOSED)
                return MJ_OK; /* 421: the refusal says it all */
        }
        if (o == MJ_USAGE)
            mj_smtp_set_state(s, MJ_SMTP_ST_BROKEN); /* half a group may sit unsent: no RSET */
        if (o != MJ_OK)
            return o == MJ_PROTOCOL_ERROR || o == MJ_USAGE ? o : lost(s, t, o);
    }
    return MJ_OK;
}

/* ---- the message -------------------------------------------------------------- */

static mj_outcome read_source(mj_smtp *s, const mj_smtp_source *src, size_t *n_out)
{
    *n_out = 0;
    mj_outcome o = src->read(src->ctx, s->body_in, sizeof s->body_in, n_out, mj_conn_error(s->c));
    if (o != MJ_OK || *n_out > sizeof s->body_in) {
        mj_smtp_set_state(s, MJ_SMTP_ST_BROKEN); /* the server holds half a message */
        return o != MJ_OK ? o
                          : mj_error_set(mj_conn_error(s->c), MJ_INTERNAL, MJ_R_SYSTEM,
                                         "the message source returned too many bytes");
    }
    return MJ_OK;
}

/* DATA's body: stuffed, normalised, then <CRLF>.<CRLF>; no byte before the 354. */
static mj_outcome send_data(mj_smtp *s, const mj_smtp_source *src)
{
    mj_smtp_stuffer st;
    mj_smtp_stuffer_init(&st, true);
    for (;;) {
        size_t n = 0;
        mj_outcome o = read_source(s, src, &n);
        if (o != MJ_OK)
            return o;
        size_t out = n > 0 ? mj_smtp_stuff(&st, s->body_in, n, s->body_out)
                           : mj_smtp_stuff_finish(&st, s->body_out);
        o = mj_conn_put(s->c, s->body_out, out, false);
        if (o != MJ_OK || n == 0)
            return o != MJ_OK ? o : mj_smtp_flush(s);
    }
}

static mj_outcome send_chunk(mj_smtp *s, txn *t, size_t len, bool last)
{
    const mj_smtp_reply *r = NULL;
    mj_outcome o = mj_smtp_put(s, "BDAT %zu%s", len, last ? " LAST" : "");
    if (o == MJ_OK)
        o = mj_conn_put(s->c, s->body_out, len, false);
    if (o == MJ_OK)
        o = mj_smtp_flush(s);
    if (o == MJ_OK)
        o = mj_smtp_read(s, &r);
    if (o != MJ_OK)
        return lost(s, t, o);
    if (last || r->code == 250)
        return MJ_OK; /* the last reply is judged by the caller */
    o = mj_smtp_refused(s, r, MJ_MESSAGE_REJECTED, "the server refused a BDAT chunk");
    if (o != MJ_PROTOCOL_ERROR)
        keep_refusal(s, t);
    return o;
}

/*
 * BDAT (RFC 3030): one chunk per source read, read one ahead so the last
 * chunk carries LAST.  BINARYMIME goes byte for byte; otherwise line ends
 * are normalised to CRLF (no stuffing: BDAT has no end-of-data line).
 */
static mj_outcome send_bdat(mj_smtp *s, txn *t, const mj_smtp_source *src)
{
    bool binary = t->env->body == MJ_SMTP_BODY_BINARYMIME;
    mj_smtp_stuffer st;
    mj_smtp_stuffer_init(&st, false);
    size_t n = 0, cur = 0;
    mj_outcome o = read_source(s, src, &n);
    for (bool first = true; o == MJ_OK; first = false) {
        if (!first && (o = send_chunk(s, t, cur, false)) != MJ_OK)
            return o;
        if (binary)
            memcpy(s->body_out, s->body_in, n);
        cur = binary ? n : mj_smtp_stuff(&st, s->body_in, n, s->body_out);
        if (n == 0)
            break;
        o = read_source(s, src, &n);
        if (o == MJ_OK && n == 0) {
            cur += binary ? 0 : mj_smtp_stuff_finish(&st, s->body_out + cur);
            break;
        }
    }
    return o != MJ_OK ? o : send_chunk(s, t, cur, true);
}

static mj_outcome final_reply(mj_smtp *s, txn *t)
{
    const mj_smtp_reply *r = &s->parser.reply;
    mj_outcome o = t->bdat ? MJ_OK : mj_smtp_read(s, &r);
    if (o != MJ_OK)
        return o; /* the message may or may not have been delivered */
    if (r->code / 100 != 2) {
        o = mj_smtp_refused(s, r, MJ_MESSAGE_REJECTED, "the server refused the message");
        if (o != MJ_PROTOCOL_ERROR)
            keep_refusal(s, t);
        return o;
    }
    t->res->code = r->code;
    memcpy(t->res->enhanced, r->enhanced, sizeof t->res->enhanced);
    mj_smtp_quote_text(r, t->res->text, sizeof t->res->text);
    return MJ_OK;
}

/* ---- the transaction ------------------------------------------------------------ */

static mj_outcome all_refused(mj_smtp *s, const txn *t)
{
    char buf[MJ_ERROR_MESSAGE_MAX];
    size_t u = 0;
    bool all_temp = true;
    for (size_t i = 0; i < t->res->n_rcpt && u + 1 < sizeof buf; i++) {
        const mj_smtp_rcpt_result *rr = &t->res->rcpt[i];
        all_temp &= rr->code >= 400 && rr->code < 500;
        int n = snprintf(buf + u, sizeof buf - u, "%s<%s> %u%s%s %s", i ? "; " : "",
                         t->env->to[i], rr->code, rr->enhanced[0] ? " " : "", rr->enhanced,
                         rr->text);
        u = n < 0 ? u : ((size_t)n < sizeof buf - u ? u + (size_t)n : sizeof buf - 1);
    }
    return mj_error_set(mj_conn_error(s->c), all_temp ? MJ_SERVER_BUSY : MJ_MESSAGE_REJECTED,
                        MJ_R_NONE, "every recipient was refused: %s", buf);
}

/*
 * After the envelope: the reason not to send the message, if any.  A 354
 * granted although no recipient was accepted (possible with PIPELINING,
 * RFC 2920 3.1) is closed with an empty message, never with the real one.
 */
static mj_outcome envelope_verdict(mj_smtp *s, txn *t)
{
    if (t->refusal.outcome != MJ_OK) {
        *mj_conn_error(s->c) = t->refusal;
        return t->refusal.outcome;
    }
    if (t->res->n_accepted > 0)
        return t->bdat || t->data_go ? MJ_OK
                                     : mj_error_set(mj_conn_error(s->c), MJ_PROTOCOL_ERROR,
                                                    MJ_R_MALFORMED, "DATA was never answered");
    mj_outcome o = all_refused(s, t);
    if (t->data_go) {
        const mj_smtp_reply *r = NULL;
        mj_error keep = *mj_conn_error(s->c);
        if (mj_smtp_put(s, ".") == MJ_OK && mj_smtp_flush(s) == MJ_OK)
            if (mj_smtp_read(s, &r) != MJ_OK)
                r = NULL; /* the refusal above is the answer either way */
        *mj_conn_error(s->c) = keep;
    }
    return o;
}

static void rset_after_failure(mj_smtp *s)
{
    if (s->state == MJ_SMTP_ST_CLOSED || s->state == MJ_SMTP_ST_BROKEN)
        return;
    mj_error keep = *mj_conn_error(s->c);
    mj_smtp_set_state(s, MJ_SMTP_ST_READY);
    if (mj_smtp_rset(s) != MJ_OK)
        mj_smtp_set_state(s, MJ_SMTP_ST_BROKEN); /* out of step: no more commands */
    *mj_conn_error(s->c) = keep;
}

static mj_outcome transact(mj_smtp *s, txn *t, const mj_smtp_source *src)
{
    mj_outcome o = exchange(s, t);
    if (o == MJ_OK)
        o = envelope_verdict(s, t);
    if (o != MJ_OK)
        return o;
    mj_smtp_set_state(s, MJ_SMTP_ST_BODY);
    o = t->bdat ? send_bdat(s, t, src) : send_data(s, src);
    if (o == MJ_CONNECTION_LOST && !t->bdat)
        return lost(s, t, o);
    if (o == MJ_OK)
        o = final_reply(s, t);
    return o;
}

mj_outcome mj_smtp_send(mj_smtp *s, const mj_smtp_envelope *env, const mj_smtp_source *src,
                        mj_smtp_send_result *res)
{
    memset(res, 0, sizeof *res);
    mj_outcome o = mj_smtp_usable(s);
    if (o == MJ_OK)
        o = check_envelope(s, env);
    if (o == MJ_OK)
        o = check_server(s, env);
    if (o != MJ_OK)
        return o;
    res->rcpt = calloc(env->n_to, sizeof *res->rcpt);
    if (res->rcpt == NULL)
        return mj_error_set(mj_conn_error(s->c), MJ_INTERNAL, MJ_R_NO_MEMORY, "out of memory");
    res->n_rcpt = env->n_to;
    txn t = {.env = env, .res = res, .from = strcmp(env->from, "<>") == 0 ? "" : env->from};
    t.bdat = env->body == MJ_SMTP_BODY_BINARYMIME ||
             (env->chunking && (s->caps.flags & MJ_SMTP_EXT_CHUNKING));
    mj_error_clear(&t.refusal);
    mj_smtp_set_state(s, MJ_SMTP_ST_MAIL);
    o = transact(s, &t, src);
    if (o == MJ_OK)
        mj_smtp_set_state(s, MJ_SMTP_ST_READY);
    else
        rset_after_failure(s);
    return o;
}
