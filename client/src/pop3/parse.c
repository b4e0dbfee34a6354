/*
 * pop3/parse.c: the POP3 parsers, without I/O (see pop3_parse.h).
 * RFC 1939 §3 (status, multi-line, byte-stuffing), §5 (scan listing), §7
 * (unique-id listing, APOP timestamp); RFC 2449 §5, §8 (CAPA, response
 * codes); RFC 3206 (SYS, AUTH codes); RFC 5034 §4 (AUTH continuation);
 * RFC 6856 (UTF8); RFC 5322 §3.6.4 (msg-id).
 */
#include "pop3/pop3_parse.h"

#include <string.h>
#include <strings.h>

/* Most bytes of a bad line quoted in an error message (escaped). */
#define QUOTE_MAX 120

static mj_parse_result malformed(mj_error *err, const char *what, const char *s, size_t len)
{
    char q[QUOTE_MAX * 4 + 4];
    mj_escape(s, len < QUOTE_MAX ? len : QUOTE_MAX, q, sizeof q);
    mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_MALFORMED, "malformed POP3 %s: \"%s\"%s", what, q,
                 len > QUOTE_MAX ? "..." : "");
    return MJ_PARSE_ERROR;
}

/* ---- lines ------------------------------------------------------------------ */

void mj_pop3_line_reset(mj_pop3_line *l, size_t max)
{
    l->max = max <= MJ_POP3_LINE_BUF - 2 ? max : MJ_POP3_LINE_BUF - 2;
    l->len = 0;
    l->buf[0] = '\0';
}

mj_parse_result mj_pop3_line_feed(mj_pop3_line *l, const unsigned char *in, size_t n,
                                  size_t *consumed_out, const char *what, mj_error *err)
{
    const unsigned char *lf = memchr(in, '\n', n);
    size_t take = lf != NULL ? (size_t)(lf - in) : n;
    /* max content bytes plus a CR that may turn out to be the terminator's */
    if (take > l->max + 1 - l->len) {
        *consumed_out = 0;
        mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_LINE_TOO_LONG,
                     "POP3 %s longer than the limit of %zu bytes", what, l->max);
        return MJ_PARSE_ERROR;
    }
    memcpy(l->buf + l->len, in, take);
    l->len += take;
    if (lf == NULL) {
        *consumed_out = n;
        return MJ_PARSE_NEED_MORE;
    }
    *consumed_out = take + 1;
    if (l->len > 0 && l->buf[l->len - 1] == '\r')
        l->len--;
    l->buf[l->len] = '\0';
    if (l->len > l->max) { /* max + 1 bytes without a CR before the LF */
        mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_LINE_TOO_LONG,
                     "POP3 %s longer than the limit of %zu bytes", what, l->max);
        return MJ_PARSE_ERROR;
    }
    return MJ_PARSE_OK;
}

/* ---- response codes ------------------------------------------------------------ */

/* The code table (RFC 2449 §8.1, RFC 3206 §4, RFC 6856 §3). */
static const struct {
    const char *text;
    mj_pop3_code code;
    mj_outcome outcome;
} code_table[] = {
    {"IN-USE", MJ_POP3_CODE_IN_USE, MJ_SERVER_BUSY},
    {"LOGIN-DELAY", MJ_POP3_CODE_LOGIN_DELAY, MJ_SERVER_BUSY},
    {"SYS/TEMP", MJ_POP3_CODE_SYS_TEMP, MJ_SERVER_BUSY},
    {"SYS/PERM", MJ_POP3_CODE_SYS_PERM, MJ_SERVER_REFUSED},
    {"AUTH", MJ_POP3_CODE_AUTH, MJ_AUTH_FAILED},
    {"UTF8", MJ_POP3_CODE_UTF8, MJ_SERVER_REFUSED},
};

mj_pop3_code mj_pop3_code_from_text(const char *text, size_t len)
{
    for (size_t i = 0; i < sizeof code_table / sizeof code_table[0]; i++) {
        size_t n = strlen(code_table[i].text);
        /* whole levels: "SYS/TEMP/X" matches SYS/TEMP, "SYSTEM" does not match SYS */
        if (len >= n && strncasecmp(text, code_table[i].text, n) == 0 &&
            (len == n || text[n] == '/'))
            return code_table[i].code;
    }
    return MJ_POP3_CODE_UNKNOWN;
}

