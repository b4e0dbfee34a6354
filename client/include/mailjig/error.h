/*
 * mailjig/error.h: the one error vocabulary of mailjig.
 *
 * Every fallible function in libmailjig returns an mj_outcome (MJ_OK on
 * success) and, on failure, fills an mj_error that the caller owns.  The
 * outcome is the coarse class of SCENARIOS.md ("Outcome classes"); the reason
 * is the precise cause (which limit, which certificate check); the message is
 * for people and never holds a secret.  One table maps outcomes to the exit
 * codes of `mj` and to the stable strings used by the harness and reports.
 */
#ifndef MAILJIG_ERROR_H
#define MAILJIG_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Functions whose result must be checked. */
#if defined(__GNUC__) || defined(__clang__)
#define MJ_MUST_CHECK __attribute__((warn_unused_result))
#define MJ_PRINTF(fmt_idx, first_arg) __attribute__((format(printf, fmt_idx, first_arg)))
#else
#define MJ_MUST_CHECK
#define MJ_PRINTF(fmt_idx, first_arg)
#endif

/*
 * The outcome classes.  The numeric values are internal; the strings
 * (mj_outcome_name) and exit codes (mj_outcome_exit_code) are the stable
 * contract.  MJ_INTERNAL is mailjig's extension for failures on the local
 * side (out of memory, a local file that cannot be written).
 */
typedef enum mj_outcome {
    MJ_OK = 0,
    MJ_USAGE,
    MJ_CONNECT_FAILED,
    MJ_TIMEOUT,
    MJ_CONNECTION_LOST,
    MJ_TLS_FAILED,
    MJ_CERTIFICATE_INVALID,
    MJ_STARTTLS_UNAVAILABLE,
    MJ_CLEARTEXT_REFUSED,
    MJ_AUTH_FAILED,
    MJ_AUTH_UNSUPPORTED,
    MJ_PROTOCOL_ERROR,
    MJ_SERVER_REFUSED,
    MJ_SERVER_BUSY,
    MJ_MESSAGE_REJECTED,
    MJ_INTERNAL,
    MJ_OUTCOME_COUNT
} mj_outcome;

/*
 * The precise reason inside an outcome class.  Each named limit has its own
 * reason, so "hitting a cap" is always distinguishable from "malformed".
 */
typedef enum mj_reason {
    MJ_R_NONE = 0,
    /* usage */
    MJ_R_BAD_ARGUMENT,
    /* connect-failed */
    MJ_R_RESOLVE,            /* name not found */
    MJ_R_REFUSED,            /* every address refused the connection */
    MJ_R_UNREACHABLE,        /* network or host unreachable */
    /* timeout */
    MJ_R_CONNECT_TIMEOUT,
    MJ_R_IO_TIMEOUT,         /* no progress within the per-operation timeout */
    MJ_R_DEADLINE,           /* the total deadline passed */
    /* connection-lost */
    MJ_R_EOF,                /* orderly close (FIN, or TLS close_notify) */
    MJ_R_RESET,              /* RST, EPIPE */
    MJ_R_TLS_TRUNCATED,      /* TCP EOF without TLS close_notify */
    /* tls-failed */
    MJ_R_TLS_HANDSHAKE,
    MJ_R_TLS_PLAINTEXT,      /* the peer answered in plaintext */
    MJ_R_TLS_VERSION,        /* no common protocol version */
    MJ_R_TLS_ALERT,          /* fatal alert after the handshake */
    /* certificate-invalid */
    MJ_R_CERT_EXPIRED,
    MJ_R_CERT_NOT_YET_VALID,
    MJ_R_CERT_UNTRUSTED,
    MJ_R_CERT_HOSTNAME,
    MJ_R_CERT_PURPOSE,
    MJ_R_CERT_CHAIN,
    MJ_R_CERT_WEAK,
    MJ_R_CERT_PIN,           /* a SHA-256 pin was set and did not match */
    MJ_R_CERT_OTHER,
    /* protocol-error */
    MJ_R_MALFORMED,
    MJ_R_DATA_AFTER_STARTTLS,
    MJ_R_LINE_TOO_LONG,      /* MJ_LIMIT line_max */
    MJ_R_REPLY_TOO_LARGE,    /* MJ_LIMIT reply_max */
    MJ_R_STREAM_TOO_LARGE,   /* a streamed payload exceeded its cap */
    MJ_R_BARE_LF,            /* a bare LF under MJ_BARE_LF_REJECT */
    MJ_R_NESTING_TOO_DEEP,   /* parenthesized lists nested past a parser's depth cap */
    MJ_R_TOO_MANY_TOKENS,    /* one response held more tokens than a parser's cap */
    MJ_R_NUMBER_OVERFLOW,    /* a number larger than its grammar allows (32 or 63 bits) */
    MJ_R_COMPRESS_CORRUPT,   /* a compressed stream zlib rejects (RFC 4978 COMPRESS) */
    MJ_R_COMPRESS_RATIO,     /* decompressed past MJ_DEFLATE ratio bound (a bomb) */
    /* internal */
    MJ_R_NO_MEMORY,
    MJ_R_LOCAL_IO,           /* a local file or sink failed */
    MJ_R_SYSTEM,             /* an unexpected system or library error */
    MJ_REASON_COUNT
} mj_reason;

/* Capacity of mj_error.message, terminating NUL included. */
#define MJ_ERROR_MESSAGE_MAX 512

/*
 * An error, owned by whoever declared it (usually the caller, or a session
 * struct).  message is always NUL-terminated; it is escaped text (no control
 * bytes) and never holds a credential.
 */
typedef struct mj_error {
    mj_outcome outcome;
    mj_reason reason;
    char message[MJ_ERROR_MESSAGE_MAX];
} mj_error;

/* Stable lower-case class name, e.g. "certificate-invalid".  Static storage. */
const char *mj_outcome_name(mj_outcome outcome);

/* Parse a class name; returns 0 and sets *outcome_out, or -1 if unknown. */
int mj_outcome_from_name(const char *name, mj_outcome *outcome_out) MJ_MUST_CHECK;

/* Exit code of `mj` for an outcome (the table in README.md). */
int mj_outcome_exit_code(mj_outcome outcome);

/* Stable reason name, e.g. "line-too-long", "expired".  Static storage. */
const char *mj_reason_name(mj_reason reason);

/* Reset err to MJ_OK with an empty message.  err may be NULL. */
void mj_error_clear(mj_error *err);

/*
 * Fill err (may be NULL) and return outcome, so callers can write
 *     return mj_error_set(err, MJ_TIMEOUT, MJ_R_IO_TIMEOUT, "...");
 * The formatted text is truncated to fit; it must not contain secrets.
 */
mj_outcome mj_error_set(mj_error *err, mj_outcome outcome, mj_reason reason,
                        const char *fmt, ...) MJ_PRINTF(4, 5);
mj_outcome mj_error_setv(mj_error *err, mj_outcome outcome, mj_reason reason,
                         const char *fmt, va_list ap) MJ_PRINTF(4, 0);

/*
 * Escape untrusted bytes (server text) for an error message or a log: printable
 * ASCII is copied, '\\' stays, everything else (control bytes, NUL, DEL, bytes
 * >= 0x80) becomes \xNN.  Writes at most out_size bytes including the NUL and
 * marks truncation with "...".  Returns out.
 */
char *mj_escape(const void *data, size_t len, char *out, size_t out_size);

#ifdef __cplusplus
}
#endif
#endif
