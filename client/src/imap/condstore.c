/*
 * imap/condstore.c: CONDSTORE and QRESYNC, and UID EXPUNGE.
 *
 * RFC 7162: §3.1 CONDSTORE (SELECT / EXAMINE (CONDSTORE), FETCH
 * (CHANGEDSINCE), STORE (UNCHANGEDSINCE) and [MODIFIED], MODSEQ,
 * [HIGHESTMODSEQ], [NOMODSEQ]); §3.2 QRESYNC (ENABLE QRESYNC, SELECT /
 * EXAMINE (QRESYNC ...), UID FETCH (... VANISHED), untagged VANISHED
 * [(EARLIER)]).  RFC 5161 (ENABLE).  RFC 4315 §2.1 (UID EXPUNGE), also part
 * of RFC 9051 (IMAP4rev2).
 *
 * Nothing here expands a uid set: the sets the server sends are checked
 * and counted in place (their size is bounded by the parser's line_max;
 * a set whose ranges overlap or come out of order is counted by sorting its
 * ranges), and passed on as text.
 */
#include "imap/imap_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Largest mod-sequence (RFC 7162 mod-sequence-value: 63-bit). */
#define IMAP_MODSEQ_MAX ((uint64_t)INT64_MAX)
/* Escaped server text quoted in a malformed-set message. */
#define IMAP_SET_QUOTE_MAX 64
/* Room for the fixed words of a SELECT / FETCH / STORE parameter list
   around the caller's sets ("(QRESYNC (4294967295 9223372036854775807 " ...). */
#define IMAP_PARAMS_FIXED_MAX 96

/* ---- uid sets ---------------------------------------------------------------------------- */

/* How a uid set is wrong (uid_set_check). */
typedef enum set_error {
    SET_OK = 0,
    SET_EMPTY,
    SET_STAR,     /* '*' (not allowed in a uid set from the server) */
    SET_ZERO,     /* uniqueid is nz-number */
    SET_OVERFLOW, /* over 32 bits */
    SET_SYNTAX
} set_error;

static const char *const set_error_text[] = {
    [SET_OK] = "",
    [SET_EMPTY] = "an empty uid set",
    [SET_STAR] = "'*' is not allowed in a uid set",
    [SET_ZERO] = "UID 0 (a UID is a non-zero number)",
    [SET_OVERFLOW] = "a UID over 32 bits",
    [SET_SYNTAX] = "not a uid set (numbers, ranges a:b, commas)",
};

/* uniqueid = nz-number (RFC 9051, 32 bits): digits at *p, advanced past them. */
static set_error uid_at(const char *text, size_t len, size_t *p, uint32_t *out)
{
    uint64_t v = 0;
    size_t start = *p;
    if (*p < len && text[*p] == '*')
        return SET_STAR;
    while (*p < len && text[*p] >= '0' && text[*p] <= '9') {
        v = v * 10 + (uint64_t)(text[*p] - '0');
        if (v > UINT32_MAX)
            return SET_OVERFLOW;
        (*p)++;
    }
    if (*p == start)
        return SET_SYNTAX;
    if (v == 0)
        return SET_ZERO;
    *out = (uint32_t)v;
    return SET_OK;
}

/*
 * uid-set = (uniqueid / uid-range) *("," uid-set)
 * uid-range = (uniqueid ":" uniqueid)     ; either order (RFC 9051 §9)
 * One range from *p; *p is then past it and past a following ','.
 */
static set_error range_at(const char *text, size_t len, size_t *p, uint32_t *first, uint32_t *last)
{
    uint32_t a = 0, b = 0;
    set_error e = uid_at(text, len, p, &a);
    if (e != SET_OK)
        return e;
    b = a;
    if (*p < len && text[*p] == ':') {
        (*p)++;
        if ((e = uid_at(text, len, p, &b)) != SET_OK)
            return e;
    }
    if (*p < len) {
        if (text[*p] != ',' || *p + 1 == len)
            return text[*p] == '*' ? SET_STAR : SET_SYNTAX;
        (*p)++;
    }
    *first = a < b ? a : b;
    *last = a < b ? b : a;
    return SET_OK;
}

