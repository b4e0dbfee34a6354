/*
 * imap/parser.h: the IMAP response parser (internal to libmailjig).
 *
 * Follows the response grammar of RFC 9051 (IMAP4rev2) section 9, which is a
 * superset of RFC 3501's for responses, plus RFC 3516 (BINARY: literal8
 * "~{n}") and RFC 7162 (number64 for MODSEQ values).  It works at the token
 * level: it frames one complete response (every line and literal of it) and
 * turns it into a tree of atoms, numbers, strings, NIL and lists, with the
 * status, resp-text-code and human text split out.  What each token means
 * (which FETCH item, which STATUS attribute) is the session's business.
 *
 * It never does I/O and resumes on partial input, like Dovecot's
 * imap-parser and picohttpparser: feed any chunking, get the same tree.
 *
 * Token rules (documented here because they are choices):
 *  - atom: 1*ATOM-CHAR; also accepted: '\' (flags "\Seen"), the
 *    list-wildcards '%' and '*' ("\*", LIST mailbox names) and ']' outside a
 *    resp-text-code (ASTRING-CHAR includes ']').  An atom containing '['
 *    runs to the matching ']' whatever lies between, so "BODY[HEADER.FIELDS
 *    (DATE FROM)]<0>" and "BINARY[1]" are ONE atom, as RFC 9051 msg-att
 *    section specs need.
 *  - number: an atom made of digits only.  Its value must fit 63 bits
 *    (number64, RFC 9051 / RFC 7162); more is MJ_R_NUMBER_OVERFLOW.  Whether a
 *    given number must fit 32 bits is the session's check
 *    (mj_imap_node_number32), except the message number of "* n NAME", which
 *    the parser checks itself (RFC 9051 nz-number / number: 32 bits).
 *  - NIL: the atom NIL in any case.
 *  - quoted: "..." with only \\ and \" as escapes (anything else after '\'
 *    is an error); no NUL, CR or LF; bytes >= 0x80 only as well-formed
 *    UTF-8 (RFC 9051 QUOTED-CHAR allows UTF8-2/3/4), unless the
 *    tolerance eight_bit is set.  Stored unescaped and NUL-terminated.
 *  - literal: "{n}" CRLF then n bytes, anything (CRLF, NUL); "~{n}" is
 *    literal8.  n is number64.  "{n+}" and "{n-}" are client-side forms
 *    (LITERAL+ / LITERAL-) and are an error from a server.
 *  - separators: exactly one SP between tokens, none after '(' or before
 *    ')' (tolerances below relax this for named servers).
 *  - resp-text (after OK, NO, BAD, BYE, PREAUTH and after "+ "): an
 *    optional "[" name [SP args] "]" then the human text to the end of the
 *    line.  args are kept raw (RFC 9051: any TEXT-CHAR except "]") and, when
 *    they tokenize cleanly, also as a list of tokens (code_data).
 *  - every line ends in CRLF; a bare LF is MJ_R_BARE_LF unless tolerated.
 *
 * Memory: the tree lives in an arena owned by the parser and is valid until
 * the next call to mj_imap_parse / mj_imap_parser_reset / _free.  The
 * arena is bounded by limits.response_max; a line being assembled across
 * calls by limits.line_max; literals above literal_inline_max are never
 * stored, only passed to the sink.  No allocation is sized by a number the
 * server announced beyond those caps.
 */
#ifndef MJ_IMAP_PARSER_H
#define MJ_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mailjig/error.h"
#include "parse.h"

/* Defaults of mj_imap_limits (mj_imap_limits_init). */
#define MJ_IMAP_LINE_MAX_DEFAULT ((size_t)1024 * 1024)       /* a SEARCH of 100k UIDs fits */
#define MJ_IMAP_LITERAL_MAX_DEFAULT ((uint64_t)1 << 30)     /* 1 GiB: larger messages are refused */
#define MJ_IMAP_LITERAL_INLINE_DEFAULT ((size_t)64 * 1024)
#define MJ_IMAP_DEPTH_MAX_DEFAULT 64u                        /* deep multipart BODYSTRUCTUREs */
#define MJ_IMAP_TOKENS_MAX_DEFAULT ((size_t)1000 * 1000)
#define MJ_IMAP_RESPONSE_MAX_DEFAULT ((size_t)64 * 1024 * 1024)
/* Largest depth_max honoured: the nesting stack is allocated up front. */
#define MJ_IMAP_DEPTH_HARD_MAX 1024u

/*
 * Limits and tolerances of one parser.  Every limit exceeded is its own
 * error reason.  Tolerances are off by default (strict RFC 9051); each names
 * the servers that need it, and mj_imap_limits_tolerant turns them all on.
 */
