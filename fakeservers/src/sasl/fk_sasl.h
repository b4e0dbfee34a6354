/*
 * fk_sasl.h: the server side of SASL for mjfake, one pure state machine per
 * mechanism.  No I/O: the core feeds each client line in (without its line
 * end) and sends what comes out, framed by the protocol ("+ " for IMAP and
 * POP3, "334 " for SMTP; the tagged/numbered outcome lines).
 *
 * RFCs: 4422 (SASL), 4616 (PLAIN), draft-murchison-sasl-login (LOGIN), 2195
 * (CRAM-MD5), 5802 + 7677 (SCRAM-SHA-1/-256, -PLUS), SCRAM-SHA-512 by the same
 * rules, 7628 (OAUTHBEARER), Google's XOAUTH2, 4505 (ANONYMOUS), 4422 app. A
 * (EXTERNAL).  Built on OpenSSL primitives only; shares no code with the
 * client library.
 *
 * One exchange, seen from the core:
 *
 *     s = fk_sasl_server_new("SCRAM-SHA-256", &cfg, err, sizeof err);
 *     fk_sasl_server_step(s, ir, ir_len, client_sent_ir, &r);   first step
 *     while (r.status == FK_SASL_CHALLENGE) {
 *         send "+ " r.b64 CRLF; read line;
 *         fk_sasl_server_step(s, line, len, true, &r);
 *     }
 *     SUCCESS: the credentials checked out.  FAILURE: r.reason, r.message,
 *     and r.as_scripted says whether it is the failure the scenario asked for
 *     (the client behaved as a correct client must) or a mismatch.
 *     fk_sasl_server_free(s);
 *
 * Scripted failures (fk_sasl_fail) make the server misbehave on purpose, so
 * scenarios can test how clients react; exactly one can be active.
 */
#ifndef FK_SASL_H
#define FK_SASL_H

#include <stdbool.h>
#include <stddef.h>

/* Longest decoded client message (an OAuth token fits many times over). */
#define FK_SASL_MSG_MAX 16384
/* Longest client line: the base64 of FK_SASL_MSG_MAX bytes. */
#define FK_SASL_B64_MAX (4 * ((FK_SASL_MSG_MAX + 2) / 3))
/* Longest human message of a FAILURE (fk_sasl_reply.message), NUL included. */
#define FK_SASL_MESSAGE_MAX 256
/* FK_SASL_FAIL_CHALLENGE_OVERSIZED: default and cap of its length. */
#define FK_SASL_OVERSIZED_DEFAULT ((size_t)100 * 1024)
#define FK_SASL_OVERSIZED_MAX     ((size_t)4 * 1024 * 1024)
/* SCRAM: defaults and limits of the configurable parameters. */
#define FK_SASL_SCRAM_ITERATIONS_DEFAULT 4096u
#define FK_SASL_SCRAM_ITERATIONS_MAX     1000000u    /* the server computes this many */
#define FK_SASL_SCRAM_HUGE_ITERATIONS    2147483647u /* sent, never computed */
#define FK_SASL_SCRAM_SALT_DEFAULT_LEN   16
#define FK_SASL_SCRAM_SALT_MAX           64
#define FK_SASL_NONCE_MAX                128 /* test hook: fixed nonce suffix */
#define FK_SASL_CB_DATA_MAX              128 /* channel binding data */

typedef struct fk_sasl_server fk_sasl_server;

/*
 * Scripted failures.  Names in fk_sasl_fail_name() are the YAML spellings
 * proposed for the loader.
 */
