/*
 * mailjig/imap.h: the IMAP client.
 *
 * RFCs: RFC 3501 (IMAP4rev1) and RFC 9051 (IMAP4rev2), RFC 2595 §3.1
 * (STARTTLS), RFC 4959 (SASL-IR), RFC 7888 (LITERAL+ / LITERAL-), RFC 2971
 * (ID), RFC 5161 (ENABLE), RFC 2342 (NAMESPACE), RFC 5258 (LIST-EXTENDED),
 * RFC 6154 (SPECIAL-USE), RFC 4315 (UIDPLUS), RFC 6851 (MOVE), RFC 2177
 * (IDLE), RFC 4731 (ESEARCH), RFC 9208 (QUOTA), RFC 3691 (UNSELECT),
 * RFC 6855 (UTF8=ACCEPT), RFC 5530 (response codes), RFC 8314 (993),
 * RFC 3502 (MULTIAPPEND), RFC 5256 (SORT, THREAD), RFC 3516 (BINARY),
 * RFC 7162 (CONDSTORE, QRESYNC: MODSEQ, VANISHED), RFC 4315 (UID EXPUNGE),
 * RFC 4978 (COMPRESS=DEFLATE), RFC 5819 (LIST-STATUS).
 *
 * One mj_imap session owns one mj_conn.  Every function that talks to the
 * server returns an mj_outcome and records the error in mj_imap_error(s)
 * (the conn's last error).  After a connection-level failure (connection-
 * lost, timeout, protocol-error, tls-failed) the session is in the FAILED
 * state and every later command is MJ_USAGE without a byte sent: close it.
 *
 * Caller arguments (mailbox names, flags, sets, criteria, ID values) that
 * hold CR, LF or NUL are refused with MJ_USAGE before any byte of the
 * command is sent (SECURITY-CASES #136, #139).  Strings go out as an atom,
 * a quoted string or a literal, whichever is needed (#137); a literal is
 * synchronizing (the client waits for "+") unless LITERAL+ (or LITERAL-
 * for literals up to 4096 bytes) was advertised over the connection as it
 * is now: capabilities learned before STARTTLS are forgotten (#138).
 */
#ifndef MAILJIG_IMAP_H
#define MAILJIG_IMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mailjig/conn.h"
#include "mailjig/error.h"
#include "mailjig/reader.h"
#include "mailjig/sasl.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits -------------------------------------------------------------- */

/* Capability names kept from one CAPABILITY response; more are ignored. */
#define MJ_IMAP_CAPS_MAX 128
/* Longest capability name kept (longer ones are ignored). */
#define MJ_IMAP_CAP_NAME_MAX 64
/* Longest caller string (mailbox, flag list, criteria...) in bytes. */
#define MJ_IMAP_ARG_MAX ((size_t)64 * 1024)
/* Non-ASCII strings one SEARCH / SORT / THREAD criteria text may hold. */
#define MJ_IMAP_CRITERIA_STRINGS_MAX 32
/* Longest mailbox name after modified UTF-7 decoding or encoding. */
#define MJ_IMAP_MAILBOX_MAX 4096
/* Escaped server text kept for the greeting, the last ALERT and BYE. */
#define MJ_IMAP_TEXT_KEEP 512
/* Flags text kept for FLAGS / PERMANENTFLAGS of the selected mailbox. */
#define MJ_IMAP_FLAGS_KEEP 1024
/* Largest LITERAL- literal (RFC 7888 §4). */
#define MJ_IMAP_LITERAL_MINUS_MAX 4096

/* ---- capabilities -------------------------------------------------------- */

typedef enum mj_imap_cap {
    MJ_IMAP_CAP_IMAP4REV1 = 1u << 0,
    MJ_IMAP_CAP_IMAP4REV2 = 1u << 1,
    MJ_IMAP_CAP_STARTTLS = 1u << 2,
    MJ_IMAP_CAP_LOGINDISABLED = 1u << 3,
    MJ_IMAP_CAP_SASL_IR = 1u << 4,
    MJ_IMAP_CAP_LITERAL_PLUS = 1u << 5,
    MJ_IMAP_CAP_LITERAL_MINUS = 1u << 6,
    MJ_IMAP_CAP_IDLE = 1u << 7,
    MJ_IMAP_CAP_NAMESPACE = 1u << 8,
    MJ_IMAP_CAP_ID = 1u << 9,
    MJ_IMAP_CAP_ENABLE = 1u << 10,
    MJ_IMAP_CAP_UIDPLUS = 1u << 11,
    MJ_IMAP_CAP_MOVE = 1u << 12,
    MJ_IMAP_CAP_CONDSTORE = 1u << 13,
    MJ_IMAP_CAP_QRESYNC = 1u << 14,
    MJ_IMAP_CAP_ESEARCH = 1u << 15,
    MJ_IMAP_CAP_LIST_EXTENDED = 1u << 16,
    MJ_IMAP_CAP_SPECIAL_USE = 1u << 17,
    MJ_IMAP_CAP_LIST_STATUS = 1u << 18,
    MJ_IMAP_CAP_UTF8_ACCEPT = 1u << 19,
    MJ_IMAP_CAP_QUOTA = 1u << 20,
    MJ_IMAP_CAP_UNSELECT = 1u << 21,
    MJ_IMAP_CAP_CHILDREN = 1u << 22,
    MJ_IMAP_CAP_BINARY = 1u << 23,
    MJ_IMAP_CAP_COMPRESS_DEFLATE = 1u << 24
} mj_imap_cap;

/* What the server advertised last.  Forgotten after STARTTLS and after
 * authentication (unless the tagged OK carried [CAPABILITY ...]). */
typedef struct mj_imap_caps {
    bool known;
    uint32_t bits;    /* mj_imap_cap */
    mj_sasl_set sasl; /* AUTH=... */
    size_t n_names;
    char names[MJ_IMAP_CAPS_MAX][MJ_IMAP_CAP_NAME_MAX]; /* as sent, escaped */
} mj_imap_caps;

/* ---- sessions -------------------------------------------------------------- */

typedef enum mj_imap_state {
    MJ_IMAP_STATE_GREETING = 0,
    MJ_IMAP_STATE_NOT_AUTHENTICATED,
    MJ_IMAP_STATE_AUTHENTICATED,
    MJ_IMAP_STATE_SELECTED,
    MJ_IMAP_STATE_LOGOUT, /* LOGOUT answered, or BYE: the session is over */
    MJ_IMAP_STATE_FAILED, /* unusable: close it */
    MJ_IMAP_STATE_COUNT
} mj_imap_state;

