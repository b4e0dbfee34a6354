/*
 * imap/session.c: the IMAP session: state, the one command/response engine,
 * untagged data, the greeting, CAPABILITY and STARTTLS.
 *
 * RFC 9051 (IMAP4rev2) and RFC 3501 (IMAP4rev1): §2.2 (tags, commands
 * and responses), §5.5 (one command at a time here), §6.1 (CAPABILITY,
 * NOOP, LOGOUT), §6.2.1 (STARTTLS), §7 (responses, untagged data in every
 * state); RFC 2595 §3.1 (STARTTLS hygiene); RFC 5530 (response codes);
 * RFC 7888 (LITERAL+ / LITERAL-); RFC 7162 and RFC 4315 through condstore.c
 * (VANISHED, MODSEQ codes in the common handling; the UID EXPUNGE row);
 * RFC 4978 §3 (COMPRESS: the layer starts right after the tagged OK).
 *
 * Every command goes through imap_run: the arguments are checked before a
 * byte leaves, the responses are read through the resumable parser
 * (imap/parser.h) from a window over the reader, untagged data goes through
 * one table (common_table) and then to the command's hook, and the tagged
 * reply decides.  A '+' the command did not ask for is a protocol error.
 */
#include "imap/imap_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- state ------------------------------------------------------------------------- */

static const char *const state_names[MJ_IMAP_STATE_COUNT] = {
    [MJ_IMAP_STATE_GREETING] = "greeting",
    [MJ_IMAP_STATE_NOT_AUTHENTICATED] = "not-authenticated",
    [MJ_IMAP_STATE_AUTHENTICATED] = "authenticated",
    [MJ_IMAP_STATE_SELECTED] = "selected",
    [MJ_IMAP_STATE_LOGOUT] = "logout",
    [MJ_IMAP_STATE_FAILED] = "failed",
};

const char *mj_imap_state_name(mj_imap_state state)
{
    return (unsigned)state < MJ_IMAP_STATE_COUNT ? state_names[state] : "?";
}

void imap_set_state(mj_imap *s, mj_imap_state state)
{
#ifdef MJ_DEBUG
    fprintf(stderr, "imap: state %s -> %s\n", mj_imap_state_name(s->state),
            mj_imap_state_name(state));
#endif
    s->state = state;
}

/* Outcomes after which the stream is no longer in step with the server. */
static bool outcome_fatal(mj_outcome o)
{
    switch (o) {
    case MJ_OK:
    case MJ_USAGE:
    case MJ_SERVER_REFUSED:
    case MJ_SERVER_BUSY:
    case MJ_AUTH_FAILED:
    case MJ_AUTH_UNSUPPORTED:
    case MJ_CLEARTEXT_REFUSED:
    case MJ_MESSAGE_REJECTED:
    case MJ_STARTTLS_UNAVAILABLE:
        return false;
    default:
        return true;
    }
}

mj_outcome imap_fail_if_fatal(mj_imap *s, mj_outcome o)
{
    if (outcome_fatal(o))
        imap_set_state(s, MJ_IMAP_STATE_FAILED);
    return o;
}

/* ---- response codes (RFC 5530) ------------------------------------------------------- */

static const struct {
    const char *code;
    mj_outcome outcome;
} code_table[] = {
    {"UNAVAILABLE", MJ_SERVER_BUSY},
    {"INUSE", MJ_SERVER_BUSY},
    {"LIMIT", MJ_SERVER_BUSY},
    {"AUTHENTICATIONFAILED", MJ_AUTH_FAILED},
    {"AUTHORIZATIONFAILED", MJ_AUTH_FAILED},
    {"EXPIRED", MJ_AUTH_FAILED},
    {"PRIVACYREQUIRED", MJ_CLEARTEXT_REFUSED},
};

mj_outcome mj_imap_code_outcome(const char *code, mj_outcome fallback)
{
    for (size_t i = 0; code != NULL && i < sizeof code_table / sizeof code_table[0]; i++) {
        if (strcasecmp(code, code_table[i].code) == 0)
            return code_table[i].outcome;
    }
    return fallback;
}

/* ---- the command table ------------------------------------------------------------------ */

#define S_NA (1u << MJ_IMAP_STATE_NOT_AUTHENTICATED)
#define S_AU (1u << MJ_IMAP_STATE_AUTHENTICATED)
#define S_SE (1u << MJ_IMAP_STATE_SELECTED)
#define S_ANY (S_NA | S_AU | S_SE)

