/*
 * test_core_tls.c: mjfake's TLS over real sockets on 127.0.0.1: implicit
 * TLS, the ClientHello record (SNI, versions), STARTTLS with injected bytes,
 * the "nothing after STARTTLS" oracle, the failure modes (alert, plaintext),
 * close with and without close_notify, certificates and version limits,
 * the client certificate asked for (client_cert).
 * The client side is OpenSSL trusting the test CA (MJ_CERTS).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "core_support.h"

#define EXPECT1(pp) {.kind = FK_EXPECT_LINES, .patterns = (pp), .n_patterns = 1}
#define TEXT(s) {.kind = FK_SEND_TEXT, .text = B(s)}

static SSL_CTX *client_ctx(int max_version)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    char ca[512];
    snprintf(ca, sizeof ca, "%s/ca.crt", certs_dir());
    assert_int_equal(SSL_CTX_load_verify_locations(ctx, ca, NULL), 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION); /* what the ClientHello offers */
    if (max_version)
        SSL_CTX_set_max_proto_version(ctx, max_version);
    return ctx;
}

/* Handshake on fd as mail.mailjig.test; NULL on failure (*verify_out: the result). */
static SSL *tls_connect(SSL_CTX *ctx, int fd, long *verify_out)
{
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "mail.mailjig.test");
    SSL_set1_host(ssl, "mail.mailjig.test");
    int rc = SSL_connect(ssl);
    if (verify_out)
        *verify_out = SSL_get_verify_result(ssl);
    if (rc != 1) {
        SSL_free(ssl);
        ERR_clear_error();
        return NULL;
    }
    return ssl;
}

