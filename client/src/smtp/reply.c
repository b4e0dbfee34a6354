/*
 * smtp/reply.c: the SMTP reply parser (see reply.h).
 * RFC 5321 4.2 (reply lines and codes), RFC 3463 / RFC 2034 (enhanced
 * status codes).  A byte state machine: one handler per state, chosen from
 * a table, so any chunking of the input gives the same reply.
 */
#include "smtp/reply.h"

#include <string.h>

/* Bytes of the offending line quoted in an error message (escaped). */
#define REPLY_QUOTE_MAX 80

void mj_smtp_parser_init(mj_smtp_parser *p)
{
    p->state = MJ_SMTP_P_CODE;
    p->ndigits = 0;
    p->last = false;
    p->line_len = 0;
    p->reply.code = 0;
    p->reply.enhanced[0] = '\0';
    p->reply.n_lines = 0;
    p->reply.text_len = 0;
    p->reply.text[0] = '\0';
}

const char *mj_smtp_reply_line(const mj_smtp_reply *r, size_t i, size_t *len_out)
{
    if (i >= r->n_lines) {
        if (len_out != NULL)
            *len_out = 0;
        return "";
    }
    if (len_out != NULL)
        *len_out = r->line_len[i];
    return r->text + r->line_off[i];
}

/* The current line's text so far, escaped, for a message. */
static const char *quote_line(const mj_smtp_parser *p, char *buf, size_t size)
{
    char raw[REPLY_QUOTE_MAX];
    size_t n = 0;
    for (unsigned i = 0; i < p->ndigits && n < sizeof raw; i++)
        raw[n++] = p->digits[i];
    const mj_smtp_reply *r = &p->reply;
    if (p->state != MJ_SMTP_P_CODE && p->state != MJ_SMTP_P_SEP && r->n_lines > 0) {
        size_t off = r->line_off[r->n_lines - 1];
        size_t have = r->text_len - off;
        size_t take = have < sizeof raw - n ? have : sizeof raw - n;
        memcpy(raw + n, r->text + off, take);
        n += take;
    }
    return mj_escape(raw, n, buf, size);
}

static mj_parse_result malformed(const mj_smtp_parser *p, mj_error *err, const char *why,
                                 unsigned char b)
{
    char q[REPLY_QUOTE_MAX * 4 + 4];
    char bq[8];
    mj_escape(&b, 1, bq, sizeof bq);
    mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_MALFORMED, "malformed SMTP reply: %s (line '%s', then '%s')",
                 why, quote_line(p, q, sizeof q), bq);
    return MJ_PARSE_ERROR;
}

/* Append one text byte to the reply (room for the line's NUL is kept). */
static mj_parse_result put_text(mj_smtp_parser *p, unsigned char b, mj_error *err)
{
    mj_smtp_reply *r = &p->reply;
    if (r->text_len + 2 > MJ_SMTP_REPLY_TEXT_MAX) {
        mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_REPLY_TOO_LARGE,
                     "SMTP reply longer than %zu bytes of text (MJ_SMTP_REPLY_TEXT_MAX)",
                     (size_t)MJ_SMTP_REPLY_TEXT_MAX);
        return MJ_PARSE_ERROR;
    }
    r->text[r->text_len++] = (char)b;
    return MJ_PARSE_NEED_MORE;
}

static bool digit_ok(unsigned pos, unsigned char b)
{
    static const char lo[3] = {'2', '0', '0'};
    static const char hi[3] = {'5', '5', '9'};
    return b >= (unsigned char)lo[pos] && b <= (unsigned char)hi[pos];
}

/* A new line: its code must be well-formed and agree with the first line's. */
static mj_parse_result code_done(mj_smtp_parser *p, mj_error *err)
{
    mj_smtp_reply *r = &p->reply;
    unsigned code = (unsigned)(p->digits[0] - '0') * 100 + (unsigned)(p->digits[1] - '0') * 10 +
                    (unsigned)(p->digits[2] - '0');
    if (r->n_lines == 0) {
        r->code = code;
    } else if (code != r->code) {
        mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_MALFORMED,
                     "malformed SMTP reply: a multi-line reply's codes disagree (%u, then %u)",
                     r->code, code);
        return MJ_PARSE_ERROR;
    }
    if (r->n_lines >= MJ_SMTP_REPLY_LINES_MAX) {
        mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_REPLY_TOO_LARGE,
                     "SMTP reply of more than %d lines (MJ_SMTP_REPLY_LINES_MAX)",
                     MJ_SMTP_REPLY_LINES_MAX);
        return MJ_PARSE_ERROR;
    }
    r->line_off[r->n_lines] = r->text_len;
    r->line_len[r->n_lines] = 0;
    r->n_lines++;
    p->state = MJ_SMTP_P_SEP;
    return MJ_PARSE_NEED_MORE;
}