/* Verb and the states it is allowed in (RFC 9051 §6). */
static const struct {
    const char *verb;
    unsigned states;
} cmd_table[IMAP_CMD_COUNT] = {
    [IMAP_CMD_CAPABILITY] = {"CAPABILITY", S_ANY},
    [IMAP_CMD_NOOP] = {"NOOP", S_ANY},
    [IMAP_CMD_LOGOUT] = {"LOGOUT", S_ANY},
    [IMAP_CMD_STARTTLS] = {"STARTTLS", S_NA},
    [IMAP_CMD_LOGIN] = {"LOGIN", S_NA},
    [IMAP_CMD_AUTHENTICATE] = {"AUTHENTICATE", S_NA},
    [IMAP_CMD_ID] = {"ID", S_ANY},
    [IMAP_CMD_ENABLE] = {"ENABLE", S_AU | S_SE},
    [IMAP_CMD_NAMESPACE] = {"NAMESPACE", S_AU | S_SE},
    [IMAP_CMD_SELECT] = {"SELECT", S_AU | S_SE},
    [IMAP_CMD_EXAMINE] = {"EXAMINE", S_AU | S_SE},
    [IMAP_CMD_CREATE] = {"CREATE", S_AU | S_SE},
    [IMAP_CMD_DELETE] = {"DELETE", S_AU | S_SE},
    [IMAP_CMD_RENAME] = {"RENAME", S_AU | S_SE},
    [IMAP_CMD_SUBSCRIBE] = {"SUBSCRIBE", S_AU | S_SE},
    [IMAP_CMD_UNSUBSCRIBE] = {"UNSUBSCRIBE", S_AU | S_SE},
    [IMAP_CMD_LIST] = {"LIST", S_AU | S_SE},
    [IMAP_CMD_LSUB] = {"LSUB", S_AU | S_SE},
    [IMAP_CMD_STATUS] = {"STATUS", S_AU | S_SE},
    [IMAP_CMD_APPEND] = {"APPEND", S_AU | S_SE},
    [IMAP_CMD_CHECK] = {"CHECK", S_SE},
    [IMAP_CMD_CLOSE] = {"CLOSE", S_SE},
    [IMAP_CMD_UNSELECT] = {"UNSELECT", S_SE},
    [IMAP_CMD_EXPUNGE] = {"EXPUNGE", S_SE},
    [IMAP_CMD_SEARCH] = {"SEARCH", S_SE},
    [IMAP_CMD_FETCH] = {"FETCH", S_SE},
    [IMAP_CMD_STORE] = {"STORE", S_SE},
    [IMAP_CMD_COPY] = {"COPY", S_SE},
    [IMAP_CMD_MOVE] = {"MOVE", S_SE},
    [IMAP_CMD_IDLE] = {"IDLE", S_AU | S_SE},
    [IMAP_CMD_GETQUOTAROOT] = {"GETQUOTAROOT", S_AU | S_SE},
    [IMAP_CMD_UID_SEARCH] = {"UID SEARCH", S_SE},
    [IMAP_CMD_UID_FETCH] = {"UID FETCH", S_SE},
    [IMAP_CMD_UID_STORE] = {"UID STORE", S_SE},
    [IMAP_CMD_UID_COPY] = {"UID COPY", S_SE},
    [IMAP_CMD_UID_MOVE] = {"UID MOVE", S_SE},
    [IMAP_CMD_GETQUOTA] = {"GETQUOTA", S_AU | S_SE},
    [IMAP_CMD_SORT] = {"SORT", S_SE},
    [IMAP_CMD_UID_SORT] = {"UID SORT", S_SE},
    [IMAP_CMD_THREAD] = {"THREAD", S_SE},
    [IMAP_CMD_UID_THREAD] = {"UID THREAD", S_SE},
    [IMAP_CMD_UID_EXPUNGE] = {"UID EXPUNGE", S_SE},
    [IMAP_CMD_COMPRESS] = {"COMPRESS DEFLATE", S_AU | S_SE}, /* RFC 4978 §5: command-auth */
};

const char *imap_verb(imap_cmd cmd)
{
    return cmd_table[cmd].verb;
}

static mj_outcome check_state(mj_imap *s, imap_cmd cmd)
{
    if ((cmd_table[cmd].states & (1u << s->state)) != 0)
        return MJ_OK;
    return mj_error_set(mj_conn_error(s->conn), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                        "IMAP %s is not allowed in the %s state; nothing was sent",
                        cmd_table[cmd].verb, mj_imap_state_name(s->state));
}

/* ---- reading ---------------------------------------------------------------------------- */

/* The read failed: after a BYE the server's words explain the close. */
static mj_outcome read_failed(mj_imap *s, mj_outcome o)
{
    mj_error *err = mj_conn_error(s->conn);
    if (s->bye && o == MJ_CONNECTION_LOST) {
        imap_set_state(s, MJ_IMAP_STATE_FAILED);
        return mj_error_set(err, s->bye_outcome, err->reason,
                            "the server closed the session: * BYE %s", s->bye_text);
    }
    return imap_fail_if_fatal(s, o);
}

/* A NUL in p up to its first LF (bytes after it belong to later responses,
 * or to the compressed stream that follows the OK to COMPRESS).  A literal
 * in an untagged response during COMPRESS would count too: servers send none. */
static bool line_has_nul(const unsigned char *p, size_t n)
{
    const unsigned char *lf = memchr(p, '\n', n);
    return memchr(p, '\0', lf != NULL ? (size_t)(lf - p) : n) != NULL;
}

mj_outcome imap_read(mj_imap *s, const mj_imap_response **r_out)
{
    mj_error *err = mj_conn_error(s->conn);
    for (;;) {
        if (s->in_len == 0) {
            mj_outcome o = mj_reader_read_some(mj_conn_reader(s->conn), MJ_READER_CHUNK, &s->in,
                                               &s->in_len, err);
            if (o != MJ_OK) {
                s->in_len = 0;
                return read_failed(s, o);
            }
        }
        if (s->compress_wait && line_has_nul(s->in, s->in_len)) {
            /* No response line holds a NUL, and a sync-flushed DEFLATE write
               always ends in 00 00 FF FF: say so now, not after an LF that
               compressed bytes may never contain (RFC 4978 section 3). */
            s->in_len = 0;
            imap_set_state(s, MJ_IMAP_STATE_FAILED);
            return mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_MALFORMED,
                                "binary data (a NUL byte) while waiting for the plaintext reply "
                                "to COMPRESS: did the server compress before its OK?");
        }
        size_t used = 0;
        mj_parse_result pr = mj_imap_parse(s->parser, s->in, s->in_len, &used, r_out, err);
        s->in += used;
        s->in_len -= used;
        if (pr == MJ_PARSE_OK)
            return MJ_OK;
        if (pr == MJ_PARSE_ERROR) {
            if (s->fetch_err.outcome != MJ_OK) /* the caller's sink failed */
                *err = s->fetch_err;
            imap_set_state(s, MJ_IMAP_STATE_FAILED); /* out of step with the server */
            return err->outcome;
        }
    }
}

/* ---- capabilities ------------------------------------------------------------------------- */

