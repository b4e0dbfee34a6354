/*
 * test_sasl_server.c: mjfake's server-side SASL (sasl/fk_sasl.h) driven by
 * client sides written here with OpenSSL primitives, on the published
 * vectors (RFC 4616 PLAIN, RFC 2195 CRAM-MD5, RFC 5802 SCRAM-SHA-1, RFC 7677
 * SCRAM-SHA-256, RFC 7628 OAUTHBEARER, Google's XOAUTH2 format); wrong and
 * unknown credentials, cancellation, malformed client messages; and every
 * scripted failure, each asserted on the exact bytes it sends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "sasl/fk_sasl.h"

/* ---- helpers ------------------------------------------------------------------- */

#define B64_BUF 4096

/* snprintf that fails the test instead of truncating. */
static void xfmt(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void xfmt(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < cap);
}

/* Base64 of len bytes into a static buffer (one live result per slot). */
static const char *b64n(const void *data, size_t len, int slot)
{
    static char bufs[4][B64_BUF];
    assert_true(4 * ((len + 2) / 3) < B64_BUF);
    EVP_EncodeBlock((unsigned char *)bufs[slot], data, (int)len);
    return bufs[slot];
}

static const char *b64(const char *text)
{
    return b64n(text, strlen(text), 0);
}

/* Decode base64 (padding taken off); returns the length. */
static size_t unb64(const char *in, unsigned char *out)
{
    size_t len = strlen(in);
    int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
    assert_true(n >= 0);
    size_t pad = len >= 2 && in[len - 1] == '=' ? (in[len - 2] == '=' ? 2 : 1) : 0;
    out[n - (int)pad] = 0;
    return (size_t)n - pad;
}

static fk_sasl_server *mk(const char *mech, const fk_sasl_server_config *cfg)
{
    char err[256] = "";
    fk_sasl_server *s = fk_sasl_server_new(mech, cfg, err, sizeof err);
    if (!s)
        fail_msg("fk_sasl_server_new(%s): %s", mech, err);
    return s;
}

/* One step with a text line (NULL: no initial response). */
static fk_sasl_reply step(fk_sasl_server *s, const char *line)
{
    fk_sasl_reply r;
    int rc = fk_sasl_server_step(s, line ? line : "", line ? strlen(line) : 0, line != NULL, &r);
    assert_int_equal(rc, 0);
    return r;
}

/* One step with raw bytes, base64-encoded here as a client does. */
static fk_sasl_reply step_raw(fk_sasl_server *s, const void *data, size_t len)
{
    return step(s, b64n(data, len, 1));
}

static void assert_challenge(const fk_sasl_reply *r, const char *want_b64)
{
    if (r->status != FK_SASL_CHALLENGE)
        fail_msg("expected a challenge, got status %d (%s)", r->status,
                 r->message ? r->message : "");
    assert_string_equal(r->b64, want_b64);
    assert_int_equal(r->b64_len, strlen(want_b64));
}

/* A challenge whose decoded text is want. */
static void assert_challenge_text(const fk_sasl_reply *r, const char *want)
{
    assert_challenge(r, b64(want));
}

static void assert_success(const fk_sasl_reply *r)
{
    if (r->status != FK_SASL_SUCCESS)
        fail_msg("expected success, got status %d: %s", r->status, r->message ? r->message : "");
    assert_null(r->message);
}

static void assert_failure(const fk_sasl_reply *r, fk_sasl_reason reason, bool as_scripted,
                           const char *message)
{
    if (r->status != FK_SASL_FAILURE)
        fail_msg("expected failure %s, got status %d", fk_sasl_reason_name(reason), r->status);
    assert_string_equal(fk_sasl_reason_name(r->reason), fk_sasl_reason_name(reason));
    assert_int_equal(r->as_scripted, as_scripted);
    assert_string_equal(r->message, message);
}

static fk_sasl_server_config creds(const char *user, const char *password)
{
    fk_sasl_server_config c;
    memset(&c, 0, sizeof c);
    c.user = user;
    c.password = password;
    return c;
}

/* ---- PLAIN (RFC 4616) ---------------------------------------------------------------- */

static void test_plain_rfc4616(void **state)
{
    (void)state;
    fk_sasl_server_config c = creds("tim", "tanstaaftanstaaf");
    fk_sasl_server *s = mk("PLAIN", &c);
    /* RFC 4616 section 4: "\0tim\0tanstaaftanstaaf" */
    assert_string_equal(b64n("\0tim\0tanstaaftanstaaf", 21, 1), "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
    fk_sasl_reply r = step(s, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
    assert_success(&r);
    assert_null(r.b64);
    assert_string_equal(fk_sasl_server_user(s), "tim");
    assert_string_equal(fk_sasl_server_mechanism(s), "PLAIN");
    fk_sasl_server_free(s);
}

static void test_plain_no_initial_response(void **state)
{
    (void)state;
    fk_sasl_server_config c = creds("tim", "tanstaaftanstaaf");
    fk_sasl_server *s = mk("plain", &c);
    fk_sasl_reply r = step(s, NULL);
    assert_challenge(&r, "");
    r = step_raw(s, "tim\0tim\0tanstaaftanstaaf", 24); /* authzid = user is fine */
    assert_success(&r);
    fk_sasl_server_free(s);
}

static void test_plain_authzid_other(void **state)
{
    (void)state;
    /* RFC 4616 section 4's second example: Kurt acting as Ursel. */
    fk_sasl_server_config c = creds("Kurt", "xipj3plmq");
    fk_sasl_server *s = mk("PLAIN", &c);
    fk_sasl_reply r = step(s, "VXJzZWwAS3VydAB4aXBqM3BsbXE=");
    assert_failure(&r, FK_SASL_R_AUTHZID, false,
                   "authorization identity \"Ursel\" is not the user \"Kurt\"");
    fk_sasl_server_free(s);
}

static void test_plain_wrong_credentials(void **state)
{
    (void)state;
    fk_sasl_server_config c = creds("tim", "tanstaaftanstaaf");
    fk_sasl_server *s = mk("PLAIN", &c);
    fk_sasl_reply r = step_raw(s, "\0tim\0tanstaaf", 13);
    assert_failure(&r, FK_SASL_R_WRONG_PASSWORD, false, "wrong password for user \"tim\"");
    fk_sasl_server_free(s);

    s = mk("PLAIN", &c);
    r = step_raw(s, "\0bob\x01\0tanstaaftanstaaf", 22);
    assert_failure(&r, FK_SASL_R_UNKNOWN_USER, false,
                   "unknown user \"bob\\x01\" (expected \"tim\")");
    assert_string_equal(fk_sasl_server_user(s), "bob\x01");
    fk_sasl_server_free(s);
}

static void test_plain_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *msg;
        size_t len;
    } bad[] = {
        {"tim", 3},          /* no NUL */
        {"\0tim", 4},        /* one NUL */
        {"\0\0pw", 4},       /* empty authcid */
        {"\0tim\0pw\0x", 9}, /* a third NUL */
    };
    fk_sasl_server_config c = creds("tim", "pw");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fk_sasl_server *s = mk("PLAIN", &c);
        fk_sasl_reply r = step_raw(s, bad[i].msg, bad[i].len);
        assert_failure(&r, FK_SASL_R_MALFORMED, false,
                       "PLAIN: expected [authzid] NUL authcid NUL password, with an authcid");
        fk_sasl_server_free(s);
    }
    /* Not base64: bad characters, bad length, "=" inside, whitespace. */
    static const char *const not_b64[] = {"AHRpbQ!0", "AHRpb", "AH=pbQB0", "AHRp bQB0", "*"};
    for (size_t i = 0; i < sizeof not_b64 / sizeof not_b64[0]; i++) {
        fk_sasl_server *s = mk("PLAIN", &c);
        fk_sasl_reply r = step(s, not_b64[i]);
        assert_failure(&r, FK_SASL_R_MALFORMED, false, "client message is not base64");
        fk_sasl_server_free(s);
    }
}

static void test_cancel(void **state)
{
    (void)state;
    fk_sasl_server_config c = creds("tim", "pw");
    fk_sasl_server *s = mk("PLAIN", &c);
    fk_sasl_reply r = step(s, NULL);
    assert_challenge(&r, "");
    r = step(s, "*");
    assert_failure(&r, FK_SASL_R_CANCELLED, false, "the client cancelled the exchange");
    /* Nothing after the end. */
    int rc = fk_sasl_server_step(s, "", 0, true, &r);
    assert_int_equal(rc, -1);
    assert_failure(&r, FK_SASL_R_INTERNAL, false, "SASL step after the exchange ended");
    fk_sasl_server_free(s);
}

