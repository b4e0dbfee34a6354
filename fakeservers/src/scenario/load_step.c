/*
 * load_step.c: the loader's part for scripts: steps, expect patterns, and
 * the checks across the steps of one connection (what cannot follow what).
 * See load.c for the table machinery and FORMAT.md for the format.
 */
#include "scenario/load_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FK_SLEEP_MS_MAX     600000ull /* ten minutes: longer is a mistake, not a test */
#define FK_DRIP_BYTES_MAX   65536ull
#define FK_FRAGMENTS_MAX    256u
#define FK_FRAGMENT_MAX     65536ull

/* ---- patterns ------------------------------------------------------------------ */

typedef enum fk_ph { FK_PH_NONE = 0, FK_PH_NAME, FK_PH_BAD } fk_ph;

static bool is_name_start(char ch)
{
    return (ch >= 'a' && ch <= 'z') || ch == '_';
}

/*
 * What s[i] starts.  The server's matcher (core/match.h, fk_placeholder_len)
 * decides what a placeholder is; the format narrows names to [a-z_][a-z0-9_]*
 * and calls "{" + a-z or _ that forms no placeholder a mistake (a typo such as
 * "{user" would otherwise be matched literally).
 */
static fk_ph placeholder_at(const char *s, size_t len, size_t i, size_t *name_len_out)
{
    if (s[i] != '{')
        return FK_PH_NONE;
    size_t n = fk_placeholder_len(s + i, len - i);
    bool lower = i + 1 < len && is_name_start(s[i + 1]);
    if (n == 0)
        return lower ? FK_PH_BAD : FK_PH_NONE;
    for (size_t k = i + 1; k + 1 < i + n; k++)
        if (!is_name_start(s[k]) && !(s[k] >= '0' && s[k] <= '9'))
            return FK_PH_BAD;
    if (!lower)
        return FK_PH_BAD;
    *name_len_out = n - 2;
    return FK_PH_NAME;
}

static bool record_name(fk_ld *c, const fk_node *v, const char *name, size_t len)
{
    for (size_t i = 0; i < c->n_names; i++)
        if (strlen(c->names[i]) == len && memcmp(c->names[i], name, len) == 0)
            return true;
    if (c->n_names == FK_CAPTURES_MAX)
        return fk_fail(c, v, "more than %d capture names in one connection", FK_CAPTURES_MAX);
    memcpy(c->names[c->n_names], name, len);
    c->names[c->n_names][len] = '\0';
    c->n_names++;
    return true;
}

static bool bad_placeholder(fk_ld *c, const fk_node *v, const char *what, size_t at)
{
    return fk_fail(c, v,
                   "%s: bad placeholder at character %zu: '{' and a name of a-z, 0-9 and _ "
                   "(at most %d, starting with a-z or _) and '}'",
                   what, at + 1, FK_CAPTURE_NAME_MAX - 1);
}

static bool check_text_pattern(fk_ld *c, const fk_node *v, const char *what, const char *src,
                               bool record)
{
    size_t len = strlen(src), wild = 0;
    for (size_t i = 0; i < len; i++) {
        size_t name_len = 0;
        fk_ph ph = placeholder_at(src, len, i, &name_len);
        if (ph == FK_PH_BAD)
            return bad_placeholder(c, v, what, i);
        wild += ph == FK_PH_NAME || src[i] == '*';
        if (ph == FK_PH_NAME) {
            if (record && !record_name(c, v, src + i + 1, name_len))
                return false;
            i += name_len + 1;
        }
    }
    if (wild > FK_PATTERN_WILDCARDS_MAX)
        return fk_fail(c, v, "%s: more than %d '*' and '{name}' in one pattern", what,
                       FK_PATTERN_WILDCARDS_MAX);
    return true;
}

/* The source is compiled alone first: wrapped in ^(...)$ "a)|(b" would pass. */
static bool compile_regex(fk_ld *c, const fk_node *v, const char *what, fk_pattern *p)
{
    int flags = REG_EXTENDED | (p->icase ? REG_ICASE : 0);
    char msg[256];
    regex_t probe;
    int rc = regcomp(&probe, p->source, flags);
    if (rc != 0) {
        regerror(rc, &probe, msg, sizeof msg);
        return fk_fail(c, v, "%s: bad regex: %s", what, msg);
    }
    regfree(&probe);
    size_t n = strlen(p->source) + 5;
    char *anchored = malloc(n);
    if (!anchored)
        return fk_fail(c, v, "out of memory");
    snprintf(anchored, n, "^(%s)$", p->source);
    rc = regcomp(&p->re, anchored, flags);
    free(anchored);
    if (rc != 0) {
        regerror(rc, &p->re, msg, sizeof msg);
        return fk_fail(c, v, "%s: bad regex: %s", what, msg);
    }
    p->kind = FK_PAT_REGEX;
    return true;
}

static bool build_pattern(fk_ld *c, const fk_node *src, bool regex, const fk_node *icase,
                          const char *what, bool record, fk_pattern *p)
{
    p->pos = src->pos;
    if (!fk_get_str(c, src, what, &p->source))
        return false;
    if (icase)
        fk_node_is_bool(icase, &p->icase);
    if (regex)
        return compile_regex(c, src, what, p);
    return check_text_pattern(c, src, what, p->source, record);
}