mj_outcome mj_pop3_code_outcome(mj_pop3_code code, mj_outcome fallback)
{
    for (size_t i = 0; i < sizeof code_table / sizeof code_table[0]; i++) {
        if (code_table[i].code == code)
            return code_table[i].outcome;
    }
    return fallback;
}

/* "[" code "]" at the start of text: fill the code fields, advance the text. */
static void take_code(mj_pop3_status *st)
{
    if (st->text_len < 2 || st->text[0] != '[')
        return;
    size_t limit = st->text_len < MJ_POP3_CODE_TEXT_MAX + 2 ? st->text_len
                                                            : MJ_POP3_CODE_TEXT_MAX + 2;
    const char *close = memchr(st->text, ']', limit);
    if (close == NULL)
        return;
    st->code_text = st->text + 1;
    st->code_len = (size_t)(close - st->text) - 1;
    st->code = mj_pop3_code_from_text(st->code_text, st->code_len);
    size_t used = (size_t)(close - st->text) + 1;
    if (used < st->text_len && st->text[used] == ' ')
        used++;
    st->text += used;
    st->text_len -= used;
}

/* The indicators, in the order they are tried. */
static const struct {
    const char *word;
    mj_pop3_kind kind;
} indicators[] = {
    {"+OK", MJ_POP3_KIND_OK},
    {"-ERR", MJ_POP3_KIND_ERR},
    {"+", MJ_POP3_KIND_CONT},
};

mj_parse_result mj_pop3_parse_status(const char *line, size_t len, bool allow_cont,
                                     mj_pop3_status *out, mj_error *err)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sizeof indicators / sizeof indicators[0]; i++) {
        size_t n = strlen(indicators[i].word);
        if (len < n || memcmp(line, indicators[i].word, n) != 0)
            continue;
        if (len > n && line[n] != ' ')
            continue; /* "+OKAY" is not "+OK"; may still be malformed "+" below */
        if (indicators[i].kind == MJ_POP3_KIND_CONT && !allow_cont)
            break;
        out->kind = indicators[i].kind;
        out->text = line + (len > n ? n + 1 : n);
        out->text_len = len > n ? len - n - 1 : 0;
        if (out->kind != MJ_POP3_KIND_CONT)
            take_code(out);
        return MJ_PARSE_OK;
    }
    return malformed(err, "status line", line, len);
}

/* ---- multi-line bodies ------------------------------------------------------------ */

void mj_pop3_unstuff_init(mj_pop3_unstuff *u, uint64_t max)
{
    u->state = MJ_US_LINE_START;
    u->total = 0;
    u->max = max;
}

/*
 * One byte outside MJ_US_MID's fast path.  Writes to *o (advancing it) and
 * returns the next state.  The table of transitions:
 *   LINE_START  "."  -> DOT (dropped)     other -> emit, CR or MID
 *   CR          LF   -> emit, LINE_START  CR -> emit, CR   other -> emit, MID
 *   DOT         CR   -> DOT_CR (held)     other -> emit, CR or MID
 *   DOT_CR      LF   -> DONE              other -> emit CR, then as CR
 */
static mj_pop3_unstuff_state unstuff_byte(mj_pop3_unstuff_state st, unsigned char b,
                                          unsigned char **o)
{
    switch (st) {
    case MJ_US_LINE_START:
        if (b == '.')
            return MJ_US_DOT;
        break;
    case MJ_US_CR:
        if (b == '\n') {
            *(*o)++ = b;
            return MJ_US_LINE_START;
        }
        break;
    case MJ_US_DOT:
        if (b == '\r')
            return MJ_US_DOT_CR;
        break;
    case MJ_US_DOT_CR:
        if (b == '\n')
            return MJ_US_DONE;
        *(*o)++ = '\r';
        return unstuff_byte(MJ_US_CR, b, o);
    case MJ_US_MID:
    case MJ_US_DONE:
        break;
    }
    *(*o)++ = b;
    return b == '\r' ? MJ_US_CR : MJ_US_MID;
}

