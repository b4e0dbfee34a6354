/*
 * sasl.c: the engine of fk_sasl.h.  The mechanism table, the configuration
 * check and copy, and what every exchange shares: base64 both ways, "*",
 * the caps, the scripted failures that fit any mechanism (malformed
 * challenge, reject, unsupported) and the client's reaction to a bait.
 * RFC 4422 section 3 (the exchange), RFC 4648 (base64).
 */
#include "sasl/sasl_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

static const fk_mech mechs[] = {
    {"PLAIN", FK_FAMILY_SIMPLE, NULL, false, true, fk_mech_empty_start, fk_mech_plain_input},
    {"LOGIN", FK_FAMILY_SIMPLE, NULL, false, true, fk_mech_login_start, fk_mech_login_input},
    {"CRAM-MD5", FK_FAMILY_SIMPLE, NULL, false, true, fk_mech_cram_start, fk_mech_cram_input},
    {"SCRAM-SHA-1", FK_FAMILY_SCRAM, EVP_sha1, false, true, fk_mech_empty_start,
     fk_mech_scram_input},
    {"SCRAM-SHA-1-PLUS", FK_FAMILY_SCRAM, EVP_sha1, true, true, fk_mech_empty_start,
     fk_mech_scram_input},
    {"SCRAM-SHA-256", FK_FAMILY_SCRAM, EVP_sha256, false, true, fk_mech_empty_start,
     fk_mech_scram_input},
    {"SCRAM-SHA-256-PLUS", FK_FAMILY_SCRAM, EVP_sha256, true, true, fk_mech_empty_start,
     fk_mech_scram_input},
    {"SCRAM-SHA-512", FK_FAMILY_SCRAM, EVP_sha512, false, true, fk_mech_empty_start,
     fk_mech_scram_input},
    {"SCRAM-SHA-512-PLUS", FK_FAMILY_SCRAM, EVP_sha512, true, true, fk_mech_empty_start,
     fk_mech_scram_input},
    {"XOAUTH2", FK_FAMILY_OAUTH, NULL, false, true, fk_mech_empty_start, fk_mech_xoauth2_input},
    {"OAUTHBEARER", FK_FAMILY_OAUTH, NULL, false, true, fk_mech_empty_start,
     fk_mech_oauthbearer_input},
    {"ANONYMOUS", FK_FAMILY_SIMPLE, NULL, false, false, fk_mech_empty_start,
     fk_mech_anonymous_input},
    {"EXTERNAL", FK_FAMILY_SIMPLE, NULL, false, false, fk_mech_empty_start, fk_mech_external_input},
};
#define N_MECHS (sizeof mechs / sizeof mechs[0])

/* The YAML spellings of fk_sasl_fail, and the family each needs (-1: any). */
static const struct {
    const char *name;
    int family;
} fails[FK_SASL_FAIL_COUNT] = {
    [FK_SASL_FAIL_NONE] = {"none", -1},
    [FK_SASL_FAIL_WRONG_PASSWORD] = {"wrong-password", -1},
    [FK_SASL_FAIL_UNKNOWN_USER] = {"unknown-user", -1},
    [FK_SASL_FAIL_TEMPORARY] = {"temporary", -1},
    [FK_SASL_FAIL_UNSUPPORTED] = {"unsupported", -1},
    [FK_SASL_FAIL_CHALLENGE_NOT_BASE64] = {"challenge-not-base64", -1},
    [FK_SASL_FAIL_CHALLENGE_EMPTY] = {"challenge-empty", -1},
    [FK_SASL_FAIL_CHALLENGE_OVERSIZED] = {"challenge-oversized", -1},
    [FK_SASL_FAIL_SCRAM_BAD_SIGNATURE] = {"scram-bad-signature", FK_FAMILY_SCRAM},
    [FK_SASL_FAIL_SCRAM_FOREIGN_NONCE] = {"scram-foreign-nonce", FK_FAMILY_SCRAM},
    [FK_SASL_FAIL_SCRAM_HUGE_ITERATIONS] = {"scram-huge-iterations", FK_FAMILY_SCRAM},
    [FK_SASL_FAIL_SCRAM_ERROR] = {"scram-error", FK_FAMILY_SCRAM},
    [FK_SASL_FAIL_OAUTH_ERROR] = {"oauth-error", FK_FAMILY_OAUTH},
};

