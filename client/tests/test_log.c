/*
 * test_log.c: the protocol log (log.h) against golden files.
 *
 * Each golden file in client/tests/golden/ was written by hand from the
 * rules in log.h (MailKit's ProtocolLogger format plus mailjig's escaping,
 * line cap, timestamps and secret spans) and is compared byte for byte.  The
 * directory is $MJ_SRCDIR/client/tests/golden, or ./client/tests/golden.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "mailjig/mailjig.h"

#define GOLDEN_MAX (64 * 1024)

/* ---- helpers ------------------------------------------------------------------- */

struct capture {
    char *text;
    size_t len;
    FILE *fp;
    mj_log *log;
};

static void cap_open(struct capture *c)
{
    c->text = NULL;
    c->len = 0;
    c->fp = open_memstream(&c->text, &c->len);
    assert_non_null(c->fp);
    c->log = mj_log_new(c->fp);
    assert_non_null(c->log);
}

static void cap_close(struct capture *c)
{
    mj_log_free(c->log);
    fclose(c->fp);
}

static size_t read_golden(const char *name, char *buf, size_t cap)
{
    const char *src = getenv("MJ_SRCDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/client/tests/golden/%s", src ? src : ".", name);
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        fail_msg("cannot open golden file %s", path);
    size_t n = fread(buf, 1, cap, fp);
    assert_true(n < cap); /* the whole file fit */
    fclose(fp);
    return n;
}

/* Compare with the golden file; on a difference show where, escaped. */
static void assert_golden(struct capture *c, const char *name)
{
    static char want[GOLDEN_MAX];
    cap_close(c);
    size_t n = read_golden(name, want, sizeof want);
    size_t i = 0;
    while (i < n && i < c->len && want[i] == c->text[i])
        i++;
    if (i != n || i != c->len) {
        size_t from = i > 20 ? i - 20 : 0;
        char got_e[256], want_e[256];
        mj_escape(c->text + from, c->len - from < 50 ? c->len - from : 50, got_e, sizeof got_e);
        mj_escape(want + from, n - from < 50 ? n - from : 50, want_e, sizeof want_e);
        fail_msg("%s differs at byte %zu (got %zu bytes, want %zu)\n  got:  %s\n  want: %s", name,
                 i, c->len, n, got_e, want_e);
    }
    free(c->text);
}

static void put(mj_log *log, mj_log_dir d, const char *s)
{
    mj_log_data(log, d, s, strlen(s), false);
}

static void put_n(mj_log *log, mj_log_dir d, const void *s, size_t n)
{
    mj_log_data(log, d, s, n, false);
}

static void secret(mj_log *log, mj_log_dir d, const char *s)
{
    mj_log_data(log, d, s, strlen(s), true);
}

#define C MJ_LOG_CLIENT
#define S MJ_LOG_SERVER

/* ---- golden cases ----------------------------------------------------------------- */

static void test_imap_session(void **state)
{
    (void)state;
    struct capture c;
    cap_open(&c);
    mj_log_connect(c.log, "imaps://mail.mailjig.test:993/");
    put(c.log, S, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] mailjig ready\r\n");
    put(c.log, C, "A00000000 LOGIN alice ");
    secret(c.log, C, "hunter2");
    put(c.log, C, "\r\n");
    /* a server reply cut mid-line: the second part gets no new prefix */
    put(c.log, S, "A00000000 OK [CAPA");
    put(c.log, S, "BILITY IMAP4rev1] Logged in\r\n* 1 EXISTS\r\n");
    put(c.log, C, "A00000001 LOGOUT\r\n");
    put(c.log, S, "* BYE\r\nA00000001 OK\r\n");
    assert_golden(&c, "imap_session.log");
}

static void test_timestamps(void **state)
{
    (void)state;
    struct capture c;
    cap_open(&c);
    mj_log_set_timestamps(c.log, true);
    mj_log_set_fixed_time(c.log, 1700000000LL); /* 2023-11-14T22:13:20Z */
    mj_log_connect(c.log, "imap://mail.mailjig.test:143/?starttls=always");
    put(c.log, S, "* OK hi\r\n");
    put(c.log, C, "a STA");
    put(c.log, C, "RTTLS\r\n");
    put(c.log, S, "a OK go\n");
    assert_golden(&c, "timestamps.log");
}