/* The later of two nodes in the file, where a conflict is reported. */
static const fk_node *later(const fk_node *a, const fk_node *b)
{
    if (a->pos.line != b->pos.line)
        return a->pos.line > b->pos.line ? a : b;
    return a->pos.col > b->pos.col ? a : b;
}

enum { PAT_RE, PAT_TEXT, PAT_ICASE };
static const fk_key pattern_keys[] = {
    {"re", FK_T_STR, false, NULL},
    {"text", FK_T_STR, false, NULL},
    {"icase", FK_T_BOOL, false, NULL},
};
const fk_section fk_sec_pattern = {"pattern", "a pattern", pattern_keys, sizeof pattern_keys / sizeof pattern_keys[0]};

bool fk_load_pattern(fk_ld *c, const fk_node *v, const char *what, bool record, fk_pattern *out)
{
    const fk_node *seen[FK_SECTION_KEYS_MAX];
    if (v->kind == FK_NODE_SCALAR)
        return build_pattern(c, v, false, NULL, what, record, out);
    if (v->kind != FK_NODE_MAP)
        return fk_fail(c, v, "%s: expected a string or a mapping {re: ...}, found %s", what,
                       fk_node_describe(v));
    if (!fk_apply_table(c, &fk_sec_pattern, v, NULL, seen))
        return false;
    if (seen[PAT_RE] && seen[PAT_TEXT])
        return fk_fail(c, later(seen[PAT_RE], seen[PAT_TEXT]),
                       "%s: a pattern is either re or text, not both", what);
    if (!seen[PAT_RE] && !seen[PAT_TEXT])
        return fk_fail(c, v, "%s: a pattern mapping needs re or text", what);
    return build_pattern(c, seen[PAT_RE] ? seen[PAT_RE] : seen[PAT_TEXT], seen[PAT_RE] != NULL,
                         seen[PAT_ICASE], what, record, out);
}

/* ---- expect ---------------------------------------------------------------------- */

static const fk_key expect_keys[FK_EXP_COUNT] = {
    [FK_EXP_RE] = {"re", FK_T_STR, false, NULL},
    [FK_EXP_TEXT] = {"text", FK_T_STR, false, NULL},
    [FK_EXP_ICASE] = {"icase", FK_T_BOOL, false, NULL},
    [FK_EXP_SASL] = {"sasl", FK_T_STR, false, NULL},
    [FK_EXP_APOP] = {"apop", FK_T_STR, false, NULL},
    [FK_EXP_DATA] = {"data", FK_T_MAP, false, NULL},
    [FK_EXP_USER] = {"user", FK_T_STR, false, NULL},
    [FK_EXP_PASSWORD] = {"password", FK_T_STR, false, NULL},
    [FK_EXP_TOKEN] = {"token", FK_T_STR, false, NULL},
    [FK_EXP_FAIL] = {"fail", FK_T_STR, false, NULL},
    [FK_EXP_OVERSIZED_LEN] = {"oversized_len", FK_T_INT, false, NULL},
    [FK_EXP_SCRAM_ERROR] = {"scram_error", FK_T_STR, false, NULL},
    [FK_EXP_SCRAM_ITERATIONS] = {"scram_iterations", FK_T_INT, false, NULL},
    [FK_EXP_SCRAM_SALT] = {"scram_salt", FK_T_STR, false, NULL},
};
const fk_section fk_sec_expect = {"expect", "expect", expect_keys, FK_EXP_COUNT};

/* Keys that belong to one kind of mapping expect, with the kinds they go with. */
static const struct {
    int key;
    bool sasl, apop;
} expect_owned[] = {
    {FK_EXP_USER, true, true},           {FK_EXP_PASSWORD, true, true},
    {FK_EXP_TOKEN, true, false},         {FK_EXP_FAIL, true, false},
    {FK_EXP_OVERSIZED_LEN, true, false}, {FK_EXP_SCRAM_ERROR, true, false},
    {FK_EXP_SCRAM_ITERATIONS, true, false}, {FK_EXP_SCRAM_SALT, true, false},
};

static bool check_expect_owned(fk_ld *c, const fk_node **seen)
{
    for (size_t i = 0; i < sizeof expect_owned / sizeof expect_owned[0]; i++) {
        const fk_node *k = seen[expect_owned[i].key];
        if (k == NULL || (expect_owned[i].sasl && seen[FK_EXP_SASL]) ||
            (expect_owned[i].apop && seen[FK_EXP_APOP]))
            continue;
        return fk_fail(c, k, "expect: %s goes with %s", expect_keys[expect_owned[i].key].name,
                       expect_owned[i].apop ? "sasl or apop" : "sasl");
    }
    return true;
}

