/*
 * load_proto.c: the loader's part for the protocol expects: `expect: {sasl:
 * ...}` (validated by building the fk_sasl server it describes, so a bad
 * combination is a load error at its position), `expect: {apop: ...}`,
 * `expect: {data: ...}`, and the checks across a script's steps that these
 * need (a DATA body follows a 354; APOP needs a greeting timestamp).
 */
#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pop3/apop.h"
#include "sasl/fk_sasl.h"
#include "scenario/load_internal.h"
#include "smtp/data_check.h"

/* ---- sasl ------------------------------------------------------------------------- */

/* What a mechanism takes besides the user (RFC 4616, 2195, 5802, 7628, 4505, 4422). */
typedef enum { CRED_PASSWORD, CRED_TOKEN, CRED_NONE } cred_kind;

static const struct {
    const char *prefix; /* a mechanism name, or a family prefix ending in '-' */
    cred_kind cred;
} mech_creds[] = {
    {"XOAUTH2", CRED_TOKEN},
    {"OAUTHBEARER", CRED_TOKEN},
    {"ANONYMOUS", CRED_NONE},
    {"EXTERNAL", CRED_NONE},
};

static cred_kind creds_of(const char *mech)
{
    for (size_t i = 0; i < sizeof mech_creds / sizeof mech_creds[0]; i++)
        if (strcmp(mech_creds[i].prefix, mech) == 0)
            return mech_creds[i].cred;
    return CRED_PASSWORD;
}

/* Which of user / password / token the mechanism takes; the secret into s->password. */
static bool load_credentials(fk_ld *c, const fk_node *map, const fk_node **seen, fk_expect_sasl *s)
{
    cred_kind k = creds_of(s->mechanism);
    const fk_node *pw = seen[FK_EXP_PASSWORD], *tok = seen[FK_EXP_TOKEN];
    if (k != CRED_NONE && !seen[FK_EXP_USER])
        return fk_fail(c, map, "expect: sasl %s needs user", s->mechanism);
    if (k == CRED_NONE && (pw || tok))
        return fk_fail(c, pw ? pw : tok,
                       "expect: sasl %s takes no password or token "
                       "(user, if given, is the %s)",
                       s->mechanism,
                       strcmp(s->mechanism, "ANONYMOUS") == 0 ? "trace" : "authorization identity");
    if (k == CRED_PASSWORD && tok)
        return fk_fail(c, tok, "expect: sasl %s takes a password, not a token", s->mechanism);
    if (k == CRED_TOKEN && pw && tok)
        return fk_fail(c, tok,
                       "expect: sasl %s: give token (or password, its older spelling), "
                       "not both",
                       s->mechanism);
    if (k != CRED_NONE && !pw && !tok)
        return fk_fail(c, map, "expect: sasl %s needs %s", s->mechanism,
                       k == CRED_TOKEN ? "token" : "password");
    if (seen[FK_EXP_USER] && !fk_get_str(c, seen[FK_EXP_USER], "user", &s->user))
        return false;
    return (!pw || fk_get_str(c, pw, "password", &s->password)) &&
           (!tok || fk_get_str(c, tok, "token", &s->password));
}

static bool bad_fail_name(fk_ld *c, const fk_node *v)
{
    char list[FK_LOAD_ERROR_MAX / 2];
    size_t o = 0;
    for (unsigned f = 1; f < FK_SASL_FAIL_COUNT && o < sizeof list; f++)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", f > 1 ? ", " : "",
                              fk_sasl_fail_name((fk_sasl_fail)f));
    fk_quote_buf q;
    return fk_fail(c, v, "fail: expected one of %s, found %s", list,
                   fk_quote(&q, v->value, v->len));
}

