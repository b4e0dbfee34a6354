/*
 * mech_scram.c: SCRAM-SHA-1, -SHA-256, -SHA-512 and their -PLUS variants on
 * the server side.  RFC 5802 (the exchange, section 7 grammar), RFC 7677
 * (SHA-256); SHA-512 by the same rules.  Channel binding (RFC 5929 / 9266)
 * only with data the core puts in the configuration.
 *
 *   client-first = gs2-header "n=" saslname ",r=" c-nonce ["," extensions]
 *   server-first = "r=" c-nonce s-nonce ",s=" salt ",i=" iteration-count
 *   client-final = "c=" base64(gs2-header [cb-data]) ",r=" nonce
 *                  ["," extensions] ",p=" base64(ClientProof)
 *   server-final = "v=" base64(ServerSignature) / "e=" server-error-value
 */
#include "sasl/sasl_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/hmac.h>

/* printf into a fresh string; NULL when out of memory. */
static char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = malloc((size_t)n + 1);
    if (!p)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void fk_scram_clear(fk_scram *sc)
{
    free(sc->gs2);
    free(sc->first_bare);
    free(sc->server_first);
    free(sc->nonce);
    memset(sc, 0, sizeof *sc);
}

/* printable ASCII except "," (RFC 5802 "printable"), at least one. */
static bool nonce_ok(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] < 0x21 || p[i] > 0x7e || p[i] == ',')
            return false;
    return len > 0;
}

/* Length of the attribute value at p (up to the next ',' or end). */
static size_t attr_len(const char *p, const char *end)
{
    const char *c = memchr(p, ',', (size_t)(end - p));
    return (size_t)((c ? c : end) - p);
}

/* The channel binding rules of RFC 5802 section 6 as this fake server has them. */
static bool cb_ok(fk_sasl_server *s, fk_mres *r, const fk_gs2 *g)
{
    if (g->flag != 'p')
        return true; /* "n" and "y" are accepted, with or without -PLUS (no cb data here) */
    snprintf(s->cb_type, sizeof s->cb_type, "%.*s",
             (int)(g->cb_name_len < sizeof s->cb_type ? g->cb_name_len : sizeof s->cb_type - 1),
             g->cb_name);
    s->has_cb_type = true;
    if (!s->mech->plus)
        fk_sasl_failf(s, r, FK_SASL_R_CHANNEL_BINDING,
                      "p=%s with %s, which is not a -PLUS mechanism", s->cb_type, s->mech->name);
    else if (!s->cfg.cb_data)
        fk_sasl_failf(s, r, FK_SASL_R_CHANNEL_BINDING,
                      "channel binding not supported by this fake server (client asked for p=%s)",
                      s->cb_type);
    else if (s->cfg.cb_type && strcmp(s->cfg.cb_type, s->cb_type) != 0)
        fk_sasl_failf(s, r, FK_SASL_R_CHANNEL_BINDING,
                      "client asked for p=%s, the connection offers %s", s->cb_type,
                      s->cfg.cb_type);
    else
        return true;
    return false;
}

/* Parse client-first-bare into the user (decoded) and the client nonce. */
static bool parse_bare(fk_sasl_server *s, fk_mres *r, const char *p, const char *end, char *user,
                       size_t *user_len, const char **nonce, size_t *nonce_len)
{
    if (end - p >= 2 && p[0] == 'm' && p[1] == '=') {
        fk_sasl_failf(s, r, FK_SASL_R_MALFORMED, "SCRAM: mandatory extension m= not supported");
        return false;
    }
    size_t n = end - p >= 2 && p[0] == 'n' && p[1] == '=' ? attr_len(p + 2, end) : 0;
    if (n == 0 || !fk_saslname_decode(p + 2, n, user, FK_SASL_USER_MAX, user_len)) {
        fk_sasl_failf(s, r, FK_SASL_R_MALFORMED, "SCRAM client-first: expected n=USER (saslname)");
        return false;
    }
    p += 2 + n;
    *nonce = p + 3;
    *nonce_len = end - p >= 3 && memcmp(p, ",r=", 3) == 0 ? attr_len(p + 3, end) : 0;
    if (!nonce_ok(*nonce, *nonce_len)) {
        fk_sasl_failf(s, r, FK_SASL_R_MALFORMED, "SCRAM client-first: expected ,r=NONCE after n=");
        return false;
    }
    return true;
}

