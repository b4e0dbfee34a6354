/*
 * test_personality_parsers.c: the pure parsers of mjfake's protocol
 * personalities, fed at every chunk boundary: the SMTP DATA reader
 * (un-stuffing, terminator, bare CR/LF and smuggling watch, size cap), BDAT
 * lines, the streaming content checks, the IMAP command scanner (literals,
 * LITERAL+, caps), and APOP (RFC 1939's own example).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "imap/literal.h"
#include "pop3/apop.h"
#include "smtp/data.h"
#include "smtp/data_check.h"

#define OUT_CAP 4096

/* ---- the DATA reader ---------------------------------------------------------------- */

typedef struct sink_buf {
    unsigned char b[OUT_CAP];
    size_t n;
} sink_buf;

static void to_buf(void *arg, const unsigned char *p, size_t n)
{
    sink_buf *s = arg;
    assert_true(n > 0 && s->n + n <= OUT_CAP);
    memcpy(s->b + s->n, p, n);
    s->n += n;
}

/* One wire input, what the content must be, and what the watch must count. */
typedef struct data_case {
    const char *wire;
    const char *content;
    size_t used; /* wire bytes consumed by the terminator; 0: no terminator */
    unsigned bare_lf, bare_cr, smuggling;
    const char *seq; /* the first smuggling sequence, "" when none */
} data_case;

static const data_case data_cases[] = {
    {"Hello\r\n.\r\n", "Hello\r\n", 10, 0, 0, 0, ""},
    {".\r\n", "", 3, 0, 0, 0, ""},
    {"..dot\r\n.\r\n", ".dot\r\n", 10, 0, 0, 0, ""},
    {"a\r\n..\r\n.\r\n", "a\r\n.\r\n", 10, 0, 0, 0, ""},
    {"a\r\n.b\r\n.\r\nQUIT\r\n", "a\r\nb\r\n", 10, 0, 0, 0, ""},
    {"a\nb\r\n.\r\n", "a\nb\r\n", 8, 1, 0, 0, ""},
    {"a\rb\r\n.\r\n", "a\rb\r\n", 8, 0, 1, 0, ""},
    {"a\n.\nb\r\n.\r\n", "a\n.\nb\r\n", 10, 2, 0, 1, "\n.\n"},
    {"a\r\n.\nb\r\n.\r\n", "a\r\n\nb\r\n", 11, 1, 0, 1, "\n.\n"},
    {"a\n.\r\nb\r\n.\r\n", "a\n.\r\nb\r\n", 11, 1, 0, 1, "\n.\r\n"},
    {"a\r.\r\nb\r\n.\r\n", "a\r.\r\nb\r\n", 11, 0, 1, 1, "\r.\r\n"},
    {"a\r\n.\rb\r\n.\r\n", "a\r\n\rb\r\n", 11, 0, 1, 1, "\r\n.\rb"},
    {"a\r\r\n.\r\n", "a\r\r\n", 7, 0, 1, 0, ""},
    {"no end\r\n", "no end\r\n", 0, 0, 0, 0, ""},
};

typedef struct data_result {
    sink_buf out;
    size_t used;
    fk_parse res;
    fk_data_reader r;
} data_result;

/* Feed wire in pieces: cut after byte `cut` (0: whole), or byte by byte when one. */
static void feed_data(const char *wire, size_t cut, bool one, data_result *dr)
{
    size_t len = strlen(wire), pos = 0;
    memset(dr, 0, sizeof *dr);
    fk_data_reader_init(&dr->r, 1000);
    dr->res = FK_PARSE_NEED_MORE;
    while (pos < len && dr->res == FK_PARSE_NEED_MORE) {
        size_t n = one ? 1 : (cut && pos < cut ? cut : len) - pos;
        size_t used = 0;
        dr->res = fk_data_reader_feed(&dr->r, (const unsigned char *)wire + pos, n, &used, to_buf,
                                      &dr->out);
        assert_true(used <= n);
        assert_true(dr->res != FK_PARSE_NEED_MORE || used == n);
        pos += used;
    }
    dr->used = pos;
}