/* Name of a state ("not-authenticated"); static storage. */
const char *mj_imap_state_name(mj_imap_state state);

/* Session options; zero-initialised is the default. */
typedef struct mj_imap_options {
    mj_sasl_policy policy; /* credential policy (allow_insecure_auth, disabled mechanisms) */
    bool strict;           /* parse strictly (no tolerance of named server quirks) */
    bool no_literal_plus;  /* never send non-synchronizing literals */
    bool utf8;             /* ENABLE UTF8=ACCEPT after login when advertised */
    bool compress;         /* COMPRESS DEFLATE after login when advertised (mj_imap_compress);
                              a server without it, NO or BAD leave the session uncompressed */
} mj_imap_options;

typedef struct mj_imap mj_imap;

/*
 * Connect per cfg, read the greeting (OK, PREAUTH or BYE), ask CAPABILITY
 * unless the greeting carried it, and STARTTLS as mj_starttls_decide says
 * (CAPABILITY again after TLS).  opts may be NULL (copied).  On success
 * *s_out is owned by the caller (mj_imap_close).  Outcomes besides the
 * connection's: MJ_STARTTLS_UNAVAILABLE (STARTTLS required and not offered
 * or refused with NO/BAD, or a PREAUTH greeting on plaintext when TLS is
 * required), MJ_PROTOCOL_ERROR (malformed greeting, '+' to STARTTLS, data
 * after the STARTTLS reply), MJ_SERVER_REFUSED / MJ_SERVER_BUSY (BYE greeting).
 */
mj_outcome mj_imap_connect(const mj_conn_config *cfg, const mj_imap_options *opts,
                           mj_imap **s_out, mj_error *err) MJ_MUST_CHECK;

/* The same over an existing conn (tests).  Takes ownership of c, also on failure. */
mj_outcome mj_imap_start(mj_conn *c, mj_security security, const mj_imap_options *opts,
                         mj_imap **s_out, mj_error *err) MJ_MUST_CHECK;

/*
 * Authenticate (NOT_AUTHENTICATED -> AUTHENTICATED); creds borrowed for the
 * call.  forced != MJ_SASL_NONE: AUTHENTICATE with that mechanism only.
 * Otherwise a SASL mechanism of class challenge or better when advertised,
 * then LOGIN (unless LOGINDISABLED), then AUTHENTICATE PLAIN/LOGIN.  Every
 * cleartext method needs mj_sasl_cleartext_allowed, else MJ_CLEARTEXT_REFUSED
 * with nothing sent.  LOGINDISABLED and no usable mechanism:
 * MJ_AUTH_UNSUPPORTED.  NO maps through the response-code table
 * (mj_imap_code_outcome) with MJ_AUTH_FAILED as the default.  A PREAUTH
 * session is already authenticated: no LOGIN (creds may be NULL), only the
 * post-authentication step below (which sends nothing unless the server
 * offers IMAP4rev2 or opts->utf8 applies).
 */
mj_outcome mj_imap_login(mj_imap *s, const mj_sasl_creds *creds,
                         mj_sasl_mech forced) MJ_MUST_CHECK;
/*
 * After authentication (also on a PREAUTH session, where mj_imap_login sends
 * no LOGIN and creds may be NULL), once per session: when the server offers
 * IMAP4rev2 next to IMAP4rev1, ENABLE IMAP4rev2 (RFC 9051 §6.3.1); it is on
 * only if the server answers * ENABLED IMAP4rev2 (a server offering IMAP4rev2
 * alone is rev2 without ENABLE).  Then the client speaks rev2: mailbox names
 * in UTF-8, SEARCH answered with ESEARCH, no RECENT asked in STATUS.  A
 * refused ENABLE leaves rev1.  mj_imap_rev2 tells which is spoken.
 */
bool mj_imap_rev2(const mj_imap *s);
/* True if the server advertised the capability name (case-insensitive, e.g.
 * "MULTIAPPEND", "THREAD=REFERENCES"); false while capabilities are unknown. */
bool mj_imap_has_capability(const mj_imap *s, const char *name);

/*
 * COMPRESS DEFLATE (RFC 4978), in the authenticated or selected state, when
 * the capabilities (asked for first if unknown) list COMPRESS=DEFLATE.  On
 * the tagged OK both directions are compressed from the next byte
 * (mj_conn_compress; bytes the server sent after its OK are the start of
 * its compressed stream).  Outcomes: MJ_USAGE when compression is already
 * on, and when COMPRESS=DEFLATE is not advertised (nothing sent);
 * MJ_SERVER_REFUSED for NO (e.g. [COMPRESSIONACTIVE]: another
 * layer compresses) or BAD, after which the session goes on uncompressed;
 * the connection's failures otherwise.  Whether it is on:
 * mj_conn_compressed(mj_imap_conn(s)).  STARTTLS cannot follow (it is for
 * the not-authenticated state, and the layer refuses it).
 */
mj_outcome mj_imap_compress(mj_imap *s) MJ_MUST_CHECK;

/* CAPABILITY (forgets the old list first). */
mj_outcome mj_imap_capability(mj_imap *s) MJ_MUST_CHECK;
/* NOOP: untagged updates arrive in the session's mailbox state. */
mj_outcome mj_imap_noop(mj_imap *s) MJ_MUST_CHECK;
/* LOGOUT: BYE then tagged OK (either alone, or EOF after BYE, is accepted). */
mj_outcome mj_imap_logout(mj_imap *s) MJ_MUST_CHECK;

/*
 * ID (RFC 2971): n pairs of field/value strings (fields and values each
 * checked and quoted), n == 0 sends NIL.  Server's answer is ignored.
 */
mj_outcome mj_imap_id(mj_imap *s, const char *const *fields, const char *const *values,
                      size_t n) MJ_MUST_CHECK;
/*
 * ENABLE (RFC 5161) the n capability names (atoms only).  *enabled_out (may
 * be NULL) gets the mj_imap_cap bits of those the server ENABLED.
 */
mj_outcome mj_imap_enable(mj_imap *s, const char *const *names, size_t n,
                          uint32_t *enabled_out) MJ_MUST_CHECK;

/* NAMESPACE (RFC 2342): the first namespace of each kind. */
typedef struct mj_imap_namespace_entry {
    bool present;
    char prefix[MJ_IMAP_MAILBOX_MAX]; /* UTF-8 */
    char delimiter;                   /* '\0' for NIL */
} mj_imap_namespace_entry;
typedef struct mj_imap_namespaces {
    mj_imap_namespace_entry personal, other, shared;
} mj_imap_namespaces;
mj_outcome mj_imap_namespace(mj_imap *s, mj_imap_namespaces *out) MJ_MUST_CHECK;

