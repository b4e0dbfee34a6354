/*
 * imap/ext.c: IMAP extensions beyond the base commands.
 *
 * RFC 3502 (MULTIAPPEND: several messages in one APPEND, all or nothing),
 * RFC 9208 §4.2 (GETQUOTA root), RFC 5256 (SORT, THREAD and their UID
 * forms), RFC 9051 §6.3.1 (ENABLE IMAP4rev2) with RFC 5161 (ENABLE), and
 * RFC 9051 §6.3.12 (APPEND date-time).  SORT and THREAD criteria go through
 * criteria.c as SEARCH's do (non-ASCII strings, BADCHARSET).
 *
 * SORT and THREAD replies are checked whole before the caller's callback
 * sees a number: a malformed response delivers nothing.
 */
#include "imap/imap_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* An APPEND date-time on the wire: DQUOTE 26 characters DQUOTE and the NUL. */
#define IMAP_DATE_WIRE_MAX 32
/* Parts of one APPEND: the mailbox, then per message "(" flags ")" date literal. */
#define IMAP_APPEND_PARTS_MAX (1 + 5 * MJ_IMAP_APPEND_MAX)

static mj_outcome protocol(mj_imap *s, mj_reason reason, const char *what)
{
    imap_set_state(s, MJ_IMAP_STATE_FAILED);
    return mj_error_set(mj_conn_error(s->conn), MJ_PROTOCOL_ERROR, reason, "malformed %s response",
                        what);
}

static mj_outcome usage(mj_imap *s, const char *what)
{
    return mj_error_set(mj_conn_error(s->conn), MJ_USAGE, MJ_R_BAD_ARGUMENT, "%s; nothing was sent",
                        what);
}

bool mj_imap_has_capability(const mj_imap *s, const char *name)
{
    for (size_t i = 0; s->caps.known && i < s->caps.n_names; i++) {
        if (strcasecmp(s->caps.names[i], name) == 0)
            return true;
    }
    return false;
}

bool mj_imap_rev2(const mj_imap *s)
{
    return s->rev2;
}

/* ---- ENABLE IMAP4rev2 ------------------------------------------------------------------- */

mj_outcome imap_enter_rev2(mj_imap *s)
{
    if (s->post_auth_done)
        return MJ_OK;
    s->post_auth_done = true;
    if (!s->caps.known || (s->caps.bits & MJ_IMAP_CAP_IMAP4REV2) == 0)
        return MJ_OK;
    if ((s->caps.bits & MJ_IMAP_CAP_IMAP4REV1) == 0) { /* a rev2-only server: rev2 from the start */
        s->rev2 = s->utf8 = true;
        return MJ_OK;
    }
    static const char *const names[] = {"IMAP4rev2"};
    uint32_t enabled = 0;
    mj_outcome o = mj_imap_enable(s, names, 1, &enabled);
    if (o == MJ_OK && (enabled & MJ_IMAP_CAP_IMAP4REV2) != 0)
        s->rev2 = s->utf8 = true; /* RFC 9051 §5.1: rev2 mailbox names are UTF-8 */
    if (s->state == MJ_IMAP_STATE_FAILED)
        return o;
    mj_error_clear(mj_conn_error(s->conn)); /* a refused ENABLE leaves rev1 */
    return MJ_OK;
}

/* ---- GETQUOTA --------------------------------------------------------------------------- */

mj_outcome mj_imap_getquota(mj_imap *s, const char *root, mj_imap_quota_fn fn, void *ctx)
{
    imap_quota_ctx qc = {fn, ctx};
    imap_part parts[] = {{IMAP_P_ASTRING, root, false, "quota root", false}};
    return imap_run(s, IMAP_CMD_GETQUOTA, parts, 1, imap_quota_hook, &qc, MJ_SERVER_REFUSED, NULL);
}

/* ---- MULTIAPPEND ------------------------------------------------------------------------ */