/*
 * Check text[0..len) as a uid set; *count gets the sum of its ranges' sizes,
 * and *ascending whether every range starts after the previous one ends (the
 * sum then counts each UID once).
 */
static set_error uid_set_check(const char *text, size_t len, uint64_t *count, bool *ascending)
{
    *count = 0;
    *ascending = true;
    if (len == 0)
        return SET_EMPTY;
    uint32_t prev_last = 0;
    for (size_t p = 0; p < len;) {
        uint32_t a = 0, b = 0;
        set_error e = range_at(text, len, &p, &a, &b);
        if (e != SET_OK)
            return e;
        *count += (uint64_t)(b - a) + 1;
        if (a <= prev_last)
            *ascending = false;
        prev_last = b;
    }
    return SET_OK;
}

typedef struct uid_range {
    uint32_t first, last;
} uid_range;

static int range_cmp(const void *x, const void *y)
{
    const uid_range *a = x, *b = y;
    return a->first < b->first ? -1 : a->first > b->first;
}

/*
 * The distinct UIDs of a valid uid set whose ranges overlap or come out of
 * order: the ranges sorted and merged (one array of at most len/2 + 1 ranges,
 * never the UIDs).  MJ_INTERNAL when that array cannot be had.
 */
static mj_outcome distinct_uids(mj_imap *s, const char *text, size_t len, uint64_t *count)
{
    size_t cap = len / 2 + 1, n = 0;
    uid_range *r = malloc(cap * sizeof *r);
    if (r == NULL)
        return imap_fail_if_fatal(s, mj_error_set(mj_conn_error(s->conn), MJ_INTERNAL,
                                                  MJ_R_NO_MEMORY, "out of memory"));
    for (size_t p = 0; p < len && n < cap; n++)
        (void)range_at(text, len, &p, &r[n].first, &r[n].last);
    qsort(r, n, sizeof *r, range_cmp);
    *count = 0;
    uint32_t first = r[0].first, last = r[0].last;
    for (size_t i = 1; i <= n; i++) {
        if (i < n && r[i].first <= last) { /* overlaps the current run (last < 2^32-1 here) */
            if (r[i].last > last)
                last = r[i].last;
            continue;
        }
        *count += (uint64_t)(last - first) + 1;
        if (i < n) {
            first = r[i].first;
            last = r[i].last;
        }
    }
    free(r);
    return MJ_OK;
}

bool mj_imap_uid_set_next(const char *set, size_t *pos, uint32_t *first, uint32_t *last)
{
    size_t len = strlen(set);
    if (*pos >= len)
        return false;
    return range_at(set, len, pos, first, last) == SET_OK;
}

static mj_outcome bad_set(mj_imap *s, const char *what, const char *text, size_t len, set_error e)
{
    char q[IMAP_SET_QUOTE_MAX];
    mj_escape(text, len, q, sizeof q);
    imap_set_state(s, MJ_IMAP_STATE_FAILED);
    return mj_error_set(mj_conn_error(s->conn), MJ_PROTOCOL_ERROR,
                        e == SET_OVERFLOW ? MJ_R_NUMBER_OVERFLOW : MJ_R_MALFORMED,
                        "malformed %s response: %s in '%s'", what, set_error_text[e], q);
}

/* A caller's uid set (known-uids, seq-match): MJ_USAGE unless it is one. */
static mj_outcome check_caller_set(mj_imap *s, const char *what, const char *text)
{
    uint64_t count = 0;
    bool ascending = true;
    mj_outcome o = imap_check_arg(s, what, text);
    if (o != MJ_OK)
        return o;
    set_error e = uid_set_check(text, strlen(text), &count, &ascending);
    if (e == SET_OK)
        return MJ_OK;
    char q[IMAP_SET_QUOTE_MAX];
    mj_escape(text, strlen(text), q, sizeof q);
    return mj_error_set(mj_conn_error(s->conn), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                        "the %s '%s' is %s; nothing was sent", what, q, set_error_text[e]);
}

