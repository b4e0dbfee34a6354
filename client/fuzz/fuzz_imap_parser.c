/*
 * fuzz_imap_parser.c: libFuzzer target for the IMAP response parser
 * (imap/parser.h, RFC 9051 response grammar).
 *
 * Build and run (from the repository root):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *     -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iclient/include -Iclient/src \
 *     client/fuzz/fuzz_imap_parser.c client/src/imap/parser.c client/src/imap/parser_fmt.c \
 *     client/src/error.c -o build/fuzz_imap_parser
 *   build/fuzz_imap_parser -max_total_time=180 CORPUS_DIR SEED_DIR
 * Seeds: the files of /work/shared/corpus/mailkit/imap converted to CRLF.
 *
 * Input layout: byte 0 picks limits and tolerances, byte 1 the chunking
 * (0: whole, else chunks of 1..byte1 bytes, sizes drawn from a generator
 * seeded by byte 2); the rest is what the server sends.  Each response is
 * rendered (walks the whole tree) and the sink checks its offsets; after an
 * error the parser is reset and the rest is fed again, so the latched state
 * and reset are exercised too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    mj_imap_limits lim;
    limits_from(data[0], &lim);
    size_t max_chunk = data[1];
    uint32_t rng = (uint32_t)data[2] * 2654435761u + 1;
    data += 3;
    size -= 3;
    mj_imap_parser *p = mj_imap_parser_new(&lim);
    if (p == NULL)
        return 0;
    struct sink_state st = {0};
    mj_imap_parser_set_sink(p, sink, &st);
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
        if (res == MJ_PARSE_OK)
            mj_imap_response_format(r, out, sizeof out);
        if (res == MJ_PARSE_ERROR) {
            if (strlen(err.message) == 0)
                abort();
            mj_imap_parser_reset(p);
            used = used > 0 ? used : 1;
        }
        pos += used;
    }
    mj_imap_parser_free(p);
    return 0;
}
