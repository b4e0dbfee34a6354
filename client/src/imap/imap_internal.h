/*
 * imap/imap_internal.h: the IMAP session shared by session.c (state, the
 * command/response engine, untagged dispatch, greeting, CAPABILITY,
 * STARTTLS), auth.c (LOGIN, AUTHENTICATE), strings.c (argument checks,
 * atom/quoted/literal choice, modified UTF-7), mailbox.c (mailbox commands)
 * message.c (FETCH, SEARCH, STORE, COPY/MOVE, APPEND, IDLE, QUOTA),
 * ext.c (MULTIAPPEND, GETQUOTA, SORT, THREAD, ENABLE IMAP4rev2) and
 * condstore.c (CONDSTORE / QRESYNC: ENABLE, SELECT parameters, VANISHED,
 * MODSEQ codes, CHANGEDSINCE, UNCHANGEDSINCE; UID EXPUNGE), criteria.c
 * (SEARCH criteria with non-ASCII strings: literals, CHARSET, BADCHARSET);
 * bodystructure.c decodes ENVELOPE and BODYSTRUCTURE for message.c.
 * Internal.
 */
#ifndef MJ_IMAP_INTERNAL_H
#define MJ_IMAP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/bodystructure.h"
#include "imap/parser.h"
#include "mailjig/imap.h"

/* Longest tag: "A" and up to 9 digits. */
#define IMAP_TAG_MAX 16
/* Escaped server text quoted in an error message. */
#define IMAP_QUOTE_MAX 200
/* Escaped resp-text-code arguments kept from a tagged reply (COPYUID...). */
#define IMAP_CODE_ARGS_KEEP 600
/* Bytes of an APPEND literal moved per read from the caller's source. */
#define IMAP_APPEND_CHUNK ((size_t)16 * 1024)

/* The commands, rows of the command table in session.c. */
typedef enum imap_cmd {
    IMAP_CMD_CAPABILITY = 0,
    IMAP_CMD_NOOP,
    IMAP_CMD_LOGOUT,
    IMAP_CMD_STARTTLS,
    IMAP_CMD_LOGIN,
    IMAP_CMD_AUTHENTICATE,
    IMAP_CMD_ID,
    IMAP_CMD_ENABLE,
    IMAP_CMD_NAMESPACE,
    IMAP_CMD_SELECT,
    IMAP_CMD_EXAMINE,
    IMAP_CMD_CREATE,
    IMAP_CMD_DELETE,
    IMAP_CMD_RENAME,
    IMAP_CMD_SUBSCRIBE,
    IMAP_CMD_UNSUBSCRIBE,
    IMAP_CMD_LIST,
    IMAP_CMD_LSUB,
    IMAP_CMD_STATUS,
    IMAP_CMD_APPEND,
    IMAP_CMD_CHECK,
    IMAP_CMD_CLOSE,
    IMAP_CMD_UNSELECT,
    IMAP_CMD_EXPUNGE,
    IMAP_CMD_SEARCH,
    IMAP_CMD_FETCH,
    IMAP_CMD_STORE,
    IMAP_CMD_COPY,
    IMAP_CMD_MOVE,
    IMAP_CMD_IDLE,
    IMAP_CMD_GETQUOTAROOT,
    IMAP_CMD_UID_SEARCH,
    IMAP_CMD_UID_FETCH,
    IMAP_CMD_UID_STORE,
    IMAP_CMD_UID_COPY,
    IMAP_CMD_UID_MOVE,
    IMAP_CMD_GETQUOTA,
    IMAP_CMD_SORT,
    IMAP_CMD_UID_SORT,
    IMAP_CMD_THREAD,
    IMAP_CMD_UID_THREAD,
    IMAP_CMD_UID_EXPUNGE,
    IMAP_CMD_COMPRESS,
    IMAP_CMD_COUNT
} imap_cmd;

/* How one argument of a command goes out. */
typedef enum imap_part_kind {
    IMAP_P_RAW = 0, /* caller text checked by the command (set, items): sent as is */
    IMAP_P_ASTRING, /* atom, quoted or literal, whichever is needed */
    IMAP_P_STRING,  /* quoted or literal (never a bare atom: ID values) */
    IMAP_P_MAILBOX, /* UTF-8 name: modified UTF-7 (or UTF-8 with UTF8=ACCEPT), then ASTRING */
    IMAP_P_SOURCE   /* APPEND's next message literal from s->source[s->source_next++] */
} imap_part_kind;