static const struct {
    const char *name;
    uint32_t bit;
} cap_table[] = {
    {"IMAP4REV1", MJ_IMAP_CAP_IMAP4REV1},     {"IMAP4REV2", MJ_IMAP_CAP_IMAP4REV2},
    {"STARTTLS", MJ_IMAP_CAP_STARTTLS},       {"LOGINDISABLED", MJ_IMAP_CAP_LOGINDISABLED},
    {"SASL-IR", MJ_IMAP_CAP_SASL_IR},         {"LITERAL+", MJ_IMAP_CAP_LITERAL_PLUS},
    {"LITERAL-", MJ_IMAP_CAP_LITERAL_MINUS},  {"IDLE", MJ_IMAP_CAP_IDLE},
    {"NAMESPACE", MJ_IMAP_CAP_NAMESPACE},     {"ID", MJ_IMAP_CAP_ID},
    {"ENABLE", MJ_IMAP_CAP_ENABLE},           {"UIDPLUS", MJ_IMAP_CAP_UIDPLUS},
    {"MOVE", MJ_IMAP_CAP_MOVE},               {"CONDSTORE", MJ_IMAP_CAP_CONDSTORE},
    {"QRESYNC", MJ_IMAP_CAP_QRESYNC},         {"ESEARCH", MJ_IMAP_CAP_ESEARCH},
    {"LIST-EXTENDED", MJ_IMAP_CAP_LIST_EXTENDED}, {"SPECIAL-USE", MJ_IMAP_CAP_SPECIAL_USE},
    {"LIST-STATUS", MJ_IMAP_CAP_LIST_STATUS}, {"UTF8=ACCEPT", MJ_IMAP_CAP_UTF8_ACCEPT},
    {"QUOTA", MJ_IMAP_CAP_QUOTA},             {"UNSELECT", MJ_IMAP_CAP_UNSELECT},
    {"CHILDREN", MJ_IMAP_CAP_CHILDREN},       {"BINARY", MJ_IMAP_CAP_BINARY},
    {"COMPRESS=DEFLATE", MJ_IMAP_CAP_COMPRESS_DEFLATE},
};

/* One capability word (ATOM; a rev2 server may not quote them). */
static void add_cap(mj_imap *s, const char *word)
{
    if (strncasecmp(word, "AUTH=", 5) == 0) {
        s->caps.sasl |= mj_sasl_set_parse(word + 5);
    } else {
        for (size_t i = 0; i < sizeof cap_table / sizeof cap_table[0]; i++) {
            if (strcasecmp(word, cap_table[i].name) == 0)
                s->caps.bits |= cap_table[i].bit;
        }
    }
    if (s->caps.n_names < MJ_IMAP_CAPS_MAX && strlen(word) < MJ_IMAP_CAP_NAME_MAX)
        mj_escape(word, strlen(word), s->caps.names[s->caps.n_names++], MJ_IMAP_CAP_NAME_MAX);
}

void imap_caps_from_nodes(mj_imap *s, const mj_imap_node *first)
{
    memset(&s->caps, 0, sizeof s->caps);
    s->caps.known = true;
    for (const mj_imap_node *n = first; n != NULL; n = n->next) {
        if (n->kind == MJ_IMAP_ATOM)
            add_cap(s, n->str);
    }
    if (s->caps.bits & MJ_IMAP_CAP_IMAP4REV2) /* RFC 9051 §7.2.2: rev2 includes LITERAL- */
        s->caps.bits |= MJ_IMAP_CAP_LITERAL_MINUS;
}

/* ---- untagged data --------------------------------------------------------------------- */

static void keep_text(const mj_imap_response *r, char *out, size_t size)
{
    mj_escape(r->text != NULL ? r->text : "", r->text != NULL ? r->text_len : 0, out, size);
}

/* Flags list "(\Seen \Answered)" as "\Seen \Answered". */
static void flags_text(const mj_imap_node *list, char *out, size_t size)
{
    out[0] = '\0';
    if (list == NULL || list->kind != MJ_IMAP_LIST)
        return;
    size_t used = 0;
    for (const mj_imap_node *n = list->first; n != NULL && n->str != NULL; n = n->next) {
        char e[256];
        mj_escape(n->str, n->len, e, sizeof e);
        int k = snprintf(out + used, size - used, "%s%s", used ? " " : "", e);
        if (k < 0 || (size_t)k >= size - used)
            break;
        used += (size_t)k;
    }
}

static int64_t code_number(const mj_imap_response *r)
{
    uint64_t v = 0;
    if (r->code_data != NULL && r->code_data->kind == MJ_IMAP_NUMBER)
        v = r->code_data->num;
    return (int64_t)v;
}

/* resp-text-codes of untagged OK/NO/BAD that update the session (RFC 9051 §7.1). */
static void status_code(mj_imap *s, const mj_imap_response *r)
{
    const char *c = r->code;
    if (c == NULL)
        return;
    if (strcasecmp(c, "ALERT") == 0) {
        keep_text(r, s->alert, sizeof s->alert);
        s->alert_untrusted = mj_conn_tls_state(s->conn) != MJ_TLS_VERIFIED;
    } else if (strcasecmp(c, "CAPABILITY") == 0) {
        imap_caps_from_nodes(s, r->code_data);
    } else if (strcasecmp(c, "UIDVALIDITY") == 0) {
        s->sel.uidvalidity = code_number(r);
    } else if (strcasecmp(c, "UIDNEXT") == 0) {
        s->sel.uidnext = code_number(r);
    } else if (strcasecmp(c, "UNSEEN") == 0) {
        s->sel.unseen = code_number(r);
    } else if (strcasecmp(c, "PERMANENTFLAGS") == 0) {
        flags_text(r->code_data, s->sel.permanentflags, sizeof s->sel.permanentflags);
    } else if (strcasecmp(c, "READ-ONLY") == 0) {
        s->sel.read_only = true;
    } else if (strcasecmp(c, "READ-WRITE") == 0) {
        s->sel.read_only = false;
    }
}

static mj_outcome u_status(mj_imap *s, const mj_imap_response *r)
{
    mj_outcome o = imap_condstore_code(s, r);
    if (o != MJ_OK)
        return o;
    status_code(s, r);
    if (r->status == MJ_IMAP_ST_BYE) {
        s->bye = true;
        keep_text(r, s->bye_text, sizeof s->bye_text);
        s->bye_outcome = mj_imap_code_outcome(r->code, MJ_CONNECTION_LOST);
    }
    return MJ_OK;
}