static bool load_expect_map(fk_ld *c, const fk_node *v, fk_expect *e)
{
    const fk_node *seen[FK_SECTION_KEYS_MAX];
    if (!fk_apply_table(c, &fk_sec_expect, v, NULL, seen))
        return false;
    const fk_node *kinds[] = {seen[FK_EXP_RE], seen[FK_EXP_TEXT], seen[FK_EXP_SASL],
                              seen[FK_EXP_APOP], seen[FK_EXP_DATA]};
    const fk_node *first = NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (kinds[i] && first)
            return fk_fail(c, later(first, kinds[i]),
                           "expect: choose one of re, text, sasl, apop and data");
        first = first ? first : kinds[i];
    }
    if (!first)
        return fk_fail(c, v, "expect: a mapping needs re, text, sasl, apop or data");
    if (seen[FK_EXP_ICASE] && !seen[FK_EXP_RE] && !seen[FK_EXP_TEXT])
        return fk_fail(c, seen[FK_EXP_ICASE], "expect: icase applies to re or text");
    if (!check_expect_owned(c, seen))
        return false;
    if (seen[FK_EXP_SASL])
        return fk_load_sasl(c, v, seen, e);
    if (seen[FK_EXP_APOP])
        return fk_load_apop(c, v, seen, e);
    if (seen[FK_EXP_DATA])
        return fk_load_data(c, seen[FK_EXP_DATA], e);
    e->patterns = calloc(1, sizeof *e->patterns);
    if (!e->patterns)
        return fk_fail(c, v, "out of memory");
    e->n_patterns = 1;
    e->kind = FK_EXPECT_LINES;
    return build_pattern(c, first, first == seen[FK_EXP_RE], seen[FK_EXP_ICASE], "expect", true,
                         e->patterns);
}

static bool h_expect(fk_ld *c, const fk_key *k, const fk_node *v, void *target)
{
    fk_expect *e = &((fk_step *)target)->expect;
    (void)k;
    if (v->kind == FK_NODE_MAP)
        return load_expect_map(c, v, e);
    if (v->kind == FK_NODE_SCALAR && v->plain && strcmp(v->value, "eof") == 0) {
        e->kind = FK_EXPECT_EOF;
        return true;
    }
    size_t n = v->kind == FK_NODE_SEQ ? v->n : 1;
    if (n == 0)
        return fk_fail(c, v, "expect: an empty list matches nothing; give one pattern or more");
    e->patterns = calloc(n, sizeof *e->patterns);
    if (!e->patterns)
        return fk_fail(c, v, "out of memory");
    e->n_patterns = n;
    e->kind = FK_EXPECT_LINES;
    if (v->kind == FK_NODE_SCALAR)
        return fk_load_pattern(c, v, "expect", true, e->patterns);
    for (size_t i = 0; i < n; i++)
        if (!fk_load_pattern(c, v->items[i], "expect", true, &e->patterns[i]))
            return false;
    return true;
}

/* ---- the other step keys ---------------------------------------------------------- */

static bool h_optional(fk_ld *c, const fk_key *k, const fk_node *v, void *target)
{
    (void)c, (void)k;
    return fk_node_is_bool(v, &((fk_step *)target)->optional);
}

static bool h_unordered(fk_ld *c, const fk_key *k, const fk_node *v, void *target)
{
    (void)c, (void)k;
    return fk_node_is_bool(v, &((fk_step *)target)->expect.unordered);
}

static bool h_sleep(fk_ld *c, const fk_key *k, const fk_node *v, void *target)
{
    unsigned long long ms = 0;
    if (!fk_get_uint(c, v, k->name, 0, FK_SLEEP_MS_MAX, &ms))
        return false;
    ((fk_step *)target)->sleep_ms = (unsigned)ms;
    return true;
}

enum { DRIP_BYTES, DRIP_EVERY };
static const fk_key drip_keys[] = {
    {"bytes", FK_T_INT, true, NULL},
    {"every_ms", FK_T_INT, true, NULL},
};
const fk_section fk_sec_drip = {"drip", "drip", drip_keys, sizeof drip_keys / sizeof drip_keys[0]};

static bool h_drip(fk_ld *c, const fk_key *k, const fk_node *v, void *target)
{
    fk_step *st = target;
    const fk_node *seen[FK_SECTION_KEYS_MAX];
    unsigned long long bytes = 0, every = 0;
    (void)k;
    if (st->n_fragment)
        return fk_fail(c, v, "drip and fragment cannot shape the same send");
    if (!fk_apply_table(c, &fk_sec_drip, v, NULL, seen) ||
        !fk_get_uint(c, seen[DRIP_BYTES], "drip: bytes", 1, FK_DRIP_BYTES_MAX, &bytes) ||
        !fk_get_uint(c, seen[DRIP_EVERY], "drip: every_ms", 0, FK_SLEEP_MS_MAX, &every))
        return false;
    st->drip_bytes = (unsigned)bytes;
    st->drip_every_ms = (unsigned)every;
    return true;
}

