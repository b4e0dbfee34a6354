/*
 * test_cli_options.c: the command-line parser of `mj` (client/cli/options.c).
 *
 * Test binaries link libmailjig and client/tests/support/ only, not
 * client/cli/, and the parser belongs to the command, not the library.  So
 * the parser's source is included here directly: options.c is written to be
 * self-contained (libc, url.c and error.c only) for exactly this purpose.
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

#include "../cli/options.c" /* see the comment at the top */

/* Most arguments one test command line has. */
#define ARGV_MAX 40

static mj_cli_options opts;
static mj_error err;

/* Parse a NULL-terminated list of arguments (argv[0] "mj" is added). */
static mj_outcome parse_list(const char *first, va_list ap)
{
    static char *argv[ARGV_MAX + 2];
    int argc = 0;
    argv[argc++] = (char *)"mj";
    for (const char *a = first; a != NULL; a = va_arg(ap, const char *)) {
        assert_true(argc <= ARGV_MAX);
        argv[argc++] = (char *)a;
    }
    argv[argc] = NULL;
    mj_error_clear(&err);
    return mj_cli_parse(argc, argv, &opts, &err);
}

static void parse_ok(const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    mj_outcome rc = parse_list(first, ap);
    va_end(ap);
    if (rc != MJ_OK)
        print_error("unexpected error: %s\n", err.message);
    assert_int_equal(rc, MJ_OK);
}

/* The arguments (after msg_part) must be refused with msg_part in the message. */
static void parse_usage(const char *msg_part, const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    mj_outcome rc = parse_list(first, ap);
    va_end(ap);
    if (rc != MJ_USAGE || strstr(err.message, msg_part) == NULL)
        print_error("outcome %s, message \"%s\", wanted \"%s\"\n", mj_outcome_name(rc), err.message,
                    msg_part);
    assert_int_equal(rc, MJ_USAGE);
    assert_int_equal(err.outcome, MJ_USAGE);
    assert_int_equal(err.reason, MJ_R_BAD_ARGUMENT);
    assert_non_null(strstr(err.message, msg_part));
}

/* A temporary file with these bytes; the path is static (one at a time). */
static const char *temp_file(const void *data, size_t len)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/mj-test-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

static void test_minimal_command(void **state)
{
    (void)state;
    parse_ok("imap://mail.example.org", "probe", NULL);
    assert_true(opts.has_url);
    assert_int_equal(opts.url.protocol, MJ_PROTO_IMAP);
    assert_string_equal(opts.url.host, "mail.example.org");
    assert_string_equal(opts.op, "probe");
    assert_int_equal(opts.n_args, 0);
    assert_false(opts.security_given);
    assert_int_equal(opts.security, MJ_SEC_AUTO);
    assert_int_equal(opts.port, 143);
    assert_int_equal(opts.resolved, MJ_SEC_STARTTLS_IF_AVAILABLE);
    assert_false(opts.json);
    assert_false(opts.insecure);
    assert_false(opts.has_password);
    assert_null(opts.log_path);
    assert_int_equal(opts.timeout_ms, 0);
    assert_int_equal(opts.tls_min, 0);
    assert_string_equal(opts.user, "");
}

static void test_options_anywhere_before_op_args(void **state)
{
    (void)state;
    parse_ok("--json", "imaps://alice@h", "--timeout-ms", "500", "probe", "--insecure", "--log=-",
             "--log-timestamps", NULL);
    assert_true(opts.json);
    assert_int_equal(opts.timeout_ms, 500);
    assert_true(opts.insecure);
    assert_string_equal(opts.log_path, "-");
    assert_true(opts.log_timestamps);
    assert_string_equal(opts.op, "probe");
    assert_string_equal(opts.user, "alice");
    assert_int_equal(opts.resolved, MJ_SEC_IMPLICIT);
    assert_int_equal(opts.port, 993);

    /* From the operation's first argument on, everything is an argument. */
    parse_ok("imap://h", "fetch", "INBOX", "--json", "-h", NULL);
    assert_false(opts.json);
    assert_false(opts.help);
    assert_string_equal(opts.op, "fetch");
    assert_int_equal(opts.n_args, 3);
    assert_string_equal(opts.args[0], "INBOX");
    assert_string_equal(opts.args[1], "--json");
    assert_string_equal(opts.args[2], "-h");

    /* "--" ends the options; "-" alone is an argument. */
    parse_ok("--", "imap://h", "probe", "--json", NULL);
    assert_false(opts.json);
    assert_int_equal(opts.n_args, 1);
    assert_string_equal(opts.args[0], "--json");
    parse_ok("imap://h", "append", "-", NULL);
    assert_int_equal(opts.n_args, 1);
    assert_string_equal(opts.args[0], "-");
}

