/*
 * mailjig/pop3.h: the POP3 client.
 *
 * RFCs: RFC 1939 (POP3), RFC 2449 (CAPA, extended response codes,
 * PIPELINING), RFC 2595 §4 (STLS), RFC 3206 (SYS and AUTH codes),
 * RFC 5034 (AUTH with SASL, initial response), RFC 6856 (UTF8),
 * RFC 8314 (implicit TLS on 995).
 *
 * One mj_pop3 session owns one mj_conn.  Every function that talks to the
 * server returns an mj_outcome and records the error in mj_pop3_error(s)
 * (which is the conn's last error).  After a connection-level failure
 * (connection-lost, timeout, protocol-error, tls-failed) the session is in
 * the FAILED state and every later command returns MJ_PROTOCOL_ERROR /
 * MJ_USAGE without sending a byte: close it.
 *
 * Deletions: DELE only marks a message; the server removes it when QUIT is
 * answered +OK (RFC 1939 §6, UPDATE state).  A session closed without
 * mj_pop3_quit, or whose QUIT fails, deletes nothing.
 *
 * Message bodies (RETR, TOP) are streamed to an mj_sink, dot-unstuffed
 * (RFC 1939 §3): memory stays flat whatever the message size.  Framing of
 * bodies is strict CRLF: a line starts after CRLF, and only "." CRLF at a
 * line start ends the body.  A bare LF is content, never a line start, so a
 * message that carries "\n.\n" cannot end its own reply early (the POP3
 * face of SMTP smuggling).  Status lines and list lines (CAPA, LIST, UIDL)
 * are server-generated and follow the reader's policy: LF alone also ends
 * them.
 */
#ifndef MAILJIG_POP3_H
#define MAILJIG_POP3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mailjig/conn.h"
#include "mailjig/error.h"
#include "mailjig/reader.h"
#include "mailjig/sasl.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits ------------------------------------------------------------ */

/*
 * Longest status line (+OK / -ERR / "+ " challenge), CRLF excluded.  RFC 2449
 * §4 says 512 octets with CRLF; real greetings stay far below, but some
 * servers put long banners in -ERR text, hence 4x the RFC.
 */
#define MJ_POP3_STATUS_LINE_MAX 2048
/* Longest line of a multi-line list (CAPA, LIST, UIDL), CRLF excluded:
 * a CAPA "SASL" line with every known mechanism fits many times over. */
#define MJ_POP3_DATA_LINE_MAX 8192
/* Longest SASL challenge line: the base64 of MJ_SASL_CHALLENGE_MAX plus "+ ". */
#define MJ_POP3_CHALLENGE_LINE_MAX (MJ_B64_ENCODED_LEN(MJ_SASL_CHALLENGE_MAX) + 2)
/* Longest command, CRLF included (RFC 2449 §4).  Longer is MJ_USAGE. */
#define MJ_POP3_COMMAND_MAX 255
/* Most capability lines kept from one CAPA reply; more is REPLY_TOO_LARGE. */
#define MJ_POP3_CAPA_LINES_MAX 64
/* Most entries one LIST or UIDL reply may hold; more is REPLY_TOO_LARGE. */
#define MJ_POP3_LIST_ENTRIES_MAX ((uint32_t)10 * 1000 * 1000)
/* Longest UID (RFC 1939 §7: 1 to 70 characters in 0x21..0x7E). */
#define MJ_POP3_UID_MAX 70
/* Longest APOP timestamp, angle brackets included (SECURITY-CASES #64). */
#define MJ_POP3_APOP_TIMESTAMP_MAX 256
/* Default cap on one unstuffed message body (RETR/TOP): 1 GiB. */
#define MJ_POP3_BODY_MAX_DEFAULT ((uint64_t)1 << 30)
/* Commands in flight at once when the server advertises PIPELINING. */
#define MJ_POP3_PIPELINE_WINDOW 16

/* ---- capabilities (RFC 2449 §6, RFC 6856) ------------------------------ */

