/*
 * test_loader.c: the scenario loader (scenario/load.c, node.c) on broken
 * files (every message asserted with its line:col), on good files (the model
 * they load into), on a YAML bomb, and on random and mutated bytes (nothing
 * may crash or leak: run under ASan and valgrind by make's targets).
 *
 * Fixtures: fakeservers/tests/bad/ and good/ under $MJ_SRCDIR (default ".").
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/server.h"
#include "sasl/fk_sasl.h"
#include "scenario/keys.h"
#include "scenario/scenario.h"

#define PATH_CAP 4096
#define GARBAGE_INPUTS 300
#define GARBAGE_LEN_MAX 2048
#define MUTATIONS_PER_FILE 60

static const char *srcdir(void)
{
    const char *d = getenv("MJ_SRCDIR");
    return d && *d ? d : ".";
}

static void fixture(char *out, const char *kind, const char *name)
{
    snprintf(out, PATH_CAP, "%s/fakeservers/tests/%s/%s", srcdir(), kind, name);
}

static fk_scenario *load_good(const char *name)
{
    char path[PATH_CAP], err[FK_LOAD_ERROR_MAX];
    fixture(path, "good", name);
    fk_scenario *s = fk_scenario_load(path, NULL, err, sizeof err);
    if (!s)
        fail_msg("%s did not load: %s", name, err);
    return s;
}

static void assert_bytes(const fk_bytes *b, const char *want, size_t want_len)
{
    if (b->len != want_len || memcmp(b->data, want, want_len) != 0)
        fail_msg("bytes differ: got %zu bytes '%.*s', want %zu bytes '%.*s'", b->len,
                 (int)b->len, (const char *)b->data, want_len, (int)want_len, want);
}

#define ASSERT_BYTES(b, lit) assert_bytes((b), (lit), sizeof(lit) - 1)

/* ---- broken files --------------------------------------------------------------- */