/*
 * date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE
 * date-day-fixed = (SP DIGIT) / 2DIGIT; time = 2DIGIT ":" 2DIGIT ":" 2DIGIT;
 * zone = ("+" / "-") 4DIGIT  (RFC 9051 §9).  The caller gives it without quotes.
 */
static bool valid_date(const char *d)
{
    static const char shape[] = "D#-MMM-#### ##:##:## Z####";
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    if (strlen(d) != sizeof shape - 1)
        return false;
    for (size_t i = 0; i < sizeof shape - 1; i++) {
        char c = d[i];
        bool digit = c >= '0' && c <= '9';
        bool ok = shape[i] == '#'   ? digit
                  : shape[i] == 'D' ? digit || c == ' '
                  : shape[i] == 'Z' ? c == '+' || c == '-'
                  : shape[i] == 'M' ? true
                                    : c == shape[i];
        if (!ok)
            return false;
    }
    for (size_t i = 0; i < sizeof months / sizeof months[0]; i++) {
        if (strncasecmp(d + 3, months[i], 3) == 0)
            return true;
    }
    return false;
}

static mj_outcome check_messages(mj_imap *s, const mj_imap_append_msg *msgs, size_t n)
{
    if (n == 0 || n > MJ_IMAP_APPEND_MAX)
        return mj_error_set(mj_conn_error(s->conn), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "APPEND takes 1 to %d messages; nothing was sent", MJ_IMAP_APPEND_MAX);
    for (size_t i = 0; i < n; i++) {
        if (msgs[i].read == NULL)
            return usage(s, "an APPEND message has no source");
        if (msgs[i].flags != NULL && imap_check_flags(s, msgs[i].flags) != MJ_OK)
            return MJ_USAGE;
        if (msgs[i].date != NULL && !valid_date(msgs[i].date))
            return usage(s, "an APPEND date must look like \"17-Jul-1996 02:44:25 -0700\"");
        if (msgs[i].binary && s->caps.known && !(s->caps.bits & MJ_IMAP_CAP_BINARY))
            return imap_lacks(s, "APPEND of a binary message (a literal8, RFC 3516)", "BINARY");
    }
    return MJ_OK;
}

/* One APPEND command carrying msgs[0..n) (n > 1 only with MULTIAPPEND). */
static mj_outcome append_command(mj_imap *s, const char *mailbox, const mj_imap_append_msg *msgs,
                                 size_t n, mj_imap_uidplus *au)
{
    imap_source srcs[MJ_IMAP_APPEND_MAX];
    char dates[MJ_IMAP_APPEND_MAX][IMAP_DATE_WIRE_MAX];
    imap_part parts[IMAP_APPEND_PARTS_MAX];
    size_t k = 0;
    parts[k++] = (imap_part){IMAP_P_MAILBOX, mailbox, false, "mailbox name", false};
    for (size_t i = 0; i < n; i++) {
        if (msgs[i].flags != NULL) {
            parts[k++] = (imap_part){IMAP_P_RAW, "(", false, "flags", false};
            parts[k++] = (imap_part){IMAP_P_RAW, msgs[i].flags, false, "flags", true};
            parts[k++] = (imap_part){IMAP_P_RAW, ")", false, "flags", true};
        }
        if (msgs[i].date != NULL) {
            snprintf(dates[i], sizeof dates[i], "\"%s\"", msgs[i].date);
            parts[k++] = (imap_part){IMAP_P_RAW, dates[i], false, "date", false};
        }
        srcs[i] = (imap_source){msgs[i].size, msgs[i].read, msgs[i].ctx, msgs[i].binary};
        parts[k++] = (imap_part){IMAP_P_SOURCE, NULL, false, "message", false};
    }
    imap_done done;
    memset(&done, 0, sizeof done);
    s->source = srcs;
    mj_outcome o = imap_run(s, IMAP_CMD_APPEND, parts, k, NULL, NULL, MJ_SERVER_REFUSED, &done);
    s->source = NULL;
    memset(au, 0, sizeof *au);
    if (o == MJ_OK && strcasecmp(done.code, "APPENDUID") == 0)
        imap_parse_uidplus(done.code_args, false, au);
    return o;
}

