/*
 * mech_simple.c: SASL mechanisms without server authentication:
 * PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login-00), CRAM-MD5
 * (RFC 2195), ANONYMOUS (RFC 4505) and EXTERNAL (RFC 4422 appendix A).
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "sasl_internal.h"

/* message = [authzid] NUL authcid NUL passwd  (RFC 4616 §2) */
mj_outcome sasl_plain_start(struct mj_sasl *s, mj_error *err)
{
    static const char nul = '\0';
    mj_outcome o = sasl_puts(s, s->authzid != NULL ? s->authzid : "", err);
    if (o == MJ_OK)
        o = sasl_put(s, &nul, 1, err);
    if (o == MJ_OK)
        o = sasl_puts(s, s->username, err);
    if (o == MJ_OK)
        o = sasl_put(s, &nul, 1, err);
    if (o == MJ_OK)
        o = sasl_puts(s, s->password, err);
    return o;
}

/*
 * LOGIN: the server prompts twice ("Username:", "Password:", or anything
 * else: servers localise and vary them), so the answer follows the order of
 * the prompts, never their text.
 */
mj_outcome sasl_login_challenge(struct mj_sasl *s, const unsigned char *c, size_t len,
                                mj_error *err)
{
    (void)c;
    (void)len;
    switch (s->phase++) {
    case 0:
        return sasl_puts(s, s->username, err);
    case 1:
        s->complete = 1;
        return sasl_puts(s, s->password, err);
    default:
        return mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_MALFORMED,
                            "SASL LOGIN: a third challenge after the password");
    }
}

/* CRAM-MD5 response: username SP lower-hex HMAC-MD5(password, challenge). */
mj_outcome sasl_cram_challenge(struct mj_sasl *s, const unsigned char *c, size_t len, mj_error *err)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char mac[EVP_MAX_MD_SIZE];
    char text[2 * EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;

    if (s->phase++ != 0)
        return mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_MALFORMED,
                            "SASL CRAM-MD5: a second challenge after the response");
    if (len == 0)
        return mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_MALFORMED,
                            "SASL CRAM-MD5: empty challenge");
    if (HMAC(EVP_md5(), s->password, (int)strlen(s->password), c, len, mac, &mac_len) == NULL)
        return mj_error_set(err, MJ_INTERNAL, MJ_R_SYSTEM, "SASL CRAM-MD5: HMAC-MD5 failed");
    for (unsigned int i = 0; i < mac_len; i++) {
        text[2 * i] = hex[mac[i] >> 4];
        text[2 * i + 1] = hex[mac[i] & 0xF];
    }
    mj_outcome o = sasl_puts(s, s->username, err);
    if (o == MJ_OK)
        o = sasl_put(s, " ", 1, err);
    if (o == MJ_OK)
        o = sasl_put(s, text, 2 * (size_t)mac_len, err);
    OPENSSL_cleanse(mac, sizeof mac);
    OPENSSL_cleanse(text, sizeof text);
    s->complete = 1;
    return o;
}

/* ANONYMOUS: the trace string, possibly empty (RFC 4505 §2). */
mj_outcome sasl_anonymous_start(struct mj_sasl *s, mj_error *err)
{
    return sasl_puts(s, s->trace != NULL ? s->trace : "", err);
}

/* EXTERNAL: the authorization identity, or empty to derive it from the
 * client certificate. */
mj_outcome sasl_external_start(struct mj_sasl *s, mj_error *err)
{
    return sasl_puts(s, s->authzid != NULL ? s->authzid : "", err);
}
