/*
 * mailjig/log.h: the protocol log, in the format of MailKit's ProtocolLogger.
 *
 *     Connected to imaps://mail.example.org:993/
 *     S: * OK IMAP4rev1 ready
 *     C: A00000000 LOGIN alice ********
 *
 * - One "Connected to URI" line per connection; URI is scheme://host:port/
 *   with "?starttls=always" (security starttls) or "?starttls=when-available"
 *   (starttls-if-available); implicit TLS uses the "s" scheme (imaps, pop3s,
 *   smtps); plaintext has no query.
 * - Bytes are split at LF; each line starts with "C: " (client) or "S: "
 *   (server), preceded by "yyyy-MM-ddTHH:mm:ssZ " (UTC) when timestamps are
 *   on.  A line's CRLF or LF is written as it was on the wire; a line cut by
 *   a chunk boundary continues without a new prefix (MailKit's "midline").
 * - Control bytes other than TAB and the line-ending CR, NUL, DEL and bytes
 *   that are not valid UTF-8 are written as \xNN, so no byte from a server
 *   can break the log or a terminal.  A line longer than line_max bytes is cut
 *   with "[... N bytes not logged]".
 * - A span marked secret is written as "********" whatever its length.
 */
#ifndef MAILJIG_LOG_H
#define MAILJIG_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "mailjig/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MJ_LOG_SECRET_MASK "********"
/* Longest logged line; the rest is counted, not written. */
#define MJ_LOG_LINE_MAX_DEFAULT 8192

typedef struct mj_log mj_log;

typedef enum mj_log_dir { MJ_LOG_CLIENT, MJ_LOG_SERVER } mj_log_dir;

/*
 * Open a log writing to fp (borrowed: the caller closes it after
 * mj_log_free).  Returns NULL only when out of memory.
 */
mj_log *mj_log_new(FILE *fp);

/* Open a log on a file path (created or truncated, mode 0600); owned. */
mj_outcome mj_log_open(const char *path, mj_log **log_out, mj_error *err) MJ_MUST_CHECK;

void mj_log_set_timestamps(mj_log *log, bool on);
void mj_log_set_line_max(mj_log *log, size_t line_max);

/*
 * For tests: use this fixed time (seconds since the epoch) for every
 * timestamp instead of the clock.
 */
void mj_log_set_fixed_time(mj_log *log, long long epoch_seconds);

/* Write "Connected to URI"; ends any open line first.  uri is copied out. */
void mj_log_connect(mj_log *log, const char *uri);

/*
 * Log bytes in one direction.  secret: write MJ_LOG_SECRET_MASK once in place
 * of these bytes (the line structure around them is kept).  log may be NULL.
 */
void mj_log_data(mj_log *log, mj_log_dir dir, const void *data, size_t len, bool secret);

/* Flush and free; closes the file if mj_log_open opened it.  NULL allowed. */
void mj_log_free(mj_log *log);

#ifdef __cplusplus
}
#endif
#endif