static void test_help_and_version_need_nothing_else(void **state)
{
    (void)state;
    parse_ok("--help", NULL);
    assert_true(opts.help);
    parse_ok("-h", NULL);
    assert_true(opts.help);
    parse_ok("--version", NULL);
    assert_true(opts.version);
    assert_false(opts.help);
    parse_ok("-V", NULL);
    assert_true(opts.version);
    parse_ok("imap://h", "--help", NULL);
    assert_true(opts.help);
}

static void test_structure_errors(void **state)
{
    (void)state;
    parse_usage("missing URL", NULL);
    parse_usage("missing URL", "--json", NULL);
    parse_usage("missing operation after the URL", "imap://h", NULL);
    parse_usage("unknown option '--bogus'", "--bogus", "imap://h", "probe", NULL);
    parse_usage("unknown option '-x'", "-x", "imap://h", "probe", NULL);
    parse_usage("unknown option '-hV'", "-hV", NULL);
    parse_usage("unknown option '---'", "---", NULL);
    parse_usage("option takes no value: '--json=1'", "--json=1", "imap://h", "probe", NULL);
    parse_usage("option needs a value: '--user'", "imap://h", "probe", "--user", NULL);
    parse_usage("option needs a non-empty value: '--log='", "--log=", "imap://h", "probe", NULL);
    parse_usage("option needs a non-empty value: '--cafile'", "--cafile", "", "imap://h", "probe",
                NULL);
    /* URL errors come through unchanged. */
    parse_usage("password in the URL", "imap://a:b@h", "probe", NULL);
    parse_usage("port out of range", "imap://h:0", "probe", NULL);
}

static void test_json_known_after_a_bad_option(void **state)
{
    (void)state;
    parse_usage("unknown option '--bogus'", "--bogus", "imap://h", "probe", "--json", NULL);
    assert_true(opts.json);
    /* The first error is the one reported. */
    parse_usage("unknown option '--first'", "--first", "--second", "--json", NULL);
    assert_true(opts.json);
    parse_usage("missing URL", "--json", NULL);
    assert_true(opts.json);
}