static bool h_fragment(fk_ld *c, const fk_key *k, const fk_node *v, void *target)
{
    fk_step *st = target;
    (void)k;
    if (st->drip_bytes)
        return fk_fail(c, v, "drip and fragment cannot shape the same send");
    if (v->n == 0 || v->n > FK_FRAGMENTS_MAX)
        return fk_fail(c, v, "fragment: expected 1 to %u write sizes, found %zu", FK_FRAGMENTS_MAX,
                       v->n);
    st->fragment = calloc(v->n, sizeof *st->fragment);
    if (!st->fragment)
        return fk_fail(c, v, "out of memory");
    st->n_fragment = v->n;
    for (size_t i = 0; i < v->n; i++) {
        unsigned long long size = 0;
        if (!fk_get_uint(c, v->items[i], "fragment", 1, FK_FRAGMENT_MAX, &size))
            return false;
        st->fragment[i] = (size_t)size;
    }
    return true;
}

static const char *const send_key_name[] = {
    [FK_SEND_NONE] = "", [FK_SEND_TEXT] = "send", [FK_SEND_RAW] = "send_raw",
    [FK_SEND_FILE] = "send_file"};

static bool send_slot(fk_ld *c, const fk_key *k, const fk_node *v, fk_send *s, fk_send_kind kind)
{
    if (s->kind != FK_SEND_NONE)
        return fk_fail(c, v, "%s and %s cannot be in one step: a step sends one thing",
                       send_key_name[s->kind], k->name);
    s->kind = kind;
    return true;
}

/*
 * Text is kept as lines separated by "\n", without line ends: a CR before a
 * LF is dropped, and so is one final LF (YAML's "|" adds it), so the server
 * can end every line with CRLF.
 */
static void to_lines(fk_bytes *b)
{
    size_t o = 0;
    for (size_t i = 0; i < b->len; i++) {
        if (b->data[i] == '\r' && (i + 1 == b->len || b->data[i + 1] == '\n'))
            continue;
        b->data[o++] = b->data[i];
    }
    if (o > 0 && b->data[o - 1] == '\n')
        o--;
    b->len = o;
    b->data[o] = '\0';
}

static bool h_send(fk_ld *c, const fk_key *k, const fk_node *v, void *target)
{
    fk_send *s = &((fk_step *)target)->send;
    if (!send_slot(c, k, v, s, FK_SEND_TEXT) || !fk_get_bytes(c, v, k->name, &s->text))
        return false;
    to_lines(&s->text);
    return true;
}

static bool h_send_raw(fk_ld *c, const fk_key *k, const fk_node *v, void *target)
{
    fk_send *s = &((fk_step *)target)->send;
    return send_slot(c, k, v, s, FK_SEND_RAW) && fk_get_bytes(c, v, k->name, &s->text);
}

static bool h_send_file(fk_ld *c, const fk_key *k, const fk_node *v, void *target)
{
    fk_send *s = &((fk_step *)target)->send;
    return send_slot(c, k, v, s, FK_SEND_FILE) && fk_get_path(c, v, k->name, &s->path);
}

static bool h_dotstuff(fk_ld *c, const fk_key *k, const fk_node *v, void *target)
{
    (void)c, (void)k;
    return fk_node_is_bool(v, &((fk_step *)target)->send.dotstuff);
}

static bool h_on_mismatch(fk_ld *c, const fk_key *k, const fk_node *v, void *target)
{
    fk_step *st = target;
    if (!fk_get_bytes(c, v, k->name, &st->on_mismatch))
        return false;
    to_lines(&st->on_mismatch);
    st->has_on_mismatch = true;
    return true;
}

/* ---- starttls and the ends ---------------------------------------------------------- */

enum { TLS_INJECT, TLS_FAIL, TLS_TEXT };
static const fk_key starttls_keys[] = {
    {"inject", FK_T_STR, false, NULL},
    {"fail", FK_T_STR, false, NULL},
    {"text", FK_T_STR, false, NULL},
};
const fk_section fk_sec_starttls = {"starttls", "starttls", starttls_keys, sizeof starttls_keys / sizeof starttls_keys[0]};

static const fk_enum starttls_fail_enum[] = {{"plaintext", FK_STARTTLS_PLAINTEXT},
                                             {"alert", FK_STARTTLS_ALERT},
                                             {"silence", FK_STARTTLS_SILENCE},
                                             {NULL, 0}};

static bool load_starttls_map(fk_ld *c, const fk_node *v, fk_starttls *t)
{
    const fk_node *seen[FK_SECTION_KEYS_MAX];
    int kind = FK_STARTTLS_HANDSHAKE;
    if (!fk_apply_table(c, &fk_sec_starttls, v, NULL, seen))
        return false;
    if (!seen[TLS_INJECT] && !seen[TLS_FAIL])
        return fk_fail(c, v, "starttls: a mapping needs inject or fail (or write starttls: true)");
    if (seen[TLS_INJECT] && seen[TLS_FAIL])
        return fk_fail(c, later(seen[TLS_INJECT], seen[TLS_FAIL]),
                       "starttls: inject goes with a handshake, fail replaces it: choose one");
    if (seen[TLS_FAIL] && !fk_get_enum(c, seen[TLS_FAIL], "starttls: fail", starttls_fail_enum,
                                       &kind))
        return false;
    if ((kind == FK_STARTTLS_PLAINTEXT) != (seen[TLS_TEXT] != NULL))
        return fk_fail(c, seen[TLS_TEXT] ? seen[TLS_TEXT] : v,
                       "starttls: text is what fail: plaintext sends, and it needs one");
    t->kind = (fk_starttls_kind)kind;
    if (seen[TLS_INJECT])
        return fk_get_bytes(c, seen[TLS_INJECT], "starttls: inject", &t->inject);
    if (seen[TLS_TEXT])
        return fk_get_bytes(c, seen[TLS_TEXT], "starttls: text", &t->plaintext);
    return true;
}

