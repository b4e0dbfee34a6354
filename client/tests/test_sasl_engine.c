/*
 * test_sasl_engine.c: mj_sasl_run over the in-memory transport, with a small
 * SMTP-like protocol table written here ("AUTH ", "334 " challenges, "235"
 * success, anything else failure).  Asserts the exact bytes on the wire, the
 * outcome and reason, and that the protocol log never shows a secret.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mailjig/conn.h"
#include "mailjig/sasl.h"
#include "sasl/engine.h"

static mj_outcome t_begin(void *ctx, mj_conn *c)
{
    (void)ctx;
    return mj_conn_puts(c, "AUTH ");
}

static mj_outcome t_read_reply(void *ctx, mj_conn *c, mj_sasl_reply *out)
{
    (void)ctx;
    const char *line = NULL;
    size_t len = 0;
    mj_reader *r = mj_conn_reader(c);
    mj_reader_reply_begin(r);
    mj_outcome o = mj_reader_line(r, &line, &len, mj_conn_error(c));
    if (o != MJ_OK)
        return o;
    if (len >= 4 && memcmp(line, "334 ", 4) == 0) {
        out->kind = MJ_SASL_REPLY_CHALLENGE;
        out->text = line + 4;
        out->len = len - 4;
    } else if (len >= 3 && memcmp(line, "235", 3) == 0) {
        out->kind = MJ_SASL_REPLY_SUCCESS;
    } else {
        out->kind = MJ_SASL_REPLY_FAILURE;
        out->text = len > 4 ? line + 4 : "";
        out->len = len > 4 ? len - 4 : 0;
        out->failure = line[0] == '4' ? MJ_SERVER_BUSY : MJ_AUTH_FAILED;
    }
    return MJ_OK;
}

static const mj_sasl_proto proto_ir = {"test", t_begin, t_read_reply, 400, "="};
static const mj_sasl_proto proto_no_ir = {"test", t_begin, t_read_reply, 0, "="};

typedef struct fixture {
    mj_conn *c;
    mj_transport *t;
    char *logbuf;
    size_t loglen;
    FILE *logfp;
    mj_log *log;
    mj_sasl *s;
} fixture;

static void setup(fixture *f, const char *server)
{
    memset(f, 0, sizeof *f);
    mj_error err;
    mj_mem_script script = {.input = server, .input_len = strlen(server)};
    f->logfp = open_memstream(&f->logbuf, &f->loglen);
    assert_non_null(f->logfp);
    f->log = mj_log_new(f->logfp);
    assert_non_null(f->log);
    mj_conn_config cfg;
    mj_conn_config_init(&cfg, MJ_PROTO_SMTP);
    cfg.log = f->log;
    assert_int_equal(mj_mem_transport_new(&script, &cfg.timeouts, &f->t, &err), MJ_OK);
    assert_int_equal(mj_conn_wrap(f->t, &cfg, &f->c, &err), MJ_OK);
}

static void new_mech(fixture *f, mj_sasl_mech mech, const mj_sasl_creds *creds)
{
    mj_error err;
    assert_int_equal(mj_sasl_new(mech, creds, NULL, &f->s, &err), MJ_OK);
}

/* What the client wrote, as a NUL-terminated copy. */
static char *wire(fixture *f)
{
    size_t n = 0;
    const unsigned char *w = mj_mem_transport_written(f->t, &n);
    char *copy = malloc(n + 1);
    assert_non_null(copy);
    memcpy(copy, w, n);
    copy[n] = '\0';
    return copy;
}

static void teardown(fixture *f)
{
    mj_sasl_free(f->s);
    mj_conn_close(f->c);
    mj_log_free(f->log);
    fclose(f->logfp);
    free(f->logbuf);
}

static const mj_sasl_creds alice = {.username = "alice", .password = "s3cret-pw"};

