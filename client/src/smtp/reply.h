/*
 * smtp/reply.h: the SMTP reply parser (internal to libmailjig).
 *
 * RFC 5321 4.2 reply grammar, RFC 3463 / RFC 2034 enhanced status codes:
 *
 *     Reply-line = *( Reply-code "-" [ textstring ] CRLF )
 *                  Reply-code [ SP textstring ] CRLF
 *     Reply-code = %x32-35 %x30-35 %x30-39
 *     enhanced   = class "." subject "." detail     ; RFC 3463 2
 *     class = "2" / "4" / "5"   subject, detail = 1*3DIGIT
 *
 * It never does I/O and resumes on any chunking (tests feed it one byte at
 * a time): the session feeds it what the reader hands out.  Choices:
 *  - a line ends at CRLF; a bare LF also ends it (the reader's default
 *    bare-LF policy); a CR not followed by LF is text;
 *  - every line of a multi-line reply must carry the same code, else
 *    MJ_R_MALFORMED;
 *  - the enhanced code is recognised only when its class equals the reply
 *    code's first digit, and is stripped from the text of every line that
 *    starts with one;
 *  - caps: MJ_SMTP_LINE_MAX bytes per line (terminator included,
 *    MJ_R_LINE_TOO_LONG); MJ_SMTP_REPLY_LINES_MAX lines and
 *    MJ_SMTP_REPLY_TEXT_MAX text bytes per reply (MJ_R_REPLY_TOO_LARGE), so
 *    an endless run of continuation lines stops at a fixed point.
 */
#ifndef MJ_SMTP_REPLY_H
#define MJ_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "mailjig/smtp.h"
#include "parse.h"

typedef enum mj_smtp_pstate {
    MJ_SMTP_P_CODE = 0, /* reading the three digits */
    MJ_SMTP_P_SEP,      /* after the code: '-', ' ' or the line end */
    MJ_SMTP_P_TEXT,     /* the text, up to CR or LF */
    MJ_SMTP_P_CR,       /* a CR was seen: LF ends the line, anything else is text */
    MJ_SMTP_P_DONE      /* a reply is complete; the next call starts another */
} mj_smtp_pstate;

/*
 * Parser state plus the reply being built.  Owned by the caller (embed or
 * allocate it); no heap memory of its own.  Zero-initialise or call
 * mj_smtp_parser_init before the first use.
 */
typedef struct mj_smtp_parser {
    mj_smtp_pstate state;
    unsigned ndigits;
    char digits[3];
    bool last;       /* the current line ends the reply */
    size_t line_len; /* bytes of the current line so far, terminator included */
    mj_smtp_reply reply;
} mj_smtp_parser;

void mj_smtp_parser_init(mj_smtp_parser *p);

/*
 * Feed data[0..len).
 *   MJ_PARSE_OK:        p->reply is complete (valid until the next call);
 *                       *consumed_out bytes were used, the last being the
 *                       final line's LF; the rest belongs to the next reply.
 *   MJ_PARSE_NEED_MORE: all len bytes were taken.
 *   MJ_PARSE_ERROR:     err says why; the parser must be re-initialised.
 * After OK the next call starts a new reply by itself.
 */
mj_parse_result mj_smtp_parse(mj_smtp_parser *p, const void *data, size_t len,
                              size_t *consumed_out, mj_error *err) MJ_MUST_CHECK;

#endif
