/*
 * sasl_internal.h: what the SASL mechanism files share (not installed).
 *
 * sasl.c holds the mechanism table and the driver (mj_sasl_new / initial /
 * step / finish); each mech_*.c file supplies the per-mechanism callbacks
 * declared here.  Callbacks build the raw (decoded) response in s->raw with
 * sasl_put*; the driver base64-encodes it into s->out.
 */
#ifndef MAILJIG_SASL_INTERNAL_H
#define MAILJIG_SASL_INTERNAL_H

#include <openssl/evp.h>

#include "mailjig/sasl.h"

/* Room for SCRAM's AuthMessage: client-first-bare (escaped username, nonce),
 * server-first (<= MJ_SASL_CHALLENGE_MAX) and client-final-without-proof. */
#define SASL_SCRAM_AUTHMSG_MAX 32768

/* Where an exchange stands (driver-level; SCRAM keeps its own phase). */
enum sasl_state {
    SASL_ST_START = 0, /* nothing sent yet */
    SASL_ST_DEFERRED,  /* initial response built but did not fit: wait for "" */
    SASL_ST_RUNNING,   /* exchanging challenges */
    SASL_ST_FAILED     /* failed; s->failure holds why */
};

/* What a mechanism needs from mj_sasl_creds / mj_sasl_channel. */
enum sasl_need {
    SASL_NEED_USER = 1u << 0,
    SASL_NEED_PASSWORD = 1u << 1,
    SASL_NEED_TOKEN = 1u << 2,
    SASL_NEED_CB = 1u << 3
};

struct mj_sasl;

/* Callbacks.  They fill s->raw (via sasl_put*) and return MJ_OK or an error
 * in err; on error, s->reply_on_error = 1 asks the driver to send s->raw
 * instead of cancelling. */
typedef mj_outcome (*sasl_start_fn)(struct mj_sasl *s, mj_error *err);
typedef mj_outcome (*sasl_challenge_fn)(struct mj_sasl *s, const unsigned char *c, size_t len,
                                        mj_error *err);
/* data == NULL: the success carried no additional data. */
typedef mj_outcome (*sasl_final_fn)(struct mj_sasl *s, const unsigned char *data, size_t len,
                                    mj_error *err);

struct sasl_mech_row {
    const char *name;
    mj_sasl_class cls;
    unsigned needs;              /* enum sasl_need bits */
    sasl_start_fn start;         /* NULL: server-first mechanism */
    sasl_challenge_fn challenge; /* NULL: no challenge expected */
    sasl_final_fn final;         /* NULL: sasl_final_simple */
    const char *digest;          /* SCRAM: OpenSSL digest name */
};

struct mj_sasl {
    mj_sasl_mech mech;
    const struct sasl_mech_row *row;
    enum sasl_state state;
    int complete;       /* the mechanism is satisfied (SCRAM: v= verified) */
    int reply_on_error; /* on failure send s->raw instead of "*" */
    int phase;          /* per-mechanism step counter */
    mj_error failure;
    /* Credentials, owned copies, wiped on free. */
    char *username;
    char *password;
    char *authzid;
    char *token;
    char *trace;
    char *host;
    unsigned port;
    char *test_nonce;
    /* Channel binding. */
    mj_sasl_cb_type cb_type;
    unsigned char cb[MJ_SASL_CB_MAX];
    size_t cb_len;
    int server_offers_plus;
    /* SCRAM state. */
    char nonce[MJ_SASL_SCRAM_NONCE_MAX + 1];
    char authmsg[SASL_SCRAM_AUTHMSG_MAX];
    size_t authmsg_len;
    unsigned char server_sig[EVP_MAX_MD_SIZE];
    size_t server_sig_len;
    /* Buffers: decoded challenge, raw response, its base64 form. */
    unsigned char chal[MJ_SASL_CHALLENGE_MAX + 4];
    unsigned char raw[MJ_SASL_RESPONSE_MAX];
    size_t raw_len;
    char out[MJ_B64_ENCODED_LEN(MJ_SASL_RESPONSE_MAX) + 1];
    size_t out_len;
};

/* The table row of a mechanism (NULL for MJ_SASL_NONE or out of range). */
const struct sasl_mech_row *sasl_mech_row(mj_sasl_mech mech);

/* Append to s->raw; MJ_INTERNAL if MJ_SASL_RESPONSE_MAX would be exceeded
 * (cannot happen with the credential caps, checked anyway). */
mj_outcome sasl_put(struct mj_sasl *s, const void *data, size_t len, mj_error *err);
mj_outcome sasl_puts(struct mj_sasl *s, const char *str, mj_error *err);
/* Append a saslname (RFC 5802 / RFC 7628): ',' -> "=2C", '=' -> "=3D". */
mj_outcome sasl_put_saslname(struct mj_sasl *s, const char *name, mj_error *err);

/* Default final: satisfied iff s->complete, and no additional data. */
mj_outcome sasl_final_simple(struct mj_sasl *s, const unsigned char *data, size_t len,
                             mj_error *err);

/* mech_simple.c */
mj_outcome sasl_plain_start(struct mj_sasl *s, mj_error *err);
mj_outcome sasl_login_challenge(struct mj_sasl *s, const unsigned char *c, size_t len,
                                mj_error *err);
mj_outcome sasl_cram_challenge(struct mj_sasl *s, const unsigned char *c, size_t len,
                               mj_error *err);
mj_outcome sasl_anonymous_start(struct mj_sasl *s, mj_error *err);
mj_outcome sasl_external_start(struct mj_sasl *s, mj_error *err);

/* mech_oauth.c */
mj_outcome sasl_xoauth2_start(struct mj_sasl *s, mj_error *err);
mj_outcome sasl_oauthbearer_start(struct mj_sasl *s, mj_error *err);
mj_outcome sasl_oauth_challenge(struct mj_sasl *s, const unsigned char *c, size_t len,
                                mj_error *err);

/* mech_scram.c */
mj_outcome sasl_scram_start(struct mj_sasl *s, mj_error *err);
mj_outcome sasl_scram_challenge(struct mj_sasl *s, const unsigned char *c, size_t len,
                                mj_error *err);
mj_outcome sasl_scram_final(struct mj_sasl *s, const unsigned char *data, size_t len,
                            mj_error *err);

#endif