static void check_case(const data_case *k, const data_result *dr)
{
    size_t want = strlen(k->content);
    if (dr->out.n != want || memcmp(dr->out.b, k->content, want) != 0)
        fail_msg("content of '%s': got %zu bytes", k->wire, dr->out.n);
    assert_int_equal(dr->res, k->used ? FK_PARSE_OK : FK_PARSE_NEED_MORE);
    assert_int_equal(dr->used, k->used ? k->used : strlen(k->wire));
    assert_int_equal(dr->r.bare_lf.count, k->bare_lf);
    assert_int_equal(dr->r.bare_cr.count, k->bare_cr);
    assert_int_equal(dr->r.smuggling.count, k->smuggling);
    assert_string_equal(dr->r.smuggling_seq, k->seq);
    assert_int_equal(dr->r.size, want);
}

static void test_data_every_boundary(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof data_cases / sizeof data_cases[0]; i++) {
        const data_case *k = &data_cases[i];
        data_result dr;
        for (size_t cut = 0; cut < strlen(k->wire); cut++) {
            feed_data(k->wire, cut, false, &dr);
            check_case(k, &dr);
        }
        feed_data(k->wire, 0, true, &dr);
        check_case(k, &dr);
    }
}

static void test_data_offsets(void **state)
{
    (void)state;
    data_result dr;
    feed_data("ab\ncd\re\r\n.\r\n", 0, true, &dr);
    assert_int_equal(dr.r.bare_lf.first_at, 2);
    assert_int_equal(dr.r.bare_cr.first_at, 5);
}

static void test_data_size_cap(void **state)
{
    (void)state;
    fk_data_reader r;
    sink_buf out = {.n = 0};
    size_t used = 0;
    fk_data_reader_init(&r, 5);
    assert_int_equal(
        fk_data_reader_feed(&r, (const unsigned char *)"12345", 5, &used, to_buf, &out),
        FK_PARSE_NEED_MORE);
    assert_int_equal(
        fk_data_reader_feed(&r, (const unsigned char *)"6\r\n.\r\n", 6, &used, to_buf, &out),
        FK_PARSE_ERROR);
    assert_int_equal(used, 0);
    assert_int_equal(r.size, 5);
    /* exactly at the cap is fine: "123\r\n" is 5 */
    fk_data_reader_init(&r, 5);
    out.n = 0;
    assert_int_equal(
        fk_data_reader_feed(&r, (const unsigned char *)"123\r\n.\r\n", 8, &used, to_buf, &out),
        FK_PARSE_OK);
}

static void test_data_large_runs(void **state)
{
    (void)state;
    /* runs longer than the reader's output chunk go through whole */
    size_t n = 10000;
    char *wire = malloc(n + 6);
    memset(wire, 'x', n);
    memcpy(wire + n, "\r\n.\r\n", 6);
    fk_data_reader r;
    fk_data_check d;
    fk_expect_data e = {.contains = "xxx\r\n"};
    assert_int_equal(fk_data_check_begin(&d, &e), 0);
    fk_data_reader_init(&r, FK_DATA_MAX_DEFAULT);
    size_t used = 0;
    assert_int_equal(
        fk_data_reader_feed(&r, (const unsigned char *)wire, n + 5, &used, fk_data_check_feed, &d),
        FK_PARSE_OK);
    assert_int_equal(used, n + 5);
    char why[FK_DATA_WHY_MAX];
    assert_true(fk_data_check_end(&d, why, sizeof why));
    assert_int_equal(d.size, n + 2);
    fk_data_check_free(&d);
    free(wire);
}

