/*
 * mailjig/smtp.h: the SMTP client (submission and relay).
 *
 * RFCs: 5321 (SMTP), 3207 (STARTTLS), 4954 (AUTH), 3463 + 2034 (enhanced
 * status codes), 1870 (SIZE), 6152 (8BITMIME), 3030 (CHUNKING, BINARYMIME),
 * 2920 (PIPELINING), 6531 (SMTPUTF8), 3461 (DSN), 8689 (REQUIRETLS).
 *
 * A session (mj_smtp) owns one mj_conn.  Its life:
 *
 *     mj_smtp_open(cfg, scfg, &s, &err)   connect, greeting, EHLO (HELO
 *                                         fallback), STARTTLS by the security
 *                                         mode, EHLO again after TLS
 *     mj_smtp_auth(s, &creds, mech)       optional; the credential policy
 *                                         runs before any credential byte
 *     mj_smtp_send(s, &env, &src, res)    one transaction (repeatable)
 *     mj_smtp_verify / mj_smtp_noop
 *     mj_smtp_quit(s); mj_smtp_free(s)
 *
 * Every failing call records its error in mj_smtp_error(s) and returns its
 * outcome.  Server text in messages and results is escaped (mj_escape).
 *
 * Outcomes of a reply, everywhere: 421 at any point is MJ_SERVER_BUSY with the
 * server's text and ends the session; other 4xx are MJ_SERVER_BUSY; a
 * refused sender, every recipient refused, or a refused message is
 * MJ_MESSAGE_REJECTED; a reply code the command cannot have (354 to RCPT,
 * 334 to MAIL) is MJ_PROTOCOL_ERROR.
 *
 * EHLO name.  The default is the address literal "[127.0.0.1]"
 * (MJ_SMTP_DEFAULT_CLIENT_NAME), not the local socket's real address nor the
 * host name: it is valid RFC 5321 syntax (address-literal) that servers with
 * "FQDN required" HELO checks accept, it reveals nothing about the client's
 * network (the privacy choice of Thunderbird's hello_argument), and it does
 * not depend on the transport (the in-memory transport has no socket).  A
 * caller that knows its name sets mj_smtp_config.client_name.
 */
#ifndef MAILJIG_SMTP_H
#define MAILJIG_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mailjig/conn.h"
#include "mailjig/error.h"
#include "mailjig/sasl.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits ------------------------------------------------------------ */

/*
 * Longest reply line, code and CRLF included.  RFC 5321 4.5.3.1.5 says 512;
 * real servers (Exchange banners, long 5xx explanations) go past it, hence 4 KiB.
 */
#define MJ_SMTP_LINE_MAX 4096
/* Most lines in one reply (an EHLO reply has about 20). */
#define MJ_SMTP_REPLY_LINES_MAX 128
/* Most text bytes kept for one reply, all lines (each NUL-terminated). */
#define MJ_SMTP_REPLY_TEXT_MAX ((size_t)32 * 1024)
/* "5.123.123" and its NUL. */
#define MJ_SMTP_ENHANCED_MAX 12
/* Longest address (RFC 5321 4.5.3.1.3: a path is at most 256 octets). */
#define MJ_SMTP_ADDRESS_MAX 256
/* Longest EHLO name, ENVID, VRFY argument. */
#define MJ_SMTP_ARG_MAX 256
/*
 * Longest command line we build.  Sized so that every argument at its cap
 * fits (RCPT with a 256-byte address and a 256-byte ORCPT xtext-encoded to
 * 768 is about 1100), so no command is ever cut mid-transaction.
 */
#define MJ_SMTP_COMMAND_MAX 2048
/* Most recipients in one transaction (RFC 5321 4.5.3.1.8 asks for >= 100). */
#define MJ_SMTP_RCPT_MAX 1000
/* Commands sent in one PIPELINING group before the replies are read. */
#define MJ_SMTP_PIPELINE_GROUP_MAX 100
/* Bytes of the message read from the source at a time (memory stays flat). */
#define MJ_SMTP_BODY_CHUNK ((size_t)16 * 1024)
/* Escaped server text kept per recipient result and per final reply. */
#define MJ_SMTP_RESULT_TEXT_MAX 512
/* Attempts of different mechanisms in one mj_smtp_auth (no downgrade). */
#define MJ_SMTP_AUTH_ATTEMPTS_MAX 3

#define MJ_SMTP_DEFAULT_CLIENT_NAME "[127.0.0.1]"

/* ---- replies ------------------------------------------------------------ */

