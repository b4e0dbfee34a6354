/*
 * test_reader.c: the buffered reader (reader.h) over the in-memory transport.
 *
 * The same input is read one byte at a time, in seeded random chunk sizes
 * and all at once, and must give the same result; every cap is tried exactly
 * at its limit (passes) and one byte over (fails with its own reason);
 * STARTTLS is refused while any byte waits, here or in the transport.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mailjig/mailjig.h"

static mj_timeouts g_timeouts = {1000, 1000, 0};

/* ---- helpers ------------------------------------------------------------------ */

/* xorshift32: the same sequence on every platform, unlike rand(). */
static uint32_t rng_next(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

#define RANDOM_CHUNKS 64
#define N_SEEDS 25

static void random_chunks(uint32_t seed, size_t *chunks, size_t n, size_t max)
{
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++)
        chunks[i] = 1 + rng_next(&s) % max;
}

struct fx {
    mj_transport *t;
    mj_reader *r;
};

static struct fx fx_open_full(const void *in, size_t len, const size_t *chunks, size_t n_chunks,
                              mj_mem_end end, bool report_pending,
                              const mj_reader_limits *limits, mj_log *log)
{
    mj_mem_script sc = {.input = in,
                        .input_len = len,
                        .chunks = chunks,
                        .n_chunks = n_chunks,
                        .end = end,
                        .report_pending = report_pending,
                        .starttls_state = MJ_TLS_VERIFIED};
    struct fx f;
    mj_error err;
    assert_int_equal(mj_mem_transport_new(&sc, &g_timeouts, &f.t, &err), MJ_OK);
    f.r = mj_reader_new(f.t, log, limits);
    assert_non_null(f.r);
    return f;
}

static struct fx fx_open(const void *in, size_t len, const size_t *chunks, size_t n_chunks,
                         const mj_reader_limits *limits)
{
    return fx_open_full(in, len, chunks, n_chunks, MJ_MEM_END_EOF, false, limits, NULL);
}

static void fx_close(struct fx *f)
{
    mj_reader_free(f->r);
    mj_transport_close(f->t);
}

static mj_reader_limits limits_of(size_t line_max, size_t reply_max, mj_bare_lf bare)
{
    mj_reader_limits l = {line_max, reply_max, bare};
    return l;
}

/* A sink that keeps everything, counting calls. */
struct collect {
    unsigned char *data;
    size_t len, cap;
    unsigned calls;
};

static mj_outcome collect_fn(void *ctx, const unsigned char *d, size_t n, mj_error *err)
{
    struct collect *c = ctx;
    (void)err;
    if (c->len + n > c->cap) {
        size_t cap = c->cap ? c->cap : 64;
        while (cap < c->len + n)
            cap *= 2;
        c->data = realloc(c->data, cap);
        assert_non_null(c->data);
        c->cap = cap;
    }
    memcpy(c->data + c->len, d, n);
    c->len += n;
    c->calls++;
    return MJ_OK;
}

static void assert_bytes(const void *got, size_t got_len, const void *want, size_t want_len)
{
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
}

static void expect_line(mj_reader *r, const char *want, size_t want_len)
{
    const char *line;
    size_t len;
    mj_error err;
    mj_outcome o = mj_reader_line(r, &line, &len, &err);
    if (o != MJ_OK)
        fail_msg("line: %s/%s: %s", mj_outcome_name(o), mj_reason_name(err.reason), err.message);
    assert_bytes(line, len, want, want_len);
    assert_int_equal(line[len], '\0');
}

#define EXPECT_LINE(r, lit) expect_line((r), (lit), sizeof(lit) - 1)

