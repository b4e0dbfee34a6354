/*
 * test_hello.c: fk_client_hello_parse (core/tls.h) on real ClientHellos made
 * by OpenSSL in memory: fed one byte more at a time (NEED_MORE until the last
 * byte), split over two records, and refused when it is not a ClientHello.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>

#include "core/tls.h"

/* A ClientHello for mail.mailjig.test offering TLS 1.2 and 1.3; *len_out its size. */
static unsigned char *make_hello(size_t *len_out, int max_version)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, max_version);
    SSL *ssl = SSL_new(ctx);
    BIO *rd = BIO_new(BIO_s_mem()), *wr = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl, rd, wr);
    SSL_set_tlsext_host_name(ssl, "mail.mailjig.test");
    assert_int_equal(SSL_connect(ssl), -1); /* wants the ServerHello */
    char *p = NULL;
    long n = BIO_get_mem_data(wr, &p);
    assert_true(n > 50);
    unsigned char *copy = malloc((size_t)n);
    memcpy(copy, p, (size_t)n);
    *len_out = (size_t)n;
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    return copy;
}

static void test_byte_by_byte(void **state)
{
    (void)state;
    size_t len = 0;
    unsigned char *h = make_hello(&len, TLS1_3_VERSION);
    fk_client_hello out;
    for (size_t n = 0; n < len; n++) {
        unsigned char *exact = malloc(n ? n : 1); /* any over-read shows under ASan */
        memcpy(exact, h, n);
        assert_int_equal(fk_client_hello_parse(exact, n, &out), FK_PARSE_NEED_MORE);
        free(exact);
    }
    memset(&out, 0, sizeof out);
    assert_int_equal(fk_client_hello_parse(h, len, &out), FK_PARSE_OK);
    assert_true(out.seen);
    assert_string_equal(out.sni, "mail.mailjig.test");
    assert_int_equal(out.n_versions, 2);
    assert_int_equal(out.versions[0], 0x0304);
    assert_int_equal(out.versions[1], 0x0303);
    assert_false(out.compression);
    free(h);
}

/* TLS 1.2 only: no supported_versions, the legacy version stands. */
static void test_tls12_only(void **state)
{
    (void)state;
    size_t len = 0;
    unsigned char *h = make_hello(&len, TLS1_2_VERSION);
    fk_client_hello out;
    assert_int_equal(fk_client_hello_parse(h, len, &out), FK_PARSE_OK);
    assert_int_equal(out.n_versions, 1);
    assert_int_equal(out.versions[0], 0x0303);
    free(h);
}

/* The handshake message split over two records is joined. */
static void test_two_records(void **state)
{
    (void)state;
    size_t len = 0;
    unsigned char *h = make_hello(&len, TLS1_3_VERSION);
    size_t body = len - 5, first = 40;
    unsigned char *two = malloc(len + 5);
    memcpy(two, h, 5 + first);
    two[3] = (unsigned char)(first >> 8);
    two[4] = (unsigned char)first;
    memcpy(two + 5 + first, h, 5);
    two[5 + first + 3] = (unsigned char)((body - first) >> 8);
    two[5 + first + 4] = (unsigned char)(body - first);
    memcpy(two + 10 + first, h + 5 + first, body - first);
    fk_client_hello out;
    assert_int_equal(fk_client_hello_parse(two, len + 4, &out), FK_PARSE_NEED_MORE);
    assert_int_equal(fk_client_hello_parse(two, len + 5, &out), FK_PARSE_OK);
    assert_string_equal(out.sni, "mail.mailjig.test");
    free(two);
    free(h);
}

static void test_not_a_hello(void **state)
{
    (void)state;
    fk_client_hello out;
    static const unsigned char plain[] = "a001 CAPABILITY\r\n";
    static const unsigned char alert[] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28};
    static const unsigned char server_hello[] = {0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0, 0, 0};
    static const unsigned char empty_rec[] = {0x16, 0x03, 0x01, 0x00, 0x00};
    static const unsigned char short_body[] = {0x16, 0x03, 0x01, 0x00, 0x06, 0x01, 0, 0, 2, 3, 3};
    assert_int_equal(fk_client_hello_parse(plain, sizeof plain - 1, &out), FK_PARSE_ERROR);
    assert_int_equal(fk_client_hello_parse(alert, sizeof alert, &out), FK_PARSE_ERROR);
    assert_int_equal(fk_client_hello_parse(server_hello, sizeof server_hello, &out),
                     FK_PARSE_ERROR);
    assert_int_equal(fk_client_hello_parse(empty_rec, sizeof empty_rec, &out), FK_PARSE_ERROR);
    assert_int_equal(fk_client_hello_parse(short_body, sizeof short_body, &out), FK_PARSE_ERROR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_tls12_only),
        cmocka_unit_test(test_two_records),
        cmocka_unit_test(test_not_a_hello),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
