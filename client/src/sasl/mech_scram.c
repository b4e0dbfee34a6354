/*
 * mech_scram.c: SCRAM-SHA-1, SCRAM-SHA-256, SCRAM-SHA-512 and their -PLUS
 * variants, client side (RFC 5802, RFC 7677; channel bindings RFC 5929
 * tls-server-end-point and RFC 9266 tls-exporter).
 *
 * Phases: start -> client-first-message; phase 0 challenge = server-first
 * -> client-final-message; phase 1 = server-final (as a challenge or as
 * additional data with success).  The exchange counts as authenticated only
 * once the ServerSignature (v=) verified.  Hostile servers (SECURITY-CASES
 * #63): the iteration count is capped before PBKDF2 runs, the server nonce
 * must extend the client nonce, e= surfaces as auth-failed.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "sasl_internal.h"

/* The parts of a server-first-message (pointers into s->chal). */
struct server_first {
    const char *nonce;
    size_t nonce_len;
    const char *salt_b64;
    size_t salt_b64_len;
    long iterations;
};

static mj_outcome malformed(mj_sasl *s, mj_error *err, const char *what)
{
    return mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_MALFORMED, "SASL %s: %s", s->row->name, what);
}

static mj_outcome refused(mj_sasl *s, mj_error *err, const char *what)
{
    return mj_error_set(err, MJ_AUTH_FAILED, MJ_R_NONE, "SASL %s: %s", s->row->name, what);
}

static int printable_nonce(const char *v, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (v[i] < 0x21 || v[i] > 0x7E || v[i] == ',')
            return 0;
    }
    return len > 0;
}

static mj_outcome make_nonce(mj_sasl *s, mj_error *err)
{
    unsigned char rnd[MJ_SASL_SCRAM_NONCE_BYTES];
    size_t n = 0;

    if (s->test_nonce != NULL) {
        if (!printable_nonce(s->test_nonce, strlen(s->test_nonce)))
            return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT, "SASL: bad test nonce");
        memcpy(s->nonce, s->test_nonce, strlen(s->test_nonce) + 1);
        return MJ_OK;
    }
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return mj_error_set(err, MJ_INTERNAL, MJ_R_SYSTEM, "SASL: RAND_bytes failed");
    /* Base64 of random bytes never holds ','; 24 bytes need no padding. */
    return mj_b64_encode(rnd, sizeof rnd, s->nonce, sizeof s->nonce, &n, err);
}

/* gs2-header = gs2-cbind-flag "," [ "a=" saslname ] ","   (RFC 5802 §7) */
static mj_outcome put_gs2(mj_sasl *s, mj_error *err)
{
    int plus = (s->row->needs & SASL_NEED_CB) != 0;
    mj_outcome o;

    if (plus) {
        o = sasl_puts(s, "p=", err);
        if (o == MJ_OK)
            o = sasl_puts(s, mj_sasl_cb_type_name(s->cb_type), err);
    } else {
        /* "y": we could bind but the server did not offer -PLUS (§6). */
        o = sasl_puts(s, s->cb_len > 0 && !s->server_offers_plus ? "y" : "n", err);
    }
    if (o == MJ_OK)
        o = sasl_puts(s, ",", err);
    if (o == MJ_OK && s->authzid != NULL) {
        o = sasl_puts(s, "a=", err);
        if (o == MJ_OK)
            o = sasl_put_saslname(s, s->authzid, err);
    }
    return o == MJ_OK ? sasl_puts(s, ",", err) : o;
}

static mj_outcome authmsg_put(mj_sasl *s, const void *data, size_t len, mj_error *err)
{
    if (len > sizeof s->authmsg - s->authmsg_len)
        return mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_REPLY_TOO_LARGE,
                            "SASL %s: AuthMessage over %d bytes", s->row->name,
                            SASL_SCRAM_AUTHMSG_MAX);
    memcpy(s->authmsg + s->authmsg_len, data, len);
    s->authmsg_len += len;
    return MJ_OK;
}

