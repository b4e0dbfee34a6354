/*
 * fuzz_imap_parser.c: libFuzzer target for the IMAP response parser
 * (imap/parser.h, RFC 9051 response grammar) and the ENVELOPE /
 * BODYSTRUCTURE decoder (imap/bodystructure.h) on every parsed response.
 *
 * Build and run (from the repository root):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *     -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iclient/include -Iclient/src \
 *     client/fuzz/fuzz_imap_parser.c client/src/imap/parser.c client/src/imap/parser_fmt.c \
 *     client/src/imap/bodystructure.c client/src/error.c -o build/fuzz_imap_parser
 *   build/fuzz_imap_parser -max_total_time=180 CORPUS_DIR SEED_DIR
 * Seeds: the files of /work/shared/corpus/mailkit/imap converted to CRLF.
 *
 * Input layout: byte 0 picks limits and tolerances, byte 1 the chunking
 * (0: whole, else chunks of 1..byte1 bytes, sizes drawn from a generator
 * seeded by byte 2); the rest is what the server sends.  Each response is
 * rendered (walks the whole tree) and the sink checks its offsets; after an
 * error the parser is reset and the rest is fed again, so the latched state
 * and reset are exercised too.  Every FETCH item ENVELOPE, BODYSTRUCTURE and
 * BODY (one level of Domino's extra parentheses included), and every
 * top-level list of any response, goes through the decoder (strict when bit
 * 3 of byte 0 is set, else every tolerance), and the structures it returns
 * are walked and checked (part numbers, counts, kinds).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/bodystructure.h"
#include "imap/parser.h"

struct sink_state {
    uint64_t expect;
};

static int sink(void *ctx, const mj_imap_literal_info *w, const unsigned char *data, size_t len)
{
    struct sink_state *s = ctx;
    if (w->offset == 0)
        s->expect = 0;
    if (w->offset != s->expect || w->offset + len > w->size || w->path == NULL)
        abort();
    volatile unsigned char sum = 0; /* touch every byte: ASan checks the range */
    for (size_t i = 0; i < len; i++)
        sum = (unsigned char)(sum + data[i]);
    s->expect += len;
    return 0;
}

static void limits_from(uint8_t b, mj_imap_limits *lim)
{
    mj_imap_limits_init(lim);
    if (b & 1)
        mj_imap_limits_tolerant(lim);
    if (b & 2) {
        lim->line_max = 200;
        lim->depth_max = 4;
        lim->tokens_max = 50;
        lim->response_max = 4096;
        lim->literal_max = 1000;
    }
    lim->literal_inline_max = (b & 4) ? 0 : 16;
}

static void touch(const char *str)
{
    if (str != NULL && strlen(str) == (size_t)-1)
        abort();
}

static void walk_addresses(const mj_imap_addresses *a)
{
    if (a->count > MJ_IMAP_ENVELOPE_ADDRESSES_MAX || (a->count > 0) != (a->items != NULL))
        abort();
    for (size_t i = 0; i < a->count; i++) {
        const mj_imap_address *x = &a->items[i];
        touch(x->name), touch(x->adl), touch(x->mailbox), touch(x->host);
        if ((x->kind == MJ_IMAP_ADDR_MAILBOX) != (x->host != NULL))
            abort();
    }
}

static void walk_envelope(const mj_imap_envelope *e)
{
    touch(e->date), touch(e->subject), touch(e->in_reply_to), touch(e->message_id);
    const mj_imap_addresses *lists[] = {&e->from, &e->sender, &e->reply_to, &e->to, &e->cc, &e->bcc};
    for (size_t i = 0; i < 6; i++)
        walk_addresses(lists[i]);
}

static void walk_params(const mj_imap_param *p, size_t n)
{
    if (n > MJ_IMAP_BODY_PARAMS_MAX || (n > 0 && p == NULL))
        abort();
    for (size_t i = 0; i < n; i++)
        touch(p[i].name), touch(p[i].value);
}

static void walk_body(const mj_imap_body *b, unsigned depth, size_t *parts)
{
    if (depth > MJ_IMAP_BODY_DEPTH_MAX || ++*parts > MJ_IMAP_BODY_PARTS_MAX || b->part == NULL)
        abort();
    touch(b->part), touch(b->type), touch(b->subtype), touch(b->id), touch(b->description);
    touch(b->encoding), touch(b->md5), touch(b->disposition), touch(b->location);
    walk_params(b->params, b->n_params);
    walk_params(b->disposition_params, b->n_disposition_params);
    if (b->n_languages > MJ_IMAP_BODY_LANGUAGES_MAX)
        abort();
    for (size_t i = 0; i < b->n_languages; i++)
        touch(b->languages[i]);
    if (b->kind == MJ_IMAP_BODY_MULTIPART &&
        (b->type == NULL || strcmp(b->type, "MULTIPART") != 0 || b->envelope != NULL || b->message != NULL))
        abort();
    if ((b->n_parts > 0) != (b->parts != NULL) || (b->kind != MJ_IMAP_BODY_MULTIPART && b->n_parts > 0))
        abort();
    if ((b->kind == MJ_IMAP_BODY_MESSAGE) != (b->envelope != NULL && b->message != NULL))
        abort();
    if (b->envelope != NULL)
        walk_envelope(b->envelope);
    if (b->message != NULL)
        walk_body(b->message, depth + 1, parts);
    for (size_t i = 0; i < b->n_parts; i++)
        walk_body(&b->parts[i], depth + 1, parts);
}

