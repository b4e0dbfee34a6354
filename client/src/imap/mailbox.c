/*
 * imap/mailbox.c: IMAP commands about the session and mailboxes.
 *
 * RFC 2971 (ID), RFC 5161 (ENABLE), RFC 2342 (NAMESPACE), RFC 9051 §6.3
 * (SELECT, EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST,
 * STATUS), RFC 3501 §6.3.9 (LSUB), RFC 5258 (LIST-EXTENDED: selection and
 * return options, CHILDINFO), RFC 6154 (SPECIAL-USE), RFC 5819 (LIST-STATUS:
 * the STATUS after each LIST goes with its entry), RFC 7162 §3.1.6 and
 * RFC 8438 (STATUS HIGHESTMODSEQ, SIZE), RFC 9051 §6.4 (CLOSE, UNSELECT,
 * EXPUNGE), RFC 3501 §6.4.1 (CHECK).  Mailbox names cross the wire in modified UTF-7 (RFC 3501
 * §5.1.3) unless UTF8=ACCEPT is enabled (RFC 6855).
 */
#include "imap/imap_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ID pairs one command may carry (RFC 2971 §3.3: at most 30). */
#define IMAP_ID_PAIRS_MAX 30
/* ENABLE names one command may carry. */
#define IMAP_ENABLE_MAX 16
/* Attributes of one LIST entry passed to the callback; more are dropped. */
#define IMAP_LIST_ATTRS_MAX 32

static mj_outcome malformed(mj_imap *s, const char *what)
{
    imap_set_state(s, MJ_IMAP_STATE_FAILED);
    return mj_error_set(mj_conn_error(s->conn), MJ_PROTOCOL_ERROR, MJ_R_MALFORMED,
                        "malformed %s response", what);
}

static bool is_string(const mj_imap_node *n)
{
    return n != NULL && (n->kind == MJ_IMAP_QUOTED || n->kind == MJ_IMAP_ATOM ||
                         n->kind == MJ_IMAP_NUMBER || (n->kind == MJ_IMAP_LITERAL && !n->streamed));
}

/*
 * mailbox = "INBOX" / astring (RFC 9051 §9): an atom NIL is the mailbox named
 * "NIL", not nil (Dovecot lists one so: corpus dovecot/list-personal.txt).
 */
static bool is_mailbox(const mj_imap_node *n)
{
    return is_string(n) || (n != NULL && n->kind == MJ_IMAP_NIL);
}

/* True if p[0..n) is UTF-8 without control bytes: safe to hand over as it is. */
static bool plain_utf8(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return imap_utf8_valid(p, n);
}

/* A mailbox name from the server, as UTF-8: decoded from modified UTF-7, or with
 * UTF8=ACCEPT / IMAP4rev2 as sent; escaped when it cannot be decoded (or is too long). */
static void mailbox_name(mj_imap *s, const mj_imap_node *n, char *out, size_t size)
{
    mj_error ignored;
    if (s->utf8 && n->len < size && plain_utf8(n->str, n->len)) {
        memcpy(out, n->str, n->len);
        out[n->len] = '\0';
    } else if (s->utf8 || mj_imap_utf7_decode(n->str, n->len, out, size, &ignored) != MJ_OK) {
        mj_escape(n->str, n->len, out, size);
    }
}

/* ---- ID, ENABLE, NAMESPACE ---------------------------------------------------------------- */

mj_outcome mj_imap_id(mj_imap *s, const char *const *fields, const char *const *values, size_t n)
{
    if (n > IMAP_ID_PAIRS_MAX)
        return mj_error_set(mj_conn_error(s->conn), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "ID takes at most %d pairs", IMAP_ID_PAIRS_MAX);
    imap_part parts[2 * IMAP_ID_PAIRS_MAX + 2];
    size_t k = 0;
    parts[k++] = (imap_part){IMAP_P_RAW, n == 0 ? "NIL" : "(", false, "ID", false};
    for (size_t i = 0; i < n; i++) {
        parts[k++] = (imap_part){IMAP_P_STRING, fields[i], false, "ID field", i == 0};
        parts[k++] = values[i] != NULL ? (imap_part){IMAP_P_STRING, values[i], false, "ID value", false}
                                       : (imap_part){IMAP_P_RAW, "NIL", false, "ID value", false};
    }
    if (n > 0)
        parts[k++] = (imap_part){IMAP_P_RAW, ")", false, "ID", true};
    return imap_run(s, IMAP_CMD_ID, parts, k, NULL, NULL, MJ_SERVER_REFUSED, NULL);
}

