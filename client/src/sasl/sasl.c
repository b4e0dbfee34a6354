/*
 * sasl.c: the SASL mechanism table and the exchange driver (RFC 4422).
 *
 * The driver owns the wire encoding (strict base64 both ways, the challenge
 * cap) and the exchange state, so each mechanism only sees decoded bytes.
 * No I/O happens here; see mailjig/sasl.h for how an engine drives it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "sasl_internal.h"

#define USER  SASL_NEED_USER
#define PASS  SASL_NEED_PASSWORD
#define TOKEN SASL_NEED_TOKEN
#define CB    SASL_NEED_CB

/* Indexed by mj_sasl_mech: name, class, needs, start, challenge, final. */
static const struct sasl_mech_row mech_table[MJ_SASL_MECH_COUNT] = {
    [MJ_SASL_NONE] = {"", MJ_SASL_CLASS_EXPLICIT, 0, NULL, NULL, NULL, NULL},
    [MJ_SASL_PLAIN] = {"PLAIN", MJ_SASL_CLASS_CLEARTEXT, USER | PASS, sasl_plain_start, NULL, NULL,
                       NULL},
    [MJ_SASL_LOGIN] = {"LOGIN", MJ_SASL_CLASS_CLEARTEXT, USER | PASS, NULL, sasl_login_challenge,
                       NULL, NULL},
    [MJ_SASL_CRAM_MD5] = {"CRAM-MD5", MJ_SASL_CLASS_CHALLENGE, USER | PASS, NULL,
                          sasl_cram_challenge, NULL, NULL},
    [MJ_SASL_SCRAM_SHA_1] = {"SCRAM-SHA-1", MJ_SASL_CLASS_SCRAM, USER | PASS, sasl_scram_start,
                             sasl_scram_challenge, sasl_scram_final, "SHA1"},
    [MJ_SASL_SCRAM_SHA_256] = {"SCRAM-SHA-256", MJ_SASL_CLASS_SCRAM, USER | PASS, sasl_scram_start,
                               sasl_scram_challenge, sasl_scram_final, "SHA256"},
    [MJ_SASL_SCRAM_SHA_512] = {"SCRAM-SHA-512", MJ_SASL_CLASS_SCRAM, USER | PASS, sasl_scram_start,
                               sasl_scram_challenge, sasl_scram_final, "SHA512"},
    [MJ_SASL_SCRAM_SHA_1_PLUS] = {"SCRAM-SHA-1-PLUS", MJ_SASL_CLASS_SCRAM_PLUS, USER | PASS | CB,
                                  sasl_scram_start, sasl_scram_challenge, sasl_scram_final, "SHA1"},
    [MJ_SASL_SCRAM_SHA_256_PLUS] = {"SCRAM-SHA-256-PLUS", MJ_SASL_CLASS_SCRAM_PLUS,
                                    USER | PASS | CB, sasl_scram_start, sasl_scram_challenge,
                                    sasl_scram_final, "SHA256"},
    [MJ_SASL_SCRAM_SHA_512_PLUS] = {"SCRAM-SHA-512-PLUS", MJ_SASL_CLASS_SCRAM_PLUS,
                                    USER | PASS | CB, sasl_scram_start, sasl_scram_challenge,
                                    sasl_scram_final, "SHA512"},
    [MJ_SASL_XOAUTH2] = {"XOAUTH2", MJ_SASL_CLASS_CLEARTEXT, USER | TOKEN, sasl_xoauth2_start,
                         sasl_oauth_challenge, NULL, NULL},
    [MJ_SASL_OAUTHBEARER] = {"OAUTHBEARER", MJ_SASL_CLASS_CLEARTEXT, TOKEN, sasl_oauthbearer_start,
                             sasl_oauth_challenge, NULL, NULL},
    [MJ_SASL_ANONYMOUS] = {"ANONYMOUS", MJ_SASL_CLASS_EXPLICIT, 0, sasl_anonymous_start, NULL, NULL,
                           NULL},
    [MJ_SASL_EXTERNAL] = {"EXTERNAL", MJ_SASL_CLASS_EXPLICIT, 0, sasl_external_start, NULL, NULL,
                          NULL},
};

