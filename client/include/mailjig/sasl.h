/*
 * mailjig/sasl.h: the client side of SASL mechanisms (RFC 4422), without I/O.
 *
 * Mechanisms: PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login), CRAM-MD5
 * (RFC 2195), SCRAM-SHA-1/-256/-512 and their -PLUS variants (RFC 5802,
 * RFC 7677, RFC 5929 / RFC 9266 channel bindings), XOAUTH2 (Google's format),
 * OAUTHBEARER (RFC 7628), ANONYMOUS (RFC 4505), EXTERNAL (RFC 4422 app. A).
 * Usernames and passwords for SCRAM go through a documented subset of
 * SASLprep (RFC 4013), see mj_saslprep.
 *
 * The mechanism layer never reads or writes a socket.  The protocol engine
 * (IMAP AUTHENTICATE, POP3 AUTH, SMTP AUTH) drives it:
 *
 *     mj_sasl_choose(...)                    pick a mechanism (client's order)
 *     mj_sasl_new(mech, creds, chan, &s)     copies the credentials
 *     mj_sasl_initial(s, max, &resp, &len)   initial response, or none
 *     loop: server challenge text -> mj_sasl_step(s, text, &resp, &len)
 *     server success [+ final data] -> mj_sasl_finish(s, data or NULL)
 *     mj_sasl_free(s)                        wipes every secret
 *
 * Wire encoding: mj_sasl_step and mj_sasl_finish take the challenge exactly
 * as it follows "+ " (IMAP, POP3) or "334 " (SMTP), i.e. base64 text without
 * CRLF; this layer decodes it strictly and enforces MJ_SASL_CHALLENGE_MAX.
 * Every response is returned as base64 text ready to send (an empty response
 * is the empty string: the engine sends an empty line, or "=" for an empty
 * SASL-IR initial response).
 *
 * Redaction (MailKit's rule): every response this layer produces, the initial
 * response included, is secret for the protocol log: the engine marks the
 * whole base64 text as a secret span.  Only the mechanism name may be logged.
 * Error messages never hold a credential; server text in them is escaped.
 */
#ifndef MAILJIG_SASL_H
#define MAILJIG_SASL_H

#include <stddef.h>
#include <stdint.h>

#include "mailjig/error.h"
#include "mailjig/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits ----------------------------------------------------------- */

/* Largest decoded challenge accepted (16 KiB); longer is a protocol error. */
#define MJ_SASL_CHALLENGE_MAX 16384
/* Largest decoded response this layer builds. */
#define MJ_SASL_RESPONSE_MAX 16384
/* Caps on caller-supplied credentials (bytes, NUL excluded). */
#define MJ_SASL_CRED_MAX  1024  /* username, password, authzid, host, trace */
#define MJ_SASL_TOKEN_MAX 12288 /* OAuth 2.0 bearer token */
/* Largest channel-binding data (tls-server-end-point of SHA-512 is 64). */
#define MJ_SASL_CB_MAX 128
/*
 * SCRAM iteration count bounds.  RFC 5802 says servers SHOULD use at least
 * 4096; lower counts are accepted (older servers) but zero is not.  The cap
 * stops a hostile server from making the client burn CPU (RFC 7804 §8,
 * SECURITY-CASES #63): it is checked before any PBKDF2 work.
 */
#define MJ_SASL_SCRAM_ITERATIONS_MIN 1
#define MJ_SASL_SCRAM_ITERATIONS_MAX 100000
/* Caps on parts of a SCRAM server-first-message (decoded salt, nonce). */
#define MJ_SASL_SCRAM_SALT_MAX  256
#define MJ_SASL_SCRAM_NONCE_MAX 512
/* Random bytes in a SCRAM client nonce (RFC 5802 wants >= 18 bytes). */
#define MJ_SASL_SCRAM_NONCE_BYTES 24

/* Length of the base64 text for n bytes (padding included), without NUL. */
#define MJ_B64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)

/* ---- mechanisms -------------------------------------------------------- */

