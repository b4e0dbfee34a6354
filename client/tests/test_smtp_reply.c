/*
 * test_smtp_reply.c: the SMTP reply parser (smtp/reply.h) and the DATA
 * stuffer (mj_smtp_stuff).  Every input is fed whole, one byte at a time and
 * split at every position: the result must not depend on the chunking.
 * Stuffer cases are SECURITY-CASES #140 (dot-stuffing) and #141 (no SMTP
 * smuggling sequence on the wire).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mailjig/smtp.h"
#include "smtp/reply.h"

/* Parse text in chunks of `step` bytes (0: whole); returns the result of the last call. */
static mj_parse_result parse_steps(mj_smtp_parser *p, const char *text, size_t len, size_t step,
                                   size_t *total_out, mj_error *err)
{
    size_t off = 0;
    mj_parse_result r = MJ_PARSE_NEED_MORE;
    mj_smtp_parser_init(p);
    while (off < len) {
        size_t n = step == 0 || len - off < step ? len - off : step;
        size_t used = 0;
        r = mj_smtp_parse(p, text + off, n, &used, err);
        off += used;
        if (r != MJ_PARSE_NEED_MORE)
            break;
    }
    *total_out = off;
    return r;
}

static mj_smtp_parser *parser_new(void)
{
    mj_smtp_parser *p = calloc(1, sizeof *p);
    assert_non_null(p);
    return p;
}

static void assert_line(const mj_smtp_reply *r, size_t i, const char *want)
{
    size_t len = 0;
    const char *t = mj_smtp_reply_line(r, i, &len);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(t, want, len);
}

/* The same reply for every chunking: whole, 1..7 bytes, and two pieces split anywhere. */
static void assert_same_every_chunking(const char *text, unsigned code, size_t n_lines)
{
    mj_smtp_parser *p = parser_new();
    mj_error err;
    size_t len = strlen(text), used = 0;
    for (size_t step = 0; step <= 7; step++) {
        assert_int_equal(parse_steps(p, text, len, step, &used, &err), MJ_PARSE_OK);
        assert_int_equal(used, len);
        assert_int_equal(p->reply.code, code);
        assert_int_equal(p->reply.n_lines, n_lines);
    }
    for (size_t cut = 1; cut < len; cut++) {
        mj_smtp_parser_init(p);
        assert_int_equal(mj_smtp_parse(p, text, cut, &used, &err), MJ_PARSE_NEED_MORE);
        assert_int_equal(used, cut);
        assert_int_equal(mj_smtp_parse(p, text + cut, len - cut, &used, &err), MJ_PARSE_OK);
        assert_int_equal(used, len - cut);
        assert_int_equal(p->reply.code, code);
    }
    free(p);
}

static void test_single_line(void **state)
{
    (void)state;
    mj_smtp_parser *p = parser_new();
    mj_error err;
    size_t used = 0;
    assert_int_equal(parse_steps(p, "220 mx.example ESMTP\r\n", 22, 1, &used, &err), MJ_PARSE_OK);
    assert_int_equal(p->reply.code, 220);
    assert_string_equal(p->reply.enhanced, "");
    assert_int_equal(p->reply.n_lines, 1);
    assert_line(&p->reply, 0, "mx.example ESMTP");
    assert_same_every_chunking("220 mx.example ESMTP\r\n", 220, 1);
    free(p);
}

static void test_multi_line_ehlo(void **state)
{
    (void)state;
    static const char ehlo[] = "250-mx.example Hello\r\n250-PIPELINING\r\n250-SIZE 35882577\r\n"
                               "250-AUTH PLAIN LOGIN\r\n250 SMTPUTF8\r\n";
    mj_smtp_parser *p = parser_new();
    mj_error err;
    size_t used = 0;
    assert_int_equal(parse_steps(p, ehlo, strlen(ehlo), 1, &used, &err), MJ_PARSE_OK);
    assert_int_equal(p->reply.n_lines, 5);
    assert_line(&p->reply, 0, "mx.example Hello");
    assert_line(&p->reply, 2, "SIZE 35882577");
    assert_line(&p->reply, 4, "SMTPUTF8");
    assert_same_every_chunking(ehlo, 250, 5);
    free(p);
}