typedef struct imap_part {
    imap_part_kind kind;
    const char *text;
    bool secret;      /* shown as ******** in the protocol log */
    const char *what; /* for messages: "mailbox name", "password" (never the value) */
    bool glue;        /* no SP before it (after "(", before ")") */
} imap_part;

/* Called for every untagged response of the command after the common handling. */
typedef mj_outcome (*imap_untagged_fn)(mj_imap *s, void *ctx, const mj_imap_response *r);

/* The tagged reply of a command, copied out of the parser's arena. */
typedef struct imap_done {
    mj_imap_status status;
    char code[MJ_IMAP_CAP_NAME_MAX];      /* "" when none */
    char code_args[IMAP_CODE_ARGS_KEEP];  /* escaped */
    char text[IMAP_QUOTE_MAX];            /* escaped */
} imap_done;

/* The APPEND literal's source while the command runs. */
typedef struct imap_source {
    uint64_t size;
    mj_imap_read_fn read;
    void *ctx;
    bool binary; /* a literal8: NUL allowed */
} imap_source;

struct mj_imap {
    mj_conn *conn;
    mj_security security;
    mj_imap_options opts;
    mj_imap_state state;
    mj_imap_caps caps;
    mj_imap_parser *parser;
    /* Bytes read and not yet parsed (into the reader's buffer, valid because
       the reader is only called when the window is empty). */
    const unsigned char *in;
    size_t in_len;
    uint32_t tag_n;
    char tag[IMAP_TAG_MAX];
    bool utf8;      /* UTF8=ACCEPT enabled */
    bool bye;       /* an untagged BYE arrived */
    mj_outcome bye_outcome;
    char bye_text[MJ_IMAP_TEXT_KEEP];
    char greeting[MJ_IMAP_TEXT_KEEP];
    char alert[MJ_IMAP_TEXT_KEEP];
    bool alert_untrusted;
    bool has_selected;
    mj_imap_mailbox_info sel;
    bool caps_in_reply;      /* the last tagged OK carried [CAPABILITY] */
    bool compress_wait;      /* waiting for the plaintext reply to COMPRESS */
    unsigned untagged_count; /* untagged responses seen (IDLE events) */
    /* FETCH in progress: where literal bytes go */
    const mj_imap_fetch_cb *fetch_cb;
    mj_error fetch_err;
    const imap_source *source; /* APPEND: one per IMAP_P_SOURCE part, in order */
    size_t source_next;
    bool rev2;            /* IMAP4rev2 enabled (ext.c) */
    bool post_auth_done;  /* the post-authentication ENABLEs were run */
    /* CONDSTORE / QRESYNC (condstore.c) */
    uint32_t enabled;                  /* mj_imap_cap bits enabled (mj_imap_enabled) */
    const mj_imap_changes_cb *changes; /* borrowed; NULL: none */
    bool fetch_cmd;                    /* a FETCH / STORE runs: its hook reports FETCH */
    char *modified;                    /* [MODIFIED set] of the last tagged reply (malloc) */
    /* ENVELOPE / BODYSTRUCTURE structures of the FETCH response being
       delivered (reset at each one); tolerances off when opts.strict */
    imap_decoder decoder;
};

/* The ONLY way to change s->state (logs the change when MJ_DEBUG is set). */
void imap_set_state(mj_imap *s, mj_imap_state state);
/* FAILED when o is a connection-level outcome; returns o. */
mj_outcome imap_fail_if_fatal(mj_imap *s, mj_outcome o);

/*
 * Run one command: state check, every argument checked (CR/LF/NUL, size)
 * before a byte is sent, the tag, arguments encoded (synchronizing literals
 * wait for '+'), then responses until the tagged one.  Untagged responses go
 * through the common table then to hook (may be NULL).  Tagged OK: MJ_OK.
 * NO/BAD: mj_imap_code_outcome(code, fallback) with the server's text.
 * done (may be NULL) gets the tagged reply.
 */
mj_outcome imap_run(mj_imap *s, imap_cmd cmd, const imap_part *parts, size_t n,
                    imap_untagged_fn hook, void *ctx, mj_outcome fallback,
                    imap_done *done) MJ_MUST_CHECK;

/* Start a command by hand (AUTHENTICATE, IDLE): checks, tag, "TAG VERB " put, not flushed. */
mj_outcome imap_begin(mj_imap *s, imap_cmd cmd) MJ_MUST_CHECK;
/* Read one response (untagged ones are NOT dispatched). */
mj_outcome imap_read(mj_imap *s, const mj_imap_response **r_out) MJ_MUST_CHECK;
/* The common handling of one untagged response, then hook. */
mj_outcome imap_untagged(mj_imap *s, const mj_imap_response *r, imap_untagged_fn hook,
                         void *ctx) MJ_MUST_CHECK;