/* ---- mailboxes --------------------------------------------------------------- */

/* STATUS data items (RFC 9051 §6.3.11, RFC 7162 HIGHESTMODSEQ, RFC 8438 SIZE). */
typedef enum mj_imap_status_item {
    MJ_IMAP_STATUS_MESSAGES = 1u << 0,
    MJ_IMAP_STATUS_RECENT = 1u << 1,        /* IMAP4rev1 only (RFC 9051 removed it) */
    MJ_IMAP_STATUS_UIDNEXT = 1u << 2,
    MJ_IMAP_STATUS_UIDVALIDITY = 1u << 3,
    MJ_IMAP_STATUS_UNSEEN = 1u << 4,
    MJ_IMAP_STATUS_HIGHESTMODSEQ = 1u << 5, /* needs CONDSTORE */
    MJ_IMAP_STATUS_SIZE = 1u << 6,          /* needs STATUS=SIZE or IMAP4rev2 */
    MJ_IMAP_STATUS_DELETED = 1u << 7        /* needs IMAP4rev2 */
} mj_imap_status_item;

/* The STATUS values of one mailbox; -1 where the server said nothing. */
typedef struct mj_imap_status_values {
    int64_t messages, recent, uidnext, uidvalidity, unseen, highestmodseq, size, deleted;
} mj_imap_status_values;

/* One LIST / LSUB entry, valid during the callback only. */
typedef struct mj_imap_list_entry {
    const char *name;       /* UTF-8 (decoded from modified UTF-7 unless UTF8=ACCEPT) */
    char delimiter;         /* '\0' for NIL */
    size_t n_attributes;
    const char *const *attributes; /* "\HasNoChildren", "\Sent" ... as sent */
    /* LIST-STATUS (RFC 5819): the untagged STATUS the server sent right after
       this mailbox's LIST response; has_status false when none came (RFC
       5819 §2: none for \NoSelect or \NonExistent mailboxes) */
    bool has_status;
    mj_imap_status_values status;
    /* CHILDINFO extended data (RFC 5258 §4): "SUBSCRIBED" ... as sent */
    size_t n_childinfo;
    const char *const *childinfo;
} mj_imap_list_entry;
/* Returning non-MJ_OK stops the callbacks (the response is still read) and is returned. */
typedef mj_outcome (*mj_imap_list_fn)(void *ctx, const mj_imap_list_entry *entry);

/*
 * LIST reference pattern (UTF-8; encoded to modified UTF-7 unless UTF8=ACCEPT
 * is enabled).  With SPECIAL-USE advertised, asks RETURN (SPECIAL-USE) when
 * the server also has LIST-EXTENDED.  lsub: LSUB instead.
 */
mj_outcome mj_imap_list(mj_imap *s, const char *reference, const char *pattern, bool lsub,
                        mj_imap_list_fn fn, void *ctx) MJ_MUST_CHECK;

/* LIST-EXTENDED selection options (RFC 5258 §3.1, RFC 6154 §5.2). */
typedef enum mj_imap_list_select {
    MJ_IMAP_LIST_SEL_SUBSCRIBED = 1u << 0,
    MJ_IMAP_LIST_SEL_REMOTE = 1u << 1,
    MJ_IMAP_LIST_SEL_RECURSIVEMATCH = 1u << 2, /* never alone, nor with REMOTE only */
    MJ_IMAP_LIST_SEL_SPECIAL_USE = 1u << 3
} mj_imap_list_select;

/* LIST-EXTENDED return options (RFC 5258 §3.2, RFC 6154 §5.1); STATUS is separate. */
typedef enum mj_imap_list_return {
    MJ_IMAP_LIST_RET_SUBSCRIBED = 1u << 0,
    MJ_IMAP_LIST_RET_CHILDREN = 1u << 1,
    MJ_IMAP_LIST_RET_SPECIAL_USE = 1u << 2
} mj_imap_list_return;

/* What mj_imap_list_ex asks; zero-initialised: a plain LIST. */
typedef struct mj_imap_list_options {
    unsigned select; /* mj_imap_list_select bits: LIST (...) before the reference */
    unsigned ret;    /* mj_imap_list_return bits: RETURN (...) */
    unsigned status; /* mj_imap_status_item bits: RETURN (... STATUS (...)) (RFC 5819) */
} mj_imap_list_options;

/*
 * LIST with LIST-EXTENDED options; opts may be NULL (a plain LIST, no RETURN).
 * Exactly what opts names is sent, each option only where the server offers
 * it: SUBSCRIBED, REMOTE, RECURSIVEMATCH and the CHILDREN and SUBSCRIBED
 * return options need LIST-EXTENDED; SPECIAL-USE (selection or return)
 * SPECIAL-USE and LIST-EXTENDED; STATUS LIST-STATUS, and each status item its
 * own capability (mj_imap_status_item); IMAP4rev2 has them all but RECENT.
 * Asked but not offered: MJ_USAGE naming the capability, nothing sent (the
 * rule of scenarios/FORMAT.md for arguments that need a capability).
 * RECURSIVEMATCH without SUBSCRIBED or SPECIAL-USE: MJ_USAGE (RFC 5258 §3.1).
 * Each entry reaches fn once the response after it was read, so that the
 * untagged STATUS sent right after its LIST (RFC 5819 §2) comes with it; a
 * STATUS naming another mailbox is checked and ignored.  A malformed STATUS
 * (not a list of item-value pairs, a known item without a number) or
 * malformed extended data (an odd list, CHILDINFO not a list of strings) is
 * MJ_PROTOCOL_ERROR / MJ_R_MALFORMED and the session FAILS.
 */
mj_outcome mj_imap_list_ex(mj_imap *s, const char *reference, const char *pattern,
                           const mj_imap_list_options *opts, mj_imap_list_fn fn,
                           void *ctx) MJ_MUST_CHECK;

/* What SELECT / EXAMINE / STATUS report; -1 where the server said nothing. */
typedef struct mj_imap_mailbox_info {
    int64_t exists, recent, unseen, uidvalidity, uidnext, highestmodseq;
    bool read_only;
    bool nomodseq;            /* [NOMODSEQ]: the mailbox keeps no mod-sequences (RFC 7162 3.1.2.2) */
    bool uidvalidity_changed; /* SELECT QRESYNC: the server's UIDVALIDITY is not the caller's,
                                 so it ignored the QRESYNC data (RFC 7162 3.2.5) */
    char flags[MJ_IMAP_FLAGS_KEEP];          /* "\Answered \Seen ..." (escaped) */
    char permanentflags[MJ_IMAP_FLAGS_KEEP]; /* "" when not sent */
} mj_imap_mailbox_info;

