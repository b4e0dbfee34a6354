/*
 * mj_cli.h: internal header of the `mj` command (client/cli/).
 *
 *   options.c   argv -> struct mj_cli_options (no I/O except reading the
 *               password file; self-contained so that the unit test can
 *               #include it, see client/tests/test_cli_options.c)
 *   ops.c       the operation table and the operations (probe)
 *   json_out.c  printing an outcome and a result, as JSON or as text
 *   json_write.c a streaming writer of compact JSON (long results)
 *   json_imap.c IMAP ENVELOPE and BODYSTRUCTURE structures as JSON
 *   batch.c     `mj --batch`: many commands from one process, a fork each
 *   mj.c        main: parse, build the connection config, dispatch, print
 */
#ifndef MJ_CLI_H
#define MJ_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "mailjig/mailjig.h"

/* Longest password read from --password-file (first line, CR/LF stripped). */
#define MJ_CLI_PASSWORD_MAX 1024
/* How many --resolve entries one command line may give. */
#define MJ_CLI_RESOLVE_MAX 8
/* Longest address in --resolve (an IPv6 literal fits with room to spare). */
#define MJ_CLI_ADDR_MAX 64
/* Largest millisecond value any timeout option takes (about 24 days). */
#define MJ_CLI_MS_MAX 2000000000L
/* Most --to options in one command. */
#define MJ_CLI_RCPT_MAX 100

/* One --resolve HOST:PORT:ADDR. */
typedef struct mj_cli_resolve {
    char host[MJ_URL_HOST_MAX];
    unsigned port;
    char addr[MJ_CLI_ADDR_MAX]; /* without IPv6 brackets */
} mj_cli_resolve;

/*
 * Everything the command line says, validated.  Strings that are const char *
 * point into argv (borrowed); the arrays are copies.  password is a secret:
 * never print it, and call mj_cli_options_wipe when done.
 */