static mj_outcome u_capability(mj_imap *s, const mj_imap_response *r)
{
    imap_caps_from_nodes(s, r->data);
    return MJ_OK;
}

static mj_outcome u_exists(mj_imap *s, const mj_imap_response *r)
{
    s->sel.exists = r->number;
    return MJ_OK;
}

static mj_outcome u_recent(mj_imap *s, const mj_imap_response *r)
{
    s->sel.recent = r->number;
    return MJ_OK;
}

static mj_outcome u_expunge(mj_imap *s, const mj_imap_response *r)
{
    if (s->sel.exists > 0)
        s->sel.exists--;
    return imap_u_expunged(s, r->number);
}

static mj_outcome u_flags(mj_imap *s, const mj_imap_response *r)
{
    flags_text(r->data, s->sel.flags, sizeof s->sel.flags);
    return MJ_OK;
}

/* Untagged data every command handles the same way (RFC 9051 §7). */
static const struct {
    const char *name;
    bool numbered; /* "* n NAME" */
    mj_outcome (*fn)(mj_imap *s, const mj_imap_response *r);
} common_table[] = {
    {"OK", false, u_status},          {"NO", false, u_status},
    {"BAD", false, u_status},         {"BYE", false, u_status},
    {"PREAUTH", false, u_status},     {"CAPABILITY", false, u_capability},
    {"EXISTS", true, u_exists},       {"RECENT", true, u_recent},
    {"EXPUNGE", true, u_expunge},     {"FLAGS", false, u_flags},
    {"VANISHED", false, imap_u_vanished}, {"FETCH", true, imap_u_fetch},
};

mj_outcome imap_untagged(mj_imap *s, const mj_imap_response *r, imap_untagged_fn hook, void *ctx)
{
    s->untagged_count++;
    for (size_t i = 0; i < sizeof common_table / sizeof common_table[0]; i++) {
        if (common_table[i].numbered == r->has_number &&
            strcasecmp(r->name, common_table[i].name) == 0) {
            mj_outcome o = common_table[i].fn(s, r);
            if (o != MJ_OK)
                return o;
            break;
        }
    }
    mj_outcome o = hook != NULL ? hook(s, ctx, r) : MJ_OK;
    if (o != MJ_OK && mj_conn_error(s->conn)->outcome != o) /* a caller's callback said no */
        mj_error_set(mj_conn_error(s->conn), o, MJ_R_NONE,
                     "the caller's callback stopped the command at an untagged %s (%s)",
                     r->name != NULL ? r->name : "response", mj_outcome_name(o));
    return o;
}

/* ---- tagged replies ------------------------------------------------------------------------- */

mj_outcome imap_tagged(mj_imap *s, const mj_imap_response *r, imap_done *done)
{
    if (strcmp(r->tag, s->tag) != 0) {
        char q[64];
        mj_escape(r->tag, strlen(r->tag), q, sizeof q);
        imap_set_state(s, MJ_IMAP_STATE_FAILED);
        return mj_error_set(mj_conn_error(s->conn), MJ_PROTOCOL_ERROR, MJ_R_MALFORMED,
                            "tagged reply with tag %s while waiting for %s", q, s->tag);
    }
    memset(done, 0, sizeof *done);
    done->status = r->status;
    keep_text(r, done->text, sizeof done->text);
    s->caps_in_reply = false;
    mj_outcome o = imap_condstore_code(s, r);
    if (o != MJ_OK)
        return imap_fail_if_fatal(s, o);
    if (r->code != NULL) {
        mj_escape(r->code, strlen(r->code), done->code, sizeof done->code);
        mj_escape(r->code_args, strlen(r->code_args), done->code_args, sizeof done->code_args);
        if (r->status == MJ_IMAP_ST_OK) {
            status_code(s, r);
            s->caps_in_reply = strcasecmp(r->code, "CAPABILITY") == 0;
        }
    }
    return MJ_OK;
}

mj_outcome imap_refused(mj_imap *s, imap_cmd cmd, const imap_done *done, mj_outcome fallback)
{
    const char *word = done->status == MJ_IMAP_ST_BAD ? "BAD" : "NO";
    mj_outcome o = mj_imap_code_outcome(done->code[0] ? done->code : NULL, fallback);
    return mj_error_set(mj_conn_error(s->conn), o, MJ_R_NONE, "the server refused %s: %s %s%s%s%s",
                        cmd_table[cmd].verb, word, done->code[0] ? "[" : "", done->code,
                        done->code[0] ? "] " : "", done->text[0] ? done->text : "(no text)");
}

/* ---- sending ---------------------------------------------------------------------------------- */

mj_outcome imap_begin(mj_imap *s, imap_cmd cmd)
{
    mj_outcome o = check_state(s, cmd);
    if (o != MJ_OK)
        return o;
    s->tag_n = s->tag_n % 999999999u + 1;
    snprintf(s->tag, sizeof s->tag, "A%04u", (unsigned)s->tag_n);
    o = mj_conn_puts(s->conn, s->tag);
    if (o == MJ_OK)
        o = mj_conn_puts(s->conn, " ");
    if (o == MJ_OK)
        o = mj_conn_puts(s->conn, cmd_table[cmd].verb);
    return imap_fail_if_fatal(s, o);
}

/* Whether a literal of n bytes may go without waiting for '+' (RFC 7888). */
static bool literal_plus(const mj_imap *s, uint64_t n)
{
    if (s->opts.no_literal_plus)
        return false;
    if (s->caps.bits & MJ_IMAP_CAP_LITERAL_PLUS)
        return true;
    return (s->caps.bits & MJ_IMAP_CAP_LITERAL_MINUS) && n <= MJ_IMAP_LITERAL_MINUS_MAX;
}

/*
 * A synchronizing literal's marker is out: flush and wait for '+'.  Untagged
 * data is handled meanwhile.  *ended_out: the server answered the command
 * with its tagged reply instead (done filled).
 */
