/*
 * node.c: builds the YAML node tree of node.h from libyaml's event stream
 * (yaml_parser_parse), so that every node keeps its start mark for the
 * loader's "file:line:col" messages.  libyaml's own document API keeps marks
 * too, but it copies nothing by reference and offers no hook to bound alias
 * expansion; events let both caps be enforced while building.
 */
#include "scenario/node.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct fk_anchor {
    char *name;
    fk_node *node; /* borrowed: every finished node is in the tree */
} fk_anchor;

typedef struct fk_builder {
    const char *path;
    const char *buf;
    size_t len;
    char *err;
    size_t err_size;
    fk_node *stack[FK_YAML_DEPTH_MAX]; /* open collections, innermost last */
    char *stack_anchor[FK_YAML_DEPTH_MAX];
    size_t depth;
    fk_anchor *anchors;
    size_t n_anchors, cap_anchors;
    fk_node *root;
    unsigned documents;
} fk_builder;

__attribute__((format(printf, 3, 4))) static bool fail_at(fk_builder *b, fk_pos pos,
                                                          const char *fmt, ...)
{
    char msg[FK_LOAD_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(b->err, b->err_size, "%s:%u:%u: %s", b->path, pos.line, pos.col, msg);
    return false;
}

static fk_pos mark_pos(yaml_mark_t m)
{
    fk_pos p = {(unsigned)m.line + 1, (unsigned)m.column + 1};
    return p;
}

/* libyaml's reader reports an offset only (bad UTF-8, control bytes). */
static fk_pos offset_pos(const fk_builder *b, size_t offset)
{
    fk_pos p = {1, 1};
    for (size_t i = 0; i < offset && i < b->len; i++) {
        if (b->buf[i] == '\n') {
            p.line++;
            p.col = 1;
        } else if (((unsigned char)b->buf[i] & 0xC0) != 0x80) {
            p.col++;
        }
    }
    return p;
}

static bool syntax_error(fk_builder *b, const yaml_parser_t *p)
{
    const char *problem = p->problem ? p->problem : "unknown error";
    if (p->error == YAML_MEMORY_ERROR)
        return fail_at(b, (fk_pos){1, 1}, "out of memory while parsing YAML");
    if (p->error == YAML_READER_ERROR)
        return fail_at(b, offset_pos(b, p->problem_offset), "not valid YAML text: %s", problem);
    fk_pos at = mark_pos(p->problem_mark);
    if (p->context) {
        fk_pos ctx = mark_pos(p->context_mark);
        return fail_at(b, at, "YAML syntax error: %s (%s at %u:%u)", problem, p->context,
                       ctx.line, ctx.col);
    }
    return fail_at(b, at, "YAML syntax error: %s", problem);
}

void fk_node_unref(fk_node *n)
{
    if (!n || --n->refs > 0)
        return;
    for (size_t i = 0; i < n->n; i++)
        fk_node_unref(n->items[i]);
    free(n->items);
    free(n->value);
    free(n);
}

static fk_node *node_new(fk_builder *b, fk_node_kind kind, yaml_mark_t m)
{
    fk_node *n = calloc(1, sizeof *n);
    if (!n) {
        fail_at(b, mark_pos(m), "out of memory");
        return NULL;
    }
    n->kind = kind;
    n->pos = mark_pos(m);
    n->refs = 1;
    n->height = 1;
    n->weight = 1;
    return n;
}

static bool anchor_add(fk_builder *b, char *name, fk_node *n)
{
    if (!name)
        return true;
    if (b->n_anchors == b->cap_anchors) {
        size_t cap = b->cap_anchors ? b->cap_anchors * 2 : 16;
        fk_anchor *a = realloc(b->anchors, cap * sizeof *a);
        if (!a) {
            free(name);
            return fail_at(b, n->pos, "out of memory");
        }
        b->anchors = a;
        b->cap_anchors = cap;
    }
    b->anchors[b->n_anchors].name = name;
    b->anchors[b->n_anchors].node = n;
    b->n_anchors++;
    return true;
}

/* The latest finished node anchored under name: anchors may be redefined. */
static fk_node *anchor_find(const fk_builder *b, const char *name)
{
    for (size_t i = b->n_anchors; i-- > 0;)
        if (strcmp(b->anchors[i].name, name) == 0)
            return b->anchors[i].node;
    return NULL;
}

static char *dup_anchor(const yaml_char_t *a)
{
    return a ? strdup((const char *)a) : NULL;
}

/* Append child (whose reference the call takes over) to the open collection. */
static bool attach(fk_builder *b, fk_node *child)
{
    if (b->depth == 0) {
        b->root = child;
        return true;
    }
    fk_node *parent = b->stack[b->depth - 1];
    if (parent->kind == FK_NODE_MAP && parent->n % 2 == 0 && child->kind != FK_NODE_SCALAR) {
        fk_pos at = child->pos;
        const char *found = fk_node_describe(child); /* a static string */
        fk_node_unref(child);
        return fail_at(b, at, "a mapping key must be a scalar, found %s", found);
    }
    if (parent->n == parent->cap) {
        size_t cap = parent->cap ? parent->cap * 2 : 4;
        fk_node **items = realloc(parent->items, cap * sizeof *items);
        if (!items) {
            fk_node_unref(child);
            return fail_at(b, parent->pos, "out of memory");
        }
        parent->items = items;
        parent->cap = cap;
    }
    parent->items[parent->n++] = child;
    parent->weight += child->weight;
    if (child->height + 1 > parent->height)
        parent->height = child->height + 1;
    if (parent->weight > FK_YAML_EXPANDED_MAX)
        return fail_at(b, child->pos,
                       "the document expands to more than %u nodes (aliases nested too far?)",
                       FK_YAML_EXPANDED_MAX);
    if (parent->height > FK_YAML_DEPTH_MAX)
        return fail_at(b, child->pos, "nesting deeper than %u levels", FK_YAML_DEPTH_MAX);
    return true;
}

static int key_cmp(const void *pa, const void *pb)
{
    const fk_node *a = *(const fk_node *const *)pa, *b = *(const fk_node *const *)pb;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    int c = memcmp(a->value, b->value, a->len);
    if (c)
        return c;
    if (a->pos.line != b->pos.line)
        return a->pos.line < b->pos.line ? -1 : 1;
    return a->pos.col < b->pos.col ? -1 : (a->pos.col > b->pos.col);
}

/* Sorting keeps this O(n log n) for mappings of any size. */
static bool check_duplicates(fk_builder *b, const fk_node *map)
{
    size_t pairs = map->n / 2;
    if (pairs < 2)
        return true;
    const fk_node **keys = malloc(pairs * sizeof *keys);
    if (!keys)
        return fail_at(b, map->pos, "out of memory");
    for (size_t i = 0; i < pairs; i++)
        keys[i] = map->items[2 * i];
    qsort(keys, pairs, sizeof *keys, key_cmp);
    for (size_t i = 1; i < pairs; i++) {
        const fk_node *k0 = keys[i - 1], *k1 = keys[i];
        if (k0->len == k1->len && memcmp(k0->value, k1->value, k0->len) == 0) {
            /* Aliased keys share one node, hence one position: name it once. */
            fk_pos p0 = k0->pos, p1 = k1->pos;
            free(keys);
            return fail_at(b, p1, "duplicate key '%s' (first at %u:%u)", k1->value, p0.line,
                           p0.col);
        }
    }
    free(keys);
    return true;
}

static bool on_scalar(fk_builder *b, const yaml_event_t *ev)
{
    fk_node *n = node_new(b, FK_NODE_SCALAR, ev->start_mark);
    if (!n)
        return false;
    n->len = ev->data.scalar.length;
    n->value = malloc(n->len + 1);
    if (!n->value) {
        fk_node_unref(n);
        return fail_at(b, mark_pos(ev->start_mark), "out of memory");
    }
    memcpy(n->value, ev->data.scalar.value, n->len);
    n->value[n->len] = '\0';
    n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.tag;
    if (!anchor_add(b, dup_anchor(ev->data.scalar.anchor), n)) {
        fk_node_unref(n);
        return false;
    }
    return attach(b, n);
}

static bool on_start(fk_builder *b, const yaml_event_t *ev, fk_node_kind kind)
{
    const yaml_char_t *anchor = kind == FK_NODE_SEQ ? ev->data.sequence_start.anchor
                                                    : ev->data.mapping_start.anchor;
    if (b->depth == FK_YAML_DEPTH_MAX)
        return fail_at(b, mark_pos(ev->start_mark), "nesting deeper than %u levels",
                       FK_YAML_DEPTH_MAX);
    fk_node *n = node_new(b, kind, ev->start_mark);
    if (!n)
        return false;
    b->stack[b->depth] = n;
    b->stack_anchor[b->depth] = dup_anchor(anchor);
    b->depth++;
    return true;
}

/* The anchor is registered only now: an alias inside its own node is refused. */
static bool on_end(fk_builder *b)
{
    b->depth--;
    fk_node *n = b->stack[b->depth];
    char *anchor = b->stack_anchor[b->depth];
    b->stack_anchor[b->depth] = NULL;
    if (n->kind == FK_NODE_MAP && !check_duplicates(b, n)) {
        free(anchor);
        fk_node_unref(n);
        return false;
    }
    if (!anchor_add(b, anchor, n)) { /* it freed anchor */
        fk_node_unref(n);
        return false;
    }
    return attach(b, n);
}

static bool on_alias(fk_builder *b, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    fk_node *target = anchor_find(b, name);
    if (!target)
        return fail_at(b, mark_pos(ev->start_mark),
                       "alias *%s names no anchor defined (and finished) before it", name);
    target->refs++;
    return attach(b, target);
}

static bool on_event(fk_builder *b, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++b->documents > 1)
            return fail_at(b, mark_pos(ev->start_mark),
                           "a scenario is one YAML document; found a second one");
        return true;
    case YAML_SCALAR_EVENT:
        return on_scalar(b, ev);
    case YAML_SEQUENCE_START_EVENT:
        return on_start(b, ev, FK_NODE_SEQ);
    case YAML_MAPPING_START_EVENT:
        return on_start(b, ev, FK_NODE_MAP);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return on_end(b);
    case YAML_ALIAS_EVENT:
        return on_alias(b, ev);
    default:
        return true;
    }
}