static void assert_log_clean(fixture *f)
{
    fflush(f->logfp);
    assert_null(strstr(f->logbuf, "s3cret-pw"));
    assert_null(strstr(f->logbuf, "AGFsaWNlAHMzY3JldC1wdw==")); /* PLAIN of alice */
    assert_null(strstr(f->logbuf, "czNjcmV0LXB3"));             /* base64 of the password */
}

static void test_plain_initial_response(void **state)
{
    (void)state;
    fixture f;
    setup(&f, "235 2.7.0 ok\r\n");
    new_mech(&f, MJ_SASL_PLAIN, &alice);
    assert_int_equal(mj_sasl_run(f.c, &proto_ir, NULL, f.s), MJ_OK);
    char *w = wire(&f);
    assert_string_equal(w, "AUTH PLAIN AGFsaWNlAHMzY3JldC1wdw==\r\n");
    free(w);
    fflush(f.logfp);
    assert_non_null(strstr(f.logbuf, "C: AUTH PLAIN ********\r\n"));
    assert_log_clean(&f);
    teardown(&f);
}

static void test_plain_without_initial_response(void **state)
{
    (void)state;
    fixture f;
    setup(&f, "334 \r\n235 ok\r\n");
    new_mech(&f, MJ_SASL_PLAIN, &alice);
    assert_int_equal(mj_sasl_run(f.c, &proto_no_ir, NULL, f.s), MJ_OK);
    char *w = wire(&f);
    assert_string_equal(w, "AUTH PLAIN\r\nAGFsaWNlAHMzY3JldC1wdw==\r\n");
    free(w);
    fflush(f.logfp);
    assert_non_null(strstr(f.logbuf, "C: ********\r\n"));
    assert_log_clean(&f);
    teardown(&f);
}

static void test_login_two_challenges(void **state)
{
    (void)state;
    fixture f;
    setup(&f, "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 ok\r\n");
    new_mech(&f, MJ_SASL_LOGIN, &alice);
    assert_int_equal(mj_sasl_run(f.c, &proto_ir, NULL, f.s), MJ_OK);
    char *w = wire(&f);
    /* LOGIN has no initial response: the user name answers the first prompt. */
    assert_string_equal(w, "AUTH LOGIN\r\nYWxpY2U=\r\nczNjcmV0LXB3\r\n");
    free(w);
    fflush(f.logfp);
    assert_null(strstr(f.logbuf, "YWxpY2U=")); /* LOGIN's user name is secret too */
    assert_log_clean(&f);
    teardown(&f);
}

static void test_server_rejects(void **state)
{
    (void)state;
    fixture f;
    setup(&f, "535 5.7.8 Authentication credentials invalid\x01\r\n");
    new_mech(&f, MJ_SASL_PLAIN, &alice);
    assert_int_equal(mj_sasl_run(f.c, &proto_ir, NULL, f.s), MJ_AUTH_FAILED);
    const mj_error *e = mj_conn_error(f.c);
    assert_int_equal(e->outcome, MJ_AUTH_FAILED);
    assert_string_equal(e->message, "the server refused PLAIN authentication: 5.7.8 Authentication "
                                    "credentials invalid\\x01");
    assert_null(strstr(e->message, "s3cret"));
    teardown(&f);
}

static void test_temporary_failure_is_busy(void **state)
{
    (void)state;
    fixture f;
    setup(&f, "454 4.7.0 Temporary authentication failure\r\n");
    new_mech(&f, MJ_SASL_PLAIN, &alice);
    assert_int_equal(mj_sasl_run(f.c, &proto_ir, NULL, f.s), MJ_SERVER_BUSY);
    teardown(&f);
}

static void test_undecodable_challenge_cancels(void **state)
{
    (void)state;
    fixture f;
    setup(&f, "334 !!!\r\n501 5.7.0 cancelled\r\n");
    new_mech(&f, MJ_SASL_LOGIN, &alice);
    mj_outcome o = mj_sasl_run(f.c, &proto_ir, NULL, f.s);
    assert_int_equal(o, MJ_PROTOCOL_ERROR);
    assert_int_equal(mj_conn_error(f.c)->reason, MJ_R_MALFORMED);
    char *w = wire(&f);
    assert_string_equal(w, "AUTH LOGIN\r\n*\r\n");
    free(w);
    teardown(&f);
}