static void test_enhanced_codes(void **state)
{
    (void)state;
    mj_smtp_parser *p = parser_new();
    mj_error err;
    size_t used = 0;
    const char *t = "550-5.1.1 No such user\r\n550 5.1.1 here\r\n";
    assert_int_equal(parse_steps(p, t, strlen(t), 1, &used, &err), MJ_PARSE_OK);
    assert_string_equal(p->reply.enhanced, "5.1.1");
    assert_line(&p->reply, 0, "No such user");
    assert_line(&p->reply, 1, "here");
    /* Three-digit parts, and a code alone on its line. */
    t = "451 4.123.456\r\n";
    assert_int_equal(parse_steps(p, t, strlen(t), 0, &used, &err), MJ_PARSE_OK);
    assert_string_equal(p->reply.enhanced, "4.123.456");
    assert_line(&p->reply, 0, "");
    /* Not enhanced codes: class differs from the reply, 4-digit part, no separator. */
    static const char *const plain[][2] = {{"250 5.1.1 odd\r\n", "5.1.1 odd"},
                                           {"550 5.1234.1 x\r\n", "5.1234.1 x"},
                                           {"550 5.1.1x\r\n", "5.1.1x"},
                                           {"334 2.0.0\r\n", "2.0.0"}};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        assert_int_equal(parse_steps(p, plain[i][0], strlen(plain[i][0]), 0, &used, &err),
                         MJ_PARSE_OK);
        assert_string_equal(p->reply.enhanced, "");
        assert_line(&p->reply, 0, plain[i][1]);
    }
    free(p);
}

static void test_bare_code_and_line_ends(void **state)
{
    (void)state;
    mj_smtp_parser *p = parser_new();
    mj_error err;
    size_t used = 0;
    assert_int_equal(parse_steps(p, "250\r\n", 5, 1, &used, &err), MJ_PARSE_OK);
    assert_int_equal(p->reply.code, 250);
    assert_line(&p->reply, 0, "");
    assert_int_equal(parse_steps(p, "250 ok\n", 7, 1, &used, &err), MJ_PARSE_OK);
    assert_line(&p->reply, 0, "ok");
    assert_int_equal(parse_steps(p, "250 a\rb\r\n", 9, 1, &used, &err), MJ_PARSE_OK);
    assert_line(&p->reply, 0, "a\rb");
    assert_int_equal(parse_steps(p, "250-\r\n250 x\r\n", 13, 1, &used, &err), MJ_PARSE_OK);
    assert_int_equal(p->reply.n_lines, 2);
    free(p);
}

static void test_two_replies_in_one_buffer(void **state)
{
    (void)state;
    mj_smtp_parser *p = parser_new();
    mj_error err;
    size_t used = 0;
    const char *t = "250 2.1.0 ok\r\n550 5.1.1 no\r\n";
    mj_smtp_parser_init(p);
    assert_int_equal(mj_smtp_parse(p, t, strlen(t), &used, &err), MJ_PARSE_OK);
    assert_int_equal(used, 14);
    assert_int_equal(p->reply.code, 250);
    size_t used2 = 0;
    assert_int_equal(mj_smtp_parse(p, t + used, strlen(t) - used, &used2, &err), MJ_PARSE_OK);
    assert_int_equal(used2, 14);
    assert_int_equal(p->reply.code, 550);
    assert_string_equal(p->reply.enhanced, "5.1.1");
    free(p);
}

static void assert_error(const char *text, mj_reason reason, const char *in_message)
{
    mj_smtp_parser *p = parser_new();
    mj_error err;
    size_t used = 0;
    for (size_t step = 0; step <= 1; step++) {
        mj_error_clear(&err);
        assert_int_equal(parse_steps(p, text, strlen(text), step, &used, &err), MJ_PARSE_ERROR);
        assert_int_equal(err.outcome, MJ_PROTOCOL_ERROR);
        assert_int_equal(err.reason, reason);
        if (in_message != NULL)
            assert_non_null(strstr(err.message, in_message));
    }
    free(p);
}