/* client-first-message = gs2-header client-first-message-bare */
mj_outcome sasl_scram_start(struct mj_sasl *s, mj_error *err)
{
    mj_outcome o = s->nonce[0] == '\0' ? make_nonce(s, err) : MJ_OK;
    if (o == MJ_OK)
        o = put_gs2(s, err);
    size_t bare_at = s->raw_len;
    const char *parts[] = {"r=", s->nonce};
    if (o == MJ_OK)
        o = sasl_puts(s, "n=", err);
    if (o == MJ_OK)
        o = sasl_put_saslname(s, s->username, err);
    if (o == MJ_OK)
        o = sasl_puts(s, ",", err);
    for (size_t i = 0; o == MJ_OK && i < 2; i++)
        o = sasl_puts(s, parts[i], err);
    s->authmsg_len = 0;
    return o == MJ_OK ? authmsg_put(s, s->raw + bare_at, s->raw_len - bare_at, err) : o;
}

/* Take "<key>=value" up to ',' or the end; advance *p past the ','. */
static int take_attr(const char **p, const char *end, char key, const char **val, size_t *len)
{
    const char *q = *p;
    if (end - q < 2 || q[0] != key || q[1] != '=')
        return 0;
    q += 2;
    const char *comma = memchr(q, ',', (size_t)(end - q));
    const char *stop = comma != NULL ? comma : end;
    *val = q;
    *len = (size_t)(stop - q);
    *p = comma != NULL ? comma + 1 : end;
    return 1;
}

/* extensions = attr-val *("," attr-val), attr-val = ALPHA "=" value */
static int valid_extensions(const char *p, const char *end)
{
    while (p < end) {
        const char *v;
        size_t n;
        char key = *p;
        if (!((key >= 'a' && key <= 'z') || (key >= 'A' && key <= 'Z')))
            return 0;
        if (!take_attr(&p, end, key, &v, &n))
            return 0;
    }
    return 1;
}

/* posit-number = %x31-39 *DIGIT, read with a cap so no overflow occurs. */
static int parse_count(const char *v, size_t len, long *out)
{
    long n = 0;
    if (len == 0 || v[0] < '0' || v[0] > '9' || (v[0] == '0' && len > 1))
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return 0;
        if (n <= MJ_SASL_SCRAM_ITERATIONS_MAX)
            n = n * 10 + (v[i] - '0');
    }
    *out = n; /* anything over the cap stays over it */
    return 1;
}

/* server-first-message = [reserved-mext ","] nonce "," salt ","
 *                        iteration-count ["," extensions]          */
static mj_outcome parse_server_first(mj_sasl *s, const char *m, size_t len, struct server_first *sf,
                                     mj_error *err)
{
    const char *p = m, *end = m + len, *iv;
    size_t ilen;

    if (len >= 2 && m[0] == 'm' && m[1] == '=')
        return refused(s, err,
                       "the server requires an extension (m=) this client does not "
                       "support");
    if (!take_attr(&p, end, 'r', &sf->nonce, &sf->nonce_len))
        return malformed(s, err, "server-first-message does not start with r=");
    if (!take_attr(&p, end, 's', &sf->salt_b64, &sf->salt_b64_len))
        return malformed(s, err, "server-first-message lacks s= after r=");
    if (!take_attr(&p, end, 'i', &iv, &ilen))
        return malformed(s, err, "server-first-message lacks i= after s=");
    if (!valid_extensions(p, end) || (p == end && end > m && end[-1] == ','))
        return malformed(s, err, "malformed extension in server-first-message");
    if (!printable_nonce(sf->nonce, sf->nonce_len))
        return malformed(s, err, "invalid characters in the server nonce");
    if (!parse_count(iv, ilen, &sf->iterations))
        return malformed(s, err, "the iteration count is not a number");
    return MJ_OK;
}

/* The semantic checks, all before any PBKDF2 work. */
static mj_outcome check_server_first(mj_sasl *s, const struct server_first *sf, mj_error *err)
{
    size_t cn = strlen(s->nonce);

    if (sf->nonce_len > MJ_SASL_SCRAM_NONCE_MAX)
        return mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_REPLY_TOO_LARGE,
                            "SASL %s: server nonce over MJ_SASL_SCRAM_NONCE_MAX (%d)", s->row->name,
                            MJ_SASL_SCRAM_NONCE_MAX);
    if (sf->iterations > MJ_SASL_SCRAM_ITERATIONS_MAX)
        return mj_error_set(err, MJ_AUTH_FAILED, MJ_R_NONE,
                            "SASL %s: the server asks for more than "
                            "MJ_SASL_SCRAM_ITERATIONS_MAX (%d) iterations",
                            s->row->name, MJ_SASL_SCRAM_ITERATIONS_MAX);
    if (sf->iterations < MJ_SASL_SCRAM_ITERATIONS_MIN)
        return refused(s, err, "the server asks for zero iterations");
    if (sf->nonce_len <= cn || memcmp(sf->nonce, s->nonce, cn) != 0)
        return refused(s, err, "the server nonce does not extend the client nonce");
    return MJ_OK;
}

