/*
 * imap/bodystructure.c: ENVELOPE and BODYSTRUCTURE / BODY decoded from the
 * parser's tree (imap/bodystructure.h).
 *
 * RFC 9051 §7.5.2 (FETCH response items ENVELOPE, BODY, BODYSTRUCTURE) and
 * §9 (the grammar quoted above each function), RFC 3501 §7.4.2 (IMAP4rev1:
 * the same shapes; address groups), RFC 3501 §6.4.5 (part numbers).
 *
 * Strings are not copied: they point into the parser's tree.  Structures
 * come from the decoder's arena.  Every count a server chooses is capped by
 * a named limit of mailjig/imap.h before anything is allocated for it.
 */
#include "imap/bodystructure.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Escaped server text quoted in an error ("got string \"...\""). */
#define IMAP_DECODE_QUOTE_MAX 48
/* One error's detail before the common prefix is added. */
#define IMAP_DECODE_DETAIL_MAX 320
/* A field name with its position ("env-cc address 12"). */
#define IMAP_DECODE_FIELD_MAX 64

/* ---- arena --------------------------------------------------------------------------------- */

struct imap_arena_block {
    imap_arena_block *next;
    size_t used, cap; /* bytes of data */
    max_align_t data[];
};

static const char *const tolerance_names[] = {
    "nil-field",         "number-as-string", "missing-lines", "message-as-basic",
    "empty-multipart",   "empty-list",       "large-octets",  "extra-parens",
    "negative-modseq",   "item-without-value", "empty-delimiter",
};

const char *imap_tolerance_name(unsigned bit)
{
    for (unsigned i = 0; i < sizeof tolerance_names / sizeof tolerance_names[0]; i++)
        if (bit == 1u << i)
            return tolerance_names[i];
    return "unknown";
}

void imap_decoder_init(imap_decoder *d, unsigned tolerances)
{
    memset(d, 0, sizeof *d);
    d->tolerances = tolerances & IMAP_TOL_ALL;
}

void imap_decoder_reset(imap_decoder *d)
{
    imap_arena_block *keep = NULL;
    for (imap_arena_block *b = d->blocks, *next; b != NULL; b = next) {
        next = b->next;
        if (keep == NULL && b->cap == IMAP_DECODE_BLOCK) {
            keep = b;
            continue;
        }
        free(b);
    }
    d->blocks = keep;
    d->total = 0;
    if (keep != NULL) {
        keep->next = NULL;
        keep->used = 0;
        d->total = keep->cap;
    }
    d->used = 0;
}

void imap_decoder_free(imap_decoder *d)
{
    for (imap_arena_block *b = d->blocks, *next; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
    d->blocks = NULL;
    d->total = 0;
}

/* snprintf for names and paths: truncation is harmless here (a message
   gets shorter), and vsnprintf keeps the compiler from flagging it. */
static void format(char *out, size_t size, const char *fmt, ...) MJ_PRINTF(3, 4);
static void format(char *out, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, size, fmt, ap);
    va_end(ap);
}

/* ---- decoding context and errors ------------------------------------------------------------ */

typedef struct dctx {
    imap_decoder *d;
    mj_error *err;
    const char *item; /* "ENVELOPE", "BODYSTRUCTURE", "BODY" */
    uint32_t seq;
    bool body;        /* the item is a body: errors name the part */
    const char *part; /* part being decoded ("" for the root multipart) */
    size_t parts;     /* body nodes so far */
    mj_outcome failed; /* the outcome of the error set in err */
} dctx;

/* "BODYSTRUCTURE of message 3, part 1.2" */
static void where(const dctx *c, char *out, size_t size)
{
    if (!c->body)
        format(out, size, "%s of message %" PRIu32, c->item, c->seq);
    else if (c->part[0] == '\0')
        format(out, size, "%s of message %" PRIu32 ", top level", c->item, c->seq);
    else
        format(out, size, "%s of message %" PRIu32 ", part %s", c->item, c->seq, c->part);
}

static mj_outcome failv(dctx *c, mj_outcome o, mj_reason reason, const char *fmt, va_list ap)
    MJ_PRINTF(4, 0);
static mj_outcome failv(dctx *c, mj_outcome o, mj_reason reason, const char *fmt, va_list ap)
{
    char detail[IMAP_DECODE_DETAIL_MAX], at[IMAP_BODY_PATH_MAX + 64];
    c->failed = o;
    vsnprintf(detail, sizeof detail, fmt, ap);
    where(c, at, sizeof at);
    return mj_error_set(c->err, o, reason, "%s%s: %s", reason == MJ_R_MALFORMED ? "malformed " : "",
                        at, detail);
}

