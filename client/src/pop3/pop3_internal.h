/*
 * pop3/pop3_internal.h: the POP3 session shared by pop3.c (I/O, state,
 * commands, connect + STLS), auth.c (USER/PASS, APOP, AUTH) and
 * commands.c (the TRANSACTION commands).  Internal.
 */
#ifndef MJ_POP3_INTERNAL_H
#define MJ_POP3_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mailjig/pop3.h"
#include "pop3/pop3_parse.h"

/* Capacity of the escaped greeting kept for mj_pop3_greeting. */
#define MJ_POP3_GREETING_KEEP 512

/* The commands, rows of the command table in pop3.c. */
typedef enum pop3_cmd {
    POP3_CMD_CAPA = 0,
    POP3_CMD_STLS,
    POP3_CMD_UTF8,
    POP3_CMD_USER,
    POP3_CMD_PASS,
    POP3_CMD_APOP,
    POP3_CMD_AUTH,
    POP3_CMD_STAT,
    POP3_CMD_LIST,
    POP3_CMD_UIDL,
    POP3_CMD_RETR,
    POP3_CMD_TOP,
    POP3_CMD_DELE,
    POP3_CMD_RSET,
    POP3_CMD_NOOP,
    POP3_CMD_QUIT,
    POP3_CMD_COUNT
} pop3_cmd;

/* One argument of a command; secret ones show as ******** in the log. */
typedef struct pop3_arg {
    const char *text;
    bool secret;
} pop3_arg;

struct mj_pop3 {
    mj_conn *conn;
    mj_security security;
    mj_pop3_options opts;
    mj_pop3_state state;
    mj_pop3_caps caps;
    bool has_apop;
    bool utf8;
    char apop_timestamp[MJ_POP3_APOP_TIMESTAMP_MAX + 1];
    char greeting[MJ_POP3_GREETING_KEEP];
    /*
     * The input window: bytes the reader handed out (mj_reader_read_some)
     * that no parser has taken yet.  It points into the reader's buffer,
     * which stays valid because the reader is called only when the window
     * is empty.  It must be empty when STLS upgrades the connection.
     */
    const unsigned char *in;
    size_t in_len;
    mj_pop3_line line;
    unsigned char out[MJ_READER_CHUNK + 1]; /* unstuffed bytes of one chunk */
};

/* The ONLY way to change s->state (logs the change when MJ_DEBUG is set). */
void pop3_set_state(mj_pop3 *s, mj_pop3_state state);

/*
 * Put a command (verb, arguments separated by SP, CRLF) in the conn's
 * output; flush unless the caller batches (pipelining).  Refused before a
 * byte is sent: the command not allowed in the state (MJ_USAGE), an argument
 * holding CR, LF or NUL, or the line over MJ_POP3_COMMAND_MAX (MJ_USAGE).
 */
mj_outcome pop3_send(mj_pop3 *s, pop3_cmd cmd, const pop3_arg *args, size_t n_args,
                     bool flush) MJ_MUST_CHECK;

/* Argument check alone (for checking every credential before USER). */
mj_outcome pop3_check_arg(mj_pop3 *s, const char *what, const char *text) MJ_MUST_CHECK;

/*
 * Read one status line.  allow_cont: "+ " continuations are accepted (AUTH).
 * Errors (connection, malformed, too long) leave the session FAILED.
 */
mj_outcome pop3_read_status(mj_pop3 *s, bool allow_cont, mj_pop3_status *st_out) MJ_MUST_CHECK;

/* -ERR st to cmd: set the error (code table, fallback) and return it. */
mj_outcome pop3_refused(mj_pop3 *s, pop3_cmd cmd, const mj_pop3_status *st,
                        mj_outcome fallback);

/* Send cmd and read a single-line reply: MJ_OK on +OK (st_out filled), the
 * -ERR's outcome (fallback when it has no known code) otherwise. */
mj_outcome pop3_simple(mj_pop3 *s, pop3_cmd cmd, const pop3_arg *args, size_t n_args,
                       mj_outcome fallback, mj_pop3_status *st_out) MJ_MUST_CHECK;

/* A line of a multi-line list, dot-unstuffed, CRLF removed. */
typedef mj_outcome (*pop3_line_fn)(mj_pop3 *s, void *ctx, const char *line, size_t len);

/* Read the lines of a multi-line list up to ".".  A callback error is kept
 * while the rest is drained, then returned.  Over MJ_POP3_LIST_ENTRIES_MAX
 * lines is MJ_R_REPLY_TOO_LARGE. */
mj_outcome pop3_read_list(mj_pop3 *s, pop3_line_fn fn, void *ctx) MJ_MUST_CHECK;

/* Read a multi-line body, unstuffed, into sink (NULL: discard). */
mj_outcome pop3_read_body(mj_pop3 *s, const mj_sink *sink, uint64_t *size_out) MJ_MUST_CHECK;

/*
 * CAPA, after the greeting, STLS and login.  forget: drop what was known
 * before sending (after STLS); otherwise a -ERR keeps the earlier set (a
 * server that answers CAPA only before login still pipelines after it).
 */
mj_outcome pop3_capa(mj_pop3 *s, bool forget) MJ_MUST_CHECK;

/* Whether an outcome leaves the connection unusable (the session FAILED). */
bool pop3_outcome_fatal(mj_outcome o);

/* Mark the session failed with outcome o if o is fatal; returns o. */
mj_outcome pop3_fail_if_fatal(mj_pop3 *s, mj_outcome o);

#endif
