/*
 * pop3/pop3_parse.h: the POP3 parsers, without I/O (internal).
 *
 * RFC 1939 (status indicators, multi-line responses, byte-stuffing, scan and
 * unique-id listings, APOP), RFC 2449 (CAPA lines, response codes), RFC 3206,
 * RFC 5034 (the "+ " continuation of AUTH).
 *
 * Every function here follows parse.h: MJ_PARSE_OK, MJ_PARSE_NEED_MORE or
 * MJ_PARSE_ERROR with the mj_error saying why (MJ_PROTOCOL_ERROR and a
 * reason).  None reads a socket; the session (pop3.c) feeds them the bytes
 * the reader delivers, in any chunking.  The fuzz target
 * client/fuzz/fuzz_pop3_reply.c and client/tests/test_pop3_parse.c feed them
 * directly.
 */
#ifndef MJ_POP3_PARSE_H
#define MJ_POP3_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mailjig/error.h"
#include "mailjig/pop3.h"
#include "parse.h"

/* Capacity of the line accumulator: the largest of the line caps, + CR. */
#define MJ_POP3_LINE_BUF                                                                           \
    ((MJ_POP3_CHALLENGE_LINE_MAX > MJ_POP3_DATA_LINE_MAX ? MJ_POP3_CHALLENGE_LINE_MAX             \
                                                         : MJ_POP3_DATA_LINE_MAX) +                \
     2)

/* ---- lines --------------------------------------------------------------- */

/*
 * A line accumulator.  Owned by the session; buf is inside it.  max is the
 * cap for the line being read (MJ_POP3_STATUS_LINE_MAX, ...), set by
 * mj_pop3_line_reset.  Policy: the line ends at LF; a CR right before it is
 * dropped; a line holding a NUL is accepted here (the caller escapes it).
 */
typedef struct mj_pop3_line {
    size_t max;
    size_t len;
    char buf[MJ_POP3_LINE_BUF + 1];
} mj_pop3_line;

/* Start a new line capped at max (<= MJ_POP3_LINE_BUF - 2) content bytes. */
void mj_pop3_line_reset(mj_pop3_line *l, size_t max);

/*
 * Take bytes of in[0, n).  OK: the line is complete in l->buf[0, l->len)
 * (NUL-terminated, CR LF removed) and *consumed_out bytes were taken, LF
 * included.  NEED_MORE: all n taken.  ERROR: longer than max
 * (MJ_R_LINE_TOO_LONG).  what names the line in the message ("status line").
 */
mj_parse_result mj_pop3_line_feed(mj_pop3_line *l, const unsigned char *in, size_t n,
                                  size_t *consumed_out, const char *what, mj_error *err);

/* ---- status lines ---------------------------------------------------------- */

typedef enum mj_pop3_kind {
    MJ_POP3_KIND_OK = 1, /* "+OK" */
    MJ_POP3_KIND_ERR,    /* "-ERR" */
    MJ_POP3_KIND_CONT    /* "+ text" or "+" (AUTH continuation) */
} mj_pop3_kind;

/* A parsed status line; pointers into the line given. */
typedef struct mj_pop3_status {
    mj_pop3_kind kind;
    mj_pop3_code code;     /* MJ_POP3_CODE_NONE when no "[...]" */
    const char *text;      /* after the indicator, its space and the code */
    size_t text_len;
    const char *code_text; /* inside the brackets */
    size_t code_len;
} mj_pop3_status;

/*
 * status-line = ("+OK" / "-ERR") [SP text]          (RFC 1939 §3)
 * text        = ["[" resp-code "]" [SP]] *CHAR      (RFC 2449 §8)
 * continue    = "+" [SP base64]                     (RFC 5034 §4; a bare "+"
 *                                                    as curl test891 sends)
 * Indicators are case-sensitive and must be followed by SP or the end of
 * the line ("+OKAY" is malformed).  continue is accepted only when
 * allow_cont.  Returns OK or ERROR (MJ_R_MALFORMED; the message quotes the
 * line, escaped).  A "[" without "]" within MJ_POP3_CODE_TEXT_MAX is not a
 * code: it stays in the text.
 */
#define MJ_POP3_CODE_TEXT_MAX 64
mj_parse_result mj_pop3_parse_status(const char *line, size_t len, bool allow_cont,
                                     mj_pop3_status *out, mj_error *err);