typedef struct mj_cli_options {
    bool help;
    bool version;
    bool json;
    bool insecure;
    bool log_timestamps;
    bool security_given;  /* --security was on the command line */
    mj_security security; /* as given, or implied by the scheme; may be AUTO */
    mj_security resolved; /* mj_security_resolve(security, port) */
    bool has_url;
    mj_url url;
    unsigned port;              /* the URL's port, or the default for the security */
    char user[MJ_URL_USER_MAX]; /* --user, else the URL's user; "" if none */
    bool has_password;
    char password[MJ_CLI_PASSWORD_MAX];
    const char *password_file;
    const char *cafile;
    const char *pin_sha256; /* validated later by mj_tls_parse_pin */
    const char *client_cert;
    const char *client_key;
    const char *log_path;   /* "-" means stderr */
    int tls_min;            /* TLS1_2_VERSION-style; 0 = library default */
    int timeout_ms;         /* 0 = library default */
    int deadline_ms;        /* 0 = none */
    int connect_timeout_ms; /* 0 = library default */
    size_t n_resolve;
    mj_cli_resolve resolve[MJ_CLI_RESOLVE_MAX];
    /* authentication (every protocol) */
    mj_sasl_mech mechanism;    /* --mechanism; MJ_SASL_NONE = automatic */
    bool allow_insecure_auth;  /* --allow-insecure-auth */
    const char *authzid;       /* --authzid */
    const char *token_file;    /* --token-file: OAuth 2.0 bearer token */
    bool has_token;
    char token[MJ_SASL_TOKEN_MAX];
    /* SMTP envelope and message (validated: no control bytes) */
    const char *from;          /* --from ADDRESS ("<>": the null sender) */
    size_t n_to;
    const char *to[MJ_CLI_RCPT_MAX]; /* --to ADDRESS, repeated */
    const char *message;       /* --message PATH, "-" = stdin */
    const char *output;        /* --output PATH, "-" = stdout: IMAP fetch's body bytes */
    /* SMTP extensions (mailjig/smtp.h mj_smtp_envelope) */
    bool body_given;           /* --body was on the command line */
    mj_smtp_body body;         /* --body; without it: 8BITMIME for a file with 8-bit bytes */
    bool chunking;             /* --chunking: BDAT when the server offers CHUNKING */
    bool smtputf8;             /* --smtputf8 */
    bool requiretls;           /* --requiretls */
    mj_smtp_ret ret;           /* --ret FULL|HDRS */
    const char *envid;         /* --envid ID */
    unsigned notify;           /* --notify: every recipient (MJ_SMTP_NOTIFY_*) */
    unsigned to_notify[MJ_CLI_RCPT_MAX];  /* --rcpt-notify for to[i]; 0 = --notify */
    const char *orcpt[MJ_CLI_RCPT_MAX];   /* --orcpt for to[i]; NULL = none */
    bool has_orcpt;
    /* IMAP CONDSTORE / QRESYNC (RFC 7162); mod-sequences are below 2^63 */
    bool condstore;                 /* --condstore: SELECT (CONDSTORE) */
    bool qresync;                   /* --qresync UIDVALIDITY:MODSEQ[:KNOWN-UIDS] */
    uint32_t qresync_uidvalidity;
    uint64_t qresync_modseq;
    const char *qresync_known;      /* NULL or the known-uids (into argv) */
    const char *qresync_seq_match;  /* NULL or --seq-match (into argv) */
    const char *qresync_uid_match;  /* NULL or --uid-match (into argv) */
    const char *sort_return;        /* NULL or --return: ESORT options (into argv) */
    bool has_changedsince;          /* --changedsince N (1 .. 2^63-1) */
    uint64_t changedsince;
    bool vanished;                  /* --vanished: UID FETCH (CHANGEDSINCE n VANISHED) */
    bool silent;                    /* --silent: STORE ... FLAGS.SILENT */
    bool has_unchangedsince;        /* --unchangedsince N (0 .. 2^63-1) */
    uint64_t unchangedsince;
    bool compress;             /* --compress: IMAP COMPRESS=DEFLATE after login when offered */
    bool utf8;                 /* --utf8: IMAP ENABLE UTF8=ACCEPT after login when offered */
    bool strict;               /* --strict: IMAP parser and decoder tolerate no server quirk */
    /* IMAP list: LIST-EXTENDED (RFC 5258) and LIST-STATUS (RFC 5819); 0 = not asked */
    unsigned list_select;      /* --list-select: mj_imap_list_select bits */
    unsigned list_return;      /* --list-return: mj_imap_list_return bits */
    unsigned list_status;      /* --list-status: mj_imap_status_item bits */
    const char *op; /* NULL when absent */
    int n_args;
    char **args; /* the operation's own arguments (into argv) */
} mj_cli_options;

/*
 * Parse argv[1..argc-1] into *opts_out (which the caller owns; filled from
 * scratch).  Grammar: mj [options] URL [options] OP [options] [ARGS...].
 * Options are recognised until the first argument of OP or a "--"; from then
 * on everything is an argument of OP.  With --help or --version, URL and OP
 * are optional.  opts_out->json is known even when parsing fails (the scan
 * goes on after a bad option), so a usage error can still be printed as JSON.
 * Errors: MJ_USAGE / MJ_R_BAD_ARGUMENT, message without the "mj: usage: "
 * prefix and never containing the password.
 */
mj_outcome mj_cli_parse(int argc, char **argv, mj_cli_options *opts_out,
                        mj_error *err) MJ_MUST_CHECK;

/* Overwrite the password; opts may be NULL. */
void mj_cli_options_wipe(mj_cli_options *opts);

/* One line per option ("  --name ARG   what it does"), from the option table. */
void mj_cli_print_options(FILE *fp);

/* ---- operations (ops.c) ------------------------------------------------- */