typedef enum fk_sasl_fail {
    FK_SASL_FAIL_NONE = 0,
    /* The exchange runs; where it would succeed the server fails instead. */
    FK_SASL_FAIL_WRONG_PASSWORD, /* "wrong-password" */
    FK_SASL_FAIL_UNKNOWN_USER,   /* "unknown-user" */
    FK_SASL_FAIL_TEMPORARY,      /* "temporary": the personality says [UNAVAILABLE], 454, ... */
    /* The first step fails at once, whatever the client sent. */
    FK_SASL_FAIL_UNSUPPORTED, /* "unsupported" */
    /*
     * The first challenge with content (SCRAM server-first, CRAM-MD5
     * timestamp, LOGIN prompt) is replaced; a mechanism that has none
     * (PLAIN, XOAUTH2, OAUTHBEARER, ANONYMOUS, EXTERNAL) gets it in place of
     * its success.  A correct client cancels with "*".
     */
    FK_SASL_FAIL_CHALLENGE_NOT_BASE64, /* "challenge-not-base64": "!!!" */
    FK_SASL_FAIL_CHALLENGE_EMPTY,      /* "challenge-empty": "" */
    FK_SASL_FAIL_CHALLENGE_OVERSIZED,  /* "challenge-oversized": oversized_len chars "QUFB..." */
    /* SCRAM-* only.  A correct client cancels ("*") after the bad message. */
    FK_SASL_FAIL_SCRAM_BAD_SIGNATURE,   /* "scram-bad-signature": v= with byte 0 inverted */
    FK_SASL_FAIL_SCRAM_FOREIGN_NONCE,   /* "scram-foreign-nonce": r= lacks the client nonce */
    FK_SASL_FAIL_SCRAM_HUGE_ITERATIONS, /* "scram-huge-iterations": i=2147483647 */
    FK_SASL_FAIL_SCRAM_ERROR,           /* "scram-error": e=scram_error in server-final */
    /* XOAUTH2 / OAUTHBEARER only: the provider's error JSON, then failure. */
    FK_SASL_FAIL_OAUTH_ERROR, /* "oauth-error" */
    FK_SASL_FAIL_COUNT
} fk_sasl_fail;

typedef struct fk_sasl_server_config {
    /*
     * The credentials the client must present.  user: the authentication
     * identity (XOAUTH2 user=, OAUTHBEARER a=); NULL accepts any user and is
     * allowed only for ANONYMOUS (the trace) and EXTERNAL (the authzid).
     * password: the password, or the bearer token for XOAUTH2/OAUTHBEARER;
     * unused by ANONYMOUS and EXTERNAL.  Compared byte for byte: no SASLprep.
     */
    const char *user;
    const char *password;
    /*
     * Whether the protocol carries additional data with its success/failure
     * (RFC 4422 section 4).  IMAP, POP3 and SMTP do not (false): SCRAM's
     * server-final then goes out as a challenge and the client answers with
     * an empty response before the SUCCESS.
     */
    bool success_with_data;

    fk_sasl_fail fail;
    size_t oversized_len;    /* CHALLENGE_OVERSIZED: base64 chars, a multiple of 4; 0 = default */
    const char *scram_error; /* SCRAM_ERROR: the e= value; NULL = "other-error" */

    unsigned scram_iterations;       /* 0 = FK_SASL_SCRAM_ITERATIONS_DEFAULT */
    const unsigned char *scram_salt; /* NULL = FK_SASL_SCRAM_SALT_DEFAULT_LEN random bytes */
    size_t scram_salt_len;
    const char *scram_nonce_suffix; /* test hook; NULL = 24 random base64 characters */
    const char *cram_challenge;     /* test hook; NULL = "<random.time@mjfake.invalid>" */

    /*
     * Channel binding the connection offers to SCRAM-*-PLUS (RFC 5929 /
     * 9266): its type ("tls-exporter", "tls-server-end-point") and data.
     * cb_data NULL: a client asking for channel binding ("p=") fails with
     * FK_SASL_R_CHANNEL_BINDING.
     */
    const char *cb_type;
    const unsigned char *cb_data;
    size_t cb_data_len;

    /*
     * EXTERNAL (RFC 4422 appendix A): whether the identity comes from TLS.
     * false (the unit tests' default): only the authzid is judged against
     * user.  true (mjfake's connections): tls_cn is the subject CN of the
     * verified client certificate, NULL when the client presented none --
     * then EXTERNAL fails with FK_SASL_R_NO_CLIENT_CERT; else the identity
     * is the authzid when non-empty, the CN when empty, and must be user.
     */
    bool tls_identity;
    const char *tls_cn;
} fk_sasl_server_config;

typedef enum fk_sasl_status {
    FK_SASL_CHALLENGE = 0, /* send b64 as a challenge, feed the client's answer back */
    FK_SASL_SUCCESS,       /* authenticated; b64 = additional data or NULL */
    FK_SASL_FAILURE        /* not authenticated; see reason */
} fk_sasl_status;