/* Fold one message's APPENDUID into the running result (same UIDVALIDITY, uids joined). */
static void merge_uidplus(mj_imap_uidplus *all, const mj_imap_uidplus *one, bool first)
{
    if (first) {
        *all = *one;
        return;
    }
    size_t used = strlen(all->dest);
    if (!all->present || !one->present || one->uidvalidity != all->uidvalidity ||
        used + 1 + strlen(one->dest) >= sizeof all->dest) {
        memset(all, 0, sizeof *all);
        return;
    }
    snprintf(all->dest + used, sizeof all->dest - used, ",%s", one->dest);
}

mj_outcome mj_imap_append_many(mj_imap *s, const char *mailbox, const mj_imap_append_msg *msgs,
                               size_t n, size_t *appended_out, mj_imap_uidplus *appenduid_out)
{
    mj_imap_uidplus local, one;
    mj_imap_uidplus *au = appenduid_out != NULL ? appenduid_out : &local;
    size_t appended = 0;
    memset(au, 0, sizeof *au);
    if (appended_out != NULL)
        *appended_out = 0;
    mj_outcome o = check_messages(s, msgs, n);
    if (o != MJ_OK)
        return o;
    if (n == 1 || mj_imap_has_capability(s, "MULTIAPPEND")) {
        o = append_command(s, mailbox, msgs, n, au);
        appended = o == MJ_OK ? n : 0;
    } else {
        for (size_t i = 0; i < n; i++) { /* without MULTIAPPEND: one APPEND each, not atomic */
            o = append_command(s, mailbox, msgs + i, 1, &one);
            if (o != MJ_OK)
                break;
            merge_uidplus(au, &one, i == 0);
            appended++;
        }
        if (o != MJ_OK)
            memset(au, 0, sizeof *au);
    }
    if (appended_out != NULL)
        *appended_out = appended;
    return o;
}

/* ---- SORT ------------------------------------------------------------------------------- */

/* sort-key (RFC 5256 §3, RFC 5957 DISPLAYFROM / DISPLAYTO). */
static const char *const sort_keys[] = {"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT",
                                        "TO", "DISPLAYFROM", "DISPLAYTO"};

static bool is_sort_key(const char *w, size_t len)
{
    for (size_t i = 0; i < sizeof sort_keys / sizeof sort_keys[0]; i++) {
        if (strlen(sort_keys[i]) == len && strncasecmp(w, sort_keys[i], len) == 0)
            return true;
    }
    return false;
}

