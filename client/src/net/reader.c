/*
 * reader.c: the buffered reader of reader.h, the one place where received
 * bytes are framed into lines (RFC 5321 / RFC 9051 / RFC 1939: CRLF-ended
 * lines), exact byte counts (IMAP literals) and terminated streams (POP3 and
 * SMTP multi-line bodies ending in CRLF "." CRLF).
 *
 * One buffer of line_max + 2 + MJ_READER_CHUNK bytes is allocated when the
 * reader is created: a whole line with its CRLF always fits next to one
 * transport read, so no allocation ever depends on what the server sends.
 * Every byte read from the transport is logged once, right after the read.
 *
 * STARTTLS hygiene (SECURITY-CASES #16-#26): bytes received before the
 * upgrade were sent in plaintext and could have been injected by anyone on
 * the path, so any byte still buffered (here or in the transport) when the
 * upgrade starts fails the connection, and none of them is ever parsed.
 */
#include "mailjig/reader.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Longest terminator stream_until accepts: its KMP table lives on the stack. */
#define READER_TERM_MAX 64
/* Largest line_max honoured (a limits struct asking for more is clamped), so
 * the buffer size can neither overflow nor be absurd. */
#define READER_LINE_HARD_MAX ((size_t)16 * 1024 * 1024)
/* Bytes of unexpected data quoted in the "data after STARTTLS" message. */
#define READER_QUOTE_MAX 60

struct mj_reader {
    mj_transport *t;       /* borrowed */
    mj_log *log;           /* borrowed, may be NULL */
    mj_reader_limits limits;
    unsigned char *buf;
    size_t cap;            /* buffer size, from limits.line_max only */
    size_t start, end;     /* unconsumed bytes are buf[start, end) */
    size_t scanned;        /* bytes after start already searched for LF */
    size_t reply_used;     /* line bytes since mj_reader_reply_begin */
};

void mj_reader_limits_init(mj_reader_limits *limits)
{
    limits->line_max = MJ_LIMIT_LINE_DEFAULT;
    limits->reply_max = MJ_LIMIT_REPLY_DEFAULT;
    limits->bare_lf = MJ_BARE_LF_ACCEPT;
}

/* The limits actually enforced: line_max in [1, hard max], reply_max >= it. */
static mj_reader_limits limits_sane(const mj_reader_limits *in)
{
    mj_reader_limits l;
    if (in == NULL) {
        mj_reader_limits_init(&l);
        return l;
    }
    l = *in;
    if (l.line_max == 0)
        l.line_max = 1;
    if (l.line_max > READER_LINE_HARD_MAX)
        l.line_max = READER_LINE_HARD_MAX;
    if (l.reply_max < l.line_max)
        l.reply_max = l.line_max;
    return l;
}

/* A full line (content + CRLF) plus one transport read. */
static size_t buffer_size(const mj_reader_limits *l)
{
    return l->line_max + 2 + MJ_READER_CHUNK;
}

mj_reader *mj_reader_new(mj_transport *t, mj_log *log, const mj_reader_limits *limits)
{
    mj_reader *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->t = t;
    r->log = log;
    r->limits = limits_sane(limits);
    r->cap = buffer_size(&r->limits);
    r->buf = malloc(r->cap);
    if (r->buf == NULL) {
        free(r);
        return NULL;
    }
    return r;
}

void mj_reader_free(mj_reader *r)
{
    if (r == NULL)
        return;
    free(r->buf);
    free(r);
}

void mj_reader_set_transport(mj_reader *r, mj_transport *t)
{
    r->t = t;
}

/* Growing the buffer is the one allocation after creation; its size still
 * comes from the caller's limits.  If it fails the old limits stay. */
void mj_reader_set_limits(mj_reader *r, const mj_reader_limits *limits)
{
    mj_reader_limits l = limits_sane(limits);
    size_t need = buffer_size(&l);
    if (need > r->cap) {
        unsigned char *p = realloc(r->buf, need);
        if (p == NULL)
            return;
        r->buf = p;
        r->cap = need;
    }
    r->limits = l;
}