/*
 * One parsed reply (RFC 5321 4.2).  code is 200..559.  enhanced is the
 * RFC 3463 code of the first line ("5.7.8"), "" when absent; it is stripped
 * from the start of each line's text when present there.  Line i's text is
 * text + line_off[i], line_len[i] bytes, NUL-terminated; it is raw server
 * text (escape it before showing it).
 */
typedef struct mj_smtp_reply {
    unsigned code;
    char enhanced[MJ_SMTP_ENHANCED_MAX];
    size_t n_lines;
    size_t line_off[MJ_SMTP_REPLY_LINES_MAX];
    size_t line_len[MJ_SMTP_REPLY_LINES_MAX];
    size_t text_len;
    char text[MJ_SMTP_REPLY_TEXT_MAX];
} mj_smtp_reply;

/* Line i of r (i < r->n_lines), NUL-terminated; *len_out (may be NULL) gets its length. */
const char *mj_smtp_reply_line(const mj_smtp_reply *r, size_t i, size_t *len_out);

/* ---- capabilities -------------------------------------------------------- */

/* Extensions the client acts on; one bit each in mj_smtp_caps.flags. */
typedef enum mj_smtp_ext {
    MJ_SMTP_EXT_STARTTLS = 1u << 0,
    MJ_SMTP_EXT_PIPELINING = 1u << 1,
    MJ_SMTP_EXT_8BITMIME = 1u << 2,
    MJ_SMTP_EXT_BINARYMIME = 1u << 3,
    MJ_SMTP_EXT_CHUNKING = 1u << 4,
    MJ_SMTP_EXT_SMTPUTF8 = 1u << 5,
    MJ_SMTP_EXT_DSN = 1u << 6,
    MJ_SMTP_EXT_SIZE = 1u << 7,
    MJ_SMTP_EXT_AUTH = 1u << 8,
    MJ_SMTP_EXT_REQUIRETLS = 1u << 9,
    MJ_SMTP_EXT_ENHANCEDSTATUSCODES = 1u << 10
} mj_smtp_ext;

/*
 * What the last EHLO said.  Forgotten at STARTTLS and learned again from the
 * EHLO sent over TLS.  helo: EHLO was refused and HELO accepted (no
 * extensions at all).  size_max: SIZE's limit, 0 when none was given.
 */
typedef struct mj_smtp_caps {
    unsigned flags;
    mj_sasl_set auth;
    uint64_t size_max;
    bool helo;
} mj_smtp_caps;

/* ---- session ------------------------------------------------------------- */

typedef struct mj_smtp_config {
    const char *client_name; /* EHLO/HELO argument; NULL: MJ_SMTP_DEFAULT_CLIENT_NAME */
} mj_smtp_config;

typedef struct mj_smtp mj_smtp;

/*
 * Connect with cfg (security resolved), then as mj_smtp_hello.  On success
 * *s_out is the caller's (mj_smtp_free).  On failure err says why and
 * nothing is left open.  scfg may be NULL (defaults); both are borrowed.
 */
mj_outcome mj_smtp_open(const mj_conn_config *cfg, const mj_smtp_config *scfg, mj_smtp **s_out,
                        mj_error *err) MJ_MUST_CHECK;

/*
 * A session over an open connection c (ownership passes to the session, also
 * on failure); security is the resolved mode c was opened with.  No I/O.
 * Fails only for a bad client name (MJ_USAGE) or out of memory.
 */
mj_outcome mj_smtp_new(mj_conn *c, mj_security security, const mj_smtp_config *scfg,
                       mj_smtp **s_out, mj_error *err) MJ_MUST_CHECK;

/*
 * Greeting (220; 554 is MJ_SERVER_REFUSED), EHLO (HELO after a 5xx), then
 * STARTTLS as mj_starttls_decide says: only a 220 reply leads to the
 * handshake; under security starttls any other reply, and a server without
 * STARTTLS (HELO fallback included), is MJ_STARTTLS_UNAVAILABLE.  Bytes after
 * the 220 are MJ_PROTOCOL_ERROR/MJ_R_DATA_AFTER_STARTTLS.  After TLS the
 * capabilities are forgotten and EHLO is sent again.
 */
mj_outcome mj_smtp_hello(mj_smtp *s) MJ_MUST_CHECK;

/* The session's connection (owned by the session) and capabilities. */
mj_conn *mj_smtp_conn(mj_smtp *s);
const mj_smtp_caps *mj_smtp_caps_get(const mj_smtp *s);
/*
 * The last EHLO reply's extension lines (the first line, the greeting text,
 * excluded): line i of the reply for 1 <= i < n_lines.  Valid until the next
 * call on s; NULL after HELO.
 */