static mj_outcome wait_continuation(mj_imap *s, imap_untagged_fn hook, void *ctx, imap_done *done,
                                    bool *ended_out)
{
    *ended_out = false;
    mj_outcome o = mj_conn_flush(s->conn);
    if (o != MJ_OK)
        return imap_fail_if_fatal(s, o);
    for (;;) {
        const mj_imap_response *r = NULL;
        o = imap_read(s, &r);
        if (o != MJ_OK)
            return o;
        if (r->kind == MJ_IMAP_CONTINUATION)
            return MJ_OK;
        if (r->kind == MJ_IMAP_TAGGED) {
            *ended_out = true;
            return imap_tagged(s, r, done);
        }
        o = imap_untagged(s, r, hook, ctx);
        if (o != MJ_OK)
            return o;
    }
}

/* "{n}" CRLF or "{n+}" CRLF; waits for '+' when synchronizing. */
/* "{n}" / "{n+}", or with literal8 "~{n}" / "~{n+}" (RFC 3516 §4.2; RFC 7888 §4). */
static mj_outcome literal_marker(mj_imap *s, uint64_t n, bool literal8, imap_untagged_fn hook,
                                 void *ctx, imap_done *done, bool *ended_out)
{
    char marker[40];
    bool plus = literal_plus(s, n);
    snprintf(marker, sizeof marker, "%s{%llu%s}\r\n", literal8 ? "~" : "",
             (unsigned long long)n, plus ? "+" : "");
    *ended_out = false;
    mj_outcome o = mj_conn_puts(s->conn, marker);
    if (o != MJ_OK)
        return imap_fail_if_fatal(s, o);
    return plus ? MJ_OK : wait_continuation(s, hook, ctx, done, ended_out);
}

/* A quoted string: '"' with '\' before '"' and '\' (RFC 9051 quoted). */
static mj_outcome put_quoted(mj_imap *s, const char *text, size_t len, bool secret)
{
    char *q = malloc(2 * len + 3); /* len <= MJ_IMAP_ARG_MAX: no overflow */
    if (q == NULL)
        return mj_error_set(mj_conn_error(s->conn), MJ_INTERNAL, MJ_R_NO_MEMORY, "out of memory");
    size_t k = 0;
    q[k++] = '"';
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '"' || text[i] == '\\')
            q[k++] = '\\';
        q[k++] = text[i];
    }
    q[k++] = '"';
    mj_outcome o = mj_conn_put(s->conn, q, k, secret);
    free(q);
    return o;
}

static mj_outcome put_string(mj_imap *s, const imap_part *p, const char *text, imap_untagged_fn hook,
                             void *ctx, imap_done *done, bool *ended_out)
{
    size_t len = strlen(text);
    *ended_out = false;
    switch (imap_str_form_of(text, len, p->kind != IMAP_P_STRING, s->utf8)) {
    case IMAP_STR_ATOM:
        return mj_conn_put(s->conn, text, len, p->secret);
    case IMAP_STR_QUOTED:
        return put_quoted(s, text, len, p->secret);
    default: {
        mj_outcome o = literal_marker(s, len, false, hook, ctx, done, ended_out);
        if (o != MJ_OK || *ended_out)
            return o;
        return mj_conn_put(s->conn, text, len, p->secret);
    }
    }
}

/* APPEND's message: the marker, then exactly size bytes from the caller's source. */
static mj_outcome put_source(mj_imap *s, imap_untagged_fn hook, void *ctx, imap_done *done,
                             bool *ended_out)
{
    const imap_source *src = &s->source[s->source_next++];
    mj_error *err = mj_conn_error(s->conn);
    mj_outcome o = literal_marker(s, src->size, src->binary, hook, ctx, done, ended_out);
    if (o != MJ_OK || *ended_out)
        return o;
    unsigned char *buf = malloc(IMAP_APPEND_CHUNK);
    if (buf == NULL)
        return imap_fail_if_fatal(s, mj_error_set(err, MJ_INTERNAL, MJ_R_NO_MEMORY, "out of memory"));
    uint64_t sent = 0;
    for (;;) {
        size_t got = 0;
        o = src->read(src->ctx, buf, IMAP_APPEND_CHUNK, &got, err);
        if (o != MJ_OK || got == 0)
            break;
        if (got > src->size - sent) {
            o = mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                             "the message is longer than the announced %llu bytes",
                             (unsigned long long)src->size);
            break;
        }
        const unsigned char *nul = src->binary ? NULL : memchr(buf, 0, got);
        if (nul != NULL) { /* CHAR8 excludes NUL: never put it in a literal */
            o = mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                             "the message holds a NUL byte at offset %llu: only a binary message "
                             "(a literal8, BINARY) may",
                             (unsigned long long)(sent + (uint64_t)(nul - buf)));
            break;
        }
        sent += got;
        o = mj_conn_put(s->conn, buf, got, false);
        if (o != MJ_OK)
            break;
    }
    free(buf);
    if (o == MJ_OK && sent != src->size)
        o = mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                         "the message ended after %llu of the announced %llu bytes",
                         (unsigned long long)sent, (unsigned long long)src->size);
    if (o != MJ_OK) /* a literal cut short cannot be taken back */
        imap_set_state(s, MJ_IMAP_STATE_FAILED);
    return o;
}

/* Mailbox names: UTF-8 to modified UTF-7 unless UTF8=ACCEPT is enabled. */
static mj_outcome mailbox_wire(mj_imap *s, const char *name, char *out, size_t size)
{
    if (s->utf8) {
        if (strlen(name) >= size)
            return mj_error_set(mj_conn_error(s->conn), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                                "mailbox name too long");
        strcpy(out, name);
        return MJ_OK;
    }
    return mj_imap_utf7_encode(name, out, size, mj_conn_error(s->conn));
}

/* Mailbox arguments one command may carry (RENAME has two). */
#define IMAP_MAILBOX_PARTS_MAX 2

/*
 * Every argument checked, and mailbox names encoded into wire[], before the
 * first byte of the command is put: a refusal leaves nothing behind.
 */
