/*
 * mech_oauth.c: OAuth 2.0 bearer-token mechanisms.
 *   XOAUTH2      Google's format (developers.google.com/gmail/imap/xoauth2-protocol):
 *                "user=" user ^A "auth=Bearer " token ^A ^A
 *   OAUTHBEARER  RFC 7628 §3.1: gs2-header ^A [host=..^A] [port=..^A]
 *                "auth=Bearer " token ^A ^A; the gs2 a= carries the authzid
 *                if given, else the username (as RFC 7628's example does).
 * A challenge after the initial response is the server's error JSON
 * (RFC 7628 §3.2.2); the client answers it (XOAUTH2: empty response,
 * OAUTHBEARER: %x01) and reports auth-failed with the decoded status.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "sasl_internal.h"

/* ^A separates key/value pairs; a control byte in a field would let the
 * caller's data forge pairs, and RFC 6750 tokens are printable anyway. */
static mj_outcome check_field(const char *what, const char *v, int allow_space, mj_error *err)
{
    for (const unsigned char *p = (const unsigned char *)v; p != NULL && *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7F || (*p == ' ' && !allow_space))
            return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                                "SASL: the %s holds a control character or space", what);
    }
    return MJ_OK;
}

mj_outcome sasl_xoauth2_start(struct mj_sasl *s, mj_error *err)
{
    mj_outcome o = check_field("username", s->username, 1, err);
    if (o == MJ_OK)
        o = check_field("token", s->token, 0, err);
    const char *parts[] = {"user=", s->username, "\001auth=Bearer ", s->token, "\001\001"};
    for (size_t i = 0; o == MJ_OK && i < sizeof parts / sizeof parts[0]; i++)
        o = sasl_puts(s, parts[i], err);
    return o;
}

static mj_outcome oauthbearer_gs2(struct mj_sasl *s, mj_error *err)
{
    const char *who = s->authzid != NULL ? s->authzid : s->username;
    mj_outcome o = sasl_puts(s, "n,", err);
    if (o == MJ_OK && who != NULL) {
        o = sasl_puts(s, "a=", err);
        if (o == MJ_OK)
            o = sasl_put_saslname(s, who, err);
    }
    return o == MJ_OK ? sasl_puts(s, ",\001", err) : o;
}

mj_outcome sasl_oauthbearer_start(struct mj_sasl *s, mj_error *err)
{
    char port[32];
    const char *who = s->authzid != NULL ? s->authzid : s->username;
    mj_outcome o = check_field("username", who, 1, err);
    if (o == MJ_OK)
        o = check_field("host", s->host, 0, err);
    if (o == MJ_OK)
        o = check_field("token", s->token, 0, err);
    if (o == MJ_OK)
        o = oauthbearer_gs2(s, err);
    if (o == MJ_OK && s->host != NULL) {
        const char *parts[] = {"host=", s->host, "\001"};
        for (size_t i = 0; o == MJ_OK && i < 3; i++)
            o = sasl_puts(s, parts[i], err);
    }
    if (o == MJ_OK && s->port != 0) {
        snprintf(port, sizeof port, "port=%u\001", s->port);
        o = sasl_puts(s, port, err);
    }
    const char *tail[] = {"auth=Bearer ", s->token, "\001\001"};
    for (size_t i = 0; o == MJ_OK && i < 3; i++)
        o = sasl_puts(s, tail[i], err);
    return o;
}

/* The value of key in obj as escaped text ("" if absent); numbers too
 * (some servers send "status": 401). */
static void json_field(json_t *obj, const char *key, char *out, size_t out_size)
{
    json_t *v = json_object_get(obj, key);
    char num[32];
    const char *text = "";
    size_t len = 0;

    if (json_is_string(v)) {
        text = json_string_value(v);
        len = json_string_length(v);
    } else if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        text = num;
        len = strlen(num);
    }
    mj_escape(text, len, out, out_size);
}

mj_outcome sasl_oauth_challenge(struct mj_sasl *s, const unsigned char *c, size_t len,
                                mj_error *err)
{
    char status[96], scope[160], schemes[64];
    json_t *root = json_loadb((const char *)c, len, JSON_REJECT_DUPLICATES, NULL);

    /* The answer that ends the exchange so the server sends its failure. */
    s->reply_on_error = 1;
    if (s->mech == MJ_SASL_OAUTHBEARER && sasl_put(s, "\001", 1, err) != MJ_OK)
        return MJ_INTERNAL;
    if (!json_is_object(root)) {
        json_decref(root);
        return mj_error_set(err, MJ_AUTH_FAILED, MJ_R_NONE,
                            "SASL %s: the server refused the token (its error challenge is "
                            "not a JSON object)",
                            s->row->name);
    }
    json_field(root, "status", status, sizeof status);
    json_field(root, "scope", scope, sizeof scope);
    json_field(root, "schemes", schemes, sizeof schemes);
    json_decref(root);
    return mj_error_set(err, MJ_AUTH_FAILED, MJ_R_NONE,
                        "SASL %s: the server refused the token: status \"%s\" (schemes \"%s\", "
                        "scope \"%s\")",
                        s->row->name, status, schemes, scope);
}