static void expect_line_fails(mj_reader *r, mj_outcome outcome, mj_reason reason,
                              const char *msg_part)
{
    const char *line = "unset";
    size_t len = 99;
    mj_error err;
    mj_outcome o = mj_reader_line(r, &line, &len, &err);
    assert_int_equal(o, outcome);
    assert_int_equal(err.outcome, outcome);
    assert_int_equal(err.reason, reason);
    assert_null(line);
    assert_int_equal(len, 0);
    if (msg_part != NULL && strstr(err.message, msg_part) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err.message, msg_part);
}

/* ---- lines under every chunking ---------------------------------------------------- */

static const char k_lines_in[] = "* OK ready\r\n"
                                 "bare\n"
                                 "with\rcr\r\n"
                                 "nul\0inside\r\n"
                                 "\r\n"
                                 "\n"
                                 "cr at end\r\r\n"
                                 "last\r\n";
static const struct {
    const char *s;
    size_t len;
} k_lines_out[] = {
    {"* OK ready", 10}, {"bare", 4}, {"with\rcr", 7}, {"nul\0inside", 10},
    {"", 0},            {"", 0},     {"cr at end\r", 10}, {"last", 4},
};

static void read_all_lines(const size_t *chunks, size_t n_chunks, uint32_t seed)
{
    struct fx f = fx_open(k_lines_in, sizeof k_lines_in - 1, chunks, n_chunks, NULL);
    for (size_t i = 0; i < sizeof k_lines_out / sizeof k_lines_out[0]; i++) {
        const char *line;
        size_t len;
        mj_error err;
        mj_outcome o = mj_reader_line(f.r, &line, &len, &err);
        if (o != MJ_OK || len != k_lines_out[i].len ||
            memcmp(line, k_lines_out[i].s, len) != 0 || line[len] != '\0')
            fail_msg("seed %u, line %zu: outcome %s, %zu bytes", seed, i, mj_outcome_name(o),
                     len);
    }
    expect_line_fails(f.r, MJ_CONNECTION_LOST, MJ_R_EOF, NULL);
    fx_close(&f);
}

static void test_lines_one_byte_random_and_whole(void **state)
{
    (void)state;
    size_t one = 1;
    read_all_lines(&one, 1, 0);
    read_all_lines(NULL, 0, 0);
    for (uint32_t seed = 1; seed <= N_SEEDS; seed++) {
        size_t chunks[RANDOM_CHUNKS];
        random_chunks(seed, chunks, RANDOM_CHUNKS, 13);
        read_all_lines(chunks, RANDOM_CHUNKS, seed);
    }
}

static void test_bare_lf_policies(void **state)
{
    (void)state;
    static const char in[] = "a\nb\r\n";
    mj_reader_limits acc = limits_of(100, 1000, MJ_BARE_LF_ACCEPT);
    struct fx f = fx_open(in, sizeof in - 1, NULL, 0, &acc);
    EXPECT_LINE(f.r, "a");
    EXPECT_LINE(f.r, "b");
    fx_close(&f);

    mj_reader_limits rej = limits_of(100, 1000, MJ_BARE_LF_REJECT);
    f = fx_open(in, sizeof in - 1, NULL, 0, &rej);
    expect_line_fails(f.r, MJ_PROTOCOL_ERROR, MJ_R_BARE_LF, "bare LF");
    fx_close(&f);

    static const char crlf[] = "ok\r\nx\r\r\n";
    f = fx_open(crlf, sizeof crlf - 1, NULL, 0, &rej);
    EXPECT_LINE(f.r, "ok");
    EXPECT_LINE(f.r, "x\r");
    fx_close(&f);
}

static void test_lone_cr_stays_in_line(void **state)
{
    (void)state;
    static const char in[] = "a\rb\r\r\nc\r";
    size_t one = 1;
    struct fx f = fx_open(in, sizeof in - 1, &one, 1, NULL);
    EXPECT_LINE(f.r, "a\rb\r");
    /* "c\r" then EOF: a partial line is never returned */
    expect_line_fails(f.r, MJ_CONNECTION_LOST, MJ_R_EOF, "in the middle of a line");
    fx_close(&f);
}

