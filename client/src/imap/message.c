/*
 * imap/message.c: IMAP commands about messages.
 *
 * RFC 9051 §6.4 (SEARCH, FETCH, STORE, COPY, MOVE, UID), §6.3.12 (APPEND),
 * §7.5.2 (FETCH response items); RFC 4731 (ESEARCH), RFC 4315 (UIDPLUS:
 * COPYUID, APPENDUID), RFC 6851 (MOVE), RFC 2177 (IDLE), RFC 9208 (QUOTA),
 * RFC 7162 (MODSEQ), RFC 3516 (BINARY, BINARY.SIZE, literal8); SEARCH
 * criteria are encoded by criteria.c (CHARSET, literals, RFC 6855).
 *
 * Message bodies never sit in memory beyond the parser's inline threshold:
 * larger literals reach the caller's body callback through the parser's
 * sink as they arrive (session.c, literal_sink).
 */
#include "imap/imap_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Flags of one FETCH passed to the callback; more are dropped. */
#define IMAP_FETCH_FLAGS_MAX 64
/* Numbers one ESEARCH ALL set may expand to (a range is not a memory cost,
   but a callback per number is a time cost the server chooses). */
#define IMAP_ESEARCH_EXPAND_MAX ((uint64_t)10 * 1000 * 1000)

static mj_outcome malformed(mj_imap *s, const char *what)
{
    imap_set_state(s, MJ_IMAP_STATE_FAILED);
    return mj_error_set(mj_conn_error(s->conn), MJ_PROTOCOL_ERROR, MJ_R_MALFORMED,
                        "malformed %s response", what);
}

/* ---- FETCH ------------------------------------------------------------------------------- */