/* The code of a bracket's content (case-insensitive, whole levels). */
mj_pop3_code mj_pop3_code_from_text(const char *text, size_t len);

/* ---- multi-line bodies ---------------------------------------------------- */

typedef enum mj_pop3_unstuff_state {
    MJ_US_LINE_START = 0, /* after CRLF, or at the start of the body */
    MJ_US_MID,            /* inside a line */
    MJ_US_CR,             /* inside a line, just after a CR */
    MJ_US_DOT,            /* a line-start "." was dropped */
    MJ_US_DOT_CR,         /* "." CR at a line start: CR held back */
    MJ_US_DONE            /* "." CR LF seen */
} mj_pop3_unstuff_state;

/*
 * The dot-unstuffing byte machine (RFC 1939 §3).  At a line start a "."
 * is always removed; "." CR LF there ends the body (the CRLF before it
 * belongs to the body's last line).  Only CRLF starts a line.
 */
typedef struct mj_pop3_unstuff {
    mj_pop3_unstuff_state state;
    uint64_t total; /* bytes output so far */
    uint64_t max;   /* cap on total */
} mj_pop3_unstuff;

void mj_pop3_unstuff_init(mj_pop3_unstuff *u, uint64_t max);

/*
 * Take in[0, n) and write the unstuffed bytes to out (room for n + 1: one CR
 * held back in an earlier call may come out now), *out_len_out of them.
 * OK: the terminator ended at in[*consumed_out - 1]; bytes after it are not
 * taken.  NEED_MORE: all n taken.  ERROR: the output would pass max
 * (MJ_R_STREAM_TOO_LARGE); nothing of this call is output.
 */
mj_parse_result mj_pop3_unstuff_feed(mj_pop3_unstuff *u, const unsigned char *in, size_t n,
                                     size_t *consumed_out, unsigned char *out,
                                     size_t *out_len_out, mj_error *err);

/* ---- listings and numbers ------------------------------------------------- */

/*
 * scan-listing = msg-number SP size [SP *CHAR]     (RFC 1939 §5, LIST; also
 *                                                   STAT's "count SP size")
 * msg-number is 1..2^32-1 (0 is malformed), size 0..2^63-1.  Too large is
 * MJ_R_NUMBER_OVERFLOW.
 */
mj_parse_result mj_pop3_parse_scan(const char *s, size_t len, bool allow_zero,
                                   uint32_t *number_out, uint64_t *size_out, mj_error *err);

/*
 * uid-listing = msg-number SP uid *(SP / HTAB)     (RFC 1939 §7, UIDL)
 * uid         = 1*70 (%x21-7E)
 * uid_out has room for MJ_POP3_UID_MAX + 1 bytes.  Trailing blanks are
 * tolerated; anything else after the uid is malformed.
 */
mj_parse_result mj_pop3_parse_uid(const char *s, size_t len, uint32_t *number_out,
                                  char uid_out[MJ_POP3_UID_MAX + 1], mj_error *err);

/*
 * One CAPA line (RFC 2449 §5): a capability name and its arguments.  Known
 * names set their bit; "SASL m1 m2" adds the mechanisms.  Unknown ones are
 * kept as lines only.  Always OK (capabilities are advisory) except over
 * MJ_POP3_CAPA_LINES_MAX lines (MJ_R_REPLY_TOO_LARGE).
 */
mj_parse_result mj_pop3_parse_capa_line(const char *line, size_t len, mj_pop3_caps *caps,
                                        mj_error *err);

/*
 * The APOP timestamp in a greeting's text (RFC 1939 §7): the first "<...>"
 * holding a msg-id (RFC 5322 §3.6.4):
 *   msg-id = "<" dot-atom-text "@" (dot-atom-text / "[" *dtext "]") ">"
 * at most MJ_POP3_APOP_TIMESTAMP_MAX bytes.  OK: copied to out (brackets
 * included, NUL-terminated; out_size > MJ_POP3_APOP_TIMESTAMP_MAX).
 * ERROR: absent or invalid (then APOP is not offered; MJ_R_MALFORMED).
 */
mj_parse_result mj_pop3_apop_timestamp(const char *text, size_t len, char *out, size_t out_size,
                                       mj_error *err);

#endif