static mj_outcome enabled_hook(mj_imap *s, void *ctx, const mj_imap_response *r)
{
    uint32_t *bits = ctx;
    if (strcasecmp(r->name, "ENABLED") != 0)
        return MJ_OK;
    mj_imap_caps keep = s->caps; /* reuse the capability table on a scratch copy */
    imap_caps_from_nodes(s, r->data);
    *bits |= s->caps.bits;
    s->caps = keep;
    s->enabled |= *bits;
    if (*bits & MJ_IMAP_CAP_QRESYNC) /* RFC 7162 3.2.3: QRESYNC implies CONDSTORE */
        s->enabled |= MJ_IMAP_CAP_CONDSTORE;
    return MJ_OK;
}

mj_outcome mj_imap_enable(mj_imap *s, const char *const *names, size_t n, uint32_t *enabled_out)
{
    if (n == 0 || n > IMAP_ENABLE_MAX)
        return mj_error_set(mj_conn_error(s->conn), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "ENABLE takes 1 to %d capability names", IMAP_ENABLE_MAX);
    imap_part parts[IMAP_ENABLE_MAX];
    for (size_t i = 0; i < n; i++) {
        if (imap_check_arg(s, "ENABLE name", names[i]) != MJ_OK)
            return MJ_USAGE;
        if (imap_str_form_of(names[i], strlen(names[i]), true, false) != IMAP_STR_ATOM)
            return mj_error_set(mj_conn_error(s->conn), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                                "an ENABLE name must be an atom; nothing was sent");
        parts[i] = (imap_part){IMAP_P_RAW, names[i], false, "ENABLE name", false};
    }
    uint32_t bits = 0;
    mj_outcome o = imap_run(s, IMAP_CMD_ENABLE, parts, n, enabled_hook, &bits, MJ_SERVER_REFUSED, NULL);
    if (enabled_out != NULL)
        *enabled_out = bits;
    return o;
}

typedef enum delim_kind { DELIM_BAD = 0, DELIM_OK, DELIM_EMPTY_STRICT } delim_kind;

/*
 * A hierarchy delimiter (LIST, NAMESPACE): DQUOTE QUOTED-CHAR DQUOTE, or NIL
 * for none; "" (flat namespaces, corpus common/list-nil-folder-delim.txt) is
 * none too unless strict (IMAP_TOL_EMPTY_DELIMITER).  *out: the character or '\0'.
 */
static delim_kind delimiter_of(mj_imap *s, const mj_imap_node *d, char *out)
{
    *out = '\0';
    if (d == NULL)
        return DELIM_BAD;
    if (d->kind == MJ_IMAP_NIL)
        return DELIM_OK;
    if (d->kind != MJ_IMAP_QUOTED || d->len > 1)
        return DELIM_BAD;
    if (d->len == 0) {
        if ((s->decoder.tolerances & IMAP_TOL_EMPTY_DELIMITER) == 0)
            return DELIM_EMPTY_STRICT;
        s->decoder.used |= IMAP_TOL_EMPTY_DELIMITER;
        return DELIM_OK;
    }
    *out = d->str[0];
    return DELIM_OK;
}

/* One namespace kind: NIL or ((prefix delim [ext]) ...); the first is kept. */
static bool namespace_entry(mj_imap *s, const mj_imap_node *n, mj_imap_namespace_entry *e)
{
    memset(e, 0, sizeof *e);
    if (n == NULL)
        return false;
    if (n->kind == MJ_IMAP_NIL)
        return true;
    if (n->kind != MJ_IMAP_LIST || n->first == NULL || n->first->kind != MJ_IMAP_LIST)
        return false;
    const mj_imap_node *desc = n->first->first;
    if (!is_string(desc) || delimiter_of(s, desc->next, &e->delimiter) != DELIM_OK)
        return false;
    e->present = true;
    mailbox_name(s, desc, e->prefix, sizeof e->prefix);
    return true;
}

static mj_outcome namespace_hook(mj_imap *s, void *ctx, const mj_imap_response *r)
{
    mj_imap_namespaces *ns = ctx;
    if (strcasecmp(r->name, "NAMESPACE") != 0)
        return MJ_OK;
    const mj_imap_node *n = r->data;
    if (!namespace_entry(s, n, &ns->personal) ||
        !namespace_entry(s, n ? n->next : NULL, &ns->other) ||
        !namespace_entry(s, n && n->next ? n->next->next : NULL, &ns->shared))
        return malformed(s, "NAMESPACE");
    return MJ_OK;
}

