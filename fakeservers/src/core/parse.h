/*
 * parse.h: the one return convention of mjfake's parsers (STYLE.md, practice
 * 3): a parser never does I/O, is fed what has arrived, and says whether it
 * is done (OK), needs more input (NEED_MORE) or met input it refuses (ERROR).
 */
#ifndef FK_PARSE_H
#define FK_PARSE_H

typedef enum fk_parse { FK_PARSE_OK = 0, FK_PARSE_NEED_MORE, FK_PARSE_ERROR } fk_parse;

#endif