/* SELECT, or EXAMINE when read_only.  *out (may be NULL) gets the state. */
mj_outcome mj_imap_select(mj_imap *s, const char *mailbox, bool read_only,
                          mj_imap_mailbox_info *out) MJ_MUST_CHECK;
/* STATUS mailbox (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN); exists = MESSAGES. */
mj_outcome mj_imap_mailbox_status(mj_imap *s, const char *mailbox,
                          mj_imap_mailbox_info *out) MJ_MUST_CHECK;
/* The selected mailbox's state as updated by untagged data; NULL if none. */
const mj_imap_mailbox_info *mj_imap_selected(const mj_imap *s);

typedef enum mj_imap_mailbox_cmd {
    MJ_IMAP_CREATE = 0,
    MJ_IMAP_DELETE,
    MJ_IMAP_SUBSCRIBE,
    MJ_IMAP_UNSUBSCRIBE
} mj_imap_mailbox_cmd;
/* CREATE / DELETE / SUBSCRIBE / UNSUBSCRIBE mailbox. */
mj_outcome mj_imap_mailbox(mj_imap *s, mj_imap_mailbox_cmd cmd, const char *mailbox) MJ_MUST_CHECK;
mj_outcome mj_imap_rename(mj_imap *s, const char *from, const char *to) MJ_MUST_CHECK;

typedef enum mj_imap_selected_cmd {
    MJ_IMAP_CLOSE = 0, /* CLOSE: expunge and leave */
    MJ_IMAP_UNSELECT,  /* leave without expunging (RFC 3691) */
    MJ_IMAP_EXPUNGE,
    MJ_IMAP_CHECK
} mj_imap_selected_cmd;
mj_outcome mj_imap_selected_command(mj_imap *s, mj_imap_selected_cmd cmd) MJ_MUST_CHECK;

/* ---- messages ------------------------------------------------------------------ */

/*
 * ENVELOPE and BODYSTRUCTURE decoded (RFC 9051 §7.5.2 and §9; RFC 3501
 * §7.4.2).  Every string is as the server sent it, NUL-terminated, NULL for
 * NIL: the library does NOT decode RFC 2047 encoded-words ("=?UTF-8?Q?...?=")
 * nor RFC 2231 parameter continuations; that is the caller's choice.  Every
 * pointer (structures and strings) lives in the session: the structures in a
 * decoder arena the session owns and resets at the next FETCH response, the
 * strings in the parser's tree of the current response.  They are valid
 * during the mj_imap_fetch_cb.message call only: copy what must outlive it.
 */

/* Limits of the decoder; each exceeded is MJ_PROTOCOL_ERROR naming it. */
/* Body parts in one BODYSTRUCTURE (every node: multiparts, messages, leaves). */
#define MJ_IMAP_BODY_PARTS_MAX 1000
/* Multipart / message/rfc822 nesting in one BODYSTRUCTURE (the root is depth 1). */
#define MJ_IMAP_BODY_DEPTH_MAX 32
/* Addresses (group markers included) in one ENVELOPE field. */
#define MJ_IMAP_ENVELOPE_ADDRESSES_MAX 1000
/* Name/value pairs in one body-fld-param list. */
#define MJ_IMAP_BODY_PARAMS_MAX 256
/* Tags in one body-fld-lang list. */
#define MJ_IMAP_BODY_LANGUAGES_MAX 64

/*
 * An address (RFC 9051 "address").  RFC 5322 group syntax is carried by
 * markers (RFC 9051 §7.5.2): host NIL and mailbox non-NIL starts group
 * "mailbox"; host NIL and mailbox NIL ends the group.  kind says which.
 */
typedef enum mj_imap_address_kind {
    MJ_IMAP_ADDR_MAILBOX = 0, /* an ordinary address */
    MJ_IMAP_ADDR_GROUP_START, /* mailbox is the group's name */
    MJ_IMAP_ADDR_GROUP_END
} mj_imap_address_kind;

typedef struct mj_imap_address {
    mj_imap_address_kind kind;
    const char *name;    /* display name (addr-name), NULL for NIL */
    const char *adl;     /* source route (addr-adl), almost always NULL */
    const char *mailbox; /* local part, or the group name */
    const char *host;    /* domain; NULL for group markers */
} mj_imap_address;

/* An ENVELOPE address field: NIL is count 0, items NULL. */
typedef struct mj_imap_addresses {
    const mj_imap_address *items;
    size_t count;
} mj_imap_addresses;

/* ENVELOPE: the parsed header fields, each NULL (or count 0) for NIL. */
typedef struct mj_imap_envelope {
    const char *date;    /* Date: as sent (not parsed) */
    const char *subject; /* Subject: raw (encoded-words kept) */
    mj_imap_addresses from, sender, reply_to, to, cc, bcc;
    const char *in_reply_to;
    const char *message_id;
} mj_imap_envelope;

/* One body-fld-param pair ("CHARSET" "utf-8"); value NULL only when a
   tolerated server sent NIL for it. */
typedef struct mj_imap_param {
    const char *name;
    const char *value;
} mj_imap_param;

typedef enum mj_imap_body_kind {
    MJ_IMAP_BODY_BASIC = 0, /* body-type-basic: any non-text leaf */
    MJ_IMAP_BODY_TEXT,      /* body-type-text: TEXT/x, has lines */
    MJ_IMAP_BODY_MESSAGE,   /* body-type-msg: MESSAGE/RFC822 or GLOBAL, has envelope + body + lines */
    MJ_IMAP_BODY_MULTIPART  /* body-type-mpart: parts + subtype */
} mj_imap_body_kind;

/*
 * One node of a BODYSTRUCTURE (or BODY) tree.  Fields not meaningful for a
 * kind are zero / NULL.  The has_* flags say what the server sent: BODY
 * (non-extensible) has no extension data, BODYSTRUCTURE has some or all of
 * it (extension fields come in order; each may be absent from the end on).
 */
