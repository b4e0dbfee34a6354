/*
 * pop3/commands.c: the TRANSACTION-state commands of POP3 (RFC 1939 §5,
 * §7): STAT, LIST, UIDL, RETR, TOP, DELE, RSET, NOOP, and QUIT (§6, the
 * UPDATE state that commits deletions).  Batches of RETR and DELE are
 * pipelined when the server advertises PIPELINING (RFC 2449 §6.6).
 */
#include "pop3/pop3_internal.h"

#include <stdio.h>
#include <string.h>

/* Decimal text of a 32-bit number, NUL included. */
#define NUM_TEXT 11

static mj_outcome need_number(mj_pop3 *s, uint32_t number)
{
    if (number == 0)
        return mj_error_set(mj_conn_error(s->conn), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "POP3 message numbers start at 1");
    return MJ_OK;
}

/* A status text that must hold a scan listing ("+OK 2 320"). */
static mj_outcome scan_from_status(mj_pop3 *s, const mj_pop3_status *st, bool allow_zero,
                                   uint32_t *number_out, uint64_t *size_out)
{
    if (mj_pop3_parse_scan(st->text, st->text_len, allow_zero, number_out, size_out,
                           mj_conn_error(s->conn)) != MJ_PARSE_OK)
        return pop3_fail_if_fatal(s, mj_conn_error(s->conn)->outcome);
    return MJ_OK;
}

mj_outcome mj_pop3_stat(mj_pop3 *s, uint32_t *count_out, uint64_t *size_out)
{
    mj_pop3_status st;
    mj_outcome o = pop3_simple(s, POP3_CMD_STAT, NULL, 0, MJ_SERVER_REFUSED, &st);
    if (o == MJ_OK)
        o = scan_from_status(s, &st, true, count_out, size_out);
    return o;
}

/* ---- LIST and UIDL -------------------------------------------------------------------- */

struct list_ctx {
    mj_pop3_list_fn list;
    mj_pop3_uidl_fn uidl;
    void *ctx;
    uint32_t asked; /* the message number of a single-line listing; 0 for all */
};

/*
 * The single-line form ("LIST 1" -> "+OK 1 1024") must name the message that
 * was asked for: "+OK 99 1024" is another message's listing (MailKit corpus
 * pop3/comcast/list1-error2.txt, pop3/gmail/uidl1-error2.txt), never
 * reported as message 1.
 */
static mj_outcome check_asked(mj_pop3 *s, const struct list_ctx *lc, uint32_t number)
{
    if (lc->asked == 0 || number == lc->asked)
        return MJ_OK;
    return mj_error_set(mj_conn_error(s->conn), MJ_PROTOCOL_ERROR, MJ_R_MALFORMED,
                        "the server answered for message %u when message %u was asked for",
                        (unsigned)number, (unsigned)lc->asked);
}

static mj_outcome list_line(mj_pop3 *s, void *vctx, const char *line, size_t len)
{
    struct list_ctx *lc = vctx;
    uint32_t number = 0;
    uint64_t size = 0;
    if (mj_pop3_parse_scan(line, len, false, &number, &size, mj_conn_error(s->conn)) !=
        MJ_PARSE_OK)
        return MJ_PROTOCOL_ERROR;
    if (check_asked(s, lc, number) != MJ_OK)
        return MJ_PROTOCOL_ERROR;
    return lc->list(lc->ctx, number, size);
}

static mj_outcome uidl_line(mj_pop3 *s, void *vctx, const char *line, size_t len)
{
    struct list_ctx *lc = vctx;
    uint32_t number = 0;
    char uid[MJ_POP3_UID_MAX + 1];
    if (mj_pop3_parse_uid(line, len, &number, uid, mj_conn_error(s->conn)) != MJ_PARSE_OK)
        return MJ_PROTOCOL_ERROR;
    if (check_asked(s, lc, number) != MJ_OK)
        return MJ_PROTOCOL_ERROR;
    return lc->uidl(lc->ctx, number, uid);
}

