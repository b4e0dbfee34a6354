/*
 * literal.h: where one IMAP client command ends, literals included (RFC 9051
 * section 4.3 and 7.5, RFC 7888 LITERAL+ / LITERAL-, RFC 3516 literal8).
 * Pure code, no I/O: the scanner looks at what has arrived and says whether
 * the command is complete, needs more bytes, or first needs the server's
 * continuation request.
 *
 * A line that ends in "{N}" (also "~{N}") announces a synchronizing literal:
 * the server answers "+ ..." and the client then sends N bytes and the rest
 * of the command.  "{N+}" (LITERAL+, LITERAL-) is sent without waiting, so
 * it gets no continuation.  The command, as a pattern sees it, is every byte
 * the client sent from its first byte up to the final line end (excluded):
 * each literal appears inline after its "{N}\r\n" marker, exactly as sent.
 */
#ifndef FK_IMAP_LITERAL_H
#define FK_IMAP_LITERAL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/parse.h"

/* Default cap on one literal; server: literal_max changes it. */
#define FK_LITERAL_MAX_DEFAULT ((size_t)8 * 1024 * 1024)
/* Highest literal_max a scenario may set (the command is held in memory). */
#define FK_LITERAL_MAX_LIMIT ((size_t)256 * 1024 * 1024)
/* Most digits in "{N}" (more is refused before any arithmetic). */
#define FK_LITERAL_DIGITS_MAX 10
/* Longest message of a scan error. */
#define FK_IMAP_SCAN_WHY_MAX 160

typedef struct fk_imap_limits {
    size_t line_max;    /* longest line of the command, its line end excluded */
    size_t literal_max; /* largest literal */
    size_t command_max; /* the whole command with its line ends (the input buffer) */
} fk_imap_limits;

typedef struct fk_imap_scan {
    /* OK: the command's length without the final line end, and the bytes to
       consume (with it).  At EOF, a last line without a line end counts. */
    size_t cmd_len, used;
    /* NEED_MORE: a synchronizing literal whose continuation is due: the
       caller sends it, adds 1 to acked and scans again. */
    bool continuation_due;
    size_t literal_size;            /* the literal it is for (NEED_MORE with continuation_due) */
    char why[FK_IMAP_SCAN_WHY_MAX]; /* ERROR: a line or literal over its cap */
} fk_imap_scan;

/*
 * Scan buf (len bytes, from a command's first byte).  acked: how many
 * synchronizing literals of this command were answered already.  at_eof:
 * the client closed, no more bytes will come.
 */
fk_parse fk_imap_scan_command(const unsigned char *buf, size_t len, bool at_eof,
                              const fk_imap_limits *lim, size_t acked, fk_imap_scan *out);

/*
 * Whether line (without its line end) ends in a literal marker; then its
 * size and whether it is non-synchronizing ("{N+}").  -1: no marker, or one
 * with more than FK_LITERAL_DIGITS_MAX digits (the line is then plain text).
 */
int fk_imap_literal_marker(const unsigned char *line, size_t len, size_t *size_out, bool *plus_out);

#endif