static const char *const reason_names[] = {
    [FK_SASL_R_NONE] = "none",
    [FK_SASL_R_CANCELLED] = "cancelled",
    [FK_SASL_R_MALFORMED] = "malformed",
    [FK_SASL_R_TOO_LONG] = "too-long",
    [FK_SASL_R_WRONG_PASSWORD] = "wrong-password",
    [FK_SASL_R_UNKNOWN_USER] = "unknown-user",
    [FK_SASL_R_AUTHZID] = "authzid",
    [FK_SASL_R_CHANNEL_BINDING] = "channel-binding",
    [FK_SASL_R_UNSUPPORTED] = "unsupported",
    [FK_SASL_R_TEMPORARY] = "temporary",
    [FK_SASL_R_SERVER_ERROR] = "server-error",
    [FK_SASL_R_NOT_CANCELLED] = "not-cancelled",
    [FK_SASL_R_INTERNAL] = "internal",
    [FK_SASL_R_NO_CLIENT_CERT] = "no-client-certificate",
};

static const fk_mech *find_mech(const char *name)
{
    for (size_t i = 0; name && i < N_MECHS; i++)
        if (strcasecmp(mechs[i].name, name) == 0)
            return &mechs[i];
    return NULL;
}

bool fk_sasl_mechanism_known(const char *name)
{
    return find_mech(name) != NULL;
}

const char *fk_sasl_fail_name(fk_sasl_fail f)
{
    return (unsigned)f < FK_SASL_FAIL_COUNT ? fails[f].name : NULL;
}

int fk_sasl_fail_from_name(const char *name, fk_sasl_fail *out)
{
    for (unsigned i = 0; name && i < FK_SASL_FAIL_COUNT; i++) {
        if (strcmp(fails[i].name, name) == 0) {
            *out = (fk_sasl_fail)i;
            return 0;
        }
    }
    return -1;
}

const char *fk_sasl_reason_name(fk_sasl_reason r)
{
    return (size_t)r < sizeof reason_names / sizeof reason_names[0] ? reason_names[r] : "?";
}

const char *fk_sasl_server_user(const fk_sasl_server *s)
{
    return s->has_user ? s->user : NULL;
}

const char *fk_sasl_server_cb_type(const fk_sasl_server *s)
{
    return s->has_cb_type ? s->cb_type : NULL;
}

const char *fk_sasl_server_mechanism(const fk_sasl_server *s)
{
    return s->mech->name;
}

/* ---- output helpers ---------------------------------------------------------- */

static int out_reserve(fk_sasl_server *s, size_t need)
{
    if (need + 1 <= s->out_cap)
        return 0;
    char *p = realloc(s->out, need + 1);
    if (!p)
        return -1;
    s->out = p;
    s->out_cap = need + 1;
    return 0;
}

int fk_sasl_out_raw(fk_sasl_server *s, const char *text, size_t len)
{
    if (out_reserve(s, len) != 0)
        return -1;
    if (len)
        memcpy(s->out, text, len);
    s->out[len] = '\0';
    s->out_len = len;
    return 0;
}

int fk_sasl_out_alloc(fk_sasl_server *s, size_t len)
{
    if (out_reserve(s, len) != 0)
        return -1;
    memset(s->out, 0, len + 1);
    s->out_len = len;
    return 0;
}

int fk_sasl_out_b64(fk_sasl_server *s, const void *data, size_t len)
{
    size_t need = 4 * ((len + 2) / 3);
    /* Our own messages only: bounded by a few FK_SASL_MSG_MAX, far below INT_MAX. */
    if (len > (size_t)8 * FK_SASL_MSG_MAX || out_reserve(s, need) != 0)
        return -1;
    int n = EVP_EncodeBlock((unsigned char *)s->out, data, (int)len);
    s->out_len = (size_t)n;
    return 0;
}

int fk_sasl_challenge(fk_sasl_server *s, fk_mres *r, const void *data, size_t len)
{
    r->kind = FK_M_CHALLENGE;
    r->has_data = true;
    return fk_sasl_out_b64(s, data, len);
}

