/*
 * mech_oauth.c: XOAUTH2 (Google's format, developers.google.com/gmail/imap/
 * xoauth2-protocol) and OAUTHBEARER (RFC 7628) on the server side.
 *
 *   XOAUTH2:     "user=" user ^A "auth=Bearer " token ^A ^A
 *   OAUTHBEARER: gs2-header ^A *(key "=" value ^A) ^A, with auth=Bearer
 *                token among the pairs and the user in the gs2 a=
 *
 * On error both send a JSON challenge; the client answers with an empty
 * response (XOAUTH2) or a lone ^A (OAUTHBEARER, RFC 7628 section 3.2.3)
 * and the server fails.
 */
#include "sasl/sasl_internal.h"

#include <string.h>
#include <strings.h>

#define KVSEP 0x01

/* What the Gmail IMAP/SMTP servers send for a bad token (Google's doc). */
static const char xoauth2_error[] =
    "{\"status\":\"401\",\"schemes\":\"Bearer\",\"scope\":\"https://mail.google.com/\"}";
/* The error of RFC 7628 section 4.3 (the example exchange). */
static const char oauthbearer_error[] =
    "{\"status\":\"invalid_token\",\"scope\":\"example_scope\",\"openid-configuration\":"
    "\"https://example.com/.well-known/openid-configuration\"}";

typedef struct kv {
    const char *user, *auth; /* values, NULL when absent */
    size_t user_len, auth_len;
} kv;

/* *(key "=" value ^A) ^A, to the end of the message.  Keys other than user
 * and auth (host, port, ...) are allowed and ignored. */
static const char *parse_pairs(const char *p, const char *end, kv *out)
{
    memset(out, 0, sizeof *out);
    while (p < end && *p != KVSEP) {
        const char *sep = memchr(p, KVSEP, (size_t)(end - p));
        const char *eq = sep ? memchr(p, '=', (size_t)(sep - p)) : NULL;
        if (!eq || eq == p)
            return "expected key=value ^A";
        size_t klen = (size_t)(eq - p), vlen = (size_t)(sep - eq - 1);
        if (klen == 4 && memcmp(p, "user", 4) == 0) {
            out->user = eq + 1;
            out->user_len = vlen;
        } else if (klen == 4 && memcmp(p, "auth", 4) == 0) {
            out->auth = eq + 1;
            out->auth_len = vlen;
        }
        p = sep + 1;
    }
    if (p + 1 != end)
        return "expected the message to end with ^A^A";
    if (!out->auth)
        return "no auth=";
    return NULL;
}

/* auth=Bearer TOKEN: the scheme is case-insensitive (RFC 6750 via 7628). */
static bool bearer_ok(fk_sasl_server *s, fk_mres *r, const kv *k)
{
    if (k->auth_len < 8 || strncasecmp(k->auth, "Bearer ", 7) != 0) {
        fk_sasl_failf(s, r, FK_SASL_R_MALFORMED, "%s: expected auth=Bearer TOKEN", s->mech->name);
        return false;
    }
    return fk_sasl_secret_ok(s, r, k->auth + 7, k->auth_len - 7);
}

/* Credentials good: success, or the provider's error JSON when scripted. */
static int verified(fk_sasl_server *s, fk_mres *r, const char *json, fk_bait_rule rule)
{
    r->kind = FK_M_VERIFIED;
    if (s->cfg.fail != FK_SASL_FAIL_OAUTH_ERROR)
        return 0;
    if (fk_sasl_challenge(s, r, json, strlen(json)) != 0)
        return -1;
    r->kind = FK_M_BAIT;
    r->rule = rule;
    r->reason = FK_SASL_R_SERVER_ERROR;
    r->direct = FK_SASL_CHALLENGE; /* the JSON is a challenge in every protocol */
    r->what = "the OAuth error challenge";
    return 0;
}

int fk_mech_xoauth2_input(fk_sasl_server *s, fk_mres *r)
{
    const char *msg = (const char *)s->in;
    kv k;
    const char *why = parse_pairs(msg, msg + s->in_len, &k);
    if (!why && !k.user)
        why = "no user=";
    if (why)
        return fk_sasl_failf(s, r, FK_SASL_R_MALFORMED, "XOAUTH2: %s", why);
    if (!fk_sasl_user_ok(s, r, k.user, k.user_len) || !bearer_ok(s, r, &k))
        return 0;
    return verified(s, r, xoauth2_error, FK_BAIT_EMPTY);
}

int fk_mech_oauthbearer_input(fk_sasl_server *s, fk_mres *r)
{
    const char *msg = (const char *)s->in, *end = msg + s->in_len;
    fk_gs2 g;
    const char *why = fk_gs2_parse(msg, s->in_len, &g);
    if (!why && g.flag == 'p')
        why = "channel binding (p=) is not defined for OAUTHBEARER";
    if (!why && (g.len >= s->in_len || msg[g.len] != KVSEP))
        why = "expected ^A after the gs2 header";
    kv k;
    if (!why)
        why = parse_pairs(msg + g.len + 1, end, &k);
    if (why)
        return fk_sasl_failf(s, r, FK_SASL_R_MALFORMED, "OAUTHBEARER: %s", why);
    char user[FK_SASL_USER_MAX];
    size_t user_len = 0;
    if (!g.authzid || !fk_saslname_decode(g.authzid, g.authzid_len, user, sizeof user, &user_len))
        return fk_sasl_failf(s, r, FK_SASL_R_UNKNOWN_USER,
                             "OAUTHBEARER: no user (a=saslname) in the gs2 header");
    if (!fk_sasl_user_ok(s, r, user, user_len) || !bearer_ok(s, r, &k))
        return 0;
    return verified(s, r, oauthbearer_error, FK_BAIT_KVSEP);
}