static void test_too_long(void **state)
{
    (void)state;
    fk_sasl_server_config c = creds("tim", "pw");
    fk_sasl_server *s = mk("PLAIN", &c);
    size_t len = FK_SASL_B64_MAX + 4;
    char *line = malloc(len);
    assert_non_null(line);
    memset(line, 'A', len);
    fk_sasl_reply r;
    assert_int_equal(fk_sasl_server_step(s, line, len, true, &r), 0);
    char want[128];
    xfmt(want, sizeof want, "client message of %zu characters over FK_SASL_B64_MAX (%d)", len,
         FK_SASL_B64_MAX);
    assert_failure(&r, FK_SASL_R_TOO_LONG, false, want);
    fk_sasl_server_free(s);

    /* The longest line: 21848 characters decode to 16386 bytes, 2 over the cap. */
    s = mk("PLAIN", &c);
    assert_int_equal(fk_sasl_server_step(s, line, FK_SASL_B64_MAX, true, &r), 0);
    assert_failure(&r, FK_SASL_R_TOO_LONG, false,
                   "decoded client message of 16386 bytes over FK_SASL_MSG_MAX (16384)");
    fk_sasl_server_free(s);
    free(line);

    /* Exactly FK_SASL_MSG_MAX bytes are decoded and judged. */
    unsigned char *msg = malloc(FK_SASL_MSG_MAX);
    char *enc = malloc(FK_SASL_B64_MAX + 1);
    assert_non_null(msg);
    assert_non_null(enc);
    memcpy(msg, "\0tim\0", 5);
    memset(msg + 5, 'x', FK_SASL_MSG_MAX - 5);
    assert_int_equal(EVP_EncodeBlock((unsigned char *)enc, msg, FK_SASL_MSG_MAX), FK_SASL_B64_MAX);
    s = mk("PLAIN", &c);
    r = step(s, enc);
    assert_failure(&r, FK_SASL_R_WRONG_PASSWORD, false, "wrong password for user \"tim\"");
    fk_sasl_server_free(s);
    free(msg);
    free(enc);
}

/* ---- LOGIN ------------------------------------------------------------------------------ */

static void test_login(void **state)
{
    (void)state;
    fk_sasl_server_config c = creds("tim", "tanstaaftanstaaf");
    fk_sasl_server *s = mk("LOGIN", &c);
    fk_sasl_reply r = step(s, NULL);
    assert_challenge(&r, "VXNlcm5hbWU6"); /* "Username:" */
    r = step(s, b64("tim"));
    assert_challenge(&r, "UGFzc3dvcmQ6"); /* "Password:" */
    r = step(s, b64("tanstaaftanstaaf"));
    assert_success(&r);
    fk_sasl_server_free(s);

    /* The user name as an initial response (SMTP AUTH LOGIN dGlt). */
    s = mk("LOGIN", &c);
    r = step(s, "dGlt");
    assert_challenge(&r, "UGFzc3dvcmQ6");
    r = step(s, b64("nope"));
    assert_failure(&r, FK_SASL_R_WRONG_PASSWORD, false, "wrong password for user \"tim\"");
    fk_sasl_server_free(s);

    /* An unknown user is only judged with the password, as real servers do. */
    s = mk("LOGIN", &c);
    r = step(s, b64("bob"));
    assert_challenge(&r, "UGFzc3dvcmQ6");
    r = step(s, b64("tanstaaftanstaaf"));
    assert_failure(&r, FK_SASL_R_UNKNOWN_USER, false, "unknown user \"bob\" (expected \"tim\")");
    fk_sasl_server_free(s);
}

/* ---- CRAM-MD5 (RFC 2195) -------------------------------------------------------------- */

#define RFC2195_CHALLENGE "<1896.697170952@postoffice.reston.mci.net>"

/* The client side: "user hex(HMAC-MD5(password, challenge))". */
static void cram_client(const char *user, const char *pw, const char *challenge, char *out,
                        size_t cap)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    assert_non_null(HMAC(EVP_md5(), pw, (int)strlen(pw), (const unsigned char *)challenge,
                         strlen(challenge), mac, &len));
    xfmt(out, cap, "%s ", user);
    for (unsigned i = 0; i < len; i++) {
        size_t o = strlen(out);
        xfmt(out + o, cap - o, "%02x", mac[i]);
    }
}

static void test_cram_md5_rfc2195(void **state)
{
    (void)state;
    fk_sasl_server_config c = creds("tim", "tanstaaftanstaaf");
    c.cram_challenge = RFC2195_CHALLENGE;
    fk_sasl_server *s = mk("CRAM-MD5", &c);
    fk_sasl_reply r = step(s, NULL);
    assert_challenge(&r, "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+");
    char answer[128];
    cram_client("tim", "tanstaaftanstaaf", RFC2195_CHALLENGE, answer, sizeof answer);
    assert_string_equal(answer, "tim b913a602c7eda7a495b4e6e7334d3890");
    r = step(s, b64(answer));
    assert_success(&r);
    assert_string_equal(fk_sasl_server_user(s), "tim");
    fk_sasl_server_free(s);
}

static void test_cram_md5_default_challenge(void **state)
{
    (void)state;
    fk_sasl_server_config c = creds("tim", "pw");
    fk_sasl_server *s = mk("CRAM-MD5", &c);
    fk_sasl_reply r = step(s, NULL);
    assert_int_equal(r.status, FK_SASL_CHALLENGE);
    unsigned char challenge[256];
    size_t n = unb64(r.b64, challenge);
    unsigned a = 0;
    long long t = 0;
    char tail[32] = "";
    assert_int_equal(sscanf((char *)challenge, "<%u.%lld@%31s", &a, &t, tail), 3);
    assert_string_equal(tail, "mjfake.invalid>");
    assert_int_equal(challenge[n - 1], '>');
    char answer[128];
    cram_client("tim", "pw", (char *)challenge, answer, sizeof answer);
    r = step(s, b64(answer));
    assert_success(&r);
    fk_sasl_server_free(s);
}