static mj_outcome check_parts(mj_imap *s, const imap_part *parts, size_t n,
                              char wire[IMAP_MAILBOX_PARTS_MAX][MJ_IMAP_MAILBOX_MAX])
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].kind == IMAP_P_SOURCE)
            continue;
        mj_outcome o = imap_check_arg(s, parts[i].what, parts[i].text);
        if (o != MJ_OK)
            return o;
        if (parts[i].kind != IMAP_P_MAILBOX)
            continue;
        if (k == IMAP_MAILBOX_PARTS_MAX)
            return mj_error_set(mj_conn_error(s->conn), MJ_INTERNAL, MJ_R_SYSTEM,
                                "too many mailbox arguments");
        o = mailbox_wire(s, parts[i].text, wire[k++], MJ_IMAP_MAILBOX_MAX);
        if (o != MJ_OK)
            return o;
    }
    return MJ_OK;
}

/* Put every argument; stops early when the server ends the command (ended_out). */
static mj_outcome put_parts(mj_imap *s, const imap_part *parts, size_t n,
                            char wire[IMAP_MAILBOX_PARTS_MAX][MJ_IMAP_MAILBOX_MAX],
                            imap_untagged_fn hook, void *ctx, imap_done *done, bool *ended_out)
{
    mj_outcome o = MJ_OK;
    size_t k = 0;
    *ended_out = false;
    s->source_next = 0;
    for (size_t i = 0; o == MJ_OK && !*ended_out && i < n; i++) {
        const imap_part *p = &parts[i];
        if (!p->glue && (o = mj_conn_put(s->conn, " ", 1, false)) != MJ_OK)
            break;
        if (p->kind == IMAP_P_RAW)
            o = mj_conn_put(s->conn, p->text, strlen(p->text), p->secret);
        else if (p->kind == IMAP_P_SOURCE)
            o = put_source(s, hook, ctx, done, ended_out);
        else
            o = put_string(s, p, p->kind == IMAP_P_MAILBOX ? wire[k++] : p->text, hook, ctx, done,
                           ended_out);
    }
    return imap_fail_if_fatal(s, o);
}

/* Read until the tagged reply; the first hook error is kept and returned. */
static mj_outcome read_until_tagged(mj_imap *s, imap_untagged_fn hook, void *ctx, imap_done *done)
{
    mj_error kept;
    mj_error_clear(&kept);
    for (;;) {
        const mj_imap_response *r = NULL;
        mj_outcome o = imap_read(s, &r);
        if (o != MJ_OK)
            return o;
        if (r->kind == MJ_IMAP_TAGGED) {
            o = imap_tagged(s, r, done);
            if (o != MJ_OK || kept.outcome == MJ_OK)
                return o;
            *mj_conn_error(s->conn) = kept;
            return imap_fail_if_fatal(s, kept.outcome);
        }
        if (r->kind == MJ_IMAP_CONTINUATION) {
            imap_set_state(s, MJ_IMAP_STATE_FAILED);
            return mj_error_set(mj_conn_error(s->conn), MJ_PROTOCOL_ERROR, MJ_R_MALFORMED,
                                "unexpected continuation request ('+') while waiting for the "
                                "reply to %s",
                                s->tag);
        }
        o = imap_untagged(s, r, kept.outcome == MJ_OK ? hook : NULL, ctx);
        if (o != MJ_OK && kept.outcome == MJ_OK) {
            kept = *mj_conn_error(s->conn);
            if (outcome_fatal(o))
                return imap_fail_if_fatal(s, o);
        }
    }
}

mj_outcome imap_run(mj_imap *s, imap_cmd cmd, const imap_part *parts, size_t n,
                    imap_untagged_fn hook, void *ctx, mj_outcome fallback, imap_done *done)
{
    imap_done local;
    if (done == NULL)
        done = &local;
    char wire[IMAP_MAILBOX_PARTS_MAX][MJ_IMAP_MAILBOX_MAX];
    mj_outcome o = check_state(s, cmd);
    if (o == MJ_OK)
        o = check_parts(s, parts, n, wire);
    if (o == MJ_OK)
        o = imap_begin(s, cmd);
    if (o != MJ_OK)
        return o;
    bool ended = false;
    o = put_parts(s, parts, n, wire, hook, ctx, done, &ended);
    if (o != MJ_OK)
        return o;
    if (!ended) {
        o = mj_conn_put(s->conn, "\r\n", 2, false);
        if (o == MJ_OK)
            o = mj_conn_flush(s->conn);
        if (o != MJ_OK)
            return imap_fail_if_fatal(s, o);
        o = read_until_tagged(s, hook, ctx, done);
        if (o != MJ_OK)
            return o;
    }
    if (done->status == MJ_IMAP_ST_OK && !ended)
        return MJ_OK;
    if (done->status == MJ_IMAP_ST_OK) /* OK before the literal was sent */
        return imap_fail_if_fatal(s, mj_error_set(mj_conn_error(s->conn), MJ_PROTOCOL_ERROR,
                                                  MJ_R_MALFORMED,
                                                  "tagged OK to %s before its literal was sent",
                                                  cmd_table[cmd].verb));
    return imap_refused(s, cmd, done, fallback);
}

mj_outcome imap_finish(mj_imap *s, imap_cmd cmd, imap_untagged_fn hook, void *ctx,
                       mj_outcome fallback, imap_done *done)
{
    imap_done local;
    if (done == NULL)
        done = &local;
    mj_outcome o = mj_conn_put(s->conn, "\r\n", 2, false);
    if (o == MJ_OK)
        o = mj_conn_flush(s->conn);
    if (o != MJ_OK)
        return imap_fail_if_fatal(s, o);
    o = read_until_tagged(s, hook, ctx, done);
    if (o != MJ_OK)
        return o;
    return done->status == MJ_IMAP_ST_OK ? MJ_OK : imap_refused(s, cmd, done, fallback);
}

/* ---- CAPABILITY, NOOP, LOGOUT -------------------------------------------------------------------- */

