/*
 * test_match.c: the expect matcher (core/match.h) on text patterns -- {tag}
 * and {name} atom captures, "*", literal special characters, whole-line
 * anchoring, captures replaced and reused -- and on regexes as the loader
 * compiles them (anchored, icase).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/match.h"
#include "scenario/scenario.h"

static fk_pattern text(const char *source, bool icase)
{
    fk_pattern p;
    memset(&p, 0, sizeof p);
    p.kind = FK_PAT_TEXT;
    p.source = (char *)source; /* borrowed; never freed here */
    p.icase = icase;
    return p;
}

static fk_match_result m(const char *pattern, const char *line, fk_captures *caps)
{
    fk_pattern p = text(pattern, false);
    return fk_match_line(&p, line, strlen(line), caps);
}

static void assert_capture(const fk_captures *caps, const char *name, const char *want)
{
    const char *v = fk_captures_get(caps, name, strlen(name));
    if (!v)
        fail_msg("no capture %s", name);
    assert_string_equal(v, want);
}

static void test_tag_capture(void **state)
{
    fk_captures caps = {0};
    (void)state;
    assert_int_equal(m("{tag} LOGIN * *", "A001 LOGIN alice secret", &caps), FK_MATCH_YES);
    assert_capture(&caps, "tag", "A001");
    /* An atom stops at atom-specials: "(" cannot be in a tag. */
    assert_int_equal(m("{tag} NOOP", "A(1 NOOP", &caps), FK_MATCH_NO);
    /* An atom is never empty. */
    assert_int_equal(m("{tag} NOOP", " NOOP", &caps), FK_MATCH_NO);
    assert_capture(&caps, "tag", "A001"); /* failed matches leave caps alone */
}

static void test_name_capture_backtracks(void **state)
{
    fk_captures caps = {0};
    (void)state;
    assert_int_equal(m("MAIL FROM:<{from}>", "MAIL FROM:<a@b.test>", &caps), FK_MATCH_YES);
    assert_capture(&caps, "from", "a@b.test");
    assert_int_equal(m("{tag} LOGIN {user} {pass}", "x1 LOGIN bob hunter2", &caps), FK_MATCH_YES);
    assert_capture(&caps, "user", "bob");
    assert_capture(&caps, "pass", "hunter2");
}

static void test_star(void **state)
{
    fk_captures caps = {0};
    (void)state;
    assert_int_equal(m("EHLO *", "EHLO ", &caps), FK_MATCH_YES); /* empty run */
    assert_int_equal(m("EHLO *", "EHLO client.example (with spaces)", &caps), FK_MATCH_YES);
    assert_int_equal(m("* OK *", "* OK [CAPABILITY IMAP4rev1] ready", &caps), FK_MATCH_YES);
    assert_int_equal(m("A*Z", "AZ", &caps), FK_MATCH_YES);
    assert_int_equal(m("A*Z", "AZZ", &caps), FK_MATCH_YES);
    assert_int_equal(m("A*Z", "AZY", &caps), FK_MATCH_NO);
}

static void test_literal_specials(void **state)
{
    fk_captures caps = {0};
    (void)state;
    const char *lit = "a.b[c]?(d)+^$|\\{5}";
    assert_int_equal(m(lit, lit, &caps), FK_MATCH_YES);
    assert_int_equal(m(lit, "aXb[c]?(d)+^$|\\{5}", &caps), FK_MATCH_NO);
    /* An IMAP literal stays literal: "{5}" is not a placeholder. */
    assert_int_equal(m("{tag} LOGIN {5}", "A1 LOGIN {5}", &caps), FK_MATCH_YES);
    assert_int_equal(caps.n, 1);
}

static void test_whole_line(void **state)
{
    fk_captures caps = {0};
    (void)state;
    assert_int_equal(m("{tag} NOOP", "A1 NOOP", &caps), FK_MATCH_YES);
    assert_int_equal(m("{tag} NOOP", "A1 NOOPX", &caps), FK_MATCH_NO);
    assert_int_equal(m("NOOP", "A1 NOOP", &caps), FK_MATCH_NO);
    assert_int_equal(m("NOOP", "NOOP\r", &caps), FK_MATCH_NO);
    assert_int_equal(m("", "", &caps), FK_MATCH_YES);
}