static void test_bdat_lines(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        int rc;
        uint64_t size;
        bool last;
    } rows[] = {
        {"BDAT 100", 0, 100, false},
        {"bdat 0 last", 0, 0, true},
        {"BDAT 7 LAST", 0, 7, true},
        {"BDAT 9999999999999999999", 0, 9999999999999999999u, false},
        {"BDAT", -1, 0, false},
        {"BDAT ", -1, 0, false},
        {"BDAT x", -1, 0, false},
        {"BDAT 5 FIRST", -1, 0, false},
        {"BDAT 5  LAST", -1, 0, false},
        {"BDAT 12345678901234567890", -1, 0, false},
        {"DATA", -1, 0, false},
        {"BDAT 5 LAST ", -1, 0, false},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint64_t size = 0;
        bool last = false;
        int rc = fk_bdat_parse(rows[i].line, strlen(rows[i].line), &size, &last);
        if (rc != rows[i].rc)
            fail_msg("'%s': rc %d", rows[i].line, rc);
        if (rc == 0) {
            assert_true(size == rows[i].size);
            assert_int_equal(last, rows[i].last);
        }
    }
}

/* ---- content checks ------------------------------------------------------------------- */

static void check_in_pieces(const fk_expect_data *e, const char *content, size_t piece,
                            bool want_ok, const char *want_why)
{
    fk_data_check d;
    char why[FK_DATA_WHY_MAX] = "";
    assert_int_equal(fk_data_check_begin(&d, e), 0);
    size_t n = strlen(content);
    for (size_t i = 0; i < n; i += piece)
        fk_data_check_feed(&d, (const unsigned char *)content + i, n - i < piece ? n - i : piece);
    bool ok = fk_data_check_end(&d, why, sizeof why);
    fk_data_check_free(&d);
    if (ok != want_ok || (want_why && strcmp(why, want_why) != 0))
        fail_msg("'%s' by %zu: ok %d, why '%s'", content, piece, ok, why);
}