static void test_nul_inside_line(void **state)
{
    (void)state;
    static const char in[] = "x\0y\0\r\n";
    struct fx f = fx_open(in, sizeof in - 1, NULL, 0, NULL);
    EXPECT_LINE(f.r, "x\0y\0");
    fx_close(&f);
}

/* ---- caps ------------------------------------------------------------------------------ */

static void test_line_max_exact_and_over(void **state)
{
    (void)state;
    mj_reader_limits l = limits_of(10, 1000, MJ_BARE_LF_ACCEPT);
    static const char ok[] = "0123456789\r\n0123456789\n";
    size_t chunk_sizes[] = {0, 1, 11, 12};
    for (size_t c = 0; c < 4; c++) {
        struct fx f = fx_open(ok, sizeof ok - 1, &chunk_sizes[c], chunk_sizes[c] ? 1 : 0, &l);
        EXPECT_LINE(f.r, "0123456789");
        EXPECT_LINE(f.r, "0123456789");
        fx_close(&f);

        static const char over[] = "0123456789A\r\n";
        f = fx_open(over, sizeof over - 1, &chunk_sizes[c], chunk_sizes[c] ? 1 : 0, &l);
        expect_line_fails(f.r, MJ_PROTOCOL_ERROR, MJ_R_LINE_TOO_LONG, "limit of 10 bytes");
        fx_close(&f);
    }
    /* No terminator at all: the cap fires as soon as it is passed, not at EOF. */
    char flood[100];
    memset(flood, 'z', sizeof flood);
    struct fx f = fx_open(flood, sizeof flood, NULL, 0, &l);
    expect_line_fails(f.r, MJ_PROTOCOL_ERROR, MJ_R_LINE_TOO_LONG, "line_max");
    fx_close(&f);
}

static void test_line_max_default(void **state)
{
    (void)state;
    size_t n = MJ_LIMIT_LINE_DEFAULT;
    char *in = malloc(2 * n + 5);
    assert_non_null(in);
    memset(in, 'a', n);
    memcpy(in + n, "\r\n", 2);
    memset(in + n + 2, 'b', n + 1);
    memcpy(in + 2 * n + 3, "\r\n", 2);
    struct fx f = fx_open(in, 2 * n + 5, NULL, 0, NULL);
    const char *line;
    size_t len;
    mj_error err;
    assert_int_equal(mj_reader_line(f.r, &line, &len, &err), MJ_OK);
    assert_int_equal(len, n);
    assert_int_equal(line[0], 'a');
    assert_int_equal(line[n - 1], 'a');
    expect_line_fails(f.r, MJ_PROTOCOL_ERROR, MJ_R_LINE_TOO_LONG, "65536");
    fx_close(&f);
    free(in);
}

static void test_reply_max_across_lines(void **state)
{
    (void)state;
    mj_reader_limits l = limits_of(10, 20, MJ_BARE_LF_ACCEPT);
    /* 6 + 10 + 4 = 20 bytes, terminators included: exactly the cap. */
    static const char in[] = "aaaa\r\nbbbbbbbb\r\ncc\r\nd\r\n";
    struct fx f = fx_open(in, sizeof in - 1, NULL, 0, &l);
    mj_reader_reply_begin(f.r);
    EXPECT_LINE(f.r, "aaaa");
    EXPECT_LINE(f.r, "bbbbbbbb");
    EXPECT_LINE(f.r, "cc");
    expect_line_fails(f.r, MJ_PROTOCOL_ERROR, MJ_R_REPLY_TOO_LARGE, "limit of 20 bytes");
    /* A new reply starts a new count. */
    mj_reader_reply_begin(f.r);
    EXPECT_LINE(f.r, "d");
    fx_close(&f);
}

/* ---- endings ------------------------------------------------------------------------------ */