/* Copy a tagged reply out; check the tag (another tag is a protocol error). */
mj_outcome imap_tagged(mj_imap *s, const mj_imap_response *r, imap_done *done) MJ_MUST_CHECK;
/* The error for a NO/BAD reply to cmd. */
mj_outcome imap_refused(mj_imap *s, imap_cmd cmd, const imap_done *done, mj_outcome fallback);
/* The verb of a command ("UID FETCH" for the UID rows). */
const char *imap_verb(imap_cmd cmd);
/* Parse a CAPABILITY list (data tokens or resp-code tokens) into s->caps. */
void imap_caps_from_nodes(mj_imap *s, const mj_imap_node *first);
/* Ask CAPABILITY, forgetting what was known. */
mj_outcome imap_capability(mj_imap *s) MJ_MUST_CHECK;
/* Put CRLF, flush, then read until the tagged reply (hook for untagged data). */
mj_outcome imap_finish(mj_imap *s, imap_cmd cmd, imap_untagged_fn hook, void *ctx,
                       mj_outcome fallback, imap_done *done) MJ_MUST_CHECK;

/* ---- ext.c ---- */

/* Once per session after authentication (PREAUTH too): ENABLE IMAP4rev2
 * when offered (see mj_imap_rev2). */
mj_outcome imap_enter_rev2(mj_imap *s) MJ_MUST_CHECK;
/* The quota-response hook of GETQUOTAROOT and GETQUOTA (message.c); ctx an imap_quota_ctx. */
typedef struct imap_quota_ctx {
    mj_imap_quota_fn fn;
    void *ctx;
} imap_quota_ctx;
mj_outcome imap_quota_hook(mj_imap *s, void *ctx, const mj_imap_response *r);
/* "[APPENDUID v uids]" / "[COPYUID v src dst]" arguments (message.c). */
void imap_parse_uidplus(const char *args, bool copy, mj_imap_uidplus *out);
/* ---- message.c / mailbox.c, shared with condstore.c ---- */

/* Decode one "* n FETCH (...)" and give it to cb->message (cb may be NULL). */
mj_outcome imap_fetch_response(mj_imap *s, const mj_imap_response *r,
                               const mj_imap_fetch_cb *cb) MJ_MUST_CHECK;
/* FETCH / UID FETCH set items [modifier] ("(CHANGEDSINCE n)"; NULL: none). */
mj_outcome imap_fetch(mj_imap *s, bool uid, const char *set, const char *items,
                      const char *modifier, const mj_imap_fetch_cb *cb) MJ_MUST_CHECK;
/* STORE / UID STORE set [modifier] item (flags); modifier "(UNCHANGEDSINCE n)" or NULL. */
mj_outcome imap_store(mj_imap *s, bool uid, const char *set, mj_imap_store_mode mode,
                      const char *flags, bool silent, const char *modifier,
                      const mj_imap_fetch_cb *cb) MJ_MUST_CHECK;
/* SELECT / EXAMINE mailbox [params] ("(CONDSTORE)"...; NULL: none). */
mj_outcome imap_select(mj_imap *s, const char *mailbox, bool read_only, const char *params,
                       mj_imap_mailbox_info *out) MJ_MUST_CHECK;

/* ---- condstore.c ---- */

/* Untagged "VANISHED [(EARLIER)] uid-set" in any state (common table). */
mj_outcome imap_u_vanished(mj_imap *s, const mj_imap_response *r) MJ_MUST_CHECK;
/* Untagged "* n FETCH" outside FETCH / STORE: to s->changes->message. */
mj_outcome imap_u_fetch(mj_imap *s, const mj_imap_response *r) MJ_MUST_CHECK;
/* Untagged "* n EXPUNGE": to s->changes->expunge. */
mj_outcome imap_u_expunged(mj_imap *s, uint32_t seq) MJ_MUST_CHECK;
/* RFC 7162 resp-text-codes of a status response (untagged, or tagged):
   [HIGHESTMODSEQ n] and [NOMODSEQ] on OK, [MODIFIED set] on OK or NO
   (kept in s->modified).  A malformed one is MJ_PROTOCOL_ERROR. */