static size_t tls_recv_n(SSL *ssl, char *buf, size_t want)
{
    size_t n = 0;
    while (n < want) {
        int k = SSL_read(ssl, buf + n, (int)(want - n));
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    buf[n] = '\0';
    return n;
}

/* Implicit TLS; the ClientHello's SNI and versions land in the transcript. */
static void test_implicit_tls_and_client_hello(void **state)
{
    (void)state;
    fk_pattern noop = P("{tag} NOOP", 4, 13);
    fk_step steps[] = {
        {.pos = AT(3, 7), .send = TEXT("* OK tls")},
        {.pos = AT(4, 7), .expect = EXPECT1(&noop), .send = TEXT("{tag} OK"), .end = FK_END_CLOSE},
    };
    fk_script script;
    fk_scenario s = one_conn(&script, steps, N_OF(steps), FK_PROTO_IMAP);
    s.server.tls = FK_TLS_IMPLICIT;
    s.server.tls_max = TLS1_2_VERSION;
    run r;
    run_start(&r, &s, 3000, false);
    SSL_CTX *ctx = client_ctx(0);
    int fd = connect_to(r.port);
    SSL *ssl = tls_connect(ctx, fd, NULL);
    assert_non_null(ssl);
    assert_string_equal(SSL_get_version(ssl), "TLSv1.2"); /* tls_max holds */
    char buf[64];
    tls_recv_n(ssl, buf, 10);
    assert_string_equal(buf, "* OK tls\r\n");
    SSL_write(ssl, "n1 NOOP\r\n", 9);
    tls_recv_n(ssl, buf, 7);
    assert_string_equal(buf, "n1 OK\r\n");
    assert_int_equal(SSL_read(ssl, buf, sizeof buf), 0);
    assert_int_equal(SSL_get_error(ssl, 0), SSL_ERROR_ZERO_RETURN); /* close_notify came */
    SSL_free(ssl);
    close(fd);
    SSL_CTX_free(ctx);
    assert_int_equal(run_finish(&r), 0);
    char *t = slurp(r.transcript);
    assert_non_null(strstr(t, "\"event\":\"client-hello\",\"sni\":\"mail.mailjig.test\","
                              "\"versions\":[\"TLSv1.3\",\"TLSv1.2\"],\"compression\":false}"));
    assert_non_null(strstr(t, "\"tls\":false,\"step\":null,\"event\":\"client-hello\""));
    assert_non_null(strstr(t, "\"data\":\"TLSv1.2 "));
    assert_non_null(strstr(t, "\"data\":\"* OK tls\\\\r\\\\n\",\"tls\":true,"));
    free(t);
    run_cleanup(&r);
}

static fk_pattern starttls_pat = P("{tag} STARTTLS", 4, 13);
static fk_pattern noop_pat = P("{tag} NOOP", 7, 13);

/* STARTTLS with injection: OK + injected bytes in one write, then TLS. */
static void test_starttls_inject(void **state)
{
    (void)state;
    fk_step steps[] = {
        {.pos = AT(3, 7), .send = TEXT("* OK")},
        {.pos = AT(4, 7), .expect = EXPECT1(&starttls_pat), .send = TEXT("{tag} OK begin"),
         .starttls = {.kind = FK_STARTTLS_HANDSHAKE, .inject = B("* BAD injected\r\n")}},
        {.pos = AT(7, 7), .expect = EXPECT1(&noop_pat), .send = TEXT("{tag} OK tls")},
        {.pos = AT(8, 7), .expect = {.kind = FK_EXPECT_EOF}},
    };
    fk_script script;
    fk_scenario s = one_conn(&script, steps, N_OF(steps), FK_PROTO_IMAP);
    run r;
    run_start(&r, &s, 3000, false);
    int fd = connect_to(r.port);
    char buf[128];
    recv_n(fd, buf, 6);
    send_str(fd, "s1 STARTTLS\r\n");
    usleep(100000); /* both parts are in flight by now; one recv takes them */
    ssize_t k = recv(fd, buf, sizeof buf - 1, 0);
    assert_true(k > 0);
    buf[k] = '\0';
    assert_string_equal(buf, "s1 OK begin\r\n* BAD injected\r\n");
    SSL_CTX *ctx = client_ctx(0);
    SSL *ssl = tls_connect(ctx, fd, NULL);
    assert_non_null(ssl);
    SSL_write(ssl, "s2 NOOP\r\n", 9);
    tls_recv_n(ssl, buf, 11);
    assert_string_equal(buf, "s2 OK tls\r\n");
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
    SSL_CTX_free(ctx);
    assert_int_equal(run_finish(&r), 0);
    char *t = slurp(r.transcript);
    assert_non_null(strstr(t, "\"data\":\"s1 OK begin\\\\r\\\\n* BAD injected\\\\r\\\\n\","
                              "\"tls\":false,\"step\":\"t.yaml:4:7\"}"));
    assert_non_null(strstr(t, "\"event\":\"tls-handshake\""));
    assert_non_null(strstr(t, "\"data\":\"s2 NOOP\\\\r\\\\n\",\"tls\":true"));
    free(t);
    run_cleanup(&r);
}

/* The oracle: plaintext pipelined after STARTTLS fails the step. */
static void test_starttls_oracle(void **state)
{
    (void)state;
    fk_step steps[] = {
        {.pos = AT(3, 7), .send = TEXT("* OK")},
        {.pos = AT(4, 7), .expect = EXPECT1(&starttls_pat), .sleep_ms = 100,
         .send = TEXT("{tag} OK begin"), .starttls = {.kind = FK_STARTTLS_HANDSHAKE}},
        {.pos = AT(7, 7), .expect = EXPECT1(&noop_pat)},
    };
    fk_script script;
    fk_scenario s = one_conn(&script, steps, N_OF(steps), FK_PROTO_IMAP);
    run r;
    run_start(&r, &s, 3000, false);
    int fd = connect_to(r.port);
    char buf[128];
    int err;
    recv_n(fd, buf, 6);
    send_str(fd, "s1 STARTTLS\r\ns2 LOGIN a b\r\n");
    recv_all(fd, buf, sizeof buf, &err);
    assert_string_equal(buf, "s1 OK begin\r\n"); /* then the close, no error line */
    close(fd);
    assert_int_equal(run_finish(&r), 1);
    char *d = slurp(r.diag);
    assert_string_equal(d, "t.yaml:4:7: client sent 14 plaintext byte(s) after STARTTLS "
                           "before the TLS handshake\n");
    free(d);
    char *t = slurp(r.transcript);
    assert_non_null(strstr(t, "\"event\":\"oracle\""));
    free(t);
    run_cleanup(&r);
}

/* Failure modes: a fatal alert (exact bytes) or plaintext instead of ServerHello. */
static void test_starttls_failure_modes(void **state)
{
    (void)state;
    fk_step steps[] = {
        {.pos = AT(3, 7), .expect = EXPECT1(&starttls_pat), .send = TEXT("{tag} OK"),
         .starttls = {.kind = FK_STARTTLS_ALERT}},
        {.pos = AT(5, 7), .expect = {.kind = FK_EXPECT_EOF}},
    };
    fk_script script;
    fk_scenario s = one_conn(&script, steps, N_OF(steps), FK_PROTO_IMAP);
    const char hello[] = "\x16\x03\x01\x00\x05hello"; /* stands in for a ClientHello */
    for (int mode = 0; mode < 2; mode++) {
        if (mode == 1)
            steps[0].starttls = (fk_starttls){.kind = FK_STARTTLS_PLAINTEXT,
                                              .plaintext = B("* BYE not TLS\r\n")};
        run r;
        run_start(&r, &s, 3000, false);
        int fd = connect_to(r.port);
        char buf[64];
        send_str(fd, "s1 STARTTLS\r\n");
        recv_n(fd, buf, 7);
        assert_string_equal(buf, "s1 OK\r\n");
        assert_int_equal(send(fd, hello, sizeof hello - 1, 0), (ssize_t)(sizeof hello - 1));
        if (mode == 0) {
            assert_int_equal(recv_n(fd, buf, 7), 7);
            assert_memory_equal(buf, "\x15\x03\x03\x00\x02\x02\x28", 7);
        } else {
            recv_n(fd, buf, 15);
            assert_string_equal(buf, "* BYE not TLS\r\n");
        }
        close(fd);
        assert_int_equal(run_finish(&r), 0);
        char *t = slurp(r.transcript);
        assert_non_null(strstr(t, mode == 0 ? "answered the ClientHello with a fatal alert"
                                            : "answered the ClientHello with plaintext"));
        free(t);
        run_cleanup(&r);
    }
}

/*
 * An expired certificate: the client refuses; the server records tls-failed,
 * and the greeting that never went out is "not reached" (exit 1).  A script
 * that expects the abort (only `expect: eof`) exits 0.
 */
static void test_expired_certificate(void **state)
{
    (void)state;
    fk_step greet[] = {{.pos = AT(3, 7), .send = TEXT("* OK")}};
    fk_step eof_only[] = {{.pos = AT(3, 7), .expect = {.kind = FK_EXPECT_EOF}}};
    for (int mode = 0; mode < 2; mode++) {
        fk_script script;
        fk_scenario s = mode == 0 ? one_conn(&script, greet, N_OF(greet), FK_PROTO_IMAP)
                                  : one_conn(&script, eof_only, N_OF(eof_only), FK_PROTO_IMAP);
        s.server.tls = FK_TLS_IMPLICIT;
        s.server.certificate = "expired";
        run r;
        run_start(&r, &s, 3000, false);
        SSL_CTX *ctx = client_ctx(0);
        int fd = connect_to(r.port);
        long verify = 0;
        assert_null(tls_connect(ctx, fd, &verify));
        assert_int_equal(verify, X509_V_ERR_CERT_HAS_EXPIRED);
        close(fd);
        SSL_CTX_free(ctx);
        assert_int_equal(run_finish(&r), mode == 0 ? 1 : 0);
        char *t = slurp(r.transcript), *d = slurp(r.diag);
        assert_non_null(strstr(t, "\"event\":\"tls-failed\""));
        if (mode == 0)
            assert_string_equal(d, "t.yaml:3:7: not reached: the TLS handshake failed "
                                   "(error:0A000415:SSL routines::sslv3 alert certificate expired)\n");
        else
            assert_string_equal(d, "");
        free(t);
        free(d);
        run_cleanup(&r);
    }
}

/* FIN without close_notify: the client sees an unexpected EOF. */
static void test_close_without_notify(void **state)
{
    (void)state;
    fk_step steps[] = {{.pos = AT(3, 7), .send = TEXT("* OK"), .end = FK_END_CLOSE_NO_NOTIFY}};
    fk_script script;
    fk_scenario s = one_conn(&script, steps, N_OF(steps), FK_PROTO_IMAP);
    s.server.tls = FK_TLS_IMPLICIT;
    run r;
    run_start(&r, &s, 3000, false);
    SSL_CTX *ctx = client_ctx(0);
    int fd = connect_to(r.port);
    SSL *ssl = tls_connect(ctx, fd, NULL);
    assert_non_null(ssl);
    char buf[16];
    tls_recv_n(ssl, buf, 6);
    assert_string_equal(buf, "* OK\r\n");
    int k = SSL_read(ssl, buf, sizeof buf);
    assert_true(k <= 0);
    assert_int_not_equal(SSL_get_error(ssl, k), SSL_ERROR_ZERO_RETURN);
    SSL_free(ssl);
    close(fd);
    SSL_CTX_free(ctx);
    assert_int_equal(run_finish(&r), 0);
    run_cleanup(&r);
}

/* A certificate that does not exist: exit 2, one line naming the file. */
/* One connection with client_cert `mode`; the client presents CERTS/client.crt when with_cert.
 * Returns the transcript (the caller frees it); *hs: whether the handshake completed. */
static char *client_cert_run(fk_client_cert mode, bool with_cert, bool *hs)
{
    fk_step steps[] = {{.pos = AT(3, 7), .send = TEXT("* OK"), .end = FK_END_CLOSE}};
    fk_script script;
    fk_scenario s = one_conn(&script, steps, N_OF(steps), FK_PROTO_IMAP);
    s.server.tls = FK_TLS_IMPLICIT;
    s.server.client_cert = mode;
    run r;
    run_start(&r, &s, 3000, false);
    SSL_CTX *ctx = client_ctx(0);
    char crt[512], key[512];
    snprintf(crt, sizeof crt, "%s/client.crt", certs_dir());
    snprintf(key, sizeof key, "%s/client.key", certs_dir());
    if (with_cert) {
        assert_int_equal(SSL_CTX_use_certificate_chain_file(ctx, crt), 1);
        assert_int_equal(SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM), 1);
    }
    int fd = connect_to(r.port);
    SSL *ssl = tls_connect(ctx, fd, NULL);
    char buf[16] = "";
    /* TLS 1.3: the server judges the client's Certificate after the client's
     * handshake is done; the verdict (greeting or alert) comes with the first read. */
    *hs = ssl != NULL && tls_recv_n(ssl, buf, 6) == 6 && strcmp(buf, "* OK\r\n") == 0;
    SSL_free(ssl);
    close(fd);
    SSL_CTX_free(ctx);
    int rc = run_finish(&r);
    assert_int_equal(rc, *hs ? 0 : 1); /* a failed handshake leaves the send not reached */
    char *t = slurp(r.transcript);
    run_cleanup(&r);
    return t;
}

