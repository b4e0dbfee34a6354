/*
 * test_pop3_parse.c: the POP3 parsers without I/O (pop3/pop3_parse.h), fed
 * whole, one byte at a time, and split at every byte boundary.  Asserts the
 * exact result, reason and bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pop3/pop3_parse.h"

/* ---- status lines ------------------------------------------------------------------ */

typedef struct status_case {
    const char *line;
    mj_parse_result result;
    mj_pop3_kind kind;
    mj_pop3_code code;
    const char *text;
} status_case;

static const status_case status_cases[] = {
    {"+OK", MJ_PARSE_OK, MJ_POP3_KIND_OK, MJ_POP3_CODE_NONE, ""},
    {"+OK ", MJ_PARSE_OK, MJ_POP3_KIND_OK, MJ_POP3_CODE_NONE, ""},
    {"+OK 2 320", MJ_PARSE_OK, MJ_POP3_KIND_OK, MJ_POP3_CODE_NONE, "2 320"},
    {"-ERR", MJ_PARSE_OK, MJ_POP3_KIND_ERR, MJ_POP3_CODE_NONE, ""},
    {"-ERR no such message", MJ_PARSE_OK, MJ_POP3_KIND_ERR, MJ_POP3_CODE_NONE, "no such message"},
    {"-ERR [AUTH] bad password", MJ_PARSE_OK, MJ_POP3_KIND_ERR, MJ_POP3_CODE_AUTH, "bad password"},
    {"-ERR [IN-USE] locked", MJ_PARSE_OK, MJ_POP3_KIND_ERR, MJ_POP3_CODE_IN_USE, "locked"},
    {"-ERR [LOGIN-DELAY] wait", MJ_PARSE_OK, MJ_POP3_KIND_ERR, MJ_POP3_CODE_LOGIN_DELAY, "wait"},
    {"-ERR [SYS/TEMP] try later", MJ_PARSE_OK, MJ_POP3_KIND_ERR, MJ_POP3_CODE_SYS_TEMP,
     "try later"},
    {"-ERR [sys/perm] perm alert", MJ_PARSE_OK, MJ_POP3_KIND_ERR, MJ_POP3_CODE_SYS_PERM,
     "perm alert"},
    {"-ERR [SYS/TEMP/DISK] full", MJ_PARSE_OK, MJ_POP3_KIND_ERR, MJ_POP3_CODE_SYS_TEMP, "full"},
    {"-ERR [SYSTEM] x", MJ_PARSE_OK, MJ_POP3_KIND_ERR, MJ_POP3_CODE_UNKNOWN, "x"},
    {"-ERR [AUTH]", MJ_PARSE_OK, MJ_POP3_KIND_ERR, MJ_POP3_CODE_AUTH, ""},
    {"-ERR [unterminated code", MJ_PARSE_OK, MJ_POP3_KIND_ERR, MJ_POP3_CODE_NONE,
     "[unterminated code"},
    {"+ ", MJ_PARSE_OK, MJ_POP3_KIND_CONT, MJ_POP3_CODE_NONE, ""},
    {"+", MJ_PARSE_OK, MJ_POP3_KIND_CONT, MJ_POP3_CODE_NONE, ""},
    {"+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2U+", MJ_PARSE_OK, MJ_POP3_KIND_CONT, MJ_POP3_CODE_NONE,
     "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2U+"},
    {"+OKAY", MJ_PARSE_ERROR, 0, 0, NULL},
    {"-ERROR", MJ_PARSE_ERROR, 0, 0, NULL},
    {"+ok", MJ_PARSE_ERROR, 0, 0, NULL},
    {"OK", MJ_PARSE_ERROR, 0, 0, NULL},
    {"", MJ_PARSE_ERROR, 0, 0, NULL},
    {"+x", MJ_PARSE_ERROR, 0, 0, NULL},
    {"* OK IMAP4rev1 ready", MJ_PARSE_ERROR, 0, 0, NULL},
    {"220 smtp.example ESMTP", MJ_PARSE_ERROR, 0, 0, NULL},
    {"+OK\t", MJ_PARSE_ERROR, 0, 0, NULL},
};

static void test_status_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof status_cases / sizeof status_cases[0]; i++) {
        const status_case *c = &status_cases[i];
        mj_pop3_status st;
        mj_error err;
        mj_error_clear(&err);
        mj_parse_result r = mj_pop3_parse_status(c->line, strlen(c->line), true, &st, &err);
        if (r != c->result)
            fail_msg("case %zu \"%s\": result %d, want %d", i, c->line, r, c->result);
        if (r == MJ_PARSE_ERROR) {
            assert_int_equal(err.outcome, MJ_PROTOCOL_ERROR);
            assert_int_equal(err.reason, MJ_R_MALFORMED);
            continue;
        }
        assert_int_equal(st.kind, c->kind);
        assert_int_equal(st.code, c->code);
        assert_int_equal(st.text_len, strlen(c->text));
        assert_memory_equal(st.text, c->text, st.text_len);
    }
}