static void test_endings_map_through(void **state)
{
    (void)state;
    static const struct {
        mj_mem_end end;
        mj_outcome outcome;
        mj_reason reason;
    } rows[] = {
        {MJ_MEM_END_EOF, MJ_CONNECTION_LOST, MJ_R_EOF},
        {MJ_MEM_END_RESET, MJ_CONNECTION_LOST, MJ_R_RESET},
        {MJ_MEM_END_TIMEOUT, MJ_TIMEOUT, MJ_R_IO_TIMEOUT},
    };
    for (size_t i = 0; i < 3; i++) {
        /* at a line boundary: the transport's error as is */
        struct fx f = fx_open_full("ok\r\n", 4, NULL, 0, rows[i].end, false, NULL, NULL);
        EXPECT_LINE(f.r, "ok");
        expect_line_fails(f.r, rows[i].outcome, rows[i].reason, NULL);
        fx_close(&f);
        /* mid-line: same class and reason, and the message says so */
        f = fx_open_full("partial", 7, NULL, 0, rows[i].end, false, NULL, NULL);
        expect_line_fails(f.r, rows[i].outcome, rows[i].reason, "in the middle of a line");
        fx_close(&f);
    }
}

/* ---- read_exact ----------------------------------------------------------------------------- */

static void test_read_exact(void **state)
{
    (void)state;
    static const char in[] = "0123456789rest\r\n";
    size_t three = 3;
    struct fx f = fx_open(in, sizeof in - 1, &three, 1, NULL);
    struct collect c = {0};
    mj_sink sink = {collect_fn, &c};
    mj_error err;
    assert_int_equal(mj_reader_read_exact(f.r, 0, &sink, &err), MJ_OK);
    assert_int_equal(c.calls, 0);
    assert_int_equal(mj_reader_read_exact(f.r, 10, &sink, &err), MJ_OK);
    assert_bytes(c.data, c.len, "0123456789", 10);
    assert_true(c.calls >= 4); /* it really crossed chunks */
    EXPECT_LINE(f.r, "rest");
    fx_close(&f);
    free(c.data);
}

static void test_read_exact_eof_inside(void **state)
{
    (void)state;
    struct fx f = fx_open("abc", 3, NULL, 0, NULL);
    struct collect c = {0};
    mj_sink sink = {collect_fn, &c};
    mj_error err;
    assert_int_equal(mj_reader_read_exact(f.r, 5, &sink, &err), MJ_CONNECTION_LOST);
    assert_int_equal(err.reason, MJ_R_EOF);
    assert_non_null(strstr(err.message, "in the middle of a literal (3 bytes"));
    fx_close(&f);
    free(c.data);
}

/* ---- stream_until ------------------------------------------------------------------------------ */

static const char k_dot_end[] = "\r\n.\r\n";

/* Stream input up to term under the given chunking; compare with want. */
static void stream_case(const char *in, size_t in_len, const char *term, const char *want,
                        size_t want_len, const char *after, const size_t *chunks,
                        size_t n_chunks, uint32_t seed)
{
    struct fx f = fx_open(in, in_len, chunks, n_chunks, NULL);
    struct collect c = {0};
    mj_sink sink = {collect_fn, &c};
    mj_error err;
    mj_outcome o = mj_reader_stream_until(f.r, term, strlen(term), 1 << 20, &sink, &err);
    if (o != MJ_OK || c.len != want_len || (want_len && memcmp(c.data, want, want_len) != 0))
        fail_msg("seed/split %u: outcome %s (%s), got %zu bytes, want %zu", seed,
                 mj_outcome_name(o), err.message, c.len, want_len);
    if (after != NULL)
        expect_line(f.r, after, strlen(after));
    fx_close(&f);
    free(c.data);
}

