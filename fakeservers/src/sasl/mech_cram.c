/*
 * mech_cram.c: CRAM-MD5 on the server side, RFC 2195.  The server sends a
 * msg-id-like timestamp; the client answers "user SP digest", digest being
 * HMAC-MD5(password, challenge) in 32 lowercase hex digits (RFC 2195 section
 * 2: "represented as lowercase hex").  No initial response exists.
 */
#include "sasl/sasl_internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#define CRAM_DIGEST_HEX 32

/* mstage: 0 before the challenge went out, 1 after. */
int fk_mech_cram_start(fk_sasl_server *s, fk_mres *r)
{
    if (s->cfg.cram_challenge) {
        snprintf(s->cram, sizeof s->cram, "%s", s->cfg.cram_challenge);
    } else {
        unsigned int rnd;
        if (RAND_bytes((unsigned char *)&rnd, sizeof rnd) != 1)
            return -1;
        snprintf(s->cram, sizeof s->cram, "<%u.%lld@mjfake.invalid>", rnd, (long long)time(NULL));
    }
    s->mstage = 1;
    return fk_sasl_challenge(s, r, s->cram, strlen(s->cram));
}

static void to_hex(const unsigned char *p, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * len] = '\0';
}

int fk_mech_cram_input(fk_sasl_server *s, fk_mres *r)
{
    if (s->mstage == 0)
        return fk_sasl_failf(s, r, FK_SASL_R_MALFORMED, "CRAM-MD5 takes no initial response");
    const char *msg = (const char *)s->in;
    size_t len = s->in_len;
    /* The digest is the last word: a user name may hold spaces. */
    if (len < CRAM_DIGEST_HEX + 2 || msg[len - CRAM_DIGEST_HEX - 1] != ' ')
        return fk_sasl_failf(s, r, FK_SASL_R_MALFORMED,
                             "CRAM-MD5: expected \"user SP 32 lowercase hex digits\"");
    const char *digest = msg + len - CRAM_DIGEST_HEX;
    for (size_t i = 0; i < CRAM_DIGEST_HEX; i++)
        if (!strchr("0123456789abcdef", digest[i]) || !digest[i])
            return fk_sasl_failf(s, r, FK_SASL_R_MALFORMED,
                                 "CRAM-MD5: the digest is not 32 lowercase hex digits");
    if (!fk_sasl_user_ok(s, r, msg, len - CRAM_DIGEST_HEX - 1))
        return 0;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    const char *pw = s->cfg.password;
    if (!HMAC(EVP_md5(), pw, (int)strlen(pw), (const unsigned char *)s->cram, strlen(s->cram), mac,
              &mac_len) ||
        mac_len != CRAM_DIGEST_HEX / 2)
        return -1;
    char want[CRAM_DIGEST_HEX + 1];
    to_hex(mac, mac_len, want);
    OPENSSL_cleanse(mac, sizeof mac);
    if (CRYPTO_memcmp(want, digest, CRAM_DIGEST_HEX) != 0)
        return fk_sasl_failf(s, r, FK_SASL_R_WRONG_PASSWORD,
                             "wrong CRAM-MD5 digest for user \"%s\"", s->user);
    r->kind = FK_M_VERIFIED;
    return 0;
}
