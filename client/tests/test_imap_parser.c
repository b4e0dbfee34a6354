/*
 * test_imap_parser.c: the IMAP response parser (imap/parser.h).
 *
 * Every input is fed whole, one byte at a time, in seeded random chunks and
 * split in two at every byte boundary, and must give the identical
 * rendering (mj_imap_response_format) in every case.  Each piece fed is
 * copied so that it ends right before a PROT_NONE page (as picohttpparser's
 * tests do): any read past what was given crashes the test.
 * Covered: every token kind, literals (CRLF and NUL inside, streamed to the
 * sink in pieces, ~{n}), every limit at its value and one past, malformed
 * inputs each with its exact reason, the latched error, tolerances, and
 * real responses from /work/shared/corpus/mailkit/imap (converted to CRLF,
 * tags A######## replaced by A00000001; each case names its file).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "imap/parser.h"

/* ---- guarded input -------------------------------------------------------------- */

/* A copy of data ending right before an unreadable page. */
struct guarded {
    unsigned char *base;
    size_t map_len;
    unsigned char *data;
};

static struct guarded guard(const void *data, size_t len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t body = (len + page - 1) / page * page;
    if (body == 0)
        body = page;
    struct guarded g;
    g.map_len = body + page;
    g.base = mmap(NULL, g.map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(g.base != MAP_FAILED);
    assert_int_equal(mprotect(g.base + body, page, PROT_NONE), 0);
    g.data = g.base + body - len;
    if (len > 0)
        memcpy(g.data, data, len);
    return g;
}

static void unguard(struct guarded *g)
{
    munmap(g->base, g->map_len);
}

/* ---- running the parser ---------------------------------------------------------- */

/* xorshift32: the same sequence everywhere. */
static uint32_t rng_next(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

enum feed { FEED_WHOLE, FEED_BYTES, FEED_RANDOM, FEED_SPLIT };
#define OUT_MAX 65536
#define N_SEEDS 20
#define SPLIT_ALL_MAX 2048 /* inputs up to this size are split at every byte */

struct sink_rec {
    unsigned char *bytes;
    size_t len, cap;
    size_t calls;
    int fail_after; /* refuse the call after this many (-1: never) */
    char preceding[64];
    unsigned depth;
    size_t path[8];
    uint64_t size;
    bool literal8;
    bool offsets_ok;
};

static int rec_sink(void *ctx, const mj_imap_literal_info *w, const unsigned char *data, size_t len)
{
    struct sink_rec *r = ctx;
    if (r->fail_after >= 0 && r->calls >= (size_t)r->fail_after)
        return -1;
    if (w->offset == 0)
        r->len = 0;
    r->offsets_ok = r->offsets_ok && w->offset == r->len && w->offset + len <= w->size;
    if (r->len + len > r->cap) {
        r->cap = (r->len + len) * 2;
        r->bytes = realloc(r->bytes, r->cap);
        assert_non_null(r->bytes);
    }
    memcpy(r->bytes + r->len, data, len);
    r->len += len;
    r->calls++;
    snprintf(r->preceding, sizeof r->preceding, "%s",
             w->preceding && w->preceding->str ? w->preceding->str : "-");
    r->depth = w->depth;
    for (unsigned i = 0; i <= w->depth && i < 8; i++)
        r->path[i] = w->path[i];
    r->size = w->size;
    r->literal8 = w->literal8;
    return 0;
}

struct run {
    char out[OUT_MAX];
    size_t out_len;
    mj_parse_result last;
    mj_error err;
    size_t n_resp;
};

static void out_add(struct run *r, const char *s)
{
    size_t n = strlen(s);
    assert_true(r->out_len + n < OUT_MAX);
    memcpy(r->out + r->out_len, s, n + 1);
    r->out_len += n;
}

/* Feed in[pos, end) as one piece (several responses may complete in it). */
static bool feed_piece(mj_imap_parser *p, struct run *r, const unsigned char *in, size_t pos,
                       size_t end)
{
    static char line[OUT_MAX];
    while (pos < end) {
        struct guarded g = guard(in + pos, end - pos);
        size_t used = 999999;
        const mj_imap_response *resp = (const void *)1;
        r->last = mj_imap_parse(p, g.data, end - pos, &used, &resp, &r->err);
        unguard(&g);
        assert_true(used <= end - pos);
        pos += used;
        if (r->last == MJ_PARSE_ERROR) {
            assert_null(resp);
            snprintf(line, sizeof line, "ERROR %s %s\n", mj_reason_name(r->err.reason),
                     r->err.message);
            out_add(r, line);
            return false;
        }
        if (r->last == MJ_PARSE_NEED_MORE) {
            assert_null(resp);
            assert_int_equal(pos, end);
        } else {
            assert_non_null(resp);
            mj_imap_response_format(resp, line, sizeof line);
            out_add(r, line);
            out_add(r, "\n");
            r->n_resp++;
        }
    }
    return true;
}

/* Chunk sizes for one way of feeding. */
static size_t next_chunk(enum feed how, uint32_t *seed, size_t split, size_t pos, size_t len)
{
    switch (how) {
    case FEED_WHOLE:
        return len - pos;
    case FEED_BYTES:
        return 1;
    case FEED_RANDOM:
        return 1 + rng_next(seed) % 97;
    case FEED_SPLIT:
        return pos < split ? split - pos : len - pos;
    }
    return 1;
}

static void run_feed(const mj_imap_limits *lim, struct sink_rec *sink, const void *in, size_t len,
                     enum feed how, uint32_t seed, struct run *r)
{
    mj_imap_parser *p = mj_imap_parser_new(lim);
    assert_non_null(p);
    if (sink != NULL)
        mj_imap_parser_set_sink(p, rec_sink, sink);
    memset(r, 0, sizeof *r);
    r->last = MJ_PARSE_NEED_MORE;
    uint32_t s = seed * 2654435761u + 7;
    for (size_t pos = 0; pos < len;) {
        size_t n = next_chunk(how, &s, seed, pos, len);
        if (n > len - pos)
            n = len - pos;
        if (!feed_piece(p, r, in, pos, pos + n))
            break;
        pos += n;
    }
    mj_imap_parser_free(p);
}

/* Every way of feeding gives exactly `expect` (renderings, one per line;
   "ERROR reason message" for a failure). */
static void check_limits(const mj_imap_limits *lim, const void *in, size_t len, const char *expect)
{
    static struct run r;
    run_feed(lim, NULL, in, len, FEED_WHOLE, 0, &r);
    assert_string_equal(r.out, expect);
    run_feed(lim, NULL, in, len, FEED_BYTES, 0, &r);
    assert_string_equal(r.out, expect);
    for (uint32_t seed = 1; seed <= N_SEEDS; seed++) {
        run_feed(lim, NULL, in, len, FEED_RANDOM, seed, &r);
        assert_string_equal(r.out, expect);
    }
    for (size_t k = 1; len <= SPLIT_ALL_MAX && k < len; k++) {
        run_feed(lim, NULL, in, len, FEED_SPLIT, (uint32_t)k, &r);
        assert_string_equal(r.out, expect);
    }
}

static void check(const void *in, size_t len, const char *expect)
{
    mj_imap_limits lim;
    mj_imap_limits_init(&lim);
    check_limits(&lim, in, len, expect);
}

#define CHECK(in, expect) check(in, sizeof(in) - 1, expect)
#define CHECK_L(lim, in, expect) check_limits(lim, in, sizeof(in) - 1, expect)

/* The input fails, in every chunking, with outcome, reason and a message
   containing `what`. */
static void check_fail_limits(const mj_imap_limits *lim, const void *in, size_t len,
                              mj_reason reason, const char *what)
{
    static struct run r;
    char first[MJ_ERROR_MESSAGE_MAX];
    run_feed(lim, NULL, in, len, FEED_WHOLE, 0, &r);
    assert_int_equal(r.last, MJ_PARSE_ERROR);
    assert_int_equal(r.err.outcome, MJ_PROTOCOL_ERROR);
    assert_string_equal(mj_reason_name(r.err.reason), mj_reason_name(reason));
    if (strstr(r.err.message, what) == NULL)
        fail_msg("'%s' not in '%s'", what, r.err.message);
    memcpy(first, r.err.message, sizeof first);
    for (uint32_t seed = 0; seed <= N_SEEDS; seed++) {
        run_feed(lim, NULL, in, len, seed == 0 ? FEED_BYTES : FEED_RANDOM, seed, &r);
        assert_int_equal(r.last, MJ_PARSE_ERROR);
        assert_int_equal(r.err.reason, reason);
        assert_string_equal(r.err.message, first);
    }
}

static void check_fail(const void *in, size_t len, mj_reason reason, const char *what)
{
    mj_imap_limits lim;
    mj_imap_limits_init(&lim);
    check_fail_limits(&lim, in, len, reason, what);
}

#define FAIL(in, reason, what) check_fail(in, sizeof(in) - 1, reason, what)
#define FAIL_L(lim, in, reason, what) check_fail_limits(lim, in, sizeof(in) - 1, reason, what)

/* ---- token kinds ------------------------------------------------------------------ */

static void test_token_kinds(void **state)
{
    (void)state;
    CHECK("* 12 FETCH (FLAGS (\\Seen \\* $Junk) UID 4294967295 MODSEQ (9223372036854775807) "
          "X NIL nil \"q\\\\u\\\"o\" \"\" {4}\r\na\r\nb BINARY[1] ~{3}\r\nx\0y "
          "BODY[HEADER.FIELDS (DATE FROM)]<0> \"\xc3\xa9t\xc3\xa9\" () ((a) (b)))\r\n",
          "UNTAGGED #12 FETCH data=(FLAGS (\\Seen \\* $Junk) UID #4294967295 MODSEQ "
          "(#9223372036854775807) X NIL nil \"q\\x5cu\\x22o\" \"\" {4}\"a\\x0d\\x0ab\" BINARY[1] "
          "~{3}\"x\\x00y\" BODY[HEADER.FIELDS (DATE FROM)]<0> \"\\xc3\\xa9t\\xc3\\xa9\" () "
          "((a) (b)))\n");
}

/* The table-driven fast paths of atom and quoted (parser.c byte_class) give
   the tokens the byte-by-byte rules give: digits then other atom bytes are an
   atom, a section after digits too; a quoted string leaves the plain loop at
   an escape, an 8-bit byte, CR or NUL and is finished by the full rules. */
static void test_token_fast_paths(void **state)
{
    (void)state;
    CHECK("* 1 FETCH (0 123abc 12[x] 0012 NiL NILS \"\" \"a\tb\x7f\" \"ab\\\"c\\\\\" "
          "\"x\xc3\xa9y\" \"plain\" \"(not) {3} a list\")\r\n",
          "UNTAGGED #1 FETCH data=(#0 123abc 12[x] #12 NiL NILS \"\" \"a\\x09b\\x7f\" "
          "\"ab\\x22c\\x5c\" \"x\\xc3\\xa9y\" \"plain\" \"(not) {3} a list\")\n");
    FAIL("* X \"abc\rd\"\r\n", MJ_R_MALFORMED, "CR in quoted string");
    FAIL("* X \"abc\0\"\r\n", MJ_R_MALFORMED, "NUL in quoted string");
    FAIL("* X \"abc\r\n", MJ_R_MALFORMED, "expected '\"' to end the quoted string");
    FAIL("* X \"abc\\x\"\r\n", MJ_R_MALFORMED, "bad escape in quoted string");
    FAIL("* X (99999999999999999999)\r\n", MJ_R_NUMBER_OVERFLOW, "number larger than 63 bits");
}

static void test_node_values(void **state)
{
    (void)state;
    static const unsigned char in[] = "* 7 FETCH (UID 4294967296 X 42 NIL {3}\r\na\0b)\r\n";
    mj_imap_parser *p = mj_imap_parser_new(NULL);
    assert_non_null(p);
    size_t used;
    const mj_imap_response *r;
    mj_error err;
    assert_int_equal(mj_imap_parse(p, in, sizeof in - 1, &used, &r, &err), MJ_PARSE_OK);
    assert_int_equal(used, sizeof in - 1);
    assert_int_equal(r->wire_len, sizeof in - 1);
    assert_int_equal(r->kind, MJ_IMAP_UNTAGGED);
    assert_true(r->has_number);
    assert_int_equal(r->number, 7);
    assert_int_equal(r->n_data, 1);
    const mj_imap_node *l = r->data;
    assert_int_equal(l->kind, MJ_IMAP_LIST);
    assert_int_equal(l->count, 6);
    const mj_imap_node *uid = mj_imap_list_at(l->first, 1);
    uint32_t v32;
    assert_int_equal(uid->kind, MJ_IMAP_NUMBER);
    assert_true(uid->num == 4294967296ull);
    assert_int_equal(mj_imap_node_number32(uid, &v32), -1); /* 33 bits */
    assert_int_equal(mj_imap_node_number32(mj_imap_list_at(l->first, 3), &v32), 0);
    assert_int_equal(v32, 42);
    assert_true(mj_imap_node_is(mj_imap_list_at(l->first, 0), "uid"));
    assert_int_equal(mj_imap_list_at(l->first, 4)->kind, MJ_IMAP_NIL);
    const mj_imap_node *lit = mj_imap_list_at(l->first, 5);
    assert_int_equal(lit->kind, MJ_IMAP_LITERAL);
    assert_int_equal(lit->len, 3);
    assert_memory_equal(lit->str, "a\0b", 4); /* NUL-terminated too */
    assert_null(mj_imap_list_at(l->first, 6));
    mj_imap_parser_free(p);
}

static void test_status_and_codes(void **state)
{
    (void)state;
    CHECK("* OK [UIDNEXT 3] Predicted next UID\r\n"
          "A1 NO [BADCHARSET (UTF-8 \"X\")] no\r\n"
          "a2 bad [ALERT] \r\n"
          "* BYE [UNAVAILABLE] going down\r\n"
          "* PREAUTH [REFERRAL imap://u@h/INBOX;UID=1] hi\r\n"
          "A3 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n"
          "* NO [TOO ( unbalanced] x\r\n"
          "+ \r\n"
          "+ dGVzdA==\r\n"
          "+ [CAPABILITY X] text\r\n",
          "UNTAGGED OK [UIDNEXT|3]=(#3) text=\"Predicted next UID\"\n"
          "TAGGED tag=A1 NO [BADCHARSET|(UTF-8 \\x22X\\x22)]=((UTF-8 \"X\")) text=\"no\"\n"
          "TAGGED tag=a2 bad [ALERT|] text=\"\"\n"
          "UNTAGGED BYE [UNAVAILABLE|] text=\"going down\"\n"
          "UNTAGGED PREAUTH [REFERRAL|imap://u@h/INBOX;UID=1]=(imap://u@h/INBOX;UID=1) text=\"hi\"\n"
          "TAGGED tag=A3 OK [COPYUID|38505 304,319:320 3956:3958]=(#38505 304,319:320 3956:3958) "
          "text=\"Done\"\n"
          "UNTAGGED NO [TOO|( unbalanced] text=\"x\"\n"
          "CONT text=\"\"\n"
          "CONT text=\"dGVzdA==\"\n"
          "CONT [CAPABILITY|X]=(X) text=\"text\"\n");
}

static void test_status_fields(void **state)
{
    (void)state;
    static const unsigned char in[] = "A7 no [TRYCREATE] x\r\n";
    mj_imap_parser *p = mj_imap_parser_new(NULL);
    assert_non_null(p);
    size_t used;
    const mj_imap_response *r;
    assert_int_equal(mj_imap_parse(p, in, sizeof in - 1, &used, &r, NULL), MJ_PARSE_OK);
    assert_int_equal(r->kind, MJ_IMAP_TAGGED);
    assert_string_equal(r->tag, "A7");
    assert_int_equal(r->status, MJ_IMAP_ST_NO);
    assert_string_equal(r->code, "TRYCREATE");
    assert_string_equal(r->code_args, "");
    assert_null(r->code_data);
    assert_string_equal(r->text, "x");
    assert_null(r->data);
    mj_imap_parser_free(p);
}

/* Several responses in one buffer: OK stops after the first, consumed says
   where; the caller feeds the rest. */
static void test_consumed(void **state)
{
    (void)state;
    static const unsigned char in[] = "* 1 EXISTS\r\n* 2 EXISTS\r\nA1 OK d";
    mj_imap_parser *p = mj_imap_parser_new(NULL);
    assert_non_null(p);
    size_t used;
    const mj_imap_response *r;
    assert_int_equal(mj_imap_parse(p, in, sizeof in - 1, &used, &r, NULL), MJ_PARSE_OK);
    assert_int_equal(used, 12);
    assert_int_equal(mj_imap_parse(p, in + 12, sizeof in - 13, &used, &r, NULL), MJ_PARSE_OK);
    assert_int_equal(used, 12);
    assert_int_equal(r->number, 2);
    assert_int_equal(mj_imap_parse(p, in + 24, sizeof in - 25, &used, &r, NULL),
                     MJ_PARSE_NEED_MORE);
    assert_int_equal(used, sizeof in - 25);
    assert_null(r);
    assert_int_equal(mj_imap_parse(p, (const unsigned char *)"one\r\n", 5, &used, &r, NULL),
                     MJ_PARSE_OK);
    assert_string_equal(r->text, "done");
    assert_int_equal(r->wire_len, 12);
    assert_int_equal(mj_imap_parse(p, NULL, 0, &used, &r, NULL), MJ_PARSE_NEED_MORE);
    mj_imap_parser_free(p);
}

/* ---- literals ------------------------------------------------------------------------ */

static void test_literals(void **state)
{
    (void)state;
    /* CRLF, NUL, ')' and '{1}' inside; {0}; literal as the first and last token;
       a literal right before ')' and one right before SP. */
    CHECK("* 1 FETCH ({0}\r\n {9}\r\n)\r\n\0{1}\r\n BODY[] ~{2}\r\n\xff\x00)\r\n"
          "* LIST () \"/\" {5}\r\nINBOX\r\n",
          "UNTAGGED #1 FETCH data=({0}\"\" {9}\")\\x0d\\x0a\\x00{1}\\x0d\\x0a\" BODY[] "
          "~{2}\"\\xff\\x00\")\n"
          "UNTAGGED LIST data=() \"/\" {5}\"INBOX\"\n");
}

static void test_literal_streamed(void **state)
{
    (void)state;
    static const unsigned char in[] = "* 3 FETCH (UID 9 BODY[] {12}\r\nab\r\n\0cd\r\nefg FLAGS "
                                      "(\\Seen) BINARY[2] ~{4}\r\n\x01\x02\r\n)\r\n";
    mj_imap_limits lim;
    mj_imap_limits_init(&lim);
    lim.literal_inline_max = 3;
    static struct run r;
    struct sink_rec sk = {.fail_after = -1, .offsets_ok = true};
    for (int how = 0; how < 3; how++) {
        sk.calls = 0;
        run_feed(&lim, &sk, in, sizeof in - 1, (enum feed)how, 5, &r);
        assert_string_equal(r.out, "UNTAGGED #3 FETCH data=(UID #9 BODY[] {12}streamed FLAGS "
                                   "(\\Seen) BINARY[2] ~{4}streamed)\n");
        /* the sink saw the last literal, exactly, in order */
        assert_true(sk.offsets_ok);
        assert_int_equal(sk.len, 4);
        assert_memory_equal(sk.bytes, "\x01\x02\r\n", 4);
        assert_string_equal(sk.preceding, "BINARY[2]");
        assert_true(sk.literal8);
        assert_int_equal(sk.depth, 1);
        assert_int_equal(sk.path[0], 0);
        assert_int_equal(sk.path[1], 7);
        assert_true(sk.size == 4);
        /* byte by byte: one call per byte of both literals */
        if (how == FEED_BYTES)
            assert_int_equal(sk.calls, 16);
        if (how == FEED_WHOLE)
            assert_int_equal(sk.calls, 2);
    }
    /* the first literal, alone */
    static const unsigned char one[] = "* 3 FETCH (BODY[] {12}\r\nab\r\n\0cd\r\nefg)\r\n";
    sk.calls = 0;
    run_feed(&lim, &sk, one, sizeof one - 1, FEED_BYTES, 0, &r);
    assert_int_equal(sk.calls, 12);
    assert_int_equal(sk.len, 12);
    assert_memory_equal(sk.bytes, "ab\r\n\0cd\r\nefg", 12);
    assert_string_equal(sk.preceding, "BODY[]");
    free(sk.bytes);
}

static void test_literal_no_sink_skips(void **state)
{
    (void)state;
    mj_imap_limits lim;
    mj_imap_limits_init(&lim);
    lim.literal_inline_max = 0;
    CHECK_L(&lim, "* 1 FETCH (BODY[] {3}\r\nabc)\r\n",
            "UNTAGGED #1 FETCH data=(BODY[] {3}streamed)\n");
}

static void test_sink_failure(void **state)
{
    (void)state;
    static const unsigned char in[] = "* 1 FETCH (BODY[] {10}\r\n0123456789)\r\n";
    mj_imap_limits lim;
    mj_imap_limits_init(&lim);
    lim.literal_inline_max = 1;
    struct sink_rec sk = {.fail_after = 1, .offsets_ok = true};
    static struct run r;
    run_feed(&lim, &sk, in, sizeof in - 1, FEED_BYTES, 0, &r);
    assert_int_equal(r.last, MJ_PARSE_ERROR);
    assert_int_equal(r.err.outcome, MJ_INTERNAL);
    assert_int_equal(r.err.reason, MJ_R_LOCAL_IO);
    assert_int_equal(sk.calls, 1);
    free(sk.bytes);
}

/* ---- limits: at the value passes, one past fails with its own reason ------------------- */

static void test_limit_nesting(void **state)
{
    (void)state;
    mj_imap_limits lim;
    mj_imap_limits_init(&lim);
    lim.depth_max = 3;
    CHECK_L(&lim, "* X (((a)))\r\n", "UNTAGGED X data=(((a)))\n");
    FAIL_L(&lim, "* X ((((a))))\r\n", MJ_R_NESTING_TOO_DEEP, "deeper than depth_max at byte 7");
    /* the default: 64 */
    char deep[300];
    int n = snprintf(deep, sizeof deep, "* X %.*s%.*s\r\n", 64,
                     "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((", 64,
                     "))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))");
    mj_imap_limits_init(&lim);
    static struct run r;
    run_feed(&lim, NULL, deep, (size_t)n, FEED_WHOLE, 0, &r);
    assert_int_equal(r.last, MJ_PARSE_OK);
    n = snprintf(deep, sizeof deep, "* X %.*s\r\n", 65,
                 "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((");
    check_fail_limits(&lim, deep, (size_t)n, MJ_R_NESTING_TOO_DEEP, "depth_max");
}

static void test_limit_line(void **state)
{
    (void)state;
    mj_imap_limits lim;
    mj_imap_limits_init(&lim);
    lim.line_max = 12; /* "* 1 EXISTS\r\n" is 12 */
    CHECK_L(&lim, "* 1 EXISTS\r\n", "UNTAGGED #1 EXISTS\n");
    FAIL_L(&lim, "* 10 EXISTS\r\n", MJ_R_LINE_TOO_LONG, "line_max (12 bytes)");
    /* per line: a literal's bytes do not count, each line is measured alone */
    CHECK_L(&lim, "* X ({5}\r\nabcde hij klmn)\r\n", "UNTAGGED X data=({5}\"abcde\" hij klmn)\n");
    FAIL_L(&lim, "* X ({5}\r\nabcde hij klmno)\r\n", MJ_R_LINE_TOO_LONG, "line_max");
    /* detected before the LF arrives */
    static struct run r;
    static const char endless[] = "* OK aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    run_feed(&lim, NULL, endless, sizeof endless - 1, FEED_BYTES, 0, &r);
    assert_int_equal(r.last, MJ_PARSE_ERROR);
    assert_int_equal(r.err.reason, MJ_R_LINE_TOO_LONG);
}

static void test_limit_literal(void **state)
{
    (void)state;
    mj_imap_limits lim;
    mj_imap_limits_init(&lim);
    lim.literal_max = 5;
    CHECK_L(&lim, "* X {5}\r\nabcde\r\n", "UNTAGGED X data={5}\"abcde\"\n");
    /* refused before any byte of it is read: the input stops after the count */
    FAIL_L(&lim, "* X {6}\r\n", MJ_R_STREAM_TOO_LARGE, "literal of 6 bytes is larger than literal_max (5)");
    lim.literal_max = MJ_IMAP_LITERAL_MAX_DEFAULT;
    FAIL_L(&lim, "* X {1073741825}\r\n", MJ_R_STREAM_TOO_LARGE, "literal_max (1073741824)");
    lim.literal_inline_max = 5;
    CHECK_L(&lim, "* X {5}\r\nabcde\r\n", "UNTAGGED X data={5}\"abcde\"\n");
    CHECK_L(&lim, "* X {6}\r\nabcdef\r\n", "UNTAGGED X data={6}streamed\n");
}

static void test_limit_tokens(void **state)
{
    (void)state;
    mj_imap_limits lim;
    mj_imap_limits_init(&lim);
    lim.tokens_max = 4; /* a list counts as one token */
    CHECK_L(&lim, "* SEARCH 1 (2) 3\r\n", "UNTAGGED SEARCH data=#1 (#2) #3\n");
    FAIL_L(&lim, "* SEARCH 1 (2) 3 4\r\n", MJ_R_TOO_MANY_TOKENS, "more tokens than tokens_max at byte 17");
}

static void test_limit_response_memory(void **state)
{
    (void)state;
    static const char in[] = "* 1 FETCH (FLAGS (\\Seen) BODY[] {20}\r\n01234567890123456789)\r\n";
    mj_imap_parser *p = mj_imap_parser_new(NULL);
    assert_non_null(p);
    size_t used;
    const mj_imap_response *r;
    assert_int_equal(mj_imap_parse(p, (const unsigned char *)in, sizeof in - 1, &used, &r, NULL),
                     MJ_PARSE_OK);
    size_t need = mj_imap_parser_memory_used(p);
    mj_imap_parser_free(p);
    assert_true(need > 20);
    mj_imap_limits lim;
    mj_imap_limits_init(&lim);
    lim.response_max = need;
    check_limits(&lim, in, sizeof in - 1,
                 "UNTAGGED #1 FETCH data=(FLAGS (\\Seen) BODY[] {20}\"01234567890123456789\")\n");
    lim.response_max = need - 1;
    check_fail_limits(&lim, in, sizeof in - 1, MJ_R_REPLY_TOO_LARGE, "response_max");
}

/* ---- malformed input: each with its exact reason ---------------------------------- */

static void test_malformed(void **state)
{
    (void)state;
    FAIL("* 1 FETCH (FLAGS (\\Seen)\r\n", MJ_R_MALFORMED,
         "expected ')' at byte 24 of '* 1 FETCH (FLAGS (\\Seen)'");
    FAIL("* X a)\r\n", MJ_R_MALFORMED, "')' without '(' at byte 5");
    FAIL("* X \"a\\b\"\r\n", MJ_R_MALFORMED, "bad escape in quoted string");
    FAIL("* X \"abc\r\n", MJ_R_MALFORMED, "expected '\"' to end the quoted string");
    FAIL("* X \"a\0b\"\r\n", MJ_R_MALFORMED, "NUL in quoted string");
    FAIL("* X \"\xc3\x28\"\r\n", MJ_R_MALFORMED, "invalid UTF-8 in quoted string");
    FAIL("* X \"\xed\xa0\x80\"\r\n", MJ_R_MALFORMED, "invalid UTF-8"); /* a surrogate */
    FAIL("* X 9223372036854775808\r\n", MJ_R_NUMBER_OVERFLOW, "number larger than 63 bits");
    FAIL("* 4294967296 EXISTS\r\n", MJ_R_NUMBER_OVERFLOW, "message number larger than 32 bits");
    FAIL("* X {99999999999999999999}\r\n", MJ_R_NUMBER_OVERFLOW, "literal count larger than 63 bits");
    FAIL("* X {5}abcde\r\n", MJ_R_MALFORMED, "expected CRLF after the literal count at byte 7");
    FAIL("* X {5} \r\n", MJ_R_MALFORMED, "expected CRLF after the literal count");
    FAIL("* X {5+}\r\nabcde\r\n", MJ_R_MALFORMED, "client-side literal");
    FAIL("* X {}\r\n", MJ_R_MALFORMED, "expected digits in the literal count");
    FAIL("* X {5\r\n", MJ_R_MALFORMED, "expected '}' after the literal count");
    FAIL("A1 HELLO there\r\n", MJ_R_MALFORMED, "expected OK, NO or BAD after the tag at byte 3");
    FAIL("A1 BYE x\r\n", MJ_R_MALFORMED, "expected OK, NO or BAD after the tag");
    FAIL("A1\r\n", MJ_R_MALFORMED, "expected SP after the tag");
    FAIL("(x) OK\r\n", MJ_R_MALFORMED, "expected '*', '+' or a tag at byte 0");
    FAIL("*1 EXISTS\r\n", MJ_R_MALFORMED, "expected SP after '*'");
    FAIL("* 1\r\n", MJ_R_MALFORMED, "expected SP after the number");
    FAIL("* \r\n", MJ_R_MALFORMED, "expected a response name");
    FAIL("\r\n", MJ_R_MALFORMED, "empty line");
    FAIL("* X a  b\r\n", MJ_R_MALFORMED, "two SP in a row");
    FAIL("* X ( a)\r\n", MJ_R_MALFORMED, "expected an atom, number, string, literal or '('");
    FAIL("* X (a )\r\n", MJ_R_MALFORMED, "unexpected SP before ')' (strict: tolerance space-before-close is off)");
    FAIL("* X a \r\n", MJ_R_MALFORMED, "unexpected SP at the end of the line (strict: tolerance trailing-space is off)");
    FAIL("* X a\"b\"\r\n", MJ_R_MALFORMED, "expected SP or ')' at byte 5");
    FAIL("* X (a)b\r\n", MJ_R_MALFORMED, "expected SP or ')'");
    FAIL("* X a\rb\r\n", MJ_R_MALFORMED, "expected SP or ')'");
    FAIL("* X BODY[HEADER\r\n", MJ_R_MALFORMED, "expected ']' to end the section");
    FAIL("* X \x01\r\n", MJ_R_MALFORMED, "expected an atom");
    FAIL("* OK [ALERT text\r\n", MJ_R_MALFORMED, "expected ']' to end the response code");
    FAIL("* OK [] x\r\n", MJ_R_MALFORMED, "expected a response code name");
    FAIL("* OK [X]y\r\n", MJ_R_MALFORMED, "expected SP after the response code");
    FAIL("* OK [X]\r\n", MJ_R_MALFORMED, "expected SP after the response code (strict: tolerance code-without-space is off)");
    FAIL("* OK\r\n", MJ_R_MALFORMED, "expected SP and text after the status (strict: tolerance status-without-text is off)");
    FAIL("* OK a\0b\r\n", MJ_R_MALFORMED, "NUL byte in text");
    FAIL("* OK caf\xe9\r\n", MJ_R_MALFORMED, "invalid UTF-8 in text");
    FAIL("+\r\n", MJ_R_MALFORMED, "expected SP after '+' (strict: tolerance bare-continuation is off)");
    /* Office 365 sent a response code on a line of its own (exchange/issue115.txt) */
    FAIL("[COPYUID 55 31 6]\r\n", MJ_R_MALFORMED,
         "expected '*', '+' or a tag (strict: tolerance bare-response-code is off)");
    FAIL("* 1 EXISTS\n", MJ_R_BARE_LF, "line ends in LF without CR (strict: tolerance bare-lf is off)");
}

/* An error is latched until reset; the message escapes what the server sent. */
static void test_error_latched(void **state)
{
    (void)state;
    mj_imap_parser *p = mj_imap_parser_new(NULL);
    assert_non_null(p);
    size_t used;
    const mj_imap_response *r;
    mj_error err;
    static const unsigned char bad[] = "* X \"\x1b[2J\" (\r\n";
    assert_int_equal(mj_imap_parse(p, bad, sizeof bad - 1, &used, &r, &err), MJ_PARSE_ERROR);
    assert_string_equal(err.message,
                        "IMAP response: expected ')' at byte 12 of '* X \"\\x1b[2J\" ('");
    static const unsigned char good[] = "* 1 EXISTS\r\n";
    mj_error_clear(&err);
    assert_int_equal(mj_imap_parse(p, good, sizeof good - 1, &used, &r, &err), MJ_PARSE_ERROR);
    assert_int_equal(used, 0);
    assert_int_equal(err.reason, MJ_R_MALFORMED);
    assert_null(r);
    mj_imap_parser_reset(p);
    assert_int_equal(mj_imap_parse(p, good, sizeof good - 1, &used, &r, &err), MJ_PARSE_OK);
    assert_int_equal(r->number, 1);
    mj_imap_parser_free(p);
}

/* ---- tolerances: off refuses, on accepts ------------------------------------------ */

static void test_tolerances(void **state)
{
    (void)state;
    static const struct {
        size_t offset; /* of the bool in mj_imap_limits */
        const char *in;
        const char *expect;
    } rows[] = {
        {offsetof(mj_imap_limits, code_without_space), "* OK [UNSEEN 8]\r\n",
         "UNTAGGED OK [UNSEEN|8]=(#8) text=\"\"\n"},
        {offsetof(mj_imap_limits, status_without_text), "A1 OK\r\n",
         "TAGGED tag=A1 OK text=\"\"\n"},
        {offsetof(mj_imap_limits, bare_continuation), "+\r\n", "CONT text=\"\"\n"},
        {offsetof(mj_imap_limits, space_before_close), "* 1 FETCH (BODY[2] )\r\n",
         "UNTAGGED #1 FETCH data=(BODY[2])\n"},
        {offsetof(mj_imap_limits, trailing_space), "* SEARCH 1 2 \r\n",
         "UNTAGGED SEARCH data=#1 #2\n"},
        {offsetof(mj_imap_limits, eight_bit), "* OK caf\xe9 \"\xe9t\xe9\"\r\n",
         "UNTAGGED OK text=\"caf\\xe9 \\x22\\xe9t\\xe9\\x22\"\n"},
        {offsetof(mj_imap_limits, bare_lf), "* 1 EXISTS\n", "UNTAGGED #1 EXISTS\n"},
        {offsetof(mj_imap_limits, bare_response_code), "[COPYUID 55 31 6] moved\r\n",
         "UNTAGGED OK [COPYUID|55 31 6]=(#55 #31 #6) text=\"moved\"\n"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        mj_imap_limits lim;
        mj_imap_limits_init(&lim);
        size_t len = strlen(rows[i].in);
        static struct run r;
        run_feed(&lim, NULL, rows[i].in, len, FEED_WHOLE, 0, &r);
        assert_int_equal(r.last, MJ_PARSE_ERROR);
        *(bool *)((char *)&lim + rows[i].offset) = true;
        check_limits(&lim, rows[i].in, len, rows[i].expect);
    }
    /* eight_bit still refuses NUL */
    mj_imap_limits lim;
    mj_imap_limits_init(&lim);
    mj_imap_limits_tolerant(&lim);
    FAIL_L(&lim, "* OK a\0\r\n", MJ_R_MALFORMED, "NUL byte in text");
}

/* ---- real responses ------------------------------------------------------------------ */

static const struct corpus_case {
    bool tolerant;
    const char *in;
    const char *expect;
} corpus[] = {
    /* exchange/greeting.txt lines 1-1 */
    {false,
     "* OK The Microsoft Exchange IMAP4 service is ready. [TQBXAEgAUABSADIAMQBDAEEAMAAwADYAMAAuAG"
     "4AYQBtAHAAcgBkADIAMQAuAHAAcgBvAGQALgBvAHUAdABsAG8AbwBrAC4AYwBvAG0A]\r\n",
     "UNTAGGED OK text=\"The Microsoft Exchange IMAP4 service is ready. [TQBXAEgAUABSADIAMQBDAEEA"
     "MAAwADYAMAAuAG4AYQBtAHAAcgBkADIAMQAuAHAAcgBvAGQALgBvAHUAdABsAG8AbwBrAC4AYwBvAG0A]\"\n"},
    /* exchange/capability-postauth.txt lines 1-2 */
    {false,
     "* CAPABILITY IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS MOVE ID UNSELECT CLIEN"
     "TACCESSRULES CLIENTNETWORKPRESENCELOCATION BACKENDAUTHENTICATE CHILDREN IDLE NAMESPACE LITE"
     "RAL+\r\n"
     "A00000001 OK CAPABILITY completed.\r\n",
     "UNTAGGED CAPABILITY data=IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS MOVE ID UN"
     "SELECT CLIENTACCESSRULES CLIENTNETWORKPRESENCELOCATION BACKENDAUTHENTICATE CHILDREN IDLE NA"
     "MESPACE LITERAL+\n"
     "TAGGED tag=A00000001 OK text=\"CAPABILITY completed.\"\n"},
    /* exchange/greeting-2003.txt lines 1-1 */
    {false,
     "* OK Microsoft Exchange Server 2003 IMAP4rev1 server version (6.5.7638.1) ready\r\n",
     "UNTAGGED OK text=\"Microsoft Exchange Server 2003 IMAP4rev1 server version (6.5.7638.1) rea"
     "dy\"\n"},
    /* gmail/greeting.txt lines 1-1 */
    {false,
     "* OK Gimap ready for requests from 127.0.0.1 i9if7359725qay.199\r\n",
     "UNTAGGED OK text=\"Gimap ready for requests from 127.0.0.1 i9if7359725qay.199\"\n"},
    /* gmail/go-ahead.txt lines 1-1 */
    {false,
     "+ go ahead\r\n",
     "CONT text=\"go ahead\"\n"},
    /* gmail/fetch-nil.txt lines 1-2 */
    {false,
     "* 3 FETCH (UID 1 BODY[1.TEXT]<0> NIL)\r\n"
     "A00000001 OK Success\r\n",
     "UNTAGGED #3 FETCH data=(UID #1 BODY[1.TEXT]<0> NIL)\n"
     "TAGGED tag=A00000001 OK text=\"Success\"\n"},
    /* gmail/fetch-quoted-string.txt lines 1-2 */
    {false,
     "* 3 FETCH (UID 1 BODY[1.TEXT]<0> \"This is the message body as a quoted-string.\")\r\n"
     "A00000001 OK Success\r\n",
     "UNTAGGED #3 FETCH data=(UID #1 BODY[1.TEXT]<0> \"This is the message body as a quoted-strin"
     "g.\")\n"
     "TAGGED tag=A00000001 OK text=\"Success\"\n"},
    /* gmail/status-+folder.txt lines 1-2 */
    {false,
     "* STATUS +Folder (HIGHESTMODSEQ 41234 MESSAGES 6 RECENT 0 UIDNEXT 7 UIDVALIDITY 1 UNSEEN 0 "
     "SIZE 1024 MAILBOXID (f001Ed6c-ebee-41a5-a65e-9498d3e0aec0))\r\n"
     "A00000001 OK Success\r\n",
     "UNTAGGED STATUS data=+Folder (HIGHESTMODSEQ #41234 MESSAGES #6 RECENT #0 UIDNEXT #7 UIDVALI"
     "DITY #1 UNSEEN #0 SIZE #1024 MAILBOXID (f001Ed6c-ebee-41a5-a65e-9498d3e0aec0))\n"
     "TAGGED tag=A00000001 OK text=\"Success\"\n"},
    /* gmail/fetch-objectid.txt lines 4-5 */
    {false,
     "* 4 FETCH (UID 4 EMAILID (M4fdc09b49ea629) THREADID NIL)\r\n"
     "A00000001 OK Success\r\n",
     "UNTAGGED #4 FETCH data=(UID #4 EMAILID (M4fdc09b49ea629) THREADID NIL)\n"
     "TAGGED tag=A00000001 OK text=\"Success\"\n"},
    /* gmail/fetch-nil-bodystructure.txt lines 1-2 */
    {false,
     "* 1 FETCH (UID 1 BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\""
     " 5235 112 NIL NIL NIL)(\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 60479 873"
     " NIL NIL NIL) \"ALTERNATIVE\"))\r\n"
     "A00000001 OK Success\r\n",
     "UNTAGGED #1 FETCH data=(UID #1 BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") N"
     "IL NIL \"7BIT\" #5235 #112 NIL NIL NIL) (\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL "
     "\"7BIT\" #60479 #873 NIL NIL NIL) \"ALTERNATIVE\"))\n"
     "TAGGED tag=A00000001 OK text=\"Success\"\n"},
    /* gmail/search-summary.txt lines 1-1 */
    {false,
     "* 1 FETCH (X-GM-THRID 1592225494819146101 X-GM-MSGID 1592225494819146101 X-GM-LABELS (\"Tes"
     "t Messages\" \"\\\\Important\") UID 1 RFC822.SIZE 181614 MODSEQ (29233) INTERNALDATE \"19-S"
     "ep-1991 16:41:43 +0000\" FLAGS (\\Seen) ENVELOPE (\"Thu, 19 Sep 91 12:41:43 EDT\" \"Star Tr"
     "ek Party!\" ((NIL NIL NIL NIL)) ((NIL NIL NIL NIL)) ((NIL NIL NIL NIL)) ((NIL NIL \"abel\" "
     "NIL) (NIL NIL \"bianchi\" NIL) (NIL NIL \"braun\" NIL) (NIL NIL \"cameron\" NIL) (NIL NIL \""
     "carmen\" NIL) (NIL NIL \"jfp\" NIL) (NIL NIL \"jxr\" NIL) (NIL NIL \"kraut\" NIL) (NIL NIL "
     "\"lamb\" NIL) (NIL NIL \"lowery\" NIL) (NIL NIL \"lynn\" NIL) (NIL NIL \"mlittman\" NIL) (N"
     "IL NIL \"nancyg\" NIL) (NIL NIL \"sau\" NIL) (NIL NIL \"shoshi\" NIL) (NIL NIL \"slr\" NIL)"
     " (NIL NIL \"stornett\" \"flash\") (NIL NIL \"tkl\" NIL)) ((NIL NIL \"nsb\" NIL) (NIL NIL \""
     "trina\" \"flash\")) NIL NIL \"<9109191641.AA12840@greenbush.bellcore.com>\") BODY (((\"TEXT"
     "\" \"PLAIN\" NIL NIL NIL \"7BIT\" 731 16)(\"AUDIO\" \"BASIC\" NIL NIL NIL \"BASE64\" 31472)"
     " \"PARALLEL\")((\"IMAGE\" \"GIF\" NIL NIL NIL \"BASE64\" 26000)(\"IMAGE\" \"GIF\" NIL NIL N"
     "IL \"BASE64\" 18666)(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 46125 2436)(\"APPLICATION\" \""
     "ATOMICMAIL\" NIL NIL NIL \"7BIT\" 9203) \"MIXED\")(\"AUDIO\" \"BASIC\" NIL NIL NIL \"BASE64"
     "\" 47822) \"MIXED\"))\r\n",
     "UNTAGGED #1 FETCH data=(X-GM-THRID #1592225494819146101 X-GM-MSGID #1592225494819146101 X-G"
     "M-LABELS (\"Test Messages\" \"\\x5cImportant\") UID #1 RFC822.SIZE #181614 MODSEQ (#29233) "
     "INTERNALDATE \"19-Sep-1991 16:41:43 +0000\" FLAGS (\\Seen) ENVELOPE (\"Thu, 19 Sep 91 12:41"
     ":43 EDT\" \"Star Trek Party!\" ((NIL NIL NIL NIL)) ((NIL NIL NIL NIL)) ((NIL NIL NIL NIL)) "
     "((NIL NIL \"abel\" NIL) (NIL NIL \"bianchi\" NIL) (NIL NIL \"braun\" NIL) (NIL NIL \"camero"
     "n\" NIL) (NIL NIL \"carmen\" NIL) (NIL NIL \"jfp\" NIL) (NIL NIL \"jxr\" NIL) (NIL NIL \"kr"
     "aut\" NIL) (NIL NIL \"lamb\" NIL) (NIL NIL \"lowery\" NIL) (NIL NIL \"lynn\" NIL) (NIL NIL "
     "\"mlittman\" NIL) (NIL NIL \"nancyg\" NIL) (NIL NIL \"sau\" NIL) (NIL NIL \"shoshi\" NIL) ("
     "NIL NIL \"slr\" NIL) (NIL NIL \"stornett\" \"flash\") (NIL NIL \"tkl\" NIL)) ((NIL NIL \"ns"
     "b\" NIL) (NIL NIL \"trina\" \"flash\")) NIL NIL \"<9109191641.AA12840@greenbush.bellcore.co"
     "m>\") BODY (((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" #731 #16) (\"AUDIO\" \"BASIC\" NIL NI"
     "L NIL \"BASE64\" #31472) \"PARALLEL\") ((\"IMAGE\" \"GIF\" NIL NIL NIL \"BASE64\" #26000) ("
     "\"IMAGE\" \"GIF\" NIL NIL NIL \"BASE64\" #18666) (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" #"
     "46125 #2436) (\"APPLICATION\" \"ATOMICMAIL\" NIL NIL NIL \"7BIT\" #9203) \"MIXED\") (\"AUDI"
     "O\" \"BASIC\" NIL NIL NIL \"BASE64\" #47822) \"MIXED\"))\n"},
    /* gmail/utf8accept.txt lines 1-2 */
    {false,
     "* ENABLED UTF8=ACCEPT\r\n"
     "A00000001 OK Success\r\n",
     "UNTAGGED ENABLED data=UTF8=ACCEPT\n"
     "TAGGED tag=A00000001 OK text=\"Success\"\n"},
    /* gmail/list-all.txt lines 1-3 */
    {false,
     "* LIST (\\HasNoChildren \\Subscribed) \"/\" \"INBOX\"\r\n"
     "* STATUS \"INBOX\" (HIGHESTMODSEQ 41234 MESSAGES 60 RECENT 0 UIDNEXT 410 UIDVALIDITY 1 UNSE"
     "EN 0 SIZE 1024 MAILBOXID (d0f3b017-d3ec-40aa-9bb9-66c1aeccbb24))\r\n"
     "* LIST (\\HasNoChildren \\Subscribed) \"/\" +Folder\r\n",
     "UNTAGGED LIST data=(\\HasNoChildren \\Subscribed) \"/\" \"INBOX\"\n"
     "UNTAGGED STATUS data=\"INBOX\" (HIGHESTMODSEQ #41234 MESSAGES #60 RECENT #0 UIDNEXT #410 UI"
     "DVALIDITY #1 UNSEEN #0 SIZE #1024 MAILBOXID (d0f3b017-d3ec-40aa-9bb9-66c1aeccbb24))\n"
     "UNTAGGED LIST data=(\\HasNoChildren \\Subscribed) \"/\" +Folder\n"},
    /* yahoo/greeting.txt lines 1-1 */
    {false,
     "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=XOAUTH2 AUTH=OAUTHBEARER ID MOVE NAMESPA"
     "CE XYMHIGHESTMODSEQ UIDPLUS LITERAL+ CHILDREN X-MSG-EXT OBJECTID] IMAP4rev1 Hello\r\n",
     "UNTAGGED OK [CAPABILITY|IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=XOAUTH2 AUTH=OAUTHBEARER ID MOVE "
     "NAMESPACE XYMHIGHESTMODSEQ UIDPLUS LITERAL+ CHILDREN X-MSG-EXT OBJECTID]=(IMAP4rev1 SASL-IR"
     " AUTH=PLAIN AUTH=XOAUTH2 AUTH=OAUTHBEARER ID MOVE NAMESPACE XYMHIGHESTMODSEQ UIDPLUS LITERA"
     "L+ CHILDREN X-MSG-EXT OBJECTID) text=\"IMAP4rev1 Hello\"\n"},
    /* yahoo/examine-inbox.txt lines 1-9, tolerant */
    {true,
     "* 1 EXISTS\r\n"
     "* 0 RECENT\r\n"
     "* OK [UIDVALIDITY 1595903349] UIDs valid\r\n"
     "* OK [UIDNEXT 3] Predicted next UID\r\n"
     "* FLAGS (\\Answered \\Deleted \\Draft \\Flagged \\Seen $Forwarded $Junk $NotJunk)\r\n"
     "* OK [PERMANENTFLAGS ()] No permanent flags permitted\r\n"
     "* OK [HIGHESTMODSEQ 7]\r\n"
     "* OK [MAILBOXID (27)] Ok\r\n"
     "A00000001 OK [READ-ONLY] EXAMINE completed; now in selected state\r\n",
     "UNTAGGED #1 EXISTS\n"
     "UNTAGGED #0 RECENT\n"
     "UNTAGGED OK [UIDVALIDITY|1595903349]=(#1595903349) text=\"UIDs valid\"\n"
     "UNTAGGED OK [UIDNEXT|3]=(#3) text=\"Predicted next UID\"\n"
     "UNTAGGED FLAGS data=(\\Answered \\Deleted \\Draft \\Flagged \\Seen $Forwarded $Junk $NotJun"
     "k)\n"
     "UNTAGGED OK [PERMANENTFLAGS|()]=(()) text=\"No permanent flags permitted\"\n"
     "UNTAGGED OK [HIGHESTMODSEQ|7]=(#7) text=\"\"\n"
     "UNTAGGED OK [MAILBOXID|(27)]=((#27)) text=\"Ok\"\n"
     "TAGGED tag=A00000001 OK [READ-ONLY|] text=\"EXAMINE completed; now in selected state\"\n"},
    /* yahoo/namespace.txt lines 1-2 */
    {false,
     "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n"
     "A00000001 OK Namespace completed.\r\n",
     "UNTAGGED NAMESPACE data=((\"\" \"/\")) NIL NIL\n"
     "TAGGED tag=A00000001 OK text=\"Namespace completed.\"\n"},
    /* yahoo/search.txt lines 1-2 */
    {false,
     "* SEARCH 1 2 3 4 5 6 7 8 9 10 11 12 13 14\r\n"
     "A00000001 OK SEARCH completed\r\n",
     "UNTAGGED SEARCH data=#1 #2 #3 #4 #5 #6 #7 #8 #9 #10 #11 #12 #13 #14\n"
     "TAGGED tag=A00000001 OK text=\"SEARCH completed\"\n"},
    /* yandex/select-inbox.txt lines 1-8, tolerant */
    {true,
     "* FLAGS (\\Answered \\Seen \\Draft \\Deleted $Forwarded)\r\n"
     "* 49 EXISTS\r\n"
     "* 1 RECENT\r\n"
     "* OK [UNSEEN 8]\r\n"
     "* OK [PERMANENTFLAGS (\\Answered \\Seen \\Draft \\Flagged \\Deleted $Forwarded \\*)] Limite"
     "d\r\n"
     "* OK [UIDNEXT 3065] Ok\r\n"
     "* OK [UIDVALIDITY 1679853140] Ok\r\n"
     "A00000001 OK [READ-WRITE] SELECT Completed.\r\n",
     "UNTAGGED FLAGS data=(\\Answered \\Seen \\Draft \\Deleted $Forwarded)\n"
     "UNTAGGED #49 EXISTS\n"
     "UNTAGGED #1 RECENT\n"
     "UNTAGGED OK [UNSEEN|8]=(#8) text=\"\"\n"
     "UNTAGGED OK [PERMANENTFLAGS|(\\x5cAnswered \\x5cSeen \\x5cDraft \\x5cFlagged \\x5cDeleted $"
     "Forwarded \\x5c*)]=((\\Answered \\Seen \\Draft \\Flagged \\Deleted $Forwarded \\*)) text=\""
     "Limited\"\n"
     "UNTAGGED OK [UIDNEXT|3065]=(#3065) text=\"Ok\"\n"
     "UNTAGGED OK [UIDVALIDITY|1679853140]=(#1679853140) text=\"Ok\"\n"
     "TAGGED tag=A00000001 OK [READ-WRITE|] text=\"SELECT Completed.\"\n"},
    /* yandex/xlist.txt lines 1-2 */
    {false,
     "* XLIST (\\HasChildren \\Unmarked \\Drafts \\Drafts) \"|\" Drafts\r\n"
     "* XLIST (\\HasNoChildren \\Unmarked \\Templates) \"|\" \"Drafts|template\"\r\n",
     "UNTAGGED XLIST data=(\\HasChildren \\Unmarked \\Drafts \\Drafts) \"|\" Drafts\n"
     "UNTAGGED XLIST data=(\\HasNoChildren \\Unmarked \\Templates) \"|\" \"Drafts|template\"\n"},
    /* yandex/getbodypart-missing-content.txt lines 1-9, tolerant */
    {true,
     "* 1 FETCH (UID 3016 BODY[2.MIME] {145}\r\n"
     "Content-Disposition: attachment;\r\n"
     "\tfilename=\"empty.pdf\"\r\n"
     "Content-Transfer-Encoding: base64\r\n"
     "Content-Type: application/pdf;\r\n"
     "\tname=\"empty.pdf\"\r\n"
     "\r\n"
     " BODY[2] )\r\n"
     "A00000001 OK FETCH Completed.\r\n",
     "UNTAGGED #1 FETCH data=(UID #3016 BODY[2.MIME] {145}\"Content-Disposition: attachment;\\x0d"
     "\\x0a\\x09filename=\\x22empty.pdf\\x22\\x0d\\x0aContent-Transfer-Encoding: base64\\x0d\\x0a"
     "Content-Type: application/pdf;\\x0d\\x0a\\x09name=\\x22empty.pdf\\x22\\x0d\\x0a\\x0d\\x0a\""
     " BODY[2])\n"
     "TAGGED tag=A00000001 OK text=\"FETCH Completed.\"\n"},
    /* domino/fetch-extra-parens.txt lines 1-2 */
    {false,
     "* 2 FETCH (UID 14935 (ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)) BODYSTRUCTURE (\""
     "TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 0 0 NIL))\r\n"
     "* 4 FETCH (UID 14937 (ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)) BODYSTRUCTURE (\""
     "TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 0 0 NIL))\r\n",
     "UNTAGGED #2 FETCH data=(UID #14935 (ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)) BOD"
     "YSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" #0 #0 NIL))\n"
     "UNTAGGED #4 FETCH data=(UID #14937 (ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)) BOD"
     "YSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" #0 #0 NIL))\n"},
    /* domino/list-inbox.txt lines 1-2 */
    {false,
     "* LIST (\\Noinferiors \\HasNoChildren) \"\\\\\" Inbox\r\n"
     "A00000001 OK LIST completed\r\n",
     "UNTAGGED LIST data=(\\Noinferiors \\HasNoChildren) \"\\x5c\" Inbox\n"
     "TAGGED tag=A00000001 OK text=\"LIST completed\"\n"},
    /* domino/greeting.txt lines 1-1 */
    {false,
     "* OK Domino IMAP4 Server Release 9.0.1FP9 ready Fri, 14 Dec 2018 08:38:25 +0100\r\n",
     "UNTAGGED OK text=\"Domino IMAP4 Server Release 9.0.1FP9 ready Fri, 14 Dec 2018 08:38:25 +01"
     "00\"\n"},
    /* uw/preauth-greeting.txt lines 1-1 */
    {false,
     "* PREAUTH [CAPABILITY IMAP4REV1 I18NLEVEL=1 LITERAL+ IDLE UIDPLUS NAMESPACE CHILDREN MAILBO"
     "X-REFERRALS BINARY UNSELECT ESEARCH WITHIN SCAN SORT THREAD=REFERENCES THREAD=ORDEREDSUBJEC"
     "T MULTIAPPEND] Pre-authenticated user fejj xyz.redmond.corp.microsoft.com IMAP4rev1 2007f.4"
     "04 at Wed, 27 Mar 2019 09:40:23 -0400 (EDT)\r\n",
     "UNTAGGED PREAUTH [CAPABILITY|IMAP4REV1 I18NLEVEL=1 LITERAL+ IDLE UIDPLUS NAMESPACE CHILDREN"
     " MAILBOX-REFERRALS BINARY UNSELECT ESEARCH WITHIN SCAN SORT THREAD=REFERENCES THREAD=ORDERE"
     "DSUBJECT MULTIAPPEND]=(IMAP4REV1 I18NLEVEL=1 LITERAL+ IDLE UIDPLUS NAMESPACE CHILDREN MAILB"
     "OX-REFERRALS BINARY UNSELECT ESEARCH WITHIN SCAN SORT THREAD=REFERENCES THREAD=ORDEREDSUBJE"
     "CT MULTIAPPEND) text=\"Pre-authenticated user fejj xyz.redmond.corp.microsoft.com IMAP4rev1"
     " 2007f.404 at Wed, 27 Mar 2019 09:40:23 -0400 (EDT)\"\n"},
    /* courier/greeting.txt lines 1-1 */
    {false,
     "* OK [CAPABILITY IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=REFERENC"
     "ES SORT QUOTA IDLE ACL ACL2=UNION STARTTLS] Courier-IMAP ready. Copyright 1998-2011 Double "
     "Precision, Inc.  See COPYING for distribution information.\r\n",
     "UNTAGGED OK [CAPABILITY|IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=R"
     "EFERENCES SORT QUOTA IDLE ACL ACL2=UNION STARTTLS]=(IMAP4rev1 UIDPLUS CHILDREN NAMESPACE TH"
     "READ=ORDEREDSUBJECT THREAD=REFERENCES SORT QUOTA IDLE ACL ACL2=UNION STARTTLS) text=\"Couri"
     "er-IMAP ready. Copyright 1998-2011 Double Precision, Inc.  See COPYING for distribution inf"
     "ormation.\"\n"},
    /* zoho/examine-gesendet.txt lines 1-8, tolerant */
    {true,
     "* 5348 EXISTS\r\n"
     "* 5333 RECENT\r\n"
     "* OK [UIDVALIDITY 2] UIDs valid \r\n"
     "* OK [UIDNEXT 6212] Predicted next UID \r\n"
     "* OK [HIGHESTMODSEQ 1706092971947030001]\r\n"
     "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
     "* OK [PERMANENTFLAGS ()] No permanent flags permitted\r\n"
     "A00000001 OK [READ-ONLY] EXAMINE completed\r\n",
     "UNTAGGED #5348 EXISTS\n"
     "UNTAGGED #5333 RECENT\n"
     "UNTAGGED OK [UIDVALIDITY|2]=(#2) text=\"UIDs valid \"\n"
     "UNTAGGED OK [UIDNEXT|6212]=(#6212) text=\"Predicted next UID \"\n"
     "UNTAGGED OK [HIGHESTMODSEQ|1706092971947030001]=(#1706092971947030001) text=\"\"\n"
     "UNTAGGED FLAGS data=(\\Answered \\Flagged \\Deleted \\Seen \\Draft)\n"
     "UNTAGGED OK [PERMANENTFLAGS|()]=(()) text=\"No permanent flags permitted\"\n"
     "TAGGED tag=A00000001 OK [READ-ONLY|] text=\"EXAMINE completed\"\n"},
    /* zoho/fetch-negative-modseq-values.txt lines 40-40 */
    {false,
     "* 40 FETCH (MODSEQ (-1) FLAGS (\\Recent \\Seen) UID 336)\r\n",
     "UNTAGGED #40 FETCH data=(MODSEQ (-1) FLAGS (\\Recent \\Seen) UID #336)\n"},
    /* zoho/xlist.txt lines 2-2 */
    {false,
     "* XLIST (\\Noinferiors \\Drafts) \"/\" \"Entw&APw-rfe\"\r\n",
     "UNTAGGED XLIST data=(\\Noinferiors \\Drafts) \"/\" \"Entw&APw-rfe\"\n"},
    /* icloud/greeting.txt lines 1-1 */
    {false,
     "* OK [CAPABILITY XAPPLEPUSHSERVICE IMAP4 IMAP4rev1 SASL-IR AUTH=ATOKEN AUTH=PLAIN AUTH=ATOK"
     "EN2 AUTH=XOAUTH2] (2428B47-26126cfe23cd) p00-iscream-f9f7bf749-qjr87\r\n",
     "UNTAGGED OK [CAPABILITY|XAPPLEPUSHSERVICE IMAP4 IMAP4rev1 SASL-IR AUTH=ATOKEN AUTH=PLAIN AU"
     "TH=ATOKEN2 AUTH=XOAUTH2]=(XAPPLEPUSHSERVICE IMAP4 IMAP4rev1 SASL-IR AUTH=ATOKEN AUTH=PLAIN "
     "AUTH=ATOKEN2 AUTH=XOAUTH2) text=\"(2428B47-26126cfe23cd) p00-iscream-f9f7bf749-qjr87\"\n"},
    /* common/list-nil-folder-delim.txt lines 1-4 */
    {false,
     "* LIST () \"/\" INBOX\r\n"
     "* LIST (\\HasNoChildren) NIL \"Folder1\"\r\n"
     "* LIST (\\HasNoChildren) \"\" \"Folder2\"\r\n"
     "A00000001 OK LIST Completed\r\n",
     "UNTAGGED LIST data=() \"/\" INBOX\n"
     "UNTAGGED LIST data=(\\HasNoChildren) NIL \"Folder1\"\n"
     "UNTAGGED LIST data=(\\HasNoChildren) \"\" \"Folder2\"\n"
     "TAGGED tag=A00000001 OK text=\"LIST Completed\"\n"},
    /* common/list-literal-subfolders.txt lines 1-4 */
    {false,
     "* LIST () \"/\" INBOX\r\n"
     "* LIST (\\HasNoChildren) \"/\" {19}\r\n"
     "Literal Folder Name\r\n"
     "A00000001 OK LIST Completed\r\n",
     "UNTAGGED LIST data=() \"/\" INBOX\n"
     "UNTAGGED LIST data=(\\HasNoChildren) \"/\" {19}\"Literal Folder Name\"\n"
     "TAGGED tag=A00000001 OK text=\"LIST Completed\"\n"},
    /* common/status-literal-folder.txt lines 1-3 */
    {false,
     "* STATUS {19}\r\n"
     "Literal Folder Name (MESSAGES 60)\r\n"
     "A00000001 OK STATUS Completed\r\n",
     "UNTAGGED STATUS data={19}\"Literal Folder Name\" (MESSAGES #60)\n"
     "TAGGED tag=A00000001 OK text=\"STATUS Completed\"\n"},
    /* metadata/getmetadata-options.txt lines 1-2 */
    {false,
     "* METADATA \"\" (/private/comment \"this is a private comment\")\r\n"
     "A00000001 OK [METADATA LONGENTRIES 2199] GETMETADATA complete\r\n",
     "UNTAGGED METADATA data=\"\" (/private/comment \"this is a private comment\")\n"
     "TAGGED tag=A00000001 OK [METADATA|LONGENTRIES 2199]=(LONGENTRIES #2199) text=\"GETMETADATA "
     "complete\"\n"},
    /* metadata/inbox-setmetadata-maxsize.txt lines 1-1 */
    {false,
     "A00000001 NO [METADATA MAXSIZE 10] SETMETADATA failed\r\n",
     "TAGGED tag=A00000001 NO [METADATA|MAXSIZE 10]=(MAXSIZE #10) text=\"SETMETADATA failed\"\n"},
    /* dovecot/noop+alert.txt lines 1-2 */
    {false,
     "* OK [ALERT] System shutdown in 10 minutes\r\n"
     "A00000001 OK NOOP complete.\r\n",
     "UNTAGGED OK [ALERT|] text=\"System shutdown in 10 minutes\"\n"
     "TAGGED tag=A00000001 OK text=\"NOOP complete.\"\n"},
    /* dovecot/fetch-partial-vanished.txt lines 1-3 */
    {false,
     "* VANISHED (EARLIER) 5\r\n"
     "* 6 FETCH (UID 6 FLAGS (\\Seen) MODSEQ (4))\r\n"
     "* 7 FETCH (UID 7 FLAGS (\\Seen) MODSEQ (4))\r\n",
     "UNTAGGED VANISHED data=(EARLIER) #5\n"
     "UNTAGGED #6 FETCH data=(UID #6 FLAGS (\\Seen) MODSEQ (#4))\n"
     "UNTAGGED #7 FETCH data=(UID #7 FLAGS (\\Seen) MODSEQ (#4))\n"},
    /* dovecot/getbodypart.txt lines 1-12 */
    {false,
     "* 1 FETCH (UID 1 BODY[] {253}\r\n"
     "From: Unit Tests <unit-tests@mimekit.net>\r\n"
     "Date: Sun, 02 Oct 2016 17:56:45 -0400\r\n"
     "Subject: A\r\n"
     "Message-Id: <a@mimekit.net>\r\n"
     "To: Unit Tests <unit-tests@mimekit.net>\r\n"
     "MIME-Version: 1.0\r\n"
     "Content-Type: text/plain; charset=utf-8\r\n"
     "\r\n"
     "This is the message body.\r\n"
     ")\r\n"
     "A00000001 OK Fetch completed (0.002 + 0.000 secs).\r\n",
     "UNTAGGED #1 FETCH data=(UID #1 BODY[] {253}\"From: Unit Tests <unit-tests@mimekit.net>\\x0d"
     "\\x0aDate: Sun, 02 Oct 2016 17:56:45 -0400\\x0d\\x0aSubject: A\\x0d\\x0aMessage-Id: <a@mime"
     "kit.net>\\x0d\\x0aTo: Unit Tests <unit-tests@mimekit.net>\\x0d\\x0aMIME-Version: 1.0\\x0d\\"
     "x0aContent-Type: text/plain; charset=utf-8\\x0d\\x0a\\x0d\\x0aThis is the message body.\\x0"
     "d\\x0a\")\n"
     "TAGGED tag=A00000001 OK text=\"Fetch completed (0.002 + 0.000 secs).\"\n"},
    /* exchange/issue115.txt lines 1-1: Office 365 sent a response code on a line of its own
       (strict: an error naming the tolerance, see test_malformed) */
    {true,
     "[COPYUID 55 31 6]\r\n",
     "UNTAGGED OK [COPYUID|55 31 6]=(#55 #31 #6) text=\"\"\n"},
};

static void test_corpus(void **state)
{
    (void)state;
    assert_true(sizeof corpus / sizeof corpus[0] >= 30);
    for (size_t i = 0; i < sizeof corpus / sizeof corpus[0]; i++) {
        mj_imap_limits lim;
        mj_imap_limits_init(&lim);
        if (corpus[i].tolerant)
            mj_imap_limits_tolerant(&lim);
        check_limits(&lim, corpus[i].in, strlen(corpus[i].in), corpus[i].expect);
    }
}

/* The cases that need a tolerance fail without it, with the reason named. */
static void test_corpus_strict(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof corpus / sizeof corpus[0]; i++) {
        if (!corpus[i].tolerant)
            continue;
        static struct run r;
        run_feed(NULL, NULL, corpus[i].in, strlen(corpus[i].in), FEED_WHOLE, 0, &r);
        assert_int_equal(r.last, MJ_PARSE_ERROR);
        assert_int_equal(r.err.reason, MJ_R_MALFORMED);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_kinds),
        cmocka_unit_test(test_token_fast_paths),
        cmocka_unit_test(test_node_values),
        cmocka_unit_test(test_status_and_codes),
        cmocka_unit_test(test_status_fields),
        cmocka_unit_test(test_consumed),
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_literal_streamed),
        cmocka_unit_test(test_literal_no_sink_skips),
        cmocka_unit_test(test_sink_failure),
        cmocka_unit_test(test_limit_nesting),
        cmocka_unit_test(test_limit_line),
        cmocka_unit_test(test_limit_literal),
        cmocka_unit_test(test_limit_tokens),
        cmocka_unit_test(test_limit_response_memory),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_error_latched),
        cmocka_unit_test(test_tolerances),
        cmocka_unit_test(test_corpus),
        cmocka_unit_test(test_corpus_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
