/*
 * choose.c: which SASL mechanism to use, and the credential policy
 * (SECURITY-CASES #55-#60; RFC 2595 §2.3, RFC 8314 §5).
 *
 * The preference order is the client's (pref_order below), never the
 * server's.  Secret-exposing mechanisms need a verified TLS channel unless
 * the caller opted in; after a failure nothing weaker than what failed is
 * tried, so a server cannot talk the client down.
 */
#include <stddef.h>

#include <string.h>

#include "sasl_internal.h"

/* Strongest first; see mj_sasl_choose in mailjig/sasl.h for the reasons. */
static const mj_sasl_mech pref_order[] = {
    MJ_SASL_OAUTHBEARER,
    MJ_SASL_XOAUTH2,
    MJ_SASL_SCRAM_SHA_512_PLUS,
    MJ_SASL_SCRAM_SHA_256_PLUS,
    MJ_SASL_SCRAM_SHA_1_PLUS,
    MJ_SASL_SCRAM_SHA_512,
    MJ_SASL_SCRAM_SHA_256,
    MJ_SASL_SCRAM_SHA_1,
    MJ_SASL_CRAM_MD5,
    MJ_SASL_PLAIN,
    MJ_SASL_LOGIN,
};

int mj_sasl_cleartext_allowed(mj_tls_state tls, const mj_sasl_policy *policy)
{
    return tls == MJ_TLS_VERIFIED || (policy != NULL && policy->allow_insecure_auth);
}

mj_outcome mj_sasl_creds_check_lines(const mj_sasl_creds *creds, mj_error *err)
{
    static const char *const names[] = {"user name", "password", "authorization identity"};
    const char *values[] = {creds->username, creds->password, creds->authzid};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (values[i] != NULL && strpbrk(values[i], "\r\n") != NULL)
            return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                                "the %s holds CR or LF; nothing was sent", names[i]);
    }
    return MJ_OK;
}

static int given(const char *str)
{
    return str != NULL && str[0] != '\0';
}

/* The credentials and channel the mechanism needs are there. */
static int usable(mj_sasl_mech m, const mj_sasl_choice *c, const mj_sasl_creds *creds)
{
    unsigned needs = sasl_mech_row(m)->needs;
    return !((needs & SASL_NEED_USER) && !given(creds->username)) &&
           !((needs & SASL_NEED_PASSWORD) && !given(creds->password)) &&
           !((needs & SASL_NEED_TOKEN) && !given(creds->token)) &&
           !((needs & SASL_NEED_CB) && !c->channel_binding);
}

static mj_outcome choose_forced(const mj_sasl_choice *c, const mj_sasl_policy *p,
                                const mj_sasl_creds *creds, mj_sasl_mech *mech_out, mj_error *err)
{
    mj_sasl_mech m = c->forced;
    const struct sasl_mech_row *row = sasl_mech_row(m);
    if (row == NULL || (p->disabled & MJ_SASL_BIT(m)))
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "SASL: the forced mechanism %s is unknown or disabled",
                            mj_sasl_mech_name(m));
    if (!(c->server_mechs & MJ_SASL_BIT(m)))
        return mj_error_set(err, MJ_AUTH_UNSUPPORTED, MJ_R_NONE,
                            "SASL: the server does not offer %s", row->name);
    if ((row->needs & SASL_NEED_CB) && !c->channel_binding)
        return mj_error_set(err, MJ_AUTH_UNSUPPORTED, MJ_R_NONE,
                            "SASL: %s needs channel binding, which this connection does "
                            "not provide",
                            row->name);
    if (!usable(m, c, creds))
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "SASL: %s needs credentials that were not given", row->name);
    if (row->cls == MJ_SASL_CLASS_CLEARTEXT && !mj_sasl_cleartext_allowed(c->tls, p))
        return mj_error_set(err, MJ_CLEARTEXT_REFUSED, MJ_R_NONE,
                            "SASL: %s would expose the credentials on a connection without "
                            "verified TLS (allow_insecure_auth is off)",
                            row->name);
    *mech_out = m;
    return MJ_OK;
}

mj_outcome mj_sasl_choose(const mj_sasl_choice *choice, const mj_sasl_policy *policy,
                          const mj_sasl_creds *creds, mj_sasl_mech *mech_out, mj_error *err)
{
    static const mj_sasl_policy default_policy;
    static const mj_sasl_creds no_creds;
    const mj_sasl_policy *p = policy != NULL ? policy : &default_policy;
    const mj_sasl_creds *cr = creds != NULL ? creds : &no_creds;
    int refused = 0;

    *mech_out = MJ_SASL_NONE;
    if (choice->forced != MJ_SASL_NONE)
        return choose_forced(choice, p, cr, mech_out, err);
    for (size_t i = 0; i < sizeof pref_order / sizeof pref_order[0]; i++) {
        mj_sasl_mech m = pref_order[i];
        mj_sasl_set bit = MJ_SASL_BIT(m);
        if (!(choice->server_mechs & bit) || ((choice->tried | p->disabled) & bit) ||
            mj_sasl_mech_class(m) < choice->floor || !usable(m, choice, cr))
            continue;
        if (mj_sasl_mech_class(m) == MJ_SASL_CLASS_CLEARTEXT &&
            !mj_sasl_cleartext_allowed(choice->tls, p)) {
            refused = 1;
            continue;
        }
        *mech_out = m;
        return MJ_OK;
    }
    if (refused)
        return mj_error_set(err, MJ_CLEARTEXT_REFUSED, MJ_R_NONE,
                            "SASL: every usable mechanism the server offers would expose the "
                            "credentials on a connection without verified TLS "
                            "(allow_insecure_auth is off)");
    return mj_error_set(err, MJ_AUTH_UNSUPPORTED, MJ_R_NONE,
                        "SASL: no mechanism the server offers is usable with the given "
                        "credentials");
}

mj_outcome mj_sasl_choose_after_failure(mj_sasl_choice *choice, mj_sasl_mech failed,
                                        const mj_sasl_policy *policy, const mj_sasl_creds *creds,
                                        mj_sasl_mech *mech_out, mj_error *err)
{
    *mech_out = MJ_SASL_NONE;
    choice->tried |= MJ_SASL_BIT(failed);
    if (mj_sasl_mech_class(failed) > choice->floor)
        choice->floor = mj_sasl_mech_class(failed);
    if (choice->forced != MJ_SASL_NONE)
        return mj_error_set(err, MJ_AUTH_FAILED, MJ_R_NONE,
                            "SASL: the forced mechanism %s failed; no fallback",
                            mj_sasl_mech_name(failed));
    mj_outcome o = mj_sasl_choose(choice, policy, creds, mech_out, err);
    if (o == MJ_AUTH_UNSUPPORTED || o == MJ_CLEARTEXT_REFUSED)
        return mj_error_set(err, MJ_AUTH_FAILED, MJ_R_NONE,
                            "SASL: %s failed and no mechanism at least as strong is left "
                            "that the policy allows",
                            mj_sasl_mech_name(failed));
    return o;
}
