/*
 * load.c: fk_scenario_load, from a YAML file to the typed model of
 * scenario.h, validated strictly (scenarios/FORMAT.md is the contract).
 *
 * Every mapping of the format has a key table {name, type, required,
 * handler}; one function (apply_table) checks unknown keys, value types and
 * required keys against the table and runs the handlers in file order, so a
 * conflict ("send and send_raw") is reported at the key written second.
 * Checks that involve several keys of one mapping run after the table; checks
 * across steps run as each step of a script is finished.  The first error
 * ends the load: one line "FILE:LINE:COL: message" at the offending node.
 */
#include "scenario/load_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

__attribute__((format(printf, 3, 4))) bool fk_fail(fk_ld *c, const fk_node *at, const char *fmt,
                                                   ...)
{
    char msg[FK_LOAD_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fk_pos p = at ? at->pos : (fk_pos){1, 1};
    snprintf(c->err, c->err_size, "%s:%u:%u: %s", c->path, p.line, p.col, msg);
    return false;
}

const char *fk_quote(fk_quote_buf *q, const char *s, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 8 < sizeof q->text; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '\\')
            q->text[o++] = (char)ch;
        else
            o += (size_t)snprintf(q->text + o, sizeof q->text - o, "\\x%02x", ch);
        if (i + 1 < len && o + 8 >= sizeof q->text - 4) {
            memcpy(q->text + o, "...", 3);
            o += 3;
            break;
        }
    }
    q->text[o] = '\0';
    return q->text;
}

static const char *type_name(fk_vtype t)
{
    static const char *const names[] = {
        [FK_T_STR] = "a string", [FK_T_INT] = "a non-negative integer",
        [FK_T_BOOL] = "true or false", [FK_T_SEQ] = "a list",
        [FK_T_MAP] = "a mapping", [FK_T_ANY] = "a value"};
    return names[t];
}

static bool type_ok(const fk_node *v, fk_vtype t)
{
    switch (t) {
    case FK_T_STR:
        return v->kind == FK_NODE_SCALAR && !fk_node_is_null(v);
    case FK_T_INT:
        return fk_node_is_uint(v, NULL);
    case FK_T_BOOL:
        return fk_node_is_bool(v, NULL);
    case FK_T_SEQ:
        return v->kind == FK_NODE_SEQ;
    case FK_T_MAP:
        return v->kind == FK_NODE_MAP;
    default:
        return true;
    }
}

static const fk_key *find_key(const fk_section *sec, const fk_node *k, size_t *idx_out)
{
    for (size_t i = 0; i < sec->n; i++) {
        if (strlen(sec->keys[i].name) == k->len && memcmp(sec->keys[i].name, k->value, k->len) == 0) {
            *idx_out = i;
            return &sec->keys[i];
        }
    }
    return NULL;
}

static bool unknown_key(fk_ld *c, const fk_section *sec, const fk_node *k)
{
    char list[FK_LOAD_ERROR_MAX / 2];
    size_t o = 0;
    fk_quote_buf q;
    list[0] = '\0';
    for (size_t i = 0; i < sec->n && o < sizeof list; i++)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", sec->keys[i].name);
    return fk_fail(c, k, "unknown key '%s' in %s: expected one of %s",
                   fk_quote(&q, k->value, k->len), sec->where, list);
}

bool fk_apply_table(fk_ld *c, const fk_section *sec, const fk_node *map, void *target,
                    const fk_node **seen)
{
    if (map->kind != FK_NODE_MAP)
        return fk_fail(c, map, "%s: expected a mapping, found %s", sec->where,
                       fk_node_describe(map));
    for (size_t i = 0; i < sec->n; i++)
        seen[i] = NULL;
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        size_t idx = 0;
        const fk_key *k = find_key(sec, map->items[i], &idx);
        if (!k)
            return unknown_key(c, sec, map->items[i]);
        if (!type_ok(map->items[i + 1], k->type))
            return fk_fail(c, map->items[i + 1], "%s in %s: expected %s, found %s", k->name,
                           sec->where, type_name(k->type), fk_node_describe(map->items[i + 1]));
        seen[idx] = map->items[i + 1];
    }
    for (size_t i = 0; i < sec->n; i++)
        if (sec->keys[i].required && !seen[i])
            return fk_fail(c, map, "missing required key '%s' in %s", sec->keys[i].name,
                           sec->where);
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        size_t idx = 0;
        const fk_key *k = find_key(sec, map->items[i], &idx);
        if (k->fn && !k->fn(c, k, map->items[i + 1], target))
            return false;
    }
    return true;
}

