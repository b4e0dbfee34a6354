/*
 * mech_simple.c: the server side of the one-message mechanisms and LOGIN.
 * RFC 4616 (PLAIN: [authzid] NUL authcid NUL passwd), draft-murchison-sasl-
 * login-00 (LOGIN: "Username:", "Password:"), RFC 4505 (ANONYMOUS: a trace
 * of up to 255 characters), RFC 4422 appendix A (EXTERNAL: an authzid; the
 * identity itself comes from TLS, which is the core's business).
 */
#include "sasl/sasl_internal.h"

#include <string.h>

#define ANONYMOUS_TRACE_MAX 255 /* RFC 4505 section 3: characters, not bytes */

/* Mechanisms whose first challenge, without an initial response, is empty. */
int fk_mech_empty_start(fk_sasl_server *s, fk_mres *r)
{
    return fk_sasl_challenge(s, r, "", 0);
}

/* authzid: must be empty or name the user itself (mjfake has no proxy users). */
static bool authzid_ok(fk_sasl_server *s, fk_mres *r, const char *authzid, size_t len,
                       const char *user, size_t user_len)
{
    if (len == 0 || (len == user_len && memcmp(authzid, user, len) == 0))
        return true;
    char a[96], u[96];
    fk_sasl_failf(s, r, FK_SASL_R_AUTHZID, "authorization identity \"%s\" is not the user \"%s\"",
                  fk_sasl_printable(authzid, len, a, sizeof a),
                  fk_sasl_printable(user, user_len, u, sizeof u));
    return false;
}

int fk_mech_plain_input(fk_sasl_server *s, fk_mres *r)
{
    const char *msg = (const char *)s->in, *end = msg + s->in_len;
    const char *nul1 = memchr(msg, '\0', s->in_len);
    const char *nul2 = nul1 ? memchr(nul1 + 1, '\0', (size_t)(end - nul1 - 1)) : NULL;
    if (!nul2 || memchr(nul2 + 1, '\0', (size_t)(end - nul2 - 1)) || nul2 == nul1 + 1)
        return fk_sasl_failf(s, r, FK_SASL_R_MALFORMED,
                             "PLAIN: expected [authzid] NUL authcid NUL password, with an authcid");
    const char *user = nul1 + 1, *pass = nul2 + 1;
    size_t user_len = (size_t)(nul2 - user);
    if (authzid_ok(s, r, msg, (size_t)(nul1 - msg), user, user_len) &&
        fk_sasl_user_ok(s, r, user, user_len) &&
        fk_sasl_secret_ok(s, r, pass, (size_t)(end - pass)))
        r->kind = FK_M_VERIFIED;
    return 0;
}

/* LOGIN's mstage: 0 before the user name, 1 after it. */
int fk_mech_login_start(fk_sasl_server *s, fk_mres *r)
{
    return fk_sasl_challenge(s, r, "Username:", 9);
}

int fk_mech_login_input(fk_sasl_server *s, fk_mres *r)
{
    const char *msg = (const char *)s->in;
    if (s->mstage == 0) {
        /* Judge the user only with the password, as real servers do. */
        if (!fk_sasl_user_record(s, r, msg, s->in_len))
            return 0;
        s->mstage = 1;
        return fk_sasl_challenge(s, r, "Password:", 9);
    }
    if (fk_sasl_user_judge(s, r) && fk_sasl_secret_ok(s, r, msg, s->in_len))
        r->kind = FK_M_VERIFIED;
    return 0;
}

/* Characters of UTF-8 text: the bytes that do not continue a sequence. */
static size_t utf8_chars(const unsigned char *p, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += (p[i] & 0xC0) != 0x80;
    return n;
}

int fk_mech_anonymous_input(fk_sasl_server *s, fk_mres *r)
{
    if (utf8_chars(s->in, s->in_len) > ANONYMOUS_TRACE_MAX)
        return fk_sasl_failf(s, r, FK_SASL_R_MALFORMED,
                             "ANONYMOUS: trace longer than %d characters", ANONYMOUS_TRACE_MAX);
    if (fk_sasl_user_ok(s, r, (const char *)s->in, s->in_len))
        r->kind = FK_M_VERIFIED;
    return 0;
}

/*
 * EXTERNAL.  With tls_identity the server is a real one: no verified client
 * certificate, no identity; an empty authzid means "the certificate's CN".
 */
int fk_mech_external_input(fk_sasl_server *s, fk_mres *r)
{
    const char *authzid = (const char *)s->in;
    const char *tls_cn = s->cfg.tls_cn;
    if (s->cfg.tls_identity && tls_cn == NULL)
        return fk_sasl_failf(s, r, FK_SASL_R_NO_CLIENT_CERT,
                             "EXTERNAL: no client certificate");
    bool from_cert = s->cfg.tls_identity && s->in_len == 0;
    const char *id = from_cert ? tls_cn : authzid;
    size_t id_len = from_cert ? strlen(tls_cn) : s->in_len;
    if (!fk_sasl_user_record(s, r, id, id_len))
        return 0;
    const char *user = s->cfg.user;
    if (from_cert) {
        if (fk_sasl_user_judge(s, r))
            r->kind = FK_M_VERIFIED;
        return 0;
    }
    /* Without TLS identity, empty is "the identity TLS proves", not judged here. */
    if (!user || authzid_ok(s, r, authzid, s->in_len, user, strlen(user)))
        r->kind = FK_M_VERIFIED;
    return 0;
}