static void test_icase_text(void **state)
{
    fk_captures caps = {0};
    fk_pattern p = text("{tag} LOGIN *", true);
    (void)state;
    assert_int_equal(fk_match_line(&p, "a2 login x y", 12, &caps), FK_MATCH_YES);
    assert_capture(&caps, "tag", "a2");
    p.icase = false;
    assert_int_equal(fk_match_line(&p, "a2 login x y", 12, &caps), FK_MATCH_NO);
}

/* A later match replaces a capture; other names stay for later sends. */
static void test_captures_reused(void **state)
{
    fk_captures caps = {0};
    (void)state;
    assert_int_equal(m("{tag} LOGIN {user} *", "A1 LOGIN alice pw", &caps), FK_MATCH_YES);
    assert_int_equal(m("{tag} SELECT {box}", "A2 SELECT INBOX", &caps), FK_MATCH_YES);
    assert_capture(&caps, "tag", "A2");
    assert_capture(&caps, "user", "alice");
    assert_capture(&caps, "box", "INBOX");
    assert_int_equal(caps.n, 3);
    assert_null(fk_captures_get(&caps, "nobody", 6));
}

/* A line with NUL is data, never a C-string cut. */
static void test_nul_in_line(void **state)
{
    fk_captures caps = {0};
    fk_pattern p = text("A*B", false);
    (void)state;
    assert_int_equal(fk_match_line(&p, "A\0xB", 4, &caps), FK_MATCH_YES);
    assert_int_equal(fk_match_line(&p, "A\0xBC", 5, &caps), FK_MATCH_NO);
}

/* Regexes as the loader compiles them: from a scenario file. */
static fk_scenario *load_text(const char *yaml)
{
    char path[] = "/tmp/fk_match_XXXXXX", err[FK_LOAD_ERROR_MAX];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    fk_scenario *s = fk_scenario_load(path, NULL, err, sizeof err);
    unlink(path);
    if (!s)
        fail_msg("%s", err);
    return s;
}

static void test_regex_icase(void **state)
{
    static const char yaml[] =
        "summary: r\nprotocol: imap\nserver:\n  steps:\n"
        "    - expect: [{re: 'A[0-9]+ LOGIN .*', icase: true}, {re: 'A[0-9]+ NOOP'}]\n"
        "client: {op: imap.login}\nexpect: {outcome: ok}\n";
    fk_captures caps = {0};
    (void)state;
    fk_scenario *s = load_text(yaml);
    const fk_pattern *p = s->server.connections[0].steps[0].expect.patterns;
    assert_int_equal(fk_match_line(&p[0], "a7 login bob x", 14, &caps), FK_MATCH_YES);
    assert_int_equal(fk_match_line(&p[1], "A7 NOOP", 7, &caps), FK_MATCH_YES);
    assert_int_equal(fk_match_line(&p[1], "a7 noop", 7, &caps), FK_MATCH_NO);
    /* Anchored at both ends by the loader. */
    assert_int_equal(fk_match_line(&p[1], "xA7 NOOP", 8, &caps), FK_MATCH_NO);
    assert_int_equal(fk_match_line(&p[1], "A7 NOOPS", 8, &caps), FK_MATCH_NO);
    assert_int_equal(caps.n, 0); /* regexes capture nothing */
    fk_scenario_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tag_capture),     cmocka_unit_test(test_name_capture_backtracks),
        cmocka_unit_test(test_star),            cmocka_unit_test(test_literal_specials),
        cmocka_unit_test(test_whole_line),      cmocka_unit_test(test_icase_text),
        cmocka_unit_test(test_captures_reused), cmocka_unit_test(test_nul_in_line),
        cmocka_unit_test(test_regex_icase),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