static void builder_cleanup(fk_builder *b)
{
    while (b->depth > 0) {
        b->depth--;
        fk_node_unref(b->stack[b->depth]);
        free(b->stack_anchor[b->depth]);
    }
    for (size_t i = 0; i < b->n_anchors; i++)
        free(b->anchors[i].name);
    free(b->anchors);
}

bool fk_yaml_parse(const char *path, const char *buf, size_t len, fk_node **root_out,
                   char *err, size_t err_size)
{
    fk_builder b = {.path = path, .buf = buf, .len = len, .err = err, .err_size = err_size};
    yaml_parser_t parser;
    bool ok = true, done = false;
    err[0] = '\0';
    *root_out = NULL;
    if (!yaml_parser_initialize(&parser))
        return fail_at(&b, (fk_pos){1, 1}, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    while (ok && !done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            ok = syntax_error(&b, &parser);
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        ok = on_event(&b, &ev);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    builder_cleanup(&b);
    if (ok && !b.root)
        ok = fail_at(&b, (fk_pos){1, 1}, "empty file: expected a scenario mapping");
    if (!ok) {
        fk_node_unref(b.root);
        return false;
    }
    *root_out = b.root;
    return true;
}

const fk_node *fk_node_get(const fk_node *map, const char *key)
{
    size_t klen = strlen(key);
    if (!map || map->kind != FK_NODE_MAP)
        return NULL;
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const fk_node *k = map->items[i];
        if (k->len == klen && memcmp(k->value, key, klen) == 0)
            return map->items[i + 1];
    }
    return NULL;
}

static bool is_one_of(const fk_node *n, const char *const *words)
{
    for (; *words; words++)
        if (strcmp(n->value, *words) == 0 && strlen(*words) == n->len)
            return true;
    return false;
}

bool fk_node_is_null(const fk_node *n)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    return n->kind == FK_NODE_SCALAR && n->plain && is_one_of(n, nulls);
}

