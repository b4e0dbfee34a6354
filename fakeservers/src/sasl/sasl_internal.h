/*
 * sasl_internal.h: what the SASL engine (sasl.c) and the mechanisms
 * (mech_*.c) share: the server object, the mechanism table row, and the
 * result a mechanism hands back to the engine.  Not for the rest of mjfake.
 *
 * Division of labour: a mechanism parses and verifies its own messages and
 * says what it wants to send; the engine owns everything common (base64 in
 * and out, "*", caps, the scripted failures that fit every mechanism, the
 * server-final acknowledgement) so each mechanism stays a page long.
 */
#ifndef FK_SASL_INTERNAL_H
#define FK_SASL_INTERNAL_H

#include <openssl/evp.h>

#include "sasl/fk_sasl.h"

#define FK_SASL_USER_MAX      513 /* longest user name + NUL */
#define FK_SASL_CB_TYPE_MAX   64  /* longest channel binding type + NUL */
#define FK_SASL_CHALLENGE_MAX 512 /* longest CRAM-MD5 challenge + NUL */
#define FK_SASL_NONCE_RANDOM  18  /* random bytes of a server nonce (24 base64 chars) */

/* What a mechanism wants after a client message. */
typedef enum fk_mkind {
    FK_M_CHALLENGE = 0, /* send s->out, wait for the next message */
    FK_M_VERIFIED,      /* credentials good; s->out is server-final data if has_data */
    FK_M_FAIL,          /* the client is at fault: reason, s->msg */
    FK_M_BAIT           /* a deliberately bad message (scripted); rule says the right answer */
} fk_mkind;

/* What a correct client answers to a bait. */
typedef enum fk_bait_rule {
    FK_BAIT_CANCEL = 0, /* "*" only */
    FK_BAIT_EMPTY,      /* an empty response (XOAUTH2's error JSON), or "*" */
    FK_BAIT_KVSEP,      /* "\x01" (OAUTHBEARER's error JSON, RFC 7628 3.2.3), or "*" */
    FK_BAIT_ANY         /* any answer (SCRAM e=): the exchange is over anyway */
} fk_bait_rule;

typedef struct fk_mres {
    fk_mkind kind;
    bool has_data;         /* s->out holds data (always for CHALLENGE and BAIT) */
    const char *what;      /* BAIT: what was wrong with it, for messages (static) */
    fk_sasl_reason reason; /* FAIL; BAIT: the reason of the scripted failure */
    fk_bait_rule rule;     /* BAIT */
    /* BAIT: when the protocol carries data with outcomes, this outcome with
     * the data instead of a challenge; FK_SASL_CHALLENGE = always a challenge. */
    fk_sasl_status direct;
} fk_mres;

typedef struct fk_mech fk_mech;

/* SCRAM's state between its two client messages (mech_scram.c). */
typedef struct fk_scram {
    char *gs2;          /* gs2-header as sent, e.g. "n,," */
    char *first_bare;   /* client-first-message-bare */
    char *server_first; /* server-first-message */
    char *nonce;        /* client nonce + server nonce */
    bool user_ok;
    bool cb_used; /* gs2 flag "p" */
} fk_scram;

typedef enum fk_sstage {
    FK_SS_START = 0, /* nothing received yet */
    FK_SS_MECH,      /* the mechanism is talking */
    FK_SS_BAIT,      /* a bait was sent: waiting for the client's reaction */
    FK_SS_FINAL_ACK, /* server-final went out as a challenge: waiting for "" */
    FK_SS_DONE
} fk_sstage;

struct fk_sasl_server {
    const fk_mech *mech;
    /* the configuration, its strings and bytes copied and owned */
    fk_sasl_server_config cfg;
    fk_sstage stage;
    unsigned mstage;        /* the mechanism's own progress counter */
    bool malformed_pending; /* a CHALLENGE_* failure not yet sent */
    fk_bait_rule bait_rule;
    fk_sasl_reason bait_reason;
    const char *bait_what; /* FK_SS_BAIT: fk_mres.what */
    bool has_user;
    char user[FK_SASL_USER_MAX]; /* identity the client named */
    bool has_cb_type;
    char cb_type[FK_SASL_CB_TYPE_MAX]; /* "p=" type the client asked for */
    char cram[FK_SASL_CHALLENGE_MAX];  /* CRAM-MD5 challenge sent */
    fk_scram scram;
    char *out; /* what goes out (NUL-terminated) */
    size_t out_len, out_cap;
    char msg[FK_SASL_MESSAGE_MAX];
    /* decoded client message and a NUL; base64 of FK_SASL_B64_MAX characters
     * decodes to up to 2 bytes more than FK_SASL_MSG_MAX before the check */
    unsigned char in[FK_SASL_MSG_MAX + 3];
    size_t in_len;
};