static mj_outcome fail(dctx *c, mj_reason reason, const char *fmt, ...) MJ_PRINTF(3, 4);
static mj_outcome fail(dctx *c, mj_reason reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mj_outcome o = failv(c, MJ_PROTOCOL_ERROR, reason, fmt, ap);
    va_end(ap);
    return o;
}

/* What a node is, for messages: "NIL", "number 12", "string \"x\"", "a list of 3", "nothing". */
static void describe(const mj_imap_node *n, char *out, size_t size)
{
    char q[IMAP_DECODE_QUOTE_MAX];
    if (n == NULL) {
        format(out, size, "nothing");
        return;
    }
    switch (n->kind) {
    case MJ_IMAP_NIL:
        format(out, size, "NIL");
        return;
    case MJ_IMAP_LIST:
        format(out, size, "a list of %zu", n->count);
        return;
    case MJ_IMAP_NUMBER:
        format(out, size, "number %" PRIu64, n->num);
        return;
    case MJ_IMAP_ATOM:
        format(out, size, "atom %s", mj_escape(n->str, n->len, q, sizeof q));
        return;
    case MJ_IMAP_QUOTED:
    case MJ_IMAP_LITERAL:
        if (n->str == NULL)
            format(out, size, "a streamed literal of %" PRIu64 " bytes", n->num);
        else
            format(out, size, "string \"%s\"", mj_escape(n->str, n->len, q, sizeof q));
        return;
    }
    format(out, size, "?");
}

/* Is the tolerance allowed?  If so, note that it was used. */
static bool tolerate(dctx *c, unsigned bit)
{
    if ((c->d->tolerances & bit) == 0)
        return false;
    c->d->used |= bit;
    return true;
}

/* "field: expected X, got Y" (+ which tolerance a strict session turned off). */
static mj_outcome bad(dctx *c, const mj_imap_node *n, const char *field, const char *expected,
                      unsigned tolerance)
{
    char got[IMAP_DECODE_QUOTE_MAX + 40];
    describe(n, got, sizeof got);
    if (tolerance != 0 && (c->d->tolerances & tolerance) == 0)
        return fail(c, MJ_R_MALFORMED, "%s: expected %s, got %s (strict: tolerance %s is off)",
                    field, expected, got, imap_tolerance_name(tolerance));
    return fail(c, MJ_R_MALFORMED, "%s: expected %s, got %s", field, expected, got);
}