mj_outcome mj_imap_namespace(mj_imap *s, mj_imap_namespaces *out)
{
    mj_imap_namespaces local;
    memset(out != NULL ? out : &local, 0, sizeof local);
    return imap_run(s, IMAP_CMD_NAMESPACE, NULL, 0, namespace_hook, out != NULL ? out : &local,
                    MJ_SERVER_REFUSED, NULL);
}

/* ---- STATUS data (shared by STATUS and LIST-STATUS) ----------------------------------------- */

/* What a LIST option or STATUS item needs from the server (need_table). */
typedef enum imap_need {
    NEED_NONE = 0,
    NEED_LIST_EXTENDED,
    NEED_SPECIAL_USE,
    NEED_LIST_STATUS,
    NEED_CONDSTORE,
    NEED_STATUS_SIZE,
    NEED_REV2,
    NEED_REV1
} imap_need;

/*
 * Offered on a rev2 session: !not_rev2 && (in_rev2 || caps); on rev1:
 * rev1_ok && caps, where caps = every bit advertised and the name (if any).
 * RFC 9051 took LIST-EXTENDED, LIST-STATUS, SPECIAL-USE and STATUS SIZE and
 * DELETED into the base protocol and removed STATUS RECENT.
 */
static const struct {
    uint32_t bits;
    const char *name;
    bool in_rev2, not_rev2, rev1_ok;
    const char *what;
} need_table[] = {
    [NEED_NONE] = {0, NULL, true, false, true, ""},
    [NEED_LIST_EXTENDED] = {MJ_IMAP_CAP_LIST_EXTENDED, NULL, true, false, true,
                            "LIST-EXTENDED (RFC 5258)"},
    [NEED_SPECIAL_USE] = {MJ_IMAP_CAP_SPECIAL_USE | MJ_IMAP_CAP_LIST_EXTENDED, NULL, true, false,
                          true, "SPECIAL-USE with LIST-EXTENDED (RFC 6154)"},
    [NEED_LIST_STATUS] = {MJ_IMAP_CAP_LIST_STATUS, NULL, true, false, true, "LIST-STATUS (RFC 5819)"},
    [NEED_CONDSTORE] = {MJ_IMAP_CAP_CONDSTORE, NULL, false, false, true, "CONDSTORE (RFC 7162)"},
    [NEED_STATUS_SIZE] = {0, "STATUS=SIZE", true, false, true, "STATUS=SIZE (RFC 8438) or IMAP4rev2"},
    [NEED_REV2] = {0, NULL, true, false, false, "IMAP4rev2 (RFC 9051)"},
    [NEED_REV1] = {0, NULL, false, true, true, "IMAP4rev1 (RFC 9051 removed STATUS RECENT)"},
};

static bool offered(const mj_imap *s, imap_need need)
{
    bool caps = (s->caps.bits & need_table[need].bits) == need_table[need].bits &&
                (need_table[need].name == NULL || mj_imap_has_capability(s, need_table[need].name));
    if (s->rev2)
        return !need_table[need].not_rev2 && (need_table[need].in_rev2 || caps);
    return need_table[need].rev1_ok && caps;
}

static mj_outcome not_offered(mj_imap *s, const char *option, imap_need need)
{
    return mj_error_set(mj_conn_error(s->conn), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                        "%s needs %s, which this session does not have; nothing was sent", option,
                        need_table[need].what);
}

/* status-att (RFC 9051 §6.3.11, RFC 7162 §3.1.6, RFC 8438); any other item is skipped. */
static const struct {
    const char *name;
    unsigned bit; /* mj_imap_status_item */
    size_t offset;
    imap_need need;
} status_items[] = {
    {"MESSAGES", MJ_IMAP_STATUS_MESSAGES, offsetof(mj_imap_status_values, messages), NEED_NONE},
    {"RECENT", MJ_IMAP_STATUS_RECENT, offsetof(mj_imap_status_values, recent), NEED_REV1},
    {"UIDNEXT", MJ_IMAP_STATUS_UIDNEXT, offsetof(mj_imap_status_values, uidnext), NEED_NONE},
    {"UIDVALIDITY", MJ_IMAP_STATUS_UIDVALIDITY, offsetof(mj_imap_status_values, uidvalidity),
     NEED_NONE},
    {"UNSEEN", MJ_IMAP_STATUS_UNSEEN, offsetof(mj_imap_status_values, unseen), NEED_NONE},
    {"HIGHESTMODSEQ", MJ_IMAP_STATUS_HIGHESTMODSEQ,
     offsetof(mj_imap_status_values, highestmodseq), NEED_CONDSTORE},
    {"SIZE", MJ_IMAP_STATUS_SIZE, offsetof(mj_imap_status_values, size), NEED_STATUS_SIZE},
    {"DELETED", MJ_IMAP_STATUS_DELETED, offsetof(mj_imap_status_values, deleted), NEED_REV2},
};
#define STATUS_ITEMS (sizeof status_items / sizeof status_items[0])