static void test_security_modes(void **state)
{
    static const struct {
        const char *url;
        const char *security; /* NULL: not given */
        mj_security want_security;
        unsigned want_port;
        mj_security want_resolved;
    } rows[] = {
        {"imap://h", NULL, MJ_SEC_AUTO, 143, MJ_SEC_STARTTLS_IF_AVAILABLE},
        {"imaps://h", NULL, MJ_SEC_IMPLICIT, 993, MJ_SEC_IMPLICIT},
        {"imap://h:993", NULL, MJ_SEC_AUTO, 993, MJ_SEC_IMPLICIT},
        {"pop3://h", NULL, MJ_SEC_AUTO, 110, MJ_SEC_STARTTLS_IF_AVAILABLE},
        {"pop3s://h", NULL, MJ_SEC_IMPLICIT, 995, MJ_SEC_IMPLICIT},
        {"smtp://h", NULL, MJ_SEC_AUTO, 587, MJ_SEC_STARTTLS_IF_AVAILABLE},
        {"smtp://h:465", NULL, MJ_SEC_AUTO, 465, MJ_SEC_IMPLICIT},
        {"smtps://h:2465", NULL, MJ_SEC_IMPLICIT, 2465, MJ_SEC_IMPLICIT},
        {"imap://h", "implicit", MJ_SEC_IMPLICIT, 993, MJ_SEC_IMPLICIT},
        {"imap://h:143", "implicit", MJ_SEC_IMPLICIT, 143, MJ_SEC_IMPLICIT},
        {"imap://h", "none", MJ_SEC_NONE, 143, MJ_SEC_NONE},
        {"imap://h:993", "none", MJ_SEC_NONE, 993, MJ_SEC_NONE},
        {"smtp://h", "starttls", MJ_SEC_STARTTLS, 587, MJ_SEC_STARTTLS},
        {"pop3://h", "starttls-if-available", MJ_SEC_STARTTLS_IF_AVAILABLE, 110,
         MJ_SEC_STARTTLS_IF_AVAILABLE},
        {"imap://h", "auto", MJ_SEC_AUTO, 143, MJ_SEC_STARTTLS_IF_AVAILABLE},
        {"imaps://h", "auto", MJ_SEC_IMPLICIT, 993, MJ_SEC_IMPLICIT},
        {"imaps://h", "implicit", MJ_SEC_IMPLICIT, 993, MJ_SEC_IMPLICIT},
    };
    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (rows[i].security != NULL)
            parse_ok(rows[i].url, "--security", rows[i].security, "probe", NULL);
        else
            parse_ok(rows[i].url, "probe", NULL);
        assert_int_equal(opts.security_given, rows[i].security != NULL);
        assert_int_equal(opts.security, rows[i].want_security);
        assert_int_equal(opts.port, rows[i].want_port);
        assert_int_equal(opts.resolved, rows[i].want_resolved);
    }
    parse_usage("--security must be none, implicit, starttls, starttls-if-available or auto, "
                "not 'tls'",
                "--security", "tls", "imap://h", "probe", NULL);
    parse_usage("imaps:// means implicit TLS and conflicts with --security starttls "
                "(use imap:// for that mode)",
                "imaps://h", "--security", "starttls", "probe", NULL);
    parse_usage("smtps:// means implicit TLS and conflicts with --security none", "smtps://h",
                "--security=none", "probe", NULL);
    parse_usage("pop3s:// means implicit TLS and conflicts with --security "
                "starttls-if-available",
                "pop3s://h", "--security", "starttls-if-available", "probe", NULL);
}

static void test_user(void **state)
{
    (void)state;
    parse_ok("imap://alice@h", "probe", NULL);
    assert_string_equal(opts.user, "alice");
    parse_ok("--user", "bob@example.com", "imap://alice@h", "probe", NULL);
    assert_string_equal(opts.user, "bob@example.com");
    parse_usage("--user contains a control byte: 'bo\\x0ab'", "--user", "bo\nb", "imap://h",
                "probe", NULL);
    char long_user[300];
    memset(long_user, 'u', 256);
    long_user[256] = '\0';
    parse_usage("--user must be 1 to 255 bytes", "--user", long_user, "imap://h", "probe", NULL);
    long_user[255] = '\0';
    parse_ok("--user", long_user, "imap://h", "probe", NULL);
    assert_int_equal(strlen(opts.user), 255);
}

static void test_password_file(void **state)
{
    (void)state;
    const char *p = temp_file("s3cret\r\nsecond line\n", 20);
    parse_ok("imap://h", "probe", "--password-file", p, NULL);
    assert_true(opts.has_password);
    assert_string_equal(opts.password, "s3cret");
    assert_string_equal(opts.password_file, p);
    mj_cli_options_wipe(&opts);
    assert_false(opts.has_password);
    assert_int_equal(opts.password[0], '\0');
    assert_null(memchr(opts.password, 's', sizeof opts.password));
    unlink(p);

    p = temp_file("no-newline", 10);
    parse_ok("--password-file", p, "imap://h", "probe", NULL);
    assert_string_equal(opts.password, "no-newline");
    unlink(p);

    p = temp_file("\nsecond\n", 8);
    parse_usage("the first line is empty in --password-file", "--password-file", p, "imap://h",
                "probe", NULL);
    unlink(p);

    p = temp_file("bad\x01pass\n", 9);
    parse_usage("the first line contains a control byte in --password-file", "--password-file", p, "imap://h",
                "probe", NULL);
    assert_null(strstr(err.message, "pass\x01"));
    assert_null(strstr(err.message, "bad"));
    unlink(p);

    static char big[MJ_CLI_PASSWORD_MAX + 10];
    memset(big, 'x', sizeof big);
    p = temp_file(big, MJ_CLI_PASSWORD_MAX); /* 1024 bytes, no newline: too long */
    parse_usage("the first line is too long (at most 1023 bytes) in --password-file", "--password-file", p, "imap://h",
                "probe", NULL);
    assert_null(strstr(err.message, "xxxx"));
    unlink(p);
    p = temp_file(big, MJ_CLI_PASSWORD_MAX - 1); /* 1023: fits */
    parse_ok("--password-file", p, "imap://h", "probe", NULL);
    assert_int_equal(strlen(opts.password), MJ_CLI_PASSWORD_MAX - 1);
    unlink(p);

    parse_usage("cannot open --password-file (No such file or directory): "
                "'/nonexistent/mj-password'",
                "--password-file", "/nonexistent/mj-password", "imap://h", "probe", NULL);
    assert_false(opts.has_password);
}