static bool h_starttls(fk_ld *c, const fk_key *k, const fk_node *v, void *target)
{
    fk_starttls *t = &((fk_step *)target)->starttls;
    bool on = false;
    (void)k;
    c->uses_tls = true;
    if (v->kind == FK_NODE_MAP)
        return load_starttls_map(c, v, t);
    if (fk_node_is_bool(v, &on) && !on)
        return fk_fail(c, v, "starttls: false does nothing; write true or leave the key out");
    if (!on)
        return fk_fail(c, v, "starttls: expected true or a mapping {inject: ...} / {fail: ...}, "
                             "found %s", fk_node_describe(v));
    t->kind = FK_STARTTLS_HANDSHAKE;
    return true;
}

static const char *const end_key_name[] = {
    [FK_END_NONE] = "", [FK_END_CLOSE] = "close", [FK_END_CLOSE_NO_NOTIFY] = "close",
    [FK_END_RESET] = "reset", [FK_END_HANG] = "hang", [FK_END_SHUTDOWN_WRITE] = "shutdown_write",
    [FK_END_ALERT] = "alert", [FK_END_TRUNCATE] = "truncate_record",
    [FK_END_COMPRESS_CUT] = "compress_fault: truncate"};

static bool set_end(fk_ld *c, const fk_key *k, const fk_node *v, fk_step *st, fk_end_kind end)
{
    if (st->end != FK_END_NONE)
        return fk_fail(c, v, "%s and %s cannot be in one step: a connection ends once",
                       end_key_name[st->end], k->name);
    st->end = end;
    return true;
}

static const fk_key close_keys[] = {{"notify", FK_T_BOOL, true, NULL}};
const fk_section fk_sec_close = {"close", "close", close_keys, sizeof close_keys / sizeof close_keys[0]};

static bool h_close(fk_ld *c, const fk_key *k, const fk_node *v, void *target)
{
    const fk_node *seen[FK_SECTION_KEYS_MAX];
    bool on = false;
    if (v->kind == FK_NODE_MAP) {
        if (!fk_apply_table(c, &fk_sec_close, v, NULL, seen))
            return false;
        fk_node_is_bool(seen[0], &on);
        return set_end(c, k, v, target, on ? FK_END_CLOSE : FK_END_CLOSE_NO_NOTIFY);
    }
    if (!fk_node_is_bool(v, &on) || !on)
        return fk_fail(c, v, "close: expected true or {notify: false}, found %s",
                       fk_node_describe(v));
    return set_end(c, k, v, target, FK_END_CLOSE);
}

/* reset, hang, shutdown_write: only "true" means anything. */
static bool h_end_flag(fk_ld *c, const fk_key *k, const fk_node *v, void *target)
{
    static const fk_enum ends[] = {{"reset", FK_END_RESET},
                                   {"hang", FK_END_HANG},
                                   {"shutdown_write", FK_END_SHUTDOWN_WRITE},
                                   {NULL, 0}};
    bool on = false;
    fk_node_is_bool(v, &on);
    if (!on)
        return fk_fail(c, v, "%s: false does nothing; write true or leave the key out", k->name);
    for (const fk_enum *e = ends; e->word; e++)
        if (strcmp(e->word, k->name) == 0)
            return set_end(c, k, v, target, (fk_end_kind)e->value);
    return false;
}

/* ---- transport faults under TLS ---------------------------------------------------- */

static const fk_enum alert_enum[] = {{"bad_record_mac", FK_ALERT_BAD_RECORD_MAC},
                                     {"record_overflow", FK_ALERT_RECORD_OVERFLOW},
                                     {"unexpected_message", FK_ALERT_UNEXPECTED_MESSAGE},
                                     {NULL, 0}};

/* alert: NAME: a fatal alert after the step's send; it ends the connection. */
static bool h_alert(fk_ld *c, const fk_key *k, const fk_node *v, void *target)
{
    fk_step *st = target;
    int a = 0;
    if (!fk_get_enum(c, v, "alert", alert_enum, &a) || !set_end(c, k, v, st, FK_END_ALERT))
        return false;
    st->alert = (fk_alert)a;
    return true;
}

/* truncate_record: true ends the connection; corrupt_record: true does not. */
static bool h_record_fault(fk_ld *c, const fk_key *k, const fk_node *v, void *target)
{
    fk_step *st = target;
    bool on = false;
    fk_node_is_bool(v, &on);
    if (!on)
        return fk_fail(c, v, "%s: false does nothing; write true or leave the key out", k->name);
    if (strcmp(k->name, "corrupt_record") == 0) {
        st->corrupt_record = true;
        return true;
    }
    return set_end(c, k, v, st, FK_END_TRUNCATE);
}

/* ---- COMPRESS=DEFLATE (RFC 4978) --------------------------------------------------- */