static void test_status_cont_only_when_allowed(void **state)
{
    (void)state;
    mj_pop3_status st;
    mj_error err;
    assert_int_equal(mj_pop3_parse_status("+ abc", 5, false, &st, &err), MJ_PARSE_ERROR);
    assert_int_equal(err.reason, MJ_R_MALFORMED);
    assert_int_equal(mj_pop3_parse_status("+", 1, false, &st, &err), MJ_PARSE_ERROR);
    assert_int_equal(mj_pop3_parse_status("+OK", 3, false, &st, &err), MJ_PARSE_OK);
}

static void test_error_message_escapes(void **state)
{
    (void)state;
    mj_pop3_status st;
    mj_error err;
    assert_int_equal(mj_pop3_parse_status("\x1b[31m!\r", 7, false, &st, &err), MJ_PARSE_ERROR);
    assert_string_equal(err.message, "malformed POP3 status line: \"\\x1b[31m!\\x0d\"");
}

static void test_code_outcome_table(void **state)
{
    (void)state;
    assert_int_equal(mj_pop3_code_outcome(MJ_POP3_CODE_IN_USE, MJ_AUTH_FAILED), MJ_SERVER_BUSY);
    assert_int_equal(mj_pop3_code_outcome(MJ_POP3_CODE_LOGIN_DELAY, MJ_AUTH_FAILED),
                     MJ_SERVER_BUSY);
    assert_int_equal(mj_pop3_code_outcome(MJ_POP3_CODE_SYS_TEMP, MJ_AUTH_FAILED), MJ_SERVER_BUSY);
    assert_int_equal(mj_pop3_code_outcome(MJ_POP3_CODE_SYS_PERM, MJ_AUTH_FAILED),
                     MJ_SERVER_REFUSED);
    assert_int_equal(mj_pop3_code_outcome(MJ_POP3_CODE_AUTH, MJ_SERVER_REFUSED), MJ_AUTH_FAILED);
    assert_int_equal(mj_pop3_code_outcome(MJ_POP3_CODE_NONE, MJ_AUTH_FAILED), MJ_AUTH_FAILED);
    assert_int_equal(mj_pop3_code_outcome(MJ_POP3_CODE_UNKNOWN, MJ_SERVER_REFUSED),
                     MJ_SERVER_REFUSED);
}

/* ---- lines ------------------------------------------------------------------------------- */

/* Feed text one byte at a time; returns the final result and the line. */
static mj_parse_result line_bytewise(mj_pop3_line *l, const char *text, size_t max,
                                     size_t *used_out, mj_error *err)
{
    mj_pop3_line_reset(l, max);
    size_t n = strlen(text);
    for (size_t i = 0; i < n; i++) {
        size_t used = 0;
        mj_parse_result r =
            mj_pop3_line_feed(l, (const unsigned char *)text + i, 1, &used, "test line", err);
        if (r != MJ_PARSE_NEED_MORE) {
            *used_out = i + used;
            return r;
        }
        assert_int_equal(used, 1);
    }
    *used_out = n;
    return MJ_PARSE_NEED_MORE;
}

static void test_line_bytewise(void **state)
{
    (void)state;
    mj_pop3_line *l = malloc(sizeof *l);
    assert_non_null(l);
    mj_error err;
    size_t used = 0;
    assert_int_equal(line_bytewise(l, "+OK hi\r\nrest", 100, &used, &err), MJ_PARSE_OK);
    assert_int_equal(used, 8);
    assert_string_equal(l->buf, "+OK hi");
    assert_int_equal(line_bytewise(l, "bare lf\n", 100, &used, &err), MJ_PARSE_OK);
    assert_string_equal(l->buf, "bare lf");
    /* a CR inside the line stays */
    assert_int_equal(line_bytewise(l, "a\rb\r\n", 100, &used, &err), MJ_PARSE_OK);
    assert_int_equal(l->len, 3);
    assert_memory_equal(l->buf, "a\rb", 3);
    /* exactly max content bytes pass, one more is LINE_TOO_LONG */
    assert_int_equal(line_bytewise(l, "12345\r\n", 5, &used, &err), MJ_PARSE_OK);
    assert_int_equal(line_bytewise(l, "123456\r\n", 5, &used, &err), MJ_PARSE_ERROR);
    assert_int_equal(err.reason, MJ_R_LINE_TOO_LONG);
    assert_int_equal(line_bytewise(l, "123456\n", 5, &used, &err), MJ_PARSE_ERROR);
    assert_int_equal(err.reason, MJ_R_LINE_TOO_LONG);
    assert_int_equal(line_bytewise(l, "1234567", 5, &used, &err), MJ_PARSE_ERROR);
    assert_int_equal(err.outcome, MJ_PROTOCOL_ERROR);
    free(l);
}