bool fk_node_is_bool(const fk_node *n, bool *value_out)
{
    static const char *const yes[] = {"true", "True", "TRUE", NULL};
    static const char *const no[] = {"false", "False", "FALSE", NULL};
    if (n->kind != FK_NODE_SCALAR || !n->plain)
        return false;
    if (is_one_of(n, yes) || is_one_of(n, no)) {
        if (value_out)
            *value_out = is_one_of(n, yes);
        return true;
    }
    return false;
}

/* Decimal digits only; more than 18 digits is out of every range we use. */
bool fk_node_is_uint(const fk_node *n, unsigned long long *value_out)
{
    unsigned long long v = 0;
    if (n->kind != FK_NODE_SCALAR || !n->plain || n->len == 0 || n->len > 18)
        return false;
    for (size_t i = 0; i < n->len; i++) {
        if (n->value[i] < '0' || n->value[i] > '9')
            return false;
        v = v * 10 + (unsigned long long)(n->value[i] - '0');
    }
    if (value_out)
        *value_out = v;
    return true;
}

const char *fk_node_describe(const fk_node *n)
{
    if (n->kind == FK_NODE_MAP)
        return "a mapping";
    if (n->kind == FK_NODE_SEQ)
        return "a list";
    if (fk_node_is_null(n))
        return "null";
    if (fk_node_is_bool(n, NULL))
        return "a boolean";
    if (fk_node_is_uint(n, NULL) || (n->plain && n->len > 0 && n->value[0] == '-'))
        return "a number";
    return "a string";
}
