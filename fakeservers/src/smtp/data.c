/*
 * data.c: the DATA body reader, the smuggling watch and the BDAT line of
 * data.h.  RFC 5321 section 4.5.2 (transparency), 4.1.1.4 (DATA); RFC 3030
 * (BDAT); SECURITY-CASES #140-#141 (what the watch looks for).
 */
#include "smtp/data.h"

#include <string.h>
#include <strings.h>

/* The reader's states: where in a line the last wire byte left us. */
enum {
    S_BOL = 0, /* at a line start (after CRLF, or the start of the body) */
    S_TEXT,    /* inside a line */
    S_CR,      /* a CR inside a line, its meaning still open */
    S_DOT,     /* "." at a line start: stuffing or the terminator */
    S_DOT_CR,  /* ".\r" at a line start: the terminator if LF follows */
    S_DONE
};

/* Output is gathered here and handed to the sink in runs. */
#define OUT_CHUNK 4096

typedef struct out_buf {
    fk_data_sink *sink;
    void *arg;
    unsigned char buf[OUT_CHUNK];
    size_t n;
} out_buf;

static void out_flush(out_buf *o)
{
    if (o->n > 0)
        o->sink(o->arg, o->buf, o->n);
    o->n = 0;
}

static void out_bytes(out_buf *o, const unsigned char *p, size_t n)
{
    if (n > OUT_CHUNK - o->n) {
        out_flush(o);
        if (n >= OUT_CHUNK) {
            o->sink(o->arg, p, n);
            return;
        }
    }
    memcpy(o->buf + o->n, p, n);
    o->n += n;
}

void fk_data_reader_init(fk_data_reader *r, uint64_t max)
{
    memset(r, 0, sizeof *r);
    r->max = max;
    r->state = S_BOL;
    /* The DATA line ended in CRLF: ".\n" first thing is "\r\n.\n" on the wire. */
    r->win[FK_DATA_WINDOW - 2] = '\r';
    r->win[FK_DATA_WINDOW - 1] = '\n';
}

/* ---- the watch -------------------------------------------------------------------- */

static void note(fk_data_anomaly *a, uint64_t at)
{
    if (a->count++ == 0)
        a->first_at = at;
}

static bool ends_with(const fk_data_reader *r, const char *s)
{
    size_t n = strlen(s);
    return memcmp(r->win + FK_DATA_WINDOW - n, s, n) == 0;
}

static bool is_eol(unsigned char b)
{
    return b == '\r' || b == '\n';
}

/*
 * The sequence (a suffix of the window) that makes a "." alone between two
 * line ends other than CRLF . CRLF, or NULL.  w[5] is the byte just read.
 */
static const char *smuggling_suffix(const fk_data_reader *r)
{
    static const char *const after_lf[] = {"\n.\n", "\r.\n", "\r.\r\n"};
    const unsigned char *w = r->win;
    if (w[5] == '\n') {
        for (size_t i = 0; i < sizeof after_lf / sizeof after_lf[0]; i++)
            if (ends_with(r, after_lf[i]))
                return (const char *)w + FK_DATA_WINDOW - strlen(after_lf[i]);
        if (ends_with(r, "\n.\r\n") && w[1] != '\r') /* a bare LF before the "." */
            return (const char *)w + 2;
        return NULL;
    }
    if (w[4] == '\r' && w[3] == '.' && is_eol(w[2])) /* ".\r" then not LF: a bare CR after "." */
        return (const char *)w + (w[2] == '\n' && w[1] == '\r' ? 1 : 2);
    return NULL;
}

/*
 * Push byte b (wire offset r->wire - 1) into the window and look at what it
 * completes; offsets noted are those of the bare LF, of the bare CR, and of
 * the last byte of a smuggling sequence.
 */
static void watch(fk_data_reader *r, unsigned char b)
{
    unsigned char prev = r->win[FK_DATA_WINDOW - 1];
    memmove(r->win, r->win + 1, FK_DATA_WINDOW - 1);
    r->win[FK_DATA_WINDOW - 1] = b;
    if (b == '\n' && prev != '\r')
        note(&r->bare_lf, r->wire - 1);
    if (prev == '\r' && b != '\n')
        note(&r->bare_cr, r->wire - 2);
    const char *seq = smuggling_suffix(r);
    if (seq != NULL) {
        if (r->smuggling.count == 0) {
            size_t n = (size_t)(r->win + FK_DATA_WINDOW - (const unsigned char *)seq);
            memcpy(r->smuggling_seq, seq, n);
            r->smuggling_seq[n] = '\0';
        }
        note(&r->smuggling, r->wire - 1);
    }
}

