/*
 * conn_internal.h: the connection object of mjfake's step engine and the
 * helpers conn.c shares with the protocol personalities' step code
 * (conn_proto.c: IMAP literals, APOP; conn_sasl.c: expect sasl;
 * conn_data.c: SMTP DATA and BDAT).  Private to core/.
 *
 * Ownership: everything reachable from an fk_conn belongs to it and is
 * freed with it (conn.c, conn_free); the step code only borrows.
 */
#ifndef FK_CONN_INTERNAL_H
#define FK_CONN_INTERNAL_H

#include <jansson.h>
#include <stdio.h>

#include "core/conn.h"
#include "core/core.h"
#include "core/match.h"
#include "core/tls.h"
#include "core/zlayer.h"
#include "pop3/apop.h"
#include "sasl/fk_sasl.h"

#define SHOW_MAX 200 /* bytes of a client line quoted in a message */
#define FK_ENDED_MAX 192 /* longest "why the connection ended early" */

struct fk_conn_data;

typedef enum { R_NEXT, R_WAIT, R_GONE } run_result;

struct fk_conn {
    fk_srv *srv;
    fk_conn *next, *prev;
    unsigned id;
    int fd;
    SSL *ssl;
    bool tls;
    fk_client_hello hello;
    bool has_peer_cn;               /* a verified client certificate with a CN */
    char peer_cn[FK_PEER_CN_MAX];   /* its CN, for EXTERNAL (conn_sasl.c) */
    const fk_script *script; /* NULL: an accept: hang connection */
    size_t step_i;
    fk_phase phase, after_tls, after_flush;
    char where[FK_WHERE_MAX]; /* the current step's FILE:LINE:COL, "" when none */
    /* input */
    unsigned char *in;
    size_t in_len, in_cap, in_max;
    size_t in_checked;  /* bytes of in already checked against forbid */
    bool in_closed;     /* EOF or reset seen */
    bool discard_input; /* the client speaks TLS we do not answer */
    bool got_bytes;     /* TLS_FAIL: the ClientHello arrived */
    unsigned char *hello_buf; /* TLS_FAIL: the ClientHello so far (FK_HELLO_MAX), NULL: none */
    size_t hello_len;
    bool hello_done;    /* TLS_FAIL: the ClientHello is parsed, or cannot be */
    /* expect progress */
    size_t n_matched;
    bool *matched; /* unordered sets */
    char tag[FK_CAPTURE_VALUE_MAX];
    fk_captures caps;
    /* output */
    unsigned char *out;
    size_t out_len, out_off, out_cap;
    bool out_dead;                /* writes failed: the peer is gone */
    char ended[FK_ENDED_MAX];     /* why the connection ended early ("" while it lives): the
                                     remaining non-optional steps are "not reached" */
    int ssl_retry_len;            /* SSL_write must be retried with this length */
    FILE *file;                   /* send_file being streamed */
    bool file_dotstuff, file_bol; /* file_bol: at a line start */
    const fk_step *shape;         /* drip/fragment of the current send, NULL: none */
    size_t frag_i, unit_left;
    bool gap_due;
    /* timers */
    uint64_t t_idle, t_phase, t_write;
    bool timer_fired; /* SLEEP / DELAY: the wait is over */
    bool ssl_want_write;
    bool close_notify;
    fk_z *z;                      /* COMPRESS=DEFLATE on (both directions), NULL: off */
    bool z_cut_noted;             /* the compress-truncated event was recorded */
    /* protocol personalities (conn_proto.c, conn_sasl.c, conn_data.c) */
    size_t lit_acked;             /* IMAP: literals of the head command answered with "+" */
    const char *auto_reply;       /* the step's default final line when it has no send */
    fk_sasl_server *sasl;         /* SASL exchange in progress, NULL: none */
    struct fk_conn_data *data;    /* SMTP DATA/BDAT content in progress, NULL: none */
    bool greeted;                 /* something was sent: the APOP timestamp is known or absent */
    char apop_ts[FK_APOP_TS_MAX]; /* POP3: the greeting's <timestamp>, "" when none */
};

/* A phase's verdict (conn.c's phase table). */
typedef run_result fk_expect_fn(fk_conn *c, const fk_step *s);

/* ---- conn.c: shared helpers ----------------------------------------------------------- */