/* Standard base64 (RFC 4648 section 4, padding required) into a fresh buffer. */
static bool get_base64(fk_ld *c, const fk_node *v, const char *what, size_t max, fk_bytes *out)
{
    size_t n = v->len, pad = 0;
    bool ok = n > 0 && n % 4 == 0 && n / 4 * 3 <= max + 2;
    for (size_t i = 0; ok && i < n; i++) {
        unsigned char ch = (unsigned char)v->value[i];
        bool tail = i >= n - 2 && (i == n - 1 || v->value[n - 1] == '='); /* "=" may end it */
        pad += ch == '=';
        ok = ch == '=' ? tail : isalnum(ch) || ch == '+' || ch == '/';
    }
    if (ok && (out->data = malloc(n / 4 * 3 + 1)) != NULL) {
        int k = EVP_DecodeBlock(out->data, (const unsigned char *)v->value, (int)n);
        out->len = k < 0 ? 0 : (size_t)k - pad;
        ok = k >= 0 && out->len >= 1 && out->len <= max;
    }
    if (!ok)
        return fk_fail(c, v, "%s: expected standard base64 of 1 to %zu bytes", what, max);
    return true;
}

/* The scripted-behaviour keys: fail and its parameters. */
static bool load_script_keys(fk_ld *c, const fk_node **seen, fk_expect_sasl *s)
{
    unsigned long long n = 0;
    fk_sasl_fail f = FK_SASL_FAIL_NONE;
    const fk_node *v;
    if ((v = seen[FK_EXP_FAIL]) && (fk_sasl_fail_from_name(v->value, &f) != 0 || f == 0))
        return bad_fail_name(c, v);
    s->fail = (unsigned)f;
    if ((v = seen[FK_EXP_OVERSIZED_LEN]) &&
        !fk_get_uint(c, v, "oversized_len", 4, FK_SASL_OVERSIZED_MAX, &n))
        return false;
    s->oversized_len = (size_t)n;
    if ((v = seen[FK_EXP_SCRAM_ITERATIONS]) &&
        !fk_get_uint(c, v, "scram_iterations", 1, FK_SASL_SCRAM_ITERATIONS_MAX, &n))
        return false;
    s->scram_iterations = v ? (unsigned)n : 0;
    if ((v = seen[FK_EXP_SCRAM_ERROR]) && !fk_get_str(c, v, "scram_error", &s->scram_error))
        return false;
    if ((v = seen[FK_EXP_SCRAM_SALT]) &&
        !get_base64(c, v, "scram_salt", FK_SASL_SCRAM_SALT_MAX, &s->scram_salt))
        return false;
    if (seen[FK_EXP_OVERSIZED_LEN] && f != FK_SASL_FAIL_CHALLENGE_OVERSIZED)
        return fk_fail(c, seen[FK_EXP_OVERSIZED_LEN],
                       "oversized_len goes with fail: challenge-oversized");
    if (seen[FK_EXP_SCRAM_ERROR] && f != FK_SASL_FAIL_SCRAM_ERROR)
        return fk_fail(c, seen[FK_EXP_SCRAM_ERROR], "scram_error goes with fail: scram-error");
    return true;
}

/* Build the server the step describes once: fk_sasl's own checks, at load time. */
static bool try_server(fk_ld *c, const fk_node *at, const fk_expect_sasl *s)
{
    char err[FK_SASL_MESSAGE_MAX];
    fk_sasl_server_config cfg = {.user = s->user,
                                 .password = s->password,
                                 .fail = (fk_sasl_fail)s->fail,
                                 .oversized_len = s->oversized_len,
                                 .scram_error = s->scram_error,
                                 .scram_iterations = s->scram_iterations,
                                 .scram_salt = s->scram_salt.len ? s->scram_salt.data : NULL,
                                 .scram_salt_len = s->scram_salt.len};
    fk_sasl_server *srv = fk_sasl_server_new(s->mechanism, &cfg, err, sizeof err);
    if (srv == NULL)
        return fk_fail(c, at, "expect: sasl %s: %s", s->mechanism, err);
    fk_sasl_server_free(srv);
    return true;
}