static void test_stream_until_every_split(void **state)
{
    (void)state;
    static const char in[] = "line1\r\n..dot\r\nend\r\n.\r\nAFTER\r\n";
    static const char body[] = "line1\r\n..dot\r\nend";
    size_t len = sizeof in - 1;
    for (size_t s = 1; s < len; s++) {
        size_t chunks[2] = {s, 1000};
        stream_case(in, len, k_dot_end, body, sizeof body - 1, "AFTER", chunks, 2, (uint32_t)s);
    }
    size_t one = 1;
    stream_case(in, len, k_dot_end, body, sizeof body - 1, "AFTER", &one, 1, 0);
}

static void test_stream_until_overlaps(void **state)
{
    (void)state;
    static const struct {
        const char *in, *term, *body;
    } rows[] = {
        {"abc\r\n\r\n.\r\nX\r\n", "\r\n.\r\n", "abc\r\n"},
        {"\r\n.\r\nX\r\n", "\r\n.\r\n", ""},
        {"a\r\n.\r\r\n.\r\nX\r\n", "\r\n.\r\n", "a\r\n.\r"},
        {"\r\n\r\n\r\n.\r\nX\r\n", "\r\n.\r\n", "\r\n\r\n"},
        {"xabaababX\r\n", "abab", "xaba"},
        {"aaabX\r\n", "aab", "a"},
        {"q.X\r\n", ".", "q"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        size_t in_len = strlen(rows[i].in);
        size_t one = 1;
        stream_case(rows[i].in, in_len, rows[i].term, rows[i].body, strlen(rows[i].body), "X",
                    NULL, 0, 0);
        stream_case(rows[i].in, in_len, rows[i].term, rows[i].body, strlen(rows[i].body), "X",
                    &one, 1, 0);
        for (uint32_t seed = 1; seed <= 5; seed++) {
            size_t chunks[RANDOM_CHUNKS];
            random_chunks(seed, chunks, RANDOM_CHUNKS, 4);
            stream_case(rows[i].in, in_len, rows[i].term, rows[i].body, strlen(rows[i].body),
                        "X", chunks, RANDOM_CHUNKS, seed);
        }
    }
}

/* The obvious reference: first occurrence of needle, by brute force. */
static size_t naive_find(const char *hay, size_t n, const char *needle, size_t m)
{
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return i;
    return n;
}

/* Random inputs over a tiny alphabet against the brute-force search. */
static void test_stream_until_random_vs_naive(void **state)
{
    (void)state;
    static const char alpha[] = "\r\n.a";
    char in[200];
    for (uint32_t seed = 1; seed <= 300; seed++) {
        uint32_t s = seed;
        size_t n = 20 + rng_next(&s) % 150;
        for (size_t i = 0; i < n; i++)
            in[i] = alpha[rng_next(&s) % 4];
        memcpy(in + n, k_dot_end, 5);
        size_t hit = naive_find(in, n + 5, k_dot_end, 5);
        size_t chunks[RANDOM_CHUNKS];
        random_chunks(seed, chunks, RANDOM_CHUNKS, 7);
        stream_case(in, n + 5, k_dot_end, in, hit, NULL, chunks, RANDOM_CHUNKS,
                    seed);
    }
}

static void test_stream_until_max(void **state)
{
    (void)state;
    static const char in[] = "0123456789\r\n.\r\n";
    struct collect c = {0};
    mj_sink sink = {collect_fn, &c};
    mj_error err;
    size_t one = 1;
    struct fx f = fx_open(in, sizeof in - 1, &one, 1, NULL);
    assert_int_equal(mj_reader_stream_until(f.r, k_dot_end, 5, 10, &sink, &err), MJ_OK);
    assert_bytes(c.data, c.len, "0123456789", 10);
    fx_close(&f);

    c.len = 0;
    f = fx_open(in, sizeof in - 1, &one, 1, NULL);
    assert_int_equal(mj_reader_stream_until(f.r, k_dot_end, 5, 9, &sink, &err), MJ_PROTOCOL_ERROR);
    assert_int_equal(err.reason, MJ_R_STREAM_TOO_LARGE);
    assert_non_null(strstr(err.message, "limit of 9 bytes"));
    assert_true(c.len <= 9); /* the sink never got more than the cap */
    fx_close(&f);

    /* bad terminator lengths are the caller's bug */
    f = fx_open(in, sizeof in - 1, NULL, 0, NULL);
    char term[65];
    memset(term, '.', sizeof term);
    assert_int_equal(mj_reader_stream_until(f.r, term, 0, 10, &sink, &err), MJ_INTERNAL);
    assert_int_equal(mj_reader_stream_until(f.r, term, 65, 10, &sink, &err), MJ_INTERNAL);
    fx_close(&f);
    free(c.data);
}

static void test_stream_until_eof_inside(void **state)
{
    (void)state;
    static const char in[] = "body\r\n.";
    struct fx f = fx_open_full(in, sizeof in - 1, NULL, 0, MJ_MEM_END_RESET, false, NULL, NULL);
    mj_error err;
    assert_int_equal(mj_reader_stream_until(f.r, k_dot_end, 5, 100, NULL, &err),
                     MJ_CONNECTION_LOST);
    assert_int_equal(err.reason, MJ_R_RESET);
    assert_non_null(strstr(err.message, "in the middle of a data stream"));
    fx_close(&f);
}

/* ---- read_some -------------------------------------------------------------------------------- */

static void test_read_some(void **state)
{
    (void)state;
    size_t five = 5;
    struct fx f = fx_open("hello world", 11, &five, 1, NULL);
    const unsigned char *d;
    size_t n;
    mj_error err;
    static const struct {
        size_t max;
        const char *want;
    } steps[] = {{100, "hello"}, {3, " wo"}, {100, "rl"}, {100, "d"}};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(mj_reader_read_some(f.r, steps[i].max, &d, &n, &err), MJ_OK);
        assert_bytes(d, n, steps[i].want, strlen(steps[i].want));
    }
    assert_int_equal(mj_reader_read_some(f.r, 100, &d, &n, &err), MJ_CONNECTION_LOST);
    assert_int_equal(err.reason, MJ_R_EOF);
    assert_int_equal(n, 0);
    fx_close(&f);
}