static void test_checks(void **state)
{
    (void)state;
    char path[] = "/tmp/fkdataXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "Subject: x\r\n\r\nbody\r\n", 20), 20);
    close(fd);
    fk_expect_data contains = {.contains = "t: x\r\n\r\nbo"};
    fk_expect_data file = {.equals_file = path};
    fk_expect_data sha = {.has_sha256 = true};
    /* SHA-256("abc"), FIPS 180-2 */
    static const unsigned char abc[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
                                          0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
                                          0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
                                          0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    memcpy(sha.sha256, abc, 32);
    for (size_t piece = 1; piece <= 21; piece++) {
        check_in_pieces(&contains, "Subject: x\r\n\r\nbody\r\n", piece, true, NULL);
        check_in_pieces(&contains, "Subject: y\r\n\r\nbody\r\n", piece, false, NULL);
        check_in_pieces(&file, "Subject: x\r\n\r\nbody\r\n", piece, true, NULL);
        check_in_pieces(&sha, "abc", piece, true, NULL);
    }
    fk_data_check d;
    char why[FK_DATA_WHY_MAX];
    assert_int_equal(fk_data_check_begin(&d, &file), 0);
    fk_data_check_feed(&d, (const unsigned char *)"Subject: x\r\n\r\nbody\r\nX", 21);
    assert_false(fk_data_check_end(&d, why, sizeof why));
    assert_int_equal(d.first_diff, 20);
    fk_data_check_free(&d);
    assert_non_null(strstr(why, "that differ from byte 20"));
    check_in_pieces(&file, "Subject: x\r\n\r\nbody\r", 3, false, NULL); /* shorter */
    check_in_pieces(&sha, "abd", 1, false, NULL);
    unlink(path);
}

/* ---- the IMAP command scanner --------------------------------------------------------- */

static const fk_imap_limits lim = {.line_max = 40, .literal_max = 20, .command_max = 120};

/* Scan like the server: each continuation due is acknowledged, then rescanned. */
static fk_parse scan(const char *buf, size_t len, bool eof, size_t *acked, fk_imap_scan *sc)
{
    for (;;) {
        fk_parse r = fk_imap_scan_command((const unsigned char *)buf, len, eof, &lim, *acked, sc);
        if (r != FK_PARSE_NEED_MORE || !sc->continuation_due)
            return r;
        (*acked)++;
    }
}

static void test_imap_commands(void **state)
{
    (void)state;
    static const struct {
        const char *cmd;
        size_t sync; /* synchronizing literals */
    } rows[] = {
        {"a1 NOOP\r\n", 0},
        {"a1 NOOP\n", 0},
        {"a2 LOGIN {5}\r\nalice {6}\r\nsecret\r\n", 2},
        {"a3 LOGIN {5+}\r\nalice {6+}\r\nsecret\r\n", 0},
        {"a4 APPEND INBOX ~{3}\r\na\nb\r\n", 1},
        {"a5 X {0}\r\n\r\n", 1},
        {"a6 X {5}\r\n{2}\r\n ab\r\n", 1}, /* a literal's bytes are not scanned */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const char *cmd = rows[i].cmd;
        size_t n = strlen(cmd), end = cmd[n - 2] == '\r' ? n - 2 : n - 1;
        for (size_t part = 0; part <= n; part++) { /* every prefix: need more, then complete */
            size_t acked = 0;
            fk_imap_scan sc;
            fk_parse r = scan(cmd, part, false, &acked, &sc);
            if (part < n) {
                if (r != FK_PARSE_NEED_MORE)
                    fail_msg("'%s' prefix %zu: %d", cmd, part, r);
                continue;
            }
            assert_int_equal(r, FK_PARSE_OK);
            assert_int_equal(sc.cmd_len, end);
            assert_int_equal(sc.used, n);
            assert_int_equal(acked, rows[i].sync);
        }
    }
}

static void test_imap_continuation_order(void **state)
{
    (void)state;
    const char *cmd = "a LOGIN {5}\r\nalice {6}\r\n";
    fk_imap_scan sc;
    /* the first literal's continuation is due before its bytes came */
    assert_int_equal(fk_imap_scan_command((const unsigned char *)cmd, 13, false, &lim, 0, &sc),
                     FK_PARSE_NEED_MORE);
    assert_true(sc.continuation_due);
    assert_int_equal(sc.literal_size, 5);
    assert_int_equal(fk_imap_scan_command((const unsigned char *)cmd, 13, false, &lim, 1, &sc),
                     FK_PARSE_NEED_MORE);
    assert_false(sc.continuation_due);
    assert_int_equal(
        fk_imap_scan_command((const unsigned char *)cmd, strlen(cmd), false, &lim, 1, &sc),
        FK_PARSE_NEED_MORE);
    assert_true(sc.continuation_due);
    assert_int_equal(sc.literal_size, 6);
}

static void test_imap_caps_and_eof(void **state)
{
    (void)state;
    size_t acked = 0;
    fk_imap_scan sc;
    const char *big = "a APPEND INBOX {21}\r\n";
    assert_int_equal(scan(big, strlen(big), false, &acked, &sc), FK_PARSE_ERROR);
    assert_string_equal(sc.why, "a literal of 21 bytes, more than literal_max (20)");
    char line[64];
    memset(line, 'x', 41);
    line[41] = '\0';
    acked = 0;
    assert_int_equal(scan(line, 41, false, &acked, &sc), FK_PARSE_ERROR);
    assert_string_equal(sc.why, "a line longer than line_max (40 bytes)");
    acked = 0;
    assert_int_equal(scan(line, 40, false, &acked, &sc), FK_PARSE_NEED_MORE);
    /* many literals: the whole command breaks command_max */
    char many[256] = "";
    for (int i = 0; i < 7; i++)
        strcat(many, "x {20}\r\n01234567890123456789");
    acked = 0;
    assert_int_equal(scan(many, strlen(many), false, &acked, &sc), FK_PARSE_ERROR);
    assert_string_equal(sc.why, "a command longer than 120 bytes");
    /* at EOF a last line without its line end counts; a cut literal does not */
    acked = 0;
    assert_int_equal(scan("a1 NOOP", 7, true, &acked, &sc), FK_PARSE_OK);
    assert_int_equal(sc.cmd_len, 7);
    acked = 0;
    assert_int_equal(scan("a1 X {5}\r\nab", 12, true, &acked, &sc), FK_PARSE_NEED_MORE);
}

static void test_imap_markers(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        int rc;
        size_t size;
        bool plus;
    } rows[] = {
        {"x {5}", 0, 5, false},
        {"{5}", 0, 5, false},
        {"x {12+}", 0, 12, true},
        {"x ~{3}", 0, 3, false},
        {"x {}", -1, 0, false},
        {"x {a}", -1, 0, false},
        {"x {5", -1, 0, false},
        {"x 5}", -1, 0, false},
        {"x {+}", -1, 0, false},
        {"x {12345678901}", -1, 0, false},
        {"x {1234567890}", 0, 1234567890, false},
        {"x {5} ", -1, 0, false},
        {"}", -1, 0, false},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        size_t size = 0;
        bool plus = false;
        int rc = fk_imap_literal_marker((const unsigned char *)rows[i].line, strlen(rows[i].line),
                                        &size, &plus);
        if (rc != rows[i].rc)
            fail_msg("'%s': rc %d", rows[i].line, rc);
        if (rc == 0) {
            assert_int_equal(size, rows[i].size);
            assert_int_equal(plus, rows[i].plus);
        }
    }
}

