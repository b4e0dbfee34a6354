/*
 * scenario.h: the typed scenario model of mjfake, built by the loader
 * (load.c) from one YAML file and read by the server (core/).  The format is
 * documented in scenarios/FORMAT.md, the single source of truth; every key
 * there maps to a field here.
 *
 * Ownership: fk_scenario_load returns one heap object; everything reachable
 * from it (strings, arrays, compiled regexes) belongs to it and is released by
 * fk_scenario_free.  Nothing here is shared with the client library.
 */
#ifndef FK_SCENARIO_H
#define FK_SCENARIO_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where a node was in the YAML file: for every error message. */
typedef struct fk_pos {
    unsigned line; /* 1-based */
    unsigned col;  /* 1-based */
} fk_pos;

/* Bytes with a length (may hold NUL). */
typedef struct fk_bytes {
    unsigned char *data;
    size_t len;
} fk_bytes;

typedef enum fk_protocol { FK_PROTO_IMAP = 0, FK_PROTO_POP3, FK_PROTO_SMTP } fk_protocol;
typedef enum fk_tls_mode { FK_TLS_NONE = 0, FK_TLS_IMPLICIT } fk_tls_mode;
typedef enum fk_accept {
    FK_ACCEPT_SERVE = 0,
    FK_ACCEPT_REFUSE, /* nothing listens: connection refused */
    FK_ACCEPT_CLOSE,  /* accept, then close at once */
    FK_ACCEPT_RESET,  /* accept, then RST */
    FK_ACCEPT_HANG    /* accept, say nothing */
} fk_accept;

/* ---- expect ---------------------------------------------------------------- */

/*
 * One line pattern.  FK_PAT_TEXT matches the whole line: "{tag}" (and any
 * "{name}") matches one atom and captures it under that name, "*" matches any
 * run of characters, everything else is literal.  FK_PAT_REGEX is a POSIX ERE
 * matched against the whole line (anchored by the loader).
 */
typedef enum fk_pattern_kind { FK_PAT_TEXT = 0, FK_PAT_REGEX } fk_pattern_kind;

typedef struct fk_pattern {
    fk_pattern_kind kind;
    char *source;       /* as written, for messages */
    bool icase;
    regex_t re;         /* FK_PAT_REGEX only; compiled by the loader */
    fk_pos pos;
} fk_pattern;

typedef enum fk_expect_kind {
    FK_EXPECT_NONE = 0, /* the step has no expect */
    FK_EXPECT_LINES,    /* one or more patterns (a single one is a list of one) */
    FK_EXPECT_EOF,      /* the client closes the connection */
    FK_EXPECT_SASL,     /* a SASL exchange, verified by decoding */
    FK_EXPECT_DATA,     /* SMTP DATA / BDAT content */
    FK_EXPECT_APOP      /* POP3 "APOP user digest", checked against the greeting */
} fk_expect_kind;

typedef struct fk_expect_sasl {
    char *mechanism; /* upper case: PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256, XOAUTH2, ... */
    char *user;      /* NULL: any (ANONYMOUS, EXTERNAL only) */
    char *password;  /* or the token for XOAUTH2 / OAUTHBEARER (YAML token:); NULL for
                        ANONYMOUS and EXTERNAL */
    /* Scripted server behaviour (sasl/fk_sasl.h), all 0/NULL when absent: */
    unsigned fail;             /* an fk_sasl_fail, 0 = none */
    size_t oversized_len;      /* challenge-oversized: base64 characters */
    char *scram_error;         /* scram-error: the e= value */
    unsigned scram_iterations; /* SCRAM i= */
    fk_bytes scram_salt;       /* SCRAM salt (decoded from base64) */
} fk_expect_sasl;

/* POP3 APOP: the user and the shared secret the digest is made with. */
typedef struct fk_expect_apop {
    char *user;
    char *password;
} fk_expect_apop;

