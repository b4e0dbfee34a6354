/*
 * imap/parser.c: the IMAP response parser of imap/parser.h.
 *
 * RFC 9051 section 9 (response, continue-req, response-data,
 * response-tagged, resp-text, resp-text-code, literal, quoted, atom,
 * number64), RFC 3516 (literal8) and RFC 7162 (mod-sequence-value).
 *
 * How it resumes: bytes are framed into lines (up to LF).  A line that is
 * complete inside the caller's buffer is tokenized in place; a line split
 * across calls is gathered in a buffer capped by line_max first.  A line that
 * ends in a literal count switches to literal mode, which copies (inline) or
 * passes to the sink (streamed) exactly n bytes, whatever they are, then
 * the next line continues the same response.  The stack of open lists
 * survives between lines, so a list may span literals.  Each line is thus
 * tokenized exactly once, whatever the chunking: one byte at a time and all
 * at once give the same tree by construction.
 *
 * Functions that return a position return POS_ERR on failure, after fail()
 * latched the error (or, in quiet mode, only noted it).
 */
#include "imap/parser.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POS_ERR SIZE_MAX
/* Largest value of number64 (RFC 9051: 0 <= n < 2^63). */
#define NUMBER64_MAX ((uint64_t)INT64_MAX)
/* Smallest arena block, and the largest one kept between responses. */
#define ARENA_BLOCK_MIN ((size_t)4096)
#define ARENA_KEEP_MAX ((size_t)1024 * 1024)
/* First size of the buffer for lines split across calls. */
#define LINEBUF_MIN ((size_t)256)
/* Bytes of the line quoted in an error message, before and after the spot. */
#define QUOTE_BEFORE 80
#define QUOTE_AFTER 40
#define QUOTE_BUF 400

typedef struct arena_block {
    struct arena_block *next;
    size_t cap, used;
} arena_block;
#define BLOCK_HDR ((sizeof(arena_block) + 15) & ~(size_t)15)

/* What may come next in data: after a token, after a ')', after SP, after
   '('.  After ')' a '(' may follow with no SP: body-type-mpart = 1*body SP
   media-subtype (RFC 9051) puts the parts of a multipart side by side. */
enum sep { S_SEP, S_CLOSED, S_TOKEN, S_OPEN };
/* What the next bytes are: the first line of a response, a later line, a literal. */
enum mode { M_HEAD, M_DATA, M_LITERAL };
/* Result of one framing step. */
enum step { STEP_ERR, STEP_DONE, STEP_CONT };

struct level {
    mj_imap_node *list;
    mj_imap_node *last;
};

/* Byte classes of the hot loops (atom, quoted): one table lookup per byte,
   filled from atom_char() and the quoted rules by mj_imap_parser_new. */
enum byte_class {
    BC_ATOM = 1,      /* atom_char(c, false) */
    BC_ATOM_CODE = 2, /* atom_char(c, true) */
    BC_DIGIT = 4,     /* '0'..'9' */
    BC_QPLAIN = 8     /* stands for itself in a quoted string: 0x01-0x7f but '"', '\', CR, LF */
};

struct mj_imap_parser {
    mj_imap_limits lim;
    unsigned char cls[256]; /* enum byte_class bits of every byte */
    mj_imap_literal_sink sink;
    void *sink_ctx;
    /* arena of the current response */
    arena_block *blocks;
    size_t arena_used, last_used;
    /* a line split across calls */
    unsigned char *line;
    size_t line_len, line_cap;
    /* the response being built */
    mj_imap_response resp;
    mj_imap_node root;
    struct level *stack; /* depth_max + 1 levels; stack[0] is root */
    size_t *path;        /* depth_max + 1 indices, for the sink */
    unsigned depth;
    size_t tokens;
    enum mode mode;
    enum sep sep;
    size_t resp_off;     /* bytes of this response before the current line */
    const unsigned char *cur; /* the line being tokenized, for error messages */
    size_t cur_len;
    /* the literal being read */
    mj_imap_node *lit;
    const mj_imap_node *lit_prev;
    uint64_t lit_got;
    /* outcome */
    bool done;           /* the last call returned OK */
    bool failed;
    bool quiet;          /* best-effort tokenizing of code args: do not latch */
    bool quiet_failed;
    mj_error failure;
};

/* ---- errors ------------------------------------------------------------------ */

static void fail(mj_imap_parser *p, mj_outcome o, mj_reason r, const char *fmt, ...)
    MJ_PRINTF(4, 5);