static void test_malformed(void **state)
{
    (void)state;
    assert_error("250-a\r\n550 b\r\n", MJ_R_MALFORMED, "codes disagree (250, then 550)");
    assert_error("25x ok\r\n", MJ_R_MALFORMED, "three-digit code");
    assert_error("600 no\r\n", MJ_R_MALFORMED, "three-digit code");
    assert_error("160 no\r\n", MJ_R_MALFORMED, "three-digit code");
    assert_error("260 no\r\n", MJ_R_MALFORMED, "three-digit code");
    assert_error("2500 no\r\n", MJ_R_MALFORMED, "'-', ' ' or the end");
    assert_error("250\tno\r\n", MJ_R_MALFORMED, "'\\x09'");
    assert_error("+OK pop3\r\n", MJ_R_MALFORMED, "three-digit code");
    assert_error("* OK imap\r\n", MJ_R_MALFORMED, NULL);
    assert_error("\r\n", MJ_R_MALFORMED, NULL);
}

static void test_caps(void **state)
{
    (void)state;
    /* One line over MJ_SMTP_LINE_MAX (terminator included). */
    size_t n = MJ_SMTP_LINE_MAX + 10;
    char *t = malloc(n + 1);
    assert_non_null(t);
    memcpy(t, "250 ", 4);
    memset(t + 4, 'x', n - 4);
    t[n] = '\0';
    assert_error(t, MJ_R_LINE_TOO_LONG, "MJ_SMTP_LINE_MAX");
    free(t);
    /* A line of exactly MJ_SMTP_LINE_MAX bytes with its CRLF is fine. */
    t = malloc(MJ_SMTP_LINE_MAX + 1);
    assert_non_null(t);
    memcpy(t, "250 ", 4);
    memset(t + 4, 'y', MJ_SMTP_LINE_MAX - 6);
    memcpy(t + MJ_SMTP_LINE_MAX - 2, "\r\n", 3);
    mj_smtp_parser *p = parser_new();
    mj_error err;
    size_t used = 0;
    assert_int_equal(parse_steps(p, t, MJ_SMTP_LINE_MAX, 0, &used, &err), MJ_PARSE_OK);
    free(t);
    /* Endless continuation lines stop at MJ_SMTP_REPLY_LINES_MAX. */
    mj_smtp_parser_init(p);
    mj_parse_result r = MJ_PARSE_NEED_MORE;
    size_t lines = 0;
    for (; r == MJ_PARSE_NEED_MORE && lines < 100000; lines++)
        r = mj_smtp_parse(p, "250-x\r\n", 7, &used, &err);
    assert_int_equal(r, MJ_PARSE_ERROR);
    assert_int_equal(err.reason, MJ_R_REPLY_TOO_LARGE);
    assert_int_equal(lines, MJ_SMTP_REPLY_LINES_MAX + 1);
    /* Long continuation lines stop at MJ_SMTP_REPLY_TEXT_MAX. */
    char line[4000];
    memset(line, 'z', sizeof line);
    memcpy(line, "250-", 4);
    memcpy(line + sizeof line - 2, "\r\n", 2);
    mj_smtp_parser_init(p);
    r = MJ_PARSE_NEED_MORE;
    for (lines = 0; r == MJ_PARSE_NEED_MORE && lines < 1000; lines++)
        r = mj_smtp_parse(p, line, sizeof line, &used, &err);
    assert_int_equal(r, MJ_PARSE_ERROR);
    assert_int_equal(err.reason, MJ_R_REPLY_TOO_LARGE);
    assert_true(lines * sizeof line > MJ_SMTP_REPLY_TEXT_MAX);
    assert_true(lines < MJ_SMTP_REPLY_LINES_MAX);
    free(p);
}

/* ---- the stuffer ------------------------------------------------------------- */

/* Stuff in pieces of `step` bytes (0: whole) into a NUL-terminated malloc'd string. */
static char *stuff_steps(const char *in, size_t len, size_t step, bool stuff, size_t *len_out)
{
    unsigned char *out = malloc(MJ_SMTP_STUFF_OUT_MAX(len) + MJ_SMTP_STUFF_FINISH_MAX + 1);
    assert_non_null(out);
    mj_smtp_stuffer st;
    mj_smtp_stuffer_init(&st, stuff);
    size_t o = 0;
    for (size_t off = 0; off < len;) {
        size_t n = step == 0 || len - off < step ? len - off : step;
        o += mj_smtp_stuff(&st, (const unsigned char *)in + off, n, out + o);
        off += n;
    }
    o += mj_smtp_stuff_finish(&st, out + o);
    out[o] = '\0';
    *len_out = o;
    return (char *)out;
}

