/*
 * smtp/smtp_internal.h: what session.c and send.c share (internal).
 *
 * The session struct, its state enum with the one function that changes it,
 * and the helpers every command uses: compose a command line, read one
 * reply, turn a negative reply into an outcome.
 */
#ifndef MJ_SMTP_INTERNAL_H
#define MJ_SMTP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "mailjig/smtp.h"
#include "smtp/reply.h"

/*
 * Session states.  CLOSED: the server ended the session (421, EOF) or QUIT
 * was sent; BROKEN: the session can no longer be trusted (malformed reply,
 * injected bytes, a message cut off mid-DATA).  Neither takes commands.
 */
typedef enum mj_smtp_state {
    MJ_SMTP_ST_CONNECTED = 0, /* waiting for the greeting */
    MJ_SMTP_ST_EHLO,
    MJ_SMTP_ST_STARTTLS,
    MJ_SMTP_ST_READY,         /* between transactions */
    MJ_SMTP_ST_AUTH,
    MJ_SMTP_ST_MAIL,          /* MAIL/RCPT/DATA commands outstanding */
    MJ_SMTP_ST_BODY,          /* message bytes going out */
    MJ_SMTP_ST_CLOSED,
    MJ_SMTP_ST_BROKEN,
    MJ_SMTP_ST_COUNT
} mj_smtp_state;

/* Escaped reply text quoted in an error message. */
#define MJ_SMTP_QUOTE_MAX 300

struct mj_smtp {
    mj_conn *c; /* owned */
    mj_security security;
    mj_smtp_state state;
    mj_smtp_caps caps;
    bool have_ehlo;
    char client_name[MJ_SMTP_ARG_MAX + 1];
    char line[MJ_SMTP_COMMAND_MAX + 3];      /* the command being composed */
    char sasl_text[MJ_SMTP_LINE_MAX + 16];   /* a refusal as the SASL engine quotes it */
    mj_smtp_parser parser;                   /* holds the last reply */
    mj_smtp_reply ehlo;                      /* the last EHLO reply */
    unsigned char body_in[MJ_SMTP_BODY_CHUNK];
    unsigned char body_out[MJ_SMTP_STUFF_OUT_MAX(MJ_SMTP_BODY_CHUNK) + MJ_SMTP_STUFF_FINISH_MAX];
};

/* The ONLY way to change s->state (logged to stderr in MJ_DEBUG builds). */
void mj_smtp_set_state(mj_smtp *s, mj_smtp_state st);
const char *mj_smtp_state_name(mj_smtp_state st);

/* MJ_OK when s may send a command; else a usage error naming the state. */
mj_outcome mj_smtp_usable(mj_smtp *s) MJ_MUST_CHECK;

/*
 * Refuse what must never reach a command line: control bytes (CR, LF, NUL,
 * ...), DEL and, when angle is set, '<' and '>' (they would close the path
 * and let parameters in).  what names the argument in the message.
 */
mj_outcome mj_smtp_check_arg(mj_smtp *s, const char *what, const char *arg, size_t max,
                             bool angle) MJ_MUST_CHECK;

/* Compose one command line (CRLF added) into the output, unsent. */
mj_outcome mj_smtp_put(mj_smtp *s, const char *fmt, ...) MJ_PRINTF(2, 3) MJ_MUST_CHECK;
/* Send what was composed. */
mj_outcome mj_smtp_flush(mj_smtp *s) MJ_MUST_CHECK;

/*
 * Read one reply into s->parser.reply (*r_out).  A connection error ends the
 * session (CLOSED), a malformed reply breaks it (BROKEN); both are recorded
 * in the conn's error.  A 421 moves the session to CLOSED but is returned
 * as MJ_OK: the caller reports it (mj_smtp_refused).
 */
mj_outcome mj_smtp_read(mj_smtp *s, const mj_smtp_reply **r_out) MJ_MUST_CHECK;

/* "550 5.1.1 text / more text" escaped into buf (size >= 16). */
const char *mj_smtp_quote(const mj_smtp_reply *r, char *buf, size_t size);
/* The reply's text lines only, escaped (results). */
const char *mj_smtp_quote_text(const mj_smtp_reply *r, char *buf, size_t size);

/*
 * The error for an unwanted reply r to `what`: 421 -> MJ_SERVER_BUSY (the
 * server is closing), other 4xx -> MJ_SERVER_BUSY, 5xx -> on_5xx, anything
 * else -> MJ_PROTOCOL_ERROR (a reply the command cannot have).
 */
mj_outcome mj_smtp_refused(mj_smtp *s, const mj_smtp_reply *r, mj_outcome on_5xx,
                           const char *what);

/* Send one command and read its reply (no pipelining). */
mj_outcome mj_smtp_simple(mj_smtp *s, const mj_smtp_reply **r_out, const char *fmt, ...)
    MJ_PRINTF(3, 4) MJ_MUST_CHECK;

#endif