static void test_cram_md5_failures(void **state)
{
    (void)state;
    fk_sasl_server_config c = creds("tim", "tanstaaftanstaaf");
    c.cram_challenge = RFC2195_CHALLENGE;
    static const struct {
        const char *answer;
        fk_sasl_reason reason;
        const char *message;
    } cases[] = {
        {"tim b913a602c7eda7a495b4e6e7334d3891", FK_SASL_R_WRONG_PASSWORD,
         "wrong CRAM-MD5 digest for user \"tim\""},
        {"bob b913a602c7eda7a495b4e6e7334d3890", FK_SASL_R_UNKNOWN_USER,
         "unknown user \"bob\" (expected \"tim\")"},
        {"tim B913A602C7EDA7A495B4E6E7334D3890", FK_SASL_R_MALFORMED,
         "CRAM-MD5: the digest is not 32 lowercase hex digits"},
        {"timb913a602c7eda7a495b4e6e7334d3890", FK_SASL_R_MALFORMED,
         "CRAM-MD5: expected \"user SP 32 lowercase hex digits\""},
        {"tim b913a602c7eda7a495b4e6e7334d389", FK_SASL_R_MALFORMED,
         "CRAM-MD5: expected \"user SP 32 lowercase hex digits\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fk_sasl_server *s = mk("CRAM-MD5", &c);
        fk_sasl_reply r = step(s, NULL);
        r = step(s, b64(cases[i].answer));
        assert_failure(&r, cases[i].reason, false, cases[i].message);
        fk_sasl_server_free(s);
    }
    /* CRAM-MD5 has no initial response. */
    fk_sasl_server *s = mk("CRAM-MD5", &c);
    fk_sasl_reply r = step(s, b64("tim b913a602c7eda7a495b4e6e7334d3890"));
    assert_failure(&r, FK_SASL_R_MALFORMED, false, "CRAM-MD5 takes no initial response");
    fk_sasl_server_free(s);
}

/* ---- SCRAM (RFC 5802, RFC 7677) ------------------------------------------------------- */

/* A SCRAM client's view of one exchange. */
typedef struct scram_client {
    const EVP_MD *md;
    const char *password;
    char gs2[64];         /* gs2-header */
    unsigned char cb[64]; /* channel binding data appended to it in c= */
    size_t cb_len;
    char bare[256];         /* client-first-message-bare */
    char server_first[512]; /* decoded */
    char final[1024];       /* client-final-message */
    char verifier[128];     /* the "v=..." the server must send */
    const char *ext;        /* an extension before p=, or NULL */
} scram_client;

static void scram_init(scram_client *c, const EVP_MD *md, const char *gs2, const char *user,
                       const char *cnonce, const char *password)
{
    memset(c, 0, sizeof *c);
    c->md = md;
    c->password = password;
    xfmt(c->gs2, sizeof c->gs2, "%s", gs2);
    xfmt(c->bare, sizeof c->bare, "n=%s,r=%s", user, cnonce);
}

/* client-first-message, base64. */
static const char *scram_first(scram_client *c)
{
    char msg[512];
    xfmt(msg, sizeof msg, "%s%s", c->gs2, c->bare);
    return b64n(msg, strlen(msg), 2);
}

/* Take the server-first (base64) and build the client-final with the proof
 * computed here: PBKDF2, HMAC and the hash, RFC 5802 section 3. */
static const char *scram_final(scram_client *c, const char *server_first_b64)
{
    unb64(server_first_b64, (unsigned char *)c->server_first);
    char nonce[256], salt_b64[128];
    unsigned iter = 0;
    assert_int_equal(sscanf(c->server_first, "r=%255[^,],s=%127[^,],i=%u", nonce, salt_b64, &iter),
                     3);
    unsigned char salt[128], cbind[128];
    size_t salt_len = unb64(salt_b64, salt);
    size_t gl = strlen(c->gs2);
    memcpy(cbind, c->gs2, gl);
    memcpy(cbind + gl, c->cb, c->cb_len);
    char without_proof[512], auth[1024];
    xfmt(without_proof, sizeof without_proof, "c=%s,r=%s%s%s", b64n(cbind, gl + c->cb_len, 3),
         nonce, c->ext ? "," : "", c->ext ? c->ext : "");
    xfmt(auth, sizeof auth, "%s,%s,%s", c->bare, c->server_first, without_proof);

    int ml = EVP_MD_get_size(c->md);
    unsigned char salted[EVP_MAX_MD_SIZE], ck[EVP_MAX_MD_SIZE], stored[EVP_MAX_MD_SIZE];
    unsigned char csig[EVP_MAX_MD_SIZE], sk[EVP_MAX_MD_SIZE], ssig[EVP_MAX_MD_SIZE];
    assert_int_equal(PKCS5_PBKDF2_HMAC(c->password, (int)strlen(c->password), salt, (int)salt_len,
                                       (int)iter, c->md, ml, salted),
                     1);
    assert_non_null(HMAC(c->md, salted, ml, (const unsigned char *)"Client Key", 10, ck, NULL));
    assert_int_equal(EVP_Digest(ck, (size_t)ml, stored, NULL, c->md, NULL), 1);
    assert_non_null(HMAC(c->md, stored, ml, (unsigned char *)auth, strlen(auth), csig, NULL));
    assert_non_null(HMAC(c->md, salted, ml, (const unsigned char *)"Server Key", 10, sk, NULL));
    assert_non_null(HMAC(c->md, sk, ml, (unsigned char *)auth, strlen(auth), ssig, NULL));
    for (int i = 0; i < ml; i++)
        ck[i] ^= csig[i];
    xfmt(c->final, sizeof c->final, "%s,p=%s", without_proof, b64n(ck, (size_t)ml, 3));
    xfmt(c->verifier, sizeof c->verifier, "v=%s", b64n(ssig, (size_t)ml, 3));
    return b64n(c->final, strlen(c->final), 2);
}

typedef struct scram_vector {
    const char *mech;
    const EVP_MD *(*md)(void);
    const char *cnonce, *suffix, *salt_b64;
    const char *server_first, *final, *verifier;
} scram_vector;

static const scram_vector rfc5802 = {
    "SCRAM-SHA-1",
    EVP_sha1,
    "fyko+d2lbbFgONRv9qkxdawL",
    "3rfcNHYJY1ZVvWVs7j",
    "QSXCR+Q6sek8bf92",
    "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
    "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
    "v=rmF9pqV8S7suAoZWja4dJRkFsKQ="};

static const scram_vector rfc7677 = {
    "SCRAM-SHA-256",
    EVP_sha256,
    "rOprNGfwEbeRWgbNEkqO",
    "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
    "W22ZaJ0SNY7soEsUEjb6gQ==",
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="};

/* The configuration that reproduces a vector: user "user", password "pencil". */
static fk_sasl_server_config vector_config(const scram_vector *v, unsigned char *salt)
{
    fk_sasl_server_config c = creds("user", "pencil");
    c.scram_salt = salt;
    c.scram_salt_len = unb64(v->salt_b64, salt);
    c.scram_nonce_suffix = v->suffix;
    c.scram_iterations = 4096;
    return c;
}

/* Run a vector up to the client-final message; returns the server's reply to it. */
static fk_sasl_reply run_vector(fk_sasl_server *s, const scram_vector *v, scram_client *cl)
{
    scram_init(cl, v->md(), "n,,", "user", v->cnonce, "pencil");
    fk_sasl_reply r = step(s, scram_first(cl));
    assert_challenge_text(&r, v->server_first);
    const char *final = scram_final(cl, r.b64);
    assert_string_equal(cl->final, v->final); /* the test's client agrees with the RFC */
    assert_string_equal(cl->verifier, v->verifier);
    return step(s, final);
}

static void check_vector(const scram_vector *v)
{
    unsigned char salt[64];
    fk_sasl_server_config c = vector_config(v, salt);
    scram_client cl;
    /* IMAP, POP3, SMTP: v= as a challenge, an empty answer, then success. */
    fk_sasl_server *s = mk(v->mech, &c);
    fk_sasl_reply r = run_vector(s, v, &cl);
    assert_challenge_text(&r, v->verifier);
    r = step(s, "");
    assert_success(&r);
    assert_null(r.b64);
    assert_string_equal(fk_sasl_server_user(s), "user");
    fk_sasl_server_free(s);
    /* A protocol that carries data with its success. */
    c.success_with_data = true;
    s = mk(v->mech, &c);
    r = run_vector(s, v, &cl);
    assert_success(&r);
    assert_string_equal(r.b64, b64(v->verifier));
    fk_sasl_server_free(s);
}

static void test_scram_sha1_rfc5802(void **state)
{
    (void)state;
    check_vector(&rfc5802);
}

static void test_scram_sha256_rfc7677(void **state)
{
    (void)state;
    check_vector(&rfc7677);
}

/* SHA-512 and the PLUS variants have no RFC vector: random salt and nonce,
 * the client here computes everything from what the server sent. */
static void roundtrip(const char *mech, const EVP_MD *md, const char *gs2, bool no_ir)
{
    fk_sasl_server_config c = creds("user", "pencil");
    fk_sasl_server *s = mk(mech, &c);
    scram_client cl;
    scram_init(&cl, md, gs2, "user", "abcdefghijklmnopqrstuvwx", "pencil");
    fk_sasl_reply r;
    if (no_ir) {
        r = step(s, NULL);
        assert_challenge(&r, "");
    }
    r = step(s, scram_first(&cl));
    assert_int_equal(r.status, FK_SASL_CHALLENGE);
    r = step(s, scram_final(&cl, r.b64));
    /* The nonce extends the client's with 24 random base64 characters; 16-byte salt. */
    char nonce[128], salt[64];
    assert_int_equal(sscanf(cl.server_first, "r=%127[^,],s=%63[^,],i=4096", nonce, salt), 2);
    assert_int_equal(strlen(nonce), 24 + 24);
    assert_memory_equal(nonce, "abcdefghijklmnopqrstuvwx", 24);
    assert_int_equal(strlen(salt), 24);
    assert_challenge_text(&r, cl.verifier);
    r = step(s, "");
    assert_success(&r);
    fk_sasl_server_free(s);
}

static void test_scram_roundtrips(void **state)
{
    (void)state;
    roundtrip("SCRAM-SHA-512", EVP_sha512(), "n,,", false);
    roundtrip("SCRAM-SHA-512", EVP_sha512(), "n,,", true);
    roundtrip("SCRAM-SHA-1-PLUS", EVP_sha1(), "n,,", false);
    roundtrip("SCRAM-SHA-256-PLUS", EVP_sha256(), "y,,", false);
    roundtrip("SCRAM-SHA-512-PLUS", EVP_sha512(), "y,a=user,", false);
    roundtrip("scram-sha-256", EVP_sha256(), "y,,", true);
}

static void test_scram_channel_binding(void **state)
{
    (void)state;
    fk_sasl_server_config c = creds("user", "pencil");
    scram_client cl;
    /* No cb data in the configuration: p= fails, and the type is recorded. */
    fk_sasl_server *s = mk("SCRAM-SHA-256-PLUS", &c);
    scram_init(&cl, EVP_sha256(), "p=tls-exporter,,", "user", "abc", "pencil");
    fk_sasl_reply r = step(s, scram_first(&cl));
    assert_failure(&r, FK_SASL_R_CHANNEL_BINDING, false,
                   "channel binding not supported by this fake server (client asked for "
                   "p=tls-exporter)");
    assert_string_equal(fk_sasl_server_cb_type(s), "tls-exporter");
    fk_sasl_server_free(s);
    /* p= with a mechanism that is not -PLUS. */
    s = mk("SCRAM-SHA-256", &c);
    r = step(s, scram_first(&cl));
    assert_failure(&r, FK_SASL_R_CHANNEL_BINDING, false,
                   "p=tls-exporter with SCRAM-SHA-256, which is not a -PLUS mechanism");
    fk_sasl_server_free(s);

    /* With cb data: the right data succeeds, other data or type fails. */
    static const unsigned char data[] = {1, 2, 3, 4, 5, 6, 7, 8, 0, 255};
    c.cb_type = "tls-exporter";
    c.cb_data = data;
    c.cb_data_len = sizeof data;
    s = mk("SCRAM-SHA-256-PLUS", &c);
    memcpy(cl.cb, data, sizeof data);
    cl.cb_len = sizeof data;
    r = step(s, scram_first(&cl));
    r = step(s, scram_final(&cl, r.b64));
    assert_challenge_text(&r, cl.verifier);
    fk_sasl_server_free(s);

    s = mk("SCRAM-SHA-256-PLUS", &c);
    cl.cb[0] = 9;
    r = step(s, scram_first(&cl));
    r = step(s, scram_final(&cl, r.b64));
    assert_failure(&r, FK_SASL_R_CHANNEL_BINDING, false,
                   "SCRAM client-final: c= is not base64 of the gs2 header and the channel "
                   "binding data");
    fk_sasl_server_free(s);

    s = mk("SCRAM-SHA-256-PLUS", &c);
    scram_init(&cl, EVP_sha256(), "p=tls-server-end-point,,", "user", "abc", "pencil");
    r = step(s, scram_first(&cl));
    assert_failure(&r, FK_SASL_R_CHANNEL_BINDING, false,
                   "client asked for p=tls-server-end-point, the connection offers tls-exporter");
    fk_sasl_server_free(s);
}

static void test_scram_wrong_credentials(void **state)
{
    (void)state;
    unsigned char salt[64];
    fk_sasl_server_config c = vector_config(&rfc5802, salt);
    scram_client cl;
    fk_sasl_server *s = mk("SCRAM-SHA-1", &c);
    scram_init(&cl, EVP_sha1(), "n,,", "user", rfc5802.cnonce, "pencils");
    fk_sasl_reply r = step(s, scram_first(&cl));
    r = step(s, scram_final(&cl, r.b64));
    assert_failure(&r, FK_SASL_R_WRONG_PASSWORD, false,
                   "wrong password (client proof) for user \"user\"");
    fk_sasl_server_free(s);

    /* An unknown user still gets a server-first; the failure comes at the end. */
    s = mk("SCRAM-SHA-1", &c);
    scram_init(&cl, EVP_sha1(), "n,,", "us=2Cer", rfc5802.cnonce, "pencil");
    r = step(s, scram_first(&cl));
    assert_int_equal(r.status, FK_SASL_CHALLENGE);
    r = step(s, scram_final(&cl, r.b64));
    assert_failure(&r, FK_SASL_R_UNKNOWN_USER, false, "unknown user \"us,er\" (expected \"user\")");
    fk_sasl_server_free(s);

    s = mk("SCRAM-SHA-1", &c);
    scram_init(&cl, EVP_sha1(), "n,a=admin,", "user", rfc5802.cnonce, "pencil");
    r = step(s, scram_first(&cl));
    assert_failure(&r, FK_SASL_R_AUTHZID, false,
                   "authorization identity \"admin\" is not the user");
    fk_sasl_server_free(s);
}

/* Client-first messages that must fail, with the message each gets. */
static void test_scram_malformed_first(void **state)
{
    (void)state;
    static const struct {
        const char *msg;
        const char *message;
    } cases[] = {
        {"x,,n=user,r=abc", "SCRAM client-first: gs2 header: expected n, y or p=NAME first"},
        {"n,,", "SCRAM client-first: expected n=USER (saslname)"},
        {"n", "SCRAM client-first: gs2 header: no ','"},
        {"n,n=user,r=abc",
         "SCRAM client-first: gs2 header: expected a=authzid or nothing between the commas"},
        {"p=tls+x,,n=user,r=abc",
         "SCRAM client-first: gs2 header: bad channel binding name after p="},
        {"n,,m=ext,n=user,r=abc", "SCRAM: mandatory extension m= not supported"},
        {"n,,n=user", "SCRAM client-first: expected ,r=NONCE after n="},
        {"n,,n=user,r=", "SCRAM client-first: expected ,r=NONCE after n="},
        {"n,,n=us=4Der,r=abc", "SCRAM client-first: expected n=USER (saslname)"},
        {"n,,r=abc,n=user", "SCRAM client-first: expected n=USER (saslname)"},
        {"n,,n=user,r=a\x7f"
         "b",
         "SCRAM client-first: expected ,r=NONCE after n="},
    };
    fk_sasl_server_config c = creds("user", "pencil");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fk_sasl_server *s = mk("SCRAM-SHA-256", &c);
        fk_sasl_reply r = step(s, b64(cases[i].msg));
        assert_failure(&r, FK_SASL_R_MALFORMED, false, cases[i].message);
        fk_sasl_server_free(s);
    }
    fk_sasl_server *s = mk("SCRAM-SHA-256", &c);
    fk_sasl_reply r = step_raw(s, "n,,n=user,r=a\0b", 15);
    assert_failure(&r, FK_SASL_R_MALFORMED, false, "SCRAM message holds a NUL byte");
    fk_sasl_server_free(s);
}

/* Client-final messages that must fail, after the RFC 5802 client-first. */
static void test_scram_malformed_final(void **state)
{
    (void)state;
    static const struct {
        const char *msg;
        fk_sasl_reason reason;
        const char *message;
    } cases[] = {
        /* a proof of 10 bytes, not 20 */
        {"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=AAAAAAAAAAAAAA==",
         FK_SASL_R_MALFORMED, "SCRAM client-final: the proof is not base64 of 20 bytes"},
        {"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts",
         FK_SASL_R_MALFORMED, "SCRAM client-final: the proof is not base64 of 20 bytes"},
        {"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j", FK_SASL_R_MALFORMED,
         "SCRAM client-final: expected ,p=PROOF last"},
        {"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
         FK_SASL_R_MALFORMED, "SCRAM client-final: expected c= first"},
        {"c=biws,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=", FK_SASL_R_MALFORMED,
         "SCRAM client-final: expected ,r=NONCE after c="},
        {"c=biws,r=fyko+d2lbbFgONRv9qkxdawL,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=", FK_SASL_R_MALFORMED,
         "SCRAM client-final: r= is not the nonce the server sent"},
        /* c= says "y,," but the client sent "n,," */
        {"c=eSws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
         FK_SASL_R_CHANNEL_BINDING, "SCRAM client-final: c= is not base64 of the gs2 header"},
        {"c=bi!s,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
         FK_SASL_R_CHANNEL_BINDING, "SCRAM client-final: c= is not base64 of the gs2 header"},
    };
    unsigned char salt[64];
    fk_sasl_server_config c = vector_config(&rfc5802, salt);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fk_sasl_server *s = mk("SCRAM-SHA-1", &c);
        fk_sasl_reply r = step(s, b64("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"));
        assert_challenge_text(&r, rfc5802.server_first);
        r = step(s, b64(cases[i].msg));
        assert_failure(&r, cases[i].reason, false, cases[i].message);
        fk_sasl_server_free(s);
    }
    /* An extension between r= and p= is allowed (and covered by the proof). */
    fk_sasl_server *s = mk("SCRAM-SHA-1", &c);
    scram_client cl;
    scram_init(&cl, EVP_sha1(), "n,,", "user", rfc5802.cnonce, "pencil");
    cl.ext = "x=ext,y=2";
    fk_sasl_reply r = step(s, scram_first(&cl));
    r = step(s, scram_final(&cl, r.b64));
    assert_challenge_text(&r, cl.verifier);
    r = step(s, "");
    assert_success(&r);
    fk_sasl_server_free(s);
    /* After v=, anything but the empty answer is wrong. */
    s = mk("SCRAM-SHA-1", &c);
    r = run_vector(s, &rfc5802, &cl);
    assert_challenge_text(&r, rfc5802.verifier);
    r = step(s, "dg=="); /* "v", not the empty answer */
    assert_failure(&r, FK_SASL_R_MALFORMED, false,
                   "expected an empty response after the server-final message");
    fk_sasl_server_free(s);
    /* Refusing a correct server signature is the client's fault. */
    s = mk("SCRAM-SHA-1", &c);
    r = run_vector(s, &rfc5802, &cl);
    r = step(s, "*");
    assert_failure(&r, FK_SASL_R_CANCELLED, false, "the client cancelled the exchange");
    fk_sasl_server_free(s);
}