typedef enum mj_pop3_cap {
    MJ_POP3_CAP_TOP = 1u << 0,
    MJ_POP3_CAP_USER = 1u << 1,
    MJ_POP3_CAP_SASL = 1u << 2,
    MJ_POP3_CAP_RESP_CODES = 1u << 3,
    MJ_POP3_CAP_LOGIN_DELAY = 1u << 4,
    MJ_POP3_CAP_PIPELINING = 1u << 5,
    MJ_POP3_CAP_EXPIRE = 1u << 6,
    MJ_POP3_CAP_UIDL = 1u << 7,
    MJ_POP3_CAP_IMPLEMENTATION = 1u << 8,
    MJ_POP3_CAP_STLS = 1u << 9,
    MJ_POP3_CAP_UTF8 = 1u << 10,
    MJ_POP3_CAP_AUTH_RESP_CODE = 1u << 11
} mj_pop3_cap;

/* What the last CAPA said.  Forgotten after STLS and asked again. */
typedef struct mj_pop3_caps {
    bool known;             /* CAPA answered +OK */
    unsigned bits;          /* mj_pop3_cap */
    mj_sasl_set sasl;       /* mechanisms on the SASL line */
    size_t n_lines;         /* raw lines kept (escaped copies) */
    char lines[MJ_POP3_CAPA_LINES_MAX][128];
} mj_pop3_caps;

/* ---- sessions ------------------------------------------------------------ */

typedef enum mj_pop3_state {
    MJ_POP3_STATE_GREETING = 0, /* connected, greeting not read yet */
    MJ_POP3_STATE_AUTHORIZATION,
    MJ_POP3_STATE_TRANSACTION,
    MJ_POP3_STATE_UPDATE, /* QUIT answered: the session is over */
    MJ_POP3_STATE_FAILED, /* unusable: close it */
    MJ_POP3_STATE_COUNT
} mj_pop3_state;

/* Name of a state ("authorization"); static storage. */
const char *mj_pop3_state_name(mj_pop3_state state);

/* Session options; zero-initialised is the default. */
typedef struct mj_pop3_options {
    /* Credential policy (allow_insecure_auth, disabled mechanisms). */
    mj_sasl_policy policy;
    /*
     * Let APOP run on a connection that is not verified TLS.  APOP's MD5
     * lets a man in the middle guess password characters with chosen
     * timestamps (CVE-2007-1558), so it is off without TLS by default.
     */
    bool allow_apop_insecure;
    /* Never use APOP, even over TLS. */
    bool no_apop;
    /* Send UTF8 (RFC 6856) before authenticating when advertised. */
    bool utf8;
    /* Ignore PIPELINING (send one command at a time). */
    bool no_pipelining;
    /* Cap on one unstuffed body; 0 = MJ_POP3_BODY_MAX_DEFAULT. */
    uint64_t body_max;
} mj_pop3_options;

typedef struct mj_pop3 mj_pop3;

/*
 * Connect per cfg (security resolved: implicit TLS handshakes first), read
 * the greeting, CAPA, and do STLS as mj_starttls_decide says (CAPA again
 * after TLS).  opts may be NULL (defaults; copied).  On success *s_out is
 * owned by the caller (mj_pop3_close).  On failure err says why and nothing
 * stays open.  Outcomes besides the connection's: MJ_STARTTLS_UNAVAILABLE
 * (STLS required and not offered, CAPA refused, or STLS answered -ERR),
 * MJ_PROTOCOL_ERROR (malformed greeting, data after the STLS reply),
 * MJ_SERVER_BUSY / MJ_SERVER_REFUSED (a -ERR greeting).
 */
mj_outcome mj_pop3_connect(const mj_conn_config *cfg, const mj_pop3_options *opts,
                           mj_pop3 **s_out, mj_error *err) MJ_MUST_CHECK;

/*
 * The same over an existing conn (tests: mj_conn_wrap over the memory
 * transport).  Takes ownership of c, also on failure.  security is the
 * resolved mode the conn was opened with.
 */
