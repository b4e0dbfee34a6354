/*
 * mailjig/conn.h: one client connection: transport + reader + output buffer
 * + protocol log + timeouts + last error.  Every protocol session (IMAP, POP3,
 * SMTP) owns exactly one mj_conn and does all its I/O through it.
 *
 * Writes are composed with mj_conn_put (a span may be marked secret: the log
 * shows "********" in its place) and sent with mj_conn_flush, so one command
 * leaves in one write.  Reads go through mj_conn_reader().
 *
 * Every mj_conn_* function that can fail records the error in the conn's
 * last error (mj_conn_error) and returns its outcome.
 */
#ifndef MAILJIG_CONN_H
#define MAILJIG_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include "mailjig/error.h"
#include "mailjig/log.h"
#include "mailjig/reader.h"
#include "mailjig/transport.h"
#include "mailjig/url.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Size of the output buffer; mj_conn_put flushes by itself beyond it. */
#define MJ_CONN_OUT_MAX ((size_t)64 * 1024)
/* Secret spans one buffer can hold; mj_conn_put flushes by itself beyond it. */
#define MJ_CONN_SECRET_SPANS_MAX 16

/*
 * What to connect to and how.  All pointers are borrowed for the duration of
 * mj_conn_open, except log, which must outlive the conn.  security must be
 * resolved (not MJ_SEC_AUTO): MJ_SEC_IMPLICIT handshakes right after connect;
 * the STARTTLS modes connect in plaintext and leave the upgrade to the
 * protocol, which calls mj_conn_starttls.
 */
typedef struct mj_conn_config {
    mj_protocol protocol;
    mj_security security;
    mj_endpoint endpoint;
    mj_tls_config tls;
    mj_timeouts timeouts;
    mj_reader_limits limits;
    mj_log *log;
} mj_conn_config;

/* Defaults: plaintext, default timeouts and limits, no log. */
void mj_conn_config_init(mj_conn_config *cfg, mj_protocol protocol);

typedef struct mj_conn mj_conn;

/*
 * Connect (and handshake for implicit TLS), logging "Connected to URI".
 * On success *conn_out is owned by the caller (mj_conn_close).  On failure
 * err holds the outcome (connect-failed, timeout, tls-failed,
 * certificate-invalid) and nothing is left open.
 */
mj_outcome mj_conn_open(const mj_conn_config *cfg, mj_conn **conn_out,
                        mj_error *err) MJ_MUST_CHECK;

/*
 * For tests: build a conn over an existing transport (ownership passes to the
 * conn, also on failure).  Logs nothing at connect.
 */
mj_outcome mj_conn_wrap(mj_transport *t, const mj_conn_config *cfg, mj_conn **conn_out,
                        mj_error *err) MJ_MUST_CHECK;

/* Append bytes to the output; secret spans are masked in the log. */
mj_outcome mj_conn_put(mj_conn *c, const void *data, size_t len, bool secret) MJ_MUST_CHECK;
/* Convenience: a NUL-terminated string, not secret. */
mj_outcome mj_conn_puts(mj_conn *c, const char *s) MJ_MUST_CHECK;
/* Send the output buffer (log first, then one transport write). */
mj_outcome mj_conn_flush(mj_conn *c) MJ_MUST_CHECK;

/* The reader; owned by the conn, valid until mj_conn_close. */
mj_reader *mj_conn_reader(mj_conn *c);

/* The conn's last error (owned by the conn; valid until mj_conn_close). */
mj_error *mj_conn_error(mj_conn *c);

/* The timeouts in force; the caller may change them (per-operation deadline). */
mj_timeouts *mj_conn_timeouts(mj_conn *c);

/*
 * STARTTLS: the protocol has sent its command and read the positive reply;
 * upgrade now.  Fails with MJ_R_DATA_AFTER_STARTTLS if any byte is waiting
 * (see mj_reader_starttls), or as mj_transport_starttls does.  Unflushed
 * output is an internal error (nothing may be sent between the reply and the
 * handshake).
 */
mj_outcome mj_conn_starttls(mj_conn *c) MJ_MUST_CHECK;

/*
 * COMPRESS=DEFLATE (RFC 4978): the protocol has sent its command and read the
 * positive reply; from now on both directions go through a DEFLATE layer
 * (mj_deflate_wrap) over the current transport (over TLS when TLS is on).
 * already[0, len) are bytes the protocol had read past the reply and not
 * parsed; together with the bytes still in the reader they are the start of
 * the server's compressed stream (the server compresses from the byte after
 * the CRLF of its OK) and are decompressed first.  The protocol log keeps
 * showing plaintext, except those early bytes, which were logged as they
 * were received.  Unflushed output, or a layer already on, is an internal
 * error; more early bytes than MJ_DEFLATE_IN_MAX likewise.
 */
mj_outcome mj_conn_compress(mj_conn *c, const void *already, size_t len) MJ_MUST_CHECK;

/* Whether the connection is compressed (mj_conn_compress succeeded). */
bool mj_conn_compressed(const mj_conn *c);

/* TLS state: MJ_TLS_VERIFIED only after a finished, verified handshake. */
mj_tls_state mj_conn_tls_state(mj_conn *c);
void mj_conn_tls_info(mj_conn *c, mj_tls_info *info_out);

/* Channel-binding data of the TLS session (mj_transport_channel_binding). */
mj_outcome mj_conn_channel_binding(mj_conn *c, mj_channel_binding *type_out,
                                   unsigned char out[MJ_CB_DATA_MAX], size_t *len_out) MJ_MUST_CHECK;

/*
 * What a session does about STARTTLS once it knows whether the server offers
 * it (security resolved, never MJ_SEC_AUTO):
 *   none, implicit             -> SKIP (implicit: TLS is already up);
 *   starttls                   -> DO when offered, else REFUSE: the session
 *                                 ends with MJ_STARTTLS_UNAVAILABLE before any
 *                                 credential is sent;
 *   starttls-if-available      -> DO when offered, else SKIP (plaintext; the
 *                                 credential policy still applies).
 * A server that answers the STARTTLS command negatively is, for starttls,
 * MJ_STARTTLS_UNAVAILABLE as well, and for starttls-if-available a plaintext
 * session.
 */
typedef enum mj_starttls_action {
    MJ_STARTTLS_SKIP = 0,
    MJ_STARTTLS_DO,
    MJ_STARTTLS_REFUSE
} mj_starttls_action;

mj_starttls_action mj_starttls_decide(mj_security resolved, bool offered);

/* The host name the connection verifies and greets as. */
const char *mj_conn_host(const mj_conn *c);

/* Close and free (NULL allowed).  Unflushed output is dropped. */
void mj_conn_close(mj_conn *c);

#ifdef __cplusplus
}
#endif
#endif