const mj_smtp_reply *mj_smtp_ehlo_reply(const mj_smtp *s);
/* The last reply read (valid until the next call on s). */
const mj_smtp_reply *mj_smtp_last_reply(const mj_smtp *s);
/* The last error (owned by the session). */
const mj_error *mj_smtp_error(const mj_smtp *s);

/*
 * AUTH (RFC 4954) through the SASL engine.  mech MJ_SASL_NONE chooses from
 * the server's list in the client's order (mj_sasl_choose) under policy
 * (NULL: default: no cleartext mechanism without verified TLS, checked
 * before a byte of AUTH).  After a refusal (535 and friends) a weaker class
 * is never tried; at most MJ_SMTP_AUTH_ATTEMPTS_MAX mechanisms.  Outcomes:
 * MJ_AUTH_FAILED (535, 534, 530, 538), MJ_SERVER_BUSY (454, 4xx),
 * MJ_AUTH_UNSUPPORTED (no AUTH, no common mechanism, 504),
 * MJ_CLEARTEXT_REFUSED, MJ_PROTOCOL_ERROR (501, malformed exchanges).
 * An initial response goes on the AUTH line only if the line stays within
 * 512 bytes (RFC 4954 4).  creds are borrowed for the call.
 */
mj_outcome mj_smtp_auth(mj_smtp *s, const mj_sasl_creds *creds, mj_sasl_mech mech,
                        const mj_sasl_policy *policy) MJ_MUST_CHECK;

/* ---- sending ------------------------------------------------------------- */

typedef enum mj_smtp_body {
    MJ_SMTP_BODY_NONE = 0, /* no BODY= parameter (7bit, or the caller does not say) */
    MJ_SMTP_BODY_7BIT,
    MJ_SMTP_BODY_8BITMIME,
    MJ_SMTP_BODY_BINARYMIME /* sent with BDAT, byte for byte */
} mj_smtp_body;

typedef enum mj_smtp_ret { MJ_SMTP_RET_NONE = 0, MJ_SMTP_RET_FULL, MJ_SMTP_RET_HDRS } mj_smtp_ret;

/* DSN NOTIFY= flags (RFC 3461 4.1); NEVER excludes the others. */
#define MJ_SMTP_NOTIFY_SUCCESS 1u
#define MJ_SMTP_NOTIFY_FAILURE 2u
#define MJ_SMTP_NOTIFY_DELAY 4u
#define MJ_SMTP_NOTIFY_NEVER 8u

/*
 * One transaction's envelope; every pointer borrowed for the call.  from ""
 * or "<>" is the null reverse-path.  Addresses are given without angle
 * brackets; CR, LF, NUL, other control bytes, '<' and '>' are refused with
 * MJ_USAGE before any byte of the transaction is sent (SECURITY-CASES #136).
 *   size:      message size for SIZE= (0: unknown, not sent); checked against
 *              the server's limit before MAIL;
 *   smtputf8:  ask for SMTPUTF8 (also implied by a non-ASCII address);
 *   ret/envid/notify/orcpt: DSN, sent only when the server offers DSN;
 *              notify goes on every RCPT; notify_each (may be NULL) has
 *              n_to entries, each overriding notify for its recipient
 *              (0: notify); orcpt (may be NULL) has n_to entries, NULL
 *              entries for none;
 *   requiretls: RFC 8689; refused (MJ_MESSAGE_REJECTED) unless TLS is up
 *              and the server offers REQUIRETLS;
 *   chunking:  use BDAT when the server offers CHUNKING (BINARYMIME always
 *              uses BDAT and needs CHUNKING and BINARYMIME).
 * A body type, SMTPUTF8 or REQUIRETLS the server does not offer is
 * MJ_MESSAGE_REJECTED before MAIL ("the server does not offer ...").
 */
typedef struct mj_smtp_envelope {
    const char *from;
    const char *const *to;
    size_t n_to;
    uint64_t size;
    mj_smtp_body body;
    bool smtputf8;
    mj_smtp_ret ret;
    const char *envid;
    unsigned notify;
    const char *const *orcpt;
    bool requiretls;
    bool chunking;
    const unsigned *notify_each;
} mj_smtp_envelope;

/*
 * Where the message comes from: read up to cap bytes into buf; *n_out == 0
 * means the end.  Errors abort the transaction (the session sends nothing
 * more of the message; the server never sees an end of data).
 */
typedef mj_outcome (*mj_smtp_source_fn)(void *ctx, unsigned char *buf, size_t cap, size_t *n_out,
                                        mj_error *err);
typedef struct mj_smtp_source {
    mj_smtp_source_fn read;
    void *ctx;
} mj_smtp_source;

