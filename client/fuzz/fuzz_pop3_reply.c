/*
 * fuzz_pop3_reply.c: libFuzzer target for the POP3 parsers (pop3/pop3_parse.h):
 * the line accumulator + status-line parser, the dot-unstuffer, scan and
 * unique-id listings, CAPA lines and the APOP timestamp (RFC 1939, RFC 2449,
 * RFC 5034).
 *
 * Build (from the repository root, after `make CC=clang` built
 * build/clang/libmailjig.a; the Makefile does not build fuzzers):
 *   clang -g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
 *     -fsanitize=fuzzer,address,undefined -Iclient/include -Iclient/src \
 *     client/fuzz/fuzz_pop3_reply.c client/src/pop3/parse.c client/src/error.c \
 *     build/clang/libmailjig.a -lssl -lcrypto -ljansson -o build/fuzz_pop3_reply
 * Run:  mkdir -p build/fuzz-pop3 && build/fuzz_pop3_reply -max_total_time=120 build/fuzz-pop3
 *
 * The first input byte picks a chunk size; every line and the body are fed
 * whole and in chunks of that size, and both parses must agree byte for
 * byte (the unstuffer survives any chunk boundary).  The unstuffer must
 * never output more than it took, nor take bytes after its terminator.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pop3/pop3_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Largest input worth parsing (libFuzzer's default max_len is far below). */
#define FUZZ_INPUT_MAX 65536

static unsigned char out_whole[FUZZ_INPUT_MAX + 1];
static unsigned char out_chunked[FUZZ_INPUT_MAX + 1];
static mj_pop3_line line;
static mj_pop3_caps caps;

/* Unstuff data in chunks of step; returns bytes consumed, output in out. */
static size_t unstuff(const uint8_t *data, size_t size, size_t step, unsigned char *out,
                      size_t *out_len, mj_parse_result *result)
{
    mj_pop3_unstuff u;
    mj_pop3_unstuff_init(&u, FUZZ_INPUT_MAX);
    size_t pos = 0;
    *out_len = 0;
    *result = MJ_PARSE_NEED_MORE;
    while (pos < size && *result == MJ_PARSE_NEED_MORE) {
        size_t n = size - pos < step ? size - pos : step;
        size_t used = 0, produced = 0;
        mj_error err;
        *result = mj_pop3_unstuff_feed(&u, data + pos, n, &used, out + *out_len, &produced, &err);
        if (used > n || produced > used + 1)
            abort();
        if (*result == MJ_PARSE_NEED_MORE && used != n)
            abort();
        *out_len += produced;
        pos += used;
    }
    if (*out_len != u.total && *result != MJ_PARSE_ERROR)
        abort();
    return pos;
}

/* Each line through the accumulator, then every parser that takes a line. */
static void lines(const uint8_t *data, size_t size, size_t step)
{
    size_t pos = 0;
    mj_pop3_line_reset(&line, MJ_POP3_DATA_LINE_MAX);
    memset(&caps, 0, sizeof caps);
    while (pos < size) {
        size_t n = size - pos < step ? size - pos : step;
        size_t used = 0;
        mj_error err;
        mj_parse_result r = mj_pop3_line_feed(&line, data + pos, n, &used, "line", &err);
        if (used > n)
            abort();
        pos += used;
        if (r == MJ_PARSE_ERROR)
            return;
        if (r == MJ_PARSE_NEED_MORE)
            continue;
        mj_pop3_status st;
        uint32_t number = 0;
        uint64_t sz = 0;
        char uid[MJ_POP3_UID_MAX + 1];
        char ts[MJ_POP3_APOP_TIMESTAMP_MAX + 1];
        if (mj_pop3_parse_status(line.buf, line.len, true, &st, &err) == MJ_PARSE_OK &&
            (st.text < line.buf || st.text + st.text_len > line.buf + line.len))
            abort();
        (void)mj_pop3_parse_scan(line.buf, line.len, false, &number, &sz, &err);
        if (mj_pop3_parse_uid(line.buf, line.len, &number, uid, &err) == MJ_PARSE_OK &&
            (strlen(uid) == 0 || strlen(uid) > MJ_POP3_UID_MAX))
            abort();
        (void)mj_pop3_apop_timestamp(line.buf, line.len, ts, sizeof ts, &err);
        (void)mj_pop3_parse_capa_line(line.buf, line.len, &caps, &err);
        mj_pop3_line_reset(&line, MJ_POP3_DATA_LINE_MAX);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > FUZZ_INPUT_MAX)
        return 0;
    size_t step = (size_t)data[0] % 17 + 1;
    data++;
    size--;
    size_t len_whole = 0, len_chunked = 0;
    mj_parse_result r_whole, r_chunked;
    size_t used_whole = unstuff(data, size, size > 0 ? size : 1, out_whole, &len_whole, &r_whole);
    size_t used_chunked = unstuff(data, size, step, out_chunked, &len_chunked, &r_chunked);
    if (r_whole != r_chunked || used_whole != used_chunked || len_whole != len_chunked ||
        memcmp(out_whole, out_chunked, len_whole) != 0)
        abort();
    lines(data, size, size > 0 ? size : 1);
    lines(data, size, step);
    return 0;
}