/* ---- value helpers ------------------------------------------------------------ */

bool fk_get_uint(fk_ld *c, const fk_node *v, const char *what, unsigned long long min,
                 unsigned long long max, unsigned long long *out)
{
    unsigned long long x = 0;
    fk_quote_buf q;
    if (!fk_node_is_uint(v, &x) || x < min || x > max)
        return fk_fail(c, v, "%s: expected an integer from %llu to %llu, found %s", what, min,
                       max, v->kind == FK_NODE_SCALAR ? fk_quote(&q, v->value, v->len)
                                                      : fk_node_describe(v));
    *out = x;
    return true;
}

bool fk_get_enum(fk_ld *c, const fk_node *v, const char *what, const fk_enum *e, int *out)
{
    char list[FK_LOAD_ERROR_MAX / 2];
    size_t o = 0;
    fk_quote_buf q;
    if (v->kind == FK_NODE_SCALAR) {
        for (const fk_enum *p = e; p->word; p++) {
            if (strlen(p->word) == v->len && memcmp(p->word, v->value, v->len) == 0) {
                *out = p->value;
                return true;
            }
        }
    }
    list[0] = '\0';
    for (const fk_enum *p = e; p->word && o < sizeof list; p++)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", p == e ? "" : ", ", p->word);
    return fk_fail(c, v, "%s: expected one of %s, found %s", what, list,
                   v->kind == FK_NODE_SCALAR ? fk_quote(&q, v->value, v->len)
                                             : fk_node_describe(v));
}

/* A text field: no NUL (it would silently cut the text short in C strings). */
bool fk_get_str(fk_ld *c, const fk_node *v, const char *what, char **out)
{
    if (v->kind != FK_NODE_SCALAR || fk_node_is_null(v))
        return fk_fail(c, v, "%s: expected a string, found %s", what, fk_node_describe(v));
    if (memchr(v->value, '\0', v->len))
        return fk_fail(c, v, "%s: a NUL byte is not allowed here (only send_raw and inject "
                             "take raw bytes)", what);
    free(*out);
    *out = strdup(v->value);
    return *out ? true : fk_fail(c, v, "out of memory");
}

bool fk_get_bytes(fk_ld *c, const fk_node *v, const char *what, fk_bytes *out)
{
    if (v->kind != FK_NODE_SCALAR || fk_node_is_null(v))
        return fk_fail(c, v, "%s: expected a string, found %s", what, fk_node_describe(v));
    free(out->data);
    out->data = malloc(v->len + 1);
    if (!out->data)
        return fk_fail(c, v, "out of memory");
    memcpy(out->data, v->value, v->len);
    out->data[v->len] = '\0';
    out->len = v->len;
    return true;
}

bool fk_get_path(fk_ld *c, const fk_node *v, const char *what, char **out)
{
    char *rel = NULL;
    if (!fk_get_str(c, v, what, &rel))
        return false;
    size_t n = strlen(c->s->dir) + strlen(rel) + 2;
    free(*out);
    *out = malloc(n);
    if (!*out) {
        free(rel);
        return fk_fail(c, v, "out of memory");
    }
    if (rel[0] == '/')
        snprintf(*out, n, "%s", rel);
    else
        snprintf(*out, n, "%s/%s", c->s->dir, rel);
    free(rel);
    struct stat st;
    fk_quote_buf q;
    if (stat(*out, &st) != 0 || access(*out, R_OK) != 0)
        return fk_fail(c, v, "%s: cannot read '%s': %s", what, fk_quote(&q, *out, strlen(*out)),
                       strerror(errno));
    if (!S_ISREG(st.st_mode))
        return fk_fail(c, v, "%s: '%s' is not a regular file", what,
                       fk_quote(&q, *out, strlen(*out)));
    return true;
}