typedef struct fk_expect_data {
    bool has_sha256;
    unsigned char sha256[32];
    char *contains;      /* NULL when absent */
    char *equals_file;   /* resolved path, NULL when absent */
    /* How the content arrives, decided by the loader: false when the step
       before sends a 354 (a DATA body), true otherwise (BDAT chunks). */
    bool bdat;
} fk_expect_data;

typedef struct fk_expect {
    fk_expect_kind kind;
    fk_pattern *patterns; /* FK_EXPECT_LINES */
    size_t n_patterns;
    bool unordered;       /* FK_EXPECT_LINES: a set, any order */
    fk_expect_sasl sasl;
    fk_expect_data data;
    fk_expect_apop apop;
} fk_expect;

/* ---- actions ------------------------------------------------------------------ */

typedef enum fk_send_kind {
    FK_SEND_NONE = 0,
    FK_SEND_TEXT, /* placeholders expanded, each line ends in CRLF */
    FK_SEND_RAW,  /* bytes exactly (YAML escapes already decoded) */
    FK_SEND_FILE  /* a file's bytes; dotstuff optional */
} fk_send_kind;

typedef struct fk_send {
    fk_send_kind kind;
    fk_bytes text;    /* TEXT (unexpanded, without line ends) and RAW */
    char *path;       /* FILE: resolved against the scenario's directory */
    bool dotstuff;    /* FILE, TEXT: stuff leading dots, end with ".\r\n" (POP3/SMTP body) */
} fk_send;

/*
 * STARTTLS on the server side.  FK_STARTTLS_HANDSHAKE is `starttls: true`;
 * inject sends the step's send and these bytes in one write, then handshakes;
 * the failure modes stand in for the handshake.
 */
typedef enum fk_starttls_kind {
    FK_STARTTLS_NONE = 0,
    FK_STARTTLS_HANDSHAKE,
    FK_STARTTLS_PLAINTEXT, /* answer the ClientHello with plaintext (fail_with text) */
    FK_STARTTLS_ALERT,     /* answer with a fatal alert */
    FK_STARTTLS_SILENCE    /* never answer */
} fk_starttls_kind;

typedef struct fk_starttls {
    fk_starttls_kind kind;
    fk_bytes inject;   /* sent with the step's send in one write */
    fk_bytes plaintext;/* FK_STARTTLS_PLAINTEXT */
} fk_starttls;

typedef enum fk_end_kind {
    FK_END_NONE = 0,
    FK_END_CLOSE,          /* close (TLS: close_notify, then FIN) */
    FK_END_CLOSE_NO_NOTIFY,/* TLS: FIN without close_notify */
    FK_END_RESET,          /* RST (SO_LINGER 0) */
    FK_END_HANG,           /* stop reading and writing, keep the socket */
    FK_END_SHUTDOWN_WRITE, /* half-close: FIN, keep reading */
    FK_END_ALERT,          /* TLS: a fatal alert (fk_step.alert) after the send, then FIN */
    FK_END_TRUNCATE,       /* TLS: the send's first record cut short, then FIN (truncate_record) */
    FK_END_COMPRESS_CUT    /* compress_fault: truncate: the compressed send cut short, then FIN */
} fk_end_kind;

/*
 * The fatal alert of `alert: NAME`: mjfake makes OpenSSL raise it by feeding
 * its own TLS object a record that OpenSSL answers with that alert, so it is
 * encrypted with the live keys like a real server's (core/tls_tap.h).
 */
typedef enum fk_alert {
    FK_ALERT_NONE = 0,
    FK_ALERT_BAD_RECORD_MAC,   /* 20 */
    FK_ALERT_RECORD_OVERFLOW,  /* 22 */
    FK_ALERT_UNEXPECTED_MESSAGE /* 10; TLS 1.3 (1.2 answers the same input with bad_record_mac) */
} fk_alert;

/* compress_fault: what goes wrong with COMPRESS=DEFLATE (RFC 4978). */
typedef enum fk_compress_fault {
    FK_COMPRESS_FAULT_NONE = 0,
    FK_COMPRESS_FAULT_CORRUPT,  /* the send's compressed bytes start an invalid block (BTYPE 11) */
    FK_COMPRESS_FAULT_EARLY,    /* with compress: the step's own send (the OK) goes out compressed */
    FK_COMPRESS_FAULT_TRUNCATE  /* half the send's compressed bytes, nothing after, then a FIN */
} fk_compress_fault;

