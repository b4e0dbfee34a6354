/*
 * personality.h: what every server of a protocol does without being scripted.
 * One row per protocol: the default error line, how {tag} is found, the
 * extra reading mode (IMAP literals, SMTP DATA/BDAT), and the lines a SASL
 * or APOP step answers with when the step has no `send:` of its own.
 */
#ifndef FK_PERSONALITY_H
#define FK_PERSONALITY_H

#include <stdbool.h>
#include <stddef.h>

#include "scenario/scenario.h"

/* How client input is read beyond plain lines. */
typedef enum fk_read_mode {
    FK_READ_LINES = 0,   /* lines split at LF (CRLF or bare LF) */
    FK_READ_IMAP_LITERAL,/* a command ending in "{N}" gets "+ ...", its N bytes join the command */
    FK_READ_SMTP_DATA    /* expect: data reads a DATA body or BDAT chunks (conn_data.c) */
} fk_read_mode;

/*
 * The framing of a SASL exchange (RFC 9051 section 6.2.2, RFC 5034, RFC
 * 4954) and the final lines the server picks by outcome ({tag} expanded).
 */
typedef struct fk_sasl_frame {
    const char *verb;        /* "AUTHENTICATE" (IMAP) or "AUTH" */
    bool tagged;             /* IMAP: the command starts with a tag */
    const char *challenge;   /* prefix of a challenge: "+ " or "334 " */
    const char *success;
    const char *failed;      /* wrong credentials, unknown user, server error */
    const char *temporary;   /* fail: temporary */
    const char *unsupported; /* fail: unsupported */
    const char *malformed;   /* the client's message could not be decoded */
    const char *cancelled;   /* the client sent "*" */
} fk_sasl_frame;

typedef struct fk_personality {
    fk_protocol protocol;
    const char *name;
    const char *error_line;   /* sent on mismatch; "{tag}" expanded ("*" when none) */
    bool first_atom_is_tag;   /* IMAP: {tag} is the first atom of the last client line */
    fk_read_mode extra_mode;  /* the protocol's extra mode (see above) */
    const char *continuation; /* IMAP: default answer to a literal "{N}" */
    fk_sasl_frame sasl;
    const char *apop_ok, *apop_failed; /* POP3 only; NULL elsewhere */
} fk_personality;

/* The row for p (never NULL for a valid fk_protocol). */
const fk_personality *fk_personality_get(fk_protocol p);

/*
 * Check that every step of s can run with this personality.  Returns 0, or
 * -1 with "FILE:LINE:COL: ..." in err naming the first step that cannot (the
 * loader already refuses protocol-specific expects in the wrong protocol;
 * this guards scenarios built in C).
 */
int fk_personality_check(const fk_scenario *s, char *err, size_t err_size);

#endif
