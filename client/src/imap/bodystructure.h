/*
 * imap/bodystructure.h: ENVELOPE and BODYSTRUCTURE / BODY decoded from the
 * parser's token tree into the public structures of mailjig/imap.h
 * (internal to libmailjig).
 *
 * RFC 9051 §7.5.2 and §9 (envelope, address, body, body-type-1part,
 * body-type-mpart, body-fields, body-ext-1part, body-ext-mpart), RFC 3501
 * §7.4.2 (the same for IMAP4rev1, group syntax), RFC 3501 §6.4.5 (part
 * numbers).
 *
 * The decoder never does I/O: it reads a tree the parser already built.  It
 * owns an arena for the structures it returns; the strings in them point
 * into the parser's tree.  Both are valid until the next
 * imap_decoder_reset (the session resets at each FETCH response) and the
 * parser's next response, whichever comes first.
 */
#ifndef MJ_IMAP_BODYSTRUCTURE_H
#define MJ_IMAP_BODYSTRUCTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/parser.h"
#include "mailjig/imap.h"

/* Bytes of structures one decoder may hold at once (every FETCH item of one
   response): over it, MJ_PROTOCOL_ERROR / MJ_R_REPLY_TOO_LARGE. */
#define IMAP_DECODE_MEMORY_MAX ((size_t)16 * 1024 * 1024)
/* Size of the arena's first block, kept across resets. */
#define IMAP_DECODE_BLOCK ((size_t)8 * 1024)
/* Longest part number ("1.2.3"): MJ_IMAP_BODY_DEPTH_MAX levels of up to
   MJ_IMAP_BODY_PARTS_MAX (4 digits and a dot), doubled for the ".1" a
   message/rfc822 adds to its single-part body. */
#define IMAP_BODY_PATH_MAX (2 * 5 * MJ_IMAP_BODY_DEPTH_MAX + 1)

/*
 * The quirks of real servers the decoder accepts unless the session is
 * strict (mj_imap_options.strict).  Each is named in the error a strict
 * decoder gives, so a failure says which tolerance would have accepted it.
 * Not tolerances, because RFC 9051 allows them: lowercase media types
 * ("text" "plain": Dovecot; the grammar's quoted literals are
 * case-insensitive), missing extension data (BODY, or BODYSTRUCTURE from
 * IMAP4rev1 servers that stop after the lines: Gmail, Dovecot "notify"),
 * an address of four NILs (Gmail's "((NIL NIL NIL NIL))": a group end).
 */
typedef enum imap_tolerance {
    /* NIL where a string or number is required: media type or subtype,
       body-fld-enc, body-fld-octets, a parameter value, the disposition
       type, a whole ENVELOPE or BODYSTRUCTURE.  Exchange and Domino send
       NIL for an encoding or type they could not work out (MailKit's
       ImapUtils accepts them all). */
    IMAP_TOL_NIL_FIELD = 1u << 0,
    /* body-fld-octets or body-fld-lines as a quoted string ("1234"):
       old Exchange and some proxies. */
    IMAP_TOL_NUMBER_AS_STRING = 1u << 1,
    /* TEXT/x without body-fld-lines: the next field is the extension
       data (Exchange, for empty text parts). */
    IMAP_TOL_MISSING_LINES = 1u << 2,
    /* MESSAGE/RFC822 sent as a basic body (no envelope, body, lines):
       Exchange and Domino for attached messages they did not parse. */
    IMAP_TOL_MESSAGE_AS_BASIC = 1u << 3,
    /* A multipart with no body before its subtype ("MIXED" ...) :
       Exchange for an empty multipart (MailKit handles it). */
    IMAP_TOL_EMPTY_MULTIPART = 1u << 4,
    /* "()" where RFC 9051 wants one or more elements or NIL (an address
       list, body-fld-param, body-fld-lang): Exchange and Yahoo. */
    IMAP_TOL_EMPTY_LIST = 1u << 5,
    /* body-fld-octets over 32 bits (RFC 9051 number): parts over 4 GiB
       reported with their real size by Dovecot and Cyrus. */
    IMAP_TOL_LARGE_OCTETS = 1u << 6,
    /* Domino's extra parentheses around a FETCH item:
       "(UID 14935 (ENVELOPE (...)) BODYSTRUCTURE (...))" (corpus
       domino/fetch-extra-parens); handled by message.c, named here. */
    IMAP_TOL_EXTRA_PARENS = 1u << 7,
    /* "MODSEQ (-1)": Zoho (corpus zoho/fetch-negative-modseq-values.txt);
       the message is reported without a mod-sequence.  message.c. */
    IMAP_TOL_NEGATIVE_MODSEQ = 1u << 8,
    /* A body section with no value before ')': Yandex's "BODY[2] )" for an
       empty part (corpus yandex/getbodypart-missing-content.txt), read as
       NIL (no content).  message.c; the parser's space-before-close lets
       the line through. */
    IMAP_TOL_ITEM_WITHOUT_VALUE = 1u << 9,
    /* A LIST or NAMESPACE delimiter "" (RFC 9051 wants one character or NIL): a flat
       namespace reported with no delimiter (corpus
       common/list-nil-folder-delim.txt).  mailbox.c. */
    IMAP_TOL_EMPTY_DELIMITER = 1u << 10,
    IMAP_TOL_ALL = (1u << 11) - 1
} imap_tolerance;

/* The name of one tolerance bit ("nil-field"); static storage. */
const char *imap_tolerance_name(unsigned bit);

typedef struct imap_arena_block imap_arena_block;

typedef struct imap_decoder {
    unsigned tolerances; /* imap_tolerance bits allowed */
    unsigned used;       /* imap_tolerance bits applied since the last reset */
    imap_arena_block *blocks;
    size_t total;        /* bytes of blocks held (IMAP_DECODE_MEMORY_MAX) */
} imap_decoder;

/* A decoder allowing the tolerances (imap_tolerance bits); holds nothing yet. */
void imap_decoder_init(imap_decoder *d, unsigned tolerances);
/* Forget every structure returned so far (keeps the first block). */
void imap_decoder_reset(imap_decoder *d);
/* Free everything; d may be reused after imap_decoder_init. */
void imap_decoder_free(imap_decoder *d);

/*
 * Decode an ENVELOPE value (v: the node after the name) of message seq.
 * *out_env is NULL when a tolerated server sent NIL.  Errors in err:
 * MJ_PROTOCOL_ERROR with MJ_R_MALFORMED ("malformed ENVELOPE of message 3:
 * env-from address 2: ..."), MJ_R_REPLY_TOO_LARGE (a limit), or MJ_INTERNAL
 * / MJ_R_NO_MEMORY.
 */
mj_outcome imap_decode_envelope(imap_decoder *d, const mj_imap_node *v, uint32_t seq,
                                const mj_imap_envelope **out_env, mj_error *err) MJ_MUST_CHECK;

/*
 * Decode a BODYSTRUCTURE or BODY value; item is the name for messages
 * ("BODYSTRUCTURE").  *out_body NULL when a tolerated server sent NIL.
 * Errors name the part ("part 1.2") and the field, and use MJ_R_MALFORMED,
 * MJ_R_NESTING_TOO_DEEP (MJ_IMAP_BODY_DEPTH_MAX), MJ_R_REPLY_TOO_LARGE
 * (parts, addresses, parameters, memory) or MJ_INTERNAL / MJ_R_NO_MEMORY.
 */
mj_outcome imap_decode_body(imap_decoder *d, const mj_imap_node *v, const char *item, uint32_t seq,
                            const mj_imap_body **out_body, mj_error *err) MJ_MUST_CHECK;

#endif