static void status_reset(mj_imap_status_values *v)
{
    v->messages = v->recent = v->uidnext = v->uidvalidity = v->unseen = v->highestmodseq =
        v->size = v->deleted = -1;
}

/*
 * status-response = "STATUS" SP mailbox SP "(" [status-att-val *(SP status-att-val)] ")"
 * status-att-val  = status-att SP number (RFC 9051 §9); items of other
 * extensions (APPENDLIMIT NIL, MAILBOXID (id): Gmail, status-inbox-appendlimit-nil)
 * are skipped whatever their value.  name gets the mailbox as UTF-8.
 */
static mj_outcome status_parse(mj_imap *s, const mj_imap_response *r, char *name, size_t size,
                               mj_imap_status_values *v)
{
    const mj_imap_node *list = r->data != NULL ? r->data->next : NULL;
    status_reset(v);
    if (!is_mailbox(r->data) || list == NULL || list->kind != MJ_IMAP_LIST || list->count % 2 != 0)
        return malformed(s, "STATUS");
    mailbox_name(s, r->data, name, size);
    for (const mj_imap_node *a = list->first; a != NULL && a->next != NULL; a = a->next->next) {
        for (size_t i = 0; i < STATUS_ITEMS; i++) {
            if (!mj_imap_node_is(a, status_items[i].name))
                continue;
            if (a->next->kind != MJ_IMAP_NUMBER)
                return malformed(s, "STATUS");
            *(int64_t *)(void *)((char *)v + status_items[i].offset) = (int64_t)a->next->num;
        }
    }
    return MJ_OK;
}

/* ---- LIST, LSUB ------------------------------------------------------------------------------ */

/* Bytes of attribute and CHILDINFO text kept with the entry waiting for its STATUS. */
#define IMAP_LIST_TEXT_KEEP 2048
/* CHILDINFO values of one entry passed to the callback; more are dropped. */
#define IMAP_LIST_CHILDINFO_MAX 8
/* "LIST (...)" selection options and "RETURN (...)" return options as sent. */
#define IMAP_LIST_OPTIONS_MAX 256

/* The last LIST entry, copied out of the parser's arena until the next response. */
typedef struct list_pending {
    bool present;
    char name[MJ_IMAP_MAILBOX_MAX];
    char delimiter;
    size_t n_attrs, n_child, used;
    const char *attrs[IMAP_LIST_ATTRS_MAX];
    const char *child[IMAP_LIST_CHILDINFO_MAX];
    char text[IMAP_LIST_TEXT_KEEP];
    bool has_status;
    mj_imap_status_values status;
} list_pending;

typedef struct list_ctx {
    const char *verb;
    bool status;  /* RETURN (STATUS ...) asked: STATUS responses belong to entries */
    bool stopped; /* fn returned an error: nothing more reaches it */
    mj_imap_list_fn fn;
    void *ctx;
    list_pending p;
} list_ctx;

/* A copy of str in p->text, or NULL when full (the item is then dropped). */
static const char *keep(list_pending *p, const char *str)
{
    size_t n = strlen(str) + 1;
    if (n > sizeof p->text - p->used)
        return NULL;
    char *d = memcpy(p->text + p->used, str, n);
    p->used += n;
    return d;
}

/* Give the pending entry to the caller; an outcome it returns without an error set
 * gets one (the engine reports the session's error). */
static mj_outcome list_flush(mj_imap *s, list_ctx *lc)
{
    list_pending *p = &lc->p;
    if (!p->present || lc->stopped)
        return MJ_OK;
    p->present = false;
    mj_imap_list_entry e = {p->name, p->delimiter, p->n_attrs, p->attrs,
                            p->has_status, p->status, p->n_child, p->child};
    mj_outcome o = lc->fn != NULL ? lc->fn(lc->ctx, &e) : MJ_OK;
    lc->stopped = o != MJ_OK;
    if (o != MJ_OK && mj_conn_error(s->conn)->outcome != o)
        mj_error_set(mj_conn_error(s->conn), o, MJ_R_NONE, "the LIST callback stopped the listing (%s)",
                     mj_outcome_name(o));
    return o;
}