static void test_all_byte_values(void **state)
{
    (void)state;
    unsigned char all[256];
    for (unsigned i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    struct capture c;
    cap_open(&c);
    put_n(c.log, S, all, sizeof all);
    put(c.log, S, "\r\n");
    assert_golden(&c, "all_bytes.log");
}

static void test_utf8(void **state)
{
    (void)state;
    struct capture c;
    cap_open(&c);
    put(c.log, S, "caf\xc3\xa9 ok\r\n");
    put(c.log, S, "\xe2\x82"); /* a sequence split across calls */
    put(c.log, S, "\xac euro\r\n");
    put(c.log, S, "\xf0\x9f");
    put(c.log, S, "\x98");
    put(c.log, S, "\x80 smile\r\n");
    put(c.log, S, "overlong \xc0\xaf \xe0\x80\xaf \xc1\xbf\r\n");
    put(c.log, S, "surrogate \xed\xa0\x80\r\n");
    put(c.log, S, "too big \xf4\x90\x80\x80 \xf5\r\n");
    put(c.log, S, "truncated \xe2\x82" "A \x80\r\n");
    put(c.log, S, "cut \xc3");
    put(c.log, S, "x\r\n");
    put(c.log, S, "cut at end \xe2\x82\r\n");
    put(c.log, S, "max ok \xf4\x8f\xbf\xbf \xed\x9f\xbf\r\n");
    assert_golden(&c, "utf8.log");
}

static void test_cr_across_calls(void **state)
{
    (void)state;
    struct capture c;
    cap_open(&c);
    put(c.log, S, "abc\r"); /* CR at a chunk end, LF in the next call */
    put(c.log, S, "\ndef\r");
    put(c.log, S, "x\r\n");
    put(c.log, S, "\r");
    put(c.log, S, "\r\n");
    put(c.log, C, "lone\r");
    put(c.log, C, "x\n");
    assert_golden(&c, "cr_split.log");
}

static void test_line_max(void **state)
{
    (void)state;
    struct capture c;
    cap_open(&c);
    mj_log_set_line_max(c.log, 16);
    put(c.log, S, "0123456789abcdefGHIJ\r\n");
    put(c.log, S, "0123456789");
    put(c.log, S, "abcdefGHIJKL");
    put(c.log, S, "MN\n");
    put(c.log, S, "0123456789abcdef\r\n"); /* exactly the cap */
    put(c.log, S, "\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"
                  "\r\n");
    /* a char that would straddle the cap: dropped, and so is all after it,
     * even bytes that would still fit */
    put(c.log, S, "0123456789abcde\xc3\xa9\x01Z\r\n");
    put(c.log, S, "0123456789abcdef\r");
    put(c.log, S, "\r\n"); /* the first CR was content, over the cap */
    assert_golden(&c, "line_max.log");
}

static void test_secrets(void **state)
{
    (void)state;
    struct capture c;
    cap_open(&c);
    secret(c.log, C, "AHVzZXIAcGFzcw=="); /* a secret that starts a line */
    put(c.log, C, "\r\n");
    put(c.log, C, "a ");
    secret(c.log, C, "s1");
    put(c.log, C, " b ");
    secret(c.log, C, "s2");
    put(c.log, C, "\r\n");
    put(c.log, S, "+ \r\n");
    secret(c.log, C, "czM=");
    put(c.log, C, "\r\n");
    put(c.log, C, "partial");
    mj_log_connect(c.log, "smtps://[::1]:465/"); /* ends the open line */
    assert_golden(&c, "secrets.log");
}

/* ---- behaviour around the file ---------------------------------------------------------- */

static void test_secret_never_written(void **state)
{
    (void)state;
    struct capture c;
    cap_open(&c);
    put(c.log, C, "A1 LOGIN bob ");
    secret(c.log, C, "correct horse battery staple");
    put(c.log, C, "\r\n");
    cap_close(&c);
    assert_null(strstr(c.text, "horse"));
    assert_string_equal(c.text, "C: A1 LOGIN bob ********\r\n");
    free(c.text);
}

static void test_open_flushes_each_call(void **state)
{
    (void)state;
    char path[] = "/tmp/mj_test_log_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(chmod(path, 0644), 0);
    mj_log *log;
    mj_error err;
    assert_int_equal(mj_log_open(path, &log, &err), MJ_OK);
    put(log, S, "* OK\r\n");
    /* readable before mj_log_free: a crash now would keep it */
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    char buf[32] = {0};
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    assert_int_equal(n, 9);
    assert_string_equal(buf, "S: * OK\r\n");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    mj_log_free(log);
    unlink(path);

    assert_int_equal(mj_log_open("/nonexistent-dir/x.log", &log, &err), MJ_INTERNAL);
    assert_int_equal(err.reason, MJ_R_LOCAL_IO);
    assert_null(log);
}

static void test_null_log_is_allowed(void **state)
{
    (void)state;
    mj_log_data(NULL, MJ_LOG_CLIENT, "x", 1, false);
    mj_log_connect(NULL, "imap://h:143/");
    mj_log_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_imap_session),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_all_byte_values),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_cr_across_calls),
        cmocka_unit_test(test_line_max),
        cmocka_unit_test(test_secrets),
        cmocka_unit_test(test_secret_never_written),
        cmocka_unit_test(test_open_flushes_each_call),
        cmocka_unit_test(test_null_log_is_allowed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