/* ---- untagged data ----------------------------------------------------------------------- */

/*
 * expunged-resp =/ "VANISHED" [SP "(EARLIER)"] SP known-uids   (RFC 7162 §7)
 * known-uids    = sequence-set   ; with only UIDs: no '*'
 */
mj_outcome imap_u_vanished(mj_imap *s, const mj_imap_response *r)
{
    const mj_imap_node *n = r->data;
    bool earlier = false;
    if (n != NULL && n->kind == MJ_IMAP_LIST) {
        if (n->count != 1 || !mj_imap_node_is(n->first, "EARLIER")) {
            imap_set_state(s, MJ_IMAP_STATE_FAILED);
            return mj_error_set(mj_conn_error(s->conn), MJ_PROTOCOL_ERROR, MJ_R_MALFORMED,
                                "malformed VANISHED response: its only modifier is (EARLIER)");
        }
        earlier = true;
        n = n->next;
    }
    if (n == NULL || (n->kind != MJ_IMAP_NUMBER && n->kind != MJ_IMAP_ATOM) || n->next != NULL)
        return bad_set(s, "VANISHED", n != NULL && n->str != NULL ? n->str : "",
                       n != NULL && n->str != NULL ? n->len : 0, n == NULL ? SET_EMPTY : SET_SYNTAX);
    uint64_t count = 0;
    bool ascending = true;
    set_error e = uid_set_check(n->str, n->len, &count, &ascending);
    if (e != SET_OK)
        return bad_set(s, "VANISHED", n->str, n->len, e);
    if (!ascending) {
        mj_outcome o = distinct_uids(s, n->str, n->len, &count);
        if (o != MJ_OK)
            return o;
    }
    if (!earlier && s->sel.exists >= 0) /* each UID was one message (RFC 7162 3.2.10) */
        s->sel.exists = (uint64_t)s->sel.exists > count ? s->sel.exists - (int64_t)count : 0;
    if (s->changes == NULL || s->changes->vanished == NULL)
        return MJ_OK;
    return s->changes->vanished(s->changes->ctx, earlier, n->str, count);
}

mj_outcome imap_u_fetch(mj_imap *s, const mj_imap_response *r)
{
    if (s->fetch_cmd || s->changes == NULL || s->changes->message == NULL)
        return MJ_OK; /* FETCH and STORE report to their own callbacks */
    mj_imap_fetch_cb cb = {NULL, s->changes->message, s->changes->ctx};
    return imap_fetch_response(s, r, &cb);
}

mj_outcome imap_u_expunged(mj_imap *s, uint32_t seq)
{
    if (s->changes == NULL || s->changes->expunge == NULL)
        return MJ_OK;
    return s->changes->expunge(s->changes->ctx, seq);
}

/* ---- response codes ------------------------------------------------------------------------ */

/* "[HIGHESTMODSEQ" SP mod-sequence-value "]": one number (the parser caps it at 63 bits). */
static mj_outcome highestmodseq(mj_imap *s, const mj_imap_response *r)
{
    const mj_imap_node *n = r->code_data;
    if (n == NULL || n->kind != MJ_IMAP_NUMBER || n->next != NULL) {
        const char *a = r->code_args != NULL ? r->code_args : "";
        char q[IMAP_SET_QUOTE_MAX];
        mj_escape(a, strlen(a), q, sizeof q);
        bool digits = a[0] != '\0' && strspn(a, "0123456789") == strlen(a);
        imap_set_state(s, MJ_IMAP_STATE_FAILED);
        return mj_error_set(mj_conn_error(s->conn), MJ_PROTOCOL_ERROR,
                            digits ? MJ_R_NUMBER_OVERFLOW : MJ_R_MALFORMED,
                            "malformed [HIGHESTMODSEQ %s]: a mod-sequence is a number below 2^63 "
                            "(RFC 7162)",
                            q);
    }
    s->sel.highestmodseq = (int64_t)n->num;
    return MJ_OK;
}

