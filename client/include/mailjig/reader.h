/*
 * mailjig/reader.h: the buffered reader every protocol reads through.
 *
 * It pulls bytes from a transport into one buffer of fixed size and hands out
 * lines, exact byte counts, or streams into a sink.  Every received byte is
 * passed to the protocol log (server direction) exactly once, when it is read
 * from the transport.  Each cap is named below, has a default, and hitting it
 * is its own reason (MJ_PROTOCOL_ERROR with MJ_R_LINE_TOO_LONG,
 * MJ_R_REPLY_TOO_LARGE, MJ_R_STREAM_TOO_LARGE).
 *
 * Bare-LF policy: a line ends at CRLF.  Under MJ_BARE_LF_ACCEPT (the default)
 * a LF without CR also ends a line, because real servers send it and no
 * client-side attack depends on it; a CR that is not followed by LF is part
 * of the line.  Under MJ_BARE_LF_REJECT a bare LF is MJ_R_BARE_LF.
 */
#ifndef MAILJIG_READER_H
#define MAILJIG_READER_H

#include <stdbool.h>
#include <stddef.h>

#include "mailjig/error.h"
#include "mailjig/log.h"
#include "mailjig/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest line, terminator excluded.  RFC 5321 says 512 for SMTP replies,
 * RFC 9051 sets no limit; real IMAP servers send CAPABILITY lines of a few
 * KiB and FETCH lines far longer, hence a generous default. */
#define MJ_LIMIT_LINE_DEFAULT ((size_t)64 * 1024)
/* Most bytes between mj_reader_reply_begin and the reply's end. */
#define MJ_LIMIT_REPLY_DEFAULT ((size_t)1024 * 1024)
/* Size of the receive buffer (bounds one transport read). */
#define MJ_READER_CHUNK 16384

typedef enum mj_bare_lf { MJ_BARE_LF_ACCEPT = 0, MJ_BARE_LF_REJECT } mj_bare_lf;

typedef struct mj_reader_limits {
    size_t line_max;  /* >= 1 */
    size_t reply_max; /* >= line_max */
    mj_bare_lf bare_lf;
} mj_reader_limits;

void mj_reader_limits_init(mj_reader_limits *limits);

/*
 * A sink for streamed payloads.  fn is called with consecutive chunks; it
 * returns MJ_OK or an error (which aborts the stream and is returned as is).
 */
typedef mj_outcome (*mj_sink_fn)(void *ctx, const unsigned char *data, size_t len,
                                 mj_error *err);
typedef struct mj_sink {
    mj_sink_fn fn;
    void *ctx;
} mj_sink;

/* A sink that writes to the file descriptor *(int *)ctx, retrying on EINTR
 * and short writes; failures are MJ_INTERNAL / MJ_R_LOCAL_IO. */
mj_outcome mj_sink_fd(void *ctx, const unsigned char *data, size_t len, mj_error *err);

typedef struct mj_reader mj_reader;

/*
 * Create a reader on t (borrowed: it must outlive the reader) logging to log
 * (borrowed, may be NULL).  limits NULL means the defaults.  NULL only when
 * out of memory.
 */
mj_reader *mj_reader_new(mj_transport *t, mj_log *log, const mj_reader_limits *limits);
void mj_reader_free(mj_reader *r);

/* Change the transport (after the owner replaced it) or the limits. */
void mj_reader_set_transport(mj_reader *r, mj_transport *t);
void mj_reader_set_limits(mj_reader *r, const mj_reader_limits *limits);

/*
 * Next line, without its terminator.  *line_out points into the reader's
 * buffer, is NUL-terminated (the line itself may hold NULs: use *len_out), and
 * stays valid until the next call on r.  A stream that ends in the middle of
 * a line is MJ_CONNECTION_LOST (the partial line is never returned).
 */
mj_outcome mj_reader_line(mj_reader *r, const char **line_out, size_t *len_out,
                          mj_error *err) MJ_MUST_CHECK;

/* Exactly n bytes (a literal) into sink; EOF before n bytes is MJ_CONNECTION_LOST. */
mj_outcome mj_reader_read_exact(mj_reader *r, size_t n, const mj_sink *sink,
                                mj_error *err) MJ_MUST_CHECK;

/*
 * Everything up to and excluding the first occurrence of term (term_len >= 1)
 * into sink; the terminator is consumed.  Matches across chunk boundaries.
 * More than max bytes before the terminator is MJ_R_STREAM_TOO_LARGE.
 */
mj_outcome mj_reader_stream_until(mj_reader *r, const void *term, size_t term_len, size_t max,
                                  const mj_sink *sink, mj_error *err) MJ_MUST_CHECK;

/*
 * The bytes buffered now (reading once from the transport if none are), at
 * most max; they count as consumed.  For protocol-specific byte state
 * machines (dot-unstuffing).  *data_out is valid until the next call on r.
 */
mj_outcome mj_reader_read_some(mj_reader *r, size_t max, const unsigned char **data_out,
                               size_t *len_out, mj_error *err) MJ_MUST_CHECK;

/* Start counting a new reply against limits.reply_max. */
void mj_reader_reply_begin(mj_reader *r);

/* Bytes received and not yet consumed (the reader's buffer only). */
size_t mj_reader_buffered(const mj_reader *r);

/*
 * Upgrade the transport to TLS (STARTTLS).  If any byte is buffered in the
 * reader or pending in the transport, nothing is upgraded: the result is
 * MJ_PROTOCOL_ERROR / MJ_R_DATA_AFTER_STARTTLS ("data after the STARTTLS
 * reply", with the bytes quoted escaped) and the connection must be closed.
 * On success the buffer is empty and every later byte comes through TLS.
 */
mj_outcome mj_reader_starttls(mj_reader *r, const mj_tls_config *cfg, const char *host,
                              mj_error *err) MJ_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