/* Each file of bad/ and "LINE:COL: message" ("{DIR}": bad/'s path). */
static const struct {
    const char *file;
    const char *want;
} bad_files[] = {
    {"alert_and_close", "8:14: alert and close cannot be in one step: a connection ends once"},
    {"compress_twice", "7:7: a second compress in one connection (the first is at 5:7; RFC 4978: once per connection)"},
    {"compress_then_starttls", "7:7: starttls after compress (at 5:7): TLS goes under compression, so it starts first (RFC 4978 section 3)"},
    {"compress_fault_uncompressed", "5:7: compress_fault acts on the compressed stream, and the connection is not compressed here (compress: deflate on an earlier step)"},
    {"compress_early_alone", "6:23: compress_fault: early compresses this step's own send, and needs compress: deflate in the same step"},
    {"compress_pop3", "6:17: compress is IMAP's COMPRESS (RFC 4978); this scenario is not IMAP"},
    {"compress_unknown", "6:17: compress: expected one of deflate, found gzip"},
    {"alert_plaintext", "5:7: alert acts on TLS records, and the connection is not TLS here (server: tls: implicit, or starttls: true before it)"},
    {"alert_unknown", "7:14: alert: expected one of bad_record_mac, record_overflow, unexpected_message, found internal_error"},
    {"corrupt_before_starttls", "6:7: corrupt_record acts on TLS records, and the connection is not TLS here (server: tls: implicit, or starttls: true before it)"},
    {"corrupt_false", "7:23: corrupt_record: false does nothing; write true or leave the key out"},
    {"step_after_alert", "8:7: this step never runs: the step at 6:7 ends the connection (alert)"},
    {"truncate_without_send", "8:24: truncate_record works on the step's send, and there is none"},
    {"bad_certificate", "5:16: certificate: expected one of valid, valid-rsa, expired, not-yet-valid, self-signed, wrong-host, untrusted-ca, wildcard, cn-only, client-auth-only, bad-intermediate, weak-key, found snakeoil"},
    {"bad_client_cert", "5:16: client_cert: expected one of none, request, require, found always"},
    {"bad_client_certificate", "11:16: client_cert: expected one of client, client-auth-only, valid, expired, self-signed, untrusted-ca, found snakeoil"},
    {"bad_ciphers", "5:12: ciphers: OpenSSL knows no cipher in 'NO-SUCH-CIPHER'"},
    {"bad_escape", "5:22: YAML syntax error: found unknown escape character (while parsing a quoted scalar at 5:17)"},
    {"bad_outcome", "11:17: outcome: expected one of ok, usage, connect-failed, timeout, connection-lost, tls-failed, certificate-invalid, starttls-unavailable, cleartext-refused, auth-failed, auth-unsupported, protocol-error, server-refused, server-busy, message-rejected, found maybe"},
    {"bad_placeholder", "5:15: expect: bad placeholder at character 1: '{' and a name of a-z, 0-9 and _ (at most 31, starting with a-z or _) and '}'"},
    {"bad_protocol", "2:11: protocol: expected one of imap, pop3, smtp, found http"},
    {"bad_regex", "5:20: expect: bad regex: Unmatched ( or \\("},
    {"sasl_token_for_plain", "5:49: expect: sasl PLAIN takes a password, not a token"},
    {"sasl_fail_not_fitting", "5:66: expect: sasl PLAIN: scripted failure scram-error does not apply to PLAIN"},
    {"sasl_unknown_fail", "5:66: fail: expected one of wrong-password, unknown-user, temporary, unsupported, challenge-not-base64, challenge-empty, challenge-oversized, scram-bad-signature, scram-foreign-nonce, scram-huge-iterations, scram-error, oauth-error, found sometimes"},
    {"sasl_bad_salt", "5:80: scram_salt: expected standard base64 of 1 to 64 bytes"},
    {"data_not_after_354", "7:7: after DATA and 354 the client sends the message: this step needs expect: {data: ...} (or eof)"},
    {"apop_without_timestamp", "6:7: expect: apop needs a <timestamp> (\"<...@...>\") in the first text this connection sends"},
    {"literal_max_not_imap", "4:16: literal_max applies to imap scenarios only"},
    {"oversized_len_without_fail", "5:75: oversized_len goes with fail: challenge-oversized"},
    {"bad_sasl", "5:22: sasl: expected one of PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1, SCRAM-SHA-256, SCRAM-SHA-512 (each also -PLUS), XOAUTH2, OAUTHBEARER, ANONYMOUS, EXTERNAL, found DIGEST-MD5"},
    {"bad_sha256", "6:31: sha256: expected 64 hex digits, found 3 characters"},
    {"bad_tls", "4:8: tls: expected one of none, implicit, found starttls"},
    {"bad_tls_version", "5:12: tls_min: expected one of 1.0, 1.1, 1.2, 1.3, found 1.4"},
    {"bad_utf8", "1:15: not valid YAML text: invalid leading UTF-8 octet"},
    {"bomb", "12:8: the document expands to more than 100000 nodes (aliases nested too far?)"},
    {"comments_only", "1:1: empty file: expected a scenario mapping"},
    {"connection_bad_entry", "5:7: unknown key 'send' in a connection: expected one of steps"},
    {"data_not_smtp", "5:22: expect: data is SMTP DATA or BDAT content; this scenario's protocol is not smtp"},
    {"dotstuff_without_send", "6:17: dotstuff applies to send or send_file, and there is none"},
    {"drip_and_fragment", "7:13: drip and fragment cannot shape the same send"},
    {"drip_missing_key", "6:13: missing required key 'every_ms' in drip"},
    {"drip_without_send", "6:13: drip shapes the step's send, and there is none"},
    {"duplicate_key", "6:3: duplicate key 'tls' (first at 4:3)"},
    {"empty", "1:1: empty file: expected a scenario mapping"},
    {"empty_step", "6:7: a step needs at least one of expect, sleep, send, send_raw, send_file, starttls, compress, close, reset, hang, shutdown_write, alert, truncate_record"},
    {"empty_steps", "4:10: steps: an empty script; give one step or more"},
    {"eof_then_expect", "7:7: this step expects input after the client closed (expect: eof at 6:7)"},
    {"forbid_bad_regex", "5:23: forbid: before_tls: bad regex: Unmatched [, [^, [:, [., or [="},
    {"fragment_zero", "6:21: fragment: expected an integer from 1 to 65536, found 0"},
    {"missing_client", "1:1: missing required key 'client' in the top level"},
    {"missing_summary", "1:1: missing required key 'summary' in the top level"},
    {"no_script", "4:3: server: needs steps or connections (or an accept policy other than serve)"},
    {"nonscalar_key", "2:3: a mapping key must be a scalar, found a list"},
    {"nul_in_summary", "1:10: summary: a NUL byte is not allowed here (only send_raw and inject take raw bytes)"},
    {"op_wrong_protocol", "7:7: op: expected probe or imap.OPERATION (this scenario's protocol), found 'smtp.send'"},
    {"optional_without_expect", "6:17: optional qualifies the step's expect, and there is none"},
    {"plaintext_needs_text", "7:17: starttls: text is what fail: plaintext sends, and it needs one"},
    {"port_range", "4:9: port: expected an integer from 0 to 65535, found 70000"},
    {"port_type", "4:9: port in server: expected a non-negative integer, found a string"},
    {"recursive_alias", "4:10: alias *s names no anchor defined (and finished) before it"},
    {"reset_false", "6:14: reset: false does nothing; write true or leave the key out"},
    {"send_after_shutdown", "7:7: this step sends after shutdown_write at 5:7"},
    {"send_and_send_raw", "6:17: send and send_raw cannot be in one step: a step sends one thing"},
    {"send_file_missing", "5:18: send_file: cannot read '{DIR}/no-such-message.eml': No such file or directory"},
    {"sleep_range", "5:14: sleep: expected an integer from 0 to 600000, found 9999999"},
    {"starttls_false", "6:17: starttls: false does nothing; write true or leave the key out"},
    {"starttls_implicit", "7:7: starttls on a connection that is TLS from the start (server: tls: implicit)"},
    {"starttls_twice", "9:7: a second starttls in one connection (the first is at 6:7)"},
    {"step_after_close", "7:7: this step never runs: the step at 5:7 ends the connection (close)"},
    {"step_not_mapping", "5:7: a step: expected a mapping, found a string"},
    {"steps_and_connections", "7:5: server: steps is one connection's script, connections a list of them: choose one"},
    {"syntax_error", "2:9: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at 1:10)"},
    {"tab_indent", "3:1: YAML syntax error: found character that cannot start any token (while scanning for the next token at 3:1)"},
    {"tls_min_above_max", "6:12: tls_min is above tls_max: no version is left"},
    {"too_deep", "4:71: nesting deeper than 64 levels"},
    {"too_many_wildcards", "5:15: expect: more than 32 '*' and '{name}' in one pattern"},
    {"top_level_list", "1:1: a scenario is a mapping (summary, protocol, server, client, expect), found a list"},
    {"two_documents", "2:1: a scenario is one YAML document; found a second one"},
    {"uncaptured_name", "6:13: send: {user} is not captured by an expect before it in this connection"},
    {"unknown_alias", "5:13: alias *greeting names no anchor defined (and finished) before it"},
    {"unknown_server_key", "4:3: unknown key 'tsl' in server: expected one of tls, certificate, tls_min, tls_max, ciphers, client_cert, port, accept, greeting_delay_ms, line_max, literal_max, literal_continuation, data_max, forbid, steps, connections"},
    {"unknown_step_key", "6:7: unknown key 'sned' in a step: expected one of expect, optional, unordered, on_mismatch, sleep, send, send_raw, send_file, dotstuff, drip, fragment, starttls, close, reset, hang, shutdown_write, alert, truncate_record, corrupt_record, compress, compress_fault"},
    {"unknown_top_key", "2:1: unknown key 'sumary' in the top level: expected one of name, summary, protocol, tags, source, server, client, expect"},
    {"unordered_single", "6:18: unordered applies to a list of two patterns or more"},
    {"upper_placeholder", "5:15: expect: bad placeholder at character 1: '{' and a name of a-z, 0-9 and _ (at most 31, starting with a-z or _) and '}'"},
    {"within_ms_type", "12:14: within_ms in expect: expected a non-negative integer, found a string"},
};