mj_parse_result mj_pop3_unstuff_feed(mj_pop3_unstuff *u, const unsigned char *in, size_t n,
                                     size_t *consumed_out, unsigned char *out,
                                     size_t *out_len_out, mj_error *err)
{
    unsigned char *o = out;
    mj_pop3_unstuff_state st = u->state;
    size_t i = 0;
    while (i < n && st != MJ_US_DONE) {
        if (st == MJ_US_MID) { /* fast path: copy up to the next CR */
            const unsigned char *cr = memchr(in + i, '\r', n - i);
            size_t span = cr != NULL ? (size_t)(cr - (in + i)) : n - i;
            memcpy(o, in + i, span);
            o += span;
            i += span;
            if (cr == NULL)
                break;
        }
        st = unstuff_byte(st, in[i], &o);
        i++;
    }
    size_t produced = (size_t)(o - out);
    *consumed_out = i;
    *out_len_out = 0;
    if (produced > u->max - u->total) {
        mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_STREAM_TOO_LARGE,
                     "POP3 message body longer than the limit of %llu bytes",
                     (unsigned long long)u->max);
        return MJ_PARSE_ERROR;
    }
    u->total += produced;
    u->state = st;
    *out_len_out = produced;
    return st == MJ_US_DONE ? MJ_PARSE_OK : MJ_PARSE_NEED_MORE;
}

/* ---- numbers and listings ------------------------------------------------------------ */

/* 1*DIGIT at s[*pos], at most max.  Advances *pos. */
static mj_parse_result parse_number(const char *s, size_t len, size_t *pos, uint64_t max,
                                    uint64_t *value_out, mj_error *err)
{
    size_t i = *pos;
    uint64_t v = 0;
    if (i >= len || s[i] < '0' || s[i] > '9')
        return malformed(err, "number", s, len);
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (max - d) / 10) {
            mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_NUMBER_OVERFLOW,
                         "POP3 number larger than %llu", (unsigned long long)max);
            return MJ_PARSE_ERROR;
        }
        v = v * 10 + d;
    }
    *pos = i;
    *value_out = v;
    return MJ_PARSE_OK;
}

mj_parse_result mj_pop3_parse_scan(const char *s, size_t len, bool allow_zero,
                                   uint32_t *number_out, uint64_t *size_out, mj_error *err)
{
    size_t pos = 0;
    uint64_t number = 0, size = 0;
    if (parse_number(s, len, &pos, UINT32_MAX, &number, err) != MJ_PARSE_OK)
        return MJ_PARSE_ERROR;
    if (number == 0 && !allow_zero)
        return malformed(err, "listing (message number 0)", s, len);
    if (pos >= len || s[pos] != ' ')
        return malformed(err, "listing", s, len);
    pos++;
    if (parse_number(s, len, &pos, INT64_MAX, &size, err) != MJ_PARSE_OK)
        return MJ_PARSE_ERROR;
    if (pos < len && s[pos] != ' ')
        return malformed(err, "listing", s, len);
    *number_out = (uint32_t)number;
    *size_out = size;
    return MJ_PARSE_OK;
}

mj_parse_result mj_pop3_parse_uid(const char *s, size_t len, uint32_t *number_out,
                                  char uid_out[MJ_POP3_UID_MAX + 1], mj_error *err)
{
    size_t pos = 0;
    uint64_t number = 0;
    if (parse_number(s, len, &pos, UINT32_MAX, &number, err) != MJ_PARSE_OK)
        return MJ_PARSE_ERROR;
    if (number == 0 || pos >= len || s[pos] != ' ')
        return malformed(err, "unique-id listing", s, len);
    pos++;
    size_t end = len;
    while (end > pos && (s[end - 1] == ' ' || s[end - 1] == '\t'))
        end--;
    size_t n = end - pos;
    if (n == 0 || n > MJ_POP3_UID_MAX)
        return malformed(err, "unique-id (1 to 70 characters)", s, len);
    for (size_t i = pos; i < end; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c > 0x7e)
            return malformed(err, "unique-id (characters 0x21-0x7E only)", s, len);
    }
    memcpy(uid_out, s + pos, n);
    uid_out[n] = '\0';
    *number_out = (uint32_t)number;
    return MJ_PARSE_OK;
}

/* ---- CAPA ------------------------------------------------------------------------------ */