/* ---- APOP ------------------------------------------------------------------------------ */

static void test_apop(void **state)
{
    (void)state;
    char ts[FK_APOP_TS_MAX], hex[FK_APOP_DIGEST_SIZE], user[FK_APOP_USER_MAX];
    const char *greet = "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n";
    assert_int_equal(fk_apop_timestamp((const unsigned char *)greet, strlen(greet), ts), 0);
    assert_string_equal(ts, "<1896.697170952@dbc.mtview.ca.us>");
    assert_int_equal(fk_apop_digest(ts, "tanstaaf", hex), 0);
    assert_string_equal(hex, "c4c9334bac560ecc979e58001b3e22fb"); /* RFC 1939 section 7 */
    const char *line = "apop mrose C4C9334BAC560ECC979E58001B3E22FB";
    assert_int_equal(fk_apop_parse(line, strlen(line), user, hex), 0);
    assert_string_equal(user, "mrose");
    assert_string_equal(hex, "c4c9334bac560ecc979e58001b3e22fb");
    static const char *const bad_lines[] = {"APOP mrose",
                                            "APOP  c4c9334bac560ecc979e58001b3e22fb",
                                            "APOP mrose c4c9334bac560ecc979e58001b3e22f",
                                            "APOP mrose c4c9334bac560ecc979e58001b3e22fbb",
                                            "APOP mrose g4c9334bac560ecc979e58001b3e22fb",
                                            "USER mrose",
                                            "APOP"};
    for (size_t i = 0; i < sizeof bad_lines / sizeof bad_lines[0]; i++)
        if (fk_apop_parse(bad_lines[i], strlen(bad_lines[i]), user, hex) != -1)
            fail_msg("'%s' parsed", bad_lines[i]);
    static const char *const no_ts[] = {"+OK ready", "+OK <no-at-sign>", "+OK <a@b\r\n>",
                                        "+OK <<a@b"};
    for (size_t i = 0; i < sizeof no_ts / sizeof no_ts[0]; i++)
        if (fk_apop_timestamp((const unsigned char *)no_ts[i], strlen(no_ts[i]), ts) != -1)
            fail_msg("'%s' has a timestamp", no_ts[i]);
    assert_int_equal(fk_apop_timestamp((const unsigned char *)"+OK <x> <1@h>", 13, ts), 0);
    assert_string_equal(ts, "<1@h>");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_every_boundary),
        cmocka_unit_test(test_data_offsets),
        cmocka_unit_test(test_data_size_cap),
        cmocka_unit_test(test_data_large_runs),
        cmocka_unit_test(test_bdat_lines),
        cmocka_unit_test(test_checks),
        cmocka_unit_test(test_imap_commands),
        cmocka_unit_test(test_imap_continuation_order),
        cmocka_unit_test(test_imap_caps_and_eof),
        cmocka_unit_test(test_imap_markers),
        cmocka_unit_test(test_apop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