/*
 * mbox-list-extended      = "(" [mbox-list-extended-item *(SP mbox-list-extended-item)] ")"
 * mbox-list-extended-item = mbox-list-extended-item-tag SP tagged-ext-val
 * childinfo-extended-item = "CHILDINFO" SP "(" list-select-base-opt-quoted
 *                           *(SP list-select-base-opt-quoted) ")"      (RFC 5258 §9)
 * Other tags (OLDNAME ...) are skipped.
 */
static mj_outcome list_extended(mj_imap *s, list_ctx *lc, const mj_imap_node *ext)
{
    list_pending *p = &lc->p;
    if (ext->kind != MJ_IMAP_LIST || ext->count % 2 != 0)
        return malformed(s, "LIST extended data");
    for (const mj_imap_node *t = ext->first; t != NULL; t = t->next->next) {
        if (!is_string(t))
            return malformed(s, "LIST extended data");
        if (strcasecmp(t->str, "CHILDINFO") != 0)
            continue;
        const mj_imap_node *v = t->next;
        if (v->kind != MJ_IMAP_LIST || v->first == NULL)
            return malformed(s, "LIST CHILDINFO");
        for (const mj_imap_node *c = v->first; c != NULL; c = c->next) {
            if (!is_string(c))
                return malformed(s, "LIST CHILDINFO");
            const char *k = p->n_child < IMAP_LIST_CHILDINFO_MAX ? keep(p, c->str) : NULL;
            if (k != NULL)
                p->child[p->n_child++] = k;
        }
    }
    return MJ_OK;
}

/* mailbox-list = "(" [mbx-list-flags] ")" SP (DQUOTE QUOTED-CHAR DQUOTE / nil) SP mailbox
 *                [SP mbox-list-extended] */
static mj_outcome list_entry(mj_imap *s, list_ctx *lc, const mj_imap_response *r)
{
    const mj_imap_node *attrs = r->data;
    const mj_imap_node *delim = attrs != NULL ? attrs->next : NULL;
    const mj_imap_node *name = delim != NULL ? delim->next : NULL;
    char delimiter = '\0';
    delim_kind dk = delimiter_of(s, delim, &delimiter);
    if (dk == DELIM_EMPTY_STRICT)
        return malformed(s, "LIST (the delimiter \"\": strict, tolerance empty-delimiter is off)");
    if (attrs == NULL || attrs->kind != MJ_IMAP_LIST || dk != DELIM_OK || !is_mailbox(name))
        return malformed(s, lc->verb);
    list_pending *p = &lc->p;
    memset(p, 0, offsetof(list_pending, name));
    p->used = p->n_attrs = p->n_child = 0;
    p->has_status = false;
    status_reset(&p->status);
    for (const mj_imap_node *a = attrs->first; a != NULL && p->n_attrs < IMAP_LIST_ATTRS_MAX;
         a = a->next) {
        const char *k = a->kind == MJ_IMAP_ATOM ? keep(p, a->str) : NULL;
        if (k != NULL)
            p->attrs[p->n_attrs++] = k;
    }
    mailbox_name(s, name, p->name, sizeof p->name);
    p->delimiter = delimiter;
    if (name->next != NULL) {
        mj_outcome o = list_extended(s, lc, name->next);
        if (o != MJ_OK)
            return o;
    }
    p->present = true;
    return MJ_OK;
}

/* A STATUS right after a LIST belongs to that entry (RFC 5819 §2); others are checked only. */
static mj_outcome list_status(mj_imap *s, list_ctx *lc, const mj_imap_response *r)
{
    char name[MJ_IMAP_MAILBOX_MAX];
    mj_imap_status_values v;
    mj_outcome o = status_parse(s, r, name, sizeof name, &v);
    if (o == MJ_OK && lc->p.present && !lc->p.has_status && strcmp(name, lc->p.name) == 0) {
        lc->p.has_status = true;
        lc->p.status = v;
    }
    return o;
}

static mj_outcome list_hook(mj_imap *s, void *ctx, const mj_imap_response *r)
{
    list_ctx *lc = ctx;
    if (lc->status && !r->has_number && strcasecmp(r->name, "STATUS") == 0)
        return list_status(s, lc, r);
    if (strcasecmp(r->name, lc->verb) != 0)
        return MJ_OK;
    mj_outcome o = list_flush(s, lc);
    return o != MJ_OK ? o : list_entry(s, lc, r);
}

/* LIST-EXTENDED options: name, bit, what the server must offer. */
typedef struct list_option {
    const char *name;
    unsigned bit;
    imap_need need;
} list_option;