static const struct {
    const char *name;
    unsigned bit;
} capa_table[] = {
    {"TOP", MJ_POP3_CAP_TOP},
    {"USER", MJ_POP3_CAP_USER},
    {"SASL", MJ_POP3_CAP_SASL},
    {"RESP-CODES", MJ_POP3_CAP_RESP_CODES},
    {"LOGIN-DELAY", MJ_POP3_CAP_LOGIN_DELAY},
    {"PIPELINING", MJ_POP3_CAP_PIPELINING},
    {"EXPIRE", MJ_POP3_CAP_EXPIRE},
    {"UIDL", MJ_POP3_CAP_UIDL},
    {"IMPLEMENTATION", MJ_POP3_CAP_IMPLEMENTATION},
    {"STLS", MJ_POP3_CAP_STLS},
    {"UTF8", MJ_POP3_CAP_UTF8},
    {"AUTH-RESP-CODE", MJ_POP3_CAP_AUTH_RESP_CODE},
};

mj_parse_result mj_pop3_parse_capa_line(const char *line, size_t len, mj_pop3_caps *caps,
                                        mj_error *err)
{
    if (caps->n_lines >= MJ_POP3_CAPA_LINES_MAX) {
        mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_REPLY_TOO_LARGE,
                     "POP3 CAPA reply longer than the limit of %d lines",
                     MJ_POP3_CAPA_LINES_MAX);
        return MJ_PARSE_ERROR;
    }
    mj_escape(line, len, caps->lines[caps->n_lines], sizeof caps->lines[0]);
    caps->n_lines++;
    const char *sp = memchr(line, ' ', len);
    size_t name_len = sp != NULL ? (size_t)(sp - line) : len;
    for (size_t i = 0; i < sizeof capa_table / sizeof capa_table[0]; i++) {
        if (strlen(capa_table[i].name) != name_len ||
            strncasecmp(line, capa_table[i].name, name_len) != 0)
            continue;
        caps->bits |= capa_table[i].bit;
        if (capa_table[i].bit == MJ_POP3_CAP_SASL && sp != NULL) {
            char list[MJ_POP3_DATA_LINE_MAX + 1];
            size_t n = len - name_len - 1;
            memcpy(list, sp + 1, n); /* len <= MJ_POP3_DATA_LINE_MAX: the line cap */
            list[n] = '\0';
            caps->sasl |= mj_sasl_set_parse(list);
        }
        break;
    }
    return MJ_PARSE_OK;
}

/* ---- APOP timestamp --------------------------------------------------------------------- */

static bool is_atext(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* dot-atom-text = 1*atext *("." 1*atext) */
static bool is_dot_atom(const char *s, size_t len)
{
    if (len == 0 || s[0] == '.' || s[len - 1] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.' ? s[i + 1] == '.' : !is_atext(c))
            return false;
    }
    return true;
}

/* "[" *dtext "]", dtext = %d33-90 / %d94-126 */
static bool is_domain_literal(const char *s, size_t len)
{
    if (len < 2 || s[0] != '[' || s[len - 1] != ']')
        return false;
    for (size_t i = 1; i + 1 < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 33 || c > 126 || c == '[' || c == ']' || c == '\\')
            return false;
    }
    return true;
}

mj_parse_result mj_pop3_apop_timestamp(const char *text, size_t len, char *out, size_t out_size,
                                       mj_error *err)
{
    const char *lt = memchr(text, '<', len);
    if (lt == NULL) {
        mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_MALFORMED, "no APOP timestamp in the greeting");
        return MJ_PARSE_ERROR;
    }
    size_t rest = len - (size_t)(lt - text);
    const char *gt = memchr(lt, '>', rest);
    size_t n = gt != NULL ? (size_t)(gt - lt) + 1 : 0;
    if (gt == NULL || n > MJ_POP3_APOP_TIMESTAMP_MAX || n + 1 > out_size)
        return malformed(err, "APOP timestamp (unterminated or too long)", lt, rest);
    const char *inner = lt + 1;
    size_t inner_len = n - 2;
    const char *at = inner_len > 0 ? memchr(inner, '@', inner_len) : NULL;
    if (at == NULL)
        return malformed(err, "APOP timestamp (no '@')", lt, n);
    size_t left = (size_t)(at - inner);
    const char *right = at + 1;
    size_t right_len = inner_len - left - 1;
    if (!is_dot_atom(inner, left) ||
        !(is_dot_atom(right, right_len) || is_domain_literal(right, right_len)))
        return malformed(err, "APOP timestamp (not a msg-id)", lt, n);
    memcpy(out, lt, n);
    out[n] = '\0';
    return MJ_PARSE_OK;
}