static void test_tls_options(void **state)
{
    (void)state;
    parse_ok("--tls-min", "1.2", "imaps://h", "probe", NULL);
    assert_int_equal(opts.tls_min, TLS1_2_VERSION);
    parse_ok("--tls-min=1.3", "imaps://h", "probe", NULL);
    assert_int_equal(opts.tls_min, TLS1_3_VERSION);
    parse_usage("--tls-min must be 1.2 or 1.3, not '1.1'", "--tls-min", "1.1", "imaps://h", "probe",
                NULL);
    parse_usage("--tls-min must be 1.2 or 1.3, not '1.2.0'", "--tls-min", "1.2.0", "imaps://h",
                "probe", NULL);

    /* Files must be readable now: a usage error beats a TLS error later. */
    const char *p = temp_file("pem", 3);
    parse_ok("--cafile", p, "--client-cert", p, "--client-key", p, "--pin-sha256", "ab:cd",
             "imaps://h", "probe", NULL);
    assert_string_equal(opts.cafile, p);
    assert_string_equal(opts.client_cert, p);
    assert_string_equal(opts.client_key, p);
    assert_string_equal(opts.pin_sha256, "ab:cd"); /* checked by mj_tls_parse_pin later */
    unlink(p);
    parse_usage("cannot read --cafile (No such file or directory): '/nonexistent/ca.crt'",
                "--cafile", "/nonexistent/ca.crt", "imaps://h", "probe", NULL);
    parse_usage("cannot read --client-cert", "--client-cert", "/nonexistent/c.crt", "imaps://h",
                "probe", NULL);
    parse_usage("cannot read --client-key", "--client-key", "/nonexistent/c.key", "imaps://h",
                "probe", NULL);
}

static void test_millisecond_options(void **state)
{
    static const char *const bad_values[] = {
        "0", "-5", "abc", "10x", "2000000001", " 5", "99999999999999999999", "+5"};
    static const char *const names[] = {"--timeout-ms", "--deadline-ms", "--connect-timeout-ms"};
    (void)state;
    parse_ok("--timeout-ms", "300", "--deadline-ms", "2000", "--connect-timeout-ms", "1",
             "imap://h", "probe", NULL);
    assert_int_equal(opts.timeout_ms, 300);
    assert_int_equal(opts.deadline_ms, 2000);
    assert_int_equal(opts.connect_timeout_ms, 1);
    parse_ok("--timeout-ms=2000000000", "imap://h", "probe", NULL);
    assert_int_equal(opts.timeout_ms, 2000000000);
    for (size_t n = 0; n < 3; n++) {
        for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
            char want[128];
            snprintf(want, sizeof want,
                     "%s must be a number of milliseconds from 1 to "
                     "2000000000, not '%s'",
                     names[n], bad_values[i]);
            parse_usage(want, names[n], bad_values[i], "imap://h", "probe", NULL);
        }
    }
}

