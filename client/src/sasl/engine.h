/*
 * sasl/engine.h: one SASL exchange over a connection, for IMAP AUTHENTICATE
 * (RFC 9051 6.2.2, SASL-IR RFC 4959), POP3 AUTH (RFC 5034) and SMTP AUTH
 * (RFC 4954).  The engine is protocol-independent; each protocol supplies a
 * small table (mj_sasl_proto): how the command starts, how long an initial
 * response may be, and how to read and classify one reply.
 *
 * What the engine guarantees (SECURITY-CASES F and G):
 * - every response line (initial response included) is written as a secret
 *   span, so the protocol log shows "********"; only the verb and the
 *   mechanism name are logged in clear;
 * - a challenge the mechanism cannot answer is cancelled with "*" and the
 *   server's final reply is read before the error is returned;
 * - success is reported only when the mechanism is satisfied (SCRAM's server
 *   signature verified): a success reply that comes too early is
 *   MJ_PROTOCOL_ERROR;
 * - the number of rounds is capped (MJ_SASL_ROUNDS_MAX).
 */
#ifndef MJ_SASL_ENGINE_H
#define MJ_SASL_ENGINE_H

#include <stdbool.h>
#include <stddef.h>

#include "mailjig/conn.h"
#include "mailjig/sasl.h"

/* Most challenge/response rounds in one exchange (SCRAM needs 2). */
#define MJ_SASL_ROUNDS_MAX 8

typedef enum mj_sasl_reply_kind {
    MJ_SASL_REPLY_CHALLENGE = 1, /* "+ xxx" (IMAP, POP3), "334 xxx" (SMTP) */
    MJ_SASL_REPLY_SUCCESS,       /* tagged OK, "+OK", "235" */
    MJ_SASL_REPLY_FAILURE        /* NO/BAD, "-ERR", 4xx/5xx */
} mj_sasl_reply_kind;

/*
 * One classified server reply, filled by the protocol's read_reply.  text and
 * data point into the connection's reader (valid until the next read).
 *   CHALLENGE: text = the base64 challenge (possibly empty);
 *   SUCCESS:   has_data and data = additional data with success (IMAP
 *              "OK [SASL ...]" is not standard; SMTP 235 carries none; a
 *              protocol that has it fills it), otherwise has_data = false;
 *   FAILURE:   text = the server's human text (raw: the engine escapes it),
 *              failure = the outcome it means: MJ_AUTH_FAILED for a
 *              rejection, MJ_SERVER_BUSY for a temporary failure
 *              ([UNAVAILABLE], [SYS/TEMP], 454), MJ_AUTH_UNSUPPORTED when the
 *              server says the mechanism is unknown (504), MJ_PROTOCOL_ERROR
 *              for a syntax complaint (BAD, 501).
 */
typedef struct mj_sasl_reply {
    mj_sasl_reply_kind kind;
    const char *text;
    size_t len;
    bool has_data;
    const char *data;
    size_t data_len;
    mj_outcome failure;
} mj_sasl_reply;

/*
 * The protocol's table.  ctx is the protocol session, passed back as is.
 *   begin:      put the command up to and excluding the mechanism name, with
 *               its trailing space ("A0003 AUTHENTICATE ", "AUTH "): the
 *               engine appends the mechanism, the initial response and CRLF;
 *   read_reply: read and classify the next reply (errors such as EOF or a
 *               malformed line are returned as outcomes, with c's error set);
 *   ir_max:     the longest base64 initial response allowed on the command
 *               line (IMAP with SASL-IR: unlimited, SIZE_MAX; IMAP without:
 *               0; POP3: 255 - the command; SMTP: the RFC 4954 line limit
 *               of 512 bytes minus the command);
 *   empty_ir:   how an empty initial response is written ("=").
 */
typedef struct mj_sasl_proto {
    const char *name;
    mj_outcome (*begin)(void *ctx, mj_conn *c);
    mj_outcome (*read_reply)(void *ctx, mj_conn *c, mj_sasl_reply *reply_out);
    size_t ir_max;
    const char *empty_ir;
} mj_sasl_proto;

/*
 * Run the exchange of mechanism s (created by the caller, who keeps ownership
 * and frees it) over c.  MJ_OK when the server accepted and the mechanism is
 * satisfied.  Otherwise the outcome says why (MJ_AUTH_FAILED with the
 * server's escaped text, MJ_SERVER_BUSY, MJ_PROTOCOL_ERROR, a connection
 * error), recorded in mj_conn_error(c).  The credentials never appear in the
 * error message.
 */
mj_outcome mj_sasl_run(mj_conn *c, const mj_sasl_proto *proto, void *ctx,
                       mj_sasl *s) MJ_MUST_CHECK;

/*
 * Describe c's channel binding for SCRAM-*-PLUS in *chan_out, the data
 * stored in buf (owned by the caller, MJ_CB_DATA_MAX bytes, which must
 * outlive chan_out).  server_mechs is what the server advertised: whether it
 * lists a -PLUS mechanism decides SCRAM's "y" vs "n" gs2 flag.  Returns true
 * when there is channel-binding data; on a plaintext connection, or a TLS
 * session without it, chan_out->type is MJ_SASL_CB_NONE (-PLUS is then never
 * chosen) and c's last error is left as it was.
 */
bool mj_sasl_channel_for(mj_conn *c, mj_sasl_set server_mechs,
                         unsigned char buf[MJ_CB_DATA_MAX], mj_sasl_channel *chan_out);

#endif