static const char *const cb_names[] = {
    [MJ_SASL_CB_NONE] = "",
    [MJ_SASL_CB_TLS_EXPORTER] = "tls-exporter",
    [MJ_SASL_CB_TLS_SERVER_END_POINT] = "tls-server-end-point",
};

const struct sasl_mech_row *sasl_mech_row(mj_sasl_mech mech)
{
    if ((unsigned)mech >= MJ_SASL_MECH_COUNT || mech == MJ_SASL_NONE)
        return NULL;
    return &mech_table[mech];
}

const char *mj_sasl_mech_name(mj_sasl_mech mech)
{
    if ((unsigned)mech >= MJ_SASL_MECH_COUNT)
        return "";
    return mech_table[mech].name;
}

mj_sasl_class mj_sasl_mech_class(mj_sasl_mech mech)
{
    if ((unsigned)mech >= MJ_SASL_MECH_COUNT)
        return MJ_SASL_CLASS_EXPLICIT;
    return mech_table[mech].cls;
}

const char *mj_sasl_cb_type_name(mj_sasl_cb_type type)
{
    if ((unsigned)type >= sizeof cb_names / sizeof cb_names[0])
        return "";
    return cb_names[type];
}

int mj_sasl_mech_from_name(const char *name, size_t len, mj_sasl_mech *mech_out)
{
    for (unsigned m = 1; m < MJ_SASL_MECH_COUNT; m++) {
        const char *n = mech_table[m].name;
        if (strlen(n) == len && strncasecmp(n, name, len) == 0) {
            *mech_out = (mj_sasl_mech)m;
            return 0;
        }
    }
    return -1;
}

mj_sasl_set mj_sasl_set_parse(const char *list)
{
    mj_sasl_set set = 0;
    const char *p = list;

    while (p != NULL && *p != '\0') {
        size_t skip = strspn(p, " ,\t");
        p += skip;
        size_t n = strcspn(p, " ,\t");
        mj_sasl_mech m;
        if (n > 0 && mj_sasl_mech_from_name(p, n, &m) == 0)
            set |= MJ_SASL_BIT(m);
        p += n;
    }
    return set;
}

/* ---- raw response builder ---------------------------------------------- */

mj_outcome sasl_put(struct mj_sasl *s, const void *data, size_t len, mj_error *err)
{
    if (len > sizeof s->raw - s->raw_len)
        return mj_error_set(err, MJ_INTERNAL, MJ_R_SYSTEM,
                            "SASL %s: response longer than MJ_SASL_RESPONSE_MAX (%d bytes)",
                            s->row->name, MJ_SASL_RESPONSE_MAX);
    if (len > 0)
        memcpy(s->raw + s->raw_len, data, len);
    s->raw_len += len;
    return MJ_OK;
}

mj_outcome sasl_puts(struct mj_sasl *s, const char *str, mj_error *err)
{
    return sasl_put(s, str, strlen(str), err);
}

mj_outcome sasl_put_saslname(struct mj_sasl *s, const char *name, mj_error *err)
{
    for (const char *p = name; *p != '\0'; p++) {
        const char *esc = *p == ',' ? "=2C" : *p == '=' ? "=3D" : NULL;
        mj_outcome o = esc ? sasl_puts(s, esc, err) : sasl_put(s, p, 1, err);
        if (o != MJ_OK)
            return o;
    }
    return MJ_OK;
}

mj_outcome sasl_final_simple(struct mj_sasl *s, const unsigned char *data, size_t len,
                             mj_error *err)
{
    (void)data;
    if (len > 0)
        return mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_MALFORMED,
                            "SASL %s: the server sent additional data with success, which "
                            "this mechanism does not define",
                            s->row->name);
    if (!s->complete)
        return mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_MALFORMED,
                            "SASL %s: the server reported success before the exchange was "
                            "complete",
                            s->row->name);
    return MJ_OK;
}

/* ---- creation ------------------------------------------------------------ */

