/*
 * fuzz_smtp_reply.c: libFuzzer target for the SMTP reply parser
 * (smtp/reply.h) and the DATA stuffer (mj_smtp_stuff), RFC 5321 4.2 / 4.5.2.
 *
 * Build (from the repository root; the Makefile does not build fuzzers):
 *   clang -g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
 *     -fsanitize=fuzzer,address,undefined -Iclient/include -Iclient/src \
 *     client/fuzz/fuzz_smtp_reply.c client/src/smtp/reply.c client/src/smtp/stuff.c \
 *     client/src/error.c -o build/fuzz_smtp_reply
 * Run:  mkdir -p build/fuzz-corpus && build/fuzz_smtp_reply -max_total_time=120 build/fuzz-corpus
 *
 * The first input byte picks the chunk size, so the parser sees the same
 * bytes in every chunking; the whole-input parse must agree with the
 * chunked one.  The stuffer's output is checked for the invariants of
 * SECURITY-CASES #140/#141: no bare CR or LF, one end-of-data line, at the end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailjig/smtp.h"
#include "smtp/reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static mj_smtp_parser whole, chunked;
static unsigned char out[MJ_SMTP_STUFF_OUT_MAX(4096) + MJ_SMTP_STUFF_FINISH_MAX];

/* Parse every reply in data with chunks of `step`; returns how many replies, or -1. */
static long parse_all(mj_smtp_parser *p, const uint8_t *data, size_t size, size_t step,
                      unsigned *codes, size_t ncodes)
{
    mj_error err;
    long n = 0;
    size_t off = 0;
    mj_smtp_parser_init(p);
    while (off < size) {
        size_t len = size - off < step ? size - off : step;
        size_t used = 0;
        mj_parse_result r = mj_smtp_parse(p, data + off, len, &used, &err);
        if (used > len)
            abort();
        off += used;
        if (r == MJ_PARSE_ERROR)
            return -1 - (long)err.reason;
        if (r == MJ_PARSE_OK) {
            if (p->reply.code < 200 || p->reply.code > 559 || p->reply.n_lines == 0)
                abort();
            if ((size_t)n < ncodes)
                codes[n] = p->reply.code;
            n++;
        }
    }
    return n;
}

static void check_stuffer(const uint8_t *data, size_t size)
{
    if (size > 4096)
        size = 4096;
    mj_smtp_stuffer st;
    mj_smtp_stuffer_init(&st, true);
    size_t o = 0, step = size % 7 + 1;
    for (size_t off = 0; off < size; off += step)
        o += mj_smtp_stuff(&st, data + off, size - off < step ? size - off : step, out + o);
    o += mj_smtp_stuff_finish(&st, out + o);
    for (size_t i = 0; i < o; i++) {
        if (out[i] == '\r' && (i + 1 >= o || out[i + 1] != '\n'))
            abort();
        if (out[i] == '\n' && (i == 0 || out[i - 1] != '\r'))
            abort();
    }
    if (o < 3 || memcmp(out + o - 3, ".\r\n", 3) != 0)
        abort();
    for (size_t i = 0; i + 8 <= o; i++)
        if (memcmp(out + i, "\r\n.\r\n", 5) == 0)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t step = (size_t)data[0] % 16 + 1;
    unsigned a[8] = {0}, b[8] = {0};
    long na = parse_all(&whole, data + 1, size - 1, size, a, 8);
    long nb = parse_all(&chunked, data + 1, size - 1, step, b, 8);
    if (na != nb || memcmp(a, b, sizeof a) != 0)
        abort();
    check_stuffer(data + 1, size - 1);
    return 0;
}