/* A source reading the file descriptor *(int *)ctx (EINTR retried). */
mj_outcome mj_smtp_source_fd(void *ctx, unsigned char *buf, size_t cap, size_t *n_out,
                             mj_error *err);

/* The server's answer to one recipient (text escaped). */
typedef struct mj_smtp_rcpt_result {
    bool accepted;
    unsigned code;
    char enhanced[MJ_SMTP_ENHANCED_MAX];
    char text[MJ_SMTP_RESULT_TEXT_MAX];
} mj_smtp_rcpt_result;

/*
 * What a transaction did.  rcpt has one entry per env->to, allocated by
 * mj_smtp_send and owned by the result (mj_smtp_send_result_free).  code,
 * enhanced and text: the final reply to the message (250 ...), escaped.
 */
typedef struct mj_smtp_send_result {
    size_t n_rcpt;
    mj_smtp_rcpt_result *rcpt;
    size_t n_accepted;
    unsigned code;
    char enhanced[MJ_SMTP_ENHANCED_MAX];
    char text[MJ_SMTP_RESULT_TEXT_MAX];
} mj_smtp_send_result;

/*
 * One mail transaction: MAIL, RCPT..., then DATA (dot-stuffed, CRLF
 * normalised: no bare CR or LF reaches the wire) or BDAT chunks.  With
 * PIPELINING, MAIL, the RCPTs and DATA go in one group with DATA last, and
 * no byte of the message leaves before DATA's 354.  MJ_OK only when the
 * final reply is 2xx; some recipients refused is still MJ_OK (see
 * res->rcpt).  After a failed transaction RSET is sent (unless the server
 * ended the session).  A server that closes the connection right after a
 * refusal yields the refusal, not MJ_CONNECTION_LOST.  res is the caller's
 * (filled from scratch; free it with mj_smtp_send_result_free whatever the
 * outcome).
 */
mj_outcome mj_smtp_send(mj_smtp *s, const mj_smtp_envelope *env, const mj_smtp_source *src,
                        mj_smtp_send_result *res) MJ_MUST_CHECK;

void mj_smtp_send_result_free(mj_smtp_send_result *res);

/*
 * VRFY arg: 250/251/252 are MJ_OK (*reply_out, owned by s, holds the
 * answer); 5xx is MJ_SERVER_REFUSED, 4xx MJ_SERVER_BUSY.
 */
mj_outcome mj_smtp_verify(mj_smtp *s, const char *arg, const mj_smtp_reply **reply_out) MJ_MUST_CHECK;

/* NOOP: 250 is MJ_OK. */
mj_outcome mj_smtp_noop(mj_smtp *s) MJ_MUST_CHECK;

/* RSET: 250 is MJ_OK. */
mj_outcome mj_smtp_rset(mj_smtp *s) MJ_MUST_CHECK;

/* QUIT and read the 221 when the session is still usable; errors ignored. */
void mj_smtp_quit(mj_smtp *s);

/* Close the connection and free (NULL allowed).  Sends nothing. */
void mj_smtp_free(mj_smtp *s);

/* ---- dot-stuffing (exposed for tests and the fuzzer) ---------------------- */

/*
 * The DATA byte state machine (RFC 5321 4.5.2), surviving any chunking:
 * every CRLF, bare LF and bare CR becomes CRLF (SECURITY-CASES #141: no
 * alternative end-of-data sequence can reach the wire), and a '.' at the
 * start of a line is doubled.  stuff (bool) off: normalise only (BDAT).
 */
typedef struct mj_smtp_stuffer {
    bool stuff;
    bool line_start;
    bool pending_cr;
} mj_smtp_stuffer;

/* Output room mj_smtp_stuff needs for len input bytes. */
#define MJ_SMTP_STUFF_OUT_MAX(len) (2 * (size_t)(len) + 2)
/* Output room mj_smtp_stuff_finish needs. */
#define MJ_SMTP_STUFF_FINISH_MAX 8

void mj_smtp_stuffer_init(mj_smtp_stuffer *st, bool stuff);
/* Transform in[0..len) into out (room: MJ_SMTP_STUFF_OUT_MAX(len)); returns bytes written. */
size_t mj_smtp_stuff(mj_smtp_stuffer *st, const unsigned char *in, size_t len, unsigned char *out);
/*
 * End of input: a pending CR becomes CRLF, a last line without CRLF gets
 * one, and with stuffing the end-of-data line ".\r\n" follows.  Returns bytes
 * written (room: MJ_SMTP_STUFF_FINISH_MAX).
 */
size_t mj_smtp_stuff_finish(mj_smtp_stuffer *st, unsigned char *out);

#ifdef __cplusplus
}
#endif
#endif