static void free_secret(char *str)
{
    if (str == NULL)
        return;
    OPENSSL_cleanse(str, strlen(str));
    free(str);
}

static int given(const char *str)
{
    return str != NULL && str[0] != '\0';
}

/* Copy an optional credential with its cap; *out stays NULL when not given. */
static mj_outcome copy_cred(const char *what, const char *in, size_t cap, char **out, mj_error *err)
{
    if (!given(in))
        return MJ_OK;
    size_t n = strnlen(in, cap + 1);
    if (n > cap)
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "SASL: the %s is longer than %zu bytes", what, cap);
    *out = malloc(n + 1);
    if (*out == NULL)
        return mj_error_set(err, MJ_INTERNAL, MJ_R_NO_MEMORY, "SASL: out of memory");
    memcpy(*out, in, n + 1);
    return MJ_OK;
}

static mj_outcome copy_creds(mj_sasl *s, const mj_sasl_creds *c, mj_error *err)
{
    struct {
        const char *what;
        const char *in;
        size_t cap;
        char **out;
    } rows[] = {
        {"username", c->username, MJ_SASL_CRED_MAX, &s->username},
        {"password", c->password, MJ_SASL_CRED_MAX, &s->password},
        {"authorization identity", c->authzid, MJ_SASL_CRED_MAX, &s->authzid},
        {"token", c->token, MJ_SASL_TOKEN_MAX, &s->token},
        {"trace", c->trace, MJ_SASL_CRED_MAX, &s->trace},
        {"host", c->host, MJ_SASL_CRED_MAX, &s->host},
        {"test nonce", c->test_nonce, MJ_SASL_SCRAM_NONCE_MAX, &s->test_nonce},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        mj_outcome o = copy_cred(rows[i].what, rows[i].in, rows[i].cap, rows[i].out, err);
        if (o != MJ_OK)
            return o;
    }
    s->port = c->port;
    return MJ_OK;
}

static mj_outcome check_needs(mj_sasl *s, const mj_sasl_channel *chan, mj_error *err)
{
    unsigned needs = s->row->needs;
    const char *missing = (needs & USER) && s->username == NULL   ? "a username"
                          : (needs & PASS) && s->password == NULL ? "a password"
                          : (needs & TOKEN) && s->token == NULL   ? "an OAuth 2.0 token"
                                                                  : NULL;
    if (missing != NULL)
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT, "SASL %s needs %s", s->row->name,
                            missing);
    int have_cb = chan != NULL && chan->type != MJ_SASL_CB_NONE && chan->len > 0;
    if ((needs & CB) && !have_cb)
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "SASL %s needs channel-binding data from the TLS connection",
                            s->row->name);
    if (have_cb && (chan->len > MJ_SASL_CB_MAX || chan->data == NULL ||
                    (unsigned)chan->type >= sizeof cb_names / sizeof cb_names[0]))
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "SASL: bad channel-binding data (type %d, %zu bytes)", (int)chan->type,
                            chan->len);
    if (have_cb) {
        s->cb_type = chan->type;
        memcpy(s->cb, chan->data, chan->len);
        s->cb_len = chan->len;
        s->server_offers_plus = chan->server_offers_plus;
    }
    return MJ_OK;
}

/* SCRAM hashes the prepared form (RFC 5802 §2.2 Normalize). */
static mj_outcome prep_cred(char **cred, mj_error *err)
{
    if (*cred == NULL)
        return MJ_OK;
    size_t size = strlen(*cred) + 1;
    char *out = malloc(size);
    if (out == NULL)
        return mj_error_set(err, MJ_INTERNAL, MJ_R_NO_MEMORY, "SASL: out of memory");
    mj_outcome o = mj_saslprep(*cred, out, size, err);
    if (o == MJ_OK && out[0] == '\0')
        o = mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                         "SASL: a credential is empty after SASLprep");
    if (o != MJ_OK) {
        OPENSSL_cleanse(out, size);
        free(out);
        return o;
    }
    free_secret(*cred);
    *cred = out;
    return MJ_OK;
}