/* ---- unstuffing ----------------------------------------------------------------------------- */

typedef struct unstuff_case {
    const char *wire;   /* the multi-line body as sent, terminator included */
    const char *body;   /* what the sink must receive */
    size_t trailing;    /* bytes after the terminator that must not be taken */
} unstuff_case;

static const unstuff_case unstuff_cases[] = {
    {".\r\n", "", 0},
    {"hello\r\n.\r\n", "hello\r\n", 0},
    {"..\r\n..\r\n..\r\n.\r\n", ".\r\n.\r\n.\r\n", 0},               /* only "." lines */
    {"..leading\r\nx\r\n.\r\n+OK next\r\n", ".leading\r\nx\r\n", 10}, /* pipelined reply */
    {"a\r\n...\r\n.\r\n", "a\r\n..\r\n", 0},
    {"a.\r\n.b\r\n.\r\n", "a.\r\nb\r\n", 0},       /* a lone "." is always dropped */
    {"x\n.\nstill body\r\n.\r\n", "x\n.\nstill body\r\n", 0}, /* bare LF starts no line */
    {"x\r\n.\ry\r\n.\r\n", "x\r\n\ry\r\n", 0},      /* ".\r" then not LF */
    {"x\r\n.\r\r\n.\r\n", "x\r\n\r\r\n", 0},
    {"x\r\r\n.\r\n", "x\r\r\n", 0},
    {"\r\n.\r\n", "\r\n", 0},
    {"no final crlf.\r\n.\r\n", "no final crlf.\r\n", 0},
    {"a\r\n.\r\n.\r\n", "a\r\n", 3},                 /* the second "." line is not ours */
};

/* Feed wire split into pieces [0,k) and [k,n) (k = 0: one byte at a time). */
static void unstuff_split(const unstuff_case *c, size_t k)
{
    const unsigned char *wire = (const unsigned char *)c->wire;
    size_t n = strlen(c->wire);
    unsigned char out[64];
    char got[256];
    size_t got_len = 0, pos = 0;
    mj_pop3_unstuff u;
    mj_pop3_unstuff_init(&u, 1000);
    mj_parse_result r = MJ_PARSE_NEED_MORE;
    while (pos < n && r == MJ_PARSE_NEED_MORE) {
        size_t piece = k == 0 ? 1 : (pos < k ? k - pos : n - pos);
        size_t used = 0, produced = 0;
        mj_error err;
        r = mj_pop3_unstuff_feed(&u, wire + pos, piece, &used, out, &produced, &err);
        assert_true(produced <= piece + 1);
        memcpy(got + got_len, out, produced);
        got_len += produced;
        if (r == MJ_PARSE_NEED_MORE)
            assert_int_equal(used, piece);
        pos += used;
    }
    if (r != MJ_PARSE_OK)
        fail_msg("\"%s\" split at %zu: no end", c->wire, k);
    assert_int_equal(n - pos, c->trailing);
    assert_int_equal(got_len, strlen(c->body));
    assert_memory_equal(got, c->body, got_len);
    assert_int_equal(u.total, got_len);
}

static void test_unstuff_every_split(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof unstuff_cases / sizeof unstuff_cases[0]; i++) {
        size_t n = strlen(unstuff_cases[i].wire);
        for (size_t k = 0; k <= n; k++)
            unstuff_split(&unstuff_cases[i], k);
    }
}

static void test_unstuff_needs_terminator(void **state)
{
    (void)state;
    static const char *const partial[] = {"", "abc", "abc\r\n", "abc\r\n.", "abc\r\n.\r",
                                          "x\n.\n", ".\r", "..\r\n"};
    for (size_t i = 0; i < sizeof partial / sizeof partial[0]; i++) {
        mj_pop3_unstuff u;
        mj_pop3_unstuff_init(&u, 1000);
        unsigned char out[32];
        size_t used = 0, produced = 0;
        mj_error err;
        size_t n = strlen(partial[i]);
        assert_int_equal(mj_pop3_unstuff_feed(&u, (const unsigned char *)partial[i], n, &used,
                                              out, &produced, &err),
                         MJ_PARSE_NEED_MORE);
        assert_int_equal(used, n);
    }
}