typedef struct mj_imap_limits {
    size_t line_max;           /* bytes of one line, CRLF included, outside literals
                                  (a response with literals has several lines):
                                  MJ_R_LINE_TOO_LONG */
    uint64_t literal_max;      /* largest literal a server may announce; a larger
                                  one fails before any of it is read:
                                  MJ_R_STREAM_TOO_LARGE */
    size_t literal_inline_max; /* literals up to this size are stored in the tree;
                                  larger ones go to the sink */
    unsigned depth_max;        /* lists open at once: MJ_R_NESTING_TOO_DEEP */
    size_t tokens_max;         /* tokens (atoms, numbers, strings, NIL, lists) in
                                  one response: MJ_R_TOO_MANY_TOKENS */
    size_t response_max;       /* bytes of tree and inline data in memory for one
                                  response: MJ_R_REPLY_TOO_LARGE */

    /* "* OK [UNSEEN 8]" CRLF: no SP after the code (RFC 9051 wants one).
       Yahoo (examine-inbox: "[HIGHESTMODSEQ 7]"), Yandex (select-inbox:
       "[UNSEEN 8]"), Zoho (examine: "[HIGHESTMODSEQ ...]"). */
    bool code_without_space;
    /* "A1 OK" CRLF: status with nothing after it (RFC 9051 wants SP
       resp-text).  Seen from minimal servers and proxies. */
    bool status_without_text;
    /* "+" CRLF: a continuation request without the SP (older Courier and
       some proxies answer literals this way). */
    bool bare_continuation;
    /* SP before ')' where a value is missing: Yandex's "BODY[2] )" for an
       empty body part (yandex/getbodypart-missing-content). */
    bool space_before_close;
    /* SP before CRLF at the end of data: Exchange ("* SEARCH 1 2 " and
       FETCH lines ending in a space). */
    bool trailing_space;
    /* Bytes >= 0x80 that are not UTF-8 in text and quoted strings: Latin-1
       greetings and folder names from old Domino and Exchange 2003. */
    bool eight_bit;
    /* LF without CR ends a line: hand-written test servers and some proxies. */
    bool bare_lf;
    /* "[COPYUID 55 31 6]" CRLF: a response code with no "* OK" before it,
       read as the untagged OK it stands for.  Office 365 answering UID MOVE
       (MailKit issue 115, corpus exchange/issue115.txt). */
    bool bare_response_code;
} mj_imap_limits;

/* Fill limits with the defaults above, every tolerance off. */
void mj_imap_limits_init(mj_imap_limits *limits);
/* Turn every tolerance on (limits unchanged): what a client talking to
   arbitrary real servers uses. */
void mj_imap_limits_tolerant(mj_imap_limits *limits);

typedef enum mj_imap_kind {
    MJ_IMAP_ATOM = 0, /* str/len: the atom as sent */
    MJ_IMAP_NUMBER,   /* str/len: the digits; num: the value (< 2^63) */
    MJ_IMAP_NIL,      /* str: "NIL" as sent */
    MJ_IMAP_QUOTED,   /* str/len: unescaped bytes (UTF-8) */
    MJ_IMAP_LITERAL,  /* num: announced size; str/len: the bytes unless streamed */
    MJ_IMAP_LIST      /* first/count: the elements */
} mj_imap_kind;

/* One token of the tree.  str is NUL-terminated whenever it is not NULL
   (a literal may also contain NULs: use len). */
typedef struct mj_imap_node {
    mj_imap_kind kind;
    bool literal8;            /* LITERAL: sent as ~{n} (RFC 3516) */
    bool streamed;            /* LITERAL: bytes went to the sink; str is NULL */
    const char *str;
    size_t len;
    uint64_t num;
    struct mj_imap_node *first; /* LIST: first element or NULL */
    size_t count;               /* LIST: number of elements */
    struct mj_imap_node *next;  /* next sibling or NULL */
} mj_imap_node;

typedef enum mj_imap_resp_kind {
    MJ_IMAP_CONTINUATION = 0, /* "+ " resp-text or base64: text holds it */
    MJ_IMAP_UNTAGGED,         /* "* ..." */
    MJ_IMAP_TAGGED            /* "tag OK|NO|BAD ..." */
} mj_imap_resp_kind;

typedef enum mj_imap_status {
    MJ_IMAP_ST_NONE = 0, /* data response ("* 3 FETCH", "* CAPABILITY") or continuation */
    MJ_IMAP_ST_OK,
    MJ_IMAP_ST_NO,
    MJ_IMAP_ST_BAD,
    MJ_IMAP_ST_BYE,
    MJ_IMAP_ST_PREAUTH
} mj_imap_status;

/* One complete response.  Every pointer is into the parser's arena. */
typedef struct mj_imap_response {
    mj_imap_resp_kind kind;
    const char *tag;         /* TAGGED only, else NULL */
    mj_imap_status status;
    bool has_number;         /* "* 23 EXISTS": number is 23 (32-bit) */
    uint32_t number;
    const char *name;        /* untagged: "OK", "FETCH", "CAPABILITY"... as sent;
                                tagged: the status word; continuation: NULL */
    mj_imap_node *data;      /* data responses: first token after name, or NULL */
    size_t n_data;
    /* resp-text (status responses and continuations) */
    const char *code;        /* resp-text-code name ("UIDNEXT"), NULL if none */
    const char *code_args;   /* raw args ("" if none); NULL if no code */
    mj_imap_node *code_data; /* args as tokens, NULL if none or not tokenizable */
    size_t n_code_data;
    const char *text;        /* human text (may be ""); NULL for data responses */
    size_t text_len;
    size_t wire_len;         /* bytes the response took on the wire */
} mj_imap_response;