static void expand_dir(char *out, size_t cap, const char *want, const char *dir)
{
    const char *mark = strstr(want, "{DIR}");
    int n = mark ? snprintf(out, cap, "%.*s%s%s", (int)(mark - want), want, dir, mark + 5)
                 : snprintf(out, cap, "%s", want);
    assert_true(n > 0 && (size_t)n < cap);
}

static void test_bad_files(void **state)
{
    char dir[PATH_CAP];
    int failures = 0;
    (void)state;
    snprintf(dir, sizeof dir, "%s/fakeservers/tests/bad", srcdir());
    for (size_t i = 0; i < sizeof bad_files / sizeof bad_files[0]; i++) {
        char path[PATH_CAP], want[PATH_CAP * 3], tail[PATH_CAP * 2];
        char err[FK_LOAD_ERROR_MAX];
        int n = snprintf(path, sizeof path, "%s/%s.yaml", dir, bad_files[i].file);
        assert_true(n > 0 && (size_t)n < sizeof path);
        expand_dir(tail, sizeof tail, bad_files[i].want, dir);
        n = snprintf(want, sizeof want, "%s:%s", path, tail);
        assert_true(n > 0 && (size_t)n < sizeof want);
        memset(err, 0, sizeof err);
        fk_scenario *s = fk_scenario_load(path, NULL, err, sizeof err);
        if (s || strcmp(err, want) != 0) {
            print_error("%s:\n  got  %s\n  want %s\n", bad_files[i].file, s ? "(loaded)" : err,
                        want);
            failures++;
        }
        fk_scenario_free(s);
    }
    assert_int_equal(failures, 0);
}

