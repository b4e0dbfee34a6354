/*
 * test_url.c: mail URL parsing, security modes and log URIs (url.h).
 * Every refusal is checked for its outcome, its reason and the words of its
 * message; every accepted URL for each field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mailjig/url.h"

/* Parse text, which must fail as usage/bad-argument with msg_part in the message. */
static void expect_refused(const char *text, const char *msg_part)
{
    mj_url u;
    mj_error err;
    mj_error_clear(&err);
    mj_outcome rc = mj_url_parse(text, &u, &err);
    if (rc != MJ_USAGE || strstr(err.message, msg_part) == NULL)
        print_error("URL \"%s\": outcome %s, message \"%s\", wanted \"%s\"\n", text,
                    mj_outcome_name(rc), err.message, msg_part);
    assert_int_equal(rc, MJ_USAGE);
    assert_int_equal(err.outcome, MJ_USAGE);
    assert_int_equal(err.reason, MJ_R_BAD_ARGUMENT);
    assert_non_null(strstr(err.message, msg_part));
}

static void parse_ok(const char *text, mj_url *u)
{
    mj_error err;
    mj_error_clear(&err);
    mj_outcome rc = mj_url_parse(text, u, &err);
    if (rc != MJ_OK)
        print_error("URL \"%s\": %s\n", text, err.message);
    assert_int_equal(rc, MJ_OK);
}

static void test_schemes_and_default_ports(void **state)
{
    static const struct {
        const char *text;
        mj_protocol proto;
        bool implicit;
        unsigned port;
    } rows[] = {
        {"imap://mail.example.org", MJ_PROTO_IMAP, false, 143},
        {"imaps://mail.example.org", MJ_PROTO_IMAP, true, 993},
        {"pop3://mail.example.org", MJ_PROTO_POP3, false, 110},
        {"pop3s://mail.example.org", MJ_PROTO_POP3, true, 995},
        {"smtp://mail.example.org", MJ_PROTO_SMTP, false, 587},
        {"smtps://mail.example.org", MJ_PROTO_SMTP, true, 465},
        {"IMAPS://Mail.Example.ORG", MJ_PROTO_IMAP, true, 993},
        {"Pop3://mail.example.org/", MJ_PROTO_POP3, false, 110},
        {"SMTP://mail.example.org", MJ_PROTO_SMTP, false, 587},
    };
    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        mj_url u;
        parse_ok(rows[i].text, &u);
        assert_int_equal(u.protocol, rows[i].proto);
        assert_int_equal(u.implicit_tls, rows[i].implicit);
        assert_int_equal(u.port, rows[i].port);
        assert_false(u.port_explicit);
        assert_false(u.host_is_ip);
        assert_string_equal(u.user, "");
        assert_string_equal(u.path, "");
    }
    mj_url u;
    parse_ok("IMAPS://Mail.Example.ORG", &u);
    assert_string_equal(u.host, "Mail.Example.ORG"); /* host case kept */
}

static void test_default_port_table(void **state)
{
    (void)state;
    assert_int_equal(mj_default_port(MJ_PROTO_IMAP, false), 143);
    assert_int_equal(mj_default_port(MJ_PROTO_IMAP, true), 993);
    assert_int_equal(mj_default_port(MJ_PROTO_POP3, false), 110);
    assert_int_equal(mj_default_port(MJ_PROTO_POP3, true), 995);
    assert_int_equal(mj_default_port(MJ_PROTO_SMTP, false), 587);
    assert_int_equal(mj_default_port(MJ_PROTO_SMTP, true), 465);
    assert_string_equal(mj_protocol_name(MJ_PROTO_IMAP), "imap");
    assert_string_equal(mj_protocol_name(MJ_PROTO_POP3), "pop3");
    assert_string_equal(mj_protocol_name(MJ_PROTO_SMTP), "smtp");
}

