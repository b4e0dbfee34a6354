/*
 * test_sasl.c: the client SASL mechanisms (mailjig/sasl.h), in memory only.
 *
 * Published vectors: RFC 4616 (PLAIN), RFC 2195 (CRAM-MD5), RFC 5802
 * (SCRAM-SHA-1), RFC 7677 (SCRAM-SHA-256), RFC 7628 (OAUTHBEARER), Google's
 * XOAUTH2 example.  SCRAM-SHA-512(-PLUS) runs against a server computed here
 * with OpenSSL primitives, independent of the client code.  Also: SCRAM
 * abuse (SECURITY-CASES #63), malformed challenges (#61), early success
 * (#65), SASLprep (RFC 4013 §3 examples and the documented subset), the
 * choice of mechanism and the credential policy (#55-#60).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "mailjig/sasl.h"

/* Largest decoded message a test handles. */
#define T_MSG_MAX 4096

static mj_error err;

/* ---- helpers ------------------------------------------------------------ */

static mj_sasl *new_mech(mj_sasl_mech mech, const mj_sasl_creds *creds, const mj_sasl_channel *chan)
{
    mj_sasl *s = NULL;
    mj_error_clear(&err);
    assert_int_equal(mj_sasl_new(mech, creds, chan, &s, &err), MJ_OK);
    assert_non_null(s);
    return s;
}

/* Decode base64 text (asserting it is valid) into a static NUL-ended buffer. */
static const char *unb64(const char *text, size_t len, size_t *n_out)
{
    static unsigned char buf[T_MSG_MAX + 4];
    size_t n = 0;
    assert_int_equal(mj_b64_decode(text, len, buf, sizeof buf - 1, &n, NULL), MJ_OK);
    buf[n] = '\0';
    if (n_out != NULL)
        *n_out = n;
    return (const char *)buf;
}

/* base64 of raw[0..len) into a static buffer. */
static const char *b64(const void *raw, size_t len)
{
    static char buf[MJ_B64_ENCODED_LEN(T_MSG_MAX) + 1];
    size_t n = 0;
    assert_int_equal(mj_b64_encode(raw, len, buf, sizeof buf, &n, NULL), MJ_OK);
    return buf;
}

/* Feed a raw challenge; return the decoded response (asserting MJ_OK). */
static const char *step_ok(mj_sasl *s, const char *raw_challenge, size_t *n_out)
{
    const char *text = b64(raw_challenge, strlen(raw_challenge));
    const char *resp = NULL;
    size_t len = 99;
    mj_error_clear(&err);
    assert_int_equal(mj_sasl_step(s, text, strlen(text), &resp, &len, &err), MJ_OK);
    assert_non_null(resp);
    assert_int_equal(strlen(resp), len);
    return unb64(resp, len, n_out);
}

/* Feed a raw challenge that must fail with (outcome, reason). */
static void step_fails(mj_sasl *s, const char *raw_challenge, mj_outcome o, mj_reason r,
                       const char **resp_out)
{
    const char *text = b64(raw_challenge, strlen(raw_challenge));
    size_t len = 0;
    mj_error_clear(&err);
    assert_int_equal(mj_sasl_step(s, text, strlen(text), resp_out, &len, &err), o);
    assert_int_equal(err.outcome, o);
    assert_int_equal(err.reason, r);
}

/* The initial response, decoded (asserting there is one). */
static const char *initial_ok(mj_sasl *s, size_t *n_out)
{
    const char *resp = NULL;
    size_t len = 0;
    assert_int_equal(mj_sasl_initial(s, SIZE_MAX, &resp, &len, &err), MJ_OK);
    assert_non_null(resp);
    return unb64(resp, len, n_out);
}

static void assert_mem(const char *got, size_t got_len, const char *want, size_t want_len)
{
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
}

/* ---- base64 ------------------------------------------------------------------ */

static void test_b64_vectors(void **state)
{
    (void)state;
    /* RFC 4648 §10 */
    static const char *const vec[][2] = {{"", ""},
                                         {"f", "Zg=="},
                                         {"fo", "Zm8="},
                                         {"foo", "Zm9v"},
                                         {"foob", "Zm9vYg=="},
                                         {"fooba", "Zm9vYmE="},
                                         {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        size_t n = 0;
        assert_string_equal(b64(vec[i][0], strlen(vec[i][0])), vec[i][1]);
        const char *raw = unb64(vec[i][1], strlen(vec[i][1]), &n);
        assert_mem(raw, n, vec[i][0], strlen(vec[i][0]));
    }
}

static void test_b64_strict(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "Zg=",  "Zg",         " Zg==",    "Zg==\r\n", "Z===", "Zg=a", "=Zg=", "Zm9v!",
        "Zm 9", "Zm9v\nZg==", "Zg==Zg==", "Zm-_",     "Zh==", "Zm9=", "Zg=A"};
    unsigned char out[64];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = 77;
        mj_error_clear(&err);
        assert_int_equal(mj_b64_decode(bad[i], strlen(bad[i]), out, sizeof out, &n, &err),
                         MJ_PROTOCOL_ERROR);
        assert_int_equal(err.reason, MJ_R_MALFORMED);
        assert_int_equal(n, 0);
    }
    /* Output too small is the caller's bug, not the peer's. */
    size_t n = 0;
    assert_int_equal(mj_b64_decode("Zm9vYmFy", 8, out, 5, &n, &err), MJ_INTERNAL);
    char small[9];
    assert_int_equal(mj_b64_encode("foobar", 6, small, 8, &n, &err), MJ_INTERNAL);
    assert_int_equal(mj_b64_encode("foobar", 6, small, sizeof small, &n, &err), MJ_OK);
    assert_string_equal(small, "Zm9vYmFy");
}

/* ---- PLAIN, LOGIN, CRAM-MD5, ANONYMOUS, EXTERNAL ------------------------- */