typedef enum fk_sasl_reason {
    FK_SASL_R_NONE = 0,       /* CHALLENGE, SUCCESS */
    FK_SASL_R_CANCELLED,      /* the client sent "*" */
    FK_SASL_R_MALFORMED,      /* not base64, or not the mechanism's syntax */
    FK_SASL_R_TOO_LONG,       /* longer than FK_SASL_B64_MAX */
    FK_SASL_R_WRONG_PASSWORD, /* or wrong token, wrong proof, wrong digest */
    FK_SASL_R_UNKNOWN_USER,
    FK_SASL_R_AUTHZID,         /* an authorization identity other than the user */
    FK_SASL_R_CHANNEL_BINDING, /* SCRAM channel binding asked for, absent or wrong */
    FK_SASL_R_UNSUPPORTED,     /* scripted: mechanism not supported */
    FK_SASL_R_TEMPORARY,       /* scripted: temporary failure */
    FK_SASL_R_SERVER_ERROR,    /* scripted: SCRAM e= or OAuth error JSON, acknowledged */
    FK_SASL_R_NOT_CANCELLED,   /* the client went on after a bad server message */
    FK_SASL_R_INTERNAL,        /* memory, OpenSSL, or a step after the end */
    FK_SASL_R_NO_CLIENT_CERT   /* EXTERNAL with tls_identity, and no verified client certificate */
} fk_sasl_reason;

typedef struct fk_sasl_reply {
    fk_sasl_status status;
    /*
     * CHALLENGE: the text to send (base64 unless a scripted malformed
     * challenge says otherwise; "" is the empty challenge).  SUCCESS and
     * FAILURE: additional data (success_with_data only), else NULL.
     * NUL-terminated; owned by the server, valid until its next step or free.
     */
    const char *b64;
    size_t b64_len;
    fk_sasl_reason reason; /* FAILURE */
    /*
     * FAILURE: true when this is the failure the configuration scripted and
     * the client did what a correct client does (e.g. cancelled a malformed
     * challenge); false when the client is at fault (wrong credentials,
     * malformed message, went on after a bad challenge): a mismatch.
     */
    bool as_scripted;
    /* FAILURE: one line for people, never a password or token; owned as b64. */
    const char *message;
} fk_sasl_reply;

/*
 * Create the server side of one exchange for mechanism mech (case-insensitive,
 * a name of fk_sasl_mechanism_known).  cfg is copied: the caller may free its
 * strings after the call.  Returns NULL with a one-line reason in err (size n)
 * for an unknown mechanism, missing credentials, a scripted failure that does
 * not fit the mechanism, a parameter over its cap, or no memory.
 */
fk_sasl_server *fk_sasl_server_new(const char *mech, const fk_sasl_server_config *cfg, char *err,
                                   size_t n);

/*
 * Feed one client message: line/len is the line as received, without CRLF
 * (base64, "*" to cancel, "=" as an initial response for empty).  has_data is
 * false only on the first step when the client sent no initial response; an
 * empty continuation line is len 0 with has_data true.  Fills out (its
 * pointers owned by s).  Returns 0, or -1 on an internal error (no memory,
 * OpenSSL failure, a step after SUCCESS/FAILURE) with out a FAILURE of reason
 * FK_SASL_R_INTERNAL.
 */
int fk_sasl_server_step(fk_sasl_server *s, const char *line, size_t len, bool has_data,
                        fk_sasl_reply *out);

/* Free s and wipe the secrets it held (NULL is fine). */
void fk_sasl_server_free(fk_sasl_server *s);

/* The identity the client named (authcid; ANONYMOUS trace; EXTERNAL authzid),
 * once known, else NULL.  Owned by s. */
const char *fk_sasl_server_user(const fk_sasl_server *s);

/* The channel binding type a SCRAM client asked for with "p=", else NULL. */
const char *fk_sasl_server_cb_type(const fk_sasl_server *s);

/* The canonical (upper case) name of s's mechanism. */
const char *fk_sasl_server_mechanism(const fk_sasl_server *s);

/* Whether name (case-insensitive) is a mechanism this module serves. */
bool fk_sasl_mechanism_known(const char *name);

/* YAML spelling of a scripted failure ("wrong-password"), NULL when out of range. */
const char *fk_sasl_fail_name(fk_sasl_fail f);

/* The scripted failure spelled name; returns 0, or -1 when there is none. */
int fk_sasl_fail_from_name(const char *name, fk_sasl_fail *out);

/* Short name of a reason ("wrong-password"), for transcripts. */
const char *fk_sasl_reason_name(fk_sasl_reason r);

#endif
