/*
 * imap/mailbox.c: IMAP commands about the session and mailboxes.
 *
 * RFC 2971 (ID), RFC 5161 (ENABLE), RFC 2342 (NAMESPACE), RFC 9051 §6.3
 * (SELECT, EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST,
 * STATUS), RFC 3501 §6.3.9 (LSUB), RFC 5258 / RFC 6154 (LIST return
 * options), RFC 9051 §6.4 (CLOSE, UNSELECT, EXPUNGE), RFC 3501 §6.4.1
 * (CHECK).  Mailbox names cross the wire in modified UTF-7 (RFC 3501
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

/* A mailbox name from the server, as UTF-8 (escaped when it cannot be decoded). */
static void mailbox_name(mj_imap *s, const mj_imap_node *n, char *out, size_t size)
{
    mj_error ignored;
    if (s->utf8 || mj_imap_utf7_decode(n->str, n->len, out, size, &ignored) != MJ_OK)
        mj_escape(n->str, n->len, out, size);
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
    const mj_imap_node *delim = desc != NULL ? desc->next : NULL;
    if (!is_string(desc) || delim == NULL ||
        !(delim->kind == MJ_IMAP_NIL || (delim->kind == MJ_IMAP_QUOTED && delim->len == 1)))
        return false;
    e->present = true;
    mailbox_name(s, desc, e->prefix, sizeof e->prefix);
    e->delimiter = delim->kind == MJ_IMAP_NIL ? '\0' : delim->str[0];
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

/* ---- LIST, LSUB ------------------------------------------------------------------------------ */

typedef struct list_ctx {
    const char *verb;
    mj_imap_list_fn fn;
    void *ctx;
} list_ctx;

/* mailbox-list = "(" [mbx-list-flags] ")" SP (DQUOTE QUOTED-CHAR DQUOTE / nil) SP mailbox [SP ext] */
static mj_outcome list_hook(mj_imap *s, void *ctx, const mj_imap_response *r)
{
    list_ctx *lc = ctx;
    if (strcasecmp(r->name, lc->verb) != 0)
        return MJ_OK;
    const mj_imap_node *attrs = r->data;
    const mj_imap_node *delim = attrs != NULL ? attrs->next : NULL;
    const mj_imap_node *name = delim != NULL ? delim->next : NULL;
    if (attrs == NULL || attrs->kind != MJ_IMAP_LIST || delim == NULL || !is_string(name) ||
        !(delim->kind == MJ_IMAP_NIL || (delim->kind == MJ_IMAP_QUOTED && delim->len == 1)))
        return malformed(s, lc->verb);
    const char *list[IMAP_LIST_ATTRS_MAX];
    mj_imap_list_entry e = {.attributes = list};
    for (const mj_imap_node *a = attrs->first; a != NULL && e.n_attributes < IMAP_LIST_ATTRS_MAX;
         a = a->next) {
        if (a->kind == MJ_IMAP_ATOM)
            list[e.n_attributes++] = a->str;
    }
    char decoded[MJ_IMAP_MAILBOX_MAX];
    mailbox_name(s, name, decoded, sizeof decoded);
    e.name = decoded;
    e.delimiter = delim->kind == MJ_IMAP_NIL ? '\0' : delim->str[0];
    return lc->fn != NULL ? lc->fn(lc->ctx, &e) : MJ_OK;
}

mj_outcome mj_imap_list(mj_imap *s, const char *reference, const char *pattern, bool lsub,
                        mj_imap_list_fn fn, void *ctx)
{
    list_ctx lc = {lsub ? "LSUB" : "LIST", fn, ctx};
    bool special = !lsub && (s->caps.bits & MJ_IMAP_CAP_SPECIAL_USE) &&
                   (s->caps.bits & MJ_IMAP_CAP_LIST_EXTENDED);
    imap_part parts[] = {
        {IMAP_P_MAILBOX, reference != NULL ? reference : "", false, "reference", false},
        {IMAP_P_MAILBOX, pattern != NULL ? pattern : "*", false, "pattern", false},
        {IMAP_P_RAW, "RETURN (SPECIAL-USE)", false, "return options", false},
    };
    return imap_run(s, lsub ? IMAP_CMD_LSUB : IMAP_CMD_LIST, parts, special ? 3 : 2, list_hook, &lc,
                    MJ_SERVER_REFUSED, NULL);
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

static const struct {
    const char *name;
    size_t offset;
} status_items[] = {
    {"MESSAGES", offsetof(mj_imap_mailbox_info, exists)},
    {"RECENT", offsetof(mj_imap_mailbox_info, recent)},
    {"UNSEEN", offsetof(mj_imap_mailbox_info, unseen)},
    {"UIDNEXT", offsetof(mj_imap_mailbox_info, uidnext)},
    {"UIDVALIDITY", offsetof(mj_imap_mailbox_info, uidvalidity)},
    {"HIGHESTMODSEQ", offsetof(mj_imap_mailbox_info, highestmodseq)},
};

/* status-response = "STATUS" SP mailbox SP "(" [status-att-val *(SP status-att-val)] ")" */
static mj_outcome status_hook(mj_imap *s, void *ctx, const mj_imap_response *r)
{
    mj_imap_mailbox_info *m = ctx;
    if (strcasecmp(r->name, "STATUS") != 0)
        return MJ_OK;
    const mj_imap_node *list = r->data != NULL ? r->data->next : NULL;
    if (!is_string(r->data) || list == NULL || list->kind != MJ_IMAP_LIST || list->count % 2 != 0)
        return malformed(s, "STATUS");
    for (const mj_imap_node *a = list->first; a != NULL && a->next != NULL; a = a->next->next) {
        if (a->next->kind != MJ_IMAP_NUMBER)
            return malformed(s, "STATUS");
        for (size_t i = 0; i < sizeof status_items / sizeof status_items[0]; i++) {
            if (mj_imap_node_is(a, status_items[i].name))
                *(int64_t *)(void *)((char *)m + status_items[i].offset) = (int64_t)a->next->num;
        }
    }
    return MJ_OK;
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
    return imap_run(s, IMAP_CMD_STATUS, parts, 2, status_hook, m, MJ_SERVER_REFUSED, NULL);
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