static const list_option select_options[] = {
    {"SUBSCRIBED", MJ_IMAP_LIST_SEL_SUBSCRIBED, NEED_LIST_EXTENDED},
    {"REMOTE", MJ_IMAP_LIST_SEL_REMOTE, NEED_LIST_EXTENDED},
    {"RECURSIVEMATCH", MJ_IMAP_LIST_SEL_RECURSIVEMATCH, NEED_LIST_EXTENDED},
    {"SPECIAL-USE", MJ_IMAP_LIST_SEL_SPECIAL_USE, NEED_SPECIAL_USE},
};
static const list_option return_options[] = {
    {"SUBSCRIBED", MJ_IMAP_LIST_RET_SUBSCRIBED, NEED_LIST_EXTENDED},
    {"CHILDREN", MJ_IMAP_LIST_RET_CHILDREN, NEED_LIST_EXTENDED},
    {"SPECIAL-USE", MJ_IMAP_LIST_RET_SPECIAL_USE, NEED_SPECIAL_USE},
};

/* Append the names of table rows in bits to out ("A B"); MJ_USAGE for one not offered or
 * a bit no row has. */
static mj_outcome option_words(mj_imap *s, const char *kind, const list_option *table, size_t n,
                               unsigned bits, char *out, size_t size)
{
    unsigned known = 0;
    for (size_t i = 0; i < n; i++) {
        known |= table[i].bit;
        if ((bits & table[i].bit) == 0)
            continue;
        char what[64];
        snprintf(what, sizeof what, "the LIST %s option %s", kind, table[i].name);
        if (!offered(s, table[i].need))
            return not_offered(s, what, table[i].need);
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%s", used > 0 && out[used - 1] != '(' ? " " : "",
                 table[i].name);
    }
    if ((bits & ~known) != 0)
        return mj_error_set(mj_conn_error(s->conn), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "unknown LIST %s option bits 0x%x; nothing was sent", kind,
                            bits & ~known);
    return MJ_OK;
}

/* "STATUS (MESSAGES UNSEEN)" appended to out for the status item bits. */
static mj_outcome status_words(mj_imap *s, unsigned bits, char *out, size_t size)
{
    unsigned known = 0;
    if (!offered(s, NEED_LIST_STATUS))
        return not_offered(s, "the LIST return option STATUS", NEED_LIST_STATUS);
    size_t used = strlen(out);
    snprintf(out + used, size - used, "%sSTATUS (", used > 0 ? " " : "");
    for (size_t i = 0; i < STATUS_ITEMS; i++) {
        known |= status_items[i].bit;
        if ((bits & status_items[i].bit) == 0)
            continue;
        char what[64];
        snprintf(what, sizeof what, "the STATUS item %s", status_items[i].name);
        if (!offered(s, status_items[i].need))
            return not_offered(s, what, status_items[i].need);
        used = strlen(out);
        snprintf(out + used, size - used, "%s%s", out[used - 1] == '(' ? "" : " ",
                 status_items[i].name);
    }
    if ((bits & ~known) != 0)
        return mj_error_set(mj_conn_error(s->conn), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "unknown STATUS item bits 0x%x; nothing was sent", bits & ~known);
    used = strlen(out);
    snprintf(out + used, size - used, ")");
    return MJ_OK;
}