static void test_resolve(void **state)
{
    (void)state;
    parse_ok("--resolve", "mail.mailjig.test:993:127.0.0.1", "--resolve=h:143:[::1]", "--resolve",
             "x:1:::1", "imaps://mail.mailjig.test", "probe", NULL);
    assert_int_equal(opts.n_resolve, 3);
    assert_string_equal(opts.resolve[0].host, "mail.mailjig.test");
    assert_int_equal(opts.resolve[0].port, 993);
    assert_string_equal(opts.resolve[0].addr, "127.0.0.1");
    assert_string_equal(opts.resolve[1].host, "h");
    assert_int_equal(opts.resolve[1].port, 143);
    assert_string_equal(opts.resolve[1].addr, "::1");
    assert_string_equal(opts.resolve[2].addr, "::1");

    static const char *const bad_values[] = {
        "h:143",          "h",          ":143:1.2.3.4",           "h:0:1.2.3.4", "h:70000:1.2.3.4",
        "h:14x:1.2.3.4",  "h::1.2.3.4", "h:143:mail.example.org", "h:143:",      "h:143:[::1",
        "h:143:1.2.3.4.5"};
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
        char want[128];
        snprintf(want, sizeof want,
                 "--resolve must be HOST:PORT:ADDR (ADDR an IP address), "
                 "not '%s'",
                 bad_values[i]);
        parse_usage(want, "--resolve", bad_values[i], "imap://h", "probe", NULL);
    }
    const char *nine[ARGV_MAX];
    int n = 0;
    for (int i = 0; i < 9; i++) {
        nine[n++] = "--resolve";
        nine[n++] = "h:1:1.2.3.4";
    }
    parse_usage("too many --resolve options (at most 8)", nine[0], nine[1], nine[2], nine[3],
                nine[4], nine[5], nine[6], nine[7], nine[8], nine[9], nine[10], nine[11], nine[12],
                nine[13], nine[14], nine[15], nine[16], nine[17], "imap://h", "probe", NULL);
}

static void test_help_lists_every_option(void **state)
{
    static const char *const wanted[] = {"--security MODE",
                                         "--user NAME",
                                         "--password-file PATH",
                                         "--cafile PATH",
                                         "--pin-sha256 HEX",
                                         "--insecure",
                                         "--client-cert PATH",
                                         "--client-key PATH",
                                         "--tls-min 1.2|1.3",
                                         "--timeout-ms N",
                                         "--deadline-ms N",
                                         "--connect-timeout-ms N",
                                         "--log FILE",
                                         "--log-timestamps",
                                         "--json",
                                         "--resolve HOST:PORT:ADDR",
                                         "-V, --version",
                                         "-h, --help"};
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    (void)state;
    assert_non_null(fp);
    mj_cli_print_options(fp);
    fclose(fp);
    for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++) {
        if (strstr(text, wanted[i]) == NULL)
            print_error("help lacks \"%s\"\n", wanted[i]);
        assert_non_null(strstr(text, wanted[i]));
    }
    free(text);
}

/* Authentication and SMTP envelope options (SECURITY-CASES #136: no control
 * byte may reach a command line). */
static void test_auth_and_envelope_options(void **state)
{
    (void)state;
    parse_ok("smtp://h", "--mechanism", "scram-sha-256", "--allow-insecure-auth", "--authzid", "bob",
             "--from", "<>", "--to", "a@example.org", "--to", "b@example.org", "--message", "-",
             "send", NULL);
    assert_int_equal(opts.mechanism, MJ_SASL_SCRAM_SHA_256);
    assert_true(opts.allow_insecure_auth);
    assert_string_equal(opts.authzid, "bob");
    assert_string_equal(opts.from, "<>");
    assert_int_equal(opts.n_to, 2);
    assert_string_equal(opts.to[1], "b@example.org");
    assert_string_equal(opts.message, "-");

    parse_usage("--from contains a control byte", "--from", "a@b\r\nDATA", "smtp://h", "send",
                NULL);
    parse_usage("--to contains a control byte", "--to", "a@b\nRCPT TO:<c@d>", "smtp://h", "send",
                NULL);
    parse_usage("option needs a non-empty value: '--to'", "--to", "", "smtp://h", "send", NULL);
    parse_usage("--authzid contains a control byte", "--authzid", "x\ty", "imap://h", "probe",
                NULL);
    parse_usage("--mechanism must be a SASL mechanism", "--mechanism", "DIGEST-MD5", "imap://h",
                "probe", NULL);
    char long_addr[300];
    memset(long_addr, 'a', sizeof long_addr - 1);
    long_addr[sizeof long_addr - 1] = '\0';
    parse_usage("--from is longer than 256 bytes", "--from", long_addr, "smtp://h", "send", NULL);

    /* 100 recipients pass, the 101st is refused. */
    static char *argv[2 + 2 * 101 + 3];
    int argc = 0;
    argv[argc++] = (char *)"mj";
    for (int i = 0; i < 101; i++) {
        argv[argc++] = (char *)"--to";
        argv[argc++] = (char *)"r@example.org";
    }
    argv[argc++] = (char *)"smtp://h";
    argv[argc++] = (char *)"send";
    argv[argc] = NULL;
    mj_error_clear(&err);
    assert_int_equal(mj_cli_parse(argc, argv, &opts, &err), MJ_USAGE);
    assert_non_null(strstr(err.message, "too many --to options"));
    argv[2 * 100 + 1] = (char *)"smtp://h";
    argv[2 * 100 + 2] = (char *)"send";
    argv[2 * 100 + 3] = NULL;
    mj_error_clear(&err);
    assert_int_equal(mj_cli_parse(2 * 100 + 3, argv, &opts, &err), MJ_OK);
    assert_int_equal(opts.n_to, 100);
}

