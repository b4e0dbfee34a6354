/*
 * literal.c: the IMAP command scanner of literal.h.  Grammar (RFC 9051
 * section 9, RFC 7888):
 *     literal  = "{" number64 ["+"] "}" CRLF *CHAR8
 *     literal8 = "~{" number64 ["+"] "}" CRLF *OCTET
 * The scanner jumps over literal bytes without looking at them, so a
 * rescan after each read costs one memchr per line, not per byte.
 */
#include "imap/literal.h"

#include <stdio.h>
#include <string.h>

int fk_imap_literal_marker(const unsigned char *line, size_t len, size_t *size_out, bool *plus_out)
{
    if (len < 3 || line[len - 1] != '}')
        return -1;
    size_t i = len - 1;
    bool plus = line[i - 1] == '+';
    if (plus)
        i--;
    size_t end = i; /* one past the last digit */
    while (i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9')
        i--;
    size_t digits = end - i;
    if (digits == 0 || digits > FK_LITERAL_DIGITS_MAX || i == 0 || line[i - 1] != '{')
        return -1;
    size_t n = 0;
    for (size_t k = i; k < end; k++)
        n = n * 10 + (size_t)(line[k] - '0');
    *size_out = n;
    *plus_out = plus;
    return 0;
}

/* The two caps a command can break besides the literal's own. */
static fk_parse too_long(fk_imap_scan *out, bool line, size_t cap)
{
    if (line)
        snprintf(out->why, sizeof out->why, "a line longer than line_max (%zu bytes)", cap);
    else
        snprintf(out->why, sizeof out->why, "a command longer than %zu bytes", cap);
    return FK_PARSE_ERROR;
}

/* The command ends at the line end that starts at lf (or, at EOF, at len). */
static fk_parse command_done(fk_imap_scan *out, const unsigned char *buf, size_t pos,
                             const unsigned char *lf, size_t len)
{
    size_t end = lf ? (size_t)(lf - buf) : len;
    out->used = lf ? end + 1 : len;
    out->cmd_len = lf && end > pos && buf[end - 1] == '\r' ? end - 1 : end;
    return FK_PARSE_OK;
}

fk_parse fk_imap_scan_command(const unsigned char *buf, size_t len, bool at_eof,
                              const fk_imap_limits *lim, size_t acked, fk_imap_scan *out)
{
    memset(out, 0, sizeof *out);
    if (len == 0) /* nothing yet (buf may be NULL) */
        return FK_PARSE_NEED_MORE;
    size_t pos = 0, sync_seen = 0;
    for (;;) {
        const unsigned char *lf = memchr(buf + pos, '\n', len - pos);
        size_t line_end = lf ? (size_t)(lf - buf) : len;
        size_t line_len = line_end - pos - (lf && line_end > pos && buf[line_end - 1] == '\r');
        if (line_len > lim->line_max)
            return too_long(out, true, lim->line_max);
        if (lf == NULL) {
            if (at_eof && pos == 0 && len > 0)
                return command_done(out, buf, pos, NULL, len);
            if (len >= lim->command_max)
                return too_long(out, false, lim->command_max);
            return FK_PARSE_NEED_MORE;
        }
        size_t n = 0;
        bool plus = false;
        if (fk_imap_literal_marker(buf + pos, line_len, &n, &plus) != 0)
            return command_done(out, buf, pos, lf, len);
        if (n > lim->literal_max) {
            snprintf(out->why, sizeof out->why,
                     "a literal of %zu bytes, more than literal_max (%zu)", n, lim->literal_max);
            return FK_PARSE_ERROR;
        }
        if (!plus && sync_seen++ == acked) {
            out->continuation_due = true;
            out->literal_size = n;
            return FK_PARSE_NEED_MORE;
        }
        size_t data = line_end + 1;
        if (n > lim->command_max || data + n >= lim->command_max)
            return too_long(out, false, lim->command_max);
        if (len - data < n)
            return FK_PARSE_NEED_MORE;
        pos = data + n;
    }
}