/* sort-criteria = sort-criterion *(SP sort-criterion); sort-criterion = ["REVERSE" SP] sort-key */
static mj_outcome check_sort_criteria(mj_imap *s, const char *criteria)
{
    if (imap_check_arg(s, "sort criteria", criteria) != MJ_OK)
        return MJ_USAGE;
    bool reverse = false, any = false;
    for (const char *p = criteria;;) {
        size_t len = strcspn(p, " ");
        if (len == 0)
            return usage(s, "sort criteria are sort keys separated by one space");
        if (len == 7 && strncasecmp(p, "REVERSE", 7) == 0 && !reverse) {
            reverse = true;
        } else if (is_sort_key(p, len)) {
            reverse = false;
            any = true;
        } else {
            return usage(s, "a sort key must be ARRIVAL, CC, DATE, FROM, SIZE, SUBJECT, TO, "
                            "DISPLAYFROM or DISPLAYTO, each optionally after REVERSE");
        }
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
    if (!any || reverse)
        return usage(s, "REVERSE must be followed by a sort key");
    return MJ_OK;
}

/* charset (an atom) and search criteria, with their defaults, encoded as SEARCH's
 * (criteria.c); non-ASCII text is UTF-8, so the charset must say so.  On MJ_OK
 * the caller frees c. */
static mj_outcome check_charset_search(mj_imap *s, const char **charset, const char **search,
                                       imap_criteria *c)
{
    if (*charset == NULL)
        *charset = "UTF-8";
    if (*search == NULL)
        *search = "ALL";
    if (imap_check_arg(s, "charset", *charset) != MJ_OK)
        return MJ_USAGE;
    if (imap_str_form_of(*charset, strlen(*charset), true, false) != IMAP_STR_ATOM)
        return usage(s, "a charset must be an atom such as UTF-8");
    if (imap_criteria_build(s, *search, c) != MJ_OK)
        return MJ_USAGE;
    if (c->non_ascii && strcasecmp(*charset, "UTF-8") != 0) {
        imap_criteria_free(c);
        return usage(s, "search criteria with non-ASCII text are UTF-8: the charset must be "
                        "UTF-8");
    }
    return MJ_OK;
}

/* parts[0..k) then the criteria's parts; returns the new count. */
static size_t append_criteria(imap_part *parts, size_t k, const imap_criteria *c)
{
    memcpy(parts + k, c->parts, c->n * sizeof parts[0]);
    return k + c->n;
}

/* A message number of SORT / THREAD: nz-number, 32 bits. */
static mj_outcome number_of(mj_imap *s, const mj_imap_node *n, const char *what, uint32_t *out)
{
    if (n->kind != MJ_IMAP_NUMBER)
        return protocol(s, MJ_R_MALFORMED, what);
    if (mj_imap_node_number32(n, out) != 0)
        return protocol(s, MJ_R_NUMBER_OVERFLOW, what);
    if (*out == 0)
        return protocol(s, MJ_R_MALFORMED, what);
    return MJ_OK;
}

typedef struct sort_ctx {
    mj_outcome (*fn)(void *ctx, uint32_t n);
    void *ctx;
} sort_ctx;

/* sort-data = "SORT" *(SP nz-number) [SP "(" "MODSEQ" SP mod-sequence-value ")"] */
static mj_outcome sort_hook(mj_imap *s, void *ctx, const mj_imap_response *r)
{
    sort_ctx *sc = ctx;
    if (r->has_number || strcasecmp(r->name, "SORT") != 0)
        return MJ_OK;
    uint32_t v = 0;
    for (int pass = 0; pass < 2; pass++) { /* check every number, then deliver */
        for (const mj_imap_node *n = r->data; n != NULL; n = n->next) {
            if (n->kind == MJ_IMAP_LIST && n->next == NULL) /* CONDSTORE's (MODSEQ n) */
                continue;
            mj_outcome o = number_of(s, n, "SORT", &v);
            if (o == MJ_OK && pass == 1 && sc->fn != NULL)
                o = sc->fn(sc->ctx, v);
            if (o != MJ_OK)
                return o;
        }
    }
    return MJ_OK;
}

/* RETURN options of ESORT (RFC 5267 §3.1): MIN MAX COUNT ALL, each once, one space apart. */
static mj_outcome check_sort_return(mj_imap *s, const char *ret)
{
    static const char *const opts[] = {"MIN", "MAX", "COUNT", "ALL"};
    if (imap_check_arg(s, "return options", ret) != MJ_OK)
        return MJ_USAGE;
    unsigned seen = 0;
    for (const char *p = ret; *p != '\0';) {
        size_t len = strcspn(p, " ");
        size_t i = 0;
        while (i < 4 && !(strlen(opts[i]) == len && strncasecmp(p, opts[i], len) == 0))
            i++;
        if (i == 4 || (seen & (1u << i)))
            return usage(s, "ESORT return options are MIN, MAX, COUNT and ALL, each once, "
                            "one space apart");
        seen |= 1u << i;
        p += len;
        if (*p == ' ' && *++p == '\0')
            return usage(s, "ESORT return options are MIN, MAX, COUNT and ALL, each once, "
                            "one space apart");
    }
    return MJ_OK;
}

/* [RETURN (ret)] (sort criteria) charset search: SORT and ESORT alike. */
static mj_outcome sort_run(mj_imap *s, bool uid, const char *ret, const char *criteria,
                           const char *charset, const char *search, imap_untagged_fn hook,
                           void *ctx)
{
    imap_criteria c;
    if (check_sort_criteria(s, criteria) != MJ_OK ||
        (ret != NULL && check_sort_return(s, ret) != MJ_OK) ||
        check_charset_search(s, &charset, &search, &c) != MJ_OK)
        return MJ_USAGE;
    if (!mj_imap_has_capability(s, "SORT") || (ret != NULL && !mj_imap_has_capability(s, "ESORT"))) {
        imap_criteria_free(&c);
        return ret == NULL ? imap_lacks(s, "SORT (RFC 5256)", "SORT")
                           : imap_lacks(s, "SORT RETURN (ESORT, RFC 5267)",
                                        mj_imap_has_capability(s, "SORT") ? "ESORT" : "SORT");
    }
    imap_part parts[7 + IMAP_CRITERIA_PARTS_MAX];
    size_t n = 0;
    if (ret != NULL) {
        parts[n++] = (imap_part){IMAP_P_RAW, "RETURN (", false, "return options", false};
        parts[n++] = (imap_part){IMAP_P_RAW, ret, false, "return options", true};
        parts[n++] = (imap_part){IMAP_P_RAW, ")", false, "return options", true};
    }
    parts[n++] = (imap_part){IMAP_P_RAW, "(", false, "sort criteria", false};
    parts[n++] = (imap_part){IMAP_P_RAW, criteria, false, "sort criteria", true};
    parts[n++] = (imap_part){IMAP_P_RAW, ")", false, "sort criteria", true};
    parts[n++] = (imap_part){IMAP_P_RAW, charset, false, "charset", false};
    n = append_criteria(parts, n, &c);
    imap_cmd cmd = uid ? IMAP_CMD_UID_SORT : IMAP_CMD_SORT;
    imap_done done;
    memset(&done, 0, sizeof done);
    mj_outcome o = imap_run(s, cmd, parts, n, hook, ctx, MJ_SERVER_REFUSED, &done);
    imap_criteria_free(&c);
    return imap_criteria_refused(s, cmd, &done, o);
}

mj_outcome mj_imap_sort(mj_imap *s, bool uid, const char *criteria, const char *charset,
                        const char *search, mj_outcome (*fn)(void *ctx, uint32_t n), void *ctx)
{
    sort_ctx sc = {fn, ctx};
    return sort_run(s, uid, NULL, criteria, charset, search, sort_hook, &sc);
}

static mj_outcome esearch_bad(mj_imap *s, mj_reason reason, const char *why)
{
    imap_set_state(s, MJ_IMAP_STATE_FAILED);
    return mj_error_set(mj_conn_error(s->conn), MJ_PROTOCOL_ERROR, reason,
                        "malformed ESEARCH response: %s", why);
}

typedef struct esort_ctx {
    mj_imap_esort_result *out;
    mj_outcome (*fn)(void *ctx, uint32_t n);
    void *ctx;
} esort_ctx;

/*
 * esearch-response = "ESEARCH" [search-correlator] [SP "UID"] *(SP search-return-data)
 * (RFC 4731 §3.1), the data ESORT asks for (RFC 5267 §3.2): MIN, MAX and COUNT a
 * number, ALL a sequence-set in sort order.  Other return data is skipped, as
 * RFC 4731 asks of clients.  The response is checked whole before ALL is delivered.
 */
static mj_outcome esort_hook(mj_imap *s, void *ctx, const mj_imap_response *r)
{
    esort_ctx *ec = ctx;
    if (r->has_number || strcasecmp(r->name, "ESEARCH") != 0)
        return MJ_OK;
    bool uid = false;
    const mj_imap_node *first = NULL;
    if (!imap_esearch_ours(s, r, &first, &uid))
        return MJ_OK; /* another command's answer */
    mj_imap_esort_result got = {.present = true};
    const char *all = NULL;
    for (const mj_imap_node *n = first; n != NULL; n = n->next->next) {
        if (n->kind != MJ_IMAP_ATOM || n->next == NULL)
            return esearch_bad(s, MJ_R_MALFORMED, "return data is a name and a value");
        const mj_imap_node *v = n->next;
        uint32_t *num = mj_imap_node_is(n, "MIN")     ? &got.min
                        : mj_imap_node_is(n, "MAX")   ? &got.max
                        : mj_imap_node_is(n, "COUNT") ? &got.count
                                                      : NULL;
        if (num != NULL) {
            if (v->kind != MJ_IMAP_NUMBER)
                return esearch_bad(s, MJ_R_MALFORMED, "MIN, MAX and COUNT take a number");
            if (mj_imap_node_number32(v, num) != 0)
                return esearch_bad(s, MJ_R_NUMBER_OVERFLOW, "a number over 32 bits");
            if (*num == 0 && num != &got.count)
                return esearch_bad(s, MJ_R_MALFORMED, "MIN and MAX are non-zero numbers");
            got.has_min |= num == &got.min;
            got.has_max |= num == &got.max;
            got.has_count |= num == &got.count;
        } else if (mj_imap_node_is(n, "ALL")) {
            if (v->str == NULL || (v->kind != MJ_IMAP_ATOM && v->kind != MJ_IMAP_NUMBER))
                return esearch_bad(s, MJ_R_MALFORMED, "ALL takes a sequence set");
            all = v->str;
        }
    }
    if (all != NULL && imap_esearch_expand(s, all, true, NULL, NULL) != MJ_OK)
        return MJ_PROTOCOL_ERROR;
    got.uid = uid;
    if (ec->out != NULL)
        *ec->out = got;
    return all != NULL ? imap_esearch_expand(s, all, true, ec->fn, ec->ctx) : MJ_OK;
}

mj_outcome mj_imap_esort(mj_imap *s, bool uid, const char *ret, const char *criteria,
                         const char *charset, const char *search, mj_imap_esort_result *out,
                         mj_outcome (*fn)(void *ctx, uint32_t n), void *ctx)
{
    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (ret == NULL)
        return usage(s, "ESORT needs return options (\"\" asks for ALL)");
    esort_ctx ec = {out, fn, ctx};
    return sort_run(s, uid, ret, criteria, charset, search, esort_hook, &ec);
}

/* ---- THREAD ----------------------------------------------------------------------------- */

typedef struct thread_walk {
    mj_imap *s;
    bool deliver; /* false: the checking pass */
    size_t nodes;
    mj_imap_thread_fn fn;
    void *ctx;
} thread_walk;

static mj_outcome thread_node(thread_walk *tw, uint32_t number, unsigned depth)
{
    if (depth >= MJ_IMAP_THREAD_DEPTH_MAX)
        return protocol(tw->s, MJ_R_NESTING_TOO_DEEP, "THREAD (a thread deeper than MJ_IMAP_THREAD_DEPTH_MAX)");
    if (++tw->nodes > MJ_IMAP_THREAD_NODES_MAX)
        return protocol(tw->s, MJ_R_TOO_MANY_TOKENS, "THREAD (more than MJ_IMAP_THREAD_NODES_MAX messages)");
    return tw->deliver && tw->fn != NULL ? tw->fn(tw->ctx, number, depth) : MJ_OK;
}

/*
 * thread-list    = "(" (thread-members / thread-nested) ")"
 * thread-members = nz-number *(SP nz-number) [SP thread-nested]
 * thread-nested  = 2*thread-list
 * Members form a chain (each the parent of the next); the nested lists are
 * children of the last member, or of a missing parent (number 0) when the
 * list has no member.  One nested list alone is accepted (it is unambiguous).
 * Recursion is bounded by the parser's list nesting limit.
 */
static mj_outcome thread_list(thread_walk *tw, const mj_imap_node *list, unsigned depth)
{
    if (list->kind != MJ_IMAP_LIST || list->first == NULL)
        return protocol(tw->s, MJ_R_MALFORMED, "THREAD (a thread must be a non-empty list)");
    const mj_imap_node *n = list->first;
    unsigned d = depth;
    mj_outcome o = MJ_OK;
    for (; n != NULL && n->kind != MJ_IMAP_LIST && o == MJ_OK; n = n->next) {
        uint32_t v = 0;
        o = number_of(tw->s, n, "THREAD", &v);
        if (o == MJ_OK)
            o = thread_node(tw, v, d++);
    }
    if (o == MJ_OK && d == depth && n != NULL) /* nested lists only: a missing parent */
        o = thread_node(tw, 0, d++);
    for (; n != NULL && o == MJ_OK; n = n->next) {
        if (n->kind != MJ_IMAP_LIST)
            return protocol(tw->s, MJ_R_MALFORMED, "THREAD (a number after a nested thread)");
        o = thread_list(tw, n, d);
    }
    return o;
}

/* thread-data = "THREAD" [SP 1*thread-list] */
static mj_outcome thread_hook(mj_imap *s, void *ctx, const mj_imap_response *r)
{
    thread_walk *tw = ctx;
    if (r->has_number || strcasecmp(r->name, "THREAD") != 0)
        return MJ_OK;
    for (int pass = 0; pass < 2; pass++) { /* check the whole response, then deliver */
        tw->deliver = pass == 1;
        tw->nodes = 0;
        for (const mj_imap_node *n = r->data; n != NULL; n = n->next) {
            if (n->kind != MJ_IMAP_LIST)
                return protocol(s, MJ_R_MALFORMED, "THREAD (expected a parenthesized thread)");
            mj_outcome o = thread_list(tw, n, 0);
            if (o != MJ_OK)
                return o;
        }
    }
    return MJ_OK;
}

mj_outcome mj_imap_thread(mj_imap *s, bool uid, const char *algorithm, const char *charset,
                          const char *search, mj_imap_thread_fn fn, void *ctx)
{
    if (imap_check_arg(s, "thread algorithm", algorithm) != MJ_OK)
        return MJ_USAGE;
    if (imap_str_form_of(algorithm, strlen(algorithm), true, false) != IMAP_STR_ATOM ||
        strlen(algorithm) + 8 > MJ_IMAP_CAP_NAME_MAX)
        return usage(s, "a thread algorithm must be an atom such as REFERENCES");
    char cap[MJ_IMAP_CAP_NAME_MAX];
    snprintf(cap, sizeof cap, "THREAD=%s", algorithm);
    imap_criteria c;
    if (check_charset_search(s, &charset, &search, &c) != MJ_OK)
        return MJ_USAGE;
    if (!mj_imap_has_capability(s, cap)) {
        imap_criteria_free(&c);
        return imap_lacks(s, "THREAD (RFC 5256)", cap);
    }
    thread_walk tw = {s, false, 0, fn, ctx};
    imap_part parts[2 + IMAP_CRITERIA_PARTS_MAX] = {
        {IMAP_P_RAW, algorithm, false, "thread algorithm", false},
        {IMAP_P_RAW, charset, false, "charset", false},
    };
    size_t n = append_criteria(parts, 2, &c);
    imap_cmd cmd = uid ? IMAP_CMD_UID_THREAD : IMAP_CMD_THREAD;
    imap_done done;
    memset(&done, 0, sizeof done);
    mj_outcome o = imap_run(s, cmd, parts, n, thread_hook, &tw, MJ_SERVER_REFUSED, &done);
    imap_criteria_free(&c);
    return imap_criteria_refused(s, cmd, &done, o);
}