static void vmsg(fk_sasl_server *s, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void vmsg(fk_sasl_server *s, const char *fmt, va_list ap)
{
    vsnprintf(s->msg, sizeof s->msg, fmt, ap);
}

int fk_sasl_failf(fk_sasl_server *s, fk_mres *r, fk_sasl_reason reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(s, fmt, ap);
    va_end(ap);
    r->kind = FK_M_FAIL;
    r->reason = reason;
    return 0;
}

const char *fk_sasl_printable(const char *p, size_t len, char *buf, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, i = 0;
    /* Room for one escaped byte (4), then "..." and the NUL: cap >= 9. */
    for (; i < len && o + 8 < cap; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            buf[o++] = (char)c;
            continue;
        }
        buf[o++] = '\\';
        buf[o++] = 'x';
        buf[o++] = hex[c >> 4];
        buf[o++] = hex[c & 15];
    }
    if (i < len) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

/* ---- identity and secret checks ----------------------------------------------- */

bool fk_sasl_user_record(fk_sasl_server *s, fk_mres *r, const char *user, size_t len)
{
    if (len >= sizeof s->user || memchr(user, '\0', len)) {
        fk_sasl_failf(s, r, FK_SASL_R_MALFORMED,
                      "user name of %zu bytes holds a NUL or exceeds FK_SASL_USER_MAX (%d)", len,
                      FK_SASL_USER_MAX - 1);
        return false;
    }
    memcpy(s->user, user, len);
    s->user[len] = '\0';
    s->has_user = true;
    return true;
}

bool fk_sasl_user_matches(const fk_sasl_server *s, const char *user, size_t len)
{
    const char *want = s->cfg.user;
    return !want || (strlen(want) == len && memcmp(want, user, len) == 0);
}

bool fk_sasl_user_judge(fk_sasl_server *s, fk_mres *r)
{
    if (fk_sasl_user_matches(s, s->user, strlen(s->user)))
        return true;
    char shown[96];
    fk_sasl_failf(s, r, FK_SASL_R_UNKNOWN_USER, "unknown user \"%s\" (expected \"%s\")",
                  fk_sasl_printable(s->user, strlen(s->user), shown, sizeof shown), s->cfg.user);
    return false;
}

bool fk_sasl_user_ok(fk_sasl_server *s, fk_mres *r, const char *user, size_t len)
{
    return fk_sasl_user_record(s, r, user, len) && fk_sasl_user_judge(s, r);
}

bool fk_sasl_secret_ok(fk_sasl_server *s, fk_mres *r, const char *secret, size_t len)
{
    const char *want = s->cfg.password;
    if (!want || (strlen(want) == len && CRYPTO_memcmp(want, secret, len) == 0))
        return true;
    fk_sasl_failf(s, r, FK_SASL_R_WRONG_PASSWORD, "wrong %s for user \"%s\"",
                  s->mech->family == FK_FAMILY_OAUTH ? "token" : "password", s->user);
    return false;
}

/* ---- base64 in ------------------------------------------------------------------ */

static bool b64_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

int fk_b64_decode(const char *in, size_t len, unsigned char *out, size_t cap, size_t *out_len)
{
    if (len % 4 != 0 || len / 4 * 3 > cap || len > (size_t)4 * FK_SASL_MSG_MAX)
        return -1;
    size_t pad = 0;
    if (len && in[len - 1] == '=')
        pad = in[len - 2] == '=' ? 2 : 1;
    for (size_t i = 0; i < len - pad; i++)
        if (!b64_char((unsigned char)in[i]))
            return -1;
    if (len == 0) {
        *out_len = 0;
        return 0;
    }
    /* EVP_DecodeBlock counts the padding as zero bytes: take them off. */
    int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
    if (n < 0 || (size_t)n < pad)
        return -1;
    *out_len = (size_t)n - pad;
    return 0;
}

/* ---- configuration ------------------------------------------------------------- */

static int errf(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int errf(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && n)
        vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return -1;
}

/* A SCRAM value (nonce, e=): printable ASCII without ",". */
static bool scram_value_ok(const char *p, size_t max)
{
    size_t len = strlen(p);
    if (len == 0 || len > max)
        return false;
    for (; *p; p++)
        if (*p < 0x21 || *p > 0x7e || *p == ',')
            return false;
    return true;
}

static int check_lengths(const fk_sasl_server_config *c, char *err, size_t n)
{
    if (c->oversized_len % 4 != 0 || c->oversized_len > FK_SASL_OVERSIZED_MAX)
        return errf(err, n, "oversized challenge length %zu: expected a multiple of 4 up to %zu",
                    c->oversized_len, FK_SASL_OVERSIZED_MAX);
    if (c->scram_iterations > FK_SASL_SCRAM_ITERATIONS_MAX)
        return errf(err, n, "SCRAM iteration count %u over %u (use scram-huge-iterations)",
                    c->scram_iterations, FK_SASL_SCRAM_ITERATIONS_MAX);
    if (c->scram_salt && (c->scram_salt_len == 0 || c->scram_salt_len > FK_SASL_SCRAM_SALT_MAX))
        return errf(err, n, "SCRAM salt of %zu bytes: expected 1 to %d", c->scram_salt_len,
                    FK_SASL_SCRAM_SALT_MAX);
    if (c->scram_nonce_suffix && !scram_value_ok(c->scram_nonce_suffix, FK_SASL_NONCE_MAX))
        return errf(err, n, "SCRAM nonce suffix: expected 1 to %d printable characters, no ','",
                    FK_SASL_NONCE_MAX);
    if (c->scram_error && !scram_value_ok(c->scram_error, 64))
        return errf(err, n, "SCRAM e= value: expected 1 to 64 printable characters, no ','");
    if (c->cram_challenge &&
        (!*c->cram_challenge || strlen(c->cram_challenge) >= FK_SASL_CHALLENGE_MAX))
        return errf(err, n, "CRAM-MD5 challenge: expected 1 to %d bytes",
                    FK_SASL_CHALLENGE_MAX - 1);
    if (c->cb_data_len > FK_SASL_CB_DATA_MAX ||
        (c->cb_type && strlen(c->cb_type) >= FK_SASL_CB_TYPE_MAX))
        return errf(err, n, "channel binding: type or data over its cap");
    if (c->user && strlen(c->user) >= FK_SASL_USER_MAX)
        return errf(err, n, "user name over FK_SASL_USER_MAX (%d)", FK_SASL_USER_MAX - 1);
    return 0;
}

static int check_config(const fk_mech *m, const fk_sasl_server_config *c, char *err, size_t n)
{
    if ((unsigned)c->fail >= FK_SASL_FAIL_COUNT)
        return errf(err, n, "unknown scripted SASL failure %u", (unsigned)c->fail);
    if (fails[c->fail].family >= 0 && fails[c->fail].family != (int)m->family)
        return errf(err, n, "scripted failure %s does not apply to %s", fails[c->fail].name,
                    m->name);
    if (m->needs_user && !c->user)
        return errf(err, n, "%s needs a user", m->name);
    if (m->needs_user && !c->password)
        return errf(err, n, "%s needs a %s", m->name,
                    m->family == FK_FAMILY_OAUTH ? "token" : "password");
    return check_lengths(c, err, n);
}

static char *dup_str(const char *p, bool *ok)
{
    if (!p)
        return NULL;
    char *d = strdup(p);
    *ok = *ok && d;
    return d;
}

static unsigned char *dup_bytes(const unsigned char *p, size_t len, bool *ok)
{
    if (!p)
        return NULL;
    unsigned char *d = malloc(len ? len : 1);
    if (d)
        memcpy(d, p, len);
    *ok = *ok && d;
    return d;
}

/* Make s->cfg a deep copy of c; on failure what was copied is freed by free_config. */
static bool copy_config(fk_sasl_server *s, const fk_sasl_server_config *c)
{
    bool ok = true;
    fk_sasl_server_config *d = &s->cfg;
    *d = *c;
    d->user = dup_str(c->user, &ok);
    d->password = dup_str(c->password, &ok);
    d->scram_error = dup_str(c->scram_error ? c->scram_error : "other-error", &ok);
    d->scram_salt = dup_bytes(c->scram_salt, c->scram_salt_len, &ok);
    d->scram_nonce_suffix = dup_str(c->scram_nonce_suffix, &ok);
    d->cram_challenge = dup_str(c->cram_challenge, &ok);
    d->cb_type = dup_str(c->cb_type, &ok);
    d->cb_data = dup_bytes(c->cb_data, c->cb_data_len, &ok);
    d->tls_cn = dup_str(c->tls_cn, &ok);
    return ok;
}

static void free_config(fk_sasl_server_config *d)
{
    if (d->password)
        OPENSSL_clear_free((void *)d->password, strlen(d->password));
    free((void *)d->user);
    free((void *)d->scram_error);
    free((void *)d->scram_salt);
    free((void *)d->scram_nonce_suffix);
    free((void *)d->cram_challenge);
    free((void *)d->cb_type);
    free((void *)d->cb_data);
    free((void *)d->tls_cn);
}

/* Random salt and nonce suffix when the configuration fixes none. */
static bool fill_defaults(fk_sasl_server *s)
{
    fk_sasl_server_config *d = &s->cfg;
    if (!d->scram_iterations)
        d->scram_iterations = FK_SASL_SCRAM_ITERATIONS_DEFAULT;
    if (!d->oversized_len)
        d->oversized_len = FK_SASL_OVERSIZED_DEFAULT;
    if (!d->scram_salt) {
        unsigned char *salt = malloc(FK_SASL_SCRAM_SALT_DEFAULT_LEN);
        if (!salt || RAND_bytes(salt, FK_SASL_SCRAM_SALT_DEFAULT_LEN) != 1) {
            free(salt);
            return false;
        }
        d->scram_salt = salt;
        d->scram_salt_len = FK_SASL_SCRAM_SALT_DEFAULT_LEN;
    }
    if (!d->scram_nonce_suffix) {
        unsigned char raw[FK_SASL_NONCE_RANDOM];
        char *text = malloc(4 * ((FK_SASL_NONCE_RANDOM + 2) / 3) + 1);
        if (!text || RAND_bytes(raw, sizeof raw) != 1) {
            free(text);
            return false;
        }
        EVP_EncodeBlock((unsigned char *)text, raw, (int)sizeof raw); /* no ',' in base64 */
        d->scram_nonce_suffix = text;
    }
    return true;
}

fk_sasl_server *fk_sasl_server_new(const char *mech, const fk_sasl_server_config *cfg, char *err,
                                   size_t n)
{
    static const fk_sasl_server_config none;
    const fk_mech *m = find_mech(mech);
    if (!m) {
        errf(err, n,
             "unknown SASL mechanism \"%s\": expected PLAIN, LOGIN, CRAM-MD5, "
             "SCRAM-SHA-{1,256,512}[-PLUS], XOAUTH2, OAUTHBEARER, ANONYMOUS or EXTERNAL",
             mech ? mech : "(null)");
        return NULL;
    }
    if (!cfg)
        cfg = &none;
    if (check_config(m, cfg, err, n) != 0)
        return NULL;
    fk_sasl_server *s = calloc(1, sizeof *s);
    if (!s) {
        errf(err, n, "out of memory");
        return NULL;
    }
    s->mech = m;
    if (!copy_config(s, cfg) || !fill_defaults(s)) {
        fk_sasl_server_free(s);
        errf(err, n, "out of memory or no randomness");
        return NULL;
    }
    s->malformed_pending = cfg->fail == FK_SASL_FAIL_CHALLENGE_NOT_BASE64 ||
                           cfg->fail == FK_SASL_FAIL_CHALLENGE_EMPTY ||
                           cfg->fail == FK_SASL_FAIL_CHALLENGE_OVERSIZED;
    return s;
}

void fk_sasl_server_free(fk_sasl_server *s)
{
    if (!s)
        return;
    free_config(&s->cfg);
    fk_scram_clear(&s->scram);
    OPENSSL_cleanse(s->in, sizeof s->in);
    free(s->out);
    free(s);
}

/* ---- RFC 5802 grammar shared by SCRAM and OAUTHBEARER -------------------------- */

static bool cb_name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-';
}