typedef enum mj_sasl_mech {
    MJ_SASL_NONE = 0, /* "no mechanism" / "automatic" in mj_sasl_choice */
    MJ_SASL_PLAIN,
    MJ_SASL_LOGIN,
    MJ_SASL_CRAM_MD5,
    MJ_SASL_SCRAM_SHA_1,
    MJ_SASL_SCRAM_SHA_256,
    MJ_SASL_SCRAM_SHA_512,
    MJ_SASL_SCRAM_SHA_1_PLUS,
    MJ_SASL_SCRAM_SHA_256_PLUS,
    MJ_SASL_SCRAM_SHA_512_PLUS,
    MJ_SASL_XOAUTH2,
    MJ_SASL_OAUTHBEARER,
    MJ_SASL_ANONYMOUS,
    MJ_SASL_EXTERNAL,
    MJ_SASL_MECH_COUNT
} mj_sasl_mech;

/*
 * Strength classes, weakest first.  After a failure the client never falls
 * back to a lower class than the mechanism that failed (mj_sasl_choose_after_
 * failure).  MJ_SASL_CLASS_EXPLICIT (ANONYMOUS, EXTERNAL) is never chosen
 * automatically, only when forced.
 */
typedef enum mj_sasl_class {
    MJ_SASL_CLASS_EXPLICIT = 0,
    MJ_SASL_CLASS_CLEARTEXT, /* exposes the password or a bearer token */
    MJ_SASL_CLASS_CHALLENGE, /* CRAM-MD5: proves the password, MD5-based */
    MJ_SASL_CLASS_SCRAM,     /* mutual authentication */
    MJ_SASL_CLASS_SCRAM_PLUS /* mutual authentication bound to the TLS channel */
} mj_sasl_class;

/* IANA name, e.g. "SCRAM-SHA-256-PLUS"; "" for MJ_SASL_NONE.  Static storage. */
const char *mj_sasl_mech_name(mj_sasl_mech mech);

/* Case-insensitive lookup of name[0..len); returns 0 and sets *mech_out, or -1. */
int mj_sasl_mech_from_name(const char *name, size_t len, mj_sasl_mech *mech_out) MJ_MUST_CHECK;

/* The strength class of a mechanism. */
mj_sasl_class mj_sasl_mech_class(mj_sasl_mech mech);

/* A set of mechanisms, one bit per mj_sasl_mech. */
typedef uint32_t mj_sasl_set;
#define MJ_SASL_BIT(mech) ((mj_sasl_set)1u << (unsigned)(mech))

/*
 * Parse a list of mechanism names separated by spaces or commas (SMTP's
 * "AUTH PLAIN LOGIN" after the verb, or the names collected from IMAP's
 * AUTH=...): unknown names are ignored, case does not matter.  NULL -> 0.
 */
mj_sasl_set mj_sasl_set_parse(const char *list);

/* ---- credentials and channel binding ---------------------------------- */

/*
 * Credentials.  Every pointer is borrowed for the call only: mj_sasl_new
 * copies what the mechanism needs, so the caller may wipe its copies right
 * after.  NULL and "" both mean "not given".
 */
typedef struct mj_sasl_creds {
    const char *username; /* authentication identity (authcid) */
    const char *password;
    const char *authzid; /* authorization identity; optional */
    const char *token;   /* OAuth 2.0 bearer token (XOAUTH2, OAUTHBEARER) */
    const char *trace;   /* ANONYMOUS trace information; optional */
    const char *host;    /* OAUTHBEARER host=; optional */
    unsigned port;       /* OAUTHBEARER port=; 0 = omitted */
    /*
     * FOR TESTS ONLY: a fixed SCRAM client nonce (printable ASCII, no ',')
     * instead of MJ_SASL_SCRAM_NONCE_BYTES from RAND_bytes.  A fixed nonce
     * makes SCRAM replayable: production code leaves it NULL.
     */
    const char *test_nonce;
} mj_sasl_creds;

typedef enum mj_sasl_cb_type {
    MJ_SASL_CB_NONE = 0,
    MJ_SASL_CB_TLS_EXPORTER,        /* RFC 9266, TLS 1.3 */
    MJ_SASL_CB_TLS_SERVER_END_POINT /* RFC 5929, TLS 1.2 */
} mj_sasl_cb_type;