/* The current step, NULL when the script is over. */
const fk_step *fk_conn_step(const fk_conn *c);
/* The current step's FILE:LINE:COL, NULL when none. */
const char *fk_conn_where(const fk_conn *c);
/* A transcript event of c (extra stolen, may be NULL). */
void fk_conn_event(fk_conn *c, const char *name, const char *data, json_t *extra);
/* Quote up to SHOW_MAX bytes of client input, escaped, into out. */
void fk_conn_show_line(const unsigned char *p, size_t len, char *out, size_t out_size);
void fk_conn_idle_cancel(fk_conn *c);
/* (Re)start the idle timer: the client must send within idle_ms. */
void fk_conn_idle_arm(fk_conn *c);
/* The next complete line of input, in place, without its line end (see conn.c). */
bool fk_conn_peek_line(const fk_conn *c, const unsigned char **line_out, size_t *len_out,
                       size_t *used_out);
/* Drop the first used bytes of input. */
void fk_conn_consume(fk_conn *c, size_t used);
/* Queue bytes for the client; 0, or -1 out of memory. */
int fk_conn_out(fk_conn *c, const void *p, size_t len);
/* Queue text with placeholders expanded, each line ending in CRLF; 0 or -1. */
int fk_conn_expand(fk_conn *c, const unsigned char *t, size_t len, bool error_line);
/*
 * Fail the run naming where: event kind, diag line, then (send_error) the
 * step's on_mismatch, else reply (a text with placeholders) when not NULL,
 * else the personality's error line; then close.
 */
void fk_conn_fail(fk_conn *c, const char *kind, const char *where, const char *msg, bool send_error,
                  const char *reply);
/* "expected <what step s waits for>, got <got>" as a mismatch; reply as fk_conn_fail. */
void fk_conn_expect_failed(fk_conn *c, const fk_step *s, const char *got, const char *reply);
/* IMAP: the first atom of line becomes {tag}. */
void fk_conn_remember_tag(fk_conn *c, const unsigned char *line, size_t len);
/* Skip an optional step whose expect did not match (input stays). */
run_result fk_conn_skip_step(fk_conn *c);
/* The client is gone while step s waits. */
run_result fk_conn_expect_gone(fk_conn *c, const fk_step *s);
/* Flush what was queued, then come back to the expect phase (continuations). */
run_result fk_conn_reply_and_expect(fk_conn *c);
/* Wait for more input (the idle timer armed). */
run_result fk_conn_wait_input(fk_conn *c);
/* The expect is satisfied: on to sleep and send. */
run_result fk_conn_expect_done(fk_conn *c);
/* An internal error (memory): exit 3, the connection closes. */
run_result fk_conn_internal(fk_conn *c, const char *why);

/* ---- conn_proto.c ---------------------------------------------------------------------- */

/* What the personality makes of the head of the input for a line expect. */
typedef enum { UNIT_READY, UNIT_WAIT, UNIT_REPLY, UNIT_ERROR } unit_result;

/*
 * The next client command: a line, or for IMAP a command with its literals
 * (UNIT_REPLY: a "+" continuation was queued; UNIT_ERROR: why holds what broke
 * a cap).  line/len/used as fk_conn_peek_line.
 */
unit_result fk_conn_peek_unit(fk_conn *c, const unsigned char **line_out, size_t *len_out,
                              size_t *used_out, char *why, size_t why_size);
/* POP3: remember the greeting's APOP timestamp from the first bytes sent. */
void fk_conn_note_greeting(fk_conn *c, const unsigned char *p, size_t len);
/* expect: {apop: USER, password: P}. */
run_result fk_conn_expect_apop(fk_conn *c, const fk_step *s);
/* dotstuff on a send: text: stuff out[from..] in place and add the terminator. */
int fk_conn_dotstuff_tail(fk_conn *c, size_t from);

/* ---- conn_sasl.c ----------------------------------------------------------------------- */

run_result fk_conn_expect_sasl(fk_conn *c, const fk_step *s);
/* What a SASL step waits for, for messages ("'{tag} AUTHENTICATE PLAIN ...'"). */
void fk_conn_describe_sasl(const fk_conn *c, const fk_step *s, char *out, size_t out_size);

/* ---- conn_data.c ----------------------------------------------------------------------- */

run_result fk_conn_expect_data(fk_conn *c, const fk_step *s);
/* Free c->data (also mid-message, when the connection goes). */
void fk_conn_data_free(fk_conn *c);
void fk_conn_describe_data(const fk_conn *c, const fk_step *s, char *out, size_t out_size);

#endif