/* "[MODIFIED" SP sequence-set "]" (RFC 7162 §7): numbers and ranges, kept for the STORE. */
static mj_outcome modified(mj_imap *s, const mj_imap_response *r)
{
    const char *a = r->code_args != NULL ? r->code_args : "";
    uint64_t count = 0;
    bool ascending = true;
    set_error e = uid_set_check(a, strlen(a), &count, &ascending);
    if (e != SET_OK)
        return bad_set(s, "[MODIFIED]", a, strlen(a), e);
    free(s->modified);
    s->modified = strdup(a);
    if (s->modified == NULL)
        return imap_fail_if_fatal(s, mj_error_set(mj_conn_error(s->conn), MJ_INTERNAL,
                                                  MJ_R_NO_MEMORY, "out of memory"));
    return MJ_OK;
}

mj_outcome imap_condstore_code(mj_imap *s, const mj_imap_response *r)
{
    if (r->code == NULL)
        return MJ_OK;
    if (strcasecmp(r->code, "MODIFIED") == 0 &&
        (r->status == MJ_IMAP_ST_OK || r->status == MJ_IMAP_ST_NO))
        return modified(s, r);
    if (r->status != MJ_IMAP_ST_OK)
        return MJ_OK;
    if (strcasecmp(r->code, "HIGHESTMODSEQ") == 0)
        return highestmodseq(s, r);
    if (strcasecmp(r->code, "NOMODSEQ") == 0)
        s->sel.nomodseq = true;
    return MJ_OK;
}

/* ---- ENABLE ------------------------------------------------------------------------------------ */

uint32_t mj_imap_enabled(const mj_imap *s)
{
    return s->enabled;
}

void mj_imap_set_changes(mj_imap *s, const mj_imap_changes_cb *cb)
{
    s->changes = cb;
}

mj_outcome mj_imap_enable_condstore(mj_imap *s, bool qresync)
{
    uint32_t bit = qresync ? MJ_IMAP_CAP_QRESYNC : MJ_IMAP_CAP_CONDSTORE;
    const char *name = qresync ? "QRESYNC" : "CONDSTORE";
    if (s->enabled & bit)
        return MJ_OK;
    if (!(s->caps.bits & bit))
        return imap_lacks(s, "ENABLE", name);
    if (s->state == MJ_IMAP_STATE_SELECTED)
        return mj_error_set(mj_conn_error(s->conn), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "ENABLE %s must come before a mailbox is selected (RFC 5161 3, RFC "
                            "7162 3.2.3); nothing was sent",
                            name);
    const char *names[] = {name};
    uint32_t got = 0;
    mj_outcome o = mj_imap_enable(s, names, 1, &got);
    if (o != MJ_OK)
        return o;
    if (!(got & bit))
        return mj_error_set(mj_conn_error(s->conn), MJ_SERVER_REFUSED, MJ_R_NONE,
                            "the server answered ENABLE %s without enabling it (no * ENABLED %s)",
                            name, name);
    return MJ_OK;
}

/* A modseq from the caller: lo .. 2^63-1. */
static mj_outcome check_modseq(mj_imap *s, const char *what, uint64_t v, uint64_t lo)
{
    if (v >= lo && v <= IMAP_MODSEQ_MAX)
        return MJ_OK;
    return mj_error_set(mj_conn_error(s->conn), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                        "%s must be from %" PRIu64 " to 2^63-1, not %" PRIu64 "; nothing was sent",
                        what, lo, v);
}

static mj_outcome no_memory(mj_imap *s)
{
    return mj_error_set(mj_conn_error(s->conn), MJ_INTERNAL, MJ_R_NO_MEMORY, "out of memory");
}

/* ---- SELECT / EXAMINE ------------------------------------------------------------------------ */