/* c= value: base64(gs2-header [cbind-data]) (RFC 5802 §7, channel-binding) */
static mj_outcome put_client_final_bare(mj_sasl *s, const struct server_first *sf, mj_error *err)
{
    char c_b64[MJ_B64_ENCODED_LEN(3 * MJ_SASL_CRED_MAX + 64 + MJ_SASL_CB_MAX) + 1];
    size_t c_len = 0;

    mj_outcome o = put_gs2(s, err); /* built in s->raw, then moved into c= */
    if (o == MJ_OK && (s->row->needs & SASL_NEED_CB))
        o = sasl_put(s, s->cb, s->cb_len, err);
    if (o == MJ_OK)
        o = mj_b64_encode(s->raw, s->raw_len, c_b64, sizeof c_b64, &c_len, err);
    s->raw_len = 0;
    const char *parts[] = {"c=", c_b64, ",r="};
    for (size_t i = 0; o == MJ_OK && i < 3; i++)
        o = sasl_puts(s, parts[i], err);
    return o == MJ_OK ? sasl_put(s, sf->nonce, sf->nonce_len, err) : o;
}

struct scram_keys {
    unsigned char salted[EVP_MAX_MD_SIZE];
    unsigned char client_key[EVP_MAX_MD_SIZE];
    unsigned char stored_key[EVP_MAX_MD_SIZE];
    unsigned char client_sig[EVP_MAX_MD_SIZE];
    unsigned char server_key[EVP_MAX_MD_SIZE];
    unsigned char proof[EVP_MAX_MD_SIZE];
};

/* SaltedPassword, ClientProof and the expected ServerSignature (§3). */
static int scram_compute(mj_sasl *s, const EVP_MD *md, const unsigned char *salt, size_t salt_len,
                         long iterations, struct scram_keys *k)
{
    size_t h = (size_t)EVP_MD_get_size(md);
    unsigned int l = 0;
    int ok = PKCS5_PBKDF2_HMAC(s->password, (int)strlen(s->password), salt, (int)salt_len,
                               (int)iterations, md, (int)h, k->salted) == 1 &&
             HMAC(md, k->salted, (int)h, (const unsigned char *)"Client Key", 10, k->client_key,
                  &l) != NULL &&
             EVP_Digest(k->client_key, h, k->stored_key, NULL, md, NULL) == 1 &&
             HMAC(md, k->stored_key, (int)h, (const unsigned char *)s->authmsg, s->authmsg_len,
                  k->client_sig, &l) != NULL &&
             HMAC(md, k->salted, (int)h, (const unsigned char *)"Server Key", 10, k->server_key,
                  &l) != NULL &&
             HMAC(md, k->server_key, (int)h, (const unsigned char *)s->authmsg, s->authmsg_len,
                  s->server_sig, &l) != NULL;
    for (size_t i = 0; i < h; i++)
        k->proof[i] = k->client_key[i] ^ k->client_sig[i];
    s->server_sig_len = h;
    return ok;
}

static mj_outcome decode_salt(mj_sasl *s, const struct server_first *sf, unsigned char *salt,
                              size_t *salt_len, mj_error *err)
{
    if (sf->salt_b64_len > MJ_B64_ENCODED_LEN(MJ_SASL_SCRAM_SALT_MAX))
        return mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_REPLY_TOO_LARGE,
                            "SASL %s: salt over MJ_SASL_SCRAM_SALT_MAX (%d bytes)", s->row->name,
                            MJ_SASL_SCRAM_SALT_MAX);
    if (mj_b64_decode(sf->salt_b64, sf->salt_b64_len, salt, MJ_SASL_SCRAM_SALT_MAX + 3, salt_len,
                      NULL) != MJ_OK ||
        *salt_len == 0)
        return malformed(s, err, "the salt is empty or not valid base64");
    return MJ_OK;
}