static bool authzid_ok(fk_sasl_server *s, fk_mres *r, const fk_gs2 *g, const char *user)
{
    char a[FK_SASL_USER_MAX];
    size_t alen = 0;
    if (!g->authzid || g->authzid_len == 0)
        return true;
    if (!fk_saslname_decode(g->authzid, g->authzid_len, a, sizeof a, &alen)) {
        fk_sasl_failf(s, r, FK_SASL_R_MALFORMED, "SCRAM gs2 header: bad a= saslname");
        return false;
    }
    if (strcmp(a, user) == 0)
        return true;
    char shown[96];
    fk_sasl_failf(s, r, FK_SASL_R_AUTHZID, "authorization identity \"%s\" is not the user",
                  fk_sasl_printable(a, alen, shown, sizeof shown));
    return false;
}

/* The r= the server sends: the real nonce, or for the scripted failure one
 * that does not start with the client's. */
static char *sent_nonce(const fk_sasl_server *s, const char *cn, size_t cn_len)
{
    const char *suffix = s->cfg.scram_nonce_suffix;
    if (s->cfg.fail != FK_SASL_FAIL_SCRAM_FOREIGN_NONCE)
        return xprintf("%.*s%s", (int)cn_len, cn, suffix);
    if (strncmp(suffix, cn, cn_len) != 0)
        return xprintf("%s", suffix);
    return xprintf("%c%s", cn[0] == 'A' ? 'B' : 'A', suffix);
}

static int send_server_first(fk_sasl_server *s, fk_mres *r, const char *cn, size_t cn_len)
{
    fk_scram *sc = &s->scram;
    char salt[4 * ((FK_SASL_SCRAM_SALT_MAX + 2) / 3) + 1];
    EVP_EncodeBlock((unsigned char *)salt, s->cfg.scram_salt, (int)s->cfg.scram_salt_len);
    bool huge = s->cfg.fail == FK_SASL_FAIL_SCRAM_HUGE_ITERATIONS;
    char *r_sent = sent_nonce(s, cn, cn_len);
    sc->nonce = xprintf("%.*s%s", (int)cn_len, cn, s->cfg.scram_nonce_suffix);
    if (r_sent && sc->nonce)
        sc->server_first = xprintf("r=%s,s=%s,i=%u", r_sent, salt,
                                   huge ? FK_SASL_SCRAM_HUGE_ITERATIONS : s->cfg.scram_iterations);
    free(r_sent);
    if (!sc->server_first || fk_sasl_challenge(s, r, sc->server_first, strlen(sc->server_first)))
        return -1;
    s->mstage = 1;
    if (huge || s->cfg.fail == FK_SASL_FAIL_SCRAM_FOREIGN_NONCE) {
        r->kind = FK_M_BAIT;
        r->rule = FK_BAIT_CANCEL;
        r->reason = FK_SASL_R_CANCELLED;
        r->direct = FK_SASL_CHALLENGE;
        r->what = huge ? "an iteration count of 2147483647" : "a nonce not extending the client's";
    }
    return 0;
}

static int client_first(fk_sasl_server *s, fk_mres *r)
{
    const char *msg = (const char *)s->in, *end = msg + s->in_len;
    fk_gs2 g;
    const char *why = fk_gs2_parse(msg, s->in_len, &g);
    if (why)
        return fk_sasl_failf(s, r, FK_SASL_R_MALFORMED, "SCRAM client-first: %s", why);
    char user[FK_SASL_USER_MAX];
    size_t user_len = 0, cn_len = 0;
    const char *cn = NULL;
    if (!parse_bare(s, r, msg + g.len, end, user, &user_len, &cn, &cn_len) ||
        !authzid_ok(s, r, &g, user) || !cb_ok(s, r, &g) ||
        !fk_sasl_user_record(s, r, user, user_len))
        return 0;
    fk_scram *sc = &s->scram;
    sc->user_ok = fk_sasl_user_matches(s, user, user_len);
    sc->cb_used = g.flag == 'p';
    sc->gs2 = xprintf("%.*s", (int)g.len, msg);
    sc->first_bare = xprintf("%s", msg + g.len);
    if (!sc->gs2 || !sc->first_bare)
        return -1;
    return send_server_first(s, r, cn, cn_len);
}