void mj_reader_reply_begin(mj_reader *r)
{
    r->reply_used = 0;
}

size_t mj_reader_buffered(const mj_reader *r)
{
    return r->end - r->start;
}

/* ---- filling ------------------------------------------------------------------ */

/* One transport read appended to the buffer (moved to the front first when
 * the tail is short), logged at once. */
static mj_outcome fill(mj_reader *r, mj_error *err)
{
    if (r->start == r->end) {
        r->start = r->end = 0;
    } else if (r->cap - r->end < MJ_READER_CHUNK && r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    size_t room = r->cap - r->end;
    if (room > MJ_READER_CHUNK)
        room = MJ_READER_CHUNK;
    if (room == 0) /* the line checks make this unreachable */
        return mj_error_set(err, MJ_INTERNAL, MJ_R_SYSTEM, "reader buffer full");
    size_t n = 0;
    mj_outcome o = mj_transport_read(r->t, r->buf + r->end, room, &n, err);
    if (o != MJ_OK)
        return o;
    if (n == 0) /* a transport that breaks its contract must not spin us */
        return mj_error_set(err, MJ_INTERNAL, MJ_R_SYSTEM, "transport read returned nothing");
    mj_log_data(r->log, MJ_LOG_SERVER, r->buf + r->end, n, false);
    r->end += n;
    return MJ_OK;
}

/*
 * fill, for a read that already holds part of a unit (line, literal,
 * stream): the transport's outcome and reason stay, the message says what
 * was cut.  got is how much of the unit had arrived.
 */
static mj_outcome fill_within(mj_reader *r, const char *what, size_t got, mj_error *err)
{
    mj_outcome o = fill(r, err);
    if (o == MJ_OK || err == NULL)
        return o;
    char cause[MJ_ERROR_MESSAGE_MAX];
    memcpy(cause, err->message, sizeof cause);
    return mj_error_set(err, o, err->reason, "%s in the middle of %s (%zu bytes of it received)",
                        cause, what, got);
}

/* ---- lines ------------------------------------------------------------------------ */

static mj_outcome line_too_long(const mj_reader *r, mj_error *err)
{
    return mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_LINE_TOO_LONG,
                        "server line longer than the limit of %zu bytes (line_max)",
                        r->limits.line_max);
}

/* A complete line ends at p[i] == LF: check the caps, hand it out. */
static mj_outcome line_take(mj_reader *r, size_t i, const char **line_out, size_t *len_out,
                            mj_error *err)
{
    unsigned char *p = r->buf + r->start;
    bool crlf = i > 0 && p[i - 1] == '\r';
    size_t len = crlf ? i - 1 : i;
    size_t total = i + 1;

    if (len > r->limits.line_max)
        return line_too_long(r, err);
    if (!crlf && r->limits.bare_lf == MJ_BARE_LF_REJECT)
        return mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_BARE_LF,
                            "server line ended with a bare LF instead of CRLF");
    /* reply_used may exceed a reply_max lowered by mj_reader_set_limits */
    if (r->reply_used > r->limits.reply_max || total > r->limits.reply_max - r->reply_used)
        return mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_REPLY_TOO_LARGE,
                            "server reply larger than the limit of %zu bytes (reply_max)",
                            r->limits.reply_max);
    r->reply_used += total;
    p[len] = '\0'; /* over the CR or LF, which are consumed anyway */
    *line_out = (const char *)p;
    *len_out = len;
    r->start += total;
    r->scanned = 0;
    return MJ_OK;
}