typedef struct mj_imap_body {
    mj_imap_body_kind kind;
    const char *part;    /* section number for BODY[part] ("1.2"); "" for a root
                            multipart; a message's multipart body has the message's number */
    const char *type;    /* as sent ("TEXT", "text"); "MULTIPART" (static) for multiparts;
                            NULL only if a tolerated server sent NIL */
    const char *subtype; /* as sent ("PLAIN", "ALTERNATIVE"); NULL as type */
    const mj_imap_param *params; /* body-fld-param (for multiparts: extension data) */
    size_t n_params;
    /* body-fields (leaves) */
    const char *id;          /* Content-ID */
    const char *description; /* Content-Description */
    const char *encoding;    /* Content-Transfer-Encoding as sent; NULL only if tolerated NIL */
    bool has_size;
    uint64_t size;           /* body-fld-octets: octets of the encoded part */
    bool has_lines;
    uint64_t lines;          /* body-fld-lines (TEXT and MESSAGE; number64) */
    const mj_imap_envelope *envelope;   /* MESSAGE only */
    const struct mj_imap_body *message; /* MESSAGE only: the inner body */
    /* MULTIPART */
    const struct mj_imap_body *parts;   /* array of n_parts children */
    size_t n_parts;
    /* extension data (BODYSTRUCTURE) */
    bool has_md5;         /* leaves: body-fld-md5 sent (md5 NULL for NIL) */
    const char *md5;
    bool has_disposition; /* body-fld-dsp sent (disposition NULL for NIL) */
    const char *disposition; /* "attachment", "inline" as sent */
    const mj_imap_param *disposition_params;
    size_t n_disposition_params;
    bool has_language;    /* body-fld-lang sent (n_languages 0 for NIL) */
    const char *const *languages;
    size_t n_languages;
    bool has_location;    /* body-fld-loc sent (location NULL for NIL) */
    const char *location;
} mj_imap_body;

/* One FETCH response's decoded items, valid during the callback only. */
typedef struct mj_imap_message {
    uint32_t seq;
    bool has_uid;
    uint32_t uid;
    bool has_flags;
    size_t n_flags;
    const char *const *flags;
    bool has_size;
    uint64_t size;          /* RFC822.SIZE */
    const char *internaldate; /* NULL if absent */
    bool has_modseq;
    uint64_t modseq;
    bool has_envelope;      /* ENVELOPE present and well formed (envelope != NULL) */
    const char *subject;    /* ENVELOPE subject, NULL if NIL or absent (raw) */
    bool has_bodystructure; /* BODYSTRUCTURE (or BODY) present and well formed (body != NULL) */
    const mj_imap_envelope *envelope; /* decoded ENVELOPE, NULL if absent */
    const mj_imap_body *body;         /* decoded BODYSTRUCTURE or BODY, NULL if absent */
    uint64_t body_bytes;    /* bytes of every BODY[...] / BINARY[...] item */
    bool has_binary_size;   /* BINARY.SIZE[section] present (RFC 3516) */
    uint64_t binary_size;   /* its value (the last one if several) */
} mj_imap_message;

/*
 * FETCH callbacks.  body gets the bytes of each BODY[section] item as they
 * arrive (streamed literals in chunks; small ones in one piece), section is
 * the item name as sent ("BODY[]", "BODY[HEADER]<0>").  message is called
 * once the whole FETCH response for seq was read, with ENVELOPE and
 * BODYSTRUCTURE / BODY decoded (m->envelope, m->body: valid during the call
 * only).  Either may be NULL.  Returning non-MJ_OK fails the command
 * (MJ_INTERNAL from body: the session is then FAILED, the rest of the
 * literal being unread).  A malformed ENVELOPE or BODYSTRUCTURE, or one over
 * the MJ_IMAP_BODY_* / MJ_IMAP_ENVELOPE_* limits, is MJ_PROTOCOL_ERROR
 * naming the item, the message, the part and the field, and the session is
 * FAILED.  Unless mj_imap_options.strict, the quirks of real servers listed
 * in imap/bodystructure.h (NIL for a required string, sizes as strings,
 * missing line counts, empty multiparts, Domino's extra parentheses around
 * a FETCH item...) are accepted.
 */
typedef struct mj_imap_fetch_cb {
    mj_outcome (*body)(void *ctx, uint32_t seq, const char *section, const unsigned char *data,
                       size_t len);
    mj_outcome (*message)(void *ctx, const mj_imap_message *m);
    void *ctx;
} mj_imap_fetch_cb;

/*
 * FETCH / UID FETCH set items.  set: a sequence set (digits, ':', ',', '*');
 * items: the caller's fetch items, e.g. "(FLAGS UID BODY.PEEK[])" or "ALL"
 * (validated: no CR/LF/NUL, no literal marker, balanced parentheses).
 * BINARY[section]<partial>, BINARY.PEEK[...] and BINARY.SIZE[...] (RFC 3516)
 * need the BINARY capability, else MJ_USAGE with nothing sent; their
 * bytes (literal8 "~{n}" included) reach cb->body like BODY[] ones.  A NO
 * [UNKNOWN-CTE] (the server cannot decode the part) is MJ_SERVER_REFUSED
 * with a message saying so.
 */
mj_outcome mj_imap_fetch(mj_imap *s, bool uid, const char *set, const char *items,
                         const mj_imap_fetch_cb *cb) MJ_MUST_CHECK;

/*
 * SEARCH / UID SEARCH criteria (validated as items).  fn gets each number;
 * with ESEARCH advertised, asks RETURN (ALL) and expands the set.
 * criteria is UTF-8 text as a person writes it ("SUBJECT \"Grüße\" FROM x"):
 * it is split into atoms, quoted strings and parentheses, and every quoted
 * string (or bare word) holding bytes >= 0x80 is sent as a string of its
 * own: on an IMAP4rev1 session as a literal (synchronizing unless LITERAL+
 * or LITERAL- allows it) after "CHARSET UTF-8" (RFC 3501 §6.4.4); once
 * UTF8=ACCEPT is enabled or IMAP4rev2 spoken, as a UTF-8 quoted string and
 * without CHARSET (RFC 6855 §3, RFC 9051).  ASCII criteria go as written.
 * Invalid UTF-8, or more than MJ_IMAP_CRITERIA_STRINGS_MAX such strings:
 * MJ_USAGE before a byte is sent.  NO [BADCHARSET (...)]: MJ_SERVER_REFUSED
 * with a message listing the charsets the server named.
 */
mj_outcome mj_imap_search(mj_imap *s, bool uid, const char *criteria,
                          mj_outcome (*fn)(void *ctx, uint32_t n), void *ctx) MJ_MUST_CHECK;