/* The parts of client-final-message. */
typedef struct final_msg {
    const char *c, *r, *p; /* attribute values */
    size_t c_len, r_len, p_len;
    size_t without_proof; /* length of client-final-message-without-proof */
} final_msg;

static const char *parse_final(const char *msg, size_t len, final_msg *f)
{
    const char *end = msg + len, *p = NULL;
    for (const char *q = msg; q + 3 <= end; q++) /* the last ",p=": the proof ends the message */
        if (memcmp(q, ",p=", 3) == 0)
            p = q;
    if (len < 2 || memcmp(msg, "c=", 2) != 0)
        return "expected c= first";
    if (!p)
        return "expected ,p=PROOF last";
    f->c = msg + 2;
    f->c_len = attr_len(f->c, end);
    const char *rr = f->c + f->c_len;
    if (end - rr < 3 || memcmp(rr, ",r=", 3) != 0 || rr >= p)
        return "expected ,r=NONCE after c=";
    f->r = rr + 3;
    f->r_len = attr_len(f->r, end);
    f->p = p + 3;
    f->p_len = (size_t)(end - f->p);
    f->without_proof = (size_t)(p - msg);
    return NULL;
}

/* c= must be base64(gs2-header [cb-data]) exactly. */
static bool binding_ok(fk_sasl_server *s, fk_mres *r, const final_msg *f)
{
    const fk_scram *sc = &s->scram;
    size_t gl = strlen(sc->gs2), cl = sc->cb_used ? s->cfg.cb_data_len : 0, got_len = 0;
    unsigned char *got = malloc(f->c_len + 1);
    bool ok = got && fk_b64_decode(f->c, f->c_len, got, f->c_len, &got_len) == 0 &&
              got_len == gl + cl && memcmp(got, sc->gs2, gl) == 0 &&
              (cl == 0 || memcmp(got + gl, s->cfg.cb_data, cl) == 0);
    free(got);
    if (!ok)
        fk_sasl_failf(s, r, FK_SASL_R_CHANNEL_BINDING,
                      "SCRAM client-final: c= is not base64 of the gs2 header%s",
                      sc->cb_used ? " and the channel binding data" : "");
    return ok;
}

/* The SCRAM keys of RFC 5802 section 3, all mdlen bytes. */
typedef struct scram_keys {
    unsigned char salted[EVP_MAX_MD_SIZE], client_key[EVP_MAX_MD_SIZE];
    unsigned char stored[EVP_MAX_MD_SIZE], client_sig[EVP_MAX_MD_SIZE];
    unsigned char server_key[EVP_MAX_MD_SIZE], server_sig[EVP_MAX_MD_SIZE];
    unsigned char check[EVP_MAX_MD_SIZE];
} scram_keys;

static bool hmac(const EVP_MD *md, const unsigned char *key, int klen, const void *data, size_t len,
                 unsigned char *out)
{
    return HMAC(md, key, klen, data, len, out, NULL) != NULL;
}

/* Verify proof (mdlen bytes) over auth (the AuthMessage); k->server_sig on success. */
static int scram_verify(fk_sasl_server *s, const unsigned char *proof, const char *auth,
                        scram_keys *k, bool *match)
{
    const EVP_MD *md = s->mech->md();
    int ml = EVP_MD_get_size(md);
    const char *pw = s->cfg.password;
    if (ml <= 0 ||
        PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), s->cfg.scram_salt, (int)s->cfg.scram_salt_len,
                          (int)s->cfg.scram_iterations, md, ml, k->salted) != 1 ||
        !hmac(md, k->salted, ml, "Client Key", 10, k->client_key) ||
        EVP_Digest(k->client_key, (size_t)ml, k->stored, NULL, md, NULL) != 1 ||
        !hmac(md, k->stored, ml, auth, strlen(auth), k->client_sig) ||
        !hmac(md, k->salted, ml, "Server Key", 10, k->server_key) ||
        !hmac(md, k->server_key, ml, auth, strlen(auth), k->server_sig))
        return -1;
    /* ClientKey = ClientProof XOR ClientSignature; its hash must be StoredKey. */
    for (int i = 0; i < ml; i++)
        k->client_key[i] = proof[i] ^ k->client_sig[i];
    if (EVP_Digest(k->client_key, (size_t)ml, k->check, NULL, md, NULL) != 1)
        return -1;
    *match = CRYPTO_memcmp(k->check, k->stored, (size_t)ml) == 0;
    return 0;
}