mj_outcome mj_sasl_new(mj_sasl_mech mech, const mj_sasl_creds *creds, const mj_sasl_channel *chan,
                       mj_sasl **out, mj_error *err)
{
    static const mj_sasl_creds no_creds;
    const struct sasl_mech_row *row = sasl_mech_row(mech);

    *out = NULL;
    if (row == NULL)
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT, "SASL: unknown mechanism %d",
                            (int)mech);
    mj_sasl *s = calloc(1, sizeof *s);
    if (s == NULL)
        return mj_error_set(err, MJ_INTERNAL, MJ_R_NO_MEMORY, "SASL: out of memory");
    s->mech = mech;
    s->row = row;
    mj_outcome o = copy_creds(s, creds != NULL ? creds : &no_creds, err);
    if (o == MJ_OK)
        o = check_needs(s, chan, err);
    if (o == MJ_OK && row->digest != NULL)
        o = prep_cred(&s->username, err);
    if (o == MJ_OK && row->digest != NULL)
        o = prep_cred(&s->password, err);
    if (o != MJ_OK) {
        mj_sasl_free(s);
        return o;
    }
    *out = s;
    return MJ_OK;
}

void mj_sasl_free(mj_sasl *s)
{
    if (s == NULL)
        return;
    char *secrets[] = {s->username, s->password, s->authzid,   s->token,
                       s->trace,    s->host,     s->test_nonce};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        free_secret(secrets[i]);
    /* The buffers hold responses, SCRAM keys and signatures. */
    OPENSSL_cleanse(s, sizeof *s);
    free(s);
}

mj_sasl_mech mj_sasl_get_mech(const mj_sasl *s)
{
    return s->mech;
}

/* ---- the exchange ---------------------------------------------------------- */

/* Forget the previous response (it was secret). */
static void reset_response(mj_sasl *s)
{
    OPENSSL_cleanse(s->raw, s->raw_len);
    OPENSSL_cleanse(s->out, s->out_len);
    s->raw_len = 0;
    s->out_len = 0;
    s->out[0] = '\0';
}

static mj_outcome encode_response(mj_sasl *s, mj_error *err)
{
    return mj_b64_encode(s->raw, s->raw_len, s->out, sizeof s->out, &s->out_len, err);
}

/* Record a failure; hand back the reply to send instead of "*", if any. */
static mj_outcome fail(mj_sasl *s, mj_outcome o, mj_error *err, const char **resp_out,
                       size_t *len_out)
{
    s->state = SASL_ST_FAILED;
    if (err != NULL)
        s->failure = *err;
    else
        s->failure.outcome = o;
    if (s->reply_on_error && encode_response(s, NULL) == MJ_OK) {
        *resp_out = s->out;
        *len_out = s->out_len;
    }
    return o;
}

/* The initial response went out.  Mechanisms with no final callback say
 * nothing more unless the server errs, so they are satisfied now. */
static void initial_sent(mj_sasl *s)
{
    s->state = SASL_ST_RUNNING;
    if (s->row->final == NULL)
        s->complete = 1;
}

static mj_outcome build_initial(mj_sasl *s, mj_error *err)
{
    reset_response(s);
    mj_outcome o = s->row->start(s, err);
    return o == MJ_OK ? encode_response(s, err) : o;
}

mj_outcome mj_sasl_initial(mj_sasl *s, size_t max_b64, const char **resp_out, size_t *len_out,
                           mj_error *err)
{
    *resp_out = NULL;
    *len_out = 0;
    if (s->state != SASL_ST_START)
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "SASL %s: initial response asked for twice", s->row->name);
    if (s->row->start == NULL) {
        s->state = SASL_ST_RUNNING;
        return MJ_OK;
    }
    mj_outcome o = build_initial(s, err);
    if (o != MJ_OK)
        return fail(s, o, err, resp_out, len_out);
    if (s->out_len > max_b64) {
        s->state = SASL_ST_DEFERRED; /* sent on the server's empty challenge */
        return MJ_OK;
    }
    initial_sent(s);
    *resp_out = s->out;
    *len_out = s->out_len;
    return MJ_OK;
}