mj_outcome mj_reader_line(mj_reader *r, const char **line_out, size_t *len_out, mj_error *err)
{
    *line_out = NULL;
    *len_out = 0;
    for (;;) {
        unsigned char *p = r->buf + r->start;
        size_t avail = r->end - r->start;
        unsigned char *lf = memchr(p + r->scanned, '\n', avail - r->scanned);
        if (lf != NULL)
            return line_take(r, (size_t)(lf - p), line_out, len_out, err);
        r->scanned = avail;
        /* A final CR may still be the terminator's; anything else is content. */
        size_t content = (avail > 0 && p[avail - 1] == '\r') ? avail - 1 : avail;
        if (content > r->limits.line_max)
            return line_too_long(r, err);
        mj_outcome o = avail > 0 ? fill_within(r, "a line", avail, err) : fill(r, err);
        if (o != MJ_OK)
            return o;
    }
}

/* ---- byte counts and streams --------------------------------------------------------- */

static mj_outcome sink_put(const mj_sink *sink, const unsigned char *data, size_t len,
                           mj_error *err)
{
    if (sink == NULL || sink->fn == NULL || len == 0) /* no sink: discard */
        return MJ_OK;
    return sink->fn(sink->ctx, data, len, err);
}

mj_outcome mj_reader_read_exact(mj_reader *r, size_t n, const mj_sink *sink, mj_error *err)
{
    size_t done = 0;
    r->scanned = 0;
    while (done < n) {
        if (r->start == r->end) {
            mj_outcome o = fill_within(r, "a literal", done, err);
            if (o != MJ_OK)
                return o;
        }
        size_t k = r->end - r->start;
        if (k > n - done)
            k = n - done;
        const unsigned char *d = r->buf + r->start;
        r->start += k;
        done += k;
        mj_outcome o = sink_put(sink, d, k, err);
        if (o != MJ_OK)
            return o;
    }
    return MJ_OK;
}

/* KMP failure table: fail[j] = longest proper prefix of term[0..j] that is
 * also its suffix.  Needed because terminators overlap themselves
 * ("\r\n\r\n.\r\n" must still find "\r\n.\r\n"). */
static void kmp_table(const unsigned char *term, size_t len, size_t *fail)
{
    size_t k = 0;
    fail[0] = 0;
    for (size_t j = 1; j < len; j++) {
        while (k > 0 && term[j] != term[k])
            k = fail[k - 1];
        if (term[j] == term[k])
            k++;
        fail[j] = k;
    }
}

struct matcher {
    const unsigned char *term;
    size_t len;
    size_t fail[READER_TERM_MAX];
    size_t q;       /* bytes of term matched so far, not yet given to the sink */
    bool matched;
};

/* Advance the matcher over d[0, n); returns bytes consumed (stops right
 * after a complete match).  memchr skips ahead while nothing is matched. */
static size_t kmp_scan(struct matcher *m, const unsigned char *d, size_t n)
{
    size_t q = m->q, i = 0;
    while (i < n && q < m->len) {
        if (q == 0) {
            const unsigned char *hit = memchr(d + i, m->term[0], n - i);
            if (hit == NULL) {
                m->q = 0;
                return n;
            }
            i = (size_t)(hit - d) + 1;
            q = 1;
            continue;
        }
        while (q > 0 && m->term[q] != d[i])
            q = m->fail[q - 1];
        if (m->term[q] == d[i])
            q++;
        i++;
    }
    m->q = q;
    m->matched = (q == m->len);
    return i;
}

/*
 * After a scan of k bytes, the bytes not yet given to the sink are the q0
 * carried ones (equal to term[0, q0)) then d[0, k); the last m->q of them may
 * still be the terminator.  Emit the rest, from term then from d.
 */
static mj_outcome stream_emit(struct matcher *m, size_t q0, const unsigned char *d, size_t k,
                              size_t *emitted, size_t max, const mj_sink *sink, mj_error *err)
{
    size_t emit = q0 + k - m->q;
    if (emit > max - *emitted)
        return mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_STREAM_TOO_LARGE,
                            "server data longer than the limit of %zu bytes before its end marker",
                            max);
    size_t from_term = emit < q0 ? emit : q0;
    mj_outcome o = sink_put(sink, m->term, from_term, err);
    if (o == MJ_OK)
        o = sink_put(sink, d, emit - from_term, err);
    *emitted += emit;
    return o;
}