/* Which protocols a row serves: a bit per mj_protocol. */
#define MJ_CLI_PROTO_BIT(p) (1u << (unsigned)(p))
#define MJ_CLI_PROTO_ANY                                                                           \
    (MJ_CLI_PROTO_BIT(MJ_PROTO_IMAP) | MJ_CLI_PROTO_BIT(MJ_PROTO_POP3) |                           \
     MJ_CLI_PROTO_BIT(MJ_PROTO_SMTP))

/*
 * An operation.  It gets the options and a connection config ready for
 * mj_conn_open (security resolved, timeouts, TLS, log).  On MJ_OK it sets
 * *result_out to a new JSON object that the caller owns (json_decref); on
 * failure err says why and *result_out stays NULL.
 */
typedef mj_outcome (*mj_cli_op_fn)(const mj_cli_options *opts, const mj_conn_config *cfg,
                                   json_t **result_out, mj_error *err);

typedef struct mj_cli_op {
    unsigned protocols; /* MJ_CLI_PROTO_BIT mask */
    const char *name;
    mj_cli_op_fn fn;
    int min_args;
    int max_args;
    const char *usage; /* "probe: connect, read the greeting, report TLS" */
} mj_cli_op;

/* The table, terminated by a row with name NULL.  Static storage. */
/*
 * The operation tables, one per protocol file (ops.c holds the ones every
 * protocol has), each ended by a row with name NULL.  mj_cli_ops returns the
 * NULL-terminated list of tables.
 */
extern const mj_cli_op mj_cli_core_ops[];
extern const mj_cli_op mj_cli_smtp_ops[];
extern const mj_cli_op mj_cli_pop3_ops[];
extern const mj_cli_op mj_cli_imap_ops[];
const mj_cli_op *const *mj_cli_ops(void);

/* The row for (protocol, name), or NULL with err set to a usage message
 * listing the operations available for that protocol. */
const mj_cli_op *mj_cli_find_op(mj_protocol p, const char *name, mj_error *err);

/*
 * Fill *cfg from opts (cfg is the caller's; log is borrowed and may be NULL).
 * A --resolve entry matching the URL's host and port sets the connect
 * address.  Fails with MJ_USAGE for a bad --pin-sha256.
 */
mj_outcome mj_cli_conn_config(const mj_cli_options *opts, mj_log *log, mj_conn_config *cfg,
                              mj_error *err) MJ_MUST_CHECK;

/*
 * The SASL credentials the command line gives (--user or the URL's user,
 * the password, --authzid, the --token-file token, the URL's host and port),
 * for mj_imap_login, mj_pop3_login and mj_smtp_auth.  Every pointer borrows
 * from opts: valid while opts is (and not after mj_cli_options_wipe).
 */
mj_sasl_creds mj_cli_creds(const mj_cli_options *opts);

/*
 * A new temporary file, read-write, already unlinked (it goes when closed),
 * in $TMPDIR when that is set, else /tmp: tmpfile(3) ignores TMPDIR.  The
 * caller owns the FILE (fclose).  NULL with errno set when none can be made.
 */
FILE *mj_cli_tmpfile(void);
/* ---- a streaming JSON writer (json_write.c) -------------------------------- */

/* Containers open at once in one mj_jw (the IMAP structures' own caps keep
   their nesting below this; deeper ones are still written, uncounted). */
#define MJ_JW_DEPTH_MAX 128

/*
 * Writes compact JSON to out (borrowed), gathered in its buffer: the bytes
 * jansson's JSON_COMPACT dump gives for the same values, with no tree in
 * memory.  The caller calls in a valid order (a key before each value in an
 * object); separators are the writer's business.  Write errors stay in out
 * (ferror).
 */
/* Bytes the writer gathers before one fwrite to out. */
#define MJ_JW_BUF ((size_t)16 * 1024)

typedef struct mj_jw {
    FILE *out;
    unsigned depth;
    bool after_key;
    bool overflow;
    size_t count[MJ_JW_DEPTH_MAX]; /* values written in each open container */
    size_t len;                    /* bytes in buf */
    char buf[MJ_JW_BUF];
} mj_jw;