/* The caller's QRESYNC data: sets are uid sets, seq-match needs both halves and known-uids. */
static mj_outcome check_qresync(mj_imap *s, const mj_imap_select_params *p)
{
    mj_outcome o = MJ_OK;
    if (p->uidvalidity == 0)
        return mj_error_set(mj_conn_error(s->conn), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "QRESYNC needs the cached UIDVALIDITY (non-zero); nothing was sent");
    if ((o = check_modseq(s, "the QRESYNC mod-sequence", p->modseq, 1)) != MJ_OK)
        return o;
    if (p->known_uids != NULL && (o = check_caller_set(s, "known UIDs", p->known_uids)) != MJ_OK)
        return o;
    if ((p->seq_match != NULL) != (p->uid_match != NULL) ||
        (p->seq_match != NULL && p->known_uids == NULL))
        return mj_error_set(mj_conn_error(s->conn), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "QRESYNC sequence match data needs known UIDs, message numbers and "
                            "their UIDs; nothing was sent");
    if (p->seq_match != NULL &&
        ((o = check_caller_set(s, "message number set", p->seq_match)) != MJ_OK ||
         (o = check_caller_set(s, "UID set", p->uid_match)) != MJ_OK))
        return o;
    return MJ_OK;
}

/* "(QRESYNC (uidvalidity modseq [known-uids [(seq uid)]]))" (RFC 7162 §7 select-param). */
static char *qresync_text(const mj_imap_select_params *p)
{
    size_t n = IMAP_PARAMS_FIXED_MAX;
    n += p->known_uids != NULL ? strlen(p->known_uids) : 0;
    n += p->seq_match != NULL ? strlen(p->seq_match) + strlen(p->uid_match) : 0;
    char *t = malloc(n);
    if (t == NULL)
        return NULL;
    int k = snprintf(t, n, "(QRESYNC (%" PRIu32 " %" PRIu64 "%s%s%s%s%s%s%s))", p->uidvalidity,
                     p->modseq, p->known_uids ? " " : "", p->known_uids ? p->known_uids : "",
                     p->seq_match ? " (" : "", p->seq_match ? p->seq_match : "",
                     p->seq_match ? " " : "", p->seq_match ? p->uid_match : "",
                     p->seq_match ? ")" : "");
    if (k < 0 || (size_t)k >= n) {
        free(t);
        return NULL;
    }
    return t;
}

mj_outcome mj_imap_select_ex(mj_imap *s, const char *mailbox, bool read_only,
                             const mj_imap_select_params *p, mj_imap_mailbox_info *out)
{
    if (p == NULL || (!p->condstore && !p->qresync))
        return imap_select(s, mailbox, read_only, NULL, out);
    mj_outcome o = imap_check_arg(s, "mailbox name", mailbox);
    if (o != MJ_OK)
        return o;
    if (!p->qresync) {
        if (!(s->caps.bits & MJ_IMAP_CAP_CONDSTORE))
            return imap_lacks(s, read_only ? "EXAMINE (CONDSTORE)" : "SELECT (CONDSTORE)", "CONDSTORE");
        o = imap_select(s, mailbox, read_only, "(CONDSTORE)", out);
        if (o == MJ_OK)
            s->enabled |= MJ_IMAP_CAP_CONDSTORE; /* RFC 7162 3.1: a CONDSTORE-enabling command */
        return o;
    }
    if (!(s->caps.bits & MJ_IMAP_CAP_QRESYNC))
        return imap_lacks(s, read_only ? "EXAMINE (QRESYNC)" : "SELECT (QRESYNC)", "QRESYNC");
    if ((o = check_qresync(s, p)) != MJ_OK)
        return o;
    char *params = qresync_text(p);
    if (params == NULL)
        return no_memory(s);
    o = mj_imap_enable_condstore(s, true);
    if (o == MJ_OK)
        o = imap_select(s, mailbox, read_only, params, NULL);
    free(params);
    if (o != MJ_OK)
        return o;
    s->sel.uidvalidity_changed = s->sel.uidvalidity != (int64_t)p->uidvalidity;
    if (out != NULL)
        *out = s->sel;
    return MJ_OK;
}