/* client_cert: the CN of a verified certificate in the tls-handshake event; require without one fails. */
static void test_client_cert(void **state)
{
    (void)state;
    bool hs = false;
    char *t = client_cert_run(FK_CLIENT_CERT_REQUEST, true, &hs);
    assert_true(hs);
    assert_non_null(strstr(t, "\"event\":\"tls-handshake\",\"client_cert\":\"alice\"}"));
    free(t);
    t = client_cert_run(FK_CLIENT_CERT_REQUEST, false, &hs);
    assert_true(hs); /* request: none is fine */
    assert_non_null(strstr(t, "\"event\":\"tls-handshake\",\"client_cert\":null}"));
    free(t);
    t = client_cert_run(FK_CLIENT_CERT_REQUIRE, false, &hs);
    assert_false(hs);
    assert_non_null(strstr(t, "\"data\":\"error:0A0000C7:SSL routines::peer did not return a "
                              "certificate\",\"tls\":false,\"step\":null,\"event\":\"tls-failed\"}"));
    assert_null(strstr(t, "tls-handshake"));
    free(t);
    t = client_cert_run(FK_CLIENT_CERT_NONE, true, &hs);
    assert_true(hs);
    assert_null(strstr(t, "client_cert")); /* never asked: the event has no key */
    free(t);
}