mj_outcome imap_capability(mj_imap *s)
{
    memset(&s->caps, 0, sizeof s->caps);
    mj_outcome o = imap_run(s, IMAP_CMD_CAPABILITY, NULL, 0, NULL, NULL, MJ_SERVER_REFUSED, NULL);
    if (o == MJ_OK && !s->caps.known)
        return imap_fail_if_fatal(s, mj_error_set(mj_conn_error(s->conn), MJ_PROTOCOL_ERROR,
                                                  MJ_R_MALFORMED,
                                                  "CAPABILITY answered OK without a capability "
                                                  "list"));
    return o;
}

mj_outcome mj_imap_capability(mj_imap *s)
{
    return imap_capability(s);
}

mj_outcome mj_imap_noop(mj_imap *s)
{
    return imap_run(s, IMAP_CMD_NOOP, NULL, 0, NULL, NULL, MJ_SERVER_REFUSED, NULL);
}

mj_outcome mj_imap_logout(mj_imap *s)
{
    mj_outcome o = imap_run(s, IMAP_CMD_LOGOUT, NULL, 0, NULL, NULL, MJ_SERVER_REFUSED, NULL);
    if (o == MJ_OK || (s->bye && o == s->bye_outcome)) { /* EOF after BYE is a done LOGOUT */
        mj_error_clear(mj_conn_error(s->conn));
        imap_set_state(s, MJ_IMAP_STATE_LOGOUT);
        return MJ_OK;
    }
    return o;
}

/* ---- greeting and STARTTLS -------------------------------------------------------------------------- */

static mj_outcome greeting(mj_imap *s)
{
    const mj_imap_response *r = NULL;
    mj_error *err = mj_conn_error(s->conn);
    mj_outcome o = imap_read(s, &r);
    if (o != MJ_OK)
        return o;
    bool ok = r->kind == MJ_IMAP_UNTAGGED &&
              (r->status == MJ_IMAP_ST_OK || r->status == MJ_IMAP_ST_PREAUTH ||
               r->status == MJ_IMAP_ST_BYE);
    if (!ok) {
        char q[IMAP_QUOTE_MAX];
        mj_escape(r->name != NULL ? r->name : "+", r->name != NULL ? strlen(r->name) : 1, q,
                  sizeof q);
        imap_set_state(s, MJ_IMAP_STATE_FAILED);
        return mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_MALFORMED,
                            "the IMAP greeting must be * OK, * PREAUTH or * BYE, not %s", q);
    }
    keep_text(r, s->greeting, sizeof s->greeting);
    o = imap_untagged(s, r, NULL, NULL);
    if (o != MJ_OK)
        return o;
    if (r->status == MJ_IMAP_ST_BYE) {
        imap_set_state(s, MJ_IMAP_STATE_FAILED);
        return mj_error_set(err, mj_imap_code_outcome(r->code, MJ_SERVER_REFUSED), MJ_R_NONE,
                            "the IMAP server refused the session: * BYE %s", s->bye_text);
    }
    imap_set_state(s, r->status == MJ_IMAP_ST_PREAUTH ? MJ_IMAP_STATE_AUTHENTICATED
                                                      : MJ_IMAP_STATE_NOT_AUTHENTICATED);
    return MJ_OK;
}

static mj_outcome starttls_unavailable(mj_imap *s, const char *why)
{
    return mj_error_set(mj_conn_error(s->conn), MJ_STARTTLS_UNAVAILABLE, MJ_R_NONE,
                        "STARTTLS is required but %s; nothing else was sent", why);
}

/* After the tagged OK: nothing may wait (injection defence), then TLS, then CAPABILITY. */
static mj_outcome starttls_upgrade(mj_imap *s)
{
    if (s->in_len > 0) {
        char text[IMAP_QUOTE_MAX];
        mj_escape(s->in, s->in_len, text, sizeof text);
        size_t n = s->in_len;
        s->in_len = 0; /* never parsed */
        imap_set_state(s, MJ_IMAP_STATE_FAILED);
        return mj_error_set(mj_conn_error(s->conn), MJ_PROTOCOL_ERROR, MJ_R_DATA_AFTER_STARTTLS,
                            "data after the STARTTLS reply: \"%s\" (%zu bytes waiting; possible "
                            "injection, the connection must be closed)",
                            text, n);
    }
    mj_outcome o = mj_conn_starttls(s->conn);
    if (o != MJ_OK)
        return imap_fail_if_fatal(s, o);
    memset(&s->alert, 0, sizeof s->alert); /* nothing learned before TLS is kept */
    return imap_capability(s);
}

static mj_outcome negotiate_tls(mj_imap *s)
{
    if (s->state == MJ_IMAP_STATE_AUTHENTICATED) { /* PREAUTH: STARTTLS is no longer allowed */
        if (s->security == MJ_SEC_STARTTLS && mj_conn_tls_state(s->conn) == MJ_TLS_NONE) {
            imap_set_state(s, MJ_IMAP_STATE_FAILED);
            return starttls_unavailable(s, "the server greeted with PREAUTH on a plaintext "
                                           "connection (RFC 9051 forbids STARTTLS after it)");
        }
        return MJ_OK;
    }
    mj_starttls_action act =
        mj_starttls_decide(s->security, (s->caps.bits & MJ_IMAP_CAP_STARTTLS) != 0);
    if (act == MJ_STARTTLS_SKIP)
        return MJ_OK;
    if (act == MJ_STARTTLS_REFUSE)
        return starttls_unavailable(s, "the server's capabilities do not list STARTTLS");
    imap_done done;
    mj_outcome o = imap_run(s, IMAP_CMD_STARTTLS, NULL, 0, NULL, NULL, MJ_STARTTLS_UNAVAILABLE, &done);
    if (o == MJ_OK)
        return starttls_upgrade(s);
    if (outcome_fatal(o))
        return o;
    if (s->security != MJ_SEC_STARTTLS) { /* starttls-if-available: stay in plaintext */
        mj_error_clear(mj_conn_error(s->conn));
        return MJ_OK;
    }
    char why[IMAP_QUOTE_MAX + 64];
    snprintf(why, sizeof why, "the server answered STARTTLS with %s %s",
             done.status == MJ_IMAP_ST_BAD ? "BAD" : "NO", done.text);
    return starttls_unavailable(s, why);
}