/*
 * Where a streamed literal belongs, passed to the sink with each chunk.  The
 * pointers are valid only during the call.  resp has kind, tag, number and
 * name filled in; its data is still being built.
 */
typedef struct mj_imap_literal_info {
    const mj_imap_response *resp;
    unsigned depth;              /* lists enclosing the literal (0: top-level data) */
    const size_t *path;          /* depth+1 indices: path[0] in the top-level data,
                                    path[depth] the literal's own index */
    const mj_imap_node *preceding; /* previous token in the same list ("BODY[]"),
                                      NULL if the literal is first */
    uint64_t size;               /* announced size */
    uint64_t offset;             /* of this chunk; the last chunk ends at size */
    bool literal8;
} mj_imap_literal_info;

/*
 * Receives a streamed literal in one or more chunks, in order, exactly the
 * bytes sent.  Returns 0 to go on; anything else fails the parse with
 * MJ_INTERNAL / MJ_R_LOCAL_IO.  data is valid only during the call.
 */
typedef int (*mj_imap_literal_sink)(void *ctx, const mj_imap_literal_info *where,
                                    const unsigned char *data, size_t len);

typedef struct mj_imap_parser mj_imap_parser;

/* A new parser with a copy of limits (NULL: defaults).  NULL when out of
   memory.  The caller frees it with mj_imap_parser_free. */
mj_imap_parser *mj_imap_parser_new(const mj_imap_limits *limits) MJ_MUST_CHECK;
/* Free p and every tree it returned.  p may be NULL. */
void mj_imap_parser_free(mj_imap_parser *p);
/* Where literals above literal_inline_max go.  With no sink (the default)
   their bytes are skipped and only the size is kept.  ctx is borrowed. */
void mj_imap_parser_set_sink(mj_imap_parser *p, mj_imap_literal_sink sink, void *ctx);
/* Forget any partial response and a latched error: the next byte starts a
   new response.  Invalidates the last tree. */
void mj_imap_parser_reset(mj_imap_parser *p);

/*
 * Feed bytes.  buf may be NULL when len is 0.
 *  MJ_PARSE_OK: one complete response is in *resp_out, made of the first
 *    *consumed_out bytes of buf (and any bytes fed before); the rest of buf
 *    is not looked at: feed it again.  *resp_out is valid until the next call
 *    on p.
 *  MJ_PARSE_NEED_MORE: every byte was taken (*consumed_out == len).
 *  MJ_PARSE_ERROR: err (may be NULL) holds MJ_PROTOCOL_ERROR with the reason
 *    (malformed or which limit), what was expected, the byte offset in the
 *    response and the line, escaped; or MJ_INTERNAL (no memory, sink
 *    failure).  The parser then refuses every call with the same error until
 *    mj_imap_parser_reset.  *consumed_out is where parsing stopped.
 * resp_out may not be NULL; *resp_out is NULL unless OK.
 */
mj_parse_result mj_imap_parse(mj_imap_parser *p, const unsigned char *buf, size_t len,
                              size_t *consumed_out, const mj_imap_response **resp_out,
                              mj_error *err) MJ_MUST_CHECK;

/* Bytes of arena the last complete response used (what response_max bounds). */
size_t mj_imap_parser_memory_used(const mj_imap_parser *p);

/* ---- helpers for the session ---- */

/* True if n is an atom, number or NIL whose text equals word ignoring ASCII case. */
bool mj_imap_node_is(const mj_imap_node *n, const char *word);
/* The i-th element of a LIST (or of a sibling chain), NULL if out of range. */
const mj_imap_node *mj_imap_list_at(const mj_imap_node *first, size_t i);
/* 0 and *out if n is a NUMBER that fits 32 bits (RFC 9051 number), else -1. */
int mj_imap_node_number32(const mj_imap_node *n, uint32_t *out) MJ_MUST_CHECK;

/*
 * A canonical one-line rendering of a response for tests, fuzzing and debug
 * logs: kinds are explicit, bytes outside printable ASCII are \xNN.  Writes
 * at most out_size bytes including the NUL; returns the length it needed.
 * Format:  KIND [tag] [status] [#number] [name] [code[args]=(tokens)] [text="..."]
 *          data: atom  #123  NIL  "quoted"  {5}"bytes"  {5}streamed  ~{5}...  ( ... )
 */
size_t mj_imap_response_format(const mj_imap_response *r, char *out, size_t out_size);

#endif
