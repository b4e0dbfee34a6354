/*
 * imap/parser_fmt.c: helpers over the trees of imap/parser.h, and their
 * canonical rendering (tests compare trees through it; debug logs print it).
 * RFC 9051 section 9 for what the node kinds are.
 */
#include <stdio.h>
#include <string.h>

#include "imap/parser.h"

bool mj_imap_node_is(const mj_imap_node *n, const char *word)
{
    if (n == NULL || n->str == NULL ||
        (n->kind != MJ_IMAP_ATOM && n->kind != MJ_IMAP_NUMBER && n->kind != MJ_IMAP_NIL))
        return false;
    size_t wl = strlen(word);
    if (n->len != wl)
        return false;
    for (size_t i = 0; i < wl; i++) {
        unsigned char a = (unsigned char)n->str[i], b = (unsigned char)word[i];
        if (a >= 'a' && a <= 'z')
            a = (unsigned char)(a - 32);
        if (b >= 'a' && b <= 'z')
            b = (unsigned char)(b - 32);
        if (a != b)
            return false;
    }
    return true;
}

const mj_imap_node *mj_imap_list_at(const mj_imap_node *first, size_t i)
{
    while (first != NULL && i > 0) {
        first = first->next;
        i--;
    }
    return first;
}

int mj_imap_node_number32(const mj_imap_node *n, uint32_t *out)
{
    if (n == NULL || n->kind != MJ_IMAP_NUMBER || n->num > UINT32_MAX)
        return -1;
    *out = (uint32_t)n->num;
    return 0;
}

/* ---- rendering ---- */

/* An output cursor that counts what it would have written past the end. */
struct out {
    char *buf;
    size_t size, len;
};

static void put(struct out *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++, o->len++)
        if (o->len + 1 < o->size)
            o->buf[o->len] = s[i];
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* Bytes with ", \ and anything outside printable ASCII as \xNN. */
static void put_bytes(struct out *o, const char *s, size_t n)
{
    char hex[8];
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            put(o, (const char *)&c, 1);
        } else {
            snprintf(hex, sizeof hex, "\\x%02x", c);
            puts_(o, hex);
        }
    }
}

static void put_nodes(struct out *o, const mj_imap_node *n);

static void put_node(struct out *o, const mj_imap_node *n)
{
    char num[48];
    switch (n->kind) {
    case MJ_IMAP_ATOM:
    case MJ_IMAP_NIL:
        put(o, n->str, n->len);
        break;
    case MJ_IMAP_NUMBER:
        snprintf(num, sizeof num, "#%llu", (unsigned long long)n->num);
        puts_(o, num);
        break;
    case MJ_IMAP_QUOTED:
        puts_(o, "\"");
        put_bytes(o, n->str, n->len);
        puts_(o, "\"");
        break;
    case MJ_IMAP_LITERAL:
        snprintf(num, sizeof num, "%s{%llu}", n->literal8 ? "~" : "", (unsigned long long)n->num);
        puts_(o, num);
        if (n->streamed) {
            puts_(o, "streamed");
        } else {
            puts_(o, "\"");
            put_bytes(o, n->str, n->len);
            puts_(o, "\"");
        }
        break;
    case MJ_IMAP_LIST:
        puts_(o, "(");
        put_nodes(o, n->first);
        puts_(o, ")");
        break;
    }
}

static void put_nodes(struct out *o, const mj_imap_node *n)
{
    for (; n != NULL; n = n->next) {
        put_node(o, n);
        if (n->next != NULL)
            puts_(o, " ");
    }
}

static const char *const kind_names[] = {"CONT", "UNTAGGED", "TAGGED"};

size_t mj_imap_response_format(const mj_imap_response *r, char *out, size_t out_size)
{
    struct out o = {out, out_size, 0};
    char num[32];
    puts_(&o, kind_names[r->kind]);
    if (r->tag != NULL) {
        puts_(&o, " tag=");
        puts_(&o, r->tag);
    }
    if (r->has_number) {
        snprintf(num, sizeof num, " #%u", r->number);
        puts_(&o, num);
    }
    if (r->name != NULL) {
        puts_(&o, " ");
        puts_(&o, r->name);
    }
    if (r->code != NULL) {
        puts_(&o, " [");
        puts_(&o, r->code);
        puts_(&o, "|");
        put_bytes(&o, r->code_args, strlen(r->code_args));
        puts_(&o, "]");
        if (r->code_data != NULL) {
            puts_(&o, "=(");
            put_nodes(&o, r->code_data);
            puts_(&o, ")");
        }
    }
    if (r->text != NULL) {
        puts_(&o, " text=\"");
        put_bytes(&o, r->text, r->text_len);
        puts_(&o, "\"");
    }
    if (r->data != NULL) {
        puts_(&o, " data=");
        put_nodes(&o, r->data);
    }
    if (out_size > 0)
        out[o.len < out_size ? o.len : out_size - 1] = '\0';
    return o.len;
}