typedef enum mj_imap_store_mode { MJ_IMAP_STORE_ADD = 0, MJ_IMAP_STORE_REMOVE, MJ_IMAP_STORE_REPLACE } mj_imap_store_mode;
/*
 * STORE / UID STORE set +FLAGS / -FLAGS / FLAGS [.SILENT] (flags: flag
 * atoms separated by spaces, e.g. "\Seen $Label").  The FETCH responses go
 * to cb->message (cb may be NULL).
 */
mj_outcome mj_imap_store(mj_imap *s, bool uid, const char *set, mj_imap_store_mode mode,
                         const char *flags, bool silent, const mj_imap_fetch_cb *cb) MJ_MUST_CHECK;

/* COPYUID / APPENDUID (RFC 4315): uid sets kept as sent (escaped). */
typedef struct mj_imap_uidplus {
    bool present;
    uint32_t uidvalidity;
    char source[256]; /* COPYUID only */
    char dest[256];
} mj_imap_uidplus;

/* COPY / MOVE (RFC 6851) and UID variants.  MOVE needs the MOVE capability (or IMAP4rev2):
 * without it MJ_USAGE, nothing sent (unless the capabilities are unknown). */
mj_outcome mj_imap_copy(mj_imap *s, bool uid, bool move, const char *set, const char *mailbox,
                        mj_imap_uidplus *copyuid_out) MJ_MUST_CHECK;

/*
 * APPEND mailbox [(flags)] {size} then the message read from source (an
 * mj_source-style callback: fill buf with up to cap bytes, *len_out = 0 at
 * the end; the total must equal size, else MJ_USAGE and the session FAILS
 * since the literal cannot be completed).  flags may be NULL.  One message
 * of mj_imap_append_many without a date, not binary (its rules apply).
 */
typedef mj_outcome (*mj_imap_read_fn)(void *ctx, unsigned char *buf, size_t cap,
                                      size_t *len_out, mj_error *err);
mj_outcome mj_imap_append(mj_imap *s, const char *mailbox, const char *flags, uint64_t size,
                          mj_imap_read_fn read, void *ctx,
                          mj_imap_uidplus *appenduid_out) MJ_MUST_CHECK;

/*
 * IDLE (RFC 2177) until seconds pass or, with until_event, the first
 * untagged EXISTS / EXPUNGE / FETCH / VANISHED; then DONE.  *events_out (may be NULL)
 * counts the untagged responses received while idling.
 */
mj_outcome mj_imap_idle(mj_imap *s, unsigned seconds, bool until_event,
                        unsigned *events_out) MJ_MUST_CHECK;

/* One QUOTA resource (RFC 9208), valid during the callback. */
typedef mj_outcome (*mj_imap_quota_fn)(void *ctx, const char *root, const char *resource,
                                       uint64_t usage, uint64_t limit);
/* GETQUOTAROOT mailbox. */
mj_outcome mj_imap_quota(mj_imap *s, const char *mailbox, mj_imap_quota_fn fn,
                         void *ctx) MJ_MUST_CHECK;

/* GETQUOTA root (RFC 9208 §4.2): the resources of one quota root ("" allowed). */
mj_outcome mj_imap_getquota(mj_imap *s, const char *root, mj_imap_quota_fn fn,
                            void *ctx) MJ_MUST_CHECK;

/* ---- MULTIAPPEND, SORT, THREAD (ext.c) ------------------------------------------- */

/* Messages one mj_imap_append_many call may carry. */
#define MJ_IMAP_APPEND_MAX 64
/* Logical depth of one THREAD tree (a reply chain of this many messages). */
#define MJ_IMAP_THREAD_DEPTH_MAX 1000u
/* Messages (and missing parents) of one THREAD response. */
#define MJ_IMAP_THREAD_NODES_MAX ((size_t)100 * 1000)

/* One message of mj_imap_append_many; every pointer borrowed for the call. */
typedef struct mj_imap_append_msg {
    const char *flags; /* "\Seen $Label" or NULL */
    const char *date;  /* internal date "17-Jul-1996 02:44:25 -0700" (RFC 9051 date-time,
                          day " 7" or "07") or NULL */
    uint64_t size;     /* exact bytes read() will give */
    mj_imap_read_fn read;
    void *ctx;
    bool binary;       /* holds NUL bytes: sent as a literal8 "~{size}" (RFC 3516 §4.2),
                          which needs BINARY advertised */
} mj_imap_append_msg;

/*
 * APPEND n messages (1..MJ_IMAP_APPEND_MAX) to mailbox, each with its own
 * flags and date.  With MULTIAPPEND advertised (RFC 3502): ONE command
 * carrying every literal, all-or-nothing (a NO appends none).  Without: one
 * APPEND per message, stopping at the first refusal.  *appended_out (may be
 * NULL) gets how many messages the server accepted.  *appenduid_out (may be
 * NULL): APPENDUID's uid set (dest) when every reply carried one with the
 * same UIDVALIDITY.  Every flags and date is checked before a byte is sent
 * (MJ_USAGE).  A source that fails or gives a size other than announced
 * cannot end its literal: the session is FAILED (as mj_imap_append).
 * A message with NUL bytes must say so (binary): a literal may not hold NUL
 * (RFC 9051 CHAR8), a literal8 may.  binary without BINARY advertised is
 * MJ_USAGE, nothing sent; a NUL met in a message not marked binary stops the
 * APPEND there (MJ_USAGE naming the offset; the session is FAILED, since the
 * literal cannot be finished).
 */
mj_outcome mj_imap_append_many(mj_imap *s, const char *mailbox, const mj_imap_append_msg *msgs,
                               size_t n, size_t *appended_out,
                               mj_imap_uidplus *appenduid_out) MJ_MUST_CHECK;

/*
 * SORT / UID SORT (RFC 5256 §3) where SORT is advertised (else
 * MJ_USAGE, nothing sent).  criteria: sort keys separated by
 * spaces, each ARRIVAL CC DATE FROM SIZE SUBJECT TO DISPLAYFROM DISPLAYTO,
 * optionally preceded by REVERSE (MJ_USAGE otherwise); charset NULL means
 * "UTF-8"; search NULL means "ALL" (encoded as mj_imap_search's criteria;
 * with non-ASCII text charset must be NULL or "UTF-8", else MJ_USAGE; NO
 * [BADCHARSET] as there).  fn gets
 * each number of "* SORT" in order; a number over 32 bits or a non-number
 * is MJ_PROTOCOL_ERROR.
 */