static const fk_enum compress_enum[] = {{"deflate", 1}, {NULL, 0}};

/* compress: deflate: both directions compressed from the byte after the step's send. */
static bool h_compress(fk_ld *c, const fk_key *k, const fk_node *v, void *target)
{
    int unused = 0;
    (void)k;
    if (!fk_get_enum(c, v, "compress", compress_enum, &unused))
        return false;
    ((fk_step *)target)->compress = true;
    return true;
}

static const fk_enum compress_fault_enum[] = {{"corrupt", FK_COMPRESS_FAULT_CORRUPT},
                                              {"early", FK_COMPRESS_FAULT_EARLY},
                                              {"truncate", FK_COMPRESS_FAULT_TRUNCATE},
                                              {NULL, 0}};

/* compress_fault: corrupt | early | truncate (truncate ends the connection). */
static bool h_compress_fault(fk_ld *c, const fk_key *k, const fk_node *v, void *target)
{
    fk_step *st = target;
    int f = 0;
    if (!fk_get_enum(c, v, "compress_fault", compress_fault_enum, &f))
        return false;
    st->compress_fault = (fk_compress_fault)f;
    return f != FK_COMPRESS_FAULT_TRUNCATE || set_end(c, k, v, st, FK_END_COMPRESS_CUT);
}

/* ---- one step ---------------------------------------------------------------------- */

enum {
    ST_EXPECT, ST_OPTIONAL, ST_UNORDERED, ST_ON_MISMATCH, ST_SLEEP, ST_SEND, ST_SEND_RAW,
    ST_SEND_FILE, ST_DOTSTUFF, ST_DRIP, ST_FRAGMENT, ST_STARTTLS, ST_CLOSE, ST_RESET, ST_HANG,
    ST_SHUTDOWN_WRITE, ST_ALERT, ST_TRUNCATE_RECORD, ST_CORRUPT_RECORD, ST_COMPRESS,
    ST_COMPRESS_FAULT, ST_COUNT
};
static const fk_key step_keys[ST_COUNT] = {
    [ST_EXPECT] = {"expect", FK_T_ANY, false, h_expect},
    [ST_OPTIONAL] = {"optional", FK_T_BOOL, false, h_optional},
    [ST_UNORDERED] = {"unordered", FK_T_BOOL, false, h_unordered},
    [ST_ON_MISMATCH] = {"on_mismatch", FK_T_STR, false, h_on_mismatch},
    [ST_SLEEP] = {"sleep", FK_T_INT, false, h_sleep},
    [ST_SEND] = {"send", FK_T_STR, false, h_send},
    [ST_SEND_RAW] = {"send_raw", FK_T_STR, false, h_send_raw},
    [ST_SEND_FILE] = {"send_file", FK_T_STR, false, h_send_file},
    [ST_DOTSTUFF] = {"dotstuff", FK_T_BOOL, false, h_dotstuff},
    [ST_DRIP] = {"drip", FK_T_MAP, false, h_drip},
    [ST_FRAGMENT] = {"fragment", FK_T_SEQ, false, h_fragment},
    [ST_STARTTLS] = {"starttls", FK_T_ANY, false, h_starttls},
    [ST_CLOSE] = {"close", FK_T_ANY, false, h_close},
    [ST_RESET] = {"reset", FK_T_BOOL, false, h_end_flag},
    [ST_HANG] = {"hang", FK_T_BOOL, false, h_end_flag},
    [ST_SHUTDOWN_WRITE] = {"shutdown_write", FK_T_BOOL, false, h_end_flag},
    [ST_ALERT] = {"alert", FK_T_STR, false, h_alert},
    [ST_TRUNCATE_RECORD] = {"truncate_record", FK_T_BOOL, false, h_record_fault},
    [ST_CORRUPT_RECORD] = {"corrupt_record", FK_T_BOOL, false, h_record_fault},
    [ST_COMPRESS] = {"compress", FK_T_STR, false, h_compress},
    [ST_COMPRESS_FAULT] = {"compress_fault", FK_T_STR, false, h_compress_fault},
};
const fk_section fk_sec_step = {"step", "a step", step_keys, ST_COUNT};

/* Keys that only qualify another key of the same step: {key, needs, why}. */
static const struct {
    int key, needs;
    const char *msg;
} step_needs[] = {
    {ST_OPTIONAL, ST_EXPECT, "optional qualifies the step's expect, and there is none"},
    {ST_UNORDERED, ST_EXPECT, "unordered qualifies the step's expect, and there is none"},
    {ST_ON_MISMATCH, ST_EXPECT, "on_mismatch answers a failed expect, and there is none"},
};

static bool check_placeholders(fk_ld *c, const fk_node *v, const char *what, const fk_bytes *b)
{
    const char *s = (const char *)b->data;
    for (size_t i = 0; i < b->len; i++) {
        size_t n = 0;
        fk_ph ph = placeholder_at(s, b->len, i, &n);
        if (ph == FK_PH_BAD)
            return bad_placeholder(c, v, what, i);
        if (ph != FK_PH_NAME)
            continue;
        bool known = n == 3 && memcmp(s + i + 1, "tag", 3) == 0;
        for (size_t j = 0; j < c->n_names && !known; j++)
            known = strlen(c->names[j]) == n && memcmp(c->names[j], s + i + 1, n) == 0;
        if (!known)
            return fk_fail(c, v, "%s: {%.*s} is not captured by an expect before it in this "
                                 "connection", what, (int)n, s + i + 1);
        i += n + 1;
    }
    return true;
}