/* SMTP extension options: BODY, CHUNKING, SMTPUTF8, REQUIRETLS, DSN. */
static void test_smtp_extension_options(void **state)
{
    (void)state;
    parse_ok("smtp://h", "send", NULL);
    assert_false(opts.body_given);
    assert_int_equal(opts.body, MJ_SMTP_BODY_NONE);
    assert_false(opts.chunking || opts.smtputf8 || opts.requiretls || opts.has_orcpt);
    assert_int_equal(opts.ret, MJ_SMTP_RET_NONE);
    assert_null(opts.envid);
    assert_int_equal(opts.notify, 0);

    parse_ok("--body", "BinaryMIME", "--chunking", "--smtputf8", "--requiretls", "--ret", "hdrs",
             "--envid", "QQ 314+=", "--notify", "failure,Delay", "--to", "a@x", "--to", "b@x",
             "--rcpt-notify", "NEVER", "--orcpt", "B+b@x", "--to", "c@x", "--rcpt-notify",
             "SUCCESS", "smtp://h", "send", NULL);
    assert_true(opts.body_given);
    assert_int_equal(opts.body, MJ_SMTP_BODY_BINARYMIME);
    assert_true(opts.chunking && opts.smtputf8 && opts.requiretls);
    assert_int_equal(opts.ret, MJ_SMTP_RET_HDRS);
    assert_string_equal(opts.envid, "QQ 314+=");
    assert_int_equal(opts.notify, MJ_SMTP_NOTIFY_FAILURE | MJ_SMTP_NOTIFY_DELAY);
    assert_int_equal(opts.n_to, 3);
    assert_int_equal(opts.to_notify[0], 0);
    assert_int_equal(opts.to_notify[1], MJ_SMTP_NOTIFY_NEVER);
    assert_int_equal(opts.to_notify[2], MJ_SMTP_NOTIFY_SUCCESS);
    assert_true(opts.has_orcpt);
    assert_null(opts.orcpt[0]);
    assert_string_equal(opts.orcpt[1], "B+b@x");
    assert_null(opts.orcpt[2]);

    parse_ok("--body", "7bit", "--ret", "FULL", "smtp://h", "send", NULL);
    assert_int_equal(opts.body, MJ_SMTP_BODY_7BIT);
    assert_int_equal(opts.ret, MJ_SMTP_RET_FULL);
    parse_ok("--body=8bitmime", "smtp://h", "send", NULL);
    assert_int_equal(opts.body, MJ_SMTP_BODY_8BITMIME);

    parse_usage("--body must be 7bit, 8bitmime or binarymime, not 'binary'", "--body", "binary",
                "smtp://h", "send", NULL);
    parse_usage("--ret must be FULL or HDRS, not 'headers'", "--ret", "headers", "smtp://h",
                "send", NULL);
    parse_usage("--notify must be NEVER or a list", "--notify", "SUCCESS,,DELAY", "smtp://h",
                "send", NULL);
    parse_usage("--notify must be NEVER or a list", "--notify", "SUCCESS,SUCCESS", "smtp://h",
                "send", NULL);
    parse_usage("--notify must be NEVER or a list", "--notify", "SUCCESS,", "smtp://h", "send",
                NULL);
    parse_usage("--notify: NEVER excludes the other values", "--notify", "NEVER,FAILURE",
                "smtp://h", "send", NULL);
    parse_usage("--rcpt-notify applies to the --to before it", "--rcpt-notify", "NEVER",
                "--to", "a@x", "smtp://h", "send", NULL);
    parse_usage("--orcpt applies to the --to before it", "--orcpt", "a@x", "smtp://h", "send",
                NULL);
    parse_usage("--orcpt contains a control byte", "--to", "a@x", "--orcpt", "a@x\r\nDATA",
                "smtp://h", "send", NULL);
    parse_usage("--envid contains a control byte", "--envid", "id\r\nRSET", "smtp://h", "send",
                NULL);
    char long_id[90];
    memset(long_id, 'i', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    parse_usage("--envid is longer than 85 bytes", "--envid", long_id, "smtp://h", "send", NULL);
    parse_usage("option takes no value: '--chunking=yes'", "--chunking=yes", "smtp://h", "send",
                NULL);

    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    assert_non_null(fp);
    mj_cli_print_options(fp);
    fclose(fp);
    static const char *const wanted[] = {"--body 7bit|8bitmime|binarymime", "--chunking",
                                         "--smtputf8", "--requiretls", "--ret FULL|HDRS",
                                         "--envid ID", "--notify LIST", "--rcpt-notify LIST",
                                         "--orcpt ADDRESS"};
    for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++)
        assert_non_null(strstr(text, wanted[i]));
    free(text);
}

