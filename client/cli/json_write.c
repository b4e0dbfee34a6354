/*
 * json_write.c: a streaming writer of compact JSON (RFC 8259) for the
 * results that are too many to build as jansson objects first (mj fetch of
 * 100,000 messages with their ENVELOPE and BODYSTRUCTURE).
 *
 * The bytes are the ones jansson's json_dumps(JSON_COMPACT) prints for the
 * same values: no spaces, strings escaped as jansson escapes them ('"', '\',
 * \b \f \n \r \t, other bytes below 0x20 as \u00XX in upper-case hex, UTF-8
 * written as is), integers in decimal.  A string that is not valid UTF-8
 * (jansson refuses those) is written as null.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mj_cli.h"

void mj_jw_init(mj_jw *w, FILE *out)
{
    w->out = out;
    w->depth = 0;
    w->after_key = false;
    w->overflow = false;
    w->len = 0;
}

void mj_jw_flush(mj_jw *w)
{
    if (w->len > 0)
        fwrite(w->buf, 1, w->len, w->out);
    w->len = 0;
}

/* Room for n more bytes in the buffer (n <= MJ_JW_BUF). */
static void room(mj_jw *w, size_t n)
{
    if (MJ_JW_BUF - w->len < n)
        mj_jw_flush(w);
}

static void put(mj_jw *w, const char *s, size_t n)
{
    if (n > MJ_JW_BUF) {
        mj_jw_flush(w);
        fwrite(s, 1, n, w->out);
        return;
    }
    room(w, n);
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void put1(mj_jw *w, char c)
{
    room(w, 1);
    w->buf[w->len++] = c;
}

/* The separator before a value or a key: ',' unless it opens its container or follows a key. */
static void separate(mj_jw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth > 0 && w->depth <= MJ_JW_DEPTH_MAX && w->count[w->depth - 1]++ > 0)
        put1(w, ',');
}

void mj_jw_open(mj_jw *w, char bracket)
{
    separate(w);
    put1(w, bracket);
    if (w->depth < MJ_JW_DEPTH_MAX)
        w->count[w->depth] = 0;
    else
        w->overflow = true; /* deeper than the caps of the structures written: never */
    w->depth++;
}

void mj_jw_close(mj_jw *w, char bracket)
{
    if (w->depth > 0)
        w->depth--;
    put1(w, bracket);
}

/*
 * Length of the valid UTF-8 sequence at s[0..n) (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), 0 if it is not one.
 */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07u;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

static bool utf8_valid(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t len = p[i] < 0x80 ? 1 : utf8_sequence(p + i, n - i);
        if (len == 0)
            return false;
        i += len;
    }
    return true;
}

/* 1 for the bytes a JSON string needs escaped ('"', '\', below 0x20), 2 for >= 0x80. */
static const unsigned char byte_class[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

/* The escape of an ASCII byte of class 1 into esc; its length. */
static size_t escape(unsigned char c, char *esc)
{
    static const char hex[] = "0123456789ABCDEF";
    esc[0] = '\\';
    switch (c) {
    case '"': esc[1] = '"'; return 2;
    case '\\': esc[1] = '\\'; return 2;
    case '\b': esc[1] = 'b'; return 2;
    case '\f': esc[1] = 'f'; return 2;
    case '\n': esc[1] = 'n'; return 2;
    case '\r': esc[1] = 'r'; return 2;
    case '\t': esc[1] = 't'; return 2;
    default:
        memcpy(esc + 1, "u00", 3);
        esc[4] = hex[c >> 4];
        esc[5] = hex[c & 0xF];
        return 6;
    }
}

/*
 * "s" with jansson's escapes, false (nothing written) if s is not UTF-8.
 * The common case (it fits the buffer escaped) is one pass into the buffer,
 * undone when a bad sequence shows up; a longer string is checked first.
 */
static bool quoted(mj_jw *w, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    if (6 * n + 2 > MJ_JW_BUF) { /* long: check, then write in pieces */
        if (!utf8_valid(p, n))
            return false;
        put1(w, '"');
        size_t run = 0;
        for (size_t i = 0; i < n; i++) {
            if (byte_class[p[i]] != 1)
                continue;
            put(w, s + run, i - run);
            char esc[6];
            put(w, esc, escape(p[i], esc));
            run = i + 1;
        }
        put(w, s + run, n - run);
        put1(w, '"');
        return true;
    }
    room(w, 6 * n + 2);
    size_t start = w->len;
    char *o = w->buf + w->len;
    *o++ = '"';
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        unsigned char k = byte_class[c];
        if (k == 0) {
            *o++ = (char)c;
            i++;
        } else if (k == 1) {
            o += escape(c, o);
            i++;
        } else {
            size_t len = utf8_sequence(p + i, n - i);
            if (len == 0) {
                w->len = start;
                return false;
            }
            memcpy(o, p + i, len);
            o += len;
            i += len;
        }
    }
    *o++ = '"';
    w->len = (size_t)(o - w->buf);
    return true;
}

bool mj_jw_key(mj_jw *w, const char *key)
{
    size_t n = strlen(key);
    const unsigned char *p = (const unsigned char *)key;
    size_t plain = 0; /* the keys mj writes itself are plain ASCII: copied as they are */
    while (plain < n && byte_class[p[plain]] == 0)
        plain++;
    if (plain < n && !utf8_valid(p, n))
        return false;
    separate(w);
    if (plain == n && n + 3 <= MJ_JW_BUF) {
        room(w, n + 3);
        w->buf[w->len++] = '"';
        memcpy(w->buf + w->len, key, n);
        w->len += n;
        w->buf[w->len++] = '"';
    } else {
        (void)quoted(w, key, n);
    }
    put1(w, ':');
    w->after_key = true;
    return true;
}

void mj_jw_str(mj_jw *w, const char *s)
{
    separate(w);
    if (s == NULL || !quoted(w, s, strlen(s))) /* quoted wrote nothing when it said no */
        put(w, "null", 4);
}

void mj_jw_int(mj_jw *w, int64_t v)
{
    if (v < 0) {
        separate(w);
        put1(w, '-');
        w->after_key = true; /* the digits follow with no separator */
        mj_jw_uint(w, (uint64_t)0 - (uint64_t)v);
        return;
    }
    mj_jw_uint(w, (uint64_t)v);
}

void mj_jw_uint(mj_jw *w, uint64_t v)
{
    char digits[24];
    size_t i = sizeof digits;
    do {
        digits[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    separate(w);
    put(w, digits + i, sizeof digits - i);
}

void mj_jw_null(mj_jw *w)
{
    separate(w);
    put(w, "null", 4);
}

void mj_jw_bool(mj_jw *w, bool v)
{
    separate(w);
    if (v)
        put(w, "true", 4);
    else
        put(w, "false", 5);
}