static void test_user_and_percent_decoding(void **state)
{
    mj_url u;
    (void)state;
    parse_ok("imap://alice@mail.example.org:1143/INBOX", &u);
    assert_string_equal(u.user, "alice");
    assert_string_equal(u.host, "mail.example.org");
    assert_int_equal(u.port, 1143);
    assert_true(u.port_explicit);
    assert_string_equal(u.path, "INBOX");

    parse_ok("imaps://alice%40example.com@mail.example.org/Sent%20Items%2F2024", &u);
    assert_string_equal(u.user, "alice@example.com");
    assert_string_equal(u.path, "Sent Items/2024");

    /* Lower- and upper-case hex digits, and UTF-8 bytes pass through. */
    parse_ok("pop3://%c3%A9l%C3%a8ve@host/", &u);
    assert_string_equal(u.user, "\xc3\xa9l\xc3\xa8ve");
    assert_string_equal(u.path, "");

    parse_ok("smtp://host/a/b", &u); /* only the first '/' separates the path */
    assert_string_equal(u.path, "a/b");
}

static void test_ip_literals(void **state)
{
    mj_url u;
    (void)state;
    parse_ok("imap://127.0.0.1", &u);
    assert_string_equal(u.host, "127.0.0.1");
    assert_true(u.host_is_ip);
    assert_int_equal(u.port, 143);

    parse_ok("imap://[::1]", &u);
    assert_string_equal(u.host, "::1");
    assert_true(u.host_is_ip);
    assert_int_equal(u.port, 143);
    assert_false(u.port_explicit);

    parse_ok("imaps://bob@[2001:db8::1]:10993/INBOX", &u);
    assert_string_equal(u.host, "2001:db8::1");
    assert_true(u.host_is_ip);
    assert_int_equal(u.port, 10993);
    assert_true(u.port_explicit);
    assert_string_equal(u.user, "bob");
    assert_string_equal(u.path, "INBOX");

    parse_ok("imap://999.1.1.1", &u); /* not an address: a (strange) name */
    assert_false(u.host_is_ip);

    expect_refused("imap://::1", "IPv6 address must be in brackets");
    expect_refused("imap://[::1", "IPv6 literal without ']'");
    expect_refused("imap://[mail.example.org]", "not an IPv6 address");
    expect_refused("imap://[::1]143", "unexpected text after the IPv6 literal");
    expect_refused("imap://[]:143", "empty host");
}

static void test_port_bounds(void **state)
{
    mj_url u;
    (void)state;
    parse_ok("imap://host:1", &u);
    assert_int_equal(u.port, 1);
    parse_ok("imap://host:65535", &u);
    assert_int_equal(u.port, 65535);
    parse_ok("imaps://host:00993", &u);
    assert_int_equal(u.port, 993);

    expect_refused("imap://host:0", "port out of range 1..65535: '0'");
    expect_refused("imap://host:65536", "port out of range 1..65535: '65536'");
    expect_refused("imap://host:99999999999999999999", "port out of range");
    expect_refused("imap://host:12a", "port is not a number: '12a'");
    expect_refused("imap://host:-1", "port is not a number: '-1'");
    expect_refused("imap://host:+1", "port is not a number: '+1'");
    expect_refused("imap://host:", "empty port after ':'");
    expect_refused("imap://host:/INBOX", "empty port after ':'");
}

static void test_password_refused_and_not_quoted(void **state)
{
    mj_url u;
    mj_error err;
    (void)state;
    expect_refused("imap://alice:s3cret@host", "password in the URL");
    expect_refused("imap://alice:@host", "password in the URL");
    assert_int_equal(mj_url_parse("imaps://alice:hunter2@host/INBOX", &u, &err), MJ_USAGE);
    assert_null(strstr(err.message, "hunter2"));
    assert_null(strstr(err.message, "alice"));
}

static void test_control_bytes_and_spaces_refused(void **state)
{
    (void)state;
    expect_refused("imap://host\r\n", "control byte '\\x0d' at offset 11");
    expect_refused("imap://ho\nst", "control byte '\\x0a' at offset 9");
    expect_refused("imap://host/IN\tBOX", "control byte '\\x09'");
    expect_refused("imap://host/IN\177BOX", "control byte '\\x7f'");
    expect_refused("imap://al ice@host", "space ' ' at offset 9");
    expect_refused(" imap://host", "space ' ' at offset 0");
    /* NUL cannot be in a C string; encoded it must not sneak through either. */
    expect_refused("imap://al%00ice@host", "user decodes to a control byte in 'al%00ice'");
    expect_refused("imap://host/INBOX%0d%0aA1%20LOGOUT", "path decodes to a control byte");
    expect_refused("imap://x%7f@host", "user decodes to a control byte");
}