/* IMAP CONDSTORE / QRESYNC options (RFC 7162): mod-sequences are 63-bit. */
static void test_condstore_options(void **state)
{
    (void)state;
    parse_ok("imap://h", "--condstore", "--qresync", "67890007:90060115194045000:41,43:211",
             "select", "INBOX", NULL);
    assert_true(opts.condstore);
    assert_true(opts.qresync);
    assert_int_equal(opts.qresync_uidvalidity, 67890007);
    assert_true(opts.qresync_modseq == 90060115194045000ULL);
    assert_string_equal(opts.qresync_known, "41,43:211");
    assert_null(opts.qresync_seq_match);
    parse_ok("imap://h", "--qresync", "7:5:1:100", "--seq-match", "1,10", "--uid-match", "5,50",
             "select", "INBOX", NULL);
    assert_string_equal(opts.qresync_known, "1:100");
    assert_string_equal(opts.qresync_seq_match, "1,10");
    assert_string_equal(opts.qresync_uid_match, "5,50");
    parse_ok("imap://h", "--qresync", "4294967295:9223372036854775807", "select", "INBOX", NULL);
    assert_null(opts.qresync_known);
    assert_true(opts.qresync_modseq == (uint64_t)INT64_MAX);
    parse_ok("imap://h", "--changedsince", "9223372036854775807", "--vanished", "fetch", "INBOX",
             "1:*", "uid", NULL);
    assert_true(opts.has_changedsince && opts.vanished);
    parse_ok("imap://h", "--unchangedsince", "0", "store", "INBOX", "1", "add", "\\Seen", NULL);
    assert_true(opts.has_unchangedsince);
    assert_true(opts.unchangedsince == 0);
    assert_false(opts.silent);
    parse_ok("imap://h", "--silent", "store", "INBOX", "1", "add", "\\Seen", NULL);
    assert_true(opts.silent);
    parse_usage("--seq-match and --uid-match go with --qresync", "imap://h", "--seq-match", "1",
                "--uid-match", "5", "select", "INBOX", NULL);
    parse_usage("--seq-match and --uid-match go with --qresync", "imap://h", "--uid-match", "5",
                "select", "INBOX", NULL);
    parse_usage("--qresync must be", "imap://h", "--qresync", "0:5", "select", "INBOX", NULL);
    parse_usage("--qresync must be", "imap://h", "--qresync", "4294967296:5", "select", "X", NULL);
    parse_usage("--qresync must be", "imap://h", "--qresync", "7:0", "select", "INBOX", NULL);
    parse_usage("--qresync must be", "imap://h", "--qresync", "7", "select", "INBOX", NULL);
    parse_usage("--qresync must be", "imap://h", "--qresync", "7:9223372036854775808", "select",
                "INBOX", NULL);
    parse_usage("--qresync must be", "imap://h", "--qresync", "7:5:", "select", "INBOX", NULL);
    parse_usage("--qresync must be", "imap://h", "--qresync", "7:x5", "select", "INBOX", NULL);
    parse_usage("--changedsince must be", "imap://h", "--changedsince", "0", "fetch", "I", "1", NULL);
    parse_usage("--changedsince must be", "imap://h", "--changedsince", "18446744073709551616",
                "fetch", "I", "1", NULL);
    parse_usage("--unchangedsince must be", "imap://h", "--unchangedsince", "9223372036854775808",
                "store", "I", "1", "add", "x", NULL);
    parse_usage("--unchangedsince must be", "imap://h", "--unchangedsince", "-1", "store", "I", "1",
                "add", "x", NULL);
}