/* Stable name of a channel-binding type ("tls-exporter", ...); "" for NONE. */
const char *mj_sasl_cb_type_name(mj_sasl_cb_type type);

/*
 * The TLS channel as SCRAM sees it (filled by the connection code).  data is
 * borrowed for mj_sasl_new only (copied).  server_offers_plus: the server
 * advertised at least one -PLUS mechanism; it decides the GS2 flag of a
 * non-PLUS SCRAM exchange when the client has channel-binding data:
 *   -PLUS mechanism                         "p=<type>"
 *   non-PLUS, data given, server lacks PLUS  "y" (client could bind; RFC 5802 §6)
 *   otherwise                               "n"
 */
typedef struct mj_sasl_channel {
    mj_sasl_cb_type type;
    const unsigned char *data;
    size_t len;
    int server_offers_plus;
} mj_sasl_channel;

/* ---- choice of mechanism ---------------------------------------------- */

/* The caller's credential policy (SECURITY-CASES #55-#60). */
typedef struct mj_sasl_policy {
    /*
     * Let mechanisms of MJ_SASL_CLASS_CLEARTEXT (and USER/PASS, IMAP LOGIN)
     * run over a connection that is not TLS with a verified certificate.
     * Off by default; the server can never turn it on.
     */
    int allow_insecure_auth;
    /* Mechanisms the user switched off (never chosen, even when forced). */
    mj_sasl_set disabled;
} mj_sasl_policy;

/*
 * Nonzero when a mechanism or command that exposes the password or a token
 * may go out: tls == MJ_TLS_VERIFIED, or policy->allow_insecure_auth.
 * policy may be NULL (the default policy).  For USER/PASS, IMAP LOGIN, APOP
 * decisions in the protocol code as well.
 */
int mj_sasl_cleartext_allowed(mj_tls_state tls, const mj_sasl_policy *policy);

/*
 * MJ_USAGE / MJ_R_BAD_ARGUMENT in err when the user name, the password or the
 * authorization identity of creds (borrowed; NULL fields skipped) holds CR or
 * LF: they may go out on a command line (IMAP LOGIN, POP3 USER/PASS, APOP)
 * where a line end would start a command the user never wrote (SECURITY-CASES
 * #136).  The message names the field, never its value.  MJ_OK otherwise.
 */
mj_outcome mj_sasl_creds_check_lines(const mj_sasl_creds *creds, mj_error *err) MJ_MUST_CHECK;

/*
 * One authentication's choice state.  Zero-initialise, then fill
 * server_mechs, tls, channel_binding and forced; tried and floor are kept by
 * mj_sasl_choose_after_failure.
 */
typedef struct mj_sasl_choice {
    mj_sasl_set server_mechs; /* what the server advertised */
    mj_tls_state tls;         /* the connection's TLS state now */
    int channel_binding;      /* the caller can supply mj_sasl_channel data */
    mj_sasl_mech forced;      /* MJ_SASL_NONE: automatic */
    mj_sasl_set tried;        /* failed already; never chosen again */
    mj_sasl_class floor;      /* nothing weaker is chosen (after failures) */
} mj_sasl_choice;

/*
 * Pick the mechanism.  The order is the client's, never the server's:
 *   OAUTHBEARER, XOAUTH2            (only with a token; preferred when given)
 *   SCRAM-SHA-512-PLUS, SCRAM-SHA-256-PLUS, SCRAM-SHA-1-PLUS
 *                                   (only with channel binding)
 *   SCRAM-SHA-512, SCRAM-SHA-256, SCRAM-SHA-1
 *   CRAM-MD5                        (proves the password without sending it,
 *                                    so it is allowed on any channel; it is
 *                                    below SCRAM: no server authentication)
 *   PLAIN, LOGIN
 * ANONYMOUS and EXTERNAL only when forced.  A mechanism needs its
 * credentials (username+password; token; channel binding for -PLUS).
 * Outcomes:
 *   MJ_OK                 *mech_out set
 *   MJ_AUTH_UNSUPPORTED   no common usable mechanism, or the forced one is
 *                         not advertised / needs channel binding
 *   MJ_CLEARTEXT_REFUSED  common mechanisms exist but all expose a secret and
 *                         mj_sasl_cleartext_allowed() is false
 *   MJ_USAGE              forced mechanism without its credentials, or
 *                         disabled by the policy
 * policy may be NULL (default policy).
 */