static void test_plain_rfc4616(void **state)
{
    (void)state;
    mj_sasl_creds c = {.username = "tim", .password = "tanstaaftanstaaf"};
    mj_sasl *s = new_mech(MJ_SASL_PLAIN, &c, NULL);
    const char *resp = NULL;
    size_t len = 0, n = 0;
    assert_int_equal(mj_sasl_initial(s, SIZE_MAX, &resp, &len, &err), MJ_OK);
    assert_string_equal(resp, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
    assert_int_equal(mj_sasl_finish(s, NULL, 0, &err), MJ_OK);
    mj_sasl_free(s);

    mj_sasl_creds c2 = {.username = "Kurt", .password = "xipj3plmq", .authzid = "Ursel"};
    s = new_mech(MJ_SASL_PLAIN, &c2, NULL);
    const char *raw = initial_ok(s, &n);
    assert_mem(raw, n, "Ursel\0Kurt\0xipj3plmq", 20);
    mj_sasl_free(s);
}

static void test_plain_deferred_and_early_success(void **state)
{
    (void)state;
    mj_sasl_creds c = {.username = "tim", .password = "tanstaaftanstaaf"};
    const char *resp = (const char *)1;
    size_t len = 5, n = 0;

    /* Does not fit on the command line: no initial response, then on "". */
    mj_sasl *s = new_mech(MJ_SASL_PLAIN, &c, NULL);
    assert_int_equal(mj_sasl_initial(s, 10, &resp, &len, &err), MJ_OK);
    assert_null(resp);
    assert_int_equal(len, 0);
    /* A success before the credentials went out (SECURITY-CASES #65). */
    assert_int_equal(mj_sasl_finish(s, NULL, 0, &err), MJ_PROTOCOL_ERROR);
    assert_int_equal(err.reason, MJ_R_MALFORMED);
    mj_sasl_free(s);

    s = new_mech(MJ_SASL_PLAIN, &c, NULL);
    assert_int_equal(mj_sasl_initial(s, 0, &resp, &len, &err), MJ_OK);
    assert_null(resp);
    const char *raw = step_ok(s, "", &n);
    assert_mem(raw, n, "\0tim\0tanstaaftanstaaf", 21);
    assert_int_equal(mj_sasl_finish(s, NULL, 0, &err), MJ_OK);
    mj_sasl_free(s);

    /* The first challenge must be empty when the initial response waits. */
    s = new_mech(MJ_SASL_PLAIN, &c, NULL);
    assert_int_equal(mj_sasl_initial(s, 0, &resp, &len, &err), MJ_OK);
    step_fails(s, "hello", MJ_PROTOCOL_ERROR, MJ_R_MALFORMED, &resp);
    assert_null(resp);
    mj_sasl_free(s);

    /* Additional data with success is not PLAIN's. */
    s = new_mech(MJ_SASL_PLAIN, &c, NULL);
    initial_ok(s, &n);
    assert_int_equal(mj_sasl_finish(s, "Zm9v", 4, &err), MJ_PROTOCOL_ERROR);
    assert_int_equal(err.reason, MJ_R_MALFORMED);
    mj_sasl_free(s);
}

static void test_login_by_order(void **state)
{
    (void)state;
    mj_sasl_creds c = {.username = "tim", .password = "tanstaaftanstaaf"};
    mj_sasl *s = new_mech(MJ_SASL_LOGIN, &c, NULL);
    const char *resp = (const char *)1;
    size_t len = 3, n = 0;
    assert_int_equal(mj_sasl_initial(s, SIZE_MAX, &resp, &len, &err), MJ_OK);
    assert_null(resp);
    /* The prompts are swapped on purpose: answers follow the order. */
    assert_string_equal(step_ok(s, "Password:", &n), "tim");
    assert_int_equal(mj_sasl_finish(s, NULL, 0, &err), MJ_PROTOCOL_ERROR);
    mj_sasl_free(s);

    s = new_mech(MJ_SASL_LOGIN, &c, NULL);
    assert_string_equal(step_ok(s, "Username:", &n), "tim");
    assert_string_equal(step_ok(s, "Password:", &n), "tanstaaftanstaaf");
    step_fails(s, "Again:", MJ_PROTOCOL_ERROR, MJ_R_MALFORMED, &resp);
    assert_null(resp);
    /* The failure sticks. */
    assert_int_equal(mj_sasl_finish(s, NULL, 0, &err), MJ_PROTOCOL_ERROR);
    mj_sasl_free(s);

    s = new_mech(MJ_SASL_LOGIN, &c, NULL);
    step_ok(s, "Username:", &n);
    step_ok(s, "Password:", &n);
    assert_int_equal(mj_sasl_finish(s, NULL, 0, &err), MJ_OK);
    mj_sasl_free(s);
}

static void test_cram_md5_rfc2195(void **state)
{
    (void)state;
    mj_sasl_creds c = {.username = "tim", .password = "tanstaaftanstaaf"};
    mj_sasl *s = new_mech(MJ_SASL_CRAM_MD5, &c, NULL);
    const char *resp = (const char *)1;
    size_t len = 0, n = 0;
    assert_int_equal(mj_sasl_initial(s, SIZE_MAX, &resp, &len, &err), MJ_OK);
    assert_null(resp);
    /* RFC 2195 gives the challenge's base64 too. */
    static const char chal[] = "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+";
    assert_string_equal(b64("<1896.697170952@postoffice.reston.mci.net>", 42), chal);
    assert_int_equal(mj_sasl_step(s, chal, strlen(chal), &resp, &len, &err), MJ_OK);
    assert_string_equal(resp, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw");
    assert_string_equal(unb64(resp, len, &n), "tim b913a602c7eda7a495b4e6e7334d3890");
    assert_int_equal(mj_sasl_finish(s, NULL, 0, &err), MJ_OK);
    mj_sasl_free(s);

    s = new_mech(MJ_SASL_CRAM_MD5, &c, NULL);
    step_fails(s, "", MJ_PROTOCOL_ERROR, MJ_R_MALFORMED, &resp);
    assert_null(resp);
    mj_sasl_free(s);
}

static void test_anonymous_external(void **state)
{
    (void)state;
    const char *resp = NULL;
    size_t len = 9;
    mj_sasl_creds c = {.trace = "sirhc"};
    mj_sasl *s = new_mech(MJ_SASL_ANONYMOUS, &c, NULL);
    assert_int_equal(mj_sasl_initial(s, SIZE_MAX, &resp, &len, &err), MJ_OK);
    assert_string_equal(resp, "c2lyaGM="); /* RFC 4505 §4 */
    assert_int_equal(mj_sasl_finish(s, NULL, 0, &err), MJ_OK);
    mj_sasl_free(s);

    /* No authzid: an empty initial response, present but empty. */
    s = new_mech(MJ_SASL_EXTERNAL, NULL, NULL);
    assert_int_equal(mj_sasl_initial(s, SIZE_MAX, &resp, &len, &err), MJ_OK);
    assert_non_null(resp);
    assert_int_equal(len, 0);
    assert_string_equal(resp, "");
    mj_sasl_free(s);

    mj_sasl_creds c2 = {.authzid = "fred"};
    s = new_mech(MJ_SASL_EXTERNAL, &c2, NULL);
    assert_int_equal(mj_sasl_initial(s, SIZE_MAX, &resp, &len, &err), MJ_OK);
    assert_string_equal(resp, "ZnJlZA==");
    mj_sasl_free(s);
}

static void test_new_refuses(void **state)
{
    (void)state;
    mj_sasl *s = (mj_sasl *)1;
    mj_sasl_creds c = {.username = "user", .password = "pencil"};
    static char longpw[MJ_SASL_CRED_MAX + 2];
    memset(longpw, 'x', sizeof longpw - 1);
    const struct {
        mj_sasl_mech mech;
        mj_sasl_creds creds;
    } rows[] = {
        {MJ_SASL_PLAIN, {.username = "user"}},
        {MJ_SASL_SCRAM_SHA_256, {.password = "pencil"}},
        {MJ_SASL_XOAUTH2, {.username = "user", .password = "pencil"}},
        {MJ_SASL_PLAIN, {.username = "user", .password = longpw}},
        {MJ_SASL_SCRAM_SHA_1,
         {.username = "user",
          .password = "pen\x07"
                      "cil"}},
        {MJ_SASL_SCRAM_SHA_1, {.username = "\xc2\xad", .password = "pencil"}},
        {MJ_SASL_NONE, {.username = "user", .password = "pencil"}},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        mj_error_clear(&err);
        if (mj_sasl_new(rows[i].mech, &rows[i].creds, NULL, &s, &err) != MJ_USAGE)
            fail_msg("row %zu accepted", i);
        if (err.reason != MJ_R_BAD_ARGUMENT)
            fail_msg("row %zu: reason %s (%s)", i, mj_reason_name(err.reason), err.message);
        assert_null(s);
        assert_null(strstr(err.message, "pencil")); /* never the secret */
        assert_null(strstr(err.message, "xxxx"));
    }
    /* -PLUS without channel-binding data is refused at creation. */
    mj_sasl_channel none = {MJ_SASL_CB_NONE, NULL, 0, 1};
    assert_int_equal(mj_sasl_new(MJ_SASL_SCRAM_SHA_256_PLUS, &c, NULL, &s, &err), MJ_USAGE);
    assert_int_equal(mj_sasl_new(MJ_SASL_SCRAM_SHA_256_PLUS, &c, &none, &s, &err), MJ_USAGE);
    assert_int_equal(err.reason, MJ_R_BAD_ARGUMENT);
    assert_non_null(strstr(err.message, "channel-binding"));
}

/* ---- SCRAM: published vectors ------------------------------------------- */

/* Run a full exchange with the RFC's messages; server-final via step (1) or
 * as additional data with success (0). */
static void scram_vector(mj_sasl_mech mech, const char *password, const char *cnonce,
                         const char *first, const char *server_first, const char *final,
                         const char *server_final, int final_as_challenge)
{
    mj_sasl_creds c = {.username = "user", .password = password, .test_nonce = cnonce};
    mj_sasl *s = new_mech(mech, &c, NULL);
    size_t n = 0;
    assert_string_equal(initial_ok(s, &n), first);
    assert_string_equal(step_ok(s, server_first, &n), final);
    if (final_as_challenge) {
        assert_int_equal(step_ok(s, server_final, &n)[0], '\0');
        assert_int_equal(n, 0);
        assert_int_equal(mj_sasl_finish(s, NULL, 0, &err), MJ_OK);
    } else {
        const char *text = b64(server_final, strlen(server_final));
        assert_int_equal(mj_sasl_finish(s, text, strlen(text), &err), MJ_OK);
    }
    mj_sasl_free(s);
}

static void test_scram_sha1_rfc5802(void **state)
{
    (void)state;
    for (int as_challenge = 0; as_challenge <= 1; as_challenge++) {
        scram_vector(MJ_SASL_SCRAM_SHA_1, "pencil", "fyko+d2lbbFgONRv9qkxdawL",
                     "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
                     "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
                     "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
                     "p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
                     "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=", as_challenge);
    }
    /* SASLprep is applied: a soft hyphen inside the password maps to nothing. */
    scram_vector(MJ_SASL_SCRAM_SHA_1,
                 "pen\xc2\xad"
                 "cil",
                 "fyko+d2lbbFgONRv9qkxdawL", "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
                 "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
                 "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
                 "p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
                 "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=", 1);
}

static void test_scram_sha256_rfc7677(void **state)
{
    (void)state;
    scram_vector(MJ_SASL_SCRAM_SHA_256, "pencil", "rOprNGfwEbeRWgbNEkqO",
                 "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
                 "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                 "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
                 "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                 "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
                 "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", 1);
}

/* ---- SCRAM: a test-side server (OpenSSL primitives, not the client code) --- */

struct tserver {
    const EVP_MD *md;
    const char *password;
    char first_bare[512];
    char server_first[512];
    unsigned char server_sig[EVP_MAX_MD_SIZE];
    size_t h;
};

/* Take the client-first; return the server-first (r=cnonce+SNONCE,...). */
static const char *tserver_first(struct tserver *t, const char *client_first,
                                 const char *gs2_expected)
{
    size_t gl = strlen(gs2_expected);
    assert_memory_equal(client_first, gs2_expected, gl);
    snprintf(t->first_bare, sizeof t->first_bare, "%s", client_first + gl);
    const char *r = strstr(t->first_bare, ",r=");
    assert_non_null(r);
    snprintf(t->server_first, sizeof t->server_first, "r=%s%s,s=%s,i=%d", r + 3,
             "3rfcNHYJY1ZVvWVs7j", "c2FsdHlzYWx0", 4096);
    return t->server_first;
}

/* Check the client-final's proof; return the server-final. */
static const char *tserver_final(struct tserver *t, const char *client_final, const char *c_b64)
{
    static char out[256];
    unsigned char salted[EVP_MAX_MD_SIZE], ckey[EVP_MAX_MD_SIZE], stored[EVP_MAX_MD_SIZE];
    unsigned char csig[EVP_MAX_MD_SIZE], skey[EVP_MAX_MD_SIZE], proof[EVP_MAX_MD_SIZE];
    char authmsg[2048];
    unsigned int l = 0;
    size_t n = 0;
    const char *p = strstr(client_final, ",p=");
    assert_non_null(p);
    assert_memory_equal(client_final, "c=", 2);
    assert_memory_equal(client_final + 2, c_b64, strlen(c_b64));
    assert_int_equal(client_final[2 + strlen(c_b64)], ',');
    snprintf(authmsg, sizeof authmsg, "%s,%s,%.*s", t->first_bare, t->server_first,
             (int)(p - client_final), client_final);
    t->h = (size_t)EVP_MD_get_size(t->md);
    assert_int_equal(PKCS5_PBKDF2_HMAC(t->password, (int)strlen(t->password),
                                       (const unsigned char *)"saltysalt", 9, 4096, t->md,
                                       (int)t->h, salted),
                     1);
    HMAC(t->md, salted, (int)t->h, (const unsigned char *)"Client Key", 10, ckey, &l);
    EVP_Digest(ckey, t->h, stored, NULL, t->md, NULL);
    HMAC(t->md, stored, (int)t->h, (const unsigned char *)authmsg, strlen(authmsg), csig, &l);
    for (size_t i = 0; i < t->h; i++)
        proof[i] = ckey[i] ^ csig[i];
    const char *got = unb64(p + 3, strlen(p + 3), &n);
    assert_int_equal(n, t->h);
    assert_memory_equal(got, proof, t->h);
    HMAC(t->md, salted, (int)t->h, (const unsigned char *)"Server Key", 10, skey, &l);
    HMAC(t->md, skey, (int)t->h, (const unsigned char *)authmsg, strlen(authmsg), t->server_sig,
         &l);
    const char *sig = b64(t->server_sig, t->h);
    assert_true(strlen(sig) + 3 <= sizeof out);
    memcpy(out, "v=", 2);
    memcpy(out + 2, sig, strlen(sig) + 1);
    return out;
}

static void scram_roundtrip(mj_sasl_mech mech, const mj_sasl_channel *chan, const char *authzid,
                            const char *gs2, const char *c_raw, size_t c_raw_len)
{
    mj_sasl_creds c = {.username = "us,er=x", .password = "p\xc2\xa0w", .authzid = authzid};
    struct tserver t = {.md = EVP_sha512(), .password = "p w"};
    char client_first[512], c_b64[256];
    size_t n = 0;
    mj_sasl *s = new_mech(mech, &c, chan);

    snprintf(client_first, sizeof client_first, "%s", initial_ok(s, &n));
    assert_non_null(strstr(client_first, ",n=us=2Cer=3Dx,r="));
    /* A random nonce: >= 18 bytes of entropy as base64, no ','. */
    const char *r = strstr(client_first, ",r=") + 3;
    assert_true(strlen(r) >= 24);
    assert_null(strchr(r, ','));
    const char *c_text = b64(c_raw, c_raw_len);
    assert_true(strlen(c_text) < sizeof c_b64);
    memcpy(c_b64, c_text, strlen(c_text) + 1);
    const char *sf = tserver_first(&t, client_first, gs2);
    char client_final[512];
    snprintf(client_final, sizeof client_final, "%s", step_ok(s, sf, &n));
    const char *sfinal = tserver_final(&t, client_final, c_b64);
    const char *text = b64(sfinal, strlen(sfinal));
    assert_int_equal(mj_sasl_finish(s, text, strlen(text), &err), MJ_OK);
    mj_sasl_free(s);
}

static void test_scram_sha512_roundtrip(void **state)
{
    (void)state;
    static const unsigned char cb[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 0xff};
    mj_sasl_channel exporter = {MJ_SASL_CB_TLS_EXPORTER, cb, sizeof cb, 1};
    mj_sasl_channel endpoint = {MJ_SASL_CB_TLS_SERVER_END_POINT, cb, sizeof cb, 0};
    mj_sasl_channel plus_offered = {MJ_SASL_CB_TLS_EXPORTER, cb, sizeof cb, 1};
    unsigned char c_raw[128];

    /* No channel binding: "n". */
    scram_roundtrip(MJ_SASL_SCRAM_SHA_512, NULL, NULL, "n,,", "n,,", 3);
    /* Client could bind, server offers no -PLUS: "y". */
    scram_roundtrip(MJ_SASL_SCRAM_SHA_512, &endpoint, NULL, "y,,", "y,,", 3);
    /* Server offers -PLUS but this non-PLUS exchange does not bind: "n". */
    scram_roundtrip(MJ_SASL_SCRAM_SHA_512, &plus_offered, NULL, "n,,", "n,,", 3);
    /* -PLUS: "p=tls-exporter", c= carries the binding data; authzid escaped. */
    static const char gs2[] = "p=tls-exporter,a=ad=2Cmin=3D,";
    memcpy(c_raw, gs2, sizeof gs2 - 1);
    memcpy(c_raw + sizeof gs2 - 1, cb, sizeof cb);
    scram_roundtrip(MJ_SASL_SCRAM_SHA_512_PLUS, &exporter, "ad,min=", gs2, (char *)c_raw,
                    sizeof gs2 - 1 + sizeof cb);
    static const char gs2e[] = "p=tls-server-end-point,,";
    memcpy(c_raw, gs2e, sizeof gs2e - 1);
    memcpy(c_raw + sizeof gs2e - 1, cb, sizeof cb);
    scram_roundtrip(MJ_SASL_SCRAM_SHA_512_PLUS, &endpoint, NULL, gs2e, (char *)c_raw,
                    sizeof gs2e - 1 + sizeof cb);
}

/* ---- SCRAM abuse (SECURITY-CASES #61, #63, #65) ------------------------- */

#define CN "fyko+d2lbbFgONRv9qkxdawL"

static mj_sasl *scram_started(void)
{
    mj_sasl_creds c = {.username = "user", .password = "pencil", .test_nonce = CN};
    mj_sasl *s = new_mech(MJ_SASL_SCRAM_SHA_1, &c, NULL);
    size_t n = 0;
    initial_ok(s, &n);
    return s;
}

static void test_scram_server_first_abuse(void **state)
{
    (void)state;
    const struct {
        const char *server_first;
        mj_outcome outcome;
        mj_reason reason;
        const char *in_message;
    } rows[] = {
        {"r=" CN "x,s=QSXCR+Q6sek8bf92,i=2147483647", MJ_AUTH_FAILED, MJ_R_NONE,
         "MJ_SASL_SCRAM_ITERATIONS_MAX"},
        {"r=" CN "x,s=QSXCR+Q6sek8bf92,i=99999999999999999999999", MJ_AUTH_FAILED, MJ_R_NONE,
         "MJ_SASL_SCRAM_ITERATIONS_MAX"},
        {"r=" CN "x,s=QSXCR+Q6sek8bf92,i=100001", MJ_AUTH_FAILED, MJ_R_NONE, "ITERATIONS"},
        {"r=" CN "x,s=QSXCR+Q6sek8bf92,i=0", MJ_AUTH_FAILED, MJ_R_NONE, "zero iterations"},
        {"r=someoneelse3rfcNHYJ,s=QSXCR+Q6sek8bf92,i=4096", MJ_AUTH_FAILED, MJ_R_NONE,
         "does not extend"},
        {"r=" CN ",s=QSXCR+Q6sek8bf92,i=4096", MJ_AUTH_FAILED, MJ_R_NONE, "does not extend"},
        {"r=fyko+d2lbbFgONRv9qkxdaw,s=QSXCR+Q6sek8bf92,i=4096", MJ_AUTH_FAILED, MJ_R_NONE,
         "does not extend"},
        {"m=must,r=" CN "x,s=QSXCR+Q6sek8bf92,i=4096", MJ_AUTH_FAILED, MJ_R_NONE, "(m=)"},
        {"r=" CN "x,i=4096", MJ_PROTOCOL_ERROR, MJ_R_MALFORMED, "lacks s="},
        {"s=QSXCR+Q6sek8bf92,r=" CN "x,i=4096", MJ_PROTOCOL_ERROR, MJ_R_MALFORMED, "start with r="},
        {"r=" CN "x,s=QSXCR+Q6sek8bf92", MJ_PROTOCOL_ERROR, MJ_R_MALFORMED, "lacks i="},
        {"r=" CN "x,s=QSXCR+Q6sek8bf92,i=04096", MJ_PROTOCOL_ERROR, MJ_R_MALFORMED, "not a number"},
        {"r=" CN "x,s=QSXCR+Q6sek8bf92,i=4096x", MJ_PROTOCOL_ERROR, MJ_R_MALFORMED, "not a number"},
        {"r=" CN "x,s=QSXCR+Q6sek8bf92,i=-1", MJ_PROTOCOL_ERROR, MJ_R_MALFORMED, "not a number"},
        {"r=" CN "x,s=,i=4096", MJ_PROTOCOL_ERROR, MJ_R_MALFORMED, "salt"},
        {"r=" CN "x,s=!!!!,i=4096", MJ_PROTOCOL_ERROR, MJ_R_MALFORMED, "salt"},
        {"r=" CN "x,s=QSXCR+Q6sek8bf92,i=4096,", MJ_PROTOCOL_ERROR, MJ_R_MALFORMED, "extension"},
        {"r=" CN "x,s=QSXCR+Q6sek8bf92,i=4096,9=x", MJ_PROTOCOL_ERROR, MJ_R_MALFORMED, "extension"},
        {"r=" CN "\x7f,s=QSXCR+Q6sek8bf92,i=4096", MJ_PROTOCOL_ERROR, MJ_R_MALFORMED,
         "invalid characters"},
        {"", MJ_PROTOCOL_ERROR, MJ_R_MALFORMED, "start with r="},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        mj_sasl *s = scram_started();
        const char *resp = (const char *)1;
        step_fails(s, rows[i].server_first, rows[i].outcome, rows[i].reason, &resp);
        assert_null(resp); /* cancel with "*" */
        if (strstr(err.message, rows[i].in_message) == NULL)
            fail_msg("row %zu: message \"%s\" lacks \"%s\"", i, err.message, rows[i].in_message);
        /* Never authenticated afterwards. */
        assert_int_equal(mj_sasl_finish(s, NULL, 0, &err), rows[i].outcome);
        mj_sasl_free(s);
    }
    /* Extensions after i= are allowed, and a valid exchange still works. */
    mj_sasl *s = scram_started();
    size_t n = 0;
    step_ok(s, "r=" CN "3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096,x=ext", &n);
    mj_sasl_free(s);
}

static void test_scram_challenge_encoding_abuse(void **state)
{
    (void)state;
    const char *resp = (const char *)1;
    size_t len = 0;
    static char huge[MJ_B64_ENCODED_LEN(MJ_SASL_CHALLENGE_MAX) + 5];
    memset(huge, 'A', sizeof huge - 1);

    mj_sasl *s = scram_started();
    assert_int_equal(mj_sasl_step(s, "!!!", 3, &resp, &len, &err), MJ_PROTOCOL_ERROR);
    assert_int_equal(err.reason, MJ_R_MALFORMED);
    assert_null(resp);
    mj_sasl_free(s);

    s = scram_started();
    assert_int_equal(mj_sasl_step(s, huge, sizeof huge - 1, &resp, &len, &err), MJ_PROTOCOL_ERROR);
    assert_int_equal(err.reason, MJ_R_REPLY_TOO_LARGE);
    assert_non_null(strstr(err.message, "MJ_SASL_CHALLENGE_MAX"));
    assert_null(resp);
    mj_sasl_free(s);

    /* A NUL byte inside a SCRAM message. */
    s = scram_started();
    static const char with_nul[] = "r=" CN "x\0,s=QSXCR+Q6sek8bf92,i=4096";
    const char *text = b64(with_nul, sizeof with_nul - 1);
    assert_int_equal(mj_sasl_step(s, text, strlen(text), &resp, &len, &err), MJ_PROTOCOL_ERROR);
    assert_int_equal(err.reason, MJ_R_MALFORMED);
    mj_sasl_free(s);
}

/* Run to the client-final of the RFC 5802 exchange. */
static mj_sasl *scram_at_final(void)
{
    mj_sasl *s = scram_started();
    size_t n = 0;
    step_ok(s, "r=" CN "3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096", &n);
    return s;
}

static void test_scram_server_final_abuse(void **state)
{
    (void)state;
    const char *resp = (const char *)1;
    size_t n = 0;

    /* (c) wrong v=, as a challenge and as data with success. */
    mj_sasl *s = scram_at_final();
    step_fails(s, "v=smF9pqV8S7suAoZWja4dJRkFsKQ=", MJ_AUTH_FAILED, MJ_R_NONE, &resp);
    assert_null(resp);
    assert_non_null(strstr(err.message, "server signature does not verify"));
    assert_int_equal(mj_sasl_finish(s, NULL, 0, &err), MJ_AUTH_FAILED);
    mj_sasl_free(s);

    s = scram_at_final();
    const char *wrong = b64("v=AAAAAAAAAAAAAAAAAAAAAAAAAAA=", 30);
    assert_int_equal(mj_sasl_finish(s, wrong, strlen(wrong), &err), MJ_AUTH_FAILED);
    assert_int_equal(err.reason, MJ_R_NONE);
    mj_sasl_free(s);

    /* A truncated signature of the right prefix. */
    s = scram_at_final();
    step_fails(s, "v=rmF9pqV8S7suAoZWja4dJRkF", MJ_AUTH_FAILED, MJ_R_NONE, &resp);
    mj_sasl_free(s);
    /* Non-canonical base64 of the right signature (dropped bits set). */
    s = scram_at_final();
    step_fails(s, "v=rmF9pqV8S7suAoZWja4dJRkFsKR=", MJ_PROTOCOL_ERROR, MJ_R_MALFORMED, &resp);
    mj_sasl_free(s);

    /* (d) e=other-error, with hostile bytes escaped. */
    s = scram_at_final();
    step_fails(s, "e=other-error\x1b[31m", MJ_AUTH_FAILED, MJ_R_NONE, &resp);
    assert_null(resp);
    assert_non_null(strstr(err.message, "e=other-error\\x1b[31m"));
    mj_sasl_free(s);

    /* Success without v=, and success before the client-final (#65). */
    s = scram_at_final();
    assert_int_equal(mj_sasl_finish(s, NULL, 0, &err), MJ_AUTH_FAILED);
    assert_non_null(strstr(err.message, "no v="));
    mj_sasl_free(s);
    s = scram_started();
    assert_int_equal(mj_sasl_finish(s, NULL, 0, &err), MJ_PROTOCOL_ERROR);
    assert_int_equal(err.reason, MJ_R_MALFORMED);
    mj_sasl_free(s);

    /* Neither v= nor e=; garbage base64 in v=; a challenge after verification. */
    s = scram_at_final();
    step_fails(s, "x=1", MJ_PROTOCOL_ERROR, MJ_R_MALFORMED, &resp);
    mj_sasl_free(s);
    s = scram_at_final();
    step_fails(s, "v=!!!!", MJ_PROTOCOL_ERROR, MJ_R_MALFORMED, &resp);
    mj_sasl_free(s);
    s = scram_at_final();
    step_ok(s, "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=", &n);
    step_fails(s, "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=", MJ_PROTOCOL_ERROR, MJ_R_MALFORMED, &resp);
    mj_sasl_free(s);
}

/* ---- XOAUTH2 and OAUTHBEARER ------------------------------------------- */

static void test_xoauth2(void **state)
{
    (void)state;
    mj_sasl_creds c = {.username = "someuser@example.com",
                       .token = "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"};
    const char *resp = NULL;
    size_t len = 0;
    mj_sasl *s = new_mech(MJ_SASL_XOAUTH2, &c, NULL);
    assert_int_equal(mj_sasl_initial(s, SIZE_MAX, &resp, &len, &err), MJ_OK);
    /* developers.google.com/gmail/imap/xoauth2-protocol */
    assert_string_equal(resp, "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5Ln"
                              "ZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==");
    assert_int_equal(mj_sasl_finish(s, NULL, 0, &err), MJ_OK);
    mj_sasl_free(s);

    /* Gmail's error challenge: answered with an empty response, reported. */
    s = new_mech(MJ_SASL_XOAUTH2, &c, NULL);
    assert_int_equal(mj_sasl_initial(s, SIZE_MAX, &resp, &len, &err), MJ_OK);
    static const char chal[] = "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodH"
                               "RwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==";
    resp = NULL;
    len = 7;
    assert_int_equal(mj_sasl_step(s, chal, strlen(chal), &resp, &len, &err), MJ_AUTH_FAILED);
    assert_int_equal(err.reason, MJ_R_NONE);
    assert_non_null(resp);
    assert_string_equal(resp, "");
    assert_int_equal(len, 0);
    assert_string_equal(err.message, "SASL XOAUTH2: the server refused the token: status "
                                     "\"401\" (schemes \"Bearer\", scope "
                                     "\"https://mail.google.com/\")");
    assert_null(strstr(err.message, "ya29"));
    assert_int_equal(mj_sasl_finish(s, NULL, 0, &err), MJ_AUTH_FAILED);
    mj_sasl_free(s);

    /* Not JSON; a numeric status; hostile bytes escaped. */
    s = new_mech(MJ_SASL_XOAUTH2, &c, NULL);
    assert_int_equal(mj_sasl_initial(s, SIZE_MAX, &resp, &len, &err), MJ_OK);
    step_fails(s, "{\"status\":400,\"scope\":\"a\\u0007b\"}", MJ_AUTH_FAILED, MJ_R_NONE, &resp);
    assert_non_null(strstr(err.message, "status \"400\""));
    assert_non_null(strstr(err.message, "scope \"a\\x07b\""));
    mj_sasl_free(s);
    s = new_mech(MJ_SASL_XOAUTH2, &c, NULL);
    assert_int_equal(mj_sasl_initial(s, SIZE_MAX, &resp, &len, &err), MJ_OK);
    step_fails(s, "Rubbish", MJ_AUTH_FAILED, MJ_R_NONE, &resp);
    assert_string_equal(resp, "");
    assert_non_null(strstr(err.message, "not a JSON object"));
    mj_sasl_free(s);
}

static void test_xoauth2_deferred_ok(void **state)
{
    (void)state;
    mj_sasl_creds c = {.username = "u", .token = "t"};
    size_t n = 0;
    mj_sasl *s = new_mech(MJ_SASL_XOAUTH2, &c, NULL);
    const char *raw = step_ok(s, "", &n);
    static const char want[] = "user=u\001auth=Bearer t\001\001";
    assert_mem(raw, n, want, sizeof want - 1);
    assert_int_equal(mj_sasl_finish(s, NULL, 0, &err), MJ_OK);
    mj_sasl_free(s);
    /* A token that would forge ^A-separated fields is refused. */
    mj_sasl_creds bad = {.username = "u", .token = "t\001auth=x"};
    const char *resp = NULL;
    size_t len = 0;
    s = new_mech(MJ_SASL_XOAUTH2, &bad, NULL);
    assert_int_equal(mj_sasl_initial(s, SIZE_MAX, &resp, &len, &err), MJ_USAGE);
    assert_int_equal(err.reason, MJ_R_BAD_ARGUMENT);
    assert_null(resp);
    mj_sasl_free(s);
}

static void test_oauthbearer_rfc7628(void **state)
{
    (void)state;
    mj_sasl_creds c = {.username = "user@example.com",
                       .token = "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
                       .host = "server.example.com",
                       .port = 143};
    const char *resp = NULL;
    size_t len = 0;
    mj_sasl *s = new_mech(MJ_SASL_OAUTHBEARER, &c, NULL);
    assert_int_equal(mj_sasl_initial(s, SIZE_MAX, &resp, &len, &err), MJ_OK);
    /* RFC 7628 §4.1 */
    assert_string_equal(resp, "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAX"
                              "BvcnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJo"
                              "ZG1semRHRXVZMjl0Q2c9PQEB");
    assert_int_equal(mj_sasl_finish(s, NULL, 0, &err), MJ_OK);
    mj_sasl_free(s);

    /* RFC 7628 §4.3: the error JSON, answered with %x01. */
    s = new_mech(MJ_SASL_OAUTHBEARER, &c, NULL);
    assert_int_equal(mj_sasl_initial(s, SIZE_MAX, &resp, &len, &err), MJ_OK);
    static const char chal[] =
        "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3BlIiwib3BlbmlkLWNvbmZpZ3"
        "VyYXRpb24iOiJodHRwczovL2V4YW1wbGUuY29tLy53ZWxsLWtub3duL29wZW5pZC1jb25maWd1cmF0aW9uIn0"
        "=";
    resp = NULL;
    assert_int_equal(mj_sasl_step(s, chal, strlen(chal), &resp, &len, &err), MJ_AUTH_FAILED);
    assert_string_equal(resp, "AQ==");
    assert_int_equal(len, 4);
    assert_non_null(strstr(err.message, "status \"invalid_token\""));
    assert_non_null(strstr(err.message, "scope \"example_scope\""));
    mj_sasl_free(s);

    /* Without host/port; username with ',' escaped in a=. */
    mj_sasl_creds c2 = {.username = "a,b", .token = "tok"};
    size_t n = 0;
    s = new_mech(MJ_SASL_OAUTHBEARER, &c2, NULL);
    const char *raw = initial_ok(s, &n);
    static const char want[] = "n,a=a=2Cb,\001auth=Bearer tok\001\001";
    assert_mem(raw, n, want, sizeof want - 1);
    mj_sasl_free(s);
}

/* ---- SASLprep ------------------------------------------------------------ */

static void test_saslprep(void **state)
{
    (void)state;
    static const char *const ok[][2] = {
        {"I\xc2\xadX", "IX"},             /* RFC 4013 §3 #1: soft hyphen */
        {"user", "user"},                 /* #2 */
        {"USER", "USER"},                 /* #3: case preserved */
        {"\xc2\xaa", "\xc2\xaa"},         /* #4: NFKC -> "a"; not done (documented) */
        {"\xe2\x85\xa8", "\xe2\x85\xa8"}, /* #5: U+2168 NFKC -> "IX"; not done */
        {"a\xc2\xa0"
         "b",
         "a b"}, /* U+00A0 -> space */
        {"a\xe3\x80\x80"
         "b",
         "a b"},                                  /* U+3000 -> space */
        {"\xe2\x80\x8b", " "},                    /* U+200B: C.1.2 wins */
        {"\xef\xbb\xbfx\xe2\x81\xa0y", "xy"},     /* U+FEFF, U+2060 -> nothing */
        {"x\xef\xb8\x8f", "x"},                   /* U+FE0F variation selector */
        {"\xd7\x90\xd7\x91", "\xd7\x90\xd7\x91"}, /* Hebrew only: fine */
        {"\xd8\xa7"
         "1\xd8\xa8",
         "\xd8\xa7"
         "1\xd8\xa8"},                  /* RandAL ends, digit inside */
        {"caf\xc3\xa9", "caf\xc3\xa9"}, /* already NFC/NFKC */
        {"", ""},
    };
    char out[64];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        mj_error_clear(&err);
        assert_int_equal(mj_saslprep(ok[i][0], out, sizeof out, &err), MJ_OK);
        assert_string_equal(out, ok[i][1]);
    }
    static const char *const bad[] = {
        "\x07", /* #6: U+0007 prohibited */
        "\xd8\xa7"
        "1",         /* #7: U+0627 U+0031 bidi violation */
        "a\xd8\xa7", /* RandAL not first */
        "\xd8\xa7"
        "a\xd8\xa8", /* RandAL with an L character */
        "a\x7f",
        "\xc2\x85",         /* controls */
        "\xee\x80\x80",     /* U+E000 private use */
        "\xef\xbf\xbe",     /* U+FFFE non-character */
        "\xef\xb7\x90",     /* U+FDD0 non-character */
        "\xef\xbf\xbd",     /* U+FFFD */
        "\xe2\xbf\xb0",     /* U+2FF0 */
        "\xcd\x80",         /* U+0340 */
        "\xe2\x80\x8e",     /* U+200E */
        "\xe2\x80\xae",     /* U+202E */
        "\xf3\xa0\x80\x81", /* U+E0001 tag */
        "\xf3\xa0\x81\x81", /* U+E0041 tag */
        "\xf0\x9d\x85\xb3", /* U+1D173 */
        "\xc0\x80",
        "\xe0\x80\x80",     /* overlong */
        "\xed\xa0\x80",     /* surrogate U+D800 */
        "\xf4\x90\x80\x80", /* > U+10FFFF */
        "\xe2\x80",         /* truncated */
        "\x80",
        "\xff", /* stray bytes */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mj_error_clear(&err);
        if (mj_saslprep(bad[i], out, sizeof out, &err) != MJ_USAGE)
            fail_msg("bad[%zu] accepted", i);
        assert_int_equal(err.reason, MJ_R_BAD_ARGUMENT);
        assert_non_null(strstr(err.message, "SASLprep"));
    }
    assert_int_equal(mj_saslprep("abc", out, 3, &err), MJ_INTERNAL);
}

/* ---- choice and policy ---------------------------------------------------- */

static void test_names_and_sets(void **state)
{
    (void)state;
    mj_sasl_mech m = MJ_SASL_NONE;
    for (unsigned i = 1; i < MJ_SASL_MECH_COUNT; i++) {
        const char *name = mj_sasl_mech_name((mj_sasl_mech)i);
        assert_int_equal(mj_sasl_mech_from_name(name, strlen(name), &m), 0);
        assert_int_equal(m, i);
    }
    assert_int_equal(mj_sasl_mech_from_name("scram-sha-256-plus", 18, &m), 0);
    assert_int_equal(m, MJ_SASL_SCRAM_SHA_256_PLUS);
    assert_int_equal(mj_sasl_mech_from_name("SCRAM-SHA-2", 11, &m), -1);
    assert_int_equal(mj_sasl_mech_from_name("PLAINX", 6, &m), -1);
    assert_int_equal(mj_sasl_set_parse(" plain,LOGIN  NTLM GSSAPI xoauth2 "),
                     MJ_SASL_BIT(MJ_SASL_PLAIN) | MJ_SASL_BIT(MJ_SASL_LOGIN) |
                         MJ_SASL_BIT(MJ_SASL_XOAUTH2));
    assert_int_equal(mj_sasl_set_parse(NULL), 0);
    assert_int_equal(mj_sasl_set_parse(""), 0);
    assert_string_equal(mj_sasl_cb_type_name(MJ_SASL_CB_TLS_EXPORTER), "tls-exporter");
}

static void test_cleartext_allowed(void **state)
{
    (void)state;
    mj_sasl_policy allow = {.allow_insecure_auth = 1};
    assert_false(mj_sasl_cleartext_allowed(MJ_TLS_NONE, NULL));
    assert_false(mj_sasl_cleartext_allowed(MJ_TLS_UNVERIFIED, NULL));
    assert_true(mj_sasl_cleartext_allowed(MJ_TLS_VERIFIED, NULL));
    assert_true(mj_sasl_cleartext_allowed(MJ_TLS_NONE, &allow));
    assert_true(mj_sasl_cleartext_allowed(MJ_TLS_UNVERIFIED, &allow));
}

static mj_outcome choose(const char *server, mj_tls_state tls, int allow, int cb,
                         const mj_sasl_creds *creds, mj_sasl_mech forced, mj_sasl_mech *m)
{
    mj_sasl_choice ch = {.server_mechs = mj_sasl_set_parse(server),
                         .tls = tls,
                         .channel_binding = cb,
                         .forced = forced};
    mj_sasl_policy p = {.allow_insecure_auth = allow};
    mj_error_clear(&err);
    return mj_sasl_choose(&ch, &p, creds, m, &err);
}

static void test_policy_matrix(void **state)
{
    (void)state;
    static const mj_sasl_creds pw = {.username = "u", .password = "p"};
    static const char *const lists[] = {"PLAIN LOGIN", "LOGIN PLAIN", "PLAIN", "LOGIN"};
    const mj_tls_state tls[] = {MJ_TLS_NONE, MJ_TLS_UNVERIFIED, MJ_TLS_VERIFIED};
    for (size_t l = 0; l < 4; l++) {
        for (size_t t = 0; t < 3; t++) {
            for (int allow = 0; allow <= 1; allow++) {
                mj_sasl_mech m = MJ_SASL_NONE;
                mj_outcome o = choose(lists[l], tls[t], allow, 0, &pw, MJ_SASL_NONE, &m);
                if (tls[t] == MJ_TLS_VERIFIED || allow) {
                    assert_int_equal(o, MJ_OK);
                    /* The client's order, whatever the server's. */
                    assert_int_equal(m, strstr(lists[l], "PLAIN") ? MJ_SASL_PLAIN : MJ_SASL_LOGIN);
                } else {
                    assert_int_equal(o, MJ_CLEARTEXT_REFUSED);
                    assert_int_equal(err.reason, MJ_R_NONE);
                    assert_int_equal(m, MJ_SASL_NONE);
                }
            }
        }
    }
}

static void test_choose_order(void **state)
{
    (void)state;
    static const mj_sasl_creds pw = {.username = "u", .password = "p"};
    static const mj_sasl_creds tok = {.username = "u", .token = "t"};
    static const mj_sasl_creds both = {.username = "u", .password = "p", .token = "t"};
    static const char all[] = "LOGIN PLAIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256 SCRAM-SHA-512 "
                              "SCRAM-SHA-1-PLUS SCRAM-SHA-256-PLUS SCRAM-SHA-512-PLUS "
                              "XOAUTH2 OAUTHBEARER ANONYMOUS EXTERNAL";
    const struct {
        const char *server;
        mj_tls_state tls;
        int cb;
        const mj_sasl_creds *creds;
        mj_outcome o;
        mj_sasl_mech m;
    } rows[] = {
        {all, MJ_TLS_VERIFIED, 1, &pw, MJ_OK, MJ_SASL_SCRAM_SHA_512_PLUS},
        {all, MJ_TLS_VERIFIED, 0, &pw, MJ_OK, MJ_SASL_SCRAM_SHA_512},
        {all, MJ_TLS_NONE, 0, &pw, MJ_OK, MJ_SASL_SCRAM_SHA_512},
        {all, MJ_TLS_VERIFIED, 1, &tok, MJ_OK, MJ_SASL_OAUTHBEARER},
        {all, MJ_TLS_VERIFIED, 1, &both, MJ_OK, MJ_SASL_OAUTHBEARER},
        {all, MJ_TLS_NONE, 0, &both, MJ_OK, MJ_SASL_SCRAM_SHA_512},
        {all, MJ_TLS_NONE, 0, &tok, MJ_CLEARTEXT_REFUSED, MJ_SASL_NONE},
        {"XOAUTH2 PLAIN", MJ_TLS_VERIFIED, 0, &tok, MJ_OK, MJ_SASL_XOAUTH2},
        {"XOAUTH2 OAUTHBEARER", MJ_TLS_VERIFIED, 0, &pw, MJ_AUTH_UNSUPPORTED, MJ_SASL_NONE},
        {"SCRAM-SHA-256 SCRAM-SHA-1", MJ_TLS_NONE, 0, &pw, MJ_OK, MJ_SASL_SCRAM_SHA_256},
        {"SCRAM-SHA-1-PLUS", MJ_TLS_VERIFIED, 0, &pw, MJ_AUTH_UNSUPPORTED, MJ_SASL_NONE},
        {"CRAM-MD5 PLAIN LOGIN", MJ_TLS_NONE, 0, &pw, MJ_OK, MJ_SASL_CRAM_MD5},
        {"CRAM-MD5 PLAIN", MJ_TLS_VERIFIED, 0, &pw, MJ_OK, MJ_SASL_CRAM_MD5},
        {"ANONYMOUS EXTERNAL", MJ_TLS_VERIFIED, 0, &pw, MJ_AUTH_UNSUPPORTED, MJ_SASL_NONE},
        {"NTLM GSSAPI DIGEST-MD5", MJ_TLS_VERIFIED, 0, &pw, MJ_AUTH_UNSUPPORTED, MJ_SASL_NONE},
        {"", MJ_TLS_VERIFIED, 0, &pw, MJ_AUTH_UNSUPPORTED, MJ_SASL_NONE},
        /* SECURITY-CASES #59: many mechanisms, STARTTLS refused, plaintext. */
        {"ANONYMOUS PLAIN LOGIN XOAUTH2 OAUTHBEARER NTLM GSSAPI DIGEST-MD5 KERBEROS_V4 "
         "SKEY OTP SECURID",
         MJ_TLS_NONE, 0, &both, MJ_CLEARTEXT_REFUSED, MJ_SASL_NONE},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        mj_sasl_mech m = MJ_SASL_NONE;
        mj_outcome o =
            choose(rows[i].server, rows[i].tls, 0, rows[i].cb, rows[i].creds, MJ_SASL_NONE, &m);
        if (o != rows[i].o || m != rows[i].m)
            fail_msg("row %zu: got %s/%s, want %s/%s (%s)", i, mj_outcome_name(o),
                     mj_sasl_mech_name(m), mj_outcome_name(rows[i].o), mj_sasl_mech_name(rows[i].m),
                     err.message);
    }
}

static void test_choose_forced(void **state)
{
    (void)state;
    static const mj_sasl_creds pw = {.username = "u", .password = "p"};
    mj_sasl_mech m = MJ_SASL_NONE;
    assert_int_equal(choose("PLAIN EXTERNAL", MJ_TLS_VERIFIED, 0, 0, &pw, MJ_SASL_EXTERNAL, &m),
                     MJ_OK);
    assert_int_equal(m, MJ_SASL_EXTERNAL);
    assert_int_equal(choose("ANONYMOUS", MJ_TLS_NONE, 0, 0, NULL, MJ_SASL_ANONYMOUS, &m), MJ_OK);
    assert_int_equal(m, MJ_SASL_ANONYMOUS);
    assert_int_equal(choose("PLAIN", MJ_TLS_VERIFIED, 0, 0, &pw, MJ_SASL_LOGIN, &m),
                     MJ_AUTH_UNSUPPORTED);
    assert_int_equal(m, MJ_SASL_NONE);
    assert_int_equal(choose("PLAIN LOGIN", MJ_TLS_NONE, 0, 0, &pw, MJ_SASL_LOGIN, &m),
                     MJ_CLEARTEXT_REFUSED);
    assert_int_equal(choose("PLAIN LOGIN", MJ_TLS_NONE, 1, 0, &pw, MJ_SASL_LOGIN, &m), MJ_OK);
    assert_int_equal(m, MJ_SASL_LOGIN);
    assert_int_equal(
        choose("SCRAM-SHA-256-PLUS", MJ_TLS_VERIFIED, 0, 0, &pw, MJ_SASL_SCRAM_SHA_256_PLUS, &m),
        MJ_AUTH_UNSUPPORTED);
    assert_non_null(strstr(err.message, "channel binding"));
    assert_int_equal(choose("XOAUTH2", MJ_TLS_VERIFIED, 0, 0, &pw, MJ_SASL_XOAUTH2, &m), MJ_USAGE);
    assert_int_equal(err.reason, MJ_R_BAD_ARGUMENT);

    /* A disabled mechanism is never chosen. */
    mj_sasl_choice ch = {.server_mechs = mj_sasl_set_parse("CRAM-MD5 PLAIN"),
                         .tls = MJ_TLS_VERIFIED};
    mj_sasl_policy p = {.disabled = MJ_SASL_BIT(MJ_SASL_CRAM_MD5)};
    assert_int_equal(mj_sasl_choose(&ch, &p, &pw, &m, &err), MJ_OK);
    assert_int_equal(m, MJ_SASL_PLAIN);
    ch.forced = MJ_SASL_CRAM_MD5;
    assert_int_equal(mj_sasl_choose(&ch, &p, &pw, &m, &err), MJ_USAGE);
}

/* CR or LF in a credential that may go on a command line: usage, the field named, never the value. */
static void test_creds_check_lines(void **state)
{
    (void)state;
    const mj_sasl_creds ok = {.username = "alice", .password = "s3cr\x01t", .authzid = NULL};
    assert_int_equal(mj_sasl_creds_check_lines(&ok, &err), MJ_OK);
    static const struct {
        mj_sasl_creds creds;
        const char *field;
    } bad[] = {
        {{.username = "alice\r\nA2 DELETE INBOX", .password = "x"}, "user name"},
        {{.username = "alice", .password = "pw\nA2 LOGOUT"}, "password"},
        {{.username = "alice", .password = "pw", .authzid = "bob\r"}, "authorization identity"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mj_error_clear(&err);
        assert_int_equal(mj_sasl_creds_check_lines(&bad[i].creds, &err), MJ_USAGE);
        assert_int_equal(err.reason, MJ_R_BAD_ARGUMENT);
        char want[128];
        snprintf(want, sizeof want, "the %s holds CR or LF; nothing was sent", bad[i].field);
        assert_string_equal(err.message, want);
    }
}

static void test_no_downgrade_after_failure(void **state)
{
    (void)state;
    static const mj_sasl_creds pw = {.username = "u", .password = "p"};
    mj_sasl_mech m = MJ_SASL_NONE;

    /* SECURITY-CASES #60: CRAM-MD5 fails on plaintext, the server offers PLAIN. */
    mj_sasl_choice ch = {.server_mechs = mj_sasl_set_parse("CRAM-MD5 PLAIN LOGIN"),
                         .tls = MJ_TLS_NONE};
    mj_sasl_policy strict = {0};
    assert_int_equal(mj_sasl_choose(&ch, &strict, &pw, &m, &err), MJ_OK);
    assert_int_equal(m, MJ_SASL_CRAM_MD5);
    assert_int_equal(mj_sasl_choose_after_failure(&ch, m, &strict, &pw, &m, &err), MJ_AUTH_FAILED);
    assert_int_equal(m, MJ_SASL_NONE);

    /* Even when cleartext is allowed: no class below the one that failed. */
    mj_sasl_choice ch2 = {.server_mechs = mj_sasl_set_parse("CRAM-MD5 PLAIN"),
                          .tls = MJ_TLS_VERIFIED};
    assert_int_equal(mj_sasl_choose(&ch2, NULL, &pw, &m, &err), MJ_OK);
    assert_int_equal(mj_sasl_choose_after_failure(&ch2, m, NULL, &pw, &m, &err), MJ_AUTH_FAILED);

    /* Same class is fine, in the client's order; then nothing. */
    mj_sasl_choice ch3 = {.server_mechs = mj_sasl_set_parse("SCRAM-SHA-1 SCRAM-SHA-256 PLAIN"),
                          .tls = MJ_TLS_VERIFIED};
    assert_int_equal(mj_sasl_choose(&ch3, NULL, &pw, &m, &err), MJ_OK);
    assert_int_equal(m, MJ_SASL_SCRAM_SHA_256);
    assert_int_equal(mj_sasl_choose_after_failure(&ch3, m, NULL, &pw, &m, &err), MJ_OK);
    assert_int_equal(m, MJ_SASL_SCRAM_SHA_1);
    assert_int_equal(mj_sasl_choose_after_failure(&ch3, m, NULL, &pw, &m, &err), MJ_AUTH_FAILED);
    assert_int_equal(ch3.floor, MJ_SASL_CLASS_SCRAM);

    /* PLAIN failed -> LOGIN (same class) on verified TLS. */
    mj_sasl_choice ch4 = {.server_mechs = mj_sasl_set_parse("PLAIN LOGIN"), .tls = MJ_TLS_VERIFIED};
    assert_int_equal(mj_sasl_choose(&ch4, NULL, &pw, &m, &err), MJ_OK);
    assert_int_equal(mj_sasl_choose_after_failure(&ch4, m, NULL, &pw, &m, &err), MJ_OK);
    assert_int_equal(m, MJ_SASL_LOGIN);

    /* A forced mechanism has no fallback. */
    mj_sasl_choice ch5 = {.server_mechs = mj_sasl_set_parse("PLAIN LOGIN"),
                          .tls = MJ_TLS_VERIFIED,
                          .forced = MJ_SASL_PLAIN};
    assert_int_equal(mj_sasl_choose(&ch5, NULL, &pw, &m, &err), MJ_OK);
    assert_int_equal(mj_sasl_choose_after_failure(&ch5, m, NULL, &pw, &m, &err), MJ_AUTH_FAILED);
    assert_int_equal(m, MJ_SASL_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64_vectors),
        cmocka_unit_test(test_b64_strict),
        cmocka_unit_test(test_plain_rfc4616),
        cmocka_unit_test(test_plain_deferred_and_early_success),
        cmocka_unit_test(test_login_by_order),
        cmocka_unit_test(test_cram_md5_rfc2195),
        cmocka_unit_test(test_anonymous_external),
        cmocka_unit_test(test_new_refuses),
        cmocka_unit_test(test_scram_sha1_rfc5802),
        cmocka_unit_test(test_scram_sha256_rfc7677),
        cmocka_unit_test(test_scram_sha512_roundtrip),
        cmocka_unit_test(test_scram_server_first_abuse),
        cmocka_unit_test(test_scram_challenge_encoding_abuse),
        cmocka_unit_test(test_scram_server_final_abuse),
        cmocka_unit_test(test_xoauth2),
        cmocka_unit_test(test_xoauth2_deferred_ok),
        cmocka_unit_test(test_oauthbearer_rfc7628),
        cmocka_unit_test(test_saslprep),
        cmocka_unit_test(test_names_and_sets),
        cmocka_unit_test(test_cleartext_allowed),
        cmocka_unit_test(test_policy_matrix),
        cmocka_unit_test(test_choose_order),
        cmocka_unit_test(test_choose_forced),
        cmocka_unit_test(test_no_downgrade_after_failure),
        cmocka_unit_test(test_creds_check_lines),
    };
    return cmocka_run_group_tests_name("sasl", tests, NULL, NULL);
}