/* ---- STARTTLS ----------------------------------------------------------------------------------- */

static const mj_tls_config k_tls = {0};

static void test_starttls_refused_buffered(void **state)
{
    (void)state;
    static const char in[] = "A1 OK begin TLS\r\nX";
    struct fx f = fx_open(in, sizeof in - 1, NULL, 0, NULL);
    EXPECT_LINE(f.r, "A1 OK begin TLS");
    assert_int_equal(mj_reader_buffered(f.r), 1);
    mj_error err;
    assert_int_equal(mj_reader_starttls(f.r, &k_tls, "mail.mailjig.test", &err),
                     MJ_PROTOCOL_ERROR);
    assert_int_equal(err.reason, MJ_R_DATA_AFTER_STARTTLS);
    assert_non_null(strstr(err.message, "data after the STARTTLS reply: \"X\""));
    assert_int_equal(mj_mem_transport_starttls_count(f.t), 0);
    assert_int_equal(mj_reader_buffered(f.r), 0); /* never parsed later */
    fx_close(&f);
}

static void test_starttls_refused_pending(void **state)
{
    (void)state;
    static const char in[] = "A1 OK begin TLS\r\nA2 OK injected\r\n";
    size_t first = 17; /* the reply line exactly: the rest stays in the "socket" */
    struct fx f = fx_open_full(in, sizeof in - 1, &first, 1, MJ_MEM_END_EOF, true, NULL, NULL);
    EXPECT_LINE(f.r, "A1 OK begin TLS");
    assert_int_equal(mj_reader_buffered(f.r), 0);
    assert_int_equal(mj_transport_pending(f.t), 16);
    mj_error err;
    assert_int_equal(mj_reader_starttls(f.r, &k_tls, "mail.mailjig.test", &err),
                     MJ_PROTOCOL_ERROR);
    assert_int_equal(err.reason, MJ_R_DATA_AFTER_STARTTLS);
    assert_non_null(
        strstr(err.message, "data after the STARTTLS reply: \"A2 OK injected\\x0d\\x0a\""));
    assert_int_equal(mj_mem_transport_starttls_count(f.t), 0);
    fx_close(&f);
}