mj_outcome mj_sasl_choose(const mj_sasl_choice *choice, const mj_sasl_policy *policy,
                          const mj_sasl_creds *creds, mj_sasl_mech *mech_out,
                          mj_error *err) MJ_MUST_CHECK;

/*
 * After `failed` did not authenticate: add it to choice->tried, raise
 * choice->floor to its class (no downgrade to a weaker class, whatever the
 * server offers next), then choose again under the same policy.  A forced
 * mechanism has no fallback.  When nothing is left: MJ_AUTH_FAILED (the
 * engine should report the original failure).  choice->server_mechs may be
 * refreshed by the caller before the call.
 */
mj_outcome mj_sasl_choose_after_failure(mj_sasl_choice *choice, mj_sasl_mech failed,
                                        const mj_sasl_policy *policy, const mj_sasl_creds *creds,
                                        mj_sasl_mech *mech_out, mj_error *err) MJ_MUST_CHECK;

/* ---- one exchange ------------------------------------------------------ */

typedef struct mj_sasl mj_sasl;

/*
 * Start an exchange.  Copies the credentials the mechanism needs (SASLprep'd
 * for SCRAM) and the channel data; chan may be NULL (no channel binding).
 * Refused with MJ_USAGE/MJ_R_BAD_ARGUMENT: missing credentials, a credential
 * over its cap, a -PLUS mechanism without channel data, a username or
 * password SASLprep rejects.  On success *out is owned by the caller
 * (mj_sasl_free).
 */
mj_outcome mj_sasl_new(mj_sasl_mech mech, const mj_sasl_creds *creds, const mj_sasl_channel *chan,
                       mj_sasl **out, mj_error *err) MJ_MUST_CHECK;

/* Wipe every secret (OPENSSL_cleanse) and free.  NULL is fine. */
void mj_sasl_free(mj_sasl *s);

/* The mechanism of s. */
mj_sasl_mech mj_sasl_get_mech(const mj_sasl *s);

/*
 * The initial response, called once before any step.  max_b64 is the longest
 * base64 text the command may carry (SIZE_MAX: no limit; 0: the protocol has
 * no initial response, e.g. IMAP without SASL-IR).
 *   *resp_out == NULL: send the command without an initial response.  (The
 *     mechanism is server-first, or its initial response does not fit: then
 *     the first mj_sasl_step, on the server's empty challenge, returns it.)
 *   *resp_out != NULL, *len_out == 0: an empty initial response ("=").
 *   otherwise: base64 text to send on the command line.
 * *resp_out is owned by s, valid until the next call on s.  Secret (log it
 * as ********).
 */
mj_outcome mj_sasl_initial(mj_sasl *s, size_t max_b64, const char **resp_out, size_t *len_out,
                           mj_error *err) MJ_MUST_CHECK;

/*
 * Answer one server challenge (base64 text after "+ " / "334 ").
 * MJ_OK: send *resp_out (base64, possibly empty; owned by s, valid until the
 * next call on s; secret).  On failure the exchange is over and err says why:
 *   *resp_out == NULL: cancel the exchange ("*"), then read the server's reply;
 *   *resp_out != NULL: send it instead of "*" (XOAUTH2 answers an error
 *     challenge with an empty response, OAUTHBEARER with %x01), then read the
 *     server's final failure.
 * MJ_PROTOCOL_ERROR/MJ_R_MALFORMED: undecodable base64 or a challenge that
 * breaks the mechanism's grammar; /MJ_R_REPLY_TOO_LARGE: over a cap.
 * MJ_AUTH_FAILED: the server refused (SCRAM e=, XOAUTH2/OAUTHBEARER error
 * JSON, with the server's text escaped) or failed verification (SCRAM nonce,
 * iteration count).
 */