mj_outcome mj_pop3_start(mj_conn *c, mj_security security, const mj_pop3_options *opts,
                         mj_pop3 **s_out, mj_error *err) MJ_MUST_CHECK;

/*
 * Authenticate (AUTHORIZATION -> TRANSACTION), then CAPA again.  creds is
 * borrowed for the call.  forced != MJ_SASL_NONE: AUTH with that mechanism
 * only.  Otherwise the order is the client's: a SASL mechanism of class
 * challenge or better (mj_sasl_choose); USER/PASS when CAPA lists USER;
 * APOP when the greeting had a valid timestamp and TLS is verified (or
 * allow_apop_insecure); SASL PLAIN/LOGIN; USER/PASS unadvertised.  The
 * cleartext ones (USER/PASS, PLAIN, LOGIN) only when
 * mj_sasl_cleartext_allowed.  Nothing is sent when the policy refuses
 * (MJ_CLEARTEXT_REFUSED) or no method fits (MJ_AUTH_UNSUPPORTED).  A user
 * name or password holding CR, LF or NUL is MJ_USAGE before any byte.
 * -ERR maps through the response-code table (mj_pop3_code_outcome) with
 * MJ_AUTH_FAILED as the default.
 */
mj_outcome mj_pop3_login(mj_pop3 *s, const mj_sasl_creds *creds,
                         mj_sasl_mech forced) MJ_MUST_CHECK;

/* STAT: message count and total size (octets). */
mj_outcome mj_pop3_stat(mj_pop3 *s, uint32_t *count_out, uint64_t *size_out) MJ_MUST_CHECK;

/* One scan listing or unique-id listing; uid is NUL-terminated, valid
 * during the call only.  Returning non-MJ_OK stops the listing (the rest of
 * the reply is still read) and is returned. */
typedef mj_outcome (*mj_pop3_list_fn)(void *ctx, uint32_t number, uint64_t size);
typedef mj_outcome (*mj_pop3_uidl_fn)(void *ctx, uint32_t number, const char *uid);

/* LIST (number 0: every message, multi-line) / LIST n (one line). */
mj_outcome mj_pop3_list(mj_pop3 *s, uint32_t number, mj_pop3_list_fn fn,
                        void *ctx) MJ_MUST_CHECK;

/*
 * UIDL / UIDL n.  Sent even when CAPA did not list UIDL (many servers omit
 * it); -ERR then is MJ_SERVER_REFUSED.  UIDs are validated (1-70
 * characters in 0x21..0x7E): anything else is MJ_PROTOCOL_ERROR.
 */
mj_outcome mj_pop3_uidl(mj_pop3 *s, uint32_t number, mj_pop3_uidl_fn fn,
                        void *ctx) MJ_MUST_CHECK;

/*
 * RETR n / TOP n lines: the body, unstuffed, goes to sink (borrowed; may be
 * NULL to discard).  *size_out (may be NULL) is the unstuffed size.  The
 * sink may have received part of a body when the call fails: an EOF before
 * the terminator is MJ_CONNECTION_LOST, never success.
 */
mj_outcome mj_pop3_retr(mj_pop3 *s, uint32_t number, const mj_sink *sink,
                        uint64_t *size_out) MJ_MUST_CHECK;
mj_outcome mj_pop3_top(mj_pop3 *s, uint32_t number, uint32_t lines, const mj_sink *sink,
                       uint64_t *size_out) MJ_MUST_CHECK;

/*
 * A batch of RETRs.  begin is called before each message's bytes go to
 * *sink_out (which begin sets; NULL discards); end after its terminator
 * with the message's outcome (MJ_OK, or the -ERR's).  With PIPELINING
 * (unless disabled) up to MJ_POP3_PIPELINE_WINDOW commands are in flight.
 * A -ERR for one message does not stop the batch; the first one is
 * returned after every reply was read.  A connection failure stops it.
 */