mj_outcome mj_imap_sort(mj_imap *s, bool uid, const char *criteria, const char *charset,
                        const char *search, mj_outcome (*fn)(void *ctx, uint32_t n),
                        void *ctx) MJ_MUST_CHECK;

/* What an ESORT answer held (RFC 5267 §3.2); has_* says which data came. */
typedef struct mj_imap_esort_result {
    bool present;   /* an ESEARCH answer for this command came */
    bool uid;       /* it said UID: the numbers are UIDs */
    bool has_min, has_max, has_count;
    uint32_t min;   /* as the server sent them: Dovecot the first and last in sort */
    uint32_t max;   /* order, Cyrus the numerically lowest and highest match */
    uint32_t count;
} mj_imap_esort_result;

/*
 * SORT / UID SORT RETURN (ret) (criteria) charset search: ESORT (RFC 5267
 * §3), where ESORT is advertised (else MJ_USAGE, nothing sent).  ret: MIN,
 * MAX, COUNT, ALL, each at most once, one space apart ("" is RETURN (), which
 * means ALL: RFC 4731 §3.1); criteria, charset and search as mj_imap_sort.
 * The answer is one ESEARCH response carrying this command's tag: *out (may
 * be NULL) gets MIN, MAX and COUNT; fn gets each number of ALL in the order
 * sent (a range a:b counts from a towards b), once the whole response has
 * been checked.  An ESEARCH for another tag is ignored; a malformed one is
 * MJ_PROTOCOL_ERROR.  out->present stays false when the server sent none
 * (no match, and nothing asked that would say so).
 */
mj_outcome mj_imap_esort(mj_imap *s, bool uid, const char *ret, const char *criteria,
                         const char *charset, const char *search, mj_imap_esort_result *out,
                         mj_outcome (*fn)(void *ctx, uint32_t n), void *ctx) MJ_MUST_CHECK;

/*
 * One node of a THREAD result, in pre-order: depth 0 starts a new thread, a
 * node at depth d+1 is a child of the last node at depth d.  number 0 is a
 * missing parent (RFC 5256 "((3)(5))": 3 and 5 are siblings under nobody).
 */
typedef mj_outcome (*mj_imap_thread_fn)(void *ctx, uint32_t number, unsigned depth);

/*
 * THREAD / UID THREAD algorithm (RFC 5256 §4) where THREAD=algorithm is
 * advertised (else MJ_USAGE, nothing sent); algorithm an atom
 * ("REFERENCES", "ORDEREDSUBJECT"), charset and search as mj_imap_sort.  A
 * malformed "* THREAD" (not a list of thread-lists, a number that is 0 or
 * over 32 bits, a member after a nested list, an empty list) is
 * MJ_PROTOCOL_ERROR / MJ_R_MALFORMED; deeper than MJ_IMAP_THREAD_DEPTH_MAX
 * MJ_R_NESTING_TOO_DEEP; more than MJ_IMAP_THREAD_NODES_MAX nodes
 * MJ_R_TOO_MANY_TOKENS.  Nothing reaches fn from a malformed response.
 */
mj_outcome mj_imap_thread(mj_imap *s, bool uid, const char *algorithm, const char *charset,
                          const char *search, mj_imap_thread_fn fn, void *ctx) MJ_MUST_CHECK;
/* ---- CONDSTORE, QRESYNC, UID EXPUNGE (RFC 7162, RFC 4315) ---------------------------- */

/*
 * What these functions do when the server lacks the capability they need
 * (CONDSTORE, QRESYNC, UIDPLUS): MJ_USAGE / MJ_R_BAD_ARGUMENT with a message
 * naming the capability, and nothing sent -- the caller asked for something
 * this session cannot express, as with any other argument the client
 * refuses.  Mod-sequences are 63-bit (RFC 7162 mod-sequence-value): a value
 * over 2^63-1 from the caller is MJ_USAGE, from the server MJ_PROTOCOL_ERROR /
 * MJ_R_NUMBER_OVERFLOW (the session is then FAILED).
 *
 * UID sets from the server (VANISHED, MODIFIED) are validated (uniqueid =
 * nz-number of 32 bits, ranges a:b in either order, ',' between, no '*')
 * and handed over as the text sent plus the count of distinct UIDs it covers
 * (overlapping ranges count once); they
 * are never expanded into memory, so "1:4294967295" costs nothing.  Walk one
 * with mj_imap_uid_set_next.
 */

/* The capability bits ENABLEd on this session (RFC 5161 ENABLED, QRESYNC
 * implying CONDSTORE), plus CONDSTORE once a CONDSTORE-enabling command
 * (SELECT (CONDSTORE), FETCH CHANGEDSINCE, STORE UNCHANGEDSINCE) succeeded. */
uint32_t mj_imap_enabled(const mj_imap *s);

/*
 * ENABLE CONDSTORE, or ENABLE QRESYNC (which implies CONDSTORE) when qresync.
 * Needs the capability advertised (else MJ_USAGE, nothing sent); already
 * enabled: MJ_OK without a byte.  An OK without the name in * ENABLED is
 * MJ_SERVER_REFUSED.  RFC 5161: only before a mailbox is selected (in the
 * selected state: MJ_USAGE).
 */
mj_outcome mj_imap_enable_condstore(mj_imap *s, bool qresync) MJ_MUST_CHECK;

/*
 * Unsolicited changes, reported while set, whatever command runs (NOOP,
 * IDLE, SELECT, EXPUNGE, UID EXPUNGE, FETCH ... VANISHED).  Each may be NULL.
 *  vanished: one VANISHED response; earlier: "(EARLIER)" (QRESYNC SELECT or
 *    UID FETCH VANISHED; not counted against exists).  A plain VANISHED
 *    lowers the selected mailbox's exists by count (never below 0).
 *    uid_set is valid during the call only.
 *  expunge: one "* n EXPUNGE" (exists already lowered).
 *  message: one "* n FETCH" outside FETCH and STORE (those report to their
 *    own callbacks): the flag changes of SELECT QRESYNC, NOOP, IDLE.
 * Returning non-MJ_OK fails the command with that outcome (the responses are
 * still read to the tagged reply).  cb is borrowed: it must outlive its use;
 * NULL stops the reports.
 */
typedef struct mj_imap_changes_cb {
    mj_outcome (*vanished)(void *ctx, bool earlier, const char *uid_set, uint64_t count);
    mj_outcome (*expunge)(void *ctx, uint32_t seq);
    mj_outcome (*message)(void *ctx, const mj_imap_message *m);
    void *ctx;
} mj_imap_changes_cb;
void mj_imap_set_changes(mj_imap *s, const mj_imap_changes_cb *cb);

