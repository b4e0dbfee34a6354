/*
 * parse.h: the one return convention of every parser in libmailjig (IMAP
 * responses, SMTP replies, POP3 status lines and multi-line bodies).  A
 * parser never does I/O: it is given bytes, says how many it consumed, and
 * answers with exactly one of these.  Tests feed parsers one byte at a time.
 */
#ifndef MJ_PARSE_H
#define MJ_PARSE_H

typedef enum mj_parse_result {
    MJ_PARSE_OK = 0,    /* a complete unit was parsed; its result is out */
    MJ_PARSE_NEED_MORE, /* everything given was consumed; feed more bytes */
    MJ_PARSE_ERROR      /* malformed or over a limit; the mj_error says which */
} mj_parse_result;

#endif
