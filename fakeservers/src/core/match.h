/*
 * match.h: matching one client line against an expect pattern, and the
 * values the match captures ({tag}, {name}).  Pure functions: no I/O.
 *
 * Text patterns (FK_PAT_TEXT): "*" matches any run of bytes (also empty);
 * "{name}" (name = [A-Za-z_][A-Za-z0-9_-]*) matches one atom, a non-empty
 * run of bytes other than SP, CTL, DEL and ( ) { % * " \ ], and captures it;
 * a "{" that does not open a valid name is literal; everything else matches
 * itself (ASCII case folded when icase).  The whole line must match.
 * Regex patterns (FK_PAT_REGEX) are POSIX EREs compiled by the loader; a line
 * holding a NUL byte never matches one (regexec stops at NUL).
 */
#ifndef FK_MATCH_H
#define FK_MATCH_H

#include <stddef.h>

#include "scenario/scenario.h"

#define FK_CAPTURES_MAX      8   /* distinct names one connection keeps */
#define FK_CAPTURE_NAME_MAX  32  /* longest name + NUL */
#define FK_CAPTURE_VALUE_MAX 128 /* longest captured value + NUL; longer atoms do not match */
#define FK_MATCH_BUDGET      200000 /* backtracking steps before giving up on one line */

typedef struct fk_capture {
    char name[FK_CAPTURE_NAME_MAX];
    char value[FK_CAPTURE_VALUE_MAX];
} fk_capture;

typedef struct fk_captures {
    size_t n;
    fk_capture v[FK_CAPTURES_MAX];
} fk_captures;

typedef enum fk_match_result {
    FK_MATCH_NO = 0,
    FK_MATCH_YES,
    FK_MATCH_ERROR /* the budget ran out, or memory */
} fk_match_result;

/*
 * Match line (len bytes, no line end) against p.  On FK_MATCH_YES the values
 * captured by the pattern are stored into caps (same name: replaced); on any
 * other result caps is untouched.  caps may be NULL.
 */
fk_match_result fk_match_line(const fk_pattern *p, const char *line, size_t len,
                              fk_captures *caps);

/* The value captured under name (name_len bytes), or NULL. */
const char *fk_captures_get(const fk_captures *caps, const char *name, size_t name_len);

/* Store a value; returns 0, or -1 when a cap is exceeded (nothing stored). */
int fk_captures_set(fk_captures *caps, const char *name, size_t name_len, const char *value,
                    size_t value_len);

/* Length of the atom that starts line (0 when it does not start with one). */
size_t fk_atom_len(const char *line, size_t len);

/* Length of "{name}" at p (p[0] == '{'), 0 when it is not a placeholder. */
size_t fk_placeholder_len(const char *p, size_t len);

#endif
