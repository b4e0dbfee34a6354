/*
 * personality.h: what every server of a protocol does without being scripted.
 * One row per protocol.  This issue implements the generic line mode only;
 * the IMAP literal and SMTP DATA reading modes are hooks for the protocol
 * issues: until a row's mode is implemented, its connections run in line
 * mode, and steps that need the mode (expect: sasl, expect: data) are
 * refused before serving (fk_personality_check).
 */
#ifndef FK_PERSONALITY_H
#define FK_PERSONALITY_H

#include <stdbool.h>
#include <stddef.h>

#include "scenario/scenario.h"

/* How client input is read beyond plain lines. */
typedef enum fk_read_mode {
    FK_READ_LINES = 0,   /* lines split at LF (CRLF or bare LF), implemented */
    FK_READ_IMAP_LITERAL,/* hook: answer "{N}" with "+ ", read N bytes into the command */
    FK_READ_SMTP_DATA    /* hook: after DATA/BDAT, read the body up to CRLF.CRLF */
} fk_read_mode;

typedef struct fk_personality {
    fk_protocol protocol;
    const char *name;
    const char *error_line;   /* sent on mismatch; "{tag}" expanded ("*" when none) */
    bool first_atom_is_tag;   /* IMAP: {tag} is the first atom of the last client line */
    fk_read_mode extra_mode;  /* the protocol's extra mode (see above) */
    bool extra_mode_ready;    /* false until the protocol issue implements it */
} fk_personality;

/* The row for p (never NULL for a valid fk_protocol). */
const fk_personality *fk_personality_get(fk_protocol p);

/*
 * Check that every step of s can run with what is implemented.  Returns 0,
 * or -1 with "FILE:LINE:COL: ..." in err naming the first step that cannot.
 */
int fk_personality_check(const fk_scenario *s, char *err, size_t err_size);

#endif