/*
 * Walk a uid set validated by the library (VANISHED, MODIFIED): *pos starts
 * at 0; each call gives one range (*first <= *last) and returns true, false
 * at the end or on text that is not a uid set.  Never allocates.
 */
bool mj_imap_uid_set_next(const char *set, size_t *pos, uint32_t *first, uint32_t *last);

/* SELECT / EXAMINE parameters (RFC 7162 3.1.8, 3.2.5); zero-initialised: none. */
typedef struct mj_imap_select_params {
    bool condstore;         /* "(CONDSTORE)": needs CONDSTORE */
    bool qresync;           /* "(QRESYNC (uidvalidity modseq [known-uids [seq-match]]))":
                               needs QRESYNC; ENABLE QRESYNC is sent first when not yet
                               enabled (authenticated state only) */
    uint32_t uidvalidity;   /* QRESYNC: the caller's cached UIDVALIDITY (nz) */
    uint64_t modseq;        /* QRESYNC: the last HIGHESTMODSEQ it saw (1 .. 2^63-1) */
    const char *known_uids; /* QRESYNC: NULL, or the UIDs it knows (uid set, no '*') */
    const char *seq_match;  /* QRESYNC: NULL, or with known_uids and uid_match: message */
    const char *uid_match;  /*   numbers and their UIDs, "(seq_match uid_match)" */
} mj_imap_select_params;

/*
 * SELECT / EXAMINE with parameters (p may be NULL: mj_imap_select).  The
 * VANISHED (EARLIER) set and the FETCH (UID FLAGS MODSEQ) changes the server
 * sends go to the changes callbacks (mj_imap_set_changes).  *out (may be
 * NULL) gets the state, with highestmodseq / nomodseq and, for QRESYNC,
 * uidvalidity_changed when the server's UIDVALIDITY differs from
 * p->uidvalidity (it then ignores the QRESYNC data: the cache is void).
 */
mj_outcome mj_imap_select_ex(mj_imap *s, const char *mailbox, bool read_only,
                             const mj_imap_select_params *p,
                             mj_imap_mailbox_info *out) MJ_MUST_CHECK;

/*
 * FETCH / UID FETCH set items (CHANGEDSINCE changedsince [VANISHED])
 * (RFC 7162 3.1.4.1, 3.2.6).  Needs CONDSTORE; changedsince 1 .. 2^63-1.
 * vanished: needs uid and QRESYNC enabled (mj_imap_enable_condstore before
 * SELECT), else MJ_USAGE; the VANISHED (EARLIER) responses go to the changes
 * callbacks, the FETCH responses to cb as mj_imap_fetch.
 */
mj_outcome mj_imap_fetch_changed(mj_imap *s, bool uid, const char *set, const char *items,
                                 uint64_t changedsince, bool vanished,
                                 const mj_imap_fetch_cb *cb) MJ_MUST_CHECK;

/*
 * STORE / UID STORE set (UNCHANGEDSINCE unchangedsince) ... (RFC 7162
 * 3.1.3): mj_imap_store with the condition; needs CONDSTORE;
 * unchangedsince 0 .. 2^63-1.  A tagged OK or NO carrying [MODIFIED set] is
 * the conditional store's partial success and returns MJ_OK: the messages
 * of the set (numbers for STORE, UIDs for UID STORE) were NOT changed, the
 * others were (after a NO [MODIFIED], re-fetch to be sure).  *modified_out
 * (may be NULL) is that set, owned by s and valid until the next command,
 * or NULL when every message passed the test.  A NO without MODIFIED is
 * refused as usual.
 */
mj_outcome mj_imap_store_unchanged(mj_imap *s, bool uid, const char *set,
                                   mj_imap_store_mode mode, const char *flags, bool silent,
                                   uint64_t unchangedsince, const mj_imap_fetch_cb *cb,
                                   const char **modified_out) MJ_MUST_CHECK;

/*
 * UID EXPUNGE uid_set (RFC 4315 2.1; part of IMAP4rev2): needs UIDPLUS or
 * IMAP4rev2.  The expunged messages are reported to the changes callbacks
 * (EXPUNGE sequence numbers, or VANISHED UIDs once QRESYNC is enabled).
 */
mj_outcome mj_imap_uid_expunge(mj_imap *s, const char *uid_set) MJ_MUST_CHECK;

/* ---- the rest ------------------------------------------------------------------- */

/* Close the connection and free (NULL allowed).  Sends nothing. */
void mj_imap_close(mj_imap *s);

/* Accessors: owned by s, valid until mj_imap_close. */
const mj_imap_caps *mj_imap_capabilities(const mj_imap *s);
mj_imap_state mj_imap_get_state(const mj_imap *s);
mj_error *mj_imap_error(mj_imap *s);
mj_conn *mj_imap_conn(mj_imap *s);
/* The greeting's text (escaped). */
const char *mj_imap_greeting(const mj_imap *s);
/* The last [ALERT] text (escaped, "" if none); *untrusted_out (may be NULL):
 * it arrived before TLS was verified, so a man in the middle may have written it. */
const char *mj_imap_alert(const mj_imap *s, bool *untrusted_out);

/*
 * The outcome a NO / BAD / BYE with this response code means (RFC 5530):
 *   UNAVAILABLE, INUSE, LIMIT       server-busy
 *   AUTHENTICATIONFAILED,
 *   AUTHORIZATIONFAILED, EXPIRED    auth-failed
 *   PRIVACYREQUIRED                 cleartext-refused
 *   anything else / none            fallback
 * code is matched case-insensitively; NULL means none.
 */
mj_outcome mj_imap_code_outcome(const char *code, mj_outcome fallback);

/*
 * Modified UTF-7 (RFC 3501 §5.1.3) <-> UTF-8.  Write at most out_size bytes
 * with the NUL; MJ_USAGE for invalid UTF-8 input (encode) or the result over
 * out_size, MJ_PROTOCOL_ERROR / MJ_R_MALFORMED for invalid modified UTF-7
 * (decode: bad base64, unterminated shift, a shifted printable ASCII
 * character, unpaired surrogates, "&" not written as "&-").
 */
mj_outcome mj_imap_utf7_encode(const char *utf8, char *out, size_t out_size,
                               mj_error *err) MJ_MUST_CHECK;
mj_outcome mj_imap_utf7_decode(const char *utf7, size_t len, char *out, size_t out_size,
                               mj_error *err) MJ_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