/* size bytes of zeroed memory from the arena, or an error in c. */
static void *alloc(dctx *c, size_t count, size_t each)
{
    imap_decoder *d = c->d;
    if (each != 0 && count > IMAP_DECODE_MEMORY_MAX / each) {
        fail(c, MJ_R_REPLY_TOO_LARGE, "over %zu bytes of structures", IMAP_DECODE_MEMORY_MAX);
        return NULL;
    }
    size_t unit = sizeof(max_align_t);
    size_t size = (count * each + unit - 1) / unit * unit;
    if (size == 0)
        size = unit;
    imap_arena_block *b = d->blocks;
    if (b == NULL || b->cap - b->used < size) {
        size_t cap = size > IMAP_DECODE_BLOCK ? size : IMAP_DECODE_BLOCK;
        if (d->total + cap > IMAP_DECODE_MEMORY_MAX) {
            fail(c, MJ_R_REPLY_TOO_LARGE, "over %zu bytes of structures (IMAP_DECODE_MEMORY_MAX)",
                 IMAP_DECODE_MEMORY_MAX);
            return NULL;
        }
        b = malloc(sizeof *b + cap);
        if (b == NULL) {
            c->failed = mj_error_set(c->err, MJ_INTERNAL, MJ_R_NO_MEMORY, "out of memory decoding %s",
                                     c->item);
            return NULL;
        }
        b->cap = cap;
        b->used = 0;
        b->next = d->blocks;
        d->blocks = b;
        d->total += cap;
    }
    void *p = (unsigned char *)b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

static bool is_string(const mj_imap_node *n)
{
    return n != NULL && (n->kind == MJ_IMAP_QUOTED || n->kind == MJ_IMAP_LITERAL);
}

/* ---- fields ------------------------------------------------------------------------------- */

/*
 * string  = quoted / literal
 * nstring = string / nil
 * nil_ok: nstring; otherwise NIL needs IMAP_TOL_NIL_FIELD.  *out NULL for NIL.
 */
static mj_outcome get_str(dctx *c, const mj_imap_node *n, const char *field, bool nil_ok,
                          const char **out)
{
    *out = NULL;
    if (n != NULL && n->kind == MJ_IMAP_NIL) {
        if (nil_ok || tolerate(c, IMAP_TOL_NIL_FIELD))
            return MJ_OK;
        return bad(c, n, field, "a string", IMAP_TOL_NIL_FIELD);
    }
    if (!is_string(n))
        return bad(c, n, field, nil_ok ? "a string or NIL" : "a string", 0);
    if (n->str == NULL)
        return fail(c, MJ_R_REPLY_TOO_LARGE, "%s: a literal of %" PRIu64 " bytes, over the inline limit",
                    field, n->num);
    *out = n->str;
    return MJ_OK;
}

/*
 * The common case of get_str without a field name: a string kept inline, or
 * NIL where nil_ok.  False for anything else, which get_str then judges
 * (tolerances, errors) with the name formatted: names are built only for
 * the rare response that needs one, not for every address of every message.
 */
static bool str_plain(const mj_imap_node *n, bool nil_ok, const char **out)
{
    if (n != NULL && n->kind == MJ_IMAP_NIL && nil_ok) {
        *out = NULL;
        return true;
    }
    if (is_string(n) && n->str != NULL) {
        *out = n->str;
        return true;
    }
    return false;
}

/* Digits only, 1 to 18 of them (always < 2^63): the value of a "1234" string. */
static bool digits_value(const mj_imap_node *n, uint64_t *out)
{
    if (n->kind != MJ_IMAP_QUOTED || n->len == 0 || n->len > 18)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n->len; i++) {
        if (n->str[i] < '0' || n->str[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(n->str[i] - '0');
    }
    *out = v;
    return true;
}

/*
 * number   = 1*DIGIT   ; unsigned 32-bit (body-fld-octets)
 * number64 = 1*DIGIT   ; unsigned 63-bit (body-fld-lines)
 * wide: number64.  *has false when a tolerated NIL was sent.
 */
static mj_outcome get_num(dctx *c, const mj_imap_node *n, const char *field, bool wide, bool *has,
                          uint64_t *out)
{
    *has = false;
    *out = 0;
    uint64_t v = 0;
    if (n != NULL && n->kind == MJ_IMAP_NIL) {
        if (tolerate(c, IMAP_TOL_NIL_FIELD))
            return MJ_OK;
        return bad(c, n, field, "a number", IMAP_TOL_NIL_FIELD);
    }
    if (n != NULL && n->kind == MJ_IMAP_NUMBER) {
        v = n->num;
    } else if (n != NULL && digits_value(n, &v)) {
        if (!tolerate(c, IMAP_TOL_NUMBER_AS_STRING))
            return bad(c, n, field, "a number", IMAP_TOL_NUMBER_AS_STRING);
    } else {
        return bad(c, n, field, "a number", 0);
    }
    if (!wide && v > UINT32_MAX && !tolerate(c, IMAP_TOL_LARGE_OCTETS)) {
        bool strict = (c->d->tolerances & IMAP_TOL_LARGE_OCTETS) == 0;
        return fail(c, MJ_R_NUMBER_OVERFLOW, "%s: %" PRIu64 " does not fit 32 bits (RFC 9051 number)%s",
                    field, v, strict ? " (strict: tolerance large-octets is off)" : "");
    }
    *has = true;
    *out = v;
    return MJ_OK;
}

/* body-fld-param = "(" string SP string *(SP string SP string) ")" / nil */
static mj_outcome get_params(dctx *c, const mj_imap_node *n, const char *field,
                             const mj_imap_param **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (n != NULL && n->kind == MJ_IMAP_NIL)
        return MJ_OK;
    if (n == NULL || n->kind != MJ_IMAP_LIST)
        return bad(c, n, field, "a parameter list or NIL", 0);
    if (n->count == 0) {
        if (tolerate(c, IMAP_TOL_EMPTY_LIST))
            return MJ_OK;
        return bad(c, n, field, "name/value pairs or NIL", IMAP_TOL_EMPTY_LIST);
    }
    if (n->count % 2 != 0)
        return fail(c, MJ_R_MALFORMED, "%s: %zu strings, not name/value pairs", field, n->count);
    if (n->count / 2 > MJ_IMAP_BODY_PARAMS_MAX)
        return fail(c, MJ_R_REPLY_TOO_LARGE, "%s: over %d parameters (MJ_IMAP_BODY_PARAMS_MAX)", field,
                    MJ_IMAP_BODY_PARAMS_MAX);
    mj_imap_param *p = alloc(c, n->count / 2, sizeof *p);
    if (p == NULL)
        return c->failed;
    size_t i = 0;
    for (const mj_imap_node *e = n->first; e != NULL; e = e->next->next, i++) {
        char f[IMAP_DECODE_FIELD_MAX];
        mj_outcome o = MJ_OK;
        if (!str_plain(e, false, &p[i].name)) {
            format(f, sizeof f, "%s name %zu", field, i + 1);
            o = get_str(c, e, f, false, &p[i].name);
        }
        if (o == MJ_OK && !str_plain(e->next, false, &p[i].value)) {
            format(f, sizeof f, "%s value %zu", field, i + 1);
            o = get_str(c, e->next, f, false, &p[i].value);
        }
        if (o != MJ_OK)
            return o;
    }
    *out = p;
    *n_out = i;
    return MJ_OK;
}

/* ---- ENVELOPE ---------------------------------------------------------------------------------- */

/*
 * env-from = "(" 1*address ")" / nil      (env-sender, env-reply-to, env-to,
 *                                            env-cc, env-bcc: the same)
 * address  = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")"
 * addr-name = nstring; addr-adl = nstring; addr-mailbox = nstring; addr-host = nstring
 * Group syntax (RFC 9051 §7.5.2): host NIL starts a group named by mailbox;
 * mailbox and host NIL end it.
 */
static mj_outcome get_addresses(dctx *c, const mj_imap_node *n, const char *field,
                                mj_imap_addresses *out)
{
    out->items = NULL;
    out->count = 0;
    if (n != NULL && n->kind == MJ_IMAP_NIL)
        return MJ_OK;
    if (n == NULL || n->kind != MJ_IMAP_LIST)
        return bad(c, n, field, "a list of addresses or NIL", 0);
    if (n->count == 0) {
        if (tolerate(c, IMAP_TOL_EMPTY_LIST))
            return MJ_OK;
        return bad(c, n, field, "one address or more, or NIL", IMAP_TOL_EMPTY_LIST);
    }
    if (n->count > MJ_IMAP_ENVELOPE_ADDRESSES_MAX)
        return fail(c, MJ_R_REPLY_TOO_LARGE, "%s: %zu addresses, over %d (MJ_IMAP_ENVELOPE_ADDRESSES_MAX)",
                    field, n->count, MJ_IMAP_ENVELOPE_ADDRESSES_MAX);
    mj_imap_address *a = alloc(c, n->count, sizeof *a);
    if (a == NULL)
        return c->failed;
    size_t i = 0;
    for (const mj_imap_node *e = n->first; e != NULL; e = e->next, i++) {
        char f[IMAP_DECODE_FIELD_MAX]; /* "env-to address 2": formatted for errors only */
        if (e->kind != MJ_IMAP_LIST || e->count != 4) {
            format(f, sizeof f, "%s address %zu", field, i + 1);
            return bad(c, e, f, "(name adl mailbox host)", 0);
        }
        static const char *const names[] = {"addr-name", "addr-adl", "addr-mailbox", "addr-host"};
        const char **parts[] = {&a[i].name, &a[i].adl, &a[i].mailbox, &a[i].host};
        const mj_imap_node *p = e->first;
        for (size_t k = 0; k < 4; k++, p = p->next) {
            if (str_plain(p, true, parts[k]))
                continue;
            char fk[IMAP_DECODE_FIELD_MAX + 16];
            format(fk, sizeof fk, "%s address %zu %s", field, i + 1, names[k]);
            mj_outcome o = get_str(c, p, fk, true, parts[k]);
            if (o != MJ_OK)
                return o;
        }
        a[i].kind = a[i].host != NULL     ? MJ_IMAP_ADDR_MAILBOX
                    : a[i].mailbox != NULL ? MJ_IMAP_ADDR_GROUP_START
                                           : MJ_IMAP_ADDR_GROUP_END;
    }
    out->items = a;
    out->count = i;
    return MJ_OK;
}

typedef enum env_kind { ENV_STR = 0, ENV_ADDR } env_kind;

/* The ten fields of an envelope, in order. */
static const struct env_field {
    const char *name;
    env_kind kind;
    size_t offset;
} env_fields[] = {
    {"env-date", ENV_STR, offsetof(mj_imap_envelope, date)},
    {"env-subject", ENV_STR, offsetof(mj_imap_envelope, subject)},
    {"env-from", ENV_ADDR, offsetof(mj_imap_envelope, from)},
    {"env-sender", ENV_ADDR, offsetof(mj_imap_envelope, sender)},
    {"env-reply-to", ENV_ADDR, offsetof(mj_imap_envelope, reply_to)},
    {"env-to", ENV_ADDR, offsetof(mj_imap_envelope, to)},
    {"env-cc", ENV_ADDR, offsetof(mj_imap_envelope, cc)},
    {"env-bcc", ENV_ADDR, offsetof(mj_imap_envelope, bcc)},
    {"env-in-reply-to", ENV_STR, offsetof(mj_imap_envelope, in_reply_to)},
    {"env-message-id", ENV_STR, offsetof(mj_imap_envelope, message_id)},
};
#define ENV_FIELDS (sizeof env_fields / sizeof env_fields[0])

/*
 * envelope = "(" env-date SP env-subject SP env-from SP env-sender SP
 *            env-reply-to SP env-to SP env-cc SP env-bcc SP env-in-reply-to SP
 *            env-message-id ")"
 * env-date = nstring; env-subject = nstring; env-in-reply-to = nstring;
 * env-message-id = nstring
 * prefix names the envelope inside a message/rfc822 part ("envelope ").
 */
static mj_outcome envelope_node(dctx *c, const mj_imap_node *v, const char *prefix,
                                const mj_imap_envelope **out)
{
    *out = NULL;
    char f[IMAP_DECODE_FIELD_MAX];
    if (v == NULL || v->kind != MJ_IMAP_LIST || v->count != ENV_FIELDS) {
        format(f, sizeof f, "%senvelope", prefix);
        return bad(c, v, f, "a list of 10 fields", 0);
    }
    mj_imap_envelope *env = alloc(c, 1, sizeof *env);
    if (env == NULL)
        return c->failed;
    const mj_imap_node *e = v->first;
    for (size_t i = 0; i < ENV_FIELDS; i++, e = e->next) {
        void *slot = (unsigned char *)env + env_fields[i].offset;
        if (env_fields[i].kind == ENV_STR && str_plain(e, true, slot))
            continue;
        const char *name = env_fields[i].name; /* a nested envelope's fields carry the prefix */
        if (prefix[0] != '\0') {
            format(f, sizeof f, "%s%s", prefix, env_fields[i].name);
            name = f;
        }
        mj_outcome o = env_fields[i].kind == ENV_STR ? get_str(c, e, name, true, slot)
                                                     : get_addresses(c, e, name, slot);
        if (o != MJ_OK)
            return o;
    }
    *out = env;
    return MJ_OK;
}

mj_outcome imap_decode_envelope(imap_decoder *d, const mj_imap_node *v, uint32_t seq,
                                const mj_imap_envelope **out_env, mj_error *err)
{
    dctx c = {.d = d, .err = err, .item = "ENVELOPE", .seq = seq, .part = ""};
    *out_env = NULL;
    if (v != NULL && v->kind == MJ_IMAP_NIL) {
        if (tolerate(&c, IMAP_TOL_NIL_FIELD))
            return MJ_OK;
        return bad(&c, v, "envelope", "a list of 10 fields", IMAP_TOL_NIL_FIELD);
    }
    return envelope_node(&c, v, "", out_env);
}

/* ---- BODYSTRUCTURE ------------------------------------------------------------------------------- */

/*
 * body-extension = nstring / number / number64 /
 *                  "(" body-extension *(SP body-extension) ")"
 * Kept by no one (future extensions), but its shape is checked.
 */
static mj_outcome check_extension(dctx *c, const mj_imap_node *n)
{
    if (n->kind == MJ_IMAP_LIST) {
        if (n->count == 0 && !tolerate(c, IMAP_TOL_EMPTY_LIST))
            return bad(c, n, "body-extension", "one element or more", IMAP_TOL_EMPTY_LIST);
        for (const mj_imap_node *e = n->first; e != NULL; e = e->next) {
            mj_outcome o = check_extension(c, e);
            if (o != MJ_OK)
                return o;
        }
        return MJ_OK;
    }
    if (n->kind == MJ_IMAP_ATOM)
        return bad(c, n, "body-extension", "a string, number, NIL or list", 0);
    return MJ_OK;
}

/* body-fld-dsp = "(" string SP body-fld-param ")" / nil */
static mj_outcome get_disposition(dctx *c, const mj_imap_node *n, mj_imap_body *b)
{
    b->has_disposition = true;
    if (n->kind == MJ_IMAP_NIL)
        return MJ_OK;
    if (n->kind != MJ_IMAP_LIST || n->count != 2)
        return bad(c, n, "body-fld-dsp", "(type parameters) or NIL", 0);
    mj_outcome o = get_str(c, n->first, "body-fld-dsp type", false, &b->disposition);
    return o != MJ_OK ? o
                      : get_params(c, n->first->next, "body-fld-dsp parameters", &b->disposition_params,
                                   &b->n_disposition_params);
}

/* body-fld-lang = nstring / "(" string *(SP string) ")" */
static mj_outcome get_language(dctx *c, const mj_imap_node *n, mj_imap_body *b)
{
    b->has_language = true;
    if (n->kind == MJ_IMAP_NIL)
        return MJ_OK;
    size_t count = n->kind == MJ_IMAP_LIST ? n->count : 1;
    const mj_imap_node *first = n->kind == MJ_IMAP_LIST ? n->first : n;
    if (n->kind == MJ_IMAP_LIST && count == 0) {
        if (tolerate(c, IMAP_TOL_EMPTY_LIST))
            return MJ_OK;
        return bad(c, n, "body-fld-lang", "one language or more, or NIL", IMAP_TOL_EMPTY_LIST);
    }
    if (count > MJ_IMAP_BODY_LANGUAGES_MAX)
        return fail(c, MJ_R_REPLY_TOO_LARGE, "body-fld-lang: over %d languages (MJ_IMAP_BODY_LANGUAGES_MAX)",
                    MJ_IMAP_BODY_LANGUAGES_MAX);
    const char **langs = alloc(c, count, sizeof *langs);
    if (langs == NULL)
        return c->failed;
    size_t i = 0;
    for (const mj_imap_node *e = first; i < count; e = e->next, i++) {
        mj_outcome o = get_str(c, e, "body-fld-lang", false, &langs[i]);
        if (o != MJ_OK)
            return o;
    }
    b->languages = langs;
    b->n_languages = count;
    return MJ_OK;
}

/*
 * body-ext-1part = body-fld-md5 [SP body-fld-dsp [SP body-fld-lang
 *                  [SP body-fld-loc *(SP body-extension)]]]
 * body-ext-mpart = body-fld-param [SP body-fld-dsp [SP body-fld-lang
 *                  [SP body-fld-loc *(SP body-extension)]]]
 * body-fld-md5 = nstring; body-fld-loc = nstring
 * e is the first extension field or NULL (none sent: BODY, or a server
 * that stops early).
 */
static mj_outcome decode_ext(dctx *c, const mj_imap_node *e, bool mpart, mj_imap_body *b)
{
    if (e == NULL)
        return MJ_OK;
    mj_outcome o;
    if (mpart) {
        o = get_params(c, e, "body-fld-param", &b->params, &b->n_params);
    } else {
        b->has_md5 = true;
        o = get_str(c, e, "body-fld-md5", true, &b->md5);
    }
    if (o != MJ_OK || (e = e->next) == NULL)
        return o;
    if ((o = get_disposition(c, e, b)) != MJ_OK || (e = e->next) == NULL)
        return o;
    if ((o = get_language(c, e, b)) != MJ_OK || (e = e->next) == NULL)
        return o;
    b->has_location = true;
    if ((o = get_str(c, e, "body-fld-loc", true, &b->location)) != MJ_OK)
        return o;
    for (e = e->next; e != NULL; e = e->next)
        if ((o = check_extension(c, e)) != MJ_OK)
            return o;
    return MJ_OK;
}

static mj_outcome decode_body_node(dctx *c, const mj_imap_node *n, const char *single_path,
                                   const char *multi_path, unsigned depth, mj_imap_body *b);

/* A copy of path in the arena. */
static const char *keep_path(dctx *c, const char *path)
{
    size_t len = strlen(path);
    char *p = alloc(c, len + 1, 1);
    if (p != NULL)
        memcpy(p, path, len + 1);
    return p;
}

/*
 * body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]
 * media-subtype   = string
 * first_subtype: the list's first element when it holds no body
 * (IMAP_TOL_EMPTY_MULTIPART), else NULL.
 */
static mj_outcome decode_mpart(dctx *c, const mj_imap_node *list, const mj_imap_node *first_subtype,
                               const char *path, unsigned depth, mj_imap_body *b)
{
    b->kind = MJ_IMAP_BODY_MULTIPART;
    b->type = "MULTIPART";
    const mj_imap_node *e = list->first;
    size_t n = 0;
    for (; e != first_subtype && e != NULL && e->kind == MJ_IMAP_LIST; e = e->next)
        n++;
    if (n > MJ_IMAP_BODY_PARTS_MAX)
        return fail(c, MJ_R_REPLY_TOO_LARGE, "over %d body parts (MJ_IMAP_BODY_PARTS_MAX)",
                    MJ_IMAP_BODY_PARTS_MAX);
    mj_imap_body *parts = n > 0 ? alloc(c, n, sizeof *parts) : NULL;
    if (n > 0 && parts == NULL)
        return c->failed;
    size_t i = 0;
    for (const mj_imap_node *p = list->first; i < n; p = p->next, i++) {
        char child[IMAP_BODY_PATH_MAX];
        format(child, sizeof child, "%s%s%zu", path, path[0] != '\0' ? "." : "", i + 1);
        mj_outcome o = decode_body_node(c, p, child, child, depth + 1, &parts[i]);
        c->part = path;
        if (o != MJ_OK)
            return o;
    }
    b->parts = parts;
    b->n_parts = n;
    mj_outcome o = get_str(c, e, "media-subtype", false, &b->subtype);
    return o != MJ_OK ? o : decode_ext(c, e->next, true, b);
}

/* A number for body-fld-lines, or (tolerated) none: TEXT's lines. */
static mj_outcome text_lines(dctx *c, const mj_imap_node **e, mj_imap_body *b)
{
    const mj_imap_node *n = *e;
    uint64_t v = 0;
    bool numberish = n != NULL && (n->kind == MJ_IMAP_NUMBER || n->kind == MJ_IMAP_NIL || digits_value(n, &v));
    /* what could be the first extension field (md5 string, a list) means the
       lines are missing; an atom is wrong wherever it is */
    bool extension = n == NULL || is_string(n) || n->kind == MJ_IMAP_LIST;
    if (!numberish) {
        if (extension && tolerate(c, IMAP_TOL_MISSING_LINES))
            return MJ_OK; /* *e is the first extension field */
        return bad(c, n, "body-fld-lines", "a number", extension ? IMAP_TOL_MISSING_LINES : 0);
    }
    *e = n->next;
    return get_num(c, n, "body-fld-lines", true, &b->has_lines, &b->lines);
}

/*
 * body-type-msg = media-message SP body-fields SP envelope SP body SP body-fld-lines
 * media-message = DQUOTE "MESSAGE" DQUOTE SP DQUOTE ("RFC822" / "GLOBAL") DQUOTE
 * body-fld-lines = number64
 * *e: the field after body-fields; on return the first extension field.
 */
static mj_outcome decode_msg(dctx *c, const mj_imap_node **e, const char *path, unsigned depth,
                             mj_imap_body *b)
{
    const mj_imap_node *n = *e;
    if (n == NULL || n->kind != MJ_IMAP_LIST) {
        if (tolerate(c, IMAP_TOL_MESSAGE_AS_BASIC)) {
            b->kind = MJ_IMAP_BODY_BASIC;
            return MJ_OK;
        }
        return bad(c, n, "envelope", "the envelope of the MESSAGE part", IMAP_TOL_MESSAGE_AS_BASIC);
    }
    mj_outcome o = envelope_node(c, n, "envelope ", &b->envelope);
    if (o != MJ_OK)
        return o;
    n = n->next;
    if (n == NULL)
        return bad(c, n, "body", "the body of the MESSAGE part", 0);
    char single[IMAP_BODY_PATH_MAX];
    format(single, sizeof single, "%s.1", path);
    mj_imap_body *inner = alloc(c, 1, sizeof *inner);
    if (inner == NULL)
        return c->failed;
    o = decode_body_node(c, n, single, path, depth + 1, inner);
    c->part = path;
    if (o != MJ_OK)
        return o;
    b->message = inner;
    n = n->next;
    if (n == NULL) {
        if (tolerate(c, IMAP_TOL_MISSING_LINES)) {
            *e = NULL;
            return MJ_OK;
        }
        return bad(c, n, "body-fld-lines", "a number", IMAP_TOL_MISSING_LINES);
    }
    *e = n->next;
    return get_num(c, n, "body-fld-lines", true, &b->has_lines, &b->lines);
}

/*
 * body-type-1part = (body-type-basic / body-type-msg / body-type-text) [SP body-ext-1part]
 * body-type-basic = media-basic SP body-fields
 * body-type-text  = media-text SP body-fields SP body-fld-lines
 * media-basic     = ((DQUOTE ("APPLICATION" / "AUDIO" / "IMAGE" / "FONT" / "MESSAGE" /
 *                   "MODEL" / "VIDEO") DQUOTE) / string) SP media-subtype
 * media-text      = DQUOTE "TEXT" DQUOTE SP media-subtype
 * body-fields     = body-fld-param SP body-fld-id SP body-fld-desc SP body-fld-enc SP
 *                   body-fld-octets
 * body-fld-id = nstring; body-fld-desc = nstring; body-fld-enc = string;
 * body-fld-octets = number
 * The quoted words of the grammar are case-insensitive: "text" is TEXT.
 */
static mj_outcome decode_1part(dctx *c, const mj_imap_node *list, const char *path, unsigned depth,
                               mj_imap_body *b)
{
    if (list->count < 7)
        return fail(c, MJ_R_MALFORMED,
                    "body-type-1part: %zu fields, want media type, subtype and the 5 body-fields",
                    list->count);
    const mj_imap_node *e = list->first;
    mj_outcome o = get_str(c, e, "media-type", false, &b->type);
    if (o == MJ_OK)
        o = get_str(c, e = e->next, "media-subtype", false, &b->subtype);
    if (o == MJ_OK)
        o = get_params(c, e = e->next, "body-fld-param", &b->params, &b->n_params);
    if (o == MJ_OK)
        o = get_str(c, e = e->next, "body-fld-id", true, &b->id);
    if (o == MJ_OK)
        o = get_str(c, e = e->next, "body-fld-desc", true, &b->description);
    if (o == MJ_OK)
        o = get_str(c, e = e->next, "body-fld-enc", false, &b->encoding);
    if (o == MJ_OK)
        o = get_num(c, e = e->next, "body-fld-octets", false, &b->has_size, &b->size);
    if (o != MJ_OK)
        return o;
    e = e->next;
    bool text = b->type != NULL && strcasecmp(b->type, "TEXT") == 0;
    bool msg = b->type != NULL && b->subtype != NULL && strcasecmp(b->type, "MESSAGE") == 0 &&
               (strcasecmp(b->subtype, "RFC822") == 0 || strcasecmp(b->subtype, "GLOBAL") == 0);
    b->kind = text ? MJ_IMAP_BODY_TEXT : msg ? MJ_IMAP_BODY_MESSAGE : MJ_IMAP_BODY_BASIC;
    if (text)
        o = text_lines(c, &e, b);
    else if (msg)
        o = decode_msg(c, &e, path, depth, b);
    return o != MJ_OK ? o : decode_ext(c, e, false, b);
}

/* ("MIXED") or ("MIXED" NIL ...): a multipart without a body (IMAP_TOL_EMPTY_MULTIPART). */
static bool looks_empty_multipart(const mj_imap_node *list)
{
    const mj_imap_node *second = list->first->next;
    return is_string(list->first) && list->count < 7 &&
           (second == NULL || second->kind == MJ_IMAP_NIL || second->kind == MJ_IMAP_LIST);
}

/*
 * body = "(" (body-type-1part / body-type-mpart) ")"
 * single_path: this node's part number if it is a single part;
 * multi_path: if it is a multipart (RFC 3501 §6.4.5: a multipart in a
 * message/rfc822 part has the message's number, its children .1, .2).
 */
static mj_outcome decode_body_node(dctx *c, const mj_imap_node *n, const char *single_path,
                                   const char *multi_path, unsigned depth, mj_imap_body *b)
{
    bool multi = n != NULL && n->kind == MJ_IMAP_LIST && n->count > 0 && n->first->kind == MJ_IMAP_LIST;
    bool empty_multi = !multi && n != NULL && n->kind == MJ_IMAP_LIST && n->count > 0 &&
                       looks_empty_multipart(n);
    const char *path = multi || empty_multi ? multi_path : single_path;
    c->part = path;
    if (depth > MJ_IMAP_BODY_DEPTH_MAX)
        return fail(c, MJ_R_NESTING_TOO_DEEP, "body parts nested over %d levels (MJ_IMAP_BODY_DEPTH_MAX)",
                    MJ_IMAP_BODY_DEPTH_MAX);
    if (++c->parts > MJ_IMAP_BODY_PARTS_MAX)
        return fail(c, MJ_R_REPLY_TOO_LARGE, "over %d body parts (MJ_IMAP_BODY_PARTS_MAX)",
                    MJ_IMAP_BODY_PARTS_MAX);
    if (n == NULL || n->kind != MJ_IMAP_LIST || n->count == 0)
        return bad(c, n, "body", "a body list", 0);
    if ((b->part = keep_path(c, path)) == NULL)
        return c->failed;
    if (multi)
        return decode_mpart(c, n, NULL, path, depth, b);
    if (empty_multi) {
        if (!tolerate(c, IMAP_TOL_EMPTY_MULTIPART))
            return bad(c, n->first->next, "body-type-mpart", "a body before the media-subtype",
                       IMAP_TOL_EMPTY_MULTIPART);
        return decode_mpart(c, n, n->first, path, depth, b);
    }
    return decode_1part(c, n, path, depth, b);
}

mj_outcome imap_decode_body(imap_decoder *d, const mj_imap_node *v, const char *item, uint32_t seq,
                            const mj_imap_body **out_body, mj_error *err)
{
    dctx c = {.d = d, .err = err, .item = item, .seq = seq, .body = true, .part = ""};
    *out_body = NULL;
    if (v != NULL && v->kind == MJ_IMAP_NIL) {
        if (tolerate(&c, IMAP_TOL_NIL_FIELD))
            return MJ_OK;
        return bad(&c, v, "body", "a body list", IMAP_TOL_NIL_FIELD);
    }
    mj_imap_body *b = alloc(&c, 1, sizeof *b);
    if (b == NULL)
        return c.failed;
    mj_outcome o = decode_body_node(&c, v, "1", "", 1, b);
    if (o == MJ_OK)
        *out_body = b;
    return o;
}