mj_outcome mj_sasl_step(mj_sasl *s, const char *challenge, size_t len, const char **resp_out,
                        size_t *len_out, mj_error *err) MJ_MUST_CHECK;

/*
 * The server reported success.  data: base64 "additional data with success"
 * (IMAP/SMTP may carry SCRAM's server-final-message there), or NULL.
 * MJ_OK only when the mechanism is satisfied: every client message went out
 * and, for SCRAM, the server signature (v=) verified, either here or in an
 * earlier step.  A success that comes too early is MJ_PROTOCOL_ERROR
 * (SECURITY-CASES #65); a wrong or missing v= is MJ_AUTH_FAILED.
 */
mj_outcome mj_sasl_finish(mj_sasl *s, const char *data, size_t len, mj_error *err) MJ_MUST_CHECK;

/* ---- helpers ----------------------------------------------------------- */

/*
 * Base64 (RFC 4648, standard alphabet, padded) with OpenSSL's EVP_EncodeBlock
 * and EVP_DecodeBlock.  encode: out_size must be >= MJ_B64_ENCODED_LEN(len)+1;
 * writes a NUL-terminated string.  decode: strict -- length a multiple of 4,
 * alphabet only, '=' only as the final one or two characters, no whitespace,
 * canonical (the bits dropped by padding are zero, RFC 4648 §3.5);
 * out_size must be >= 3*len/4.  Both set *len_out.  Errors: MJ_PROTOCOL_ERROR
 * /MJ_R_MALFORMED (bad input) or MJ_INTERNAL/MJ_R_SYSTEM (out too small).
 */
mj_outcome mj_b64_encode(const void *in, size_t len, char *out, size_t out_size, size_t *len_out,
                         mj_error *err) MJ_MUST_CHECK;
mj_outcome mj_b64_decode(const char *in, size_t len, unsigned char *out, size_t out_size,
                         size_t *len_out, mj_error *err) MJ_MUST_CHECK;

/*
 * SASLprep (RFC 4013) -- a documented subset.  Done:
 *   - invalid UTF-8 (overlong, surrogates, > U+10FFFF, truncated) rejected;
 *   - non-ASCII spaces (C.1.2: U+00A0, U+1680, U+2000-U+200B, U+202F,
 *     U+205F, U+3000) mapped to U+0020 (U+200B is in both C.1.2 and B.1:
 *     table order makes it a space, as most implementations do);
 *   - "commonly mapped to nothing" (B.1: U+00AD, U+034F, U+1806,
 *     U+180B-U+180D, U+200C, U+200D, U+2060, U+FE00-U+FE0F, U+FEFF) removed;
 *   - prohibited output rejected: ASCII and non-ASCII controls (C.2), private
 *     use (C.3), non-characters (C.4), surrogates (C.5), U+FFF9-U+FFFD
 *     (C.6/C.7), U+2FF0-U+2FFB (C.7), U+0340/U+0341, U+200E/U+200F,
 *     U+202A-U+202E, U+206A-U+206F (C.8), tagging U+E0001, U+E0020-U+E007F
 *     (C.9);
 *   - bidi (RFC 3454 §6), approximated by blocks: every character in
 *     U+0590-U+08FF, U+FB1D-U+FDFF, U+FE70-U+FEFC counts as right-to-left
 *     (RandALCat).  A string holding one must start and end with one and
 *     hold no ASCII letter and no other character >= U+0080.  This rejects
 *     some mixed strings the RFC allows, and treats marks and Arabic-Indic
 *     digits inside those blocks as RandALCat (the RFC does not).
 * NOT done: NFKC normalization and the unassigned-code-point check.  Pure
 * ASCII strings and strings already in NFKC are prepared exactly; others
 * that NFKC would change (e.g. U+00AA, fullwidth letters, ligatures) pass
 * through unnormalized, so a server that stores the NFKC form will reject
 * the password.
 * out_size must be >= strlen(in)+1 (the output never grows).  Errors:
 * MJ_USAGE/MJ_R_BAD_ARGUMENT naming the kind of offending character (never
 * the character or the text: it may be part of a password).
 */
mj_outcome mj_saslprep(const char *in, char *out, size_t out_size, mj_error *err) MJ_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