/* LIST [(select)] reference pattern [RETURN (return)], or LSUB reference pattern. */
static mj_outcome list_run(mj_imap *s, const char *reference, const char *pattern, bool lsub,
                           const mj_imap_list_options *opts, mj_imap_list_fn fn, void *ctx)
{
    static const mj_imap_list_options none = {0, 0, 0};
    char sel[IMAP_LIST_OPTIONS_MAX] = "", ret[IMAP_LIST_OPTIONS_MAX] = "";
    if (opts == NULL)
        opts = &none;
    mj_outcome o = option_words(s, "selection", select_options,
                                sizeof select_options / sizeof select_options[0], opts->select,
                                sel, sizeof sel);
    if (o == MJ_OK)
        o = option_words(s, "return", return_options,
                         sizeof return_options / sizeof return_options[0], opts->ret, ret,
                         sizeof ret);
    if (o == MJ_OK && opts->status != 0)
        o = status_words(s, opts->status, ret, sizeof ret);
    if (o != MJ_OK)
        return o;
    /* RFC 5258 §3.1: RECURSIVEMATCH refines another selection option, REMOTE does not count */
    if ((opts->select & MJ_IMAP_LIST_SEL_RECURSIVEMATCH) &&
        !(opts->select & (MJ_IMAP_LIST_SEL_SUBSCRIBED | MJ_IMAP_LIST_SEL_SPECIAL_USE)))
        return mj_error_set(mj_conn_error(s->conn), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "the LIST selection option RECURSIVEMATCH needs SUBSCRIBED or "
                            "SPECIAL-USE with it (RFC 5258 section 3.1); nothing was sent");
    char sel_wire[IMAP_LIST_OPTIONS_MAX + 2], ret_wire[IMAP_LIST_OPTIONS_MAX + 10];
    snprintf(sel_wire, sizeof sel_wire, "(%s)", sel);
    snprintf(ret_wire, sizeof ret_wire, "RETURN (%s)", ret);
    imap_part parts[4];
    size_t n = 0;
    if (sel[0] != '\0')
        parts[n++] = (imap_part){IMAP_P_RAW, sel_wire, false, "selection options", false};
    parts[n++] = (imap_part){IMAP_P_MAILBOX, reference != NULL ? reference : "", false,
                             "reference", false};
    parts[n++] = (imap_part){IMAP_P_MAILBOX, pattern != NULL ? pattern : "*", false, "pattern",
                             false};
    if (ret[0] != '\0')
        parts[n++] = (imap_part){IMAP_P_RAW, ret_wire, false, "return options", false};
    list_ctx *lc = calloc(1, sizeof *lc); /* the pending entry is ~7 KB */
    if (lc == NULL)
        return mj_error_set(mj_conn_error(s->conn), MJ_INTERNAL, MJ_R_NO_MEMORY, "out of memory");
    lc->verb = lsub ? "LSUB" : "LIST";
    lc->status = opts->status != 0;
    lc->fn = fn;
    lc->ctx = ctx;
    o = imap_run(s, lsub ? IMAP_CMD_LSUB : IMAP_CMD_LIST, parts, n, list_hook, lc,
                 MJ_SERVER_REFUSED, NULL);
    /* the last entry waited for a STATUS that could follow it; on a refusal the entries
       before it were given, so it is too */
    if (s->state != MJ_IMAP_STATE_FAILED) {
        mj_error kept = *mj_conn_error(s->conn);
        mj_outcome f = list_flush(s, lc);
        if (o == MJ_OK)
            o = f;
        else
            *mj_conn_error(s->conn) = kept;
    }
    free(lc);
    return o;
}

mj_outcome mj_imap_list(mj_imap *s, const char *reference, const char *pattern, bool lsub,
                        mj_imap_list_fn fn, void *ctx)
{
    mj_imap_list_options opts = {0, 0, 0};
    if (!lsub && (s->caps.bits & MJ_IMAP_CAP_SPECIAL_USE) &&
        (s->caps.bits & MJ_IMAP_CAP_LIST_EXTENDED))
        opts.ret = MJ_IMAP_LIST_RET_SPECIAL_USE;
    return list_run(s, reference, pattern, lsub, &opts, fn, ctx);
}

mj_outcome mj_imap_list_ex(mj_imap *s, const char *reference, const char *pattern,
                           const mj_imap_list_options *opts, mj_imap_list_fn fn, void *ctx)
{
    return list_run(s, reference, pattern, false, opts, fn, ctx);
}

/* ---- SELECT, EXAMINE, STATUS ---------------------------------------------------------------- */

static void info_reset(mj_imap_mailbox_info *m)
{
    memset(m, 0, sizeof *m);
    m->exists = m->recent = m->unseen = m->uidvalidity = m->uidnext = m->highestmodseq = -1;
}

mj_outcome imap_select(mj_imap *s, const char *mailbox, bool read_only, const char *params,
                       mj_imap_mailbox_info *out)
{
    imap_part parts[] = {{IMAP_P_MAILBOX, mailbox, false, "mailbox name", false},
                         {IMAP_P_RAW, params, false, "select parameters", false}};
    if (imap_check_arg(s, "mailbox name", mailbox) != MJ_OK)
        return MJ_USAGE;
    info_reset(&s->sel);
    s->has_selected = false;
    mj_outcome o = imap_run(s, read_only ? IMAP_CMD_EXAMINE : IMAP_CMD_SELECT, parts,
                            params != NULL ? 2 : 1, NULL, NULL, MJ_SERVER_REFUSED, NULL);
    if (o != MJ_OK) {
        if (s->state == MJ_IMAP_STATE_SELECTED) /* RFC 9051 §6.3.2: a failed SELECT deselects */
            imap_set_state(s, MJ_IMAP_STATE_AUTHENTICATED);
        return o;
    }
    if (read_only)
        s->sel.read_only = true;
    s->has_selected = true;
    imap_set_state(s, MJ_IMAP_STATE_SELECTED);
    if (out != NULL)
        *out = s->sel;
    return MJ_OK;
}