static void test_missing_certificate(void **state)
{
    (void)state;
    fk_step steps[] = {{.pos = AT(3, 7), .send = TEXT("* OK")}};
    fk_script script;
    fk_scenario s = one_conn(&script, steps, N_OF(steps), FK_PROTO_IMAP);
    s.server.tls = FK_TLS_IMPLICIT;
    s.server.certificate = "no-such-cert";
    run r;
    run_start(&r, &s, 3000, false);
    assert_int_equal(r.port, 0); /* never READY */
    assert_int_equal(run_finish(&r), 2);
    char *d = slurp(r.diag);
    char want[600];
    snprintf(want, sizeof want, "t.yaml: %s/no-such-cert.crt: cannot load certificate", certs_dir());
    assert_memory_equal(d, want, strlen(want));
    assert_non_null(strchr(d, '\n'));
    assert_null(strchr(d, '\n') + 1 == d + strlen(d) ? NULL : "more than one line");
    free(d);
    run_cleanup(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_implicit_tls_and_client_hello),
        cmocka_unit_test(test_starttls_inject),
        cmocka_unit_test(test_starttls_oracle),
        cmocka_unit_test(test_starttls_failure_modes),
        cmocka_unit_test(test_expired_certificate),
        cmocka_unit_test(test_close_without_notify),
        cmocka_unit_test(test_missing_certificate),
        cmocka_unit_test(test_client_cert),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