/* One row of the mechanism table (sasl.c). */
struct fk_mech {
    const char *name;
    unsigned family;           /* FK_FAMILY_* */
    const EVP_MD *(*md)(void); /* SCRAM hash, else NULL */
    bool plus;                 /* SCRAM-*-PLUS */
    bool needs_user;           /* cfg->user is required */
    /* First step without an initial response: the first challenge. */
    int (*start)(fk_sasl_server *s, fk_mres *r);
    /* One decoded client message (s->in, s->in_len). */
    int (*input)(fk_sasl_server *s, fk_mres *r);
};

enum { FK_FAMILY_SIMPLE = 0, FK_FAMILY_SCRAM, FK_FAMILY_OAUTH };

/* ---- helpers of sasl.c for the mechanisms (return 0, or -1: no memory) ---- */

/* Base64-encode data into s->out. */
int fk_sasl_out_b64(fk_sasl_server *s, const void *data, size_t len);
/* Make s->out len zero bytes long (then NUL), for the caller to fill. */
int fk_sasl_out_alloc(fk_sasl_server *s, size_t len);
/* Put text into s->out as it is. */
int fk_sasl_out_raw(fk_sasl_server *s, const char *text, size_t len);
/* A challenge of data (base64-encoded). */
int fk_sasl_challenge(fk_sasl_server *s, fk_mres *r, const void *data, size_t len);
/* A failure that is the client's fault; fmt goes to s->msg. */
int fk_sasl_failf(fk_sasl_server *s, fk_mres *r, fk_sasl_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/*
 * Record the identity the client named (s->user) and compare it with
 * cfg.user (NULL: any).  False with r a FAIL (MALFORMED: NUL or over
 * FK_SASL_USER_MAX; UNKNOWN_USER) when it does not pass.
 */
bool fk_sasl_user_ok(fk_sasl_server *s, fk_mres *r, const char *user, size_t len);
/* Record user without judging it (SCRAM judges at its last message). */
bool fk_sasl_user_record(fk_sasl_server *s, fk_mres *r, const char *user, size_t len);
/* Judge the recorded s->user; false with r a FAIL UNKNOWN_USER. */
bool fk_sasl_user_judge(fk_sasl_server *s, fk_mres *r);
/* Whether user matches cfg.user (NULL: any). */
bool fk_sasl_user_matches(const fk_sasl_server *s, const char *user, size_t len);
/* Compare secret with cfg.password; false with r a FAIL WRONG_PASSWORD. */
bool fk_sasl_secret_ok(fk_sasl_server *s, fk_mres *r, const char *secret, size_t len);
/* Escape bytes for a message: printable ASCII kept, others as \xHH, capped. */
const char *fk_sasl_printable(const char *p, size_t len, char *buf, size_t cap);

/* Strict RFC 4648 base64 decoding: padding required, no whitespace.
 * Returns 0, or -1 when in is not base64 or the result exceeds cap. */
int fk_b64_decode(const char *in, size_t len, unsigned char *out, size_t cap, size_t *out_len);

/* An RFC 5802 gs2-header (SCRAM, and OAUTHBEARER per RFC 7628 3.1). */
typedef struct fk_gs2 {
    char flag;           /* 'n', 'y' or 'p' */
    const char *cb_name; /* 'p': the channel binding type */
    size_t cb_name_len;
    const char *authzid; /* after "a=", still saslname-encoded; NULL if absent */
    size_t authzid_len;
    size_t len; /* of the header, both commas included */
} fk_gs2;

/* Parse the gs2-header that starts msg; NULL, or what is wrong (static). */
const char *fk_gs2_parse(const char *msg, size_t len, fk_gs2 *out);

/* RFC 5802 saslname: "=2C" is ",", "=3D" is "=", any other "=" or a ","
 * is an error.  Decodes into out (cap bytes, NUL added); false on error. */
bool fk_saslname_decode(const char *p, size_t len, char *out, size_t cap, size_t *out_len);

/* ---- the mechanisms ---- */
int fk_mech_plain_input(fk_sasl_server *s, fk_mres *r);
int fk_mech_empty_start(fk_sasl_server *s, fk_mres *r);
int fk_mech_login_start(fk_sasl_server *s, fk_mres *r);
int fk_mech_login_input(fk_sasl_server *s, fk_mres *r);
int fk_mech_anonymous_input(fk_sasl_server *s, fk_mres *r);
int fk_mech_external_input(fk_sasl_server *s, fk_mres *r);
int fk_mech_cram_start(fk_sasl_server *s, fk_mres *r);
int fk_mech_cram_input(fk_sasl_server *s, fk_mres *r);
int fk_mech_scram_input(fk_sasl_server *s, fk_mres *r);
void fk_scram_clear(fk_scram *sc);
int fk_mech_xoauth2_input(fk_sasl_server *s, fk_mres *r);
int fk_mech_oauthbearer_input(fk_sasl_server *s, fk_mres *r);

#endif