mj_outcome mj_imap_select(mj_imap *s, const char *mailbox, bool read_only, mj_imap_mailbox_info *out)
{
    return imap_select(s, mailbox, read_only, NULL, out);
}

/* STATUS mailbox: the values of the one STATUS response. */
static mj_outcome status_hook(mj_imap *s, void *ctx, const mj_imap_response *r)
{
    if (r->has_number || strcasecmp(r->name, "STATUS") != 0)
        return MJ_OK;
    char name[MJ_IMAP_MAILBOX_MAX];
    return status_parse(s, r, name, sizeof name, ctx);
}

mj_outcome mj_imap_mailbox_status(mj_imap *s, const char *mailbox, mj_imap_mailbox_info *out)
{
    mj_imap_mailbox_info local;
    mj_imap_mailbox_info *m = out != NULL ? out : &local;
    info_reset(m);
    imap_part parts[] = {
        {IMAP_P_MAILBOX, mailbox, false, "mailbox name", false},
        /* RFC 9051 removed RECENT from STATUS: a rev2 session does not ask it */
        {IMAP_P_RAW, s->rev2 ? "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)"
                             : "(MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)", false, "items", false},
    };
    mj_imap_status_values v;
    status_reset(&v);
    mj_outcome o = imap_run(s, IMAP_CMD_STATUS, parts, 2, status_hook, &v, MJ_SERVER_REFUSED, NULL);
    m->exists = v.messages;
    m->recent = v.recent;
    m->uidnext = v.uidnext;
    m->uidvalidity = v.uidvalidity;
    m->unseen = v.unseen;
    m->highestmodseq = v.highestmodseq;
    return o;
}

/* ---- CREATE, DELETE, SUBSCRIBE, UNSUBSCRIBE, RENAME ----------------------------------------- */

mj_outcome mj_imap_mailbox(mj_imap *s, mj_imap_mailbox_cmd cmd, const char *mailbox)
{
    static const imap_cmd cmds[] = {
        [MJ_IMAP_CREATE] = IMAP_CMD_CREATE,
        [MJ_IMAP_DELETE] = IMAP_CMD_DELETE,
        [MJ_IMAP_SUBSCRIBE] = IMAP_CMD_SUBSCRIBE,
        [MJ_IMAP_UNSUBSCRIBE] = IMAP_CMD_UNSUBSCRIBE,
    };
    if ((unsigned)cmd >= sizeof cmds / sizeof cmds[0])
        return mj_error_set(mj_conn_error(s->conn), MJ_USAGE, MJ_R_BAD_ARGUMENT, "bad mailbox command");
    imap_part parts[] = {{IMAP_P_MAILBOX, mailbox, false, "mailbox name", false}};
    return imap_run(s, cmds[cmd], parts, 1, NULL, NULL, MJ_SERVER_REFUSED, NULL);
}

mj_outcome mj_imap_rename(mj_imap *s, const char *from, const char *to)
{
    imap_part parts[] = {
        {IMAP_P_MAILBOX, from, false, "mailbox name", false},
        {IMAP_P_MAILBOX, to, false, "new mailbox name", false},
    };
    return imap_run(s, IMAP_CMD_RENAME, parts, 2, NULL, NULL, MJ_SERVER_REFUSED, NULL);
}

/* ---- CLOSE, UNSELECT, EXPUNGE, CHECK ----------------------------------------------------------- */

mj_outcome mj_imap_selected_command(mj_imap *s, mj_imap_selected_cmd cmd)
{
    static const imap_cmd cmds[] = {
        [MJ_IMAP_CLOSE] = IMAP_CMD_CLOSE,
        [MJ_IMAP_UNSELECT] = IMAP_CMD_UNSELECT,
        [MJ_IMAP_EXPUNGE] = IMAP_CMD_EXPUNGE,
        [MJ_IMAP_CHECK] = IMAP_CMD_CHECK,
    };
    if ((unsigned)cmd >= sizeof cmds / sizeof cmds[0])
        return mj_error_set(mj_conn_error(s->conn), MJ_USAGE, MJ_R_BAD_ARGUMENT, "bad command");
    mj_outcome o = imap_run(s, cmds[cmd], NULL, 0, NULL, NULL, MJ_SERVER_REFUSED, NULL);
    if (o == MJ_OK && (cmd == MJ_IMAP_CLOSE || cmd == MJ_IMAP_UNSELECT)) {
        s->has_selected = false;
        imap_set_state(s, MJ_IMAP_STATE_AUTHENTICATED);
    }
    return o;
}