/* ---- the file ------------------------------------------------------------------ */

static char *read_file(const char *path, size_t *len_out, char *err, size_t err_size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_size, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(FK_YAML_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, FK_YAML_FILE_MAX + 1, f) : 0;
    int failed = !buf || ferror(f);
    int saved = errno;
    fclose(f);
    if (failed) {
        snprintf(err, err_size, "%s: cannot read: %s", path, buf ? strerror(saved) : "out of memory");
        free(buf);
        return NULL;
    }
    if (n > FK_YAML_FILE_MAX) {
        snprintf(err, err_size, "%s: larger than %zu bytes", path, FK_YAML_FILE_MAX);
        free(buf);
        return NULL;
    }
    *len_out = n;
    return buf;
}

static bool set_names(fk_ld *c, const char *path)
{
    fk_scenario *s = c->s;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    s->path = strdup(path);
    s->dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : strdup(".");
    size_t stem = strlen(base);
    const char *dot = strrchr(base, '.');
    if (dot && dot != base && (strcmp(dot, ".yaml") == 0 || strcmp(dot, ".yml") == 0))
        stem = (size_t)(dot - base);
    s->name = strndup(base, stem);
    if (!s->path || !s->dir || !s->name) {
        snprintf(c->err, c->err_size, "%s: out of memory", path);
        return false;
    }
    return true;
}

fk_scenario *fk_scenario_load(const char *path, const char *certs_dir, char *err, size_t err_size)
{
    size_t len = 0;
    fk_node *root = NULL;
    fk_scenario *s = NULL;
    char *buf = read_file(path, &len, err, err_size);
    if (!buf)
        return NULL;
    bool ok = fk_yaml_parse(path, buf, len, &root, err, err_size);
    free(buf);
    if (ok) {
        s = calloc(1, sizeof *s);
        fk_ld c = {.path = path, .certs_dir = certs_dir, .err = err, .err_size = err_size, .s = s};
        ok = s ? set_names(&c, path) && fk_load_top(&c, root)
               : (snprintf(err, err_size, "%s: out of memory", path), false);
    }
    fk_node_unref(root);
    if (!ok) {
        fk_scenario_free(s);
        return NULL;
    }
    return s;
}

/* ---- freeing ---------------------------------------------------------------------- */

static void free_patterns(fk_pattern *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(p[i].source);
        if (p[i].kind == FK_PAT_REGEX)
            regfree(&p[i].re);
    }
    free(p);
}

static void free_step(fk_step *st)
{
    free_patterns(st->expect.patterns, st->expect.n_patterns);
    free(st->expect.sasl.mechanism);
    free(st->expect.sasl.user);
    free(st->expect.sasl.password);
    free(st->expect.sasl.scram_error);
    free(st->expect.sasl.scram_salt.data);
    free(st->expect.apop.user);
    free(st->expect.apop.password);
    free(st->expect.data.contains);
    free(st->expect.data.equals_file);
    free(st->fragment);
    free(st->send.text.data);
    free(st->send.path);
    free(st->starttls.inject.data);
    free(st->starttls.plaintext.data);
    free(st->on_mismatch.data);
}

void fk_scenario_free(fk_scenario *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->server.n_connections; i++) {
        for (size_t j = 0; j < s->server.connections[i].n_steps; j++)
            free_step(&s->server.connections[i].steps[j]);
        free(s->server.connections[i].steps);
    }
    free(s->server.connections);
    free_patterns(s->server.forbid.before_tls, s->server.forbid.n_before_tls);
    free_patterns(s->server.forbid.always, s->server.forbid.n_always);
    free(s->server.certificate);
    free(s->server.ciphers);
    free(s->server.literal_continuation);
    for (size_t i = 0; i < s->n_tags; i++)
        free(s->tags[i]);
    free(s->tags);
    free(s->path);
    free(s->dir);
    free(s->name);
    free(s->summary);
    free(s->source);
    free(s);
}