/* ---- COMPRESS (RFC 4978) ------------------------------------------------------------------------ */

mj_outcome mj_imap_compress(mj_imap *s)
{
    mj_error *err = mj_conn_error(s->conn);
    mj_outcome o = check_state(s, IMAP_CMD_COMPRESS);
    if (o != MJ_OK)
        return o;
    if (mj_conn_compressed(s->conn)) /* §3: a second COMPRESS is a client bug */
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "COMPRESS: the connection is already compressed; nothing was sent");
    if (!s->caps.known && (o = imap_capability(s)) != MJ_OK)
        return o;
    if ((s->caps.bits & MJ_IMAP_CAP_COMPRESS_DEFLATE) == 0)
        return imap_lacks(s, "COMPRESS DEFLATE (RFC 4978)", "COMPRESS=DEFLATE");
    s->compress_wait = true;
    o = imap_run(s, IMAP_CMD_COMPRESS, NULL, 0, NULL, NULL, MJ_SERVER_REFUSED, NULL);
    s->compress_wait = false;
    if (o != MJ_OK) /* NO ([COMPRESSIONACTIVE]) or BAD: §3, the server did not turn it on */
        return o;
    /* The server compresses from the byte after its OK's CRLF: what was read
       past it is the start of that stream, never plaintext to parse. */
    o = mj_conn_compress(s->conn, s->in, s->in_len);
    s->in_len = 0;
    return imap_fail_if_fatal(s, o);
}

/* A literal sink for the parser: FETCH bodies go to the caller while the command runs. */
static int literal_sink(void *ctx, const mj_imap_literal_info *where, const unsigned char *data,
                        size_t len)
{
    mj_imap *s = ctx;
    if (s->fetch_cb == NULL || s->fetch_cb->body == NULL || where->preceding == NULL ||
        where->depth != 1 || where->resp->name == NULL ||
        strcasecmp(where->resp->name, "FETCH") != 0)
        return 0; /* not a body section: the bytes are skipped */
    mj_outcome o = s->fetch_cb->body(s->fetch_cb->ctx, where->resp->number,
                                     where->preceding->str, data, len);
    if (o == MJ_OK)
        return 0;
    mj_error_set(&s->fetch_err, MJ_INTERNAL, MJ_R_LOCAL_IO, "the message sink failed: %s",
                 mj_outcome_name(o));
    return -1;
}

mj_outcome mj_imap_start(mj_conn *c, mj_security security, const mj_imap_options *opts,
                         mj_imap **s_out, mj_error *err)
{
    *s_out = NULL;
    mj_imap *s = calloc(1, sizeof *s);
    mj_imap_limits limits;
    mj_imap_limits_init(&limits);
    if (opts == NULL || !opts->strict)
        mj_imap_limits_tolerant(&limits);
    if (s != NULL)
        s->parser = mj_imap_parser_new(&limits);
    if (s == NULL || s->parser == NULL) {
        free(s);
        mj_conn_close(c);
        return mj_error_set(err, MJ_INTERNAL, MJ_R_NO_MEMORY, "out of memory");
    }
    s->conn = c;
    s->security = security;
    if (opts != NULL)
        s->opts = *opts;
    imap_decoder_init(&s->decoder, s->opts.strict ? 0u : (unsigned)IMAP_TOL_ALL);
    s->state = MJ_IMAP_STATE_GREETING;
    mj_imap_parser_set_sink(s->parser, literal_sink, s);
    mj_outcome o = greeting(s);
    if (o == MJ_OK && !s->caps.known) {
        o = imap_capability(s);
        if (o != MJ_OK && !outcome_fatal(o) && s->state != MJ_IMAP_STATE_FAILED) {
            /* CAPABILITY refused (NO/BAD): nothing is known, STARTTLS included
               (SECURITY-CASES #8); only a session that does not need it goes on */
            if (s->security == MJ_SEC_STARTTLS) {
                char why[sizeof mj_conn_error(c)->message + 32];
                snprintf(why, sizeof why, "the server refused CAPABILITY (%s)",
                         mj_conn_error(c)->message);
                o = starttls_unavailable(s, why);
            } else {
                mj_error_clear(mj_conn_error(c));
                o = MJ_OK;
            }
        }
    }
    if (o == MJ_OK)
        o = negotiate_tls(s);
    if (o != MJ_OK) {
        if (err != NULL)
            *err = *mj_conn_error(c);
        mj_imap_close(s);
        return o;
    }
    *s_out = s;
    return MJ_OK;
}

mj_outcome mj_imap_connect(const mj_conn_config *cfg, const mj_imap_options *opts,
                           mj_imap **s_out, mj_error *err)
{
    *s_out = NULL;
    mj_conn *c = NULL;
    mj_outcome o = mj_conn_open(cfg, &c, err);
    if (o != MJ_OK)
        return o;
    return mj_imap_start(c, cfg->security, opts, s_out, err);
}

void mj_imap_close(mj_imap *s)
{
    if (s == NULL)
        return;
    mj_conn_close(s->conn);
    mj_imap_parser_free(s->parser);
    free(s->modified);
    imap_decoder_free(&s->decoder);
    free(s);
}

/* ---- accessors ---------------------------------------------------------------------------------- */

const mj_imap_caps *mj_imap_capabilities(const mj_imap *s)
{
    return &s->caps;
}

mj_imap_state mj_imap_get_state(const mj_imap *s)
{
    return s->state;
}

mj_error *mj_imap_error(mj_imap *s)
{
    return mj_conn_error(s->conn);
}

mj_conn *mj_imap_conn(mj_imap *s)
{
    return s->conn;
}

const char *mj_imap_greeting(const mj_imap *s)
{
    return s->greeting;
}

const char *mj_imap_alert(const mj_imap *s, bool *untrusted_out)
{
    if (untrusted_out != NULL)
        *untrusted_out = s->alert_untrusted;
    return s->alert;
}

const mj_imap_mailbox_info *mj_imap_selected(const mj_imap *s)
{
    return s->has_selected ? &s->sel : NULL;
}