static void test_starttls_quote_is_capped(void **state)
{
    (void)state;
    char in[300];
    memcpy(in, "OK\r\n", 4);
    memset(in + 4, 'Z', sizeof in - 4);
    struct fx f = fx_open(in, sizeof in, NULL, 0, NULL);
    EXPECT_LINE(f.r, "OK");
    mj_error err;
    assert_int_equal(mj_reader_starttls(f.r, &k_tls, "h", &err), MJ_PROTOCOL_ERROR);
    char want[128];
    snprintf(want, sizeof want, "\"%.*s\"... (296 bytes waiting", 60,
             "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ");
    if (strstr(err.message, want) == NULL)
        fail_msg("message: %s", err.message);
    fx_close(&f);
}

static void test_starttls_clean_then_feed(void **state)
{
    (void)state;
    static const char in[] = "A1 OK begin TLS\r\n";
    struct fx f = fx_open_full(in, sizeof in - 1, NULL, 0, MJ_MEM_END_EOF, true, NULL, NULL);
    EXPECT_LINE(f.r, "A1 OK begin TLS");
    mj_error err;
    assert_int_equal(mj_reader_starttls(f.r, &k_tls, "mail.mailjig.test", &err), MJ_OK);
    assert_int_equal(mj_mem_transport_starttls_count(f.t), 1);
    mj_tls_info info;
    mj_transport_tls_info(f.t, &info);
    assert_int_equal(info.state, MJ_TLS_VERIFIED);
    assert_int_equal(mj_mem_transport_feed(f.t, "* OK over TLS\r\n", 15, &err), MJ_OK);
    EXPECT_LINE(f.r, "* OK over TLS");
    fx_close(&f);
}

static void test_starttls_failure_passes_through(void **state)
{
    (void)state;
    mj_mem_script sc = {.input = "OK\r\n", .input_len = 4, .starttls_outcome = MJ_TLS_FAILED};
    mj_transport *t;
    mj_error err;
    assert_int_equal(mj_mem_transport_new(&sc, &g_timeouts, &t, &err), MJ_OK);
    mj_reader *r = mj_reader_new(t, NULL, NULL);
    EXPECT_LINE(r, "OK");
    assert_int_equal(mj_reader_starttls(r, &k_tls, "h", &err), MJ_TLS_FAILED);
    assert_int_equal(err.reason, MJ_R_TLS_HANDSHAKE);
    mj_reader_free(r);
    mj_transport_close(t);
}

/* ---- sinks and the log --------------------------------------------------------------------------- */

static mj_outcome failing_sink(void *ctx, const unsigned char *d, size_t n, mj_error *err)
{
    unsigned *calls = ctx;
    (void)d;
    (void)n;
    if (++*calls == 2)
        return mj_error_set(err, MJ_INTERNAL, MJ_R_LOCAL_IO, "disk full (test)");
    return MJ_OK;
}

static void test_sink_error_propagates(void **state)
{
    (void)state;
    size_t two = 2;
    unsigned calls = 0;
    mj_sink sink = {failing_sink, &calls};
    mj_error err;
    struct fx f = fx_open("abcdefgh\r\n.\r\n", 13, &two, 1, NULL);
    assert_int_equal(mj_reader_read_exact(f.r, 6, &sink, &err), MJ_INTERNAL);
    assert_int_equal(err.reason, MJ_R_LOCAL_IO);
    assert_string_equal(err.message, "disk full (test)");
    fx_close(&f);

    calls = 0;
    f = fx_open("abcdefgh\r\n.\r\n", 13, &two, 1, NULL);
    assert_int_equal(mj_reader_stream_until(f.r, k_dot_end, 5, 100, &sink, &err), MJ_INTERNAL);
    assert_string_equal(err.message, "disk full (test)");
    fx_close(&f);
}