/* server-final as the configuration wants it: v=, a wrong v=, or e=. */
static int send_server_final(fk_sasl_server *s, fk_mres *r, scram_keys *k)
{
    int ml = EVP_MD_get_size(s->mech->md());
    char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    if (s->cfg.fail == FK_SASL_FAIL_SCRAM_BAD_SIGNATURE)
        k->server_sig[0] ^= 0xFF;
    EVP_EncodeBlock((unsigned char *)b64, k->server_sig, ml);
    char *final = s->cfg.fail == FK_SASL_FAIL_SCRAM_ERROR ? xprintf("e=%s", s->cfg.scram_error)
                                                          : xprintf("v=%s", b64);
    if (!final || fk_sasl_out_b64(s, final, strlen(final)) != 0) {
        free(final);
        return -1;
    }
    free(final);
    r->has_data = true;
    r->kind = FK_M_VERIFIED;
    if (s->cfg.fail == FK_SASL_FAIL_SCRAM_BAD_SIGNATURE) {
        r->kind = FK_M_BAIT;
        r->rule = FK_BAIT_CANCEL;
        r->reason = FK_SASL_R_CANCELLED;
        r->direct = FK_SASL_SUCCESS;
        r->what = "a wrong server signature";
    } else if (s->cfg.fail == FK_SASL_FAIL_SCRAM_ERROR) {
        r->kind = FK_M_BAIT;
        r->rule = FK_BAIT_ANY;
        r->reason = FK_SASL_R_SERVER_ERROR;
        r->direct = FK_SASL_FAILURE;
        r->what = "a SCRAM server error (e=)";
    }
    return 0;
}

static int check_proof(fk_sasl_server *s, fk_mres *r, const final_msg *f)
{
    int ml = EVP_MD_get_size(s->mech->md());
    unsigned char proof[EVP_MAX_MD_SIZE + 3];
    size_t plen = 0;
    if (fk_b64_decode(f->p, f->p_len, proof, sizeof proof, &plen) != 0 || plen != (size_t)ml)
        return fk_sasl_failf(s, r, FK_SASL_R_MALFORMED,
                             "SCRAM client-final: the proof is not base64 of %d bytes", ml);
    const fk_scram *sc = &s->scram;
    char *auth = xprintf("%s,%s,%.*s", sc->first_bare, sc->server_first, (int)f->without_proof,
                         (const char *)s->in);
    scram_keys k;
    bool match = false;
    int rc = auth ? scram_verify(s, proof, auth, &k, &match) : -1;
    free(auth);
    if (rc == 0 && !match)
        fk_sasl_failf(s, r, FK_SASL_R_WRONG_PASSWORD,
                      "wrong password (client proof) for user \"%s\"", s->user);
    if (rc == 0 && match)
        rc = send_server_final(s, r, &k);
    OPENSSL_cleanse(&k, sizeof k);
    return rc;
}

static int client_final(fk_sasl_server *s, fk_mres *r)
{
    final_msg f;
    const char *why = parse_final((const char *)s->in, s->in_len, &f);
    if (why)
        return fk_sasl_failf(s, r, FK_SASL_R_MALFORMED, "SCRAM client-final: %s", why);
    if (!binding_ok(s, r, &f))
        return 0;
    if (f.r_len != strlen(s->scram.nonce) || memcmp(f.r, s->scram.nonce, f.r_len) != 0)
        return fk_sasl_failf(s, r, FK_SASL_R_MALFORMED,
                             "SCRAM client-final: r= is not the nonce the server sent");
    if (!s->scram.user_ok)
        return fk_sasl_user_judge(s, r) ? -1 : 0;
    return check_proof(s, r, &f);
}

/* mstage: 0 waiting for client-first, 1 for client-final. */
int fk_mech_scram_input(fk_sasl_server *s, fk_mres *r)
{
    if (memchr(s->in, '\0', s->in_len))
        return fk_sasl_failf(s, r, FK_SASL_R_MALFORMED, "SCRAM message holds a NUL byte");
    return s->mstage == 0 ? client_first(s, r) : client_final(s, r);
}