/* Every fixture in bad/ has its row, so none goes untested; and there are 30 or more. */
static void test_bad_files_all_listed(void **state)
{
    char dir[PATH_CAP];
    size_t n_files = 0;
    (void)state;
    snprintf(dir, sizeof dir, "%s/fakeservers/tests/bad", srcdir());
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0)
            continue;
        bool listed = false;
        for (size_t i = 0; i < sizeof bad_files / sizeof bad_files[0] && !listed; i++)
            listed = strlen(bad_files[i].file) == len - 5 &&
                     memcmp(bad_files[i].file, e->d_name, len - 5) == 0;
        if (!listed)
            print_error("bad/%s has no expected message\n", e->d_name);
        assert_true(listed);
        n_files++;
    }
    closedir(d);
    assert_int_equal(n_files, sizeof bad_files / sizeof bad_files[0]);
    assert_true(n_files >= 30);
}

static void test_unreadable(void **state)
{
    char err[FK_LOAD_ERROR_MAX], path[PATH_CAP], want[PATH_CAP + 64];
    (void)state;
    assert_null(fk_scenario_load("/nonexistent/x.yaml", NULL, err, sizeof err));
    assert_string_equal(err, "/nonexistent/x.yaml: cannot open: No such file or directory");
    fixture(path, "good", "");
    assert_null(fk_scenario_load(path, NULL, err, sizeof err));
    snprintf(want, sizeof want, "%s: cannot read: Is a directory", path);
    assert_string_equal(err, want);
}

/* ---- good files ------------------------------------------------------------------ */