/* First challenge of a client-first mechanism whose initial response was not
 * sent: RFC 4422 §5 has the server send an empty challenge. */
static mj_outcome send_deferred(mj_sasl *s, size_t len, mj_error *err)
{
    if (len != 0)
        return mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_MALFORMED,
                            "SASL %s: expected an empty challenge before the initial "
                            "response, got %zu bytes",
                            s->row->name, len);
    if (s->state == SASL_ST_START)
        return build_initial(s, err);
    return MJ_OK; /* already built and encoded by mj_sasl_initial */
}

static mj_outcome decode_challenge(mj_sasl *s, const char *text, size_t len, size_t *n_out,
                                   mj_error *err)
{
    if (len > MJ_B64_ENCODED_LEN(MJ_SASL_CHALLENGE_MAX))
        return mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_REPLY_TOO_LARGE,
                            "SASL %s: challenge of %zu base64 characters is over "
                            "MJ_SASL_CHALLENGE_MAX (%d bytes decoded)",
                            s->row->name, len, MJ_SASL_CHALLENGE_MAX);
    mj_outcome o = mj_b64_decode(text, len, s->chal, sizeof s->chal, n_out, err);
    if (o != MJ_OK)
        return mj_error_set(err, o, err != NULL ? err->reason : MJ_R_MALFORMED,
                            "SASL %s: the server's challenge is not valid base64", s->row->name);
    if (*n_out > MJ_SASL_CHALLENGE_MAX)
        return mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_REPLY_TOO_LARGE,
                            "SASL %s: challenge over MJ_SASL_CHALLENGE_MAX (%d bytes)",
                            s->row->name, MJ_SASL_CHALLENGE_MAX);
    return MJ_OK;
}

static mj_outcome run_challenge(mj_sasl *s, const char *text, size_t len, mj_error *err)
{
    size_t n = 0;
    if (s->row->start != NULL && s->state != SASL_ST_RUNNING)
        return send_deferred(s, len, err);
    s->state = SASL_ST_RUNNING;
    mj_outcome o = decode_challenge(s, text, len, &n, err);
    if (o != MJ_OK)
        return o;
    if (s->row->challenge == NULL)
        return mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_MALFORMED,
                            "SASL %s: unexpected challenge after the last client message",
                            s->row->name);
    reset_response(s);
    o = s->row->challenge(s, s->chal, n, err);
    return o == MJ_OK ? encode_response(s, err) : o;
}

mj_outcome mj_sasl_step(mj_sasl *s, const char *challenge, size_t len, const char **resp_out,
                        size_t *len_out, mj_error *err)
{
    *resp_out = NULL;
    *len_out = 0;
    if (s->state == SASL_ST_FAILED) {
        if (err != NULL)
            *err = s->failure;
        return s->failure.outcome;
    }
    int was_initial = s->row->start != NULL && s->state != SASL_ST_RUNNING;
    mj_outcome o = run_challenge(s, challenge, len, err);
    if (o != MJ_OK)
        return fail(s, o, err, resp_out, len_out);
    if (was_initial)
        initial_sent(s);
    *resp_out = s->out;
    *len_out = s->out_len;
    return MJ_OK;
}

mj_outcome mj_sasl_finish(mj_sasl *s, const char *data, size_t len, mj_error *err)
{
    const char *ignored_resp;
    size_t ignored_len;
    size_t n = 0;

    if (s->state == SASL_ST_FAILED) {
        if (err != NULL)
            *err = s->failure;
        return s->failure.outcome;
    }
    mj_outcome o = MJ_OK;
    if (data != NULL)
        o = decode_challenge(s, data, len, &n, err);
    if (o == MJ_OK) {
        sasl_final_fn final = s->row->final != NULL ? s->row->final : sasl_final_simple;
        o = final(s, data != NULL ? s->chal : NULL, n, err);
    }
    if (o != MJ_OK) {
        s->reply_on_error = 0; /* nothing is sent after the server's verdict */
        return fail(s, o, err, &ignored_resp, &ignored_len);
    }
    return MJ_OK;
}