/* ---- scripted SCRAM failures ------------------------------------------------------------ */

static fk_sasl_server *vector_server(const scram_vector *v, fk_sasl_fail fail, bool with_data)
{
    unsigned char salt[64];
    fk_sasl_server_config c = vector_config(v, salt);
    c.fail = fail;
    c.success_with_data = with_data;
    return mk(v->mech, &c); /* the configuration is copied: salt may go */
}

/* RFC 5802's v= with its first byte inverted, as text "v=...". */
static void bad_verifier(char *out, size_t cap)
{
    unsigned char sig[64];
    size_t n = unb64(rfc5802.verifier + 2, sig);
    sig[0] ^= 0xFF;
    xfmt(out, cap, "v=%s", b64n(sig, n, 3));
}

static void test_scripted_scram_bad_signature(void **state)
{
    (void)state;
    char bad[64];
    bad_verifier(bad, sizeof bad);
    assert_string_equal(bad, "v=UWF9pqV8S7suAoZWja4dJRkFsKQ=");
    scram_client cl;
    /* A correct client cancels. */
    fk_sasl_server *s = vector_server(&rfc5802, FK_SASL_FAIL_SCRAM_BAD_SIGNATURE, false);
    fk_sasl_reply r = run_vector(s, &rfc5802, &cl);
    assert_challenge_text(&r, bad);
    r = step(s, "*");
    assert_failure(&r, FK_SASL_R_CANCELLED, true,
                   "the client cancelled after a wrong server signature (scripted)");
    fk_sasl_server_free(s);
    /* A client that accepts it. */
    s = vector_server(&rfc5802, FK_SASL_FAIL_SCRAM_BAD_SIGNATURE, false);
    r = run_vector(s, &rfc5802, &cl);
    r = step(s, "");
    assert_failure(&r, FK_SASL_R_NOT_CANCELLED, false,
                   "the client answered a wrong server signature instead of cancelling with \"*\"");
    fk_sasl_server_free(s);
    /* With success data, the bad v= rides on the success. */
    s = vector_server(&rfc5802, FK_SASL_FAIL_SCRAM_BAD_SIGNATURE, true);
    r = run_vector(s, &rfc5802, &cl);
    assert_success(&r);
    assert_string_equal(r.b64, b64(bad));
    fk_sasl_server_free(s);
}