static void test_bad_percent_escapes(void **state)
{
    (void)state;
    expect_refused("imap://al%zzice@host", "bad percent escape in user at '%zz'");
    expect_refused("imap://al%4@host", "bad percent escape in user at '%4'");
    expect_refused("imap://host/INBOX%", "bad percent escape in path at '%'");
    expect_refused("imap://host/INBOX%g0", "bad percent escape in path at '%g0'");
}

static void test_host_and_structure_errors(void **state)
{
    (void)state;
    expect_refused("", "empty URL");
    expect_refused("imap://", "empty host");
    expect_refused("imap:///INBOX", "empty host");
    expect_refused("imap://alice@", "empty host");
    expect_refused("imap://:143", "empty host");
    expect_refused("imap://@host", "empty user name");
    expect_refused("http://host", "unknown scheme");
    expect_refused("imap4://host", "unknown scheme (expected imap, imaps, pop3, pop3s, smtp or "
                                   "smtps) 'imap4'");
    expect_refused("mail.example.org:143", "no scheme");
    expect_refused("imap:/host", "no scheme");
    expect_refused("imap://host/?x=1", "query or fragment");
    expect_refused("imap://host#frag", "query or fragment");
    expect_refused("imap://ho%41st", "invalid character in host 'ho%41st'");
    expect_refused("imap://h\xc3\xa9st", "invalid character in host 'h\\xc3\\xa9st'");
}

/* Only the authority (up to the first '/') holds user, host and port. */
static void test_path_holds_at_and_colon(void **state)
{
    mj_url u;
    (void)state;
    parse_ok("imap://ho/st@x:1:2", &u);
    assert_string_equal(u.host, "ho");
    assert_string_equal(u.path, "st@x:1:2");
}

static void fill(char *buf, char c, size_t n)
{
    memset(buf, c, n);
    buf[n] = '\0';
}

static void test_over_long_parts(void **state)
{
    char text[8300];
    char part[4096];
    mj_url u;
    (void)state;

    fill(part, 'a', MJ_URL_HOST_MAX - 1); /* 255: fits */
    snprintf(text, sizeof text, "imap://%s", part);
    parse_ok(text, &u);
    assert_int_equal(strlen(u.host), MJ_URL_HOST_MAX - 1);
    fill(part, 'a', MJ_URL_HOST_MAX);
    snprintf(text, sizeof text, "imap://%s", part);
    expect_refused(text, "host is longer than 255 bytes");

    fill(part, 'u', MJ_URL_USER_MAX - 1);
    snprintf(text, sizeof text, "imap://%s@host", part);
    parse_ok(text, &u);
    fill(part, 'u', MJ_URL_USER_MAX);
    snprintf(text, sizeof text, "imap://%s@host", part);
    expect_refused(text, "user is longer than 255 bytes");

    fill(part, 'p', MJ_URL_PATH_MAX - 1);
    snprintf(text, sizeof text, "imap://host/%s", part);
    parse_ok(text, &u);
    fill(part, 'p', MJ_URL_PATH_MAX);
    snprintf(text, sizeof text, "imap://host/%s", part);
    expect_refused(text, "path is longer than 1023 bytes");

    fill(part, 'p', sizeof part - 1); /* beyond the whole-URL cap */
    snprintf(text, sizeof text, "imap://host/%s%s", part, part);
    expect_refused(text, "bad URL: longer than");
}