/* LIST/UIDL: one line for a number, a multi-line list for all. */
static mj_outcome listing(mj_pop3 *s, pop3_cmd cmd, uint32_t number, struct list_ctx *lc)
{
    char num[NUM_TEXT];
    pop3_arg arg[] = {{num, false}};
    snprintf(num, sizeof num, "%u", (unsigned)number);
    mj_pop3_status st;
    mj_outcome o = pop3_simple(s, cmd, arg, number != 0 ? 1 : 0, MJ_SERVER_REFUSED, &st);
    if (o != MJ_OK)
        return o;
    pop3_line_fn fn = cmd == POP3_CMD_LIST ? list_line : uidl_line;
    if (number == 0)
        return pop3_read_list(s, fn, lc);
    lc->asked = number;
    o = fn(s, lc, st.text, st.text_len);
    return pop3_fail_if_fatal(s, o);
}

mj_outcome mj_pop3_list(mj_pop3 *s, uint32_t number, mj_pop3_list_fn fn, void *ctx)
{
    struct list_ctx lc = {.list = fn, .ctx = ctx};
    return listing(s, POP3_CMD_LIST, number, &lc);
}

mj_outcome mj_pop3_uidl(mj_pop3 *s, uint32_t number, mj_pop3_uidl_fn fn, void *ctx)
{
    struct list_ctx lc = {.uidl = fn, .ctx = ctx};
    return listing(s, POP3_CMD_UIDL, number, &lc);
}

/* ---- RETR and TOP ----------------------------------------------------------------------- */

static mj_outcome fetch_body(mj_pop3 *s, pop3_cmd cmd, const pop3_arg *args, size_t n_args,
                             const mj_sink *sink, uint64_t *size_out)
{
    mj_pop3_status st;
    mj_outcome o = pop3_simple(s, cmd, args, n_args, MJ_SERVER_REFUSED, &st);
    if (o == MJ_OK)
        o = pop3_read_body(s, sink, size_out);
    return o;
}

mj_outcome mj_pop3_retr(mj_pop3 *s, uint32_t number, const mj_sink *sink, uint64_t *size_out)
{
    char num[NUM_TEXT];
    pop3_arg arg[] = {{num, false}};
    if (need_number(s, number) != MJ_OK)
        return MJ_USAGE;
    snprintf(num, sizeof num, "%u", (unsigned)number);
    return fetch_body(s, POP3_CMD_RETR, arg, 1, sink, size_out);
}

mj_outcome mj_pop3_top(mj_pop3 *s, uint32_t number, uint32_t lines, const mj_sink *sink,
                       uint64_t *size_out)
{
    char num[NUM_TEXT], nlines[NUM_TEXT];
    pop3_arg args[] = {{num, false}, {nlines, false}};
    if (need_number(s, number) != MJ_OK)
        return MJ_USAGE;
    snprintf(num, sizeof num, "%u", (unsigned)number);
    snprintf(nlines, sizeof nlines, "%u", (unsigned)lines);
    return fetch_body(s, POP3_CMD_TOP, args, 2, sink, size_out);
}

/* ---- batches ---------------------------------------------------------------------------- */

static size_t window(const mj_pop3 *s)
{
    bool pipe = (s->caps.bits & MJ_POP3_CAP_PIPELINING) != 0 && !s->opts.no_pipelining;
    return pipe ? MJ_POP3_PIPELINE_WINDOW : 1;
}

/* Queue "VERB n" without flushing. */
static mj_outcome queue(mj_pop3 *s, pop3_cmd cmd, uint32_t number)
{
    char num[NUM_TEXT];
    pop3_arg arg[] = {{num, false}};
    if (need_number(s, number) != MJ_OK)
        return MJ_USAGE;
    snprintf(num, sizeof num, "%u", (unsigned)number);
    return pop3_send(s, cmd, arg, 1, false);
}

/* Top up the commands in flight to the window and send them in one write. */
static mj_outcome fill_window(mj_pop3 *s, pop3_cmd cmd, const uint32_t *numbers, size_t n,
                              size_t done, size_t *sent, bool stop)
{
    size_t w = window(s);
    size_t before = *sent;
    while (!stop && *sent < n && *sent - done < w) {
        mj_outcome o = queue(s, cmd, numbers[*sent]);
        if (o != MJ_OK)
            return o;
        (*sent)++;
    }
    if (*sent == before)
        return MJ_OK;
    return pop3_fail_if_fatal(s, mj_conn_flush(s->conn));
}