static void test_scram_early_success_is_protocol_error(void **state)
{
    (void)state;
    fixture f;
    /* "235" right after client-first: the server never proved it knows the password. */
    setup(&f, "235 ok\r\n");
    mj_sasl_creds creds = alice;
    creds.test_nonce = "fyko+d2lbbFgONRv9qkxdawL";
    new_mech(&f, MJ_SASL_SCRAM_SHA_256, &creds);
    assert_int_equal(mj_sasl_run(f.c, &proto_ir, NULL, f.s), MJ_PROTOCOL_ERROR);
    teardown(&f);
}

static void test_xoauth2_error_json(void **state)
{
    (void)state;
    fixture f;
    /* base64 of {"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"} */
    setup(&f, "334 eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29v"
              "Z2xlLmNvbS8ifQ==\r\n535 5.7.8 Username and Password not accepted\r\n");
    mj_sasl_creds creds = {.username = "alice@example.com", .token = "ya29.tok"};
    new_mech(&f, MJ_SASL_XOAUTH2, &creds);
    assert_int_equal(mj_sasl_run(f.c, &proto_ir, NULL, f.s), MJ_AUTH_FAILED);
    char *w = wire(&f);
    /* The error challenge is answered with an empty line, not "*". */
    const char *tail = strstr(w, "\r\n");
    assert_non_null(tail);
    assert_string_equal(tail, "\r\n\r\n");
    free(w);
    assert_non_null(strstr(mj_conn_error(f.c)->message, "401"));
    fflush(f.logfp);
    assert_null(strstr(f.logbuf, "ya29.tok"));
    teardown(&f);
}

static void test_eof_during_exchange(void **state)
{
    (void)state;
    fixture f;
    setup(&f, "334 VXNlcm5hbWU6\r\n");
    new_mech(&f, MJ_SASL_LOGIN, &alice);
    assert_int_equal(mj_sasl_run(f.c, &proto_ir, NULL, f.s), MJ_CONNECTION_LOST);
    assert_int_equal(mj_conn_error(f.c)->reason, MJ_R_EOF);
    teardown(&f);
}

static void test_starttls_decide(void **state)
{
    (void)state;
    assert_int_equal(mj_starttls_decide(MJ_SEC_NONE, true), MJ_STARTTLS_SKIP);
    assert_int_equal(mj_starttls_decide(MJ_SEC_IMPLICIT, true), MJ_STARTTLS_SKIP);
    assert_int_equal(mj_starttls_decide(MJ_SEC_STARTTLS, true), MJ_STARTTLS_DO);
    assert_int_equal(mj_starttls_decide(MJ_SEC_STARTTLS, false), MJ_STARTTLS_REFUSE);
    assert_int_equal(mj_starttls_decide(MJ_SEC_STARTTLS_IF_AVAILABLE, true), MJ_STARTTLS_DO);
    assert_int_equal(mj_starttls_decide(MJ_SEC_STARTTLS_IF_AVAILABLE, false), MJ_STARTTLS_SKIP);
    assert_int_equal(mj_starttls_decide(MJ_SEC_AUTO, true), MJ_STARTTLS_REFUSE);
}

static void test_channel_binding_needs_tls(void **state)
{
    (void)state;
    fixture f;
    setup(&f, "");
    mj_channel_binding type = MJ_CB_TLS_EXPORTER;
    unsigned char buf[MJ_CB_DATA_MAX];
    size_t n = 99;
    assert_int_equal(mj_conn_channel_binding(f.c, &type, buf, &n), MJ_USAGE);
    assert_int_equal(type, MJ_CB_NONE);
    assert_int_equal(n, 0);
    /* Plaintext: no channel binding, and no error. */
    mj_sasl_channel chan;
    assert_false(mj_sasl_channel_for(f.c, MJ_SASL_BIT(MJ_SASL_SCRAM_SHA_256_PLUS), buf, &chan));
    assert_int_equal(chan.type, MJ_SASL_CB_NONE);
    assert_int_equal(chan.server_offers_plus, 1);
    assert_null(chan.data);
    teardown(&f);
}

