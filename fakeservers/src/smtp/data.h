/*
 * data.h: SMTP message content as mjfake's SMTP personality receives it.
 * Pure code, no I/O.
 *
 *  - The DATA body reader (RFC 5321 section 4.5.2 and 4.1.1.4): a byte state
 *    machine fed any chunking, which un-stuffs leading dots and stops after
 *    the "<CRLF>.<CRLF>" terminator.  Only CRLF ends a line (strict, as
 *    servers are since the SMTP-smuggling CVEs): a bare LF or bare CR is
 *    content.  The content it hands to the sink is everything after the 354
 *    reply up to the terminator's ".<CRLF>", so it includes the CRLF that
 *    ends the last line; an empty message is "" (".<CRLF>" at once).
 *  - The watch for what a smuggling-safe client never sends
 *    (SECURITY-CASES #140-#141): bare LF, bare CR, and a "." alone between
 *    line ends of which at least one is bare ("\n.\n", "\n.\r\n", "\r.\r\n",
 *    "\r\n.\r" + another byte, ...): counted with the first one's offset.
 *  - The BDAT command line (RFC 3030): "BDAT" SP chunk-size [SP "LAST"].
 */
#ifndef FK_SMTP_DATA_H
#define FK_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/parse.h"

/* Default cap on one message's content (streamed, so memory stays flat). */
#define FK_DATA_MAX_DEFAULT ((uint64_t)256 * 1024 * 1024)
/* Highest data_max a scenario may set. */
#define FK_DATA_MAX_LIMIT ((uint64_t)4 * 1024 * 1024 * 1024)
/* Bytes of wire history the smuggling watch keeps. */
#define FK_DATA_WINDOW 6
/* Longest smuggling sequence kept for the transcript (escaped later). */
#define FK_DATA_SEQ_MAX 8

/* Receives content bytes (un-stuffed) in order; n > 0. */
typedef void fk_data_sink(void *arg, const unsigned char *p, size_t n);

/* One wire anomaly: how often, and the 0-based wire offset of the first (the bare
 * byte; for a smuggling sequence its last byte). */
typedef struct fk_data_anomaly {
    uint64_t count;
    uint64_t first_at;
} fk_data_anomaly;

typedef struct fk_data_reader {
    int state;                         /* private */
    uint64_t max;                      /* content cap */
    uint64_t size;                     /* content bytes handed to the sink */
    uint64_t wire;                     /* wire bytes consumed */
    unsigned char win[FK_DATA_WINDOW]; /* the last wire bytes, oldest first */
    fk_data_anomaly bare_lf, bare_cr, smuggling;
    char smuggling_seq[FK_DATA_SEQ_MAX]; /* the first smuggling sequence, NUL-terminated */
} fk_data_reader;

/* Start a body: the DATA command line's CRLF counts as the line end before it. */
void fk_data_reader_init(fk_data_reader *r, uint64_t max);

/*
 * Feed wire bytes.  *used_out gets how many were consumed: all of them on
 * NEED_MORE, up to and including the terminator on OK (the rest belongs to
 * the next command), up to the byte that broke the cap on ERROR (content
 * over max).  sink may be called several times per call.
 */
fk_parse fk_data_reader_feed(fk_data_reader *r, const unsigned char *in, size_t len,
                             size_t *used_out, fk_data_sink *sink, void *arg);

/*
 * Parse a BDAT command line (without its line end): verb and LAST in any
 * case, one SP between the parts, 1 to 19 digits.  Returns 0 with the size
 * and whether it is the last chunk, or -1.
 */
int fk_bdat_parse(const char *line, size_t len, uint64_t *size_out, bool *last_out);

#endif