static void test_unstuff_cap(void **state)
{
    (void)state;
    mj_pop3_unstuff u;
    mj_pop3_unstuff_init(&u, 5);
    unsigned char out[32];
    size_t used = 0, produced = 0;
    mj_error err;
    assert_int_equal(mj_pop3_unstuff_feed(&u, (const unsigned char *)"abc", 3, &used, out,
                                          &produced, &err),
                     MJ_PARSE_NEED_MORE);
    assert_int_equal(mj_pop3_unstuff_feed(&u, (const unsigned char *)"\r\n", 2, &used, out,
                                          &produced, &err),
                     MJ_PARSE_NEED_MORE);
    assert_int_equal(u.total, 5);
    /* "." CR LF adds nothing: a body of exactly max bytes passes */
    assert_int_equal(mj_pop3_unstuff_feed(&u, (const unsigned char *)"x", 1, &used, out,
                                          &produced, &err),
                     MJ_PARSE_ERROR);
    assert_int_equal(err.outcome, MJ_PROTOCOL_ERROR);
    assert_int_equal(err.reason, MJ_R_STREAM_TOO_LARGE);
    assert_int_equal(produced, 0);
}

/* ---- listings, numbers ---------------------------------------------------------------------- */

static void test_scan(void **state)
{
    (void)state;
    uint32_t n = 0;
    uint64_t size = 0;
    mj_error err;
    assert_int_equal(mj_pop3_parse_scan("1 120", 5, false, &n, &size, &err), MJ_PARSE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(size, 120);
    assert_int_equal(mj_pop3_parse_scan("4294967295 9223372036854775807 extra", 36, false, &n,
                                        &size, &err),
                     MJ_PARSE_OK);
    assert_int_equal(n, UINT32_MAX);
    assert_true(size == (uint64_t)INT64_MAX);
    assert_int_equal(mj_pop3_parse_scan("4294967296 1", 12, false, &n, &size, &err),
                     MJ_PARSE_ERROR);
    assert_int_equal(err.reason, MJ_R_NUMBER_OVERFLOW);
    assert_int_equal(mj_pop3_parse_scan("1 9223372036854775808", 21, false, &n, &size, &err),
                     MJ_PARSE_ERROR);
    assert_int_equal(err.reason, MJ_R_NUMBER_OVERFLOW);
    static const char *const bad[] = {"0 5", "1", "1 ", " 1 2", "1  2", "a 2", "1 -2", "1 2x",
                                      "1\t2", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (mj_pop3_parse_scan(bad[i], strlen(bad[i]), false, &n, &size, &err) != MJ_PARSE_ERROR)
            fail_msg("scan \"%s\" accepted", bad[i]);
        assert_int_equal(err.reason, MJ_R_MALFORMED);
    }
    assert_int_equal(mj_pop3_parse_scan("0 0", 3, true, &n, &size, &err), MJ_PARSE_OK);
}

static void test_uid(void **state)
{
    (void)state;
    uint32_t n = 0;
    char uid[MJ_POP3_UID_MAX + 1];
    mj_error err;
    assert_int_equal(mj_pop3_parse_uid("1 whqtswO00WBw418f9t5JxYwZ", 26, &n, uid, &err),
                     MJ_PARSE_OK);
    assert_int_equal(n, 1);
    assert_string_equal(uid, "whqtswO00WBw418f9t5JxYwZ");
    assert_int_equal(mj_pop3_parse_uid("2 QhdPYR:00WBw1Ph7x7 \t", 22, &n, uid, &err),
                     MJ_PARSE_OK);
    assert_string_equal(uid, "QhdPYR:00WBw1Ph7x7");
    char line[100];
    memset(line, 'u', sizeof line);
    memcpy(line, "3 ", 2);
    assert_int_equal(mj_pop3_parse_uid(line, 72, &n, uid, &err), MJ_PARSE_OK);
    assert_int_equal(strlen(uid), 70);
    assert_int_equal(mj_pop3_parse_uid(line, 73, &n, uid, &err), MJ_PARSE_ERROR);
    assert_int_equal(err.reason, MJ_R_MALFORMED);
    static const char *const bad[] = {"1 ", "1 a b", "0 abc", "1 \x7f", "1 caf\xc3\xa9",
                                      "x abc", "1", "1 a\x01"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (mj_pop3_parse_uid(bad[i], strlen(bad[i]), &n, uid, &err) != MJ_PARSE_ERROR)
            fail_msg("uid \"%s\" accepted", bad[i]);
        assert_int_equal(err.outcome, MJ_PROTOCOL_ERROR);
    }
}

static void test_capa_lines(void **state)
{
    (void)state;
    mj_pop3_caps *caps = calloc(1, sizeof *caps);
    assert_non_null(caps);
    mj_error err;
    static const char *const lines[] = {"TOP", "user", "SASL PLAIN SCRAM-SHA-256 X-UNKNOWN",
                                        "RESP-CODES", "PIPELINING", "STLS", "UIDL",
                                        "IMPLEMENTATION Shlemazle-Plotz-v302", "X-STLS"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        assert_int_equal(mj_pop3_parse_capa_line(lines[i], strlen(lines[i]), caps, &err),
                         MJ_PARSE_OK);
    assert_int_equal(caps->bits, MJ_POP3_CAP_TOP | MJ_POP3_CAP_USER | MJ_POP3_CAP_SASL |
                                     MJ_POP3_CAP_RESP_CODES | MJ_POP3_CAP_PIPELINING |
                                     MJ_POP3_CAP_STLS | MJ_POP3_CAP_UIDL |
                                     MJ_POP3_CAP_IMPLEMENTATION);
    assert_int_equal(caps->sasl, MJ_SASL_BIT(MJ_SASL_PLAIN) | MJ_SASL_BIT(MJ_SASL_SCRAM_SHA_256));
    assert_int_equal(caps->n_lines, 9);
    assert_string_equal(caps->lines[8], "X-STLS");
    while (caps->n_lines < MJ_POP3_CAPA_LINES_MAX)
        assert_int_equal(mj_pop3_parse_capa_line("X", 1, caps, &err), MJ_PARSE_OK);
    assert_int_equal(mj_pop3_parse_capa_line("X", 1, caps, &err), MJ_PARSE_ERROR);
    assert_int_equal(err.reason, MJ_R_REPLY_TOO_LARGE);
    free(caps);
}

static void test_apop_timestamp(void **state)
{
    (void)state;
    char ts[MJ_POP3_APOP_TIMESTAMP_MAX + 1];
    mj_error err;
    const char *g = "POP3 server ready <1896.697170952@dbc.mtview.ca.us>";
    assert_int_equal(mj_pop3_apop_timestamp(g, strlen(g), ts, sizeof ts, &err), MJ_PARSE_OK);
    assert_string_equal(ts, "<1896.697170952@dbc.mtview.ca.us>");
    g = "ready <a@[127.0.0.1]> extra";
    assert_int_equal(mj_pop3_apop_timestamp(g, strlen(g), ts, sizeof ts, &err), MJ_PARSE_OK);
    assert_string_equal(ts, "<a@[127.0.0.1]>");
    static const char *const bad[] = {"no timestamp",       "<noat>",      "<@host>",
                                      "<user@>",            "<a b@c>",     "<a..b@c>",
                                      "<.a@c>",             "<a@c",        "<a@c\x01>",
                                      "<a@\xc3\xa9.example>", "<a@b@c>", "<a@[x[y]>"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (mj_pop3_apop_timestamp(bad[i], strlen(bad[i]), ts, sizeof ts, &err) != MJ_PARSE_ERROR)
            fail_msg("timestamp \"%s\" accepted", bad[i]);
    }
    /* the length cap: 256 bytes pass, 257 do not */
    char big[400];
    memset(big, 'a', sizeof big);
    big[0] = '<';
    memcpy(big + 250, "@b.cd>", 6); /* 256 bytes */
    assert_int_equal(mj_pop3_apop_timestamp(big, 256, ts, sizeof ts, &err), MJ_PARSE_OK);
    memcpy(big + 250, "@b.cde>", 7);
    assert_int_equal(mj_pop3_apop_timestamp(big, 257, ts, sizeof ts, &err), MJ_PARSE_ERROR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_table),
        cmocka_unit_test(test_status_cont_only_when_allowed),
        cmocka_unit_test(test_error_message_escapes),
        cmocka_unit_test(test_code_outcome_table),
        cmocka_unit_test(test_line_bytewise),
        cmocka_unit_test(test_unstuff_every_split),
        cmocka_unit_test(test_unstuff_needs_terminator),
        cmocka_unit_test(test_unstuff_cap),
        cmocka_unit_test(test_scan),
        cmocka_unit_test(test_uid),
        cmocka_unit_test(test_capa_lines),
        cmocka_unit_test(test_apop_timestamp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