bool fk_load_sasl(fk_ld *c, const fk_node *map, const fk_node **seen, fk_expect *e)
{
    fk_expect_sasl *s = &e->sasl;
    if (!fk_get_str(c, seen[FK_EXP_SASL], "sasl", &s->mechanism))
        return false;
    for (char *p = s->mechanism; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    if (!fk_sasl_mechanism_known(s->mechanism))
        return fk_fail(c, seen[FK_EXP_SASL],
                       "sasl: expected one of PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1, SCRAM-SHA-256, "
                       "SCRAM-SHA-512 (each also -PLUS), XOAUTH2, OAUTHBEARER, ANONYMOUS, "
                       "EXTERNAL, found %s",
                       s->mechanism);
    bool scram = strncmp(s->mechanism, "SCRAM-", 6) == 0;
    const fk_node *scram_key =
        seen[FK_EXP_SCRAM_ITERATIONS] ? seen[FK_EXP_SCRAM_ITERATIONS] : seen[FK_EXP_SCRAM_SALT];
    if (!scram && scram_key)
        return fk_fail(c, scram_key, "scram_iterations and scram_salt apply to SCRAM-* only");
    if (!load_credentials(c, map, seen, s) || !load_script_keys(c, seen, s))
        return false;
    e->kind = FK_EXPECT_SASL;
    return try_server(c, seen[FK_EXP_FAIL] ? seen[FK_EXP_FAIL] : map, s);
}

/* ---- apop ------------------------------------------------------------------------- */

bool fk_load_apop(fk_ld *c, const fk_node *map, const fk_node **seen, fk_expect *e)
{
    if (c->s->protocol != FK_PROTO_POP3)
        return fk_fail(c, seen[FK_EXP_APOP],
                       "expect: apop is POP3's APOP; this scenario's "
                       "protocol is not pop3");
    if (seen[FK_EXP_USER])
        return fk_fail(c, seen[FK_EXP_USER],
                       "expect: apop names the user itself "
                       "({apop: USER, password: P})");
    if (!seen[FK_EXP_PASSWORD])
        return fk_fail(c, map, "expect: apop needs password (the shared secret)");
    if (!fk_get_str(c, seen[FK_EXP_APOP], "apop", &e->apop.user) ||
        !fk_get_str(c, seen[FK_EXP_PASSWORD], "password", &e->apop.password))
        return false;
    if (e->apop.user[0] == '\0' || strlen(e->apop.user) >= FK_APOP_USER_MAX ||
        strpbrk(e->apop.user, " \t\r\n") != NULL)
        return fk_fail(c, seen[FK_EXP_APOP],
                       "apop: expected a user name of 1 to %d characters "
                       "without spaces",
                       FK_APOP_USER_MAX - 1);
    e->kind = FK_EXPECT_APOP;
    return true;
}

/* ---- data ------------------------------------------------------------------------- */

enum { DATA_SHA256, DATA_CONTAINS, DATA_EQUALS_FILE };
static const fk_key data_keys[] = {
    {"sha256", FK_T_STR, false, NULL},
    {"contains", FK_T_STR, false, NULL},
    {"equals_file", FK_T_STR, false, NULL},
};
const fk_section fk_sec_data = {"data", "expect: data", data_keys, sizeof data_keys / sizeof data_keys[0]};

static bool hex_sha256(fk_ld *c, const fk_node *v, unsigned char *out)
{
    static const char hex[] = "0123456789abcdef";
    if (v->len != 64)
        return fk_fail(c, v, "sha256: expected 64 hex digits, found %zu characters", v->len);
    for (size_t i = 0; i < 64; i++) {
        const char *d = strchr(hex, tolower((unsigned char)v->value[i]));
        if (!d || !*d)
            return fk_fail(c, v, "sha256: expected 64 hex digits, found '%c' at %zu", v->value[i],
                           i + 1);
        out[i / 2] = (unsigned char)(out[i / 2] << 4 | (unsigned char)(d - hex));
    }
    return true;
}

bool fk_load_data(fk_ld *c, const fk_node *v, fk_expect *e)
{
    const fk_node *seen[FK_SECTION_KEYS_MAX];
    fk_expect_data *d = &e->data;
    if (c->s->protocol != FK_PROTO_SMTP)
        return fk_fail(c, v,
                       "expect: data is SMTP DATA or BDAT content; this scenario's "
                       "protocol is not smtp");
    if (!fk_apply_table(c, &fk_sec_data, v, NULL, seen))
        return false;
    if (!seen[DATA_SHA256] && !seen[DATA_CONTAINS] && !seen[DATA_EQUALS_FILE])
        return fk_fail(c, v, "expect: data needs sha256, contains or equals_file");
    if (seen[DATA_SHA256] && !hex_sha256(c, seen[DATA_SHA256], d->sha256))
        return false;
    d->has_sha256 = seen[DATA_SHA256] != NULL;
    if (seen[DATA_CONTAINS] && !fk_get_str(c, seen[DATA_CONTAINS], "contains", &d->contains))
        return false;
    if (d->contains && (d->contains[0] == '\0' || strlen(d->contains) > FK_DATA_CONTAINS_MAX))
        return fk_fail(c, seen[DATA_CONTAINS], "contains: expected 1 to %d characters",
                       FK_DATA_CONTAINS_MAX);
    if (seen[DATA_EQUALS_FILE] &&
        !fk_get_path(c, seen[DATA_EQUALS_FILE], "equals_file", &d->equals_file))
        return false;
    e->kind = FK_EXPECT_DATA;
    return true;
}

/* ---- across the steps ------------------------------------------------------------------ */

/* Whether the step's text send ends with a line starting "354" (DATA's go-ahead). */
static bool sends_354(const fk_step *st)
{
    if (st->send.kind != FK_SEND_TEXT)
        return false;
    const unsigned char *t = st->send.text.data;
    size_t n = st->send.text.len, last = n;
    while (last > 0 && t[last - 1] != '\n')
        last--;
    return n - last >= 3 && memcmp(t + last, "354", 3) == 0;
}

/* Whether the step's expect has a text pattern for the DATA command. */
static bool expects_data_command(const fk_step *st)
{
    const fk_expect *e = &st->expect;
    for (size_t i = 0; e->kind == FK_EXPECT_LINES && i < e->n_patterns; i++)
        if (e->patterns[i].kind == FK_PAT_TEXT && strcasecmp(e->patterns[i].source, "DATA") == 0)
            return true;
    return false;
}

/* The step after `expect: DATA` + 354 that waits for the client must read the body. */
static bool check_data_steps(fk_ld *c, const fk_node *list, fk_script *sc, size_t i)
{
    fk_step *st = &sc->steps[i];
    const fk_step *prev = i > 0 ? &sc->steps[i - 1] : NULL;
    if (st->expect.kind == FK_EXPECT_DATA) {
        st->expect.data.bdat =
            prev == NULL || prev->expect.kind == FK_EXPECT_NONE || !sends_354(prev);
        if (st->optional && !st->expect.data.bdat)
            return fk_fail(c, list->items[i],
                           "optional: a DATA body after 354 cannot be "
                           "skipped (optional applies to BDAT only)");
        return true;
    }
    if (prev && expects_data_command(prev) && sends_354(prev) && st->expect.kind == FK_EXPECT_LINES)
        return fk_fail(c, list->items[i],
                       "after DATA and 354 the client sends the message: "
                       "this step needs expect: {data: ...} (or eof)");
    return true;
}

/* APOP digests the greeting's timestamp: the script's first send must carry one. */
static bool check_apop_steps(fk_ld *c, const fk_node *list, const fk_script *sc)
{
    const fk_step *first_send = NULL;
    char ts[FK_APOP_TS_MAX];
    for (size_t i = 0; i < sc->n_steps; i++) {
        const fk_step *st = &sc->steps[i];
        if (st->expect.kind == FK_EXPECT_APOP &&
            (first_send == NULL || first_send->send.kind == FK_SEND_FILE ||
             fk_apop_timestamp(first_send->send.text.data, first_send->send.text.len, ts) != 0))
            return fk_fail(c, list->items[i],
                           "expect: apop needs a <timestamp> (\"<...@...>\") "
                           "in the first text this connection sends");
        if (first_send == NULL && st->send.kind != FK_SEND_NONE)
            first_send = st;
    }
    return true;
}

bool fk_check_protocol_steps(fk_ld *c, const fk_node *list, fk_script *sc)
{
    for (size_t i = 0; i < sc->n_steps; i++)
        if (!check_data_steps(c, list, sc, i))
            return false;
    return check_apop_steps(c, list, sc);
}