/* compress and compress_fault within one step (what the script allows: check_order). */
static bool check_compress_step(fk_ld *c, const fk_node **seen, const fk_step *st)
{
    const fk_node *f = seen[ST_COMPRESS_FAULT];
    if ((st->compress || f) && c->s->protocol != FK_PROTO_IMAP)
        return fk_fail(c, st->compress ? seen[ST_COMPRESS] : f,
                       "%s is IMAP's COMPRESS (RFC 4978); this scenario is not IMAP",
                       st->compress ? "compress" : "compress_fault");
    if (st->compress && st->starttls.kind != FK_STARTTLS_NONE)
        return fk_fail(c, seen[ST_COMPRESS], "compress and starttls cannot be in one step: TLS "
                                             "starts first, in an earlier step (RFC 4978 section 3)");
    if (f && st->send.kind == FK_SEND_NONE)
        return fk_fail(c, f, "compress_fault works on the step's send, and there is none");
    if (f && st->compress_fault == FK_COMPRESS_FAULT_EARLY && !st->compress)
        return fk_fail(c, f, "compress_fault: early compresses this step's own send, and needs "
                             "compress: deflate in the same step");
    if (f && st->compress_fault != FK_COMPRESS_FAULT_EARLY && st->compress)
        return fk_fail(c, f, "compress_fault: %s works on a compressed send, and this step's "
                             "send goes out before its compress: put it on a later step",
                       st->compress_fault == FK_COMPRESS_FAULT_CORRUPT ? "corrupt" : "truncate");
    return true;
}

static bool check_step(fk_ld *c, const fk_node *map, const fk_node **seen, const fk_step *st)
{
    for (size_t i = 0; i < sizeof step_needs / sizeof step_needs[0]; i++)
        if (seen[step_needs[i].key] && !seen[step_needs[i].needs])
            return fk_fail(c, seen[step_needs[i].key], "%s", step_needs[i].msg);
    if (st->expect.unordered && st->expect.n_patterns < 2)
        return fk_fail(c, seen[ST_UNORDERED], "unordered applies to a list of two patterns or more");
    if (seen[ST_DOTSTUFF] && st->send.kind != FK_SEND_FILE && st->send.kind != FK_SEND_TEXT)
        return fk_fail(c, seen[ST_DOTSTUFF],
                       "dotstuff applies to send or send_file, and there is none");
    if ((seen[ST_DRIP] || seen[ST_FRAGMENT]) && st->send.kind == FK_SEND_NONE)
        return fk_fail(c, seen[ST_DRIP] ? seen[ST_DRIP] : seen[ST_FRAGMENT],
                       "%s shapes the step's send, and there is none",
                       seen[ST_DRIP] ? "drip" : "fragment");
    for (int f = ST_TRUNCATE_RECORD; f <= ST_CORRUPT_RECORD; f++)
        if (seen[f] && st->send.kind == FK_SEND_NONE)
            return fk_fail(c, seen[f], "%s works on the step's send, and there is none",
                           step_keys[f].name);
    if (seen[ST_TRUNCATE_RECORD] && seen[ST_CORRUPT_RECORD])
        return fk_fail(c, seen[ST_CORRUPT_RECORD], "corrupt_record and truncate_record cannot be "
                                                   "in one step: both work on the same record");
    if (!check_compress_step(c, seen, st))
        return false;
    if (st->expect.kind == FK_EXPECT_NONE && st->send.kind == FK_SEND_NONE && !seen[ST_SLEEP] &&
        st->starttls.kind == FK_STARTTLS_NONE && st->end == FK_END_NONE && !st->compress)
        return fk_fail(c, map, "a step needs at least one of expect, sleep, send, send_raw, "
                               "send_file, starttls, compress, close, reset, hang, "
                               "shutdown_write, alert, truncate_record");
    if (st->send.kind == FK_SEND_TEXT &&
        !check_placeholders(c, seen[ST_SEND], "send", &st->send.text))
        return false;
    return !st->has_on_mismatch ||
           check_placeholders(c, seen[ST_ON_MISMATCH], "on_mismatch", &st->on_mismatch);
}

/* What the earlier steps of a script rule out for the next one. */
typedef struct fk_script_state {
    const fk_step *ended;    /* close, reset or hang */
    const fk_step *eof;      /* expect: eof */
    const fk_step *shut;     /* shutdown_write */
    const fk_step *starttls;
    const fk_step *compress;
} fk_script_state;