/* client-final-message = client-final-message-without-proof "," proof */
static mj_outcome answer_server_first(mj_sasl *s, const char *m, size_t len, mj_error *err)
{
    struct server_first sf;
    unsigned char salt[MJ_SASL_SCRAM_SALT_MAX + 3];
    size_t salt_len = 0, p_len = 0;
    struct scram_keys k;
    char p_b64[MJ_B64_ENCODED_LEN(EVP_MAX_MD_SIZE) + 1];
    const EVP_MD *md = EVP_get_digestbyname(s->row->digest);

    mj_outcome o = parse_server_first(s, m, len, &sf, err);
    if (o == MJ_OK)
        o = check_server_first(s, &sf, err);
    if (o == MJ_OK)
        o = decode_salt(s, &sf, salt, &salt_len, err);
    if (o == MJ_OK)
        o = put_client_final_bare(s, &sf, err);
    const char *comma = ",";
    if (o == MJ_OK)
        o = authmsg_put(s, comma, 1, err);
    if (o == MJ_OK)
        o = authmsg_put(s, m, len, err);
    if (o == MJ_OK)
        o = authmsg_put(s, comma, 1, err);
    if (o == MJ_OK)
        o = authmsg_put(s, s->raw, s->raw_len, err);
    if (o != MJ_OK)
        return o;
    if (md == NULL || !scram_compute(s, md, salt, salt_len, sf.iterations, &k))
        o = mj_error_set(err, MJ_INTERNAL, MJ_R_SYSTEM, "SASL %s: crypto failed", s->row->name);
    if (o == MJ_OK)
        o = mj_b64_encode(k.proof, s->server_sig_len, p_b64, sizeof p_b64, &p_len, err);
    if (o == MJ_OK)
        o = sasl_puts(s, ",p=", err);
    if (o == MJ_OK)
        o = sasl_put(s, p_b64, p_len, err);
    OPENSSL_cleanse(&k, sizeof k);
    OPENSSL_cleanse(p_b64, sizeof p_b64);
    return o;
}

/* server-final-message = (server-error / verifier) ["," extensions] */
static mj_outcome check_server_final(mj_sasl *s, const char *m, size_t len, mj_error *err)
{
    const char *p = m, *end = m + len, *v;
    size_t vlen, sig_len = 0;
    unsigned char sig[EVP_MAX_MD_SIZE + 3];
    char reason[128];

    if (take_attr(&p, end, 'e', &v, &vlen))
        return mj_error_set(err, MJ_AUTH_FAILED, MJ_R_NONE, "SASL %s: the server said e=%s",
                            s->row->name, mj_escape(v, vlen, reason, sizeof reason));
    if (!take_attr(&p, end, 'v', &v, &vlen) || !valid_extensions(p, end))
        return malformed(s, err, "server-final-message has neither v= nor e=");
    if (vlen > MJ_B64_ENCODED_LEN(EVP_MAX_MD_SIZE) ||
        mj_b64_decode(v, vlen, sig, sizeof sig, &sig_len, NULL) != MJ_OK)
        return malformed(s, err, "the server signature is not valid base64");
    if (sig_len != s->server_sig_len || CRYPTO_memcmp(sig, s->server_sig, sig_len) != 0)
        return refused(s, err,
                       "the server signature does not verify: the server does not "
                       "know the password");
    s->complete = 1;
    return MJ_OK;
}

static mj_outcome as_text(mj_sasl *s, const unsigned char *c, size_t len, mj_error *err)
{
    if (memchr(c, '\0', len) != NULL)
        return malformed(s, err, "NUL byte in a SCRAM message");
    return MJ_OK;
}

mj_outcome sasl_scram_challenge(struct mj_sasl *s, const unsigned char *c, size_t len,
                                mj_error *err)
{
    mj_outcome o = as_text(s, c, len, err);
    if (o != MJ_OK)
        return o;
    switch (s->phase++) {
    case 0:
        return answer_server_first(s, (const char *)c, len, err);
    case 1:
        return check_server_final(s, (const char *)c, len, err); /* reply: empty */
    default:
        return malformed(s, err, "a challenge after the server-final-message");
    }
}

mj_outcome sasl_scram_final(struct mj_sasl *s, const unsigned char *data, size_t len, mj_error *err)
{
    if (s->phase == 0)
        return mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_MALFORMED,
                            "SASL %s: the server reported success before the exchange was "
                            "complete",
                            s->row->name);
    if (data != NULL && len > 0) {
        if (s->complete)
            return malformed(s, err, "a second server-final-message with success");
        mj_outcome o = as_text(s, data, len, err);
        return o == MJ_OK ? check_server_final(s, (const char *)data, len, err) : o;
    }
    if (!s->complete)
        return refused(s, err,
                       "the server reported success without proving it knows the "
                       "password (no v=)");
    return MJ_OK;
}