static mj_parse_result st_code(mj_smtp_parser *p, unsigned char b, mj_error *err)
{
    if (!digit_ok(p->ndigits, b))
        return malformed(p, err, "a reply line starts with a three-digit code 200-559", b);
    p->digits[p->ndigits++] = (char)b;
    return p->ndigits == 3 ? code_done(p, err) : MJ_PARSE_NEED_MORE;
}

/*
 * "d.d.d" (1-3 digits after each dot) at s[0..len), followed by SP or the
 * end; class must equal the reply's first digit.  Returns its length, or 0.
 */
static size_t enhanced_len(const char *s, size_t len, char cls)
{
    if (len < 5 || s[0] != cls || (cls != '2' && cls != '4' && cls != '5') || s[1] != '.')
        return 0;
    size_t i = 2;
    for (int part = 0; part < 2; part++) {
        size_t start = i;
        while (i < len && i - start < 4 && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start || i - start > 3)
            return 0;
        if (part == 0 && (i >= len || s[i++] != '.'))
            return 0;
    }
    return (i == len || s[i] == ' ') ? i : 0;
}

/* The line is complete: terminate its text, strip an enhanced code. */
static mj_parse_result line_done(mj_smtp_parser *p)
{
    mj_smtp_reply *r = &p->reply;
    size_t i = r->n_lines - 1;
    r->line_len[i] = r->text_len - r->line_off[i];
    r->text[r->text_len++] = '\0';
    char *t = r->text + r->line_off[i];
    size_t n = enhanced_len(t, r->line_len[i], p->digits[0]);
    if (n > 0) {
        if (i == 0 && n < MJ_SMTP_ENHANCED_MAX) {
            memcpy(r->enhanced, t, n);
            r->enhanced[n] = '\0';
        }
        size_t skip = n < r->line_len[i] ? n + 1 : n;
        r->line_off[i] += skip;
        r->line_len[i] -= skip;
    }
    p->ndigits = 0;
    p->line_len = 0;
    p->state = p->last ? MJ_SMTP_P_DONE : MJ_SMTP_P_CODE;
    return p->last ? MJ_PARSE_OK : MJ_PARSE_NEED_MORE;
}

static mj_parse_result st_sep(mj_smtp_parser *p, unsigned char b, mj_error *err)
{
    p->state = MJ_SMTP_P_TEXT;
    switch (b) {
    case '-':
        p->last = false;
        return MJ_PARSE_NEED_MORE;
    case ' ':
        p->last = true;
        return MJ_PARSE_NEED_MORE;
    case '\r':
        p->last = true;
        p->state = MJ_SMTP_P_CR;
        return MJ_PARSE_NEED_MORE;
    case '\n':
        p->last = true;
        return line_done(p);
    default:
        p->state = MJ_SMTP_P_SEP;
        return malformed(p, err, "after the code comes '-', ' ' or the end of the line", b);
    }
}

static mj_parse_result st_text(mj_smtp_parser *p, unsigned char b, mj_error *err)
{
    if (b == '\n')
        return line_done(p);
    if (b == '\r') {
        p->state = MJ_SMTP_P_CR;
        return MJ_PARSE_NEED_MORE;
    }
    return put_text(p, b, err);
}

static mj_parse_result st_cr(mj_smtp_parser *p, unsigned char b, mj_error *err)
{
    if (b == '\n')
        return line_done(p);
    /* A CR inside the line is text; b is then read as text again. */
    p->state = MJ_SMTP_P_TEXT;
    mj_parse_result r = put_text(p, '\r', err);
    return r != MJ_PARSE_NEED_MORE ? r : st_text(p, b, err);
}

typedef mj_parse_result (*state_fn)(mj_smtp_parser *p, unsigned char b, mj_error *err);

static const state_fn state_table[] = {
    [MJ_SMTP_P_CODE] = st_code,
    [MJ_SMTP_P_SEP] = st_sep,
    [MJ_SMTP_P_TEXT] = st_text,
    [MJ_SMTP_P_CR] = st_cr,
};

mj_parse_result mj_smtp_parse(mj_smtp_parser *p, const void *data, size_t len,
                              size_t *consumed_out, mj_error *err)
{
    const unsigned char *d = data;
    if (p->state == MJ_SMTP_P_DONE)
        mj_smtp_parser_init(p);
    for (size_t i = 0; i < len; i++) {
        if (++p->line_len > MJ_SMTP_LINE_MAX) {
            *consumed_out = i;
            mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_LINE_TOO_LONG,
                         "SMTP reply line longer than %d bytes (MJ_SMTP_LINE_MAX)",
                         MJ_SMTP_LINE_MAX);
            return MJ_PARSE_ERROR;
        }
        mj_parse_result r = state_table[p->state](p, d[i], err);
        if (r != MJ_PARSE_NEED_MORE) {
            *consumed_out = r == MJ_PARSE_OK ? i + 1 : i;
            return r;
        }
    }
    *consumed_out = len;
    return MJ_PARSE_NEED_MORE;
}