/* gs2-header = gs2-cbind-flag "," [ "a=" saslname ] ","
 * gs2-cbind-flag = ("p=" cb-name) / "n" / "y" */
const char *fk_gs2_parse(const char *msg, size_t len, fk_gs2 *out)
{
    memset(out, 0, sizeof *out);
    const char *end = msg + len, *c1 = memchr(msg, ',', len);
    if (!c1)
        return "gs2 header: no ','";
    size_t flen = (size_t)(c1 - msg);
    if (flen == 1 && (msg[0] == 'n' || msg[0] == 'y')) {
        out->flag = msg[0];
    } else if (flen > 2 && msg[0] == 'p' && msg[1] == '=') {
        for (const char *q = msg + 2; q < c1; q++)
            if (!cb_name_char(*q))
                return "gs2 header: bad channel binding name after p=";
        out->flag = 'p';
        out->cb_name = msg + 2;
        out->cb_name_len = flen - 2;
    } else {
        return "gs2 header: expected n, y or p=NAME first";
    }
    const char *a = c1 + 1, *c2 = memchr(a, ',', (size_t)(end - a));
    if (!c2)
        return "gs2 header: no second ','";
    if (c2 > a) {
        if (c2 - a < 2 || a[0] != 'a' || a[1] != '=')
            return "gs2 header: expected a=authzid or nothing between the commas";
        out->authzid = a + 2;
        out->authzid_len = (size_t)(c2 - a - 2);
    }
    out->len = (size_t)(c2 + 1 - msg);
    return NULL;
}

bool fk_saslname_decode(const char *p, size_t len, char *out, size_t cap, size_t *out_len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (c == ',' || c == '\0')
            return false;
        if (c == '=') {
            if (i + 2 >= len)
                return false;
            if (p[i + 1] == '2' && p[i + 2] == 'C')
                c = ',';
            else if (p[i + 1] == '3' && p[i + 2] == 'D')
                c = '=';
            else
                return false;
            i += 2;
        }
        if (o + 1 >= cap)
            return false;
        out[o++] = c;
    }
    out[o] = '\0';
    *out_len = o;
    return true;
}