/*
 * SECURITY-CASES #67 / MailKit's rule: for every mechanism, the log keeps the
 * verb and the mechanism and shows "********" for the initial response and
 * for every response line; no credential appears in any form.
 */
static void test_every_mechanism_redacted(void **state)
{
    (void)state;
    static const char scram_first[] =
        "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096";
    char scram_b64[256];
    size_t b64_len = 0;
    mj_error err;
    assert_int_equal(mj_b64_encode(scram_first, sizeof scram_first - 1, scram_b64,
                                   sizeof scram_b64, &b64_len, &err),
                     MJ_OK);
    char scram_server[320];
    snprintf(scram_server, sizeof scram_server, "334 %s\r\n535 5.7.8 no\r\n", scram_b64);
    const struct {
        mj_sasl_mech mech;
        const char *server;
    } rows[] = {
        {MJ_SASL_PLAIN, "535 5.7.8 no\r\n"},
        {MJ_SASL_LOGIN, "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n535 5.7.8 no\r\n"},
        {MJ_SASL_CRAM_MD5,
         "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n535 5.7.8 no\r\n"},
        {MJ_SASL_SCRAM_SHA_1, scram_server},
        {MJ_SASL_SCRAM_SHA_256, scram_server},
        {MJ_SASL_SCRAM_SHA_512, scram_server},
        {MJ_SASL_XOAUTH2, "535 5.7.8 no\r\n"},
        {MJ_SASL_OAUTHBEARER, "535 5.7.8 no\r\n"},
    };
    mj_sasl_creds creds = {.username = "alice-user", .password = "s3cret-pw",
                           .token = "ya29.tok-en", .host = "mail.mailjig.test", .port = 587,
                           .test_nonce = "fyko+d2lbbFgONRv9qkxdawL"};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        fixture f;
        setup(&f, rows[i].server);
        new_mech(&f, rows[i].mech, &creds);
        const char *name = mj_sasl_mech_name(rows[i].mech);
        assert_int_equal(mj_sasl_run(f.c, &proto_ir, NULL, f.s), MJ_AUTH_FAILED);
        fflush(f.logfp);
        char first[64];
        snprintf(first, sizeof first, "C: AUTH %s", name);
        unsigned client_lines = 0;
        for (char *line = strtok(f.logbuf, "\n"); line != NULL; line = strtok(NULL, "\n")) {
            size_t n = strlen(line);
            if (n > 0 && line[n - 1] == '\r')
                line[--n] = '\0';
            if (strncmp(line, "C: ", 3) != 0)
                continue;
            if (client_lines++ == 0) {
                /* The command: verb and mechanism, then at most the mask. */
                assert_memory_equal(line, first, strlen(first));
                const char *rest = line + strlen(first);
                if (*rest != '\0' && strcmp(rest, " ********") != 0)
                    fail_msg("%s: initial response not masked: %s", name, line);
            } else if (strcmp(line, "C: ********") != 0) {
                fail_msg("%s: response line not masked: %s", name, line);
            }
        }
        assert_true(client_lines >= 1);
        teardown(&f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_initial_response),
        cmocka_unit_test(test_plain_without_initial_response),
        cmocka_unit_test(test_login_two_challenges),
        cmocka_unit_test(test_server_rejects),
        cmocka_unit_test(test_temporary_failure_is_busy),
        cmocka_unit_test(test_undecodable_challenge_cancels),
        cmocka_unit_test(test_scram_early_success_is_protocol_error),
        cmocka_unit_test(test_xoauth2_error_json),
        cmocka_unit_test(test_eof_during_exchange),
        cmocka_unit_test(test_every_mechanism_redacted),
        cmocka_unit_test(test_starttls_decide),
        cmocka_unit_test(test_channel_binding_needs_tls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
