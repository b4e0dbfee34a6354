/*
 * imap/strings.c: what the IMAP client sends as strings.
 *
 * RFC 9051 §4.3 and §9 (astring, atom, quoted, literal), RFC 7888 (literal
 * forms), RFC 3501 §5.1.3 (mailbox names in modified UTF-7), RFC 6855
 * (UTF-8 in quoted strings once UTF8=ACCEPT is enabled).
 * SECURITY-CASES #136 (CR/LF/NUL in caller arguments), #137 (the choice of
 * form, escaping, sizes without overflow), #139 (raw text with a literal
 * marker).
 */
#include "imap/imap_internal.h"

#include <string.h>

/* Quoted strings longer than this go as literals: keeps command lines short. */
#define IMAP_QUOTED_MAX 1024

mj_outcome imap_lacks(mj_imap *s, const char *what, const char *cap)
{
    char q[MJ_IMAP_CAP_NAME_MAX];
    mj_escape(cap, strlen(cap), q, sizeof q);
    return mj_error_set(mj_conn_error(s->conn), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                        "%s needs the %s capability, which the server does not advertise; "
                        "nothing was sent",
                        what, q);
}

mj_outcome imap_check_arg(mj_imap *s, const char *what, const char *text)
{
    mj_error *err = mj_conn_error(s->conn);
    if (text == NULL)
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT, "the %s is missing", what);
    size_t len = strnlen(text, MJ_IMAP_ARG_MAX + 1);
    if (len > MJ_IMAP_ARG_MAX)
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "the %s is longer than %zu bytes; nothing was sent", what,
                            MJ_IMAP_ARG_MAX);
    if (strpbrk(text, "\r\n") != NULL)
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "the %s holds CR or LF; nothing was sent", what);
    return MJ_OK; /* a C string cannot hold NUL: the caller's NUL ends it */
}

/* sequence-set (RFC 9051): seq-number / seq-range, comma separated, "$" (SEARCHRES). */
mj_outcome imap_check_set(mj_imap *s, const char *text)
{
    mj_outcome o = imap_check_arg(s, "sequence set", text);
    if (o != MJ_OK)
        return o;
    bool ok = text[0] != '\0' && strspn(text, "0123456789:,*$") == strlen(text) &&
              strstr(text, ",,") == NULL && text[0] != ',' && text[strlen(text) - 1] != ',';
    if (!ok) {
        char q[64];
        mj_escape(text, strlen(text), q, sizeof q);
        return mj_error_set(mj_conn_error(s->conn), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "'%s' is not a sequence set (numbers, ranges N:M, '*', commas)", q);
    }
    return MJ_OK;
}

/* A literal marker starts at p: "{" digits ["+" / "-"] "}". */
static bool literal_marker_at(const char *p)
{
    if (*p != '{')
        return false;
    size_t d = strspn(p + 1, "0123456789");
    const char *q = p + 1 + d;
    if (*q == '+' || *q == '-')
        q++;
    return d > 0 && *q == '}';
}

mj_outcome imap_check_raw(mj_imap *s, const char *what, const char *text)
{
    mj_outcome o = imap_check_arg(s, what, text);
    if (o != MJ_OK)
        return o;
    mj_error *err = mj_conn_error(s->conn);
    int depth = 0;
    bool quoted = false;
    for (const char *p = text; *p != '\0'; p++) {
        if (quoted) {
            if (*p == '\\' && p[1] != '\0')
                p++;
            else if (*p == '"')
                quoted = false;
            continue;
        }
        if (literal_marker_at(p))
            return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                                "the %s holds a literal marker {n}; nothing was sent", what);
        if (*p == '"')
            quoted = true;
        else if (*p == '(')
            depth++;
        else if (*p == ')' && --depth < 0)
            break;
    }
    if (quoted || depth != 0)
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "the %s has an unclosed quote or unbalanced parentheses; nothing was "
                            "sent",
                            what);
    return MJ_OK;
}

/* flag = "\" atom / atom (RFC 9051 flag-keyword, flag-extension). */
mj_outcome imap_check_flags(mj_imap *s, const char *text)
{
    mj_outcome o = imap_check_arg(s, "flag list", text);
    if (o != MJ_OK)
        return o;
    for (const char *p = text; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        bool special = c == '(' || c == ')' || c == '{' || c == '%' || c == '*' || c == '"' ||
                       c == ']' || (c == '\\' && p != text && p[-1] != ' ');
        if (c == ' ' ? (p[1] == ' ' || p[1] == '\0' || p == text) : (c < 0x21 || c > 0x7e || special)) {
            char q[64];
            mj_escape(text, strlen(text), q, sizeof q);
            return mj_error_set(mj_conn_error(s->conn), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                                "'%s' is not a list of flags (\\Seen $Label ...)", q);
        }
    }
    return MJ_OK;
}