static void test_scripted_scram_foreign_nonce(void **state)
{
    (void)state;
    fk_sasl_server *s = vector_server(&rfc5802, FK_SASL_FAIL_SCRAM_FOREIGN_NONCE, false);
    fk_sasl_reply r = step(s, b64("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"));
    assert_challenge_text(&r, "r=3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096");
    r = step(s, "*");
    assert_failure(&r, FK_SASL_R_CANCELLED, true,
                   "the client cancelled after a nonce not extending the client's (scripted)");
    fk_sasl_server_free(s);

    s = vector_server(&rfc5802, FK_SASL_FAIL_SCRAM_FOREIGN_NONCE, false);
    r = step(s, b64("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"));
    r = step(s, b64(rfc5802.final));
    assert_failure(&r, FK_SASL_R_NOT_CANCELLED, false,
                   "the client answered a nonce not extending the client's instead of "
                   "cancelling with \"*\"");
    fk_sasl_server_free(s);

    /* A client nonce that the suffix starts with: the foreign nonce still does not extend it. */
    s = vector_server(&rfc5802, FK_SASL_FAIL_SCRAM_FOREIGN_NONCE, false);
    r = step(s, b64("n,,n=user,r=3rfc"));
    assert_challenge_text(&r, "r=A3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096");
    fk_sasl_server_free(s);
}