/* COMPRESS comes once, after TLS, and its faults after it. */
static bool check_compress_order(fk_ld *c, const fk_node *at, const fk_script_state *ss,
                                 const fk_step *st)
{
    if (st->compress && ss->compress)
        return fk_fail(c, at, "a second compress in one connection (the first is at %u:%u; "
                              "RFC 4978: once per connection)",
                       ss->compress->pos.line, ss->compress->pos.col);
    if (st->starttls.kind != FK_STARTTLS_NONE && ss->compress)
        return fk_fail(c, at, "starttls after compress (at %u:%u): TLS goes under compression, "
                              "so it starts first (RFC 4978 section 3)",
                       ss->compress->pos.line, ss->compress->pos.col);
    if (st->compress_fault != FK_COMPRESS_FAULT_NONE &&
        st->compress_fault != FK_COMPRESS_FAULT_EARLY && !ss->compress)
        return fk_fail(c, at, "compress_fault acts on the compressed stream, and the connection "
                              "is not compressed here (compress: deflate on an earlier step)");
    return true;
}

/*
 * alert, truncate_record and corrupt_record act on TLS records: the
 * connection must be TLS by then (implicit, or a starttls: true earlier; the
 * step's own starttls comes after its send, but before its alert).
 */
static bool check_tls_fault(fk_ld *c, const fk_node *at, const fk_script_state *ss,
                            const fk_step *st)
{
    const char *what = st->end == FK_END_ALERT      ? "alert"
                       : st->end == FK_END_TRUNCATE ? "truncate_record"
                       : st->corrupt_record         ? "corrupt_record"
                                                    : NULL;
    if (what == NULL || c->s->server.tls == FK_TLS_IMPLICIT ||
        (ss->starttls && ss->starttls->starttls.kind == FK_STARTTLS_HANDSHAKE) ||
        (st->end == FK_END_ALERT && !st->corrupt_record &&
         st->starttls.kind == FK_STARTTLS_HANDSHAKE))
        return true;
    return fk_fail(c, at, "%s acts on TLS records, and the connection is not TLS here "
                          "(server: tls: implicit, or starttls: true before it)", what);
}

static bool check_order(fk_ld *c, const fk_node *at, fk_script_state *ss, const fk_step *st)
{
    if (ss->ended)
        return fk_fail(c, at, "this step never runs: the step at %u:%u ends the connection (%s)",
                       ss->ended->pos.line, ss->ended->pos.col, end_key_name[ss->ended->end]);
    if (ss->eof && st->expect.kind != FK_EXPECT_NONE)
        return fk_fail(c, at, "this step expects input after the client closed (expect: eof at "
                              "%u:%u)", ss->eof->pos.line, ss->eof->pos.col);
    if (ss->shut && (st->send.kind != FK_SEND_NONE || st->starttls.kind != FK_STARTTLS_NONE))
        return fk_fail(c, at, "this step sends after shutdown_write at %u:%u",
                       ss->shut->pos.line, ss->shut->pos.col);
    if (st->starttls.kind != FK_STARTTLS_NONE && c->s->server.tls == FK_TLS_IMPLICIT)
        return fk_fail(c, at, "starttls on a connection that is TLS from the start "
                              "(server: tls: implicit)");
    if (st->starttls.kind != FK_STARTTLS_NONE && ss->starttls)
        return fk_fail(c, at, "a second starttls in one connection (the first is at %u:%u)",
                       ss->starttls->pos.line, ss->starttls->pos.col);
    if (!check_tls_fault(c, at, ss, st) || !check_compress_order(c, at, ss, st))
        return false;
    if (st->end == FK_END_CLOSE || st->end == FK_END_CLOSE_NO_NOTIFY || st->end == FK_END_RESET ||
        st->end == FK_END_HANG || st->end == FK_END_ALERT || st->end == FK_END_TRUNCATE ||
        st->end == FK_END_COMPRESS_CUT)
        ss->ended = st;
    ss->compress = st->compress ? st : ss->compress;
    ss->eof = st->expect.kind == FK_EXPECT_EOF ? st : ss->eof;
    ss->shut = st->end == FK_END_SHUTDOWN_WRITE ? st : ss->shut;
    ss->starttls = st->starttls.kind != FK_STARTTLS_NONE ? st : ss->starttls;
    return true;
}

bool fk_load_script(fk_ld *c, const fk_node *list, fk_script *out)
{
    fk_script_state ss = {NULL, NULL, NULL, NULL, NULL};
    out->pos = list->pos;
    if (list->kind != FK_NODE_SEQ)
        return fk_fail(c, list, "steps: expected a list of steps, found %s",
                       fk_node_describe(list));
    if (list->n == 0)
        return fk_fail(c, list, "steps: an empty script; give one step or more");
    out->steps = calloc(list->n, sizeof *out->steps);
    if (!out->steps)
        return fk_fail(c, list, "out of memory");
    out->n_steps = list->n;
    c->n_names = 0;
    for (size_t i = 0; i < list->n; i++) {
        const fk_node *seen[FK_SECTION_KEYS_MAX];
        const fk_node *item = list->items[i];
        fk_step *st = &out->steps[i];
        st->pos = item->pos;
        if (!fk_apply_table(c, &fk_sec_step, item, st, seen) || !check_step(c, item, seen, st) ||
            !check_order(c, item, &ss, st))
            return false;
    }
    return fk_check_protocol_steps(c, list, out);
}