/* One RETR reply of a batch: status, then the body to the batch's sink. */
static mj_outcome batch_one(mj_pop3 *s, uint32_t number, const mj_pop3_batch *b,
                            mj_error *first)
{
    mj_pop3_status st;
    mj_outcome o = pop3_read_status(s, false, &st);
    if (o != MJ_OK)
        return o;
    if (st.kind == MJ_POP3_KIND_ERR) {
        o = pop3_refused(s, POP3_CMD_RETR, &st, MJ_SERVER_REFUSED);
        if (first->outcome == MJ_OK)
            *first = *mj_conn_error(s->conn);
        return b->end != NULL ? b->end(b->ctx, number, o, 0) : MJ_OK;
    }
    mj_sink sink = {NULL, NULL};
    if (b->begin != NULL && (o = b->begin(b->ctx, number, &sink)) != MJ_OK)
        return o;
    uint64_t size = 0;
    o = pop3_read_body(s, &sink, &size);
    if (o != MJ_OK)
        return o;
    return b->end != NULL ? b->end(b->ctx, number, MJ_OK, size) : MJ_OK;
}

/* Every number of a batch is checked before the first command goes out. */
static mj_outcome need_numbers(mj_pop3 *s, const uint32_t *numbers, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (need_number(s, numbers[i]) != MJ_OK)
            return MJ_USAGE;
    }
    return MJ_OK;
}

/* A batch broke off with replies possibly in flight: nothing is in sync. */
static mj_outcome batch_broken(mj_pop3 *s, mj_outcome o)
{
    pop3_set_state(s, MJ_POP3_STATE_FAILED);
    return o;
}

static mj_outcome batch_result(mj_pop3 *s, const mj_error *first)
{
    if (first->outcome == MJ_OK)
        return MJ_OK;
    *mj_conn_error(s->conn) = *first;
    return first->outcome;
}

mj_outcome mj_pop3_retr_many(mj_pop3 *s, const uint32_t *numbers, size_t n,
                             const mj_pop3_batch *batch)
{
    mj_error first;
    mj_error_clear(&first);
    if (need_numbers(s, numbers, n) != MJ_OK)
        return MJ_USAGE;
    size_t sent = 0;
    for (size_t done = 0; done < n; done++) {
        mj_outcome o = fill_window(s, POP3_CMD_RETR, numbers, n, done, &sent, false);
        if (o == MJ_OK)
            o = batch_one(s, numbers[done], batch, &first);
        if (o != MJ_OK)
            return batch_broken(s, o);
    }
    return batch_result(s, &first);
}

mj_outcome mj_pop3_dele(mj_pop3 *s, uint32_t number)
{
    return mj_pop3_dele_many(s, &number, 1);
}

mj_outcome mj_pop3_dele_many(mj_pop3 *s, const uint32_t *numbers, size_t n)
{
    mj_error first;
    mj_error_clear(&first);
    if (need_numbers(s, numbers, n) != MJ_OK)
        return MJ_USAGE;
    size_t sent = 0;
    for (size_t done = 0; done < n; done++) {
        /* after a -ERR nothing new is sent; the replies in flight are read */
        mj_outcome o = fill_window(s, POP3_CMD_DELE, numbers, n, done, &sent,
                                   first.outcome != MJ_OK);
        if (o != MJ_OK)
            return batch_broken(s, o);
        if (done >= sent)
            break;
        mj_pop3_status st;
        o = pop3_read_status(s, false, &st);
        if (o != MJ_OK)
            return o;
        if (st.kind == MJ_POP3_KIND_ERR && first.outcome == MJ_OK) {
            (void)pop3_refused(s, POP3_CMD_DELE, &st, MJ_SERVER_REFUSED);
            first = *mj_conn_error(s->conn);
        }
    }
    return batch_result(s, &first);
}

/* ---- RSET, NOOP, QUIT ----------------------------------------------------------------------- */

mj_outcome mj_pop3_rset(mj_pop3 *s)
{
    mj_pop3_status st;
    return pop3_simple(s, POP3_CMD_RSET, NULL, 0, MJ_SERVER_REFUSED, &st);
}

mj_outcome mj_pop3_noop(mj_pop3 *s)
{
    mj_pop3_status st;
    return pop3_simple(s, POP3_CMD_NOOP, NULL, 0, MJ_SERVER_REFUSED, &st);
}

mj_outcome mj_pop3_quit(mj_pop3 *s)
{
    mj_pop3_status st;
    mj_outcome o = pop3_simple(s, POP3_CMD_QUIT, NULL, 0, MJ_SERVER_REFUSED, &st);
    if (o == MJ_OK || !pop3_outcome_fatal(o))
        pop3_set_state(s, MJ_POP3_STATE_UPDATE);
    return o;
}