mj_outcome imap_condstore_code(mj_imap *s, const mj_imap_response *r) MJ_MUST_CHECK;

/*
 * The one answer to a command or argument the server has not advertised
 * (CONDSTORE, QRESYNC, UIDPLUS, SORT, THREAD=alg, BINARY, COMPRESS=DEFLATE,
 * LIST options): MJ_USAGE / MJ_R_BAD_ARGUMENT, "WHAT needs the CAP
 * capability, which the server does not advertise; nothing was sent" (cap
 * escaped).  The caller asked for something this session cannot express,
 * as with any argument the client refuses (scenarios/FORMAT.md).
 */
mj_outcome imap_lacks(mj_imap *s, const char *what, const char *cap);

/* ---- strings.c ---- */

/* MJ_USAGE if text holds CR, LF or NUL or is over MJ_IMAP_ARG_MAX. */
mj_outcome imap_check_arg(mj_imap *s, const char *what, const char *text) MJ_MUST_CHECK;
/* MJ_USAGE unless text is a sequence set (digits, ':', ',', '*', '$'). */
mj_outcome imap_check_set(mj_imap *s, const char *text) MJ_MUST_CHECK;
/*
 * MJ_USAGE unless text is safe raw command text: imap_check_arg, no literal
 * marker "{n}" / "{n+}" / "{n-}" / "~{n}" anywhere (#139), quotes closed,
 * parentheses balanced.
 */
mj_outcome imap_check_raw(mj_imap *s, const char *what, const char *text) MJ_MUST_CHECK;
/* MJ_USAGE unless text is space-separated flags ("\Seen $Label"). */
mj_outcome imap_check_flags(mj_imap *s, const char *text) MJ_MUST_CHECK;

typedef enum imap_str_form { IMAP_STR_ATOM = 0, IMAP_STR_QUOTED, IMAP_STR_LITERAL } imap_str_form;
/* How text[0..len) must go: atom when allowed and every byte an ASTRING-CHAR;
 * quoted when printable ASCII (UTF-8 too with utf8) and short; else literal. */
imap_str_form imap_str_form_of(const char *text, size_t len, bool atom_ok, bool utf8);
/* True if text[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
bool imap_utf8_valid(const char *text, size_t len);

/* ---- criteria.c ---- */

/* Parts of one encoded criteria text: a string part and the raw text after it, each. */
#define IMAP_CRITERIA_PARTS_MAX (2 * MJ_IMAP_CRITERIA_STRINGS_MAX + 1)

/*
 * SEARCH criteria as command parts (mj_imap_search explains the encoding).
 * parts[0] has glue false (the engine puts the SP before it); mem owns the
 * texts.  non_ascii: a string holds bytes >= 0x80; charset: it must be
 * announced as CHARSET UTF-8 (non_ascii on a session that is not UTF-8).
 */
typedef struct imap_criteria {
    imap_part parts[IMAP_CRITERIA_PARTS_MAX];
    size_t n;
    bool non_ascii;
    bool charset;
    char *mem;
} imap_criteria;

/* Check (imap_check_raw, UTF-8) and split criteria; MJ_USAGE with nothing sent. */
mj_outcome imap_criteria_build(mj_imap *s, const char *criteria, imap_criteria *c) MJ_MUST_CHECK;
void imap_criteria_free(imap_criteria *c);
/* After a NO to a SEARCH, SORT or THREAD: [BADCHARSET (...)] gets a message
   naming the charsets the server supports; o (the refusal) is returned. */
mj_outcome imap_criteria_refused(mj_imap *s, imap_cmd cmd, const imap_done *done, mj_outcome o);

/* ---- message.c: ESEARCH (RFC 4731), for SEARCH and ESORT ---- */

/*
 * Whether an ESEARCH response answers the running command (false: its
 * correlator names another tag; ignore it).  *data_out: the return data
 * after the correlator and "UID" (NULL when none); *uid_out: UID was there.
 */
bool imap_esearch_ours(const mj_imap *s, const mj_imap_response *r, const mj_imap_node **data_out,
                       bool *uid_out);
/*
 * ALL's sequence-set checked whole, then each number to fn (may be NULL):
 * low to high, or with in_order each range a:b from a towards b.  A
 * malformed set is MJ_PROTOCOL_ERROR and the session FAILED.
 */
mj_outcome imap_esearch_expand(mj_imap *s, const char *set, bool in_order,
                               mj_outcome (*fn)(void *ctx, uint32_t n), void *ctx) MJ_MUST_CHECK;

#endif