static void test_sink_fd(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    mj_sink sink = {mj_sink_fd, &fds[1]};
    mj_error err;
    struct fx f = fx_open("literal!", 8, NULL, 0, NULL);
    assert_int_equal(mj_reader_read_exact(f.r, 8, &sink, &err), MJ_OK);
    char back[16];
    assert_int_equal(read(fds[0], back, sizeof back), 8);
    assert_memory_equal(back, "literal!", 8);
    close(fds[1]);
    close(fds[0]);
    int bad = fds[1]; /* closed now */
    assert_int_equal(mj_sink_fd(&bad, (const unsigned char *)"x", 1, &err), MJ_INTERNAL);
    assert_int_equal(err.reason, MJ_R_LOCAL_IO);
    fx_close(&f);
}

/* Every received byte appears in the log exactly once, however it was read. */
static void test_every_byte_logged_once(void **state)
{
    (void)state;
    char *text = NULL;
    size_t text_len = 0;
    FILE *fp = open_memstream(&text, &text_len);
    assert_non_null(fp);
    mj_log *log = mj_log_new(fp);
    static const char in[] = "* 1 FETCH {5}\r\nhello)\r\nbody\r\n.\r\nrest";
    size_t three = 3;
    struct fx f = fx_open_full(in, sizeof in - 1, &three, 1, MJ_MEM_END_EOF, false, NULL, log);
    mj_error err;
    const unsigned char *d;
    size_t n;
    EXPECT_LINE(f.r, "* 1 FETCH {5}");
    assert_int_equal(mj_reader_read_exact(f.r, 5, NULL, &err), MJ_OK);
    EXPECT_LINE(f.r, ")");
    assert_int_equal(mj_reader_stream_until(f.r, k_dot_end, 5, 100, NULL, &err), MJ_OK);
    while (mj_reader_read_some(f.r, 2, &d, &n, &err) == MJ_OK)
        ;
    fx_close(&f);
    mj_log_free(log);
    fclose(fp);
    static const char want[] = "S: * 1 FETCH {5}\r\nS: hello)\r\nS: body\r\nS: .\r\nS: rest";
    assert_bytes(text, text_len, want, sizeof want - 1);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_one_byte_random_and_whole),
        cmocka_unit_test(test_bare_lf_policies),
        cmocka_unit_test(test_lone_cr_stays_in_line),
        cmocka_unit_test(test_nul_inside_line),
        cmocka_unit_test(test_line_max_exact_and_over),
        cmocka_unit_test(test_line_max_default),
        cmocka_unit_test(test_reply_max_across_lines),
        cmocka_unit_test(test_endings_map_through),
        cmocka_unit_test(test_read_exact),
        cmocka_unit_test(test_read_exact_eof_inside),
        cmocka_unit_test(test_stream_until_every_split),
        cmocka_unit_test(test_stream_until_overlaps),
        cmocka_unit_test(test_stream_until_random_vs_naive),
        cmocka_unit_test(test_stream_until_max),
        cmocka_unit_test(test_stream_until_eof_inside),
        cmocka_unit_test(test_read_some),
        cmocka_unit_test(test_starttls_refused_buffered),
        cmocka_unit_test(test_starttls_refused_pending),
        cmocka_unit_test(test_starttls_quote_is_capped),
        cmocka_unit_test(test_starttls_clean_then_feed),
        cmocka_unit_test(test_starttls_failure_passes_through),
        cmocka_unit_test(test_sink_error_propagates),
        cmocka_unit_test(test_sink_fd),
        cmocka_unit_test(test_every_byte_logged_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