/* ---- FETCH (CHANGEDSINCE), STORE (UNCHANGEDSINCE) ------------------------------------------------ */

mj_outcome mj_imap_fetch_changed(mj_imap *s, bool uid, const char *set, const char *items,
                                 uint64_t changedsince, bool vanished, const mj_imap_fetch_cb *cb)
{
    mj_outcome o = check_modseq(s, "CHANGEDSINCE", changedsince, 1);
    if (o != MJ_OK)
        return o;
    if (!(s->caps.bits & MJ_IMAP_CAP_CONDSTORE))
        return imap_lacks(s, "FETCH (CHANGEDSINCE)", "CONDSTORE");
    if (vanished && !uid)
        return mj_error_set(mj_conn_error(s->conn), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "the VANISHED modifier needs UID FETCH (RFC 7162 3.2.6); nothing was "
                            "sent");
    if (vanished && !(s->enabled & MJ_IMAP_CAP_QRESYNC))
        return mj_error_set(mj_conn_error(s->conn), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "the VANISHED modifier needs QRESYNC enabled before the mailbox is "
                            "selected (RFC 7162 3.2.6); nothing was sent");
    char mod[IMAP_PARAMS_FIXED_MAX];
    snprintf(mod, sizeof mod, "(CHANGEDSINCE %" PRIu64 "%s)", changedsince,
             vanished ? " VANISHED" : "");
    o = imap_fetch(s, uid, set, items, mod, cb);
    if (o == MJ_OK)
        s->enabled |= MJ_IMAP_CAP_CONDSTORE;
    return o;
}

mj_outcome mj_imap_store_unchanged(mj_imap *s, bool uid, const char *set, mj_imap_store_mode mode,
                                   const char *flags, bool silent, uint64_t unchangedsince,
                                   const mj_imap_fetch_cb *cb, const char **modified_out)
{
    if (modified_out != NULL)
        *modified_out = NULL;
    mj_outcome o = check_modseq(s, "UNCHANGEDSINCE", unchangedsince, 0);
    if (o != MJ_OK)
        return o;
    if (!(s->caps.bits & MJ_IMAP_CAP_CONDSTORE))
        return imap_lacks(s, "STORE (UNCHANGEDSINCE)", "CONDSTORE");
    char mod[IMAP_PARAMS_FIXED_MAX];
    snprintf(mod, sizeof mod, "(UNCHANGEDSINCE %" PRIu64 ")", unchangedsince);
    free(s->modified);
    s->modified = NULL;
    o = imap_store(s, uid, set, mode, flags, silent, mod, cb);
    if (o == MJ_SERVER_REFUSED && s->modified != NULL) { /* NO [MODIFIED ...]: partial */
        mj_error_clear(mj_conn_error(s->conn));
        o = MJ_OK;
    }
    if (o == MJ_OK) {
        s->enabled |= MJ_IMAP_CAP_CONDSTORE;
        if (modified_out != NULL)
            *modified_out = s->modified;
    }
    return o;
}

/* ---- UID EXPUNGE ------------------------------------------------------------------------------------ */

mj_outcome mj_imap_uid_expunge(mj_imap *s, const char *uid_set)
{
    if (imap_check_set(s, uid_set) != MJ_OK)
        return MJ_USAGE;
    if (!(s->caps.bits & (MJ_IMAP_CAP_UIDPLUS | MJ_IMAP_CAP_IMAP4REV2)))
        return imap_lacks(s, "UID EXPUNGE", "UIDPLUS");
    imap_part parts[] = {{IMAP_P_RAW, uid_set, false, "uid set", false}};
    return imap_run(s, IMAP_CMD_UID_EXPUNGE, parts, 1, NULL, NULL, MJ_SERVER_REFUSED, NULL);
}