static void test_scripted_scram_huge_iterations(void **state)
{
    (void)state;
    fk_sasl_server *s = vector_server(&rfc7677, FK_SASL_FAIL_SCRAM_HUGE_ITERATIONS, false);
    fk_sasl_reply r = step(s, b64("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"));
    assert_challenge_text(&r, "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                              "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=2147483647");
    r = step(s, "*");
    assert_failure(&r, FK_SASL_R_CANCELLED, true,
                   "the client cancelled after an iteration count of 2147483647 (scripted)");
    fk_sasl_server_free(s);
    /* The server never computes 2^31 iterations: a client that goes on just fails. */
    s = vector_server(&rfc7677, FK_SASL_FAIL_SCRAM_HUGE_ITERATIONS, false);
    r = step(s, b64("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"));
    r = step(s, b64(rfc7677.final));
    assert_failure(&r, FK_SASL_R_NOT_CANCELLED, false,
                   "the client answered an iteration count of 2147483647 instead of cancelling "
                   "with \"*\"");
    fk_sasl_server_free(s);
}

static void test_scripted_scram_error(void **state)
{
    (void)state;
    scram_client cl;
    fk_sasl_server *s = vector_server(&rfc7677, FK_SASL_FAIL_SCRAM_ERROR, false);
    fk_sasl_reply r = run_vector(s, &rfc7677, &cl);
    assert_challenge(&r, "ZT1vdGhlci1lcnJvcg=="); /* "e=other-error" */
    r = step(s, "");
    assert_failure(&r, FK_SASL_R_SERVER_ERROR, true,
                   "a SCRAM server error (e=) acknowledged (scripted)");
    fk_sasl_server_free(s);

    s = vector_server(&rfc7677, FK_SASL_FAIL_SCRAM_ERROR, false);
    r = run_vector(s, &rfc7677, &cl);
    r = step(s, "*");
    assert_failure(&r, FK_SASL_R_CANCELLED, true,
                   "the client cancelled after a SCRAM server error (e=) (scripted)");
    fk_sasl_server_free(s);

    /* A chosen value, carried by the failure itself when the protocol can. */
    unsigned char salt[64];
    fk_sasl_server_config c = vector_config(&rfc7677, salt);
    c.fail = FK_SASL_FAIL_SCRAM_ERROR;
    c.scram_error = "invalid-proof";
    c.success_with_data = true;
    s = mk("SCRAM-SHA-256", &c);
    r = run_vector(s, &rfc7677, &cl);
    assert_int_equal(r.status, FK_SASL_FAILURE);
    assert_string_equal(r.b64, b64("e=invalid-proof"));
    assert_true(r.as_scripted);
    assert_string_equal(r.message, "a SCRAM server error (e=) (scripted)");
    fk_sasl_server_free(s);

    /* A wrong password is still the client's fault, scripted error or not. */
    s = vector_server(&rfc7677, FK_SASL_FAIL_SCRAM_ERROR, false);
    scram_init(&cl, EVP_sha256(), "n,,", "user", rfc7677.cnonce, "pencil2");
    r = step(s, scram_first(&cl));
    r = step(s, scram_final(&cl, r.b64));
    assert_failure(&r, FK_SASL_R_WRONG_PASSWORD, false,
                   "wrong password (client proof) for user \"user\"");
    fk_sasl_server_free(s);
}

/* ---- scripted generic failures -------------------------------------------------------- */

static void test_scripted_rejects(void **state)
{
    (void)state;
    static const struct {
        fk_sasl_fail fail;
        fk_sasl_reason reason;
        const char *message;
    } cases[] = {
        {FK_SASL_FAIL_WRONG_PASSWORD, FK_SASL_R_WRONG_PASSWORD, "wrong password (scripted)"},
        {FK_SASL_FAIL_UNKNOWN_USER, FK_SASL_R_UNKNOWN_USER, "unknown user (scripted)"},
        {FK_SASL_FAIL_TEMPORARY, FK_SASL_R_TEMPORARY, "temporary failure (scripted)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fk_sasl_server_config c = creds("tim", "tanstaaftanstaaf");
        c.fail = cases[i].fail;
        fk_sasl_server *s = mk("PLAIN", &c);
        fk_sasl_reply r = step(s, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
        assert_failure(&r, cases[i].reason, true, cases[i].message);
        fk_sasl_server_free(s);
        /* Wrong credentials are reported as such, not as the script. */
        s = mk("PLAIN", &c);
        r = step_raw(s, "\0tim\0x", 6);
        assert_failure(&r, FK_SASL_R_WRONG_PASSWORD, false, "wrong password for user \"tim\"");
        fk_sasl_server_free(s);
        /* SCRAM: the reject replaces v=, which never goes out. */
        scram_client cl;
        fk_sasl_server *v = vector_server(&rfc5802, cases[i].fail, false);
        r = run_vector(v, &rfc5802, &cl);
        assert_failure(&r, cases[i].reason, true, cases[i].message);
        assert_null(r.b64);
        fk_sasl_server_free(v);
    }
}

static void test_scripted_unsupported(void **state)
{
    (void)state;
    fk_sasl_server_config c = creds("tim", "pw");
    c.fail = FK_SASL_FAIL_UNSUPPORTED;
    fk_sasl_server *s = mk("CRAM-MD5", &c);
    fk_sasl_reply r = step(s, NULL);
    assert_failure(&r, FK_SASL_R_UNSUPPORTED, true, "mechanism CRAM-MD5 not supported (scripted)");
    fk_sasl_server_free(s);
    s = mk("PLAIN", &c);
    r = step(s, "AHRpbQBwdw==");
    assert_failure(&r, FK_SASL_R_UNSUPPORTED, true, "mechanism PLAIN not supported (scripted)");
    fk_sasl_server_free(s);
}

/* The malformed-challenge failures: what replaces the first challenge with content. */
static void test_scripted_malformed_challenges(void **state)
{
    (void)state;
    fk_sasl_server_config c = creds("tim", "tanstaaftanstaaf");
    c.cram_challenge = RFC2195_CHALLENGE;
    c.fail = FK_SASL_FAIL_CHALLENGE_NOT_BASE64;
    fk_sasl_server *s = mk("CRAM-MD5", &c);
    fk_sasl_reply r = step(s, NULL);
    assert_challenge(&r, "!!!");
    r = step(s, "*");
    assert_failure(&r, FK_SASL_R_CANCELLED, true,
                   "the client cancelled after a malformed challenge (scripted)");
    fk_sasl_server_free(s);

    s = mk("CRAM-MD5", &c);
    r = step(s, NULL);
    r = step(s, b64("tim b913a602c7eda7a495b4e6e7334d3890"));
    assert_failure(&r, FK_SASL_R_NOT_CANCELLED, false,
                   "the client answered a malformed challenge instead of cancelling with \"*\"");
    fk_sasl_server_free(s);

    /* LOGIN: the empty challenge in place of "Username:". */
    c.fail = FK_SASL_FAIL_CHALLENGE_EMPTY;
    s = mk("LOGIN", &c);
    r = step(s, NULL);
    assert_challenge(&r, "");
    r = step(s, "*");
    assert_true(r.as_scripted);
    fk_sasl_server_free(s);

    /* PLAIN has no challenge with content: the bad one replaces the success. */
    c.fail = FK_SASL_FAIL_CHALLENGE_NOT_BASE64;
    s = mk("PLAIN", &c);
    r = step(s, NULL);
    assert_challenge(&r, ""); /* the ordinary empty prompt stays */
    r = step(s, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
    assert_challenge(&r, "!!!");
    r = step(s, "*");
    assert_true(r.as_scripted);
    fk_sasl_server_free(s);

    /* SCRAM: the server-first is replaced. */
    c.fail = FK_SASL_FAIL_CHALLENGE_OVERSIZED;
    c.oversized_len = 12;
    c.user = "user";
    s = mk("SCRAM-SHA-1", &c);
    r = step(s, NULL);
    assert_challenge(&r, "");
    r = step(s, b64("n,,n=user,r=abc"));
    assert_challenge(&r, "QUFBQUFBQUFB");
    fk_sasl_server_free(s);
}

static void test_scripted_oversized_default(void **state)
{
    (void)state;
    fk_sasl_server_config c = creds("tim", "pw");
    c.fail = FK_SASL_FAIL_CHALLENGE_OVERSIZED;
    fk_sasl_server *s = mk("LOGIN", &c);
    fk_sasl_reply r = step(s, NULL);
    assert_int_equal(r.status, FK_SASL_CHALLENGE);
    assert_int_equal(r.b64_len, FK_SASL_OVERSIZED_DEFAULT);
    assert_int_equal(strlen(r.b64), FK_SASL_OVERSIZED_DEFAULT);
    for (size_t i = 0; i < r.b64_len; i += 4)
        assert_memory_equal(r.b64 + i, "QUFB", 4);
    fk_sasl_server_free(s);
}

/* ---- XOAUTH2 and OAUTHBEARER ------------------------------------------------------------ */

/* Google's example (developers.google.com/gmail/imap/xoauth2-protocol). */
#define GOOGLE_TOKEN "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"
#define GOOGLE_B64                                                                                 \
    "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJo" \
    "ZG1semRHRXVZMjl0Q2cBAQ=="
#define GMAIL_ERROR_B64                                                                            \
    "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8i" \
    "fQ=="

static void test_xoauth2(void **state)
{
    (void)state;
    static const char msg[] = "user=someuser@example.com\001auth=Bearer " GOOGLE_TOKEN "\001\001";
    assert_string_equal(b64(msg), GOOGLE_B64);
    fk_sasl_server_config c = creds("someuser@example.com", GOOGLE_TOKEN);
    fk_sasl_server *s = mk("XOAUTH2", &c);
    fk_sasl_reply r = step(s, GOOGLE_B64);
    assert_success(&r);
    assert_string_equal(fk_sasl_server_user(s), "someuser@example.com");
    fk_sasl_server_free(s);

    s = mk("XOAUTH2", &c);
    r = step(s, NULL);
    assert_challenge(&r, "");
    r = step(s, b64("user=someuser@example.com\001auth=bearer " GOOGLE_TOKEN "\001\001"));
    assert_success(&r);
    fk_sasl_server_free(s);

    static const struct {
        const char *msg;
        fk_sasl_reason reason;
        const char *message;
    } bad[] = {
        {"user=someuser@example.com\001auth=Bearer x\001\001", FK_SASL_R_WRONG_PASSWORD,
         "wrong token for user \"someuser@example.com\""},
        {"user=other@example.com\001auth=Bearer " GOOGLE_TOKEN "\001\001", FK_SASL_R_UNKNOWN_USER,
         "unknown user \"other@example.com\" (expected \"someuser@example.com\")"},
        {"user=someuser@example.com\001auth=Bearer " GOOGLE_TOKEN "\001", FK_SASL_R_MALFORMED,
         "XOAUTH2: expected the message to end with ^A^A"},
        {"auth=Bearer " GOOGLE_TOKEN "\001\001", FK_SASL_R_MALFORMED, "XOAUTH2: no user="},
        {"user=someuser@example.com\001auth=Bearer " GOOGLE_TOKEN "\001\001x", FK_SASL_R_MALFORMED,
         "XOAUTH2: expected the message to end with ^A^A"},
        {"user=someuser@example.com\001\001", FK_SASL_R_MALFORMED, "XOAUTH2: no auth="},
        {"user=someuser@example.com\001auth=Basic eA==\001\001", FK_SASL_R_MALFORMED,
         "XOAUTH2: expected auth=Bearer TOKEN"},
        {"user someuser@example.com\001\001", FK_SASL_R_MALFORMED,
         "XOAUTH2: expected key=value ^A"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s = mk("XOAUTH2", &c);
        r = step(s, b64(bad[i].msg));
        assert_failure(&r, bad[i].reason, false, bad[i].message);
        fk_sasl_server_free(s);
    }
}

static void test_xoauth2_error_json(void **state)
{
    (void)state;
    assert_string_equal(
        b64("{\"status\":\"401\",\"schemes\":\"Bearer\",\"scope\":\"https://mail.google.com/\"}"),
        GMAIL_ERROR_B64);
    fk_sasl_server_config c = creds("someuser@example.com", GOOGLE_TOKEN);
    c.fail = FK_SASL_FAIL_OAUTH_ERROR;
    fk_sasl_server *s = mk("XOAUTH2", &c);
    fk_sasl_reply r = step(s, GOOGLE_B64);
    assert_challenge(&r, GMAIL_ERROR_B64);
    r = step(s, "");
    assert_failure(&r, FK_SASL_R_SERVER_ERROR, true,
                   "the OAuth error challenge acknowledged (scripted)");
    fk_sasl_server_free(s);

    /* Even with success data, the JSON is a challenge; a non-empty answer is wrong. */
    c.success_with_data = true;
    s = mk("XOAUTH2", &c);
    r = step(s, GOOGLE_B64);
    assert_challenge(&r, GMAIL_ERROR_B64);
    r = step(s, "AQ==");
    assert_failure(&r, FK_SASL_R_MALFORMED, false,
                   "unexpected answer to the OAuth error challenge (expected an empty response "
                   "or \"*\")");
    fk_sasl_server_free(s);
}

/* RFC 7628 section 4.1 and 4.3. */
#define RFC7628_TOKEN "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="
#define RFC7628_B64                                                                                \
    "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyIHZG" \
    "OWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB"
#define RFC7628_ERROR_B64                                                                          \
    "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3BlIiwib3BlbmlkLWNvbmZpZ3VyYXRp" \
    "b24iOiJodHRwczovL2V4YW1wbGUuY29tLy53ZWxsLWtub3duL29wZW5pZC1jb25maWd1cmF0aW9uIn0="

static void test_oauthbearer(void **state)
{
    (void)state;
    static const char msg[] = "n,a=user@example.com,\001host=server.example.com\001port=143\001"
                              "auth=Bearer " RFC7628_TOKEN "\001\001";
    assert_string_equal(b64(msg), RFC7628_B64);
    fk_sasl_server_config c = creds("user@example.com", RFC7628_TOKEN);
    fk_sasl_server *s = mk("OAUTHBEARER", &c);
    fk_sasl_reply r = step(s, RFC7628_B64);
    assert_success(&r);
    assert_string_equal(fk_sasl_server_user(s), "user@example.com");
    fk_sasl_server_free(s);

    static const struct {
        const char *msg;
        fk_sasl_reason reason;
        const char *message;
    } bad[] = {
        {"n,,\001auth=Bearer " RFC7628_TOKEN "\001\001", FK_SASL_R_UNKNOWN_USER,
         "OAUTHBEARER: no user (a=saslname) in the gs2 header"},
        {"n,a=user@example.com,auth=Bearer " RFC7628_TOKEN "\001\001", FK_SASL_R_MALFORMED,
         "OAUTHBEARER: expected ^A after the gs2 header"},
        {"p=tls-unique,a=user@example.com,\001auth=Bearer x\001\001", FK_SASL_R_MALFORMED,
         "OAUTHBEARER: channel binding (p=) is not defined for OAUTHBEARER"},
        {"n,a=user@example.com,\001host=x\001\001", FK_SASL_R_MALFORMED, "OAUTHBEARER: no auth="},
        {"n,a=user@example.com,\001auth=Bearer nope\001\001", FK_SASL_R_WRONG_PASSWORD,
         "wrong token for user \"user@example.com\""},
        {"x,a=user@example.com,\001auth=Bearer nope\001\001", FK_SASL_R_MALFORMED,
         "OAUTHBEARER: gs2 header: expected n, y or p=NAME first"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s = mk("OAUTHBEARER", &c);
        r = step(s, b64(bad[i].msg));
        assert_failure(&r, bad[i].reason, false, bad[i].message);
        fk_sasl_server_free(s);
    }

    c.fail = FK_SASL_FAIL_OAUTH_ERROR;
    s = mk("OAUTHBEARER", &c);
    r = step(s, RFC7628_B64);
    assert_challenge(&r, RFC7628_ERROR_B64);
    r = step(s, "AQ=="); /* RFC 7628 3.2.3: a lone ^A */
    assert_failure(&r, FK_SASL_R_SERVER_ERROR, true,
                   "the OAuth error challenge acknowledged (scripted)");
    fk_sasl_server_free(s);

    s = mk("OAUTHBEARER", &c);
    r = step(s, RFC7628_B64);
    r = step(s, "");
    assert_failure(&r, FK_SASL_R_MALFORMED, false,
                   "unexpected answer to the OAuth error challenge (expected \"\\x01\" or \"*\")");
    fk_sasl_server_free(s);
}

/* ---- ANONYMOUS and EXTERNAL --------------------------------------------------------------- */

static void test_anonymous(void **state)
{
    (void)state;
    fk_sasl_server *s = mk("ANONYMOUS", NULL);
    fk_sasl_reply r = step(s, b64("sirhc")); /* RFC 4505 section 4's trace */
    assert_success(&r);
    assert_string_equal(fk_sasl_server_user(s), "sirhc");
    fk_sasl_server_free(s);

    s = mk("ANONYMOUS", NULL);
    r = step(s, "="); /* an empty initial response */
    assert_success(&r);
    assert_string_equal(fk_sasl_server_user(s), "");
    fk_sasl_server_free(s);

    char trace[300];
    memset(trace, 'x', sizeof trace - 1);
    trace[sizeof trace - 1] = 0;
    s = mk("ANONYMOUS", NULL);
    r = step(s, NULL);
    assert_challenge(&r, "");
    r = step(s, b64(trace));
    assert_failure(&r, FK_SASL_R_MALFORMED, false, "ANONYMOUS: trace longer than 255 characters");
    fk_sasl_server_free(s);

    fk_sasl_server_config c = creds("guest", NULL);
    s = mk("ANONYMOUS", &c);
    r = step(s, b64("sirhc"));
    assert_failure(&r, FK_SASL_R_UNKNOWN_USER, false,
                   "unknown user \"sirhc\" (expected \"guest\")");
    fk_sasl_server_free(s);
}

static void test_external(void **state)
{
    (void)state;
    fk_sasl_server_config c = creds("alice", NULL);
    fk_sasl_server *s = mk("EXTERNAL", &c);
    fk_sasl_reply r = step(s, "=");
    assert_success(&r);
    fk_sasl_server_free(s);

    s = mk("EXTERNAL", &c);
    r = step(s, b64("alice"));
    assert_success(&r);
    assert_string_equal(fk_sasl_server_user(s), "alice");
    fk_sasl_server_free(s);

    s = mk("EXTERNAL", &c);
    r = step(s, b64("root"));
    assert_failure(&r, FK_SASL_R_AUTHZID, false,
                   "authorization identity \"root\" is not the user \"alice\"");
    fk_sasl_server_free(s);
}

/* EXTERNAL with the identity from TLS (mjfake's connections): the certificate's CN or the authzid. */
static void test_external_tls_identity(void **state)
{
    (void)state;
    static const struct {
        const char *cn, *ir; /* cn NULL: no verified client certificate */
        fk_sasl_reason reason;
        const char *message, *user;
    } cases[] = {
        {NULL, "=", FK_SASL_R_NO_CLIENT_CERT, "EXTERNAL: no client certificate", NULL},
        {NULL, "YWxpY2U=", FK_SASL_R_NO_CLIENT_CERT, "EXTERNAL: no client certificate", NULL},
        {"alice", "=", FK_SASL_R_NONE, NULL, "alice"},
        {"bob", "=", FK_SASL_R_UNKNOWN_USER, "unknown user \"bob\" (expected \"alice\")", "bob"},
        {"bob", "YWxpY2U=", FK_SASL_R_NONE, NULL, "alice"}, /* authzid alice */
        {"alice", "cm9vdA==", FK_SASL_R_AUTHZID,
         "authorization identity \"root\" is not the user \"alice\"", "root"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fk_sasl_server_config c = creds("alice", NULL);
        char cn[16] = "";
        if (cases[i].cn)
            snprintf(cn, sizeof cn, "%s", cases[i].cn);
        c.tls_identity = true;
        c.tls_cn = cases[i].cn ? cn : NULL;
        fk_sasl_server *s = mk("EXTERNAL", &c);
        memset(cn, 'x', sizeof cn - 1); /* the configuration was copied */
        fk_sasl_reply r = step(s, cases[i].ir);
        if (cases[i].reason == FK_SASL_R_NONE)
            assert_success(&r);
        else
            assert_failure(&r, cases[i].reason, false, cases[i].message);
        if (cases[i].user)
            assert_string_equal(fk_sasl_server_user(s), cases[i].user);
        else
            assert_null(fk_sasl_server_user(s));
        fk_sasl_server_free(s);
    }
    assert_string_equal(fk_sasl_reason_name(FK_SASL_R_NO_CLIENT_CERT), "no-client-certificate");
}

/* ---- configuration errors and names --------------------------------------------------------- */

static void test_new_errors(void **state)
{
    (void)state;
    static const struct {
        const char *mech;
        fk_sasl_fail fail;
        const char *user, *password;
        size_t oversized;
        unsigned iterations;
        const char *err;
    } cases[] = {
        {"DIGEST-MD5", FK_SASL_FAIL_NONE, "u", "p", 0, 0,
         "unknown SASL mechanism \"DIGEST-MD5\": expected PLAIN, LOGIN, CRAM-MD5, "
         "SCRAM-SHA-{1,256,512}[-PLUS], XOAUTH2, OAUTHBEARER, ANONYMOUS or EXTERNAL"},
        {"PLAIN", FK_SASL_FAIL_NONE, "u", NULL, 0, 0, "PLAIN needs a password"},
        {"XOAUTH2", FK_SASL_FAIL_NONE, "u", NULL, 0, 0, "XOAUTH2 needs a token"},
        {"CRAM-MD5", FK_SASL_FAIL_NONE, NULL, "p", 0, 0, "CRAM-MD5 needs a user"},
        {"PLAIN", FK_SASL_FAIL_SCRAM_FOREIGN_NONCE, "u", "p", 0, 0,
         "scripted failure scram-foreign-nonce does not apply to PLAIN"},
        {"SCRAM-SHA-1", FK_SASL_FAIL_OAUTH_ERROR, "u", "p", 0, 0,
         "scripted failure oauth-error does not apply to SCRAM-SHA-1"},
        {"PLAIN", FK_SASL_FAIL_COUNT, "u", "p", 0, 0, "unknown scripted SASL failure 13"},
        {"LOGIN", FK_SASL_FAIL_CHALLENGE_OVERSIZED, "u", "p", 6, 0,
         "oversized challenge length 6: expected a multiple of 4 up to 4194304"},
        {"LOGIN", FK_SASL_FAIL_CHALLENGE_OVERSIZED, "u", "p", FK_SASL_OVERSIZED_MAX + 4, 0,
         "oversized challenge length 4194308: expected a multiple of 4 up to 4194304"},
        {"SCRAM-SHA-1", FK_SASL_FAIL_NONE, "u", "p", 0, 1000001,
         "SCRAM iteration count 1000001 over 1000000 (use scram-huge-iterations)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fk_sasl_server_config c = creds(cases[i].user, cases[i].password);
        c.fail = cases[i].fail;
        c.oversized_len = cases[i].oversized;
        c.scram_iterations = cases[i].iterations;
        char err[256] = "";
        assert_null(fk_sasl_server_new(cases[i].mech, &c, err, sizeof err));
        assert_string_equal(err, cases[i].err);
    }
    fk_sasl_server_config c = creds("u", "p");
    char err[256] = "";
    c.scram_nonce_suffix = "a,b";
    assert_null(fk_sasl_server_new("SCRAM-SHA-1", &c, err, sizeof err));
    assert_string_equal(err, "SCRAM nonce suffix: expected 1 to 128 printable characters, no ','");
    c.scram_nonce_suffix = NULL;
    c.scram_error = "bad,value";
    assert_null(fk_sasl_server_new("SCRAM-SHA-1", &c, err, sizeof err));
    assert_string_equal(err, "SCRAM e= value: expected 1 to 64 printable characters, no ','");
    c.scram_error = NULL;
    static const unsigned char salt[65];
    c.scram_salt = salt;
    c.scram_salt_len = sizeof salt;
    assert_null(fk_sasl_server_new("SCRAM-SHA-1", &c, err, sizeof err));
    assert_string_equal(err, "SCRAM salt of 65 bytes: expected 1 to 64");
}

static void test_names(void **state)
{
    (void)state;
    static const char *const known[] = {"PLAIN",
                                        "LOGIN",
                                        "CRAM-MD5",
                                        "SCRAM-SHA-1",
                                        "SCRAM-SHA-1-PLUS",
                                        "SCRAM-SHA-256",
                                        "SCRAM-SHA-256-PLUS",
                                        "SCRAM-SHA-512",
                                        "SCRAM-SHA-512-PLUS",
                                        "XOAUTH2",
                                        "OAUTHBEARER",
                                        "ANONYMOUS",
                                        "EXTERNAL",
                                        "scram-sha-256"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        assert_true(fk_sasl_mechanism_known(known[i]));
    assert_false(fk_sasl_mechanism_known("DIGEST-MD5"));
    assert_false(fk_sasl_mechanism_known("SCRAM-SHA-384"));
    assert_false(fk_sasl_mechanism_known(NULL));

    for (unsigned i = 0; i < FK_SASL_FAIL_COUNT; i++) {
        fk_sasl_fail f = FK_SASL_FAIL_COUNT;
        assert_int_equal(fk_sasl_fail_from_name(fk_sasl_fail_name((fk_sasl_fail)i), &f), 0);
        assert_int_equal(f, i);
    }
    assert_string_equal(fk_sasl_fail_name(FK_SASL_FAIL_SCRAM_HUGE_ITERATIONS),
                        "scram-huge-iterations");
    assert_null(fk_sasl_fail_name(FK_SASL_FAIL_COUNT));
    fk_sasl_fail f = FK_SASL_FAIL_NONE;
    assert_int_equal(fk_sasl_fail_from_name("huge", &f), -1);
    assert_string_equal(fk_sasl_reason_name(FK_SASL_R_NOT_CANCELLED), "not-cancelled");
}

/* The configuration is copied: the caller's strings may change right after new. */
static void test_config_copied(void **state)
{
    (void)state;
    char user[] = "tim", pw[] = "tanstaaftanstaaf";
    fk_sasl_server_config c = creds(user, pw);
    fk_sasl_server *s = mk("PLAIN", &c);
    memset(user, 'x', 3);
    memset(pw, 'x', 16);
    fk_sasl_reply r = step(s, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
    assert_success(&r);
    fk_sasl_server_free(s);
    fk_sasl_server_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_rfc4616),
        cmocka_unit_test(test_plain_no_initial_response),
        cmocka_unit_test(test_plain_authzid_other),
        cmocka_unit_test(test_plain_wrong_credentials),
        cmocka_unit_test(test_plain_malformed),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_login),
        cmocka_unit_test(test_cram_md5_rfc2195),
        cmocka_unit_test(test_cram_md5_default_challenge),
        cmocka_unit_test(test_cram_md5_failures),
        cmocka_unit_test(test_scram_sha1_rfc5802),
        cmocka_unit_test(test_scram_sha256_rfc7677),
        cmocka_unit_test(test_scram_roundtrips),
        cmocka_unit_test(test_scram_channel_binding),
        cmocka_unit_test(test_scram_wrong_credentials),
        cmocka_unit_test(test_scram_malformed_first),
        cmocka_unit_test(test_scram_malformed_final),
        cmocka_unit_test(test_scripted_scram_bad_signature),
        cmocka_unit_test(test_scripted_scram_foreign_nonce),
        cmocka_unit_test(test_scripted_scram_huge_iterations),
        cmocka_unit_test(test_scripted_scram_error),
        cmocka_unit_test(test_scripted_rejects),
        cmocka_unit_test(test_scripted_unsupported),
        cmocka_unit_test(test_scripted_malformed_challenges),
        cmocka_unit_test(test_scripted_oversized_default),
        cmocka_unit_test(test_xoauth2),
        cmocka_unit_test(test_xoauth2_error_json),
        cmocka_unit_test(test_oauthbearer),
        cmocka_unit_test(test_anonymous),
        cmocka_unit_test(test_external),
        cmocka_unit_test(test_external_tls_identity),
        cmocka_unit_test(test_new_errors),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_config_copied),
    };
    return cmocka_run_group_tests_name("sasl_server", tests, NULL, NULL);
}