mj_outcome mj_reader_stream_until(mj_reader *r, const void *term, size_t term_len, size_t max,
                                  const mj_sink *sink, mj_error *err)
{
    if (term_len == 0 || term_len > READER_TERM_MAX)
        return mj_error_set(err, MJ_INTERNAL, MJ_R_SYSTEM,
                            "stream terminator of %zu bytes (1 to %d allowed)", term_len,
                            READER_TERM_MAX);
    struct matcher m = {.term = term, .len = term_len};
    kmp_table(m.term, term_len, m.fail);
    size_t emitted = 0;
    r->scanned = 0;
    for (;;) {
        if (r->start == r->end) {
            mj_outcome o = fill_within(r, "a data stream", emitted + m.q, err);
            if (o != MJ_OK)
                return o;
        }
        const unsigned char *d = r->buf + r->start;
        size_t q0 = m.q;
        size_t k = kmp_scan(&m, d, r->end - r->start);
        r->start += k;
        mj_outcome o = stream_emit(&m, q0, d, k, &emitted, max, sink, err);
        if (o != MJ_OK || m.matched)
            return o;
    }
}

mj_outcome mj_reader_read_some(mj_reader *r, size_t max, const unsigned char **data_out,
                               size_t *len_out, mj_error *err)
{
    *data_out = NULL;
    *len_out = 0;
    r->scanned = 0;
    if (max == 0)
        return MJ_OK;
    if (r->start == r->end) {
        mj_outcome o = fill(r, err);
        if (o != MJ_OK)
            return o;
    }
    size_t n = r->end - r->start;
    if (n > max)
        n = max;
    *data_out = r->buf + r->start;
    *len_out = n;
    r->start += n;
    return MJ_OK;
}

/* ---- STARTTLS ------------------------------------------------------------------------- */

/* The refusal: quote what was waiting (reading it from the transport if only
 * the transport held it, so the log shows it too), then drop it all. */
static mj_outcome starttls_refuse(mj_reader *r, size_t pending, mj_error *err)
{
    mj_error ignored;
    if (r->start == r->end)
        (void)fill(r, &ignored);
    size_t have = r->end - r->start;
    size_t quote = have < READER_QUOTE_MAX ? have : READER_QUOTE_MAX;
    char text[READER_QUOTE_MAX * 4 + 1];
    mj_escape(r->buf + r->start, quote, text, sizeof text);
    size_t waiting = have > pending ? have : pending;
    r->start = r->end = 0; /* nothing injected before TLS may ever be parsed */
    r->scanned = 0;
    return mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_DATA_AFTER_STARTTLS,
                        "data after the STARTTLS reply: \"%s\"%s (%zu bytes waiting; "
                        "possible injection, the connection must be closed)",
                        text, have > quote ? "..." : "", waiting);
}

mj_outcome mj_reader_starttls(mj_reader *r, const mj_tls_config *cfg, const char *host,
                              mj_error *err)
{
    size_t pending = mj_transport_pending(r->t);
    if (r->end > r->start || pending > 0)
        return starttls_refuse(r, pending + (r->end - r->start), err);
    r->start = r->end = 0;
    r->scanned = 0;
    return mj_transport_starttls(r->t, cfg, host, err);
}

/* ---- sinks ---------------------------------------------------------------------------- */

mj_outcome mj_sink_fd(void *ctx, const unsigned char *data, size_t len, mj_error *err)
{
    int fd = *(const int *)ctx;
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return mj_error_set(err, MJ_INTERNAL, MJ_R_LOCAL_IO, "cannot write to fd %d: %s", fd,
                                n < 0 ? strerror(errno) : "no progress");
        data += n;
        len -= (size_t)n;
    }
    return MJ_OK;
}