/* ASTRING-CHAR (RFC 9051): ATOM-CHAR or ']'. */
static bool astring_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && strchr("(){%*\"\\", c) == NULL;
}

/* Valid UTF-8 sequence length at s (0: invalid), within n bytes. */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp_out)
{
    static const struct {
        unsigned char mask, lead;
        size_t len;
        uint32_t min;
    } forms[] = {{0x80, 0x00, 1, 0}, {0xe0, 0xc0, 2, 0x80}, {0xf0, 0xe0, 3, 0x800}, {0xf8, 0xf0, 4, 0x10000}};
    for (size_t f = 0; f < 4; f++) {
        if ((s[0] & forms[f].mask) != forms[f].lead)
            continue;
        size_t len = forms[f].len;
        if (len > n)
            return 0;
        uint32_t cp = s[0] & (uint32_t)(0x7f >> (len == 1 ? 0 : len));
        for (size_t i = 1; i < len; i++) {
            if ((s[i] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i] & 0x3fu);
        }
        if (cp < forms[f].min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        *cp_out = cp;
        return len;
    }
    return 0;
}

bool imap_utf8_valid(const char *text, size_t len)
{
    const unsigned char *p = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        uint32_t cp = 0;
        size_t k = utf8_seq(p + i, len - i, &cp);
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}

imap_str_form imap_str_form_of(const char *text, size_t len, bool atom_ok, bool utf8)
{
    const unsigned char *p = (const unsigned char *)text;
    bool atom = atom_ok && len > 0 && !(len == 3 && (p[0] | 0x20) == 'n' && (p[1] | 0x20) == 'i' &&
                                          (p[2] | 0x20) == 'l'); /* "NIL" would mean nil */
    bool quoted = len <= IMAP_QUOTED_MAX;
    for (size_t i = 0; i < len && (atom || quoted);) {
        uint32_t cp = 0;
        if (!astring_char(p[i]))
            atom = false;
        if (p[i] >= 0x20 && p[i] < 0x7f) {
            i++;
            continue;
        }
        size_t k = p[i] >= 0x80 && utf8 ? utf8_seq(p + i, len - i, &cp) : 0;
        if (k == 0)
            quoted = false; /* controls, and 8-bit without UTF8=ACCEPT: a literal */
        i += k > 0 ? k : 1;
    }
    return atom ? IMAP_STR_ATOM : quoted ? IMAP_STR_QUOTED : IMAP_STR_LITERAL;
}

/* ---- modified UTF-7 (RFC 3501 §5.1.3) ---------------------------------------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

typedef struct outbuf {
    char *p;
    size_t size, used;
    bool full;
} outbuf;

static void out_byte(outbuf *o, char c)
{
    if (o->used + 1 >= o->size) {
        o->full = true;
        return;
    }
    o->p[o->used++] = c;
    o->p[o->used] = '\0';
}

/* Flush UTF-16 units units[0..n) as modified base64 between '&' and '-'. */
static void out_shifted(outbuf *o, const uint16_t *units, size_t n)
{
    uint32_t bits = 0;
    unsigned nbits = 0;
    out_byte(o, '&');
    for (size_t i = 0; i < n; i++) {
        bits = (bits << 16) | units[i];
        nbits += 16;
        while (nbits >= 6) {
            nbits -= 6;
            out_byte(o, b64[(bits >> nbits) & 0x3f]);
        }
    }
    if (nbits > 0)
        out_byte(o, b64[(bits << (6 - nbits)) & 0x3f]);
    out_byte(o, '-');
}

mj_outcome mj_imap_utf7_encode(const char *utf8, char *out, size_t out_size, mj_error *err)
{
    outbuf o = {out, out_size, 0, out_size == 0};
    if (out_size > 0)
        out[0] = '\0';
    const unsigned char *p = (const unsigned char *)utf8;
    size_t len = strlen(utf8);
    uint16_t units[64];
    size_t n = 0;
    for (size_t i = 0; i <= len && !o.full;) {
        uint32_t cp = 0;
        bool direct = i == len || (p[i] >= 0x20 && p[i] < 0x7f);
        if (direct || n + 2 > sizeof units / sizeof units[0]) {
            if (n > 0)
                out_shifted(&o, units, n);
            n = 0;
            if (i == len)
                break;
            if (direct) {
                out_byte(&o, (char)p[i]);
                if (p[i] == '&')
                    out_byte(&o, '-');
                i++;
                continue;
            }
        }
        size_t k = utf8_seq(p + i, len - i, &cp);
        if (k == 0)
            return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                                "mailbox name is not valid UTF-8 (byte %zu)", i);
        if (cp >= 0x10000) {
            cp -= 0x10000;
            units[n++] = (uint16_t)(0xd800 + (cp >> 10));
            units[n++] = (uint16_t)(0xdc00 + (cp & 0x3ff));
        } else {
            units[n++] = (uint16_t)cp;
        }
        i += k;
    }
    if (o.full)
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "mailbox name longer than %zu bytes once encoded", out_size);
    return MJ_OK;
}