/*
 * One step.  Its parts run in this order: expect (wait and match), sleep,
 * send (shaped by drip or fragment), starttls or compress, end.  A step with
 * no expect acts at once.
 */
typedef struct fk_step {
    fk_pos pos;
    fk_expect expect;
    bool optional;
    unsigned sleep_ms;
    unsigned drip_bytes, drip_every_ms;  /* 0, 0: no drip */
    size_t *fragment;                    /* write sizes, cycled; NULL: none */
    size_t n_fragment;
    fk_send send;
    fk_starttls starttls;
    fk_end_kind end;
    bool has_on_mismatch;
    fk_bytes on_mismatch;                /* text; placeholders expanded; CRLF per line */
    fk_alert alert;                      /* FK_END_ALERT: which alert */
    bool corrupt_record;                 /* TLS: flip a bit in the send's first record */
    bool compress;                       /* IMAP: DEFLATE on both ways after the send */
    fk_compress_fault compress_fault;
} fk_step;

/* The script of one connection. */
typedef struct fk_script {
    fk_pos pos;
    fk_step *steps;
    size_t n_steps;
} fk_script;

/* Patterns that must never arrive (the credential tripwire). */
typedef struct fk_forbid {
    fk_pattern *before_tls;   /* checked on every plaintext line */
    size_t n_before_tls;
    fk_pattern *always;       /* checked on every line */
    size_t n_always;
} fk_forbid;

/* `client_cert:` whether TLS asks the client for a certificate (ca.crt the anchor). */
typedef enum fk_client_cert {
    FK_CLIENT_CERT_NONE = 0, /* never asks */
    FK_CLIENT_CERT_REQUEST,  /* asks; none is fine, an unverifiable one fails the handshake */
    FK_CLIENT_CERT_REQUIRE   /* asks; none fails the handshake */
} fk_client_cert;

typedef struct fk_server {
    fk_tls_mode tls;
    char *certificate;        /* a name of scenarios/CERTIFICATES.md */
    int tls_min, tls_max;     /* TLS1_VERSION..TLS1_3_VERSION; 0 = library default */
    char *ciphers;            /* OpenSSL cipher list (TLS <= 1.2), NULL = default */
    fk_client_cert client_cert;
    unsigned port;            /* 0 = any */
    fk_accept accept;
    unsigned greeting_delay_ms;
    fk_script *connections;   /* `steps` is one entry */
    size_t n_connections;
    fk_forbid forbid;
    size_t line_max;          /* longest client line accepted */
    size_t literal_max;       /* IMAP: largest client literal; 0 = FK_LITERAL_MAX_DEFAULT */
    char *literal_continuation; /* IMAP: the "+" line for a literal; NULL = "+ Ready" */
    uint64_t data_max;        /* SMTP: largest message content; 0 = FK_DATA_MAX_DEFAULT */
} fk_server;

/*
 * client: and expect: are the harness's business: mjfake validates their
 * shape and keeps them only as YAML positions, never interprets them.
 */
typedef struct fk_scenario {
    char *path;               /* as given */
    char *dir;                /* directory of path, for relative files */
    char *name;               /* `name`, or the file stem */
    char *summary;
    fk_protocol protocol;
    char **tags;
    size_t n_tags;
    char *source;
    fk_server server;
} fk_scenario;

/* Longest error message of the loader. */
#define FK_LOAD_ERROR_MAX 1024

/*
 * Load and validate one scenario file.  Returns NULL on any error and writes
 * "FILE:LINE:COL: what was expected, what was found" into err (size
 * FK_LOAD_ERROR_MAX).  certs_dir, when not NULL, is checked for the named
 * certificate's files.
 */
fk_scenario *fk_scenario_load(const char *path, const char *certs_dir, char *err,
                              size_t err_size);

void fk_scenario_free(fk_scenario *s);

#endif