/* Ordinary bytes (no CR, no LF) only move the window. */
static void watch_run(fk_data_reader *r, const unsigned char *p, size_t n)
{
    size_t keep = n < FK_DATA_WINDOW ? n : FK_DATA_WINDOW;
    memmove(r->win, r->win + keep, FK_DATA_WINDOW - keep);
    memcpy(r->win + FK_DATA_WINDOW - keep, p + n - keep, keep);
}

/* ---- the reader ------------------------------------------------------------------- */

/* Content bytes, if the cap allows; false when it does not. */
static bool emit(fk_data_reader *r, out_buf *o, const unsigned char *p, size_t n)
{
    if (n > r->max - r->size)
        return false;
    r->size += n;
    out_bytes(o, p, n);
    return true;
}

/* One byte through the state machine; false when the cap broke. */
static bool step(fk_data_reader *r, out_buf *o, unsigned char b)
{
    static const unsigned char cr = '\r', crlf[2] = {'\r', '\n'};
    switch (r->state) {
    case S_BOL:
    case S_TEXT:
        if (r->state == S_BOL && b == '.') {
            r->state = S_DOT;
            return true;
        }
        r->state = b == '\r' ? S_CR : S_TEXT;
        return b == '\r' || emit(r, o, &b, 1);
    case S_CR:
        if (b == '\n') {
            r->state = S_BOL;
            return emit(r, o, crlf, 2);
        }
        r->state = b == '\r' ? S_CR : S_TEXT; /* the first CR was bare: content */
        return emit(r, o, &cr, 1) && (b == '\r' || emit(r, o, &b, 1));
    case S_DOT: /* the line starts with "." and goes on: the dot was stuffing */
        r->state = b == '\r' ? S_DOT_CR : S_TEXT;
        return b == '\r' || emit(r, o, &b, 1);
    case S_DOT_CR:
        if (b == '\n') {
            r->state = S_DONE;
            return true;
        }
        r->state = S_CR; /* ".\r" + more: the dot was stuffing, the CR is open */
        return step(r, o, b);
    default:
        return true;
    }
}

fk_parse fk_data_reader_feed(fk_data_reader *r, const unsigned char *in, size_t len,
                             size_t *used_out, fk_data_sink *sink, void *arg)
{
    out_buf o = {.sink = sink, .arg = arg};
    size_t i = 0;
    fk_parse res = FK_PARSE_NEED_MORE;
    while (i < len && r->state != S_DONE) {
        if (r->state == S_TEXT && !is_eol(in[i])) { /* the fast path: a run of text */
            size_t j = i;
            while (j < len && !is_eol(in[j]))
                j++;
            if (!emit(r, &o, in + i, j - i)) {
                res = FK_PARSE_ERROR;
                break;
            }
            watch_run(r, in + i, j - i);
            r->wire += j - i;
            i = j;
            continue;
        }
        r->wire++;
        watch(r, in[i]);
        if (!step(r, &o, in[i++])) {
            res = FK_PARSE_ERROR;
            break;
        }
    }
    out_flush(&o);
    if (r->state == S_DONE)
        res = FK_PARSE_OK;
    *used_out = i;
    return res;
}

/* ---- BDAT ------------------------------------------------------------------------- */

#define BDAT_DIGITS_MAX 19 /* fits in uint64_t */

int fk_bdat_parse(const char *line, size_t len, uint64_t *size_out, bool *last_out)
{
    if (len < 6 || strncasecmp(line, "BDAT ", 5) != 0)
        return -1;
    size_t i = 5, start = 5;
    uint64_t n = 0;
    while (i < len && line[i] >= '0' && line[i] <= '9' && i - start < BDAT_DIGITS_MAX)
        n = n * 10 + (uint64_t)(line[i++] - '0');
    if (i == start || (i < len && line[i] >= '0' && line[i] <= '9'))
        return -1;
    bool last = false;
    if (i < len) {
        if (len - i != 5 || strncasecmp(line + i, " LAST", 5) != 0)
            return -1;
        last = true;
    }
    *size_out = n;
    *last_out = last;
    return 0;
}