static void fail(mj_imap_parser *p, mj_outcome o, mj_reason r, const char *fmt, ...)
{
    if (p->quiet) {
        p->quiet_failed = true;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    mj_error_setv(&p->failure, o, r, fmt, ap);
    va_end(ap);
    p->failed = true;
}

/* A protocol error at byte pos of the current line: names what was
   expected, where in the response, and quotes the line around the spot. */
static size_t fail_at(mj_imap_parser *p, size_t pos, mj_reason r, const char *what)
{
    char quote[QUOTE_BUF];
    size_t start = pos > QUOTE_BEFORE ? pos - QUOTE_BEFORE : 0;
    size_t end = pos + QUOTE_AFTER < p->cur_len ? pos + QUOTE_AFTER : p->cur_len;
    mj_escape(p->cur + start, end - start, quote, sizeof quote);
    fail(p, MJ_PROTOCOL_ERROR, r, "IMAP response: %s at byte %zu of '%s%s%s'", what,
         p->resp_off + pos, start > 0 ? "..." : "", quote, end < p->cur_len ? "..." : "");
    return POS_ERR;
}

/* ---- arena ------------------------------------------------------------------- */

static void *block_data(arena_block *b)
{
    return (unsigned char *)b + BLOCK_HDR;
}

static void arena_free_all(mj_imap_parser *p)
{
    while (p->blocks != NULL) {
        arena_block *next = p->blocks->next;
        free(p->blocks);
        p->blocks = next;
    }
}

static arena_block *block_new(size_t cap)
{
    arena_block *b = malloc(BLOCK_HDR + cap);
    if (b != NULL) {
        b->next = NULL;
        b->cap = cap;
        b->used = 0;
    }
    return b;
}

/* Empty the arena, keeping one block as large as the last response needed
   (up to ARENA_KEEP_MAX) so a steady stream of responses does not malloc. */
static void arena_reset(mj_imap_parser *p)
{
    if (p->blocks != NULL && p->blocks->next != NULL) {
        size_t total = 0;
        for (arena_block *b = p->blocks; b != NULL; b = b->next)
            total += b->cap;
        arena_free_all(p);
        p->blocks = block_new(total < ARENA_KEEP_MAX ? total : ARENA_KEEP_MAX);
    } else if (p->blocks != NULL) {
        p->blocks->used = 0;
    }
    p->arena_used = 0;
}

/* arena_alloc when the newest block has no room: a new block, or the limit. */
static void *arena_alloc_slow(mj_imap_parser *p, size_t n)
{
    if (n > p->lim.response_max || p->lim.response_max - n < p->arena_used) {
        fail(p, MJ_PROTOCOL_ERROR, MJ_R_REPLY_TOO_LARGE,
             "IMAP response: more than %zu bytes in memory (response_max)", p->lim.response_max);
        return NULL;
    }
    arena_block *b = p->blocks;
    if (b == NULL || b->cap - b->used < n) {
        size_t cap = b == NULL ? ARENA_BLOCK_MIN : b->cap * 2;
        if (cap > ARENA_KEEP_MAX)
            cap = ARENA_KEEP_MAX;
        if (cap < n)
            cap = n;
        b = block_new(cap);
        if (b == NULL) {
            fail(p, MJ_INTERNAL, MJ_R_NO_MEMORY, "IMAP response: out of memory");
            return NULL;
        }
        b->next = p->blocks;
        p->blocks = b;
    }
    void *ptr = (unsigned char *)block_data(b) + b->used;
    b->used += n;
    p->arena_used += n;
    return ptr;
}

/* n bytes, 8-aligned, for the current response; NULL after fail().  The
   common case (room in the newest block, under response_max) inline: it is
   called for every token.  arena_used never exceeds response_max. */
static inline void *arena_alloc(mj_imap_parser *p, size_t n)
{
    n = n > SIZE_MAX - 7 ? SIZE_MAX : (n + 7) & ~(size_t)7;
    arena_block *b = p->blocks;
    if (b == NULL || b->cap - b->used < n || p->lim.response_max - p->arena_used < n)
        return arena_alloc_slow(p, n);
    void *ptr = (unsigned char *)block_data(b) + b->used;
    b->used += n;
    p->arena_used += n;
    return ptr;
}

static char *arena_strdup(mj_imap_parser *p, const unsigned char *s, size_t n)
{
    char *d = arena_alloc(p, n + 1);
    if (d != NULL) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* ---- character classes (RFC 9051 section 9) --------------------------------------- */

/* ATOM-CHAR, widened as parser.h documents: '\', '%', '*' are accepted, and
   ']' (resp-specials) except inside a resp-text-code. */
static bool atom_char(unsigned char c, bool in_code)
{
    if (c <= 0x20 || c >= 0x7f)
        return false;
    switch (c) {
    case '(':
    case ')':
    case '{':
    case '"':
        return false;
    case ']':
        return !in_code;
    default:
        return true;
    }
}

/* tag = 1*<any ASTRING-CHAR except "+">; list-wildcards are not ASTRING-CHARs. */
static bool tag_char(unsigned char c)
{
    return atom_char(c, false) && c != '+' && c != '*' && c != '%' && c != '\\';
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* s[0, n) equals the upper-case ASCII word, ignoring case. */
static bool ci_eq(const unsigned char *s, size_t n, const char *word)
{
    size_t i = 0;
    for (; i < n && word[i] != '\0'; i++) {
        unsigned char c = s[i];
        if ((c >= 'a' && c <= 'z' ? c - 32 : c) != (unsigned char)word[i])
            return false;
    }
    return i == n && word[i] == '\0';
}

/* Length of the well-formed UTF-8 sequence (RFC 3629) at s, 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xbf;
    size_t k;
    if (c >= 0xc2 && c <= 0xdf) {
        k = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        k = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        k = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if (n < k || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < k; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return k;
}

/* Bytes of a text byte run starting at s[j] (>= 0x80), or 0 if refused. */
static size_t eight_bit_len(const mj_imap_parser *p, const unsigned char *s, size_t j, size_t m)
{
    size_t k = utf8_len(s + j, m - j);
    if (k == 0 && p->lim.eight_bit)
        k = 1;
    return k;
}

/* RFC 9051 text: TEXT-CHAR (no NUL, CR, LF) or UTF-8.  Returns m or POS_ERR. */
static size_t check_text(mj_imap_parser *p, const unsigned char *s, size_t pos, size_t m)
{
    for (size_t j = pos; j < m; j++) {
        unsigned char c = s[j];
        if (c == '\0' || c == '\r')
            return fail_at(p, j, MJ_R_MALFORMED, c ? "CR inside a line" : "NUL byte in text");
        if (c >= 0x80) {
            size_t k = eight_bit_len(p, s, j, m);
            if (k == 0)
                return fail_at(p, j, MJ_R_MALFORMED, "invalid UTF-8 in text");
            j += k - 1;
        }
    }
    return m;
}

/* ---- tree building ------------------------------------------------------------- */

/* A new token appended to the innermost open list, with text bytes s[0, len)
   copied NUL-terminated into the same allocation when s is not NULL (atoms,
   plain quoted strings: one arena call per token); NULL after fail(). */
static mj_imap_node *new_node_text(mj_imap_parser *p, mj_imap_kind kind, size_t pos,
                                   const unsigned char *s, size_t len)
{
    if (p->tokens >= p->lim.tokens_max) {
        fail_at(p, pos, MJ_R_TOO_MANY_TOKENS, "more tokens than tokens_max");
        return NULL;
    }
    size_t extra = s != NULL ? len + 1 : 0;
    mj_imap_node *n = arena_alloc(p, extra > SIZE_MAX - sizeof *n ? SIZE_MAX : sizeof *n + extra);
    if (n == NULL)
        return NULL;
    *n = (mj_imap_node){.kind = kind};
    if (s != NULL) {
        char *d = (char *)(n + 1);
        memcpy(d, s, len);
        d[len] = '\0';
        n->str = d;
        n->len = len;
    }
    struct level *lv = &p->stack[p->depth];
    if (lv->last == NULL)
        lv->list->first = n;
    else
        lv->last->next = n;
    lv->last = n;
    lv->list->count++;
    p->tokens++;
    return n;
}

static mj_imap_node *new_node(mj_imap_parser *p, mj_imap_kind kind, size_t pos)
{
    return new_node_text(p, kind, pos, NULL, 0);
}

static size_t open_list(mj_imap_parser *p, size_t pos)
{
    if (p->depth >= p->lim.depth_max)
        return fail_at(p, pos, MJ_R_NESTING_TOO_DEEP, "lists nested deeper than depth_max");
    mj_imap_node *n = new_node(p, MJ_IMAP_LIST, pos);
    if (n == NULL)
        return POS_ERR;
    p->depth++;
    p->stack[p->depth].list = n;
    p->stack[p->depth].last = NULL;
    p->sep = S_OPEN;
    return pos + 1;
}

static size_t close_list(mj_imap_parser *p, size_t pos)
{
    if (p->depth == 0)
        return fail_at(p, pos, MJ_R_MALFORMED, "')' without '('");
    p->depth--;
    p->sep = S_CLOSED;
    return pos + 1;
}

/* Digits s[pos, end) as number64; UINT64_MAX if they overflow 63 bits. */
static uint64_t digits_value(const unsigned char *s, size_t pos, size_t end)
{
    uint64_t v = 0;
    for (size_t j = pos; j < end; j++) {
        unsigned d = (unsigned)(s[j] - '0');
        if (v > (NUMBER64_MAX - d) / 10)
            return UINT64_MAX;
        v = v * 10 + d;
    }
    return v;
}

/* ---- tokens ------------------------------------------------------------------------ */

/* section = "[" [section-spec] "]" (RFC 9051): anything up to the matching
   ']' but CR, LF, NUL, 8-bit and '['; a ']' inside a quoted header name does
   not end it.  pos is at '['; returns the index after ']'. */
static size_t section_end(mj_imap_parser *p, const unsigned char *s, size_t m, size_t pos)
{
    bool quoted = false;
    for (size_t j = pos + 1; j < m; j++) {
        unsigned char c = s[j];
        if (c < 0x20 || c >= 0x7f || (c == '[' && !quoted))
            return fail_at(p, j, MJ_R_MALFORMED, "unexpected byte in a section '[...]'");
        if (quoted && c == '\\' && j + 1 < m)
            j++;
        else if (c == '"')
            quoted = !quoted;
        else if (c == ']' && !quoted)
            return j + 1;
    }
    return fail_at(p, m, MJ_R_MALFORMED, "expected ']' to end the section");
}

static size_t atom(mj_imap_parser *p, const unsigned char *s, size_t m, size_t pos, bool in_code)
{
    const unsigned char want = in_code ? BC_ATOM_CODE : BC_ATOM;
    size_t start = pos;
    while (pos < m && (p->cls[s[pos]] & BC_DIGIT))
        pos++;
    size_t digits_end = pos;
    while (pos < m && (p->cls[s[pos]] & want)) {
        if (s[pos] == '[' && !in_code)
            pos = section_end(p, s, m, pos);
        else
            pos++;
        if (pos == POS_ERR)
            return POS_ERR;
    }
    size_t len = pos - start;
    mj_imap_kind kind = MJ_IMAP_ATOM;
    uint64_t v = 0;
    if (digits_end == pos) { /* digits only (an atom has at least one byte) */
        v = digits_value(s, start, pos);
        if (v == UINT64_MAX)
            return fail_at(p, start, MJ_R_NUMBER_OVERFLOW, "number larger than 63 bits");
        kind = MJ_IMAP_NUMBER;
    } else if (len == 3 && ci_eq(s + start, len, "NIL")) {
        kind = MJ_IMAP_NIL;
    }
    mj_imap_node *n = new_node_text(p, kind, start, s + start, len);
    if (n == NULL)
        return POS_ERR;
    n->num = v;
    p->sep = S_SEP;
    return pos;
}

/* Length of the quoted string's content once unescaped; *end_out is the
   index of the closing '"'. */
static size_t quoted_scan(mj_imap_parser *p, const unsigned char *s, size_t m, size_t pos,
                          size_t *end_out)
{
    size_t out = 0, j;
    for (j = pos + 1; j < m && s[j] != '"'; j++, out++) {
        unsigned char c = s[j];
        if (c == '\\') {
            if (j + 1 >= m || (s[j + 1] != '"' && s[j + 1] != '\\'))
                return fail_at(p, j, MJ_R_MALFORMED, "bad escape in quoted string (only \\\\ and \\\")");
            j++;
        } else if (c == '\0' || c == '\r') {
            return fail_at(p, j, MJ_R_MALFORMED, c ? "CR in quoted string" : "NUL in quoted string");
        } else if (c >= 0x80) {
            size_t k = eight_bit_len(p, s, j, m);
            if (k == 0)
                return fail_at(p, j, MJ_R_MALFORMED, "invalid UTF-8 in quoted string");
            j += k - 1;
            out += k - 1;
        }
    }
    if (j >= m)
        return fail_at(p, m, MJ_R_MALFORMED, "expected '\"' to end the quoted string");
    *end_out = j;
    return out;
}

static size_t quoted(mj_imap_parser *p, const unsigned char *s, size_t m, size_t pos)
{
    /* The common case first: no escape, no 8-bit byte, copied in one go. */
    size_t close = pos + 1;
    while (close < m && (p->cls[s[close]] & BC_QPLAIN))
        close++;
    if (close < m && s[close] == '"') {
        if (new_node_text(p, MJ_IMAP_QUOTED, pos, s + pos + 1, close - pos - 1) == NULL)
            return POS_ERR;
        p->sep = S_SEP;
        return close + 1;
    }
    size_t end = pos;
    size_t len = quoted_scan(p, s, m, pos, &end);
    if (len == POS_ERR)
        return POS_ERR;
    mj_imap_node *n = new_node(p, MJ_IMAP_QUOTED, pos);
    char *d = n ? arena_alloc(p, len + 1) : NULL;
    if (d == NULL)
        return POS_ERR;
    size_t o = 0;
    for (size_t j = pos + 1; j < end; j++) {
        if (s[j] == '\\')
            j++;
        d[o++] = (char)s[j];
    }
    d[o] = '\0';
    n->str = d;
    n->len = len;
    p->sep = S_SEP;
    return end + 1;
}

/* The "{n}" or "~{n}" count ending the line, digits at pos: *v_out, and m
   or POS_ERR. */
static size_t literal_count(mj_imap_parser *p, const unsigned char *s, size_t m, size_t pos,
                            uint64_t *v_out)
{
    size_t j = pos, start = pos;
    while (j < m && is_digit(s[j]))
        j++;
    if (j == start)
        return fail_at(p, j, MJ_R_MALFORMED, "expected digits in the literal count");
    uint64_t v = digits_value(s, start, j);
    if (v == UINT64_MAX)
        return fail_at(p, start, MJ_R_NUMBER_OVERFLOW, "literal count larger than 63 bits");
    if (j < m && (s[j] == '+' || s[j] == '-'))
        return fail_at(p, j, MJ_R_MALFORMED, "client-side literal {n+}/{n-} from the server");
    if (j >= m || s[j] != '}')
        return fail_at(p, j, MJ_R_MALFORMED, "expected '}' after the literal count");
    if (j + 1 != m)
        return fail_at(p, j + 1, MJ_R_MALFORMED, "expected CRLF after the literal count");
    if (v > p->lim.literal_max) {
        fail(p, MJ_PROTOCOL_ERROR, MJ_R_STREAM_TOO_LARGE,
             "IMAP response: literal of %llu bytes is larger than literal_max (%llu)",
             (unsigned long long)v, (unsigned long long)p->lim.literal_max);
        return POS_ERR;
    }
    *v_out = v;
    return m;
}

/* literal = "{" number64 "}" CRLF *CHAR8; literal8 = "~{" number64 "}" CRLF
   *OCTET.  Must end the line; the bytes follow in literal mode. */
static size_t literal(mj_imap_parser *p, const unsigned char *s, size_t m, size_t pos, bool lit8)
{
    uint64_t v = 0;
    if (literal_count(p, s, m, pos + (lit8 ? 2 : 1), &v) == POS_ERR)
        return POS_ERR;
    const mj_imap_node *prev = p->stack[p->depth].last;
    mj_imap_node *n = new_node(p, MJ_IMAP_LITERAL, pos);
    if (n == NULL)
        return POS_ERR;
    n->num = v;
    n->literal8 = lit8;
    if (v <= p->lim.literal_inline_max) {
        char *d = arena_alloc(p, (size_t)v + 1);
        if (d == NULL)
            return POS_ERR;
        d[v] = '\0';
        n->str = d;
        n->len = (size_t)v;
    } else {
        n->streamed = true;
    }
    p->lit = n;
    p->lit_prev = prev;
    p->lit_got = 0;
    p->sep = S_SEP;
    /* A {0} literal is complete already; the response still goes on. */
    p->mode = v > 0 ? M_LITERAL : M_DATA;
    return m;
}

static size_t token(mj_imap_parser *p, const unsigned char *s, size_t m, size_t pos, bool in_code)
{
    unsigned char c = s[pos];
    if (c == '(')
        return open_list(p, pos);
    if (c == '"')
        return quoted(p, s, m, pos);
    if (c == '{' && !in_code)
        return literal(p, s, m, pos, false);
    if (c == '~' && pos + 1 < m && s[pos + 1] == '{' && !in_code)
        return literal(p, s, m, pos, true);
    if (atom_char(c, in_code))
        return atom(p, s, m, pos, in_code);
    return fail_at(p, pos, MJ_R_MALFORMED, "expected an atom, number, string, literal or '('");
}

/* After a SP: another token must follow, except where a tolerance allows
   the SP before ')' or before CRLF (checked at the end of the line). */
static size_t after_space(mj_imap_parser *p, const unsigned char *s, size_t m, size_t pos)
{
    pos++;
    p->sep = S_TOKEN;
    if (pos < m && s[pos] == ')') {
        if (!p->lim.space_before_close)
            return fail_at(p, pos - 1, MJ_R_MALFORMED,
                           "unexpected SP before ')' (strict: tolerance space-before-close is off)");
        p->sep = S_SEP;
    } else if (pos < m && s[pos] == ' ') {
        return fail_at(p, pos, MJ_R_MALFORMED, "two SP in a row");
    }
    return pos;
}

/* Tokens of s[pos, m) into the open lists.  Stops at the end of the line or
   after a literal count (p->mode is then M_LITERAL). */
static size_t tokens_run(mj_imap_parser *p, const unsigned char *s, size_t m, size_t pos,
                         bool in_code)
{
    while (pos < m && pos != POS_ERR && p->mode != M_LITERAL) {
        unsigned char c = s[pos];
        bool after = p->sep == S_SEP || p->sep == S_CLOSED;
        if (after && c == ' ')
            pos = after_space(p, s, m, pos);
        else if (c == ')' && p->sep != S_TOKEN)
            pos = close_list(p, pos);
        else if (p->sep == S_CLOSED && c == '(')
            pos = open_list(p, pos);
        else if (after)
            pos = fail_at(p, pos, MJ_R_MALFORMED, "expected SP or ')'");
        else
            pos = token(p, s, m, pos, in_code);
    }
    return pos;
}

/* A line of data (after the response name, or after a literal). */
static enum step data_line(mj_imap_parser *p, const unsigned char *s, size_t m, size_t pos)
{
    pos = tokens_run(p, s, m, pos, false);
    if (pos == POS_ERR)
        return STEP_ERR;
    if (p->lit != NULL) {
        if (p->mode != M_LITERAL)
            p->lit = NULL;
        return STEP_CONT;
    }
    if (p->sep == S_TOKEN && !p->lim.trailing_space) {
        fail_at(p, m - 1, MJ_R_MALFORMED,
                "unexpected SP at the end of the line (strict: tolerance trailing-space is off)");
        return STEP_ERR;
    }
    if (p->depth > 0) {
        fail_at(p, m, MJ_R_MALFORMED, "expected ')'");
        return STEP_ERR;
    }
    return STEP_DONE;
}

/* ---- resp-text ------------------------------------------------------------------- */

/* The args of a resp-text-code as tokens, if they tokenize cleanly. */
static void code_tokens(mj_imap_parser *p, const unsigned char *s, size_t pos, size_t end)
{
    mj_imap_node root = {.kind = MJ_IMAP_LIST};
    struct level saved = p->stack[0];
    p->stack[0] = (struct level){&root, NULL};
    p->sep = S_TOKEN;
    p->quiet = true;
    p->quiet_failed = false;
    size_t r = tokens_run(p, s, end, pos, true);
    bool ok = r != POS_ERR && !p->quiet_failed && p->depth == 0 &&
              (p->sep == S_SEP || p->sep == S_CLOSED);
    p->quiet = false;
    p->depth = 0;
    p->stack[0] = saved;
    if (ok) {
        p->resp.code_data = root.first;
        p->resp.n_code_data = root.count;
    }
}

/* "[" resp-text-code "]": pos at '['; returns the index after "] ". */
static size_t resp_code(mj_imap_parser *p, const unsigned char *s, size_t m, size_t pos)
{
    const unsigned char *close = memchr(s + pos, ']', m - pos);
    if (close == NULL)
        return fail_at(p, m, MJ_R_MALFORMED, "expected ']' to end the response code");
    size_t end = (size_t)(close - s), q = pos + 1;
    while (q < end && atom_char(s[q], true) && s[q] != '[')
        q++;
    if (q == pos + 1 || (q < end && s[q] != ' '))
        return fail_at(p, q, MJ_R_MALFORMED, "expected a response code name");
    size_t args = q < end ? q + 1 : end;
    if (check_text(p, s, args, end) == POS_ERR)
        return POS_ERR;
    p->resp.code = arena_strdup(p, s + pos + 1, q - pos - 1);
    p->resp.code_args = arena_strdup(p, s + args, end - args);
    if (p->resp.code == NULL || p->resp.code_args == NULL)
        return POS_ERR;
    if (args < end)
        code_tokens(p, s, args, end);
    if (end + 1 == m && p->lim.code_without_space)
        return m;
    if (end + 1 == m)
        return fail_at(p, end + 1, MJ_R_MALFORMED,
                       "expected SP after the response code (strict: tolerance code-without-space is off)");
    if (s[end + 1] != ' ')
        return fail_at(p, end + 1, MJ_R_MALFORMED, "expected SP after the response code");
    return end + 2;
}

/* resp-text = ["[" resp-text-code "]" SP] [text], pos after the SP. */
static enum step resp_text(mj_imap_parser *p, const unsigned char *s, size_t m, size_t pos)
{
    if (pos < m && s[pos] == '[')
        pos = resp_code(p, s, m, pos);
    if (pos == POS_ERR || check_text(p, s, pos, m) == POS_ERR)
        return STEP_ERR;
    p->resp.text = arena_strdup(p, s + pos, m - pos);
    p->resp.text_len = m - pos;
    return p->resp.text == NULL ? STEP_ERR : STEP_DONE;
}

/* After OK/NO/BAD/BYE/PREAUTH: SP resp-text, or nothing if tolerated. */
static enum step status_text(mj_imap_parser *p, const unsigned char *s, size_t m, size_t pos)
{
    if (pos == m && p->lim.status_without_text)
        return resp_text(p, s, m, m);
    if (pos == m) {
        fail_at(p, m, MJ_R_MALFORMED,
                "expected SP and text after the status (strict: tolerance status-without-text is off)");
        return STEP_ERR;
    }
    return resp_text(p, s, m, pos + 1);
}

/* ---- the first line ---------------------------------------------------------------- */

static const struct {
    const char *word;
    mj_imap_status status;
} status_words[] = {
    {"OK", MJ_IMAP_ST_OK},   {"NO", MJ_IMAP_ST_NO},           {"BAD", MJ_IMAP_ST_BAD},
    {"BYE", MJ_IMAP_ST_BYE}, {"PREAUTH", MJ_IMAP_ST_PREAUTH},
};

static mj_imap_status status_of(const unsigned char *name, size_t len)
{
    for (size_t i = 0; i < sizeof status_words / sizeof status_words[0]; i++)
        if (ci_eq(name, len, status_words[i].word))
            return status_words[i].status;
    return MJ_IMAP_ST_NONE;
}

/* The response name at pos (an atom without '[' or ']'), copied to resp.name;
   it must be followed by SP or the end of the line.  Returns its end. */
static size_t resp_name(mj_imap_parser *p, const unsigned char *s, size_t m, size_t pos,
                        const char *what)
{
    size_t q = pos;
    while (q < m && atom_char(s[q], true) && s[q] != '[')
        q++;
    if (q == pos || (q < m && s[q] != ' '))
        return fail_at(p, q, MJ_R_MALFORMED, what);
    p->resp.name = arena_strdup(p, s + pos, q - pos);
    return p->resp.name == NULL ? POS_ERR : q;
}

/* "* n NAME": n is a number (32 bits, RFC 9051) followed by SP.  Returns
   the index of the name. */
static size_t message_number(mj_imap_parser *p, const unsigned char *s, size_t m, size_t pos)
{
    size_t q = pos;
    while (q < m && is_digit(s[q]))
        q++;
    uint64_t v = digits_value(s, pos, q);
    if (v > UINT32_MAX)
        return fail_at(p, pos, MJ_R_NUMBER_OVERFLOW, "message number larger than 32 bits");
    if (q >= m || s[q] != ' ')
        return fail_at(p, q, MJ_R_MALFORMED, "expected SP after the number");
    p->resp.has_number = true;
    p->resp.number = (uint32_t)v;
    return q + 1;
}

/* continue-req = "+" SP (resp-text / base64) CRLF */
static enum step head_continuation(mj_imap_parser *p, const unsigned char *s, size_t m)
{
    p->resp.kind = MJ_IMAP_CONTINUATION;
    if (m == 1 && p->lim.bare_continuation)
        return resp_text(p, s, m, m);
    if (m == 1) {
        fail_at(p, 1, MJ_R_MALFORMED, "expected SP after '+' (strict: tolerance bare-continuation is off)");
        return STEP_ERR;
    }
    if (s[1] != ' ') {
        fail_at(p, 1, MJ_R_MALFORMED, "expected SP after '+'");
        return STEP_ERR;
    }
    return resp_text(p, s, m, 2);
}

/* "*" SP [number SP] name ... : resp-cond-state, resp-cond-bye, PREAUTH,
   mailbox-data, message-data, capability-data, enable-data... */
static enum step head_untagged(mj_imap_parser *p, const unsigned char *s, size_t m)
{
    p->resp.kind = MJ_IMAP_UNTAGGED;
    size_t pos = m < 2 || s[1] != ' ' ? fail_at(p, 1, MJ_R_MALFORMED, "expected SP after '*'") : 2;
    if (pos != POS_ERR && pos < m && is_digit(s[pos]))
        pos = message_number(p, s, m, pos);
    if (pos != POS_ERR)
        pos = resp_name(p, s, m, pos, "expected a response name");
    if (pos == POS_ERR)
        return STEP_ERR;
    if (!p->resp.has_number)
        p->resp.status = status_of((const unsigned char *)p->resp.name, strlen(p->resp.name));
    if (p->resp.status != MJ_IMAP_ST_NONE)
        return status_text(p, s, m, pos);
    p->sep = S_SEP;
    p->mode = M_DATA;
    return data_line(p, s, m, pos);
}

/* "[" resp-text-code "]" [SP text] alone on a line (tolerance bare-response-code):
   the untagged OK it stands for. */
static enum step head_bare_code(mj_imap_parser *p, const unsigned char *s, size_t m)
{
    if (!p->lim.bare_response_code) {
        fail_at(p, 0, MJ_R_MALFORMED,
                "expected '*', '+' or a tag (strict: tolerance bare-response-code is off)");
        return STEP_ERR;
    }
    p->resp.kind = MJ_IMAP_UNTAGGED;
    p->resp.status = MJ_IMAP_ST_OK;
    p->resp.name = arena_strdup(p, (const unsigned char *)"OK", 2);
    return p->resp.name == NULL ? STEP_ERR : resp_text(p, s, m, 0);
}

/* response-tagged = tag SP resp-cond-state CRLF */
static enum step head_tagged(mj_imap_parser *p, const unsigned char *s, size_t m)
{
    p->resp.kind = MJ_IMAP_TAGGED;
    size_t q = 0;
    while (q < m && tag_char(s[q]))
        q++;
    if (q == 0 || q >= m || s[q] != ' ') {
        fail_at(p, q, MJ_R_MALFORMED, q == 0 ? "expected '*', '+' or a tag" : "expected SP after the tag");
        return STEP_ERR;
    }
    p->resp.tag = arena_strdup(p, s, q);
    if (p->resp.tag == NULL)
        return STEP_ERR;
    size_t pos = q + 1;
    size_t end = pos;
    while (end < m && s[end] != ' ')
        end++;
    mj_imap_status st = status_of(s + pos, end - pos);
    if (st == MJ_IMAP_ST_NONE || st == MJ_IMAP_ST_BYE || st == MJ_IMAP_ST_PREAUTH) {
        fail_at(p, pos, MJ_R_MALFORMED, "expected OK, NO or BAD after the tag");
        return STEP_ERR;
    }
    p->resp.status = st;
    p->resp.name = arena_strdup(p, s + pos, end - pos);
    if (p->resp.name == NULL)
        return STEP_ERR;
    return status_text(p, s, m, end);
}

/* ---- framing ------------------------------------------------------------------------ */

/* One complete line s[0, n) (n counts the LF). */
static enum step line_done(mj_imap_parser *p, const unsigned char *s, size_t n)
{
    size_t m = n - 1;
    p->cur = s;
    p->cur_len = m;
    if (m > 0 && s[m - 1] == '\r') {
        m--;
        p->cur_len = m;
    } else if (!p->lim.bare_lf) {
        fail_at(p, m, MJ_R_BARE_LF, "line ends in LF without CR (strict: tolerance bare-lf is off)");
        return STEP_ERR;
    }
    enum step r;
    if (p->mode == M_HEAD && m == 0) {
        fail_at(p, 0, MJ_R_MALFORMED, "empty line");
        r = STEP_ERR;
    } else if (p->mode == M_HEAD) {
        r = s[0] == '+' ? head_continuation(p, s, m)
            : s[0] == '*' ? head_untagged(p, s, m)
            : s[0] == '[' ? head_bare_code(p, s, m)
                          : head_tagged(p, s, m);
    } else {
        r = data_line(p, s, m, 0);
    }
    p->resp_off += n;
    return r;
}

static bool line_append(mj_imap_parser *p, const unsigned char *b, size_t n)
{
    if (p->line_len + n > p->line_cap) {
        size_t cap = p->line_cap ? p->line_cap : LINEBUF_MIN;
        while (cap < p->line_len + n)
            cap *= 2;
        if (cap > p->lim.line_max)
            cap = p->lim.line_max;
        unsigned char *nb = realloc(p->line, cap);
        if (nb == NULL) {
            fail(p, MJ_INTERNAL, MJ_R_NO_MEMORY, "IMAP response: out of memory");
            return false;
        }
        p->line = nb;
        p->line_cap = cap;
    }
    memcpy(p->line + p->line_len, b, n);
    p->line_len += n;
    return true;
}

/* Bytes up to and including the next LF, in place when the whole line is in b. */
static enum step feed_line(mj_imap_parser *p, const unsigned char *b, size_t n, size_t *took)
{
    const unsigned char *lf = memchr(b, '\n', n);
    size_t take = lf != NULL ? (size_t)(lf - b) + 1 : n;
    *took = take;
    if (take > p->lim.line_max - p->line_len) {
        fail(p, MJ_PROTOCOL_ERROR, MJ_R_LINE_TOO_LONG,
             "IMAP response: line longer than line_max (%zu bytes) at byte %zu", p->lim.line_max,
             p->resp_off + p->lim.line_max);
        return STEP_ERR;
    }
    if (lf != NULL && p->line_len == 0)
        return line_done(p, b, take);
    if (!line_append(p, b, take))
        return STEP_ERR;
    if (lf == NULL)
        return STEP_CONT;
    enum step r = line_done(p, p->line, p->line_len);
    p->line_len = 0;
    return r;
}

static bool sink_chunk(mj_imap_parser *p, const unsigned char *b, size_t n)
{
    if (p->sink == NULL)
        return true;
    for (unsigned i = 0; i <= p->depth; i++)
        p->path[i] = p->stack[i].list->count - 1;
    mj_imap_literal_info info = {.resp = &p->resp,
                                 .depth = p->depth,
                                 .path = p->path,
                                 .preceding = p->lit_prev,
                                 .size = p->lit->num,
                                 .offset = p->lit_got,
                                 .literal8 = p->lit->literal8};
    if (p->sink(p->sink_ctx, &info, b, n) == 0)
        return true;
    fail(p, MJ_INTERNAL, MJ_R_LOCAL_IO, "IMAP response: the literal sink refused data at byte %llu",
         (unsigned long long)p->lit_got);
    return false;
}

/* The bytes of the literal in progress: exactly lit->num of them. */
static enum step feed_literal(mj_imap_parser *p, const unsigned char *b, size_t n, size_t *took)
{
    uint64_t want = p->lit->num - p->lit_got;
    size_t take = want < n ? (size_t)want : n;
    *took = take;
    if (!p->lit->streamed)
        memcpy((char *)p->lit->str + p->lit_got, b, take);
    else if (!sink_chunk(p, b, take))
        return STEP_ERR;
    p->lit_got += take;
    p->resp_off += take;
    if (p->lit_got == p->lit->num) {
        p->mode = M_DATA;
        p->lit = NULL;
    }
    return STEP_CONT;
}

/* ---- public ------------------------------------------------------------------------- */

void mj_imap_limits_init(mj_imap_limits *limits)
{
    memset(limits, 0, sizeof *limits);
    limits->line_max = MJ_IMAP_LINE_MAX_DEFAULT;
    limits->literal_max = MJ_IMAP_LITERAL_MAX_DEFAULT;
    limits->literal_inline_max = MJ_IMAP_LITERAL_INLINE_DEFAULT;
    limits->depth_max = MJ_IMAP_DEPTH_MAX_DEFAULT;
    limits->tokens_max = MJ_IMAP_TOKENS_MAX_DEFAULT;
    limits->response_max = MJ_IMAP_RESPONSE_MAX_DEFAULT;
}

void mj_imap_limits_tolerant(mj_imap_limits *limits)
{
    limits->code_without_space = true;
    limits->status_without_text = true;
    limits->bare_continuation = true;
    limits->space_before_close = true;
    limits->trailing_space = true;
    limits->eight_bit = true;
    limits->bare_lf = true;
    limits->bare_response_code = true;
}

static void begin_response(mj_imap_parser *p)
{
    arena_reset(p);
    memset(&p->resp, 0, sizeof p->resp);
    memset(&p->root, 0, sizeof p->root);
    p->root.kind = MJ_IMAP_LIST;
    p->stack[0] = (struct level){&p->root, NULL};
    p->depth = 0;
    p->tokens = 0;
    p->mode = M_HEAD;
    p->sep = S_SEP;
    p->resp_off = 0;
    p->lit = NULL;
    p->line_len = 0;
    p->done = false;
}

mj_imap_parser *mj_imap_parser_new(const mj_imap_limits *limits)
{
    mj_imap_parser *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    if (limits != NULL)
        p->lim = *limits;
    else
        mj_imap_limits_init(&p->lim);
    if (p->lim.depth_max > MJ_IMAP_DEPTH_HARD_MAX)
        p->lim.depth_max = MJ_IMAP_DEPTH_HARD_MAX;
    if (p->lim.line_max < 3) /* room for at least "+" CRLF */
        p->lim.line_max = 3;
    for (unsigned c = 0; c < 256; c++) {
        p->cls[c] = (unsigned char)((atom_char((unsigned char)c, false) ? BC_ATOM : 0) |
                                    (atom_char((unsigned char)c, true) ? BC_ATOM_CODE : 0) |
                                    (is_digit((unsigned char)c) ? BC_DIGIT : 0) |
                                    (c >= 0x01 && c <= 0x7f && c != '"' && c != '\\' && c != '\r' &&
                                             c != '\n'
                                         ? BC_QPLAIN
                                         : 0));
    }
    p->stack = calloc(p->lim.depth_max + 1u, sizeof *p->stack);
    p->path = calloc(p->lim.depth_max + 1u, sizeof *p->path);
    if (p->stack == NULL || p->path == NULL) {
        mj_imap_parser_free(p);
        return NULL;
    }
    begin_response(p);
    return p;
}

void mj_imap_parser_free(mj_imap_parser *p)
{
    if (p == NULL)
        return;
    arena_free_all(p);
    free(p->line);
    free(p->stack);
    free(p->path);
    free(p);
}

void mj_imap_parser_set_sink(mj_imap_parser *p, mj_imap_literal_sink sink, void *ctx)
{
    p->sink = sink;
    p->sink_ctx = ctx;
}

void mj_imap_parser_reset(mj_imap_parser *p)
{
    p->failed = false;
    mj_error_clear(&p->failure);
    begin_response(p);
}

size_t mj_imap_parser_memory_used(const mj_imap_parser *p)
{
    return p->last_used;
}

static mj_parse_result parse_failed(mj_imap_parser *p, mj_error *err)
{
    if (err != NULL)
        *err = p->failure;
    return MJ_PARSE_ERROR;
}

mj_parse_result mj_imap_parse(mj_imap_parser *p, const unsigned char *buf, size_t len,
                              size_t *consumed_out, const mj_imap_response **resp_out,
                              mj_error *err)
{
    *consumed_out = 0;
    *resp_out = NULL;
    if (p->failed)
        return parse_failed(p, err);
    if (p->done)
        begin_response(p);
    size_t used = 0;
    while (used < len) {
        size_t took = 0;
        enum step r = p->mode == M_LITERAL ? feed_literal(p, buf + used, len - used, &took)
                                           : feed_line(p, buf + used, len - used, &took);
        used += took;
        *consumed_out = used;
        if (r == STEP_ERR)
            return parse_failed(p, err);
        if (r == STEP_DONE) {
            p->resp.data = p->root.first;
            p->resp.n_data = p->root.count;
            p->resp.wire_len = p->resp_off;
            p->last_used = p->arena_used;
            p->done = true;
            *resp_out = &p->resp;
            return MJ_PARSE_OK;
        }
    }
    return MJ_PARSE_NEED_MORE;
}