/* Decode v as an envelope and as a body; a failure must come with a message. */
static void decode_both(imap_decoder *d, const mj_imap_node *v, const char *item)
{
    mj_error err;
    const mj_imap_envelope *env = NULL;
    const mj_imap_body *body = NULL;
    if (strcmp(item, "BODY") != 0 && strcmp(item, "BODYSTRUCTURE") != 0) {
        err.message[0] = '\0';
        if (imap_decode_envelope(d, v, 1, &env, &err) == MJ_OK) {
            if (env != NULL)
                walk_envelope(env);
        } else if (err.message[0] == '\0' || env != NULL) {
            abort();
        }
    }
    if (strcmp(item, "ENVELOPE") != 0) {
        err.message[0] = '\0';
        size_t parts = 0;
        if (imap_decode_body(d, v, "BODYSTRUCTURE", 1, &body, &err) == MJ_OK) {
            if (body != NULL)
                walk_body(body, 1, &parts);
        } else if (err.message[0] == '\0' || body != NULL) {
            abort();
        }
    }
}

/* msg-att items by name, one level of Domino's extra parentheses included. */
static void decode_items(imap_decoder *d, const mj_imap_node *a, int nested)
{
    while (a != NULL) {
        if (a->kind == MJ_IMAP_LIST && !nested) {
            decode_items(d, a->first, 1);
            a = a->next;
            continue;
        }
        if (a->next == NULL)
            return;
        if (mj_imap_node_is(a, "ENVELOPE"))
            decode_both(d, a->next, "ENVELOPE");
        else if (mj_imap_node_is(a, "BODYSTRUCTURE") || mj_imap_node_is(a, "BODY"))
            decode_both(d, a->next, "BODY");
        a = a->next->next;
    }
}

/* The decoder on a response: FETCH items by name, and every top-level list. */
static void decode_response(imap_decoder *d, const mj_imap_response *r)
{
    imap_decoder_reset(d);
    for (const mj_imap_node *n = r->data; n != NULL; n = n->next)
        if (n->kind == MJ_IMAP_LIST)
            decode_both(d, n, "any");
    if (r->name != NULL && strcmp(r->name, "FETCH") == 0 && r->data != NULL && r->data->kind == MJ_IMAP_LIST)
        decode_items(d, r->data->first, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    mj_imap_limits lim;
    uint8_t lim_byte = data[0];
    limits_from(lim_byte, &lim);
    size_t max_chunk = data[1];
    uint32_t rng = (uint32_t)data[2] * 2654435761u + 1;
    data += 3;
    size -= 3;
    mj_imap_parser *p = mj_imap_parser_new(&lim);
    if (p == NULL)
        return 0;
    struct sink_state st = {0};
    mj_imap_parser_set_sink(p, sink, &st);
    imap_decoder dec;
    imap_decoder_init(&dec, (lim_byte & 8) ? 0u : (unsigned)IMAP_TOL_ALL);
    static char out[8192];
    size_t pos = 0;
    while (pos < size) {
        size_t n = size - pos;
        if (max_chunk > 0) {
            rng ^= rng << 13, rng ^= rng >> 17, rng ^= rng << 5;
            size_t c = 1 + rng % max_chunk;
            n = c < n ? c : n;
        }
        /* a private copy, so ASan catches any read past the piece */
        unsigned char *piece = malloc(n);
        memcpy(piece, data + pos, n);
        size_t used = 0;
        const mj_imap_response *r;
        mj_error err;
        mj_parse_result res = mj_imap_parse(p, piece, n, &used, &r, &err);
        free(piece);
        if (used > n || (res == MJ_PARSE_NEED_MORE && used != n) || (res == MJ_PARSE_OK) != (r != NULL))
            abort();
        if (res == MJ_PARSE_OK) {
            mj_imap_response_format(r, out, sizeof out);
            decode_response(&dec, r);
        }
        if (res == MJ_PARSE_ERROR) {
            if (strlen(err.message) == 0)
                abort();
            mj_imap_parser_reset(p);
            used = used > 0 ? used : 1;
        }
        pos += used;
    }
    imap_decoder_free(&dec);
    mj_imap_parser_free(p);
    return 0;
}