static void test_good_example(void **state)
{
    (void)state;
    fk_scenario *s = load_good("example.yaml");
    assert_string_equal(s->name, "imap-starttls-stripped");
    assert_string_equal(s->summary,
                        "CAPABILITY lacks STARTTLS; a client that requires STARTTLS must not log in.");
    assert_int_equal(s->protocol, FK_PROTO_IMAP);
    assert_int_equal(s->n_tags, 3);
    assert_string_equal(s->tags[2], "security");
    assert_string_equal(s->source, "Poddebniak et al., USENIX Security 2021, STARTTLS stripping");
    assert_int_equal(s->server.tls, FK_TLS_NONE);
    assert_string_equal(s->server.certificate, "valid");
    assert_int_equal(s->server.line_max, FK_LINE_MAX_DEFAULT);
    assert_int_equal(s->server.n_connections, 1);
    const fk_script *sc = &s->server.connections[0];
    assert_int_equal(sc->n_steps, 4);
    assert_int_equal(sc->pos.line, 11);
    assert_int_equal(sc->steps[0].expect.kind, FK_EXPECT_NONE);
    assert_int_equal(sc->steps[0].send.kind, FK_SEND_TEXT);
    ASSERT_BYTES(&sc->steps[0].send.text, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready");
    const fk_step *st = &sc->steps[1];
    assert_int_equal(st->pos.line, 12);
    assert_int_equal(st->pos.col, 7);
    assert_int_equal(st->expect.kind, FK_EXPECT_LINES);
    assert_int_equal(st->expect.n_patterns, 1);
    assert_int_equal(st->expect.patterns[0].kind, FK_PAT_TEXT);
    assert_string_equal(st->expect.patterns[0].source, "{tag} CAPABILITY");
    assert_int_equal(st->expect.patterns[0].pos.line, 12);
    assert_int_equal(st->expect.patterns[0].pos.col, 15);
    assert_true(st->optional);
    /* "|" ends in a newline; it must not become an empty last line. */
    ASSERT_BYTES(&st->send.text, "* CAPABILITY IMAP4rev1 AUTH=PLAIN\n{tag} OK done");
    assert_int_equal(sc->steps[3].expect.kind, FK_EXPECT_EOF);
    assert_int_equal(sc->steps[3].end, FK_END_NONE);
    fk_scenario_free(s);
}

static void check_tls_server(const fk_server *srv)
{
    assert_int_equal(srv->tls, FK_TLS_IMPLICIT);
    assert_string_equal(srv->certificate, "wildcard");
    assert_int_equal(srv->tls_min, 0x0303);
    assert_int_equal(srv->tls_max, 0x0304);
    assert_string_equal(srv->ciphers, "HIGH:!aNULL");
    assert_int_equal(srv->port, 993);
    assert_int_equal(srv->accept, FK_ACCEPT_SERVE);
    assert_int_equal(srv->greeting_delay_ms, 250);
    assert_int_equal(srv->line_max, 1000);
    assert_int_equal(srv->forbid.n_before_tls, 2);
    assert_int_equal(srv->forbid.before_tls[0].kind, FK_PAT_TEXT);
    assert_string_equal(srv->forbid.before_tls[0].source, "{tag} LOGIN *");
    assert_int_equal(srv->forbid.before_tls[1].kind, FK_PAT_REGEX);
    assert_true(srv->forbid.before_tls[1].icase);
    assert_int_equal(regexec(&srv->forbid.before_tls[1].re, "authenticate plain", 0, NULL, 0),
                     0);
    /* Anchored: a prefix is not enough. */
    assert_int_not_equal(regexec(&srv->forbid.before_tls[1].re, "x AUTH y", 0, NULL, 0), 0);
    assert_int_equal(srv->forbid.n_always, 1);
    assert_true(srv->forbid.always[0].icase);
    assert_int_equal(srv->forbid.always[0].kind, FK_PAT_TEXT);
}

static void test_good_tls_implicit(void **state)
{
    (void)state;
    fk_scenario *s = load_good("tls_implicit.yaml");
    assert_string_equal(s->name, "tls_implicit"); /* the stem */
    assert_null(s->source);
    assert_int_equal(s->n_tags, 0);
    check_tls_server(&s->server);
    const fk_step *st = s->server.connections[0].steps;
    assert_int_equal(s->server.connections[0].n_steps, 4);
    assert_int_equal(st[0].send.kind, FK_SEND_RAW);
    ASSERT_BYTES(&st[0].send.text, "* OK \x01" "bare\nno-cr\0nul\r\n");
    assert_int_equal(st[0].n_fragment, 3);
    assert_int_equal(st[0].fragment[2], 3);
    assert_int_equal(st[1].expect.patterns[0].kind, FK_PAT_TEXT);
    assert_true(st[1].expect.patterns[0].icase);
    assert_true(st[1].has_on_mismatch);
    ASSERT_BYTES(&st[1].on_mismatch, "{tag} BAD what?");
    assert_int_equal(st[1].sleep_ms, 20);
    ASSERT_BYTES(&st[1].send.text, "{tag} OK {user} logged in");
    assert_int_equal(st[1].drip_bytes, 2);
    assert_int_equal(st[1].drip_every_ms, 5);
    assert_int_equal(st[2].expect.n_patterns, 2);
    assert_false(st[2].expect.unordered);
    assert_int_equal(st[2].expect.patterns[1].kind, FK_PAT_REGEX);
    assert_int_equal(regexec(&st[2].expect.patterns[1].re, "A7 UID FETCH 1:* (FLAGS)", 0, NULL, 0),
                     0);
    /* "|+" keeps the blank line: two lines, the second empty. */
    ASSERT_BYTES(&st[2].send.text, "{tag} OK\n");
    assert_int_equal(st[3].end, FK_END_CLOSE_NO_NOTIFY);
    fk_scenario_free(s);
}

static void check_smtp_first(const fk_scenario *s)
{
    const fk_step *st = s->server.connections[0].steps;
    assert_int_equal(s->server.connections[0].n_steps, 9);
    ASSERT_BYTES(&st[1].send.text, "250-mail.mailjig.test\n250 STARTTLS");
    assert_int_equal(st[2].starttls.kind, FK_STARTTLS_HANDSHAKE);
    ASSERT_BYTES(&st[2].starttls.inject, "250 injected\r\n");
    assert_int_equal(st[4].expect.kind, FK_EXPECT_SASL);
    assert_string_equal(st[4].expect.sasl.mechanism, "PLAIN");
    assert_string_equal(st[4].expect.sasl.user, "alice");
    assert_string_equal(st[4].expect.sasl.password, "secret");
    assert_true(st[5].expect.unordered);
    assert_int_equal(st[5].expect.n_patterns, 2);
    assert_int_equal(st[6].expect.kind, FK_EXPECT_DATA);
    assert_true(st[6].expect.data.has_sha256);
    assert_int_equal(st[6].expect.data.sha256[0], 0xe3);
    assert_int_equal(st[6].expect.data.sha256[31], 0x55);
    assert_string_equal(st[6].expect.data.contains, "Subject");
    assert_non_null(strstr(st[6].expect.data.equals_file, "/good/message.eml"));
    assert_int_equal(st[6].send.kind, FK_SEND_FILE);
    assert_true(st[6].send.dotstuff);
    assert_non_null(strstr(st[6].send.path, "/good/message.eml"));
    assert_true(st[7].optional);
    assert_int_equal(st[7].end, FK_END_SHUTDOWN_WRITE);
    assert_int_equal(st[8].expect.kind, FK_EXPECT_EOF);
}

static void test_good_smtp(void **state)
{
    (void)state;
    fk_scenario *s = load_good("smtp_starttls.yaml");
    assert_int_equal(s->protocol, FK_PROTO_SMTP);
    assert_string_equal(s->server.certificate, "valid-rsa");
    assert_int_equal(s->server.n_connections, 3);
    check_smtp_first(s);
    const fk_script *c2 = &s->server.connections[1], *c3 = &s->server.connections[2];
    assert_int_equal(c2->n_steps, 3);
    assert_int_equal(c2->steps[1].starttls.kind, FK_STARTTLS_PLAINTEXT);
    ASSERT_BYTES(&c2->steps[1].starttls.plaintext, "HTTP/1.0 400 nope\r\n");
    assert_int_equal(c2->steps[2].end, FK_END_RESET);
    assert_int_equal(c3->steps[0].starttls.kind, FK_STARTTLS_ALERT);
    assert_int_equal(c3->steps[1].end, FK_END_HANG);
    fk_scenario_free(s);
}

static void test_good_anchors(void **state)
{
    (void)state;
    fk_scenario *s = load_good("anchors.yaml");
    assert_int_equal(s->server.n_connections, 2);
    for (size_t c = 0; c < 2; c++) {
        const fk_script *sc = &s->server.connections[c];
        assert_int_equal(sc->n_steps, 5);
        ASSERT_BYTES(&sc->steps[0].send.text, "+OK ready");
        ASSERT_BYTES(&sc->steps[3].send.text, "+OK ready");
        assert_string_equal(sc->steps[2].expect.patterns[0].source, "USER {u}");
        ASSERT_BYTES(&sc->steps[2].send.text, "+OK");
        assert_int_equal(sc->steps[4].end, FK_END_CLOSE);
        /* An alias loads as a copy with the anchor's position. */
        assert_int_equal(sc->steps[3].pos.line, sc->steps[0].pos.line);
    }
    fk_scenario_free(s);
}

static void test_good_refuse(void **state)
{
    (void)state;
    fk_scenario *s = load_good("accept_refuse.yaml");
    assert_int_equal(s->server.accept, FK_ACCEPT_REFUSE);
    assert_int_equal(s->server.n_connections, 0);
    fk_scenario_free(s);
}

/* ---- certificates ------------------------------------------------------------------- */

static void touch(const char *dir, const char *name)
{
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
}

static void test_certs_dir(void **state)
{
    char dir[] = "/tmp/fk_test_certs_XXXXXX", path[PATH_CAP], err[FK_LOAD_ERROR_MAX];
    char want[PATH_CAP * 2];
    (void)state;
    assert_non_null(mkdtemp(dir));
    fixture(path, "good", "tls_implicit.yaml");
    assert_null(fk_scenario_load(path, dir, err, sizeof err));
    snprintf(want, sizeof want, "%s:6:16: certificate wildcard: cannot read %s/wildcard.crt: No "
             "such file or directory (sh ci/mkcerts.sh DIR makes the set)", path, dir);
    assert_string_equal(err, want);
    touch(dir, "wildcard.crt");
    touch(dir, "wildcard.key");
    fk_scenario *s = fk_scenario_load(path, dir, err, sizeof err);
    assert_non_null(s);
    fk_scenario_free(s);
    /* A plaintext scenario needs no certificate at all. */
    fixture(path, "good", "example.yaml");
    s = fk_scenario_load(path, dir, err, sizeof err);
    assert_non_null(s);
    fk_scenario_free(s);
    snprintf(path, sizeof path, "%s/wildcard.crt", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/wildcard.key", dir);
    unlink(path);
    rmdir(dir);
}

/* ---- the key list ----------------------------------------------------------------------- */

static bool has_key(const char *const *keys, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i], key) == 0)
            return true;
    return false;
}