/* --list-select / --list-return / --list-status: comma words in any case, each once; --utf8. */
static void test_list_options(void **state)
{
    (void)state;
    parse_ok("imap://h", "--list-select", "subscribed,RecursiveMatch", "--list-return",
             "children,special-use,subscribed", "--list-status", "messages,UNSEEN,size", "--utf8",
             "list", "", "*", NULL);
    assert_int_equal(opts.list_select, MJ_IMAP_LIST_SEL_SUBSCRIBED | MJ_IMAP_LIST_SEL_RECURSIVEMATCH);
    assert_int_equal(opts.list_return, MJ_IMAP_LIST_RET_CHILDREN | MJ_IMAP_LIST_RET_SPECIAL_USE |
                                           MJ_IMAP_LIST_RET_SUBSCRIBED);
    assert_int_equal(opts.list_status,
                     MJ_IMAP_STATUS_MESSAGES | MJ_IMAP_STATUS_UNSEEN | MJ_IMAP_STATUS_SIZE);
    assert_true(opts.utf8);
    parse_ok("imap://h", "list", NULL);
    assert_int_equal(opts.list_select | opts.list_return | opts.list_status, 0);
    assert_false(opts.utf8);
    parse_usage("--list-select must be a comma list", "imap://h", "--list-select", "children",
                "list", NULL);
    parse_usage("--list-return must be a comma list", "imap://h", "--list-return",
                "children,children", "list", NULL);
    parse_usage("--list-status must be a comma list", "imap://h", "--list-status", "messages,",
                "list", NULL);
    parse_usage("non-empty value", "imap://h", "--list-status", "", "list", NULL);
}

static void test_token_file(void **state)
{
    (void)state;
    const char *p = temp_file("ya29.token-value\r\nsecond line\n", 30);
    parse_ok("--token-file", p, "imap://alice@h", "probe", NULL);
    assert_true(opts.has_token);
    assert_string_equal(opts.token, "ya29.token-value");
    unlink(p);
    p = temp_file("\n", 1);
    parse_usage("the first line is empty in --token-file", "--token-file", p, "imap://h", "probe",
                NULL);
    unlink(p);
    parse_usage("cannot open --token-file", "--token-file", "/nonexistent/token", "imap://h",
                "probe", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_command),
        cmocka_unit_test(test_options_anywhere_before_op_args),
        cmocka_unit_test(test_help_and_version_need_nothing_else),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_json_known_after_a_bad_option),
        cmocka_unit_test(test_security_modes),
        cmocka_unit_test(test_user),
        cmocka_unit_test(test_password_file),
        cmocka_unit_test(test_auth_and_envelope_options),
        cmocka_unit_test(test_token_file),
        cmocka_unit_test(test_condstore_options),
        cmocka_unit_test(test_list_options),
        cmocka_unit_test(test_smtp_extension_options),
        cmocka_unit_test(test_tls_options),
        cmocka_unit_test(test_millisecond_options),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_help_lists_every_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
