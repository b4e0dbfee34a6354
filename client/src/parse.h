/*
 * parse.h: the one return convention of every parser in libmailjig (IMAP
 * responses, SMTP replies, POP3 responses).
 *
 * A parser never does I/O: the caller feeds it bytes, in any chunking, and
 * it answers with exactly one of these three values.  Each parser's header
 * says what *consumed_out means for each value; they all follow the same
 * rule: OK means one complete unit was parsed from the first *consumed_out
 * bytes, NEED_MORE means every byte given was taken and more are needed,
 * ERROR means the input is unusable and the mj_error says why.  Nothing
 * else is ever returned (no sentinel doubles as two meanings).
 */
#ifndef MJ_PARSE_H
#define MJ_PARSE_H

typedef enum mj_parse_result {
    MJ_PARSE_OK = 0,    /* a complete unit is ready */
    MJ_PARSE_NEED_MORE, /* all input taken; feed more bytes */
    MJ_PARSE_ERROR      /* malformed or over a limit; the error says which */
} mj_parse_result;

#endif
