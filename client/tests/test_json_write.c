/*
 * test_json_write.c: the streaming JSON writer of mj (client/cli/json_write.c)
 * gives the bytes jansson's JSON_COMPACT dump gives for the same values, and
 * null for strings that are not UTF-8.  The writer's source is included here
 * directly, like options.c in test_cli_options.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../cli/json_write.c"

/* What the calls of fn wrote, NUL-terminated (the caller frees it). */
static char *written(void (*fn)(mj_jw *w, const void *arg), const void *arg)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    assert_non_null(f);
    mj_jw *w = malloc(sizeof *w);
    assert_non_null(w);
    mj_jw_init(w, f);
    fn(w, arg);
    mj_jw_flush(w);
    free(w);
    assert_int_equal(fclose(f), 0);
    return text;
}

/* jansson's dump of one string value, for comparison. */
static char *jansson_string(const char *s)
{
    json_t *a = json_pack("[s]", s);
    assert_non_null(a);
    char *text = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    assert_non_null(text);
    return text;
}

static void one_string(mj_jw *w, const void *arg)
{
    mj_jw_open(w, '[');
    mj_jw_str(w, arg);
    mj_jw_close(w, ']');
}

static void test_strings_as_jansson(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "", "plain", "quote \" backslash \\ slash /", "\b\f\n\r\t", "\x01\x1b\x1f\x7f",
        "R\xc3\xa9union \xe4\xbc\x9a\xe8\xad\xb0 \xf0\x9f\x93\xa8", "C:\\dir\\\"x\"",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = written(one_string, cases[i]);
        char *want = jansson_string(cases[i]);
        assert_string_equal(got, want);
        free(got);
        free(want);
    }
    /* a string longer than the buffer, escapes throughout: the long path, same bytes */
    size_t n = 3 * MJ_JW_BUF;
    char *big = malloc(n + 1);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++)
        big[i] = "ab\"c\n\xc3\xa9"[i % 7];
    big[n - 1] = 'z'; /* never end inside a UTF-8 sequence */
    big[n] = '\0';
    char *got = written(one_string, big);
    char *want = jansson_string(big);
    assert_string_equal(got, want);
    free(got);
    free(want);
    free(big);
}

static void test_invalid_utf8_is_null(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "Latin-1 caf\xe9", "\xc0\xaf" /* overlong '/' */, "\xed\xa0\x80" /* surrogate */,
        "\xf4\x90\x80\x80" /* above U+10FFFF */, "cut \xe4\xbc", "\x80",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *got = written(one_string, bad[i]);
        assert_string_equal(got, "[null]");
        free(got);
        json_t *j = json_string(bad[i]); /* jansson refuses them too */
        assert_null(j);
    }
}

static void nested(mj_jw *w, const void *arg)
{
    (void)arg;
    mj_jw_open(w, '{');
    mj_jw_key(w, "seq");
    mj_jw_uint(w, 18446744073709551615u);
    assert_false(mj_jw_key(w, "bad\xff key")); /* skipped, with its value */
    mj_jw_key(w, "neg");
    mj_jw_int(w, -42);
    mj_jw_key(w, "list");
    mj_jw_open(w, '[');
    mj_jw_open(w, '{');
    mj_jw_close(w, '}');
    mj_jw_null(w);
    mj_jw_bool(w, true);
    mj_jw_bool(w, false);
    mj_jw_str(w, NULL);
    mj_jw_open(w, '[');
    mj_jw_close(w, ']');
    mj_jw_close(w, ']');
    mj_jw_key(w, "k\xc3\xa9y \"q\"");
    mj_jw_str(w, "v");
    mj_jw_close(w, '}');
}

static void test_separators_and_values(void **state)
{
    (void)state;
    char *got = written(nested, NULL);
    assert_string_equal(got, "{\"seq\":18446744073709551615,\"neg\":-42,"
                             "\"list\":[{},null,true,false,null,[]],\"k\xc3\xa9y \\\"q\\\"\":\"v\"}");
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings_as_jansson),
        cmocka_unit_test(test_invalid_utf8_is_null),
        cmocka_unit_test(test_separators_and_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