static void out_utf8(outbuf *o, uint32_t cp)
{
    if (cp < 0x80) {
        out_byte(o, (char)cp);
    } else if (cp < 0x800) {
        out_byte(o, (char)(0xc0 | (cp >> 6)));
        out_byte(o, (char)(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
        out_byte(o, (char)(0xe0 | (cp >> 12)));
        out_byte(o, (char)(0x80 | ((cp >> 6) & 0x3f)));
        out_byte(o, (char)(0x80 | (cp & 0x3f)));
    } else {
        out_byte(o, (char)(0xf0 | (cp >> 18)));
        out_byte(o, (char)(0x80 | ((cp >> 12) & 0x3f)));
        out_byte(o, (char)(0x80 | ((cp >> 6) & 0x3f)));
        out_byte(o, (char)(0x80 | (cp & 0x3f)));
    }
}

static mj_outcome utf7_bad(mj_error *err, size_t at, const char *why)
{
    return mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_MALFORMED,
                        "mailbox name is not valid modified UTF-7 at byte %zu: %s", at, why);
}

/* One shifted run s[0..n) (between '&' and '-'), n > 0. */
static mj_outcome decode_run(const char *s, size_t n, size_t at, outbuf *o, mj_error *err)
{
    uint32_t bits = 0, high = 0;
    unsigned nbits = 0;
    for (size_t i = 0; i < n; i++) {
        const char *d = strchr(b64, s[i]);
        if (s[i] == '\0' || d == NULL)
            return utf7_bad(err, at + i, "not a modified base64 character");
        bits = (bits << 6) | (uint32_t)(d - b64);
        nbits += 6;
        if (nbits < 16)
            continue;
        nbits -= 16;
        uint32_t u = (bits >> nbits) & 0xffff;
        if (u >= 0xd800 && u <= 0xdbff) {
            if (high != 0)
                return utf7_bad(err, at + i, "two high surrogates");
            high = u;
            continue;
        }
        if (u >= 0xdc00 && u <= 0xdfff) {
            if (high == 0)
                return utf7_bad(err, at + i, "a low surrogate alone");
            u = 0x10000 + ((high - 0xd800) << 10) + (u - 0xdc00);
            high = 0;
        } else if (high != 0) {
            return utf7_bad(err, at + i, "a high surrogate alone");
        } else if (u >= 0x20 && u < 0x7f) {
            return utf7_bad(err, at + i, "printable ASCII must not be shifted");
        }
        out_utf8(o, u);
    }
    if (high != 0 || nbits >= 6 || (bits & ((1u << nbits) - 1)) != 0)
        return utf7_bad(err, at + n, "the shifted run ends badly");
    return MJ_OK;
}

mj_outcome mj_imap_utf7_decode(const char *utf7, size_t len, char *out, size_t out_size,
                               mj_error *err)
{
    outbuf o = {out, out_size, 0, out_size == 0};
    if (out_size > 0)
        out[0] = '\0';
    for (size_t i = 0; i < len && !o.full;) {
        unsigned char c = (unsigned char)utf7[i];
        if (c != '&') {
            if (c < 0x20 || c >= 0x7f)
                return utf7_bad(err, i, "a byte outside printable ASCII");
            out_byte(&o, (char)c);
            i++;
            continue;
        }
        const char *dash = memchr(utf7 + i + 1, '-', len - i - 1);
        if (dash == NULL)
            return utf7_bad(err, i, "'&' without its closing '-'");
        size_t n = (size_t)(dash - (utf7 + i + 1));
        if (n == 0)
            out_byte(&o, '&');
        else if (decode_run(utf7 + i + 1, n, i + 1, &o, err) != MJ_OK)
            return MJ_PROTOCOL_ERROR;
        i += n + 2;
    }
    if (o.full)
        return mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_REPLY_TOO_LARGE,
                            "mailbox name longer than %zu bytes once decoded", out_size);
    return MJ_OK;
}