void mj_jw_init(mj_jw *w, FILE *out);
/* Hand what is gathered to out (fwrite); call it at the end of a document. */
void mj_jw_flush(mj_jw *w);
/* '{' or '[' to open, '}' or ']' to close. */
void mj_jw_open(mj_jw *w, char bracket);
void mj_jw_close(mj_jw *w, char bracket);
/* An object key; false (nothing written: skip its value) if it is not UTF-8. */
bool mj_jw_key(mj_jw *w, const char *key);
/* A string (NUL-terminated), or null when s is NULL or not valid UTF-8. */
void mj_jw_str(mj_jw *w, const char *s);
void mj_jw_int(mj_jw *w, int64_t v);
void mj_jw_uint(mj_jw *w, uint64_t v);
void mj_jw_null(mj_jw *w);
void mj_jw_bool(mj_jw *w, bool v);

/* ---- IMAP structures as JSON (json_imap.c) --------------------------------- */

/*
 * Write an ENVELOPE or a BODYSTRUCTURE tree (borrowed, read during the FETCH
 * message callback) as one JSON object value on w.  Shapes are described
 * at the top of json_imap.c and in scenarios/FORMAT.md.
 */
void mj_cli_jw_envelope(mj_jw *w, const mj_imap_envelope *env);
void mj_cli_jw_body(mj_jw *w, const mj_imap_body *body);

/* ---- output (json_out.c) ------------------------------------------------- */

/* The usage text (every option, every operation) on fp. */
void mj_cli_print_help(FILE *fp);

/* main of one mj command: argv as for `mj`, returns its exit code. */
typedef int (*mj_cli_main_fn)(int argc, char **argv);

/*
 * `mj --batch` (batch.c): read requests on stdin, run each with `run` in a
 * forked child, answer on stdout; returns the batch's exit code.  Owns the
 * process's standard streams until it returns.
 */
int mj_cli_batch(mj_cli_main_fn run);

/*
 * Print the outcome and result; result (may be NULL) is borrowed.  With json:
 * one object on out {"outcome", "reason", "message", "exit_code"[, "result"]}.
 * Without: the result as "key: value" lines on out when ok, else
 * "mj: <outcome>: <message>" on errfp.  With json, errors also go to errfp
 * in that form, so a person watching the terminal sees them.
 * Returns the exit code (mj_outcome_exit_code).
 */
int mj_cli_report(bool json, const mj_error *e, json_t *result, FILE *out, FILE *errfp);

/*
 * A result array too long to hold as jansson objects (a POP3 `retr N-M` of
 * thousands of messages, issue 7): about 0.8 KB per entry as json_t, plus the
 * whole document again as one json_dumps string.  Instead the operation keeps
 * one compact record per entry and hands them over as a stream; mj_cli_report
 * then prints the result as {"<key>": [entry, ...]}, each entry written
 * straight to the FILE, so printing allocates nothing per entry.  The bytes
 * are exactly what jansson's JSON_COMPACT would print for the same array.
 */
typedef struct mj_cli_stream {
    const char *key; /* static string, plain ASCII (printed unescaped) */
    size_t count;
    /* Write entry i (< count) as one compact JSON value on out. */
    void (*write_entry)(void *ctx, size_t i, FILE *out);
    /* Free ctx; called exactly once, after printing or when discarded. */
    void (*release)(void *ctx);
    void *ctx;
} mj_cli_stream;

/*
 * Make *s (copied; s->ctx is owned from now on) the result of the command:
 * the next mj_cli_report prints it in place of its result argument when the
 * outcome is ok, and releases it either way.  An operation sets it only when
 * it returns MJ_OK (with *result_out an empty object, for the op contract).
 * Setting a second stream releases the first.  mj_cli_stream_discard
 * releases a stream that will not be reported (nothing when none is set).
 */
void mj_cli_stream_set(const mj_cli_stream *s);
void mj_cli_stream_discard(void);

#endif