static bool is_body_item(const mj_imap_node *name)
{
    static const char *const prefixes[] = {"BODY[", "BODY.PEEK[", "BINARY[", "BINARY.PEEK["};
    static const char *const whole[] = {"RFC822", "RFC822.TEXT", "RFC822.HEADER"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        if (strncasecmp(name->str, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    }
    for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++) {
        if (mj_imap_node_is(name, whole[i]))
            return true;
    }
    return false;
}

typedef struct fetch_ctx {
    const mj_imap_fetch_cb *cb;
} fetch_ctx;

/* "-" and digits: Zoho's "MODSEQ (-1)" (IMAP_TOL_NEGATIVE_MODSEQ). */
static bool negative_number(const mj_imap_node *n)
{
    if (n->len < 2 || n->str[0] != '-')
        return false;
    for (size_t i = 1; i < n->len; i++)
        if (n->str[i] < '0' || n->str[i] > '9')
            return false;
    return true;
}

/* A body item's value: streamed (already delivered), inline literal, quoted, or NIL. */
static mj_outcome fetch_body(mj_imap *s, const mj_imap_fetch_cb *cb, uint32_t seq,
                             const mj_imap_node *name, const mj_imap_node *v, mj_imap_message *m)
{
    if (v->kind == MJ_IMAP_NIL)
        return MJ_OK;
    if (v->kind != MJ_IMAP_LITERAL && v->kind != MJ_IMAP_QUOTED)
        return malformed(s, "FETCH body item");
    m->body_bytes += v->kind == MJ_IMAP_LITERAL ? v->num : v->len;
    if (v->streamed || cb == NULL || cb->body == NULL)
        return MJ_OK;
    return cb->body(cb->ctx, seq, name->str, (const unsigned char *)v->str, v->len);
}

/* ENVELOPE and BODYSTRUCTURE / BODY: decoded by bodystructure.c into the session's decoder. */
static mj_outcome fetch_structure(mj_imap *s, uint32_t seq, const mj_imap_node *name,
                                  const mj_imap_node *v, mj_imap_message *m)
{
    mj_error *err = mj_conn_error(s->conn);
    mj_outcome o;
    if (mj_imap_node_is(name, "ENVELOPE")) {
        o = imap_decode_envelope(&s->decoder, v, seq, &m->envelope, err);
        m->has_envelope = m->envelope != NULL;
        m->subject = m->envelope != NULL ? m->envelope->subject : NULL;
    } else {
        o = imap_decode_body(&s->decoder, v, mj_imap_node_is(name, "BODY") ? "BODY" : "BODYSTRUCTURE",
                             seq, &m->body, err);
        m->has_bodystructure = m->body != NULL;
    }
    if (o != MJ_OK)
        imap_set_state(s, MJ_IMAP_STATE_FAILED);
    return o;
}

/* One "name value" pair of msg-att (RFC 9051 §9). */
static mj_outcome fetch_item(mj_imap *s, const mj_imap_fetch_cb *cb, uint32_t seq,
                             const mj_imap_node *name, const mj_imap_node *v, mj_imap_message *m,
                             const char **flags)
{
    if (name->kind != MJ_IMAP_ATOM)
        return malformed(s, "FETCH");
    if (mj_imap_node_is(name, "UID")) {
        if (mj_imap_node_number32(v, &m->uid) != 0)
            return malformed(s, "FETCH UID");
        m->has_uid = true;
    } else if (mj_imap_node_is(name, "FLAGS")) {
        if (v->kind != MJ_IMAP_LIST)
            return malformed(s, "FETCH FLAGS");
        m->has_flags = true;
        for (const mj_imap_node *f = v->first; f != NULL && m->n_flags < IMAP_FETCH_FLAGS_MAX; f = f->next)
            if (f->kind == MJ_IMAP_ATOM)
                flags[m->n_flags++] = f->str;
    } else if (mj_imap_node_is(name, "RFC822.SIZE")) {
        if (v->kind != MJ_IMAP_NUMBER)
            return malformed(s, "FETCH RFC822.SIZE");
        m->has_size = true;
        m->size = v->num;
    } else if (mj_imap_node_is(name, "INTERNALDATE")) {
        m->internaldate = v->kind == MJ_IMAP_QUOTED ? v->str : NULL;
    } else if (mj_imap_node_is(name, "MODSEQ")) {
        const mj_imap_node *n = v->kind == MJ_IMAP_LIST && v->count == 1 ? v->first : NULL;
        if (n != NULL && n->kind == MJ_IMAP_ATOM && negative_number(n)) {
            if ((s->decoder.tolerances & IMAP_TOL_NEGATIVE_MODSEQ) == 0)
                return malformed(s, "FETCH MODSEQ (a negative number: strict, tolerance "
                                    "negative-modseq is off)");
            s->decoder.used |= IMAP_TOL_NEGATIVE_MODSEQ;
            return MJ_OK; /* no mod-sequence known for this message */
        }
        if (n == NULL || n->kind != MJ_IMAP_NUMBER)
            return malformed(s, "FETCH MODSEQ");
        m->has_modseq = true;
        m->modseq = n->num;
    } else if (mj_imap_node_is(name, "ENVELOPE") || mj_imap_node_is(name, "BODYSTRUCTURE") ||
               mj_imap_node_is(name, "BODY")) {
        return fetch_structure(s, seq, name, v, m);
    } else if (strncasecmp(name->str, "BINARY.SIZE[", 12) == 0) {
        /* "BINARY.SIZE" section-binary SP number (RFC 3516 §4.2) */
        if (v->kind != MJ_IMAP_NUMBER)
            return malformed(s, "FETCH BINARY.SIZE");
        m->has_binary_size = true;
        m->binary_size = v->num;
    } else if (is_body_item(name)) {
        return fetch_body(s, cb, seq, name, v, m);
    }
    return MJ_OK;
}

/*
 * msg-att = "(" (msg-att-dynamic / msg-att-static) *(SP (msg-att-dynamic / msg-att-static)) ")"
 * Each item is a name and a value.  Domino wraps some items in one more
 * list, "(UID 14935 (ENVELOPE (...)) BODYSTRUCTURE (...))" (corpus
 * domino/fetch-extra-parens): unless strict, such a list's pairs are taken
 * as items of the response (one level only; IMAP_TOL_EXTRA_PARENS).
 */
static mj_outcome fetch_items(mj_imap *s, const mj_imap_fetch_cb *cb, uint32_t seq,
                              const mj_imap_node *first, bool nested, mj_imap_message *m,
                              const char **flags)
{
    for (const mj_imap_node *a = first; a != NULL;) {
        if (a->kind == MJ_IMAP_LIST && !nested && (s->decoder.tolerances & IMAP_TOL_EXTRA_PARENS) != 0) {
            s->decoder.used |= IMAP_TOL_EXTRA_PARENS;
            mj_outcome o = fetch_items(s, cb, seq, a->first, true, m, flags);
            if (o != MJ_OK)
                return o;
            a = a->next;
            continue;
        }
        if (a->kind == MJ_IMAP_LIST)
            return malformed(s, nested ? "FETCH (an item nested twice)"
                                       : "FETCH (an item in parentheses: strict, tolerance extra-parens is off)");
        if (a->next == NULL && a->kind == MJ_IMAP_ATOM && is_body_item(a) &&
            (s->decoder.tolerances & IMAP_TOL_ITEM_WITHOUT_VALUE) != 0) {
            static const mj_imap_node nil = {.kind = MJ_IMAP_NIL, .str = "NIL", .len = 3};
            s->decoder.used |= IMAP_TOL_ITEM_WITHOUT_VALUE;
            return fetch_item(s, cb, seq, a, &nil, m, flags); /* the last item */
        }
        if (a->next == NULL)
            return malformed(s, is_body_item(a) ? "FETCH (a body section without a value: strict, "
                                                  "tolerance item-without-value is off)"
                                                : "FETCH (an item without a value)");
        mj_outcome o = fetch_item(s, cb, seq, a, a->next, m, flags);
        if (o != MJ_OK)
            return o;
        a = a->next->next;
    }
    return MJ_OK;
}

mj_outcome imap_fetch_response(mj_imap *s, const mj_imap_response *r, const mj_imap_fetch_cb *cb)
{
    const mj_imap_node *list = r->data;
    if (r->number == 0) /* nz-number: message sequence numbers start at 1 (RFC 9051 2.3.1.2) */
        return malformed(s, "FETCH (message number 0)");
    if (list == NULL || list->kind != MJ_IMAP_LIST)
        return malformed(s, "FETCH");
    const char *flags[IMAP_FETCH_FLAGS_MAX];
    mj_imap_message m = {.seq = r->number, .flags = flags};
    imap_decoder_reset(&s->decoder);
    mj_outcome o = fetch_items(s, cb, r->number, list->first, false, &m, flags);
    if (o != MJ_OK)
        return o;
    return cb != NULL && cb->message != NULL ? cb->message(cb->ctx, &m) : MJ_OK;
}

static mj_outcome fetch_hook(mj_imap *s, void *ctx, const mj_imap_response *r)
{
    fetch_ctx *fc = ctx;
    if (!r->has_number || strcasecmp(r->name, "FETCH") != 0)
        return MJ_OK;
    return imap_fetch_response(s, r, fc->cb);
}

/* Run a command whose FETCH responses go to cb (bodies streamed through the sink). */
static mj_outcome with_fetch(mj_imap *s, imap_cmd cmd, const imap_part *parts, size_t n,
                             const mj_imap_fetch_cb *cb, imap_done *done)
{
    fetch_ctx fc = {cb};
    s->fetch_cb = cb;
    s->fetch_cmd = true;
    mj_error_clear(&s->fetch_err);
    mj_outcome o = imap_run(s, cmd, parts, n, fetch_hook, &fc, MJ_SERVER_REFUSED, done);
    s->fetch_cb = NULL;
    s->fetch_cmd = false;
    return o;
}

/* True if the caller's fetch items name a BINARY item (BINARY[, BINARY.PEEK[, BINARY.SIZE[). */
static bool mentions_binary(const char *items)
{
    for (const char *p = items; *p != '\0'; p++) {
        if (strncasecmp(p, "BINARY", 6) == 0 && (p[6] == '[' || p[6] == '.'))
            return true;
    }
    return false;
}

mj_outcome imap_fetch(mj_imap *s, bool uid, const char *set, const char *items,
                      const char *modifier, const mj_imap_fetch_cb *cb)
{
    if (imap_check_set(s, set) != MJ_OK || imap_check_raw(s, "fetch items", items) != MJ_OK)
        return MJ_USAGE;
    if (mentions_binary(items) && !mj_imap_has_capability(s, "BINARY"))
        return imap_lacks(s, "a BINARY fetch item (RFC 3516)", "BINARY");
    imap_part parts[] = {
        {IMAP_P_RAW, set, false, "sequence set", false},
        {IMAP_P_RAW, items, false, "fetch items", false},
        {IMAP_P_RAW, modifier, false, "fetch modifiers", false},
    };
    imap_done done;
    memset(&done, 0, sizeof done);
    mj_outcome o = with_fetch(s, uid ? IMAP_CMD_UID_FETCH : IMAP_CMD_FETCH, parts,
                              modifier != NULL ? 3 : 2, cb, &done);
    if (o == MJ_SERVER_REFUSED && strcasecmp(done.code, "UNKNOWN-CTE") == 0) /* RFC 3516 §4.3 */
        return mj_error_set(mj_conn_error(s->conn), MJ_SERVER_REFUSED, MJ_R_NONE,
                            "the server cannot decode the part's Content-Transfer-Encoding for "
                            "BINARY ([UNKNOWN-CTE]; fetch it with BODY[] instead): NO %s",
                            done.text[0] ? done.text : "(no text)");
    return o;
}

mj_outcome mj_imap_fetch(mj_imap *s, bool uid, const char *set, const char *items,
                         const mj_imap_fetch_cb *cb)
{
    return imap_fetch(s, uid, set, items, NULL, cb);
}

/* ---- STORE ------------------------------------------------------------------------------------ */

mj_outcome imap_store(mj_imap *s, bool uid, const char *set, mj_imap_store_mode mode,
                      const char *flags, bool silent, const char *modifier,
                      const mj_imap_fetch_cb *cb)
{
    static const char *const items[][2] = {
        [MJ_IMAP_STORE_ADD] = {"+FLAGS", "+FLAGS.SILENT"},
        [MJ_IMAP_STORE_REMOVE] = {"-FLAGS", "-FLAGS.SILENT"},
        [MJ_IMAP_STORE_REPLACE] = {"FLAGS", "FLAGS.SILENT"},
    };
    if ((unsigned)mode > MJ_IMAP_STORE_REPLACE)
        return mj_error_set(mj_conn_error(s->conn), MJ_USAGE, MJ_R_BAD_ARGUMENT, "bad STORE mode");
    if (imap_check_set(s, set) != MJ_OK || imap_check_flags(s, flags) != MJ_OK)
        return MJ_USAGE;
    imap_part parts[] = {
        {IMAP_P_RAW, set, false, "sequence set", false},
        {IMAP_P_RAW, modifier, false, "store modifiers", false},
        {IMAP_P_RAW, items[mode][silent ? 1 : 0], false, "item", false},
        {IMAP_P_RAW, "(", false, "flags", false},
        {IMAP_P_RAW, flags, false, "flags", true},
        {IMAP_P_RAW, ")", false, "flags", true},
    };
    if (modifier == NULL) /* no modifier: the part is left out */
        parts[1] = parts[0];
    return with_fetch(s, uid ? IMAP_CMD_UID_STORE : IMAP_CMD_STORE,
                      modifier != NULL ? parts : parts + 1, modifier != NULL ? 6 : 5, cb, NULL);
}

mj_outcome mj_imap_store(mj_imap *s, bool uid, const char *set, mj_imap_store_mode mode,
                         const char *flags, bool silent, const mj_imap_fetch_cb *cb)
{
    return imap_store(s, uid, set, mode, flags, silent, NULL, cb);
}

/* ---- SEARCH -------------------------------------------------------------------------------------- */

typedef struct search_ctx {
    mj_outcome (*fn)(void *ctx, uint32_t n);
    void *ctx;
} search_ctx;

/*
 * ESEARCH ALL's sequence-set (RFC 4731 §3.1), checked whole (nz-numbers of
 * 32 bits, ranges, commas; at most IMAP_ESEARCH_EXPAND_MAX numbers) before
 * fn gets any number.  in_order: a range a:b goes from a towards b, as
 * written (ESORT, where the order is the answer); otherwise low to high.
 */
mj_outcome imap_esearch_expand(mj_imap *s, const char *set, bool in_order,
                               mj_outcome (*fn)(void *ctx, uint32_t n), void *ctx)
{
    for (int pass = 0; pass < 2; pass++) {
        uint64_t total = 0;
        for (const char *p = set;;) {
            char *end = NULL;
            if (*p < '1' || *p > '9')
                return malformed(s, "ESEARCH");
            unsigned long long a = strtoull(p, &end, 10), b = a;
            if (*end == ':') {
                p = end + 1;
                if (*p < '1' || *p > '9')
                    return malformed(s, "ESEARCH");
                b = strtoull(p, &end, 10);
            }
            if (a > UINT32_MAX || b > UINT32_MAX)
                return imap_fail_if_fatal(s, mj_error_set(mj_conn_error(s->conn), MJ_PROTOCOL_ERROR,
                                                          MJ_R_NUMBER_OVERFLOW,
                                                          "malformed ESEARCH response: a number "
                                                          "over 32 bits"));
            uint64_t lo = a < b ? a : b, hi = a < b ? b : a;
            if ((total += hi - lo + 1) > IMAP_ESEARCH_EXPAND_MAX)
                return imap_fail_if_fatal(s, mj_error_set(mj_conn_error(s->conn), MJ_PROTOCOL_ERROR,
                                                          MJ_R_REPLY_TOO_LARGE,
                                                          "ESEARCH result over %" PRIu64 " numbers",
                                                          IMAP_ESEARCH_EXPAND_MAX));
            for (uint64_t i = 0; pass == 1 && fn != NULL && i <= hi - lo; i++) {
                uint64_t n = !in_order || a <= b ? (in_order ? a : lo) + i : a - i;
                mj_outcome o = fn(ctx, (uint32_t)n);
                if (o != MJ_OK)
                    return o;
            }
            p = end;
            if (*p == '\0')
                break;
            if (*p != ',')
                return malformed(s, "ESEARCH");
            p++;
        }
    }
    return MJ_OK;
}

bool imap_esearch_ours(const mj_imap *s, const mj_imap_response *r, const mj_imap_node **data_out,
                       bool *uid_out)
{
    /* search-correlator = SP "(" "TAG" SP tag-string ")": another command's result is not ours */
    const mj_imap_node *n = r->data;
    *uid_out = false;
    *data_out = NULL;
    if (n != NULL && n->kind == MJ_IMAP_LIST && n->count == 2 && mj_imap_node_is(n->first, "TAG")) {
        if (n->first->next->str == NULL || strcmp(n->first->next->str, s->tag) != 0)
            return false;
        n = n->next;
    }
    if (n != NULL && mj_imap_node_is(n, "UID")) {
        *uid_out = true;
        n = n->next;
    }
    *data_out = n;
    return true;
}

static mj_outcome search_hook(mj_imap *s, void *ctx, const mj_imap_response *r)
{
    search_ctx *sc = ctx;
    if (strcasecmp(r->name, "SEARCH") == 0) {
        for (const mj_imap_node *n = r->data; n != NULL; n = n->next) {
            uint32_t v = 0;
            if (n->kind == MJ_IMAP_LIST) /* "(MODSEQ n)" with CONDSTORE */
                continue;
            if (mj_imap_node_number32(n, &v) != 0)
                return malformed(s, "SEARCH");
            mj_outcome o = sc->fn != NULL ? sc->fn(sc->ctx, v) : MJ_OK;
            if (o != MJ_OK)
                return o;
        }
    } else if (strcasecmp(r->name, "ESEARCH") == 0) {
        bool uid = false;
        const mj_imap_node *data = NULL;
        if (!imap_esearch_ours(s, r, &data, &uid))
            return MJ_OK;
        for (const mj_imap_node *n = data; n != NULL && n->next != NULL; n = n->next) {
            if (mj_imap_node_is(n, "ALL"))
                return imap_esearch_expand(s, n->next->str != NULL ? n->next->str : "", false,
                                           sc->fn, sc->ctx);
        }
    }
    return MJ_OK;
}

/* SEARCH [RETURN (ALL)] [CHARSET UTF-8] criteria (RFC 4731 §3: RETURN before CHARSET) */
mj_outcome mj_imap_search(mj_imap *s, bool uid, const char *criteria,
                          mj_outcome (*fn)(void *ctx, uint32_t n), void *ctx)
{
    imap_criteria c;
    if (imap_criteria_build(s, criteria, &c) != MJ_OK)
        return MJ_USAGE;
    search_ctx sc = {fn, ctx};
    bool esearch = (s->caps.bits & MJ_IMAP_CAP_ESEARCH) != 0 || s->rev2; /* rev2: ESEARCH is base */
    imap_part parts[2 + IMAP_CRITERIA_PARTS_MAX];
    size_t k = 0;
    if (esearch)
        parts[k++] = (imap_part){IMAP_P_RAW, "RETURN (ALL)", false, "return options", false};
    if (c.charset)
        parts[k++] = (imap_part){IMAP_P_RAW, "CHARSET UTF-8", false, "charset", false};
    memcpy(parts + k, c.parts, c.n * sizeof parts[0]);
    k += c.n;
    imap_cmd cmd = uid ? IMAP_CMD_UID_SEARCH : IMAP_CMD_SEARCH;
    imap_done done;
    memset(&done, 0, sizeof done);
    mj_outcome o = imap_run(s, cmd, parts, k, search_hook, &sc, MJ_SERVER_REFUSED, &done);
    imap_criteria_free(&c);
    return imap_criteria_refused(s, cmd, &done, o);
}

/* ---- COPY, MOVE, APPEND ------------------------------------------------------------------------------ */

/* "[COPYUID v src dst]" / "[APPENDUID v uid]" arguments (RFC 4315 §3). */
void imap_parse_uidplus(const char *args, bool copy, mj_imap_uidplus *out)
{
    unsigned long v = 0;
    char a[256], b[256];
    int n = sscanf(args, "%lu %255s %255s", &v, a, b);
    if (n != (copy ? 3 : 2) || v == 0 || v > UINT32_MAX)
        return;
    out->present = true;
    out->uidvalidity = (uint32_t)v;
    snprintf(out->source, sizeof out->source, "%s", copy ? a : "");
    snprintf(out->dest, sizeof out->dest, "%s", copy ? b : a);
}

/* MOVE sends COPYUID in an untagged OK before the tagged one (RFC 6851 §4.3). */
static mj_outcome move_hook(mj_imap *s, void *ctx, const mj_imap_response *r)
{
    (void)s;
    if (r->status == MJ_IMAP_ST_OK && r->code != NULL && strcasecmp(r->code, "COPYUID") == 0) {
        char args[IMAP_CODE_ARGS_KEEP];
        mj_escape(r->code_args, strlen(r->code_args), args, sizeof args);
        imap_parse_uidplus(args, true, ctx);
    }
    return MJ_OK;
}

mj_outcome mj_imap_copy(mj_imap *s, bool uid, bool move, const char *set, const char *mailbox,
                        mj_imap_uidplus *copyuid_out)
{
    static const imap_cmd cmds[2][2] = {{IMAP_CMD_COPY, IMAP_CMD_UID_COPY},
                                        {IMAP_CMD_MOVE, IMAP_CMD_UID_MOVE}};
    mj_imap_uidplus local;
    mj_imap_uidplus *cu = copyuid_out != NULL ? copyuid_out : &local;
    memset(cu, 0, sizeof *cu);
    if (imap_check_set(s, set) != MJ_OK)
        return MJ_USAGE;
    /* RFC 6851 §3.3: MOVE only to a server that advertises it (IMAP4rev2 has it); with the
       capabilities unknown (CAPABILITY refused) the server's answer decides */
    if (move && s->caps.known && (s->caps.bits & MJ_IMAP_CAP_MOVE) == 0 && !s->rev2)
        return imap_lacks(s, uid ? "UID MOVE (RFC 6851)" : "MOVE (RFC 6851)", "MOVE");
    imap_part parts[] = {
        {IMAP_P_RAW, set, false, "sequence set", false},
        {IMAP_P_MAILBOX, mailbox, false, "mailbox name", false},
    };
    imap_done done;
    mj_outcome o = imap_run(s, cmds[move][uid], parts, 2, move ? move_hook : NULL, cu,
                            MJ_SERVER_REFUSED, &done);
    if (o == MJ_OK && strcasecmp(done.code, "COPYUID") == 0)
        imap_parse_uidplus(done.code_args, true, cu);
    return o;
}

mj_outcome mj_imap_append(mj_imap *s, const char *mailbox, const char *flags, uint64_t size,
                          mj_imap_read_fn read, void *ctx, mj_imap_uidplus *appenduid_out)
{
    mj_imap_append_msg msg = {.flags = flags, .size = size, .read = read, .ctx = ctx};
    return mj_imap_append_many(s, mailbox, &msg, 1, NULL, appenduid_out);
}

/* ---- IDLE ------------------------------------------------------------------------------------------------ */

typedef struct idle_ctx {
    unsigned events;
    bool until_event;
    bool stop;
} idle_ctx;

static mj_outcome idle_hook(mj_imap *s, void *ctx, const mj_imap_response *r)
{
    idle_ctx *ic = ctx;
    (void)s;
    ic->events++;
    if (ic->until_event && r->has_number &&
        (strcasecmp(r->name, "EXISTS") == 0 || strcasecmp(r->name, "EXPUNGE") == 0 ||
         strcasecmp(r->name, "FETCH") == 0))
        ic->stop = true;
    if (ic->until_event && !r->has_number && strcasecmp(r->name, "VANISHED") == 0)
        ic->stop = true; /* RFC 7162 3.2.10: QRESYNC's EXPUNGE */
    return MJ_OK;
}

/*
 * Read responses until the deadline, an event (until_event) or a tagged
 * reply (*tagged_out).  Running out of time is not an error here.
 */
static mj_outcome idle_wait(mj_imap *s, idle_ctx *ic, int64_t end_ms, imap_done *done,
                            bool *tagged_out)
{
    mj_timeouts *t = mj_conn_timeouts(s->conn);
    mj_error *err = mj_conn_error(s->conn);
    int saved = t->io_ms;
    mj_outcome o = MJ_OK;
    while (!ic->stop) {
        int64_t left = end_ms - mj_now_ms();
        if (left <= 0)
            break;
        if (s->in_len == 0) {
            t->io_ms = left < saved ? (int)left : saved;
            o = mj_reader_read_some(mj_conn_reader(s->conn), MJ_READER_CHUNK, &s->in, &s->in_len, err);
            t->io_ms = saved;
            if (o == MJ_TIMEOUT && err->reason == MJ_R_IO_TIMEOUT) {
                mj_error_clear(err);
                s->in_len = 0;
                o = MJ_OK;
                continue;
            }
            if (o != MJ_OK) {
                s->in_len = 0;
                return imap_fail_if_fatal(s, o);
            }
        }
        const mj_imap_response *r = NULL;
        size_t used = 0;
        mj_parse_result pr = mj_imap_parse(s->parser, s->in, s->in_len, &used, &r, err);
        s->in += used;
        s->in_len -= used;
        if (pr == MJ_PARSE_ERROR)
            return imap_fail_if_fatal(s, err->outcome);
        if (pr == MJ_PARSE_NEED_MORE)
            continue;
        if (r->kind == MJ_IMAP_TAGGED) {
            *tagged_out = true;
            return imap_tagged(s, r, done);
        }
        if (r->kind == MJ_IMAP_CONTINUATION)
            continue; /* some servers repeat "+ idling" as a keep-alive */
        o = imap_untagged(s, r, idle_hook, ic);
        if (o != MJ_OK)
            return o;
    }
    return o;
}

mj_outcome mj_imap_idle(mj_imap *s, unsigned seconds, bool until_event, unsigned *events_out)
{
    idle_ctx ic = {0, until_event, false};
    imap_done done;
    bool ended = false, tagged = false;
    mj_outcome o = imap_begin(s, IMAP_CMD_IDLE);
    if (o == MJ_OK)
        o = mj_conn_put(s->conn, "\r\n", 2, false);
    if (o == MJ_OK)
        o = mj_conn_flush(s->conn);
    if (o != MJ_OK)
        return imap_fail_if_fatal(s, o);
    for (;;) { /* the '+' that starts idling; untagged data may come first */
        const mj_imap_response *r = NULL;
        o = imap_read(s, &r);
        if (o != MJ_OK)
            return o;
        if (r->kind == MJ_IMAP_CONTINUATION)
            break;
        if (r->kind == MJ_IMAP_TAGGED) {
            o = imap_tagged(s, r, &done);
            ended = true;
            break;
        }
        if ((o = imap_untagged(s, r, idle_hook, &ic)) != MJ_OK)
            return o;
    }
    if (o == MJ_OK && !ended)
        o = idle_wait(s, &ic, mj_now_ms() + (int64_t)seconds * 1000, &done, &tagged);
    if (events_out != NULL)
        *events_out = ic.events;
    if (o != MJ_OK)
        return o;
    if (ended || tagged)
        return done.status == MJ_IMAP_ST_OK ? MJ_OK : imap_refused(s, IMAP_CMD_IDLE, &done, MJ_SERVER_REFUSED);
    o = mj_conn_puts(s->conn, "DONE");
    if (o != MJ_OK)
        return imap_fail_if_fatal(s, o);
    o = imap_finish(s, IMAP_CMD_IDLE, idle_hook, &ic, MJ_SERVER_REFUSED, NULL);
    if (events_out != NULL)
        *events_out = ic.events;
    return o;
}

/* ---- QUOTA ---------------------------------------------------------------------------------------------- */

/* quota-response = "QUOTA" SP astring SP quota-list; quota-list = "(" quota-resource *(SP ...) ")" */
mj_outcome imap_quota_hook(mj_imap *s, void *ctx, const mj_imap_response *r)
{
    imap_quota_ctx *qc = ctx;
    if (strcasecmp(r->name, "QUOTA") != 0)
        return MJ_OK;
    const mj_imap_node *root = r->data;
    const mj_imap_node *list = root != NULL ? root->next : NULL;
    if (root == NULL || root->str == NULL || list == NULL || list->kind != MJ_IMAP_LIST ||
        list->count % 3 != 0)
        return malformed(s, "QUOTA");
    for (const mj_imap_node *a = list->first; a != NULL; a = a->next->next->next) {
        if (a->kind != MJ_IMAP_ATOM || a->next->kind != MJ_IMAP_NUMBER ||
            a->next->next->kind != MJ_IMAP_NUMBER)
            return malformed(s, "QUOTA");
        mj_outcome o = qc->fn != NULL ? qc->fn(qc->ctx, root->str, a->str, a->next->num, a->next->next->num)
                                      : MJ_OK;
        if (o != MJ_OK)
            return o;
    }
    return MJ_OK;
}

mj_outcome mj_imap_quota(mj_imap *s, const char *mailbox, mj_imap_quota_fn fn, void *ctx)
{
    imap_quota_ctx qc = {fn, ctx};
    imap_part parts[] = {{IMAP_P_MAILBOX, mailbox, false, "mailbox name", false}};
    return imap_run(s, IMAP_CMD_GETQUOTAROOT, parts, 1, imap_quota_hook, &qc, MJ_SERVER_REFUSED, NULL);
}