static void test_keys(void **state)
{
    size_t n = 0;
    (void)state;
    const char *const *keys = fk_loader_keys(&n);
    assert_true(n > 60);
    assert_string_equal(keys[0], "top.name");
    assert_true(has_key(keys, n, "server.forbid"));
    assert_true(has_key(keys, n, "step.send_raw"));
    assert_true(has_key(keys, n, "starttls.inject"));
    /* The last key of the last table: the list was not cut short. */
    assert_string_equal(keys[n - 1], "expect_top.server_consumed");
}

/* ---- hostile input --------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Load data from a scratch file: a scenario or a one-line error naming the file. */
static void load_bytes(const char *scratch, const unsigned char *data, size_t len)
{
    char err[FK_LOAD_ERROR_MAX];
    FILE *f = fopen(scratch, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
    err[0] = '\0';
    fk_scenario *s = fk_scenario_load(scratch, NULL, err, sizeof err);
    if (!s) {
        assert_int_equal(strncmp(err, scratch, strlen(scratch)), 0);
        assert_null(strchr(err, '\n'));
    }
    fk_scenario_free(s);
}

static void test_garbage(void **state)
{
    static unsigned char buf[GARBAGE_LEN_MAX];
    /* Bytes that steer random input towards YAML structure. */
    static const char yamlish[] = "{}[]:-,&*!|>'\"#?% \n\t\\abc01";
    char scratch[] = "/tmp/fk_garbage_XXXXXX";
    (void)state;
    int fd = mkstemp(scratch);
    assert_true(fd >= 0);
    close(fd);
    for (int i = 0; i < GARBAGE_INPUTS; i++) {
        size_t len = (size_t)(rng() % GARBAGE_LEN_MAX);
        for (size_t k = 0; k < len; k++)
            buf[k] = i % 2 ? (unsigned char)rng()
                           : (unsigned char)yamlish[rng() % (sizeof yamlish - 1)];
        load_bytes(scratch, buf, len);
    }
    unlink(scratch);
}

static size_t read_fixture(const char *name, unsigned char *buf, size_t cap)
{
    char path[PATH_CAP];
    fixture(path, "good", name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

/* Good files with bytes flipped, dropped or cut: the deep paths see broken input. */
static void test_mutations(void **state)
{
    static const char *const files[] = {"example.yaml", "tls_implicit.yaml", "smtp_starttls.yaml",
                                        "anchors.yaml"};
    static unsigned char orig[8192], buf[8192];
    static const char swaps[] = "{}[]:-&*\n \"'0x";
    char scratch[] = "/tmp/fk_mutate_XXXXXX";
    (void)state;
    int fd = mkstemp(scratch);
    assert_true(fd >= 0);
    close(fd);
    for (size_t fi = 0; fi < sizeof files / sizeof files[0]; fi++) {
        size_t n = read_fixture(files[fi], orig, sizeof orig);
        for (int m = 0; m < MUTATIONS_PER_FILE; m++) {
            size_t len = n;
            memcpy(buf, orig, n);
            for (int k = 0; k < 1 + m % 4; k++)
                buf[rng() % n] = (unsigned char)swaps[rng() % (sizeof swaps - 1)];
            if (m % 5 == 0)
                len = (size_t)(rng() % n);
            load_bytes(scratch, buf, len);
        }
    }
    unlink(scratch);
}

/* The personalities' keys: SASL options, data mode by the 354 rule, dotstuff on send. */
static void test_good_personalities(void **state)
{
    (void)state;
    fk_scenario *s = load_good("personalities.yaml");
    const fk_step *st = s->server.connections[0].steps;
    assert_int_equal(s->server.data_max, 1000);
    assert_int_equal(st[1].expect.kind, FK_EXPECT_SASL);
    assert_string_equal(st[1].expect.sasl.mechanism, "SCRAM-SHA-256");
    assert_int_equal(st[1].expect.sasl.scram_iterations, 8192);
    ASSERT_BYTES(&st[1].expect.sasl.scram_salt, "ABC");
    assert_string_equal(st[2].expect.sasl.password, "ya29.t0k");
    assert_string_equal(fk_sasl_fail_name((fk_sasl_fail)st[2].expect.sasl.fail), "oauth-error");
    assert_null(st[3].expect.sasl.user);
    assert_null(st[3].expect.sasl.password);
    assert_int_equal(st[5].expect.kind, FK_EXPECT_DATA);
    assert_false(st[5].expect.data.bdat); /* after the pipelined 354 */
    assert_true(st[6].expect.data.bdat);  /* nothing answered 354 before it */
    assert_true(st[7].send.dotstuff);
    fk_scenario_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_personalities),
        cmocka_unit_test(test_bad_files),      cmocka_unit_test(test_bad_files_all_listed),
        cmocka_unit_test(test_unreadable),     cmocka_unit_test(test_good_example),
        cmocka_unit_test(test_good_tls_implicit), cmocka_unit_test(test_good_smtp),
        cmocka_unit_test(test_good_anchors),   cmocka_unit_test(test_good_refuse),
        cmocka_unit_test(test_certs_dir),      cmocka_unit_test(test_keys),
        cmocka_unit_test(test_garbage),        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