static void assert_stuffed(const char *in, const char *want, bool stuff)
{
    size_t len = strlen(in), n = 0;
    for (size_t step = 0; step <= 4; step++) {
        char *got = stuff_steps(in, len, step, stuff, &n);
        assert_string_equal(got, want);
        free(got);
    }
}

static void test_stuff_cases(void **state)
{
    (void)state;
    /* SECURITY-CASES #140 */
    assert_stuffed(".hidden\r\n", "..hidden\r\n.\r\n", true);
    assert_stuffed("a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n", true);
    assert_stuffed("a\r\n.\r\n", "a\r\n..\r\n.\r\n", true);
    assert_stuffed("no final crlf", "no final crlf\r\n.\r\n", true);
    assert_stuffed(".\r\n.\r\n.\r\n", "..\r\n..\r\n..\r\n.\r\n", true);
    assert_stuffed("...", "....\r\n.\r\n", true);
    assert_stuffed("", ".\r\n", true);
    assert_stuffed("a.b\r\n x.\r\n", "a.b\r\n x.\r\n.\r\n", true);
    /* SECURITY-CASES #141: bare LF, bare CR and the smuggling sequences */
    assert_stuffed("a\nb", "a\r\nb\r\n.\r\n", true);
    assert_stuffed("a\rb", "a\r\nb\r\n.\r\n", true);
    assert_stuffed("x\n.\ny", "x\r\n..\r\ny\r\n.\r\n", true);
    assert_stuffed("x\n.\r\ny", "x\r\n..\r\ny\r\n.\r\n", true);
    assert_stuffed("x\r\n.\ry", "x\r\n..\r\ny\r\n.\r\n", true);
    assert_stuffed("x\r\n.\r", "x\r\n..\r\n.\r\n", true);
    assert_stuffed("x\r\r\n", "x\r\n\r\n.\r\n", true);
    assert_stuffed("\r\r", "\r\n\r\n.\r\n", true);
    assert_stuffed("\n\n", "\r\n\r\n.\r\n", true);
    /* BDAT: normalised, not stuffed, no end line */
    assert_stuffed(".a\nb", ".a\r\nb\r\n", false);
    assert_stuffed("", "", false);
    assert_stuffed("x\r\n", "x\r\n", false);
}

/* Invariants on random bodies over {'.', CR, LF, 'a'} in random chunkings. */
static void test_stuff_random(void **state)
{
    (void)state;
    static const char alphabet[] = ".\r\na";
    unsigned seed = 12345;
    char in[64];
    for (int round = 0; round < 20000; round++) {
        seed = seed * 1103515245u + 12345u;
        size_t len = (seed >> 16) % sizeof in;
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            in[i] = alphabet[(seed >> 16) % 4];
        }
        size_t n1 = 0, n2 = 0;
        char *whole = stuff_steps(in, len, 0, true, &n1);
        char *bytes = stuff_steps(in, len, 1 + (seed >> 20) % 5, true, &n2);
        assert_int_equal(n1, n2);
        assert_memory_equal(whole, bytes, n1);
        /* every CR is followed by LF, every LF preceded by CR */
        for (size_t i = 0; i < n1; i++) {
            if (whole[i] == '\r')
                assert_true(i + 1 < n1 && whole[i + 1] == '\n');
            if (whole[i] == '\n')
                assert_true(i > 0 && whole[i - 1] == '\r');
        }
        /* exactly one end-of-data line, at the end */
        assert_true(n1 >= 3);
        assert_memory_equal(whole + n1 - 3, ".\r\n", 3);
        assert_true(n1 == 3 || (whole[n1 - 5] == '\r' && whole[n1 - 4] == '\n'));
        for (size_t i = 0; i + 5 <= n1 - 3; i++)
            assert_false(memcmp(whole + i, "\r\n.\r\n", 5) == 0);
        assert_false(n1 > 3 && memcmp(whole, ".\r\n", 3) == 0);
        free(whole);
        free(bytes);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_line),
        cmocka_unit_test(test_multi_line_ehlo),
        cmocka_unit_test(test_enhanced_codes),
        cmocka_unit_test(test_bare_code_and_line_ends),
        cmocka_unit_test(test_two_replies_in_one_buffer),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_stuff_cases),
        cmocka_unit_test(test_stuff_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