static void test_log_uris(void **state)
{
    static const struct {
        mj_protocol p;
        mj_security s;
        const char *host;
        unsigned port;
        const char *want;
    } rows[] = {
        {MJ_PROTO_IMAP, MJ_SEC_IMPLICIT, "mail.example.org", 993, "imaps://mail.example.org:993/"},
        {MJ_PROTO_IMAP, MJ_SEC_STARTTLS, "host", 143, "imap://host:143/?starttls=always"},
        {MJ_PROTO_IMAP, MJ_SEC_STARTTLS_IF_AVAILABLE, "host", 143,
         "imap://host:143/?starttls=when-available"},
        {MJ_PROTO_IMAP, MJ_SEC_NONE, "host", 143, "imap://host:143/"},
        {MJ_PROTO_POP3, MJ_SEC_IMPLICIT, "h", 995, "pop3s://h:995/"},
        {MJ_PROTO_POP3, MJ_SEC_NONE, "h", 110, "pop3://h:110/"},
        {MJ_PROTO_SMTP, MJ_SEC_IMPLICIT, "h", 465, "smtps://h:465/"},
        {MJ_PROTO_SMTP, MJ_SEC_STARTTLS, "h", 587, "smtp://h:587/?starttls=always"},
        {MJ_PROTO_SMTP, MJ_SEC_AUTO, "h", 465, "smtps://h:465/"}, /* resolved on the way */
        {MJ_PROTO_SMTP, MJ_SEC_AUTO, "h", 25, "smtp://h:25/?starttls=when-available"},
        {MJ_PROTO_IMAP, MJ_SEC_IMPLICIT, "::1", 993, "imaps://[::1]:993/"},
        {MJ_PROTO_IMAP, MJ_SEC_STARTTLS, "2001:db8::1", 143,
         "imap://[2001:db8::1]:143/?starttls=always"},
        {MJ_PROTO_IMAP, MJ_SEC_NONE, "127.0.0.1", 1143, "imap://127.0.0.1:1143/"},
    };
    char out[300];
    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        mj_url_log_uri(rows[i].p, rows[i].s, rows[i].host, rows[i].port, out, sizeof out);
        assert_string_equal(out, rows[i].want);
    }
    mj_url_log_uri(MJ_PROTO_IMAP, MJ_SEC_NONE, "mail.example.org", 143, out, 10);
    assert_string_equal(out, "imap://ma"); /* truncated, still terminated */
}

static void test_security_names_round_trip(void **state)
{
    static const char *const names[] = {"none", "implicit", "starttls", "starttls-if-available",
                                        "auto"};
    static const mj_security modes[] = {MJ_SEC_NONE, MJ_SEC_IMPLICIT, MJ_SEC_STARTTLS,
                                        MJ_SEC_STARTTLS_IF_AVAILABLE, MJ_SEC_AUTO};
    mj_security s;
    (void)state;
    for (size_t i = 0; i < 5; i++) {
        assert_string_equal(mj_security_name(modes[i]), names[i]);
        assert_int_equal(mj_security_from_name(names[i], &s), 0);
        assert_int_equal(s, modes[i]);
    }
    s = MJ_SEC_NONE;
    assert_int_equal(mj_security_from_name("tls", &s), -1);
    assert_int_equal(mj_security_from_name("", &s), -1);
    assert_int_equal(mj_security_from_name("starttls-if", &s), -1);
    assert_int_equal(s, MJ_SEC_NONE); /* untouched on failure */
}

static void test_security_resolve_table(void **state)
{
    static const unsigned implicit_ports[] = {993, 995, 465};
    static const unsigned other_ports[] = {143, 110, 587, 25, 1, 994, 65535};
    static const mj_security fixed[] = {MJ_SEC_NONE, MJ_SEC_IMPLICIT, MJ_SEC_STARTTLS,
                                        MJ_SEC_STARTTLS_IF_AVAILABLE};
    (void)state;
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(mj_security_resolve(MJ_SEC_AUTO, implicit_ports[i]), MJ_SEC_IMPLICIT);
    for (size_t i = 0; i < 7; i++)
        assert_int_equal(mj_security_resolve(MJ_SEC_AUTO, other_ports[i]),
                         MJ_SEC_STARTTLS_IF_AVAILABLE);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(mj_security_resolve(fixed[i], 993), fixed[i]);
        assert_int_equal(mj_security_resolve(fixed[i], 143), fixed[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schemes_and_default_ports),
        cmocka_unit_test(test_default_port_table),
        cmocka_unit_test(test_user_and_percent_decoding),
        cmocka_unit_test(test_ip_literals),
        cmocka_unit_test(test_port_bounds),
        cmocka_unit_test(test_password_refused_and_not_quoted),
        cmocka_unit_test(test_control_bytes_and_spaces_refused),
        cmocka_unit_test(test_bad_percent_escapes),
        cmocka_unit_test(test_host_and_structure_errors),
        cmocka_unit_test(test_path_holds_at_and_colon),
        cmocka_unit_test(test_over_long_parts),
        cmocka_unit_test(test_log_uris),
        cmocka_unit_test(test_security_names_round_trip),
        cmocka_unit_test(test_security_resolve_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
