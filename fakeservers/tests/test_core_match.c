/*
 * test_core_match.c: the line matcher (core/match.c) and the transcript
 * escaping (core/transcript.c), without sockets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/match.h"
#include "core/transcript.h"

static fk_pattern text(const char *src, bool icase)
{
    return (fk_pattern){.kind = FK_PAT_TEXT, .source = (char *)src, .icase = icase};
}

static fk_match_result m(const char *pat, const char *line, fk_captures *caps)
{
    fk_pattern p = text(pat, false);
    return fk_match_line(&p, line, strlen(line), caps);
}

static void test_literal_and_star(void **state)
{
    (void)state;
    assert_int_equal(m("A1 LOGIN *", "A1 LOGIN alice secret", NULL), FK_MATCH_YES);
    assert_int_equal(m("A1 LOGIN *", "A1 LOGOUT", NULL), FK_MATCH_NO);
    assert_int_equal(m("A1 LOGIN *", "A1 LOGIN ", NULL), FK_MATCH_YES); /* * may be empty */
    assert_int_equal(m("A1 LOGIN", "A1 LOGIN x", NULL), FK_MATCH_NO);  /* whole line */
    assert_int_equal(m("*X*Y", "aXbXcY", NULL), FK_MATCH_YES);
    assert_int_equal(m("*X*Y", "aXbXcYd", NULL), FK_MATCH_NO);
    assert_int_equal(m("a1 login *", "A1 LOGIN x", NULL), FK_MATCH_NO); /* case matters */
    fk_pattern p = text("a1 login *", true);
    assert_int_equal(fk_match_line(&p, "A1 LOGIN x", 10, NULL), FK_MATCH_YES);
}

static void test_captures(void **state)
{
    (void)state;
    fk_captures caps = {0};
    assert_int_equal(m("{tag} UID FETCH {set} (FLAGS)", "a7 UID FETCH 1:4 (FLAGS)", &caps),
                     FK_MATCH_YES);
    assert_string_equal(fk_captures_get(&caps, "tag", 3), "a7");
    assert_string_equal(fk_captures_get(&caps, "set", 3), "1:4");
    /* an atom stops at SP and specials, so {tag} alone cannot eat two words */
    assert_int_equal(m("{tag}", "A1 NOOP", &caps), FK_MATCH_NO);
    assert_int_equal(m("{tag}", "", &caps), FK_MATCH_NO);
    /* backtracking inside an atom: {a}b needs the atom to stop before the last b */
    assert_int_equal(m("{a}b", "xxb", &caps), FK_MATCH_YES);
    assert_string_equal(fk_captures_get(&caps, "a", 1), "xx");
    /* a failed match leaves earlier captures alone */
    assert_int_equal(m("{tag} X", "zz Y", &caps), FK_MATCH_NO);
    assert_string_equal(fk_captures_get(&caps, "tag", 3), "a7");
    /* "{5}" is not a placeholder: literal (an IMAP literal marker) */
    assert_int_equal(m("A1 APPEND INBOX {5}", "A1 APPEND INBOX {5}", NULL), FK_MATCH_YES);
    assert_int_equal(m("A1 APPEND INBOX {5}", "A1 APPEND INBOX 5", NULL), FK_MATCH_NO);
}

static void test_capture_caps(void **state)
{
    (void)state;
    char longatom[FK_CAPTURE_VALUE_MAX + 10];
    memset(longatom, 'a', sizeof longatom - 1);
    longatom[sizeof longatom - 1] = '\0';
    fk_captures caps = {0};
    assert_int_equal(m("{x}", longatom, &caps), FK_MATCH_NO); /* longer than the cap */
    for (size_t i = 0; i < FK_CAPTURES_MAX; i++) {
        char name[8];
        snprintf(name, sizeof name, "n%zu", i);
        assert_int_equal(fk_captures_set(&caps, name, strlen(name), "v", 1), 0);
    }
    assert_int_equal(fk_captures_set(&caps, "extra", 5, "v", 1), -1);
    assert_int_equal(fk_captures_set(&caps, "n0", 2, "w", 1), 0); /* replacing is fine */
    assert_string_equal(fk_captures_get(&caps, "n0", 2), "w");
}

static void test_budget(void **state)
{
    (void)state;
    char line[3000];
    memset(line, 'a', sizeof line - 1);
    line[sizeof line - 1] = '\0';
    /* stars that each match almost anywhere, and no match at the end: the budget stops it */
    assert_int_equal(m("*a*a*a*a*c", line, NULL), FK_MATCH_ERROR);
}

static void test_regex(void **state)
{
    (void)state;
    fk_pattern p = {.kind = FK_PAT_REGEX, .source = "^A[0-9]+ LOGIN .*$"};
    assert_int_equal(regcomp(&p.re, p.source, REG_EXTENDED | REG_NOSUB), 0);
    assert_int_equal(fk_match_line(&p, "A12 LOGIN x", 11, NULL), FK_MATCH_YES);
    assert_int_equal(fk_match_line(&p, "B12 LOGIN x", 11, NULL), FK_MATCH_NO);
    assert_int_equal(fk_match_line(&p, "A12 LOGIN \0x", 12, NULL), FK_MATCH_NO);
    regfree(&p.re);
}

static void test_escape(void **state)
{
    (void)state;
    char out[64];
    const unsigned char in[] = {'a', '\r', '\n', '\t', 0, 0xff, '\\', '~'};
    size_t n = fk_escape_bytes(in, sizeof in, out, sizeof out);
    assert_string_equal(out, "a\\r\\n\\t\\x00\\xFF\\\\~");
    assert_int_equal(n, strlen(out));
    /* truncation keeps a NUL and reports the full size */
    char small[5];
    assert_int_equal(fk_escape_bytes(in, sizeof in, small, sizeof small), n);
    assert_string_equal(small, "a\\r");
    assert_true(fk_escaped_size(sizeof in) > n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal_and_star), cmocka_unit_test(test_captures),
        cmocka_unit_test(test_capture_caps),     cmocka_unit_test(test_budget),
        cmocka_unit_test(test_regex),            cmocka_unit_test(test_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