typedef struct mj_pop3_batch {
    mj_outcome (*begin)(void *ctx, uint32_t number, mj_sink *sink_out);
    mj_outcome (*end)(void *ctx, uint32_t number, mj_outcome outcome, uint64_t size);
    void *ctx;
} mj_pop3_batch;

mj_outcome mj_pop3_retr_many(mj_pop3 *s, const uint32_t *numbers, size_t n,
                             const mj_pop3_batch *batch) MJ_MUST_CHECK;

/* DELE n (marks; QUIT commits), DELE of many (pipelined when advertised;
 * stops at the first -ERR after reading the replies in flight). */
mj_outcome mj_pop3_dele(mj_pop3 *s, uint32_t number) MJ_MUST_CHECK;
mj_outcome mj_pop3_dele_many(mj_pop3 *s, const uint32_t *numbers, size_t n) MJ_MUST_CHECK;

/* RSET (unmark every deletion), NOOP. */
mj_outcome mj_pop3_rset(mj_pop3 *s) MJ_MUST_CHECK;
mj_outcome mj_pop3_noop(mj_pop3 *s) MJ_MUST_CHECK;

/* QUIT: in TRANSACTION this commits the deletions; -ERR means they were
 * not all done (MJ_SERVER_REFUSED).  The session is in UPDATE afterwards. */
mj_outcome mj_pop3_quit(mj_pop3 *s) MJ_MUST_CHECK;

/* Close the connection and free (NULL allowed).  Sends nothing. */
void mj_pop3_close(mj_pop3 *s);

/* Accessors: owned by s, valid until mj_pop3_close. */
const mj_pop3_caps *mj_pop3_capabilities(const mj_pop3 *s);
mj_pop3_state mj_pop3_get_state(const mj_pop3 *s);
mj_error *mj_pop3_error(mj_pop3 *s);
mj_conn *mj_pop3_conn(mj_pop3 *s);
/* The greeting's text after "+OK " (escaped), "" before it was read. */
const char *mj_pop3_greeting(const mj_pop3 *s);
/* Whether the greeting carried a valid APOP timestamp. */
bool mj_pop3_has_apop(const mj_pop3 *s);
/* Whether UTF8 mode was entered. */
bool mj_pop3_utf8_active(const mj_pop3 *s);

/* ---- extended response codes (RFC 2449 §8, RFC 3206) ------------------- */

typedef enum mj_pop3_code {
    MJ_POP3_CODE_NONE = 0,    /* no "[...]" */
    MJ_POP3_CODE_UNKNOWN,     /* a code this client does not know */
    MJ_POP3_CODE_IN_USE,      /* RFC 2449: maildrop locked */
    MJ_POP3_CODE_LOGIN_DELAY, /* RFC 2449: logged in too recently */
    MJ_POP3_CODE_SYS_TEMP,    /* RFC 3206: temporary system failure */
    MJ_POP3_CODE_SYS_PERM,    /* RFC 3206: permanent system failure */
    MJ_POP3_CODE_AUTH,        /* RFC 3206: the credentials are wrong */
    MJ_POP3_CODE_UTF8,        /* RFC 6856: needs UTF8 mode */
    MJ_POP3_CODE_COUNT
} mj_pop3_code;

/*
 * The outcome a -ERR means.  The table (see pop3/parse.c):
 *   [IN-USE]       server-busy      (another session holds the maildrop)
 *   [LOGIN-DELAY]  server-busy      (try again later)
 *   [SYS/TEMP]     server-busy      (temporary failure)
 *   [SYS/PERM]     server-refused   (permanent failure)
 *   [AUTH]         auth-failed      (the credentials are wrong)
 *   [UTF8]         server-refused
 *   none, unknown  fallback         (auth-failed for login commands,
 *                                    server-refused for the rest)
 * A code is matched case-insensitively on whole hierarchy levels:
 * "[SYS/TEMP/DISK]" is SYS/TEMP, "[SYSTEM]" is unknown.
 */
mj_outcome mj_pop3_code_outcome(mj_pop3_code code, mj_outcome fallback);

#ifdef __cplusplus
}
#endif
#endif
