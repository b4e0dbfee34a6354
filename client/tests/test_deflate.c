/*
 * test_deflate.c: the DEFLATE layer (net/deflate.c, mj_deflate_wrap) and
 * IMAP COMPRESS (RFC 4978) over the in-memory transport, with zlib used
 * directly as the server's side: round trips in any chunking and with any
 * read size, each write decompressible on its own (the sync flush), a corrupt
 * stream, data after a final block, the decompression-bomb bound, STARTTLS
 * refused through the layer, EOF passed through; then the exact client bytes
 * and outcomes of COMPRESS: OK (with compressed bytes read together with the
 * OK, and byte by byte), not advertised, NO [COMPRESSIONACTIVE], BAD, a
 * second COMPRESS, a server that compresses its OK, the compress option
 * after login, and a plaintext protocol log.  valgrind (make valgrind)
 * checks close frees everything.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "mailjig/conn.h"
#include "mailjig/imap.h"
#include "mailjig/transport.h"

/* Room for compressed test data and decompressed results. */
#define BUF_MAX ((size_t)64 * 1024)

/* ---- the server's side: zlib, raw DEFLATE ----------------------------------------- */

typedef struct zpeer {
    z_stream tx, rx;
} zpeer;

static void zpeer_init(zpeer *p)
{
    memset(p, 0, sizeof *p);
    assert_int_equal(deflateInit2(&p->tx, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    assert_int_equal(inflateInit2(&p->rx, -15), Z_OK);
}

static void zpeer_end(zpeer *p)
{
    deflateEnd(&p->tx);
    inflateEnd(&p->rx);
}

/* Compress text with flush (Z_SYNC_FLUSH or Z_FINISH), append at out[*len]. */
static void zpeer_put(zpeer *p, const void *text, size_t n, int flush, unsigned char *out,
                      size_t *len)
{
    p->tx.next_in = (unsigned char *)(uintptr_t)text;
    p->tx.avail_in = (uInt)n;
    p->tx.next_out = out + *len;
    p->tx.avail_out = (uInt)(BUF_MAX * 4 - *len);
    int rc = deflate(&p->tx, flush);
    assert_true(rc == Z_OK || rc == Z_STREAM_END);
    assert_int_equal(p->tx.avail_in, 0);
    *len = BUF_MAX * 4 - p->tx.avail_out;
}

/* Inflate all of in (what the client wrote) into a NUL-terminated string. */
static char *zpeer_get(zpeer *p, const unsigned char *in, size_t n)
{
    char *out = calloc(1, BUF_MAX + 1);
    assert_non_null(out);
    p->rx.next_in = (unsigned char *)(uintptr_t)in;
    p->rx.avail_in = (uInt)n;
    p->rx.next_out = (unsigned char *)out;
    p->rx.avail_out = (uInt)BUF_MAX;
    int rc = inflate(&p->rx, Z_SYNC_FLUSH);
    assert_true(rc == Z_OK || rc == Z_BUF_ERROR);
    assert_int_equal(p->rx.avail_in, 0); /* all of it decompressed: nothing held back */
    return out;
}

/* ---- the layer alone ---------------------------------------------------------------- */

static mj_timeouts tmo;

static mj_transport *mem_with(const unsigned char *in, size_t n, const size_t *chunks,
                              size_t n_chunks)
{
    mj_mem_script s = {.input = in, .input_len = n, .chunks = chunks, .n_chunks = n_chunks};
    mj_transport *t = NULL;
    mj_error err;
    mj_timeouts_init(&tmo);
    assert_int_equal(mj_mem_transport_new(&s, &tmo, &t, &err), MJ_OK);
    return t;
}

static const char *const lines[] = {
    "* 1 FETCH (FLAGS (\\Seen) UID 4)\r\n", "* LIST (\\HasNoChildren) \"/\" INBOX\r\n",
    "A0003 OK done\r\n", "* 2 EXISTS\r\n"};

/* The server's text, compressed in several sync-flushed writes. */
static size_t server_stream(unsigned char *z, char *plain)
{
    zpeer p;
    zpeer_init(&p);
    size_t n = 0;
    plain[0] = '\0';
    for (unsigned r = 0; r < 40; r++) {
        const char *l = lines[r % 4];
        zpeer_put(&p, l, strlen(l), Z_SYNC_FLUSH, z, &n);
        strcat(plain, l);
    }
    zpeer_end(&p);
    return n;
}

static void test_read_any_chunking(void **state)
{
    (void)state;
    unsigned char *z = malloc(BUF_MAX * 4);
    char *plain = malloc(BUF_MAX);
    assert_true(z && plain);
    size_t zn = server_stream(z, plain);
    static const size_t chunkings[] = {1, 2, 3, 7, 100, 0};
    static const size_t caps[] = {1, 3, 17, 4096};
    for (size_t c = 0; c < sizeof chunkings / sizeof chunkings[0]; c++) {
        for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
            /* the first 5 compressed bytes as "already read" before the layer */
            size_t early = zn > 5 ? 5 : 0;
            mj_transport *t = mem_with(z + early, zn - early, &chunkings[c], 1);
            mj_transport *d = NULL;
            mj_error err;
            assert_int_equal(mj_deflate_wrap(t, z, early, 0, &d, &err), MJ_OK);
            assert_true(mj_transport_is_deflate(d));
            assert_false(mj_transport_is_deflate(t));
            char got[BUF_MAX];
            size_t have = 0;
            for (;;) {
                size_t n = 0;
                mj_outcome o = mj_transport_read(d, got + have, caps[k], &n, &err);
                if (o != MJ_OK) {
                    /* the end of the script below is passed up as it is */
                    assert_int_equal(o, MJ_CONNECTION_LOST);
                    assert_int_equal(err.reason, MJ_R_EOF);
                    break;
                }
                assert_true(n > 0 && n <= caps[k]);
                have += n;
            }
            assert_int_equal(have, strlen(plain));
            assert_memory_equal(got, plain, have);
            mj_transport_close(d);
        }
    }
    free(z);
    free(plain);
}

static void test_write_sync_flushed(void **state)
{
    (void)state;
    mj_transport *t = mem_with(NULL, 0, NULL, 0);
    mj_transport *d = NULL;
    mj_error err;
    assert_int_equal(mj_deflate_wrap(t, NULL, 0, 0, &d, &err), MJ_OK);
    zpeer p;
    zpeer_init(&p);
    const char *cmds[] = {"A0003 NOOP\r\n", "A0004 LIST \"\" *\r\n", "A0005 LOGOUT\r\n"};
    size_t seen = 0;
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(mj_transport_write(d, cmds[i], strlen(cmds[i]), &err), MJ_OK);
        size_t n = 0;
        const unsigned char *w = mj_mem_transport_written(t, &n);
        assert_true(n > seen);
        /* only the bytes of this write, and they give back the whole command */
        char *back = zpeer_get(&p, w + seen, n - seen);
        assert_string_equal(back, cmds[i]);
        assert_int_equal(memcmp(w + n - 4, "\x00\x00\xff\xff", 4), 0); /* sync flush marker */
        free(back);
        seen = n;
    }
    /* a write larger than the output buffer still leaves whole */
    char *big = malloc(200000);
    assert_non_null(big);
    for (size_t i = 0; i < 200000; i++)
        big[i] = (char)('a' + (i * 7919u) % 26);
    assert_int_equal(mj_transport_write(d, big, 200000, &err), MJ_OK);
    size_t n = 0;
    const unsigned char *w = mj_mem_transport_written(t, &n);
    p.rx.next_in = (unsigned char *)(uintptr_t)(w + seen);
    p.rx.avail_in = (uInt)(n - seen);
    char *back = malloc(200000);
    p.rx.next_out = (unsigned char *)back;
    p.rx.avail_out = 200000;
    assert_int_equal(inflate(&p.rx, Z_SYNC_FLUSH), Z_OK);
    assert_int_equal(p.rx.avail_out, 0);
    assert_memory_equal(back, big, 200000);
    free(back);
    free(big);
    zpeer_end(&p);
    mj_transport_close(d);
}

static void test_corrupt_and_after_end(void **state)
{
    (void)state;
    mj_error err;
    char buf[256];
    size_t n = 0;
    /* BTYPE 11 (reserved) in the first block header */
    static const unsigned char bad[] = {0x07, 0x41, 0x42, 0x43};
    mj_transport *d = NULL;
    assert_int_equal(mj_deflate_wrap(mem_with(bad, sizeof bad, NULL, 0), NULL, 0, 0, &d, &err),
                     MJ_OK);
    assert_int_equal(mj_transport_read(d, buf, sizeof buf, &n, &err), MJ_PROTOCOL_ERROR);
    assert_int_equal(err.reason, MJ_R_COMPRESS_CORRUPT);
    assert_non_null(strstr(err.message, "invalid block type"));
    assert_int_equal(n, 0);
    /* the failure sticks: the stream cannot resync */
    mj_error_clear(&err);
    assert_int_equal(mj_transport_read(d, buf, sizeof buf, &n, &err), MJ_PROTOCOL_ERROR);
    assert_int_equal(err.reason, MJ_R_COMPRESS_CORRUPT);
    mj_transport_close(d);

    /* a final block, then more bytes: what comes first is delivered, then an error */
    unsigned char *z = malloc(BUF_MAX * 4);
    size_t zn = 0;
    zpeer p;
    zpeer_init(&p);
    zpeer_put(&p, "* BYE\r\n", 7, Z_FINISH, z, &zn);
    memcpy(z + zn, "* OK plaintext\r\n", 16);
    zn += 16;
    zpeer_end(&p);
    static const size_t split[] = {0}; /* all at once */
    assert_int_equal(mj_deflate_wrap(mem_with(z, zn, split, 1), NULL, 0, 0, &d, &err), MJ_OK);
    mj_outcome o = mj_transport_read(d, buf, sizeof buf, &n, &err);
    if (o == MJ_OK) { /* the data of the final block, then the error */
        assert_int_equal(n, 7);
        o = mj_transport_read(d, buf, sizeof buf, &n, &err);
    }
    assert_int_equal(o, MJ_PROTOCOL_ERROR);
    assert_int_equal(err.reason, MJ_R_COMPRESS_CORRUPT);
    assert_non_null(strstr(err.message, "after the end of its compressed stream"));
    mj_transport_close(d);
    free(z);
}

/* 8 MiB of one byte compress about 1000:1: past the default bound, within a larger one. */
static void test_bomb_bound(void **state)
{
    (void)state;
    const size_t total = (size_t)8 * 1024 * 1024;
    unsigned char *zeros = calloc(1, total);
    unsigned char *z = malloc(BUF_MAX * 4);
    assert_true(zeros && z);
    size_t zn = 0;
    zpeer p;
    zpeer_init(&p);
    zpeer_put(&p, zeros, total, Z_SYNC_FLUSH, z, &zn);
    zpeer_end(&p);
    assert_true(zn < total / MJ_DEFLATE_RATIO_DEFAULT);
    const size_t ratios[] = {0, 2000};
    for (size_t r = 0; r < 2; r++) {
        mj_transport *d = NULL;
        mj_error err;
        assert_int_equal(mj_deflate_wrap(mem_with(z, zn, NULL, 0), NULL, 0, ratios[r], &d, &err),
                         MJ_OK);
        unsigned char buf[16384];
        uint64_t got = 0;
        mj_outcome o = MJ_OK;
        while (got < total) {
            size_t n = 0;
            o = mj_transport_read(d, buf, sizeof buf, &n, &err);
            if (o != MJ_OK)
                break;
            got += n;
        }
        if (ratios[r] == 0) {
            assert_int_equal(o, MJ_PROTOCOL_ERROR);
            assert_int_equal(err.reason, MJ_R_COMPRESS_RATIO);
            assert_true(got > MJ_DEFLATE_RATIO_SLACK && got < total);
        } else {
            assert_int_equal(o, MJ_OK);
            assert_int_equal(got, total);
        }
        mj_transport_close(d);
    }
    free(zeros);
    free(z);
}

static void test_layer_refusals(void **state)
{
    (void)state;
    mj_error err;
    mj_transport *t = mem_with(NULL, 0, NULL, 0);
    mj_transport *d = NULL;
    unsigned char big[MJ_DEFLATE_IN_MAX + 1];
    memset(big, 0, sizeof big);
    /* more early bytes than the layer holds: refused, and t is still ours */
    assert_int_equal(mj_deflate_wrap(t, big, sizeof big, 0, &d, &err), MJ_INTERNAL);
    assert_null(d);
    assert_int_equal(mj_deflate_wrap(t, NULL, 0, 0, &d, &err), MJ_OK);
    mj_tls_config cfg;
    memset(&cfg, 0, sizeof cfg);
    assert_int_equal(mj_transport_starttls(d, &cfg, "h", &err), MJ_USAGE);
    assert_non_null(strstr(err.message, "STARTTLS after COMPRESS"));
    mj_tls_info info;
    mj_transport_tls_info(d, &info);
    assert_int_equal(info.state, MJ_TLS_NONE); /* the inner transport's */
    mj_channel_binding type;
    unsigned char cb[MJ_CB_DATA_MAX];
    size_t cb_len = 0;
    assert_int_equal(mj_transport_channel_binding(d, &type, cb, &cb_len, &err), MJ_USAGE);
    assert_int_equal(mj_transport_pending(d), 0);
    mj_transport_close(d);
    mj_transport_close(NULL);
}

/* ---- IMAP COMPRESS over the memory transport -------------------------------------------- */

typedef struct fixture {
    mj_transport *t;
    mj_imap *s;
    mj_outcome start;
    char *logbuf;
    size_t loglen;
    FILE *logfp;
    mj_log *log;
} fixture;

static void start(fixture *f, const unsigned char *server, size_t n, const size_t *chunks,
                  size_t n_chunks, const mj_imap_options *opts)
{
    memset(f, 0, sizeof *f);
    mj_error err;
    mj_mem_script script = {.input = server, .input_len = n, .chunks = chunks,
                            .n_chunks = n_chunks};
    f->logfp = open_memstream(&f->logbuf, &f->loglen);
    f->log = mj_log_new(f->logfp);
    mj_conn_config cfg;
    mj_conn_config_init(&cfg, MJ_PROTO_IMAP);
    cfg.log = f->log;
    mj_conn *c = NULL;
    assert_int_equal(mj_mem_transport_new(&script, &cfg.timeouts, &f->t, &err), MJ_OK);
    assert_int_equal(mj_conn_wrap(f->t, &cfg, &c, &err), MJ_OK);
    f->start = mj_imap_start(c, MJ_SEC_NONE, opts, &f->s, &err);
    assert_int_equal(f->start, MJ_OK);
}

static const char *logtext(fixture *f)
{
    fflush(f->logfp);
    return f->logbuf != NULL ? f->logbuf : "";
}

static void finish(fixture *f)
{
    mj_imap_close(f->s);
    mj_log_free(f->log);
    fclose(f->logfp);
    free(f->logbuf);
}

static const mj_sasl_creds alice = {.username = "alice", .password = "pw"};
static const mj_imap_options insecure = {.policy = {.allow_insecure_auth = 1}};

#define PRE_LOGIN "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n"
#define LOGIN_OK(caps) "A0001 OK [CAPABILITY IMAP4rev1 " caps "] in\r\n"

/* Plaintext head, then the server's compressed tail; *split_out: where it starts. */
static size_t script(unsigned char *out, const char *head, const char *const *tail, size_t n_tail,
                     size_t *split_out)
{
    size_t n = strlen(head);
    memcpy(out, head, n);
    *split_out = n;
    zpeer p;
    zpeer_init(&p);
    for (size_t i = 0; i < n_tail; i++)
        zpeer_put(&p, tail[i], strlen(tail[i]), Z_SYNC_FLUSH, out, &n);
    zpeer_end(&p);
    return n;
}

/* COMPRESS then NOOP: the client's bytes after COMPRESS are DEFLATE, its log plaintext. */
static void compress_then_noop(const size_t *chunks, size_t n_chunks)
{
    unsigned char *server = malloc(BUF_MAX * 4);
    const char *tail[] = {"* 5 EXISTS\r\n", "A0003 OK noop done\r\n"};
    size_t split = 0;
    size_t n = script(server, PRE_LOGIN LOGIN_OK("COMPRESS=DEFLATE") "A0002 OK DEFLATE active\r\n",
                      tail, 2, &split);
    fixture f;
    start(&f, server, n, chunks, n_chunks, &insecure);
    assert_int_equal(mj_imap_login(f.s, &alice, MJ_SASL_NONE), MJ_OK);
    assert_true(mj_imap_capabilities(f.s)->bits & MJ_IMAP_CAP_COMPRESS_DEFLATE);
    assert_false(mj_conn_compressed(mj_imap_conn(f.s)));
    assert_int_equal(mj_imap_compress(f.s), MJ_OK);
    assert_true(mj_conn_compressed(mj_imap_conn(f.s)));
    assert_int_equal(mj_imap_noop(f.s), MJ_OK);
    assert_int_equal(mj_imap_selected(f.s), NULL);
    size_t wn = 0;
    const unsigned char *w = mj_mem_transport_written(f.t, &wn);
    const char *plain = "A0001 LOGIN alice pw\r\nA0002 COMPRESS DEFLATE\r\n";
    assert_true(wn > strlen(plain));
    assert_memory_equal(w, plain, strlen(plain));
    zpeer p;
    zpeer_init(&p);
    char *noop = zpeer_get(&p, w + strlen(plain), wn - strlen(plain));
    assert_string_equal(noop, "A0003 NOOP\r\n");
    free(noop);
    zpeer_end(&p);
    /* the log: plaintext both ways after COMPRESS; compressed bytes read in
       the same read as the OK were logged as received (escaped), before their
       plaintext (conn.h, mj_conn_compress) */
    const char *log = logtext(&f);
    assert_non_null(strstr(log, "C: A0003 NOOP\r\n"));
    if (chunks == NULL) { /* the raw bytes left the server's log line open */
        assert_non_null(strstr(log, "\\x00\\x00\\xff\\xff"));
        assert_non_null(strstr(log, "\n* 5 EXISTS\r\nS: A0003 OK noop done\r\n"));
    } else
        assert_non_null(strstr(log, "S: * 5 EXISTS\r\n"));
    assert_non_null(strstr(log, "S: A0003 OK noop done\r\n"));
    /* a second COMPRESS: nothing sent */
    assert_int_equal(mj_imap_compress(f.s), MJ_USAGE);
    w = mj_mem_transport_written(f.t, &n);
    assert_int_equal(n, wn);
    finish(&f);
    free(server);
}

static void test_compress_ok_all_at_once(void **state)
{
    (void)state;
    compress_then_noop(NULL, 0); /* the OK and the compressed bytes in one read */
}

static void test_compress_ok_every_boundary(void **state)
{
    (void)state;
    static const size_t one[] = {1};
    static const size_t odd[] = {3, 1, 7, 2};
    compress_then_noop(one, 1);
    compress_then_noop(odd, 4);
}

static void test_compress_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *server;
        mj_outcome o;
        const char *wire; /* all of it plaintext */
        const char *msg;
    } rows[] = {
        {PRE_LOGIN LOGIN_OK("IDLE") "A0002 OK noop\r\n", MJ_USAGE,
         "A0001 LOGIN alice pw\r\n", "needs the COMPRESS=DEFLATE capability, which the server does not advertise"},
        {PRE_LOGIN LOGIN_OK("COMPRESS=DEFLATE")
         "A0002 NO [COMPRESSIONACTIVE] TLS compresses\r\nA0003 OK noop\r\n",
         MJ_SERVER_REFUSED, "A0001 LOGIN alice pw\r\nA0002 COMPRESS DEFLATE\r\n",
         "NO [COMPRESSIONACTIVE] TLS compresses"},
        {PRE_LOGIN LOGIN_OK("COMPRESS=DEFLATE") "A0002 BAD what\r\nA0003 OK noop\r\n",
         MJ_SERVER_REFUSED, "A0001 LOGIN alice pw\r\nA0002 COMPRESS DEFLATE\r\n", "BAD what"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        fixture f;
        start(&f, (const unsigned char *)rows[i].server, strlen(rows[i].server), NULL, 0,
              &insecure);
        assert_int_equal(mj_imap_login(f.s, &alice, MJ_SASL_NONE), MJ_OK);
        assert_int_equal(mj_imap_compress(f.s), rows[i].o);
        assert_non_null(strstr(mj_imap_error(f.s)->message, rows[i].msg));
        assert_false(mj_conn_compressed(mj_imap_conn(f.s)));
        size_t n = 0;
        const unsigned char *w = mj_mem_transport_written(f.t, &n);
        assert_int_equal(n, strlen(rows[i].wire));
        assert_memory_equal(w, rows[i].wire, n);
        /* the session goes on, uncompressed */
        assert_int_equal(mj_imap_noop(f.s), MJ_OK);
        w = mj_mem_transport_written(f.t, &n);
        assert_true(n > 6 && memcmp(w + n - 6, "NOOP\r\n", 6) == 0);
        finish(&f);
    }
}

static void test_compress_state_and_option(void **state)
{
    (void)state;
    /* not authenticated: a usage error, nothing sent */
    fixture f;
    start(&f, (const unsigned char *)PRE_LOGIN, strlen(PRE_LOGIN), NULL, 0, &insecure);
    assert_int_equal(mj_imap_compress(f.s), MJ_USAGE);
    size_t n = 0;
    (void)mj_mem_transport_written(f.t, &n);
    assert_int_equal(n, 0);
    finish(&f);

    /* the option: COMPRESS right after login when offered, quietly skipped when not */
    mj_imap_options on = insecure;
    on.compress = true;
    const char *tail[] = {"A0003 OK noop\r\n"};
    unsigned char *server = malloc(BUF_MAX * 4);
    size_t split = 0;
    size_t sn = script(server, PRE_LOGIN LOGIN_OK("COMPRESS=DEFLATE") "A0002 OK go\r\n", tail, 1,
                       &split);
    start(&f, server, sn, NULL, 0, &on);
    assert_int_equal(mj_imap_login(f.s, &alice, MJ_SASL_NONE), MJ_OK);
    assert_true(mj_conn_compressed(mj_imap_conn(f.s)));
    assert_int_equal(mj_imap_noop(f.s), MJ_OK);
    finish(&f);
    const char *no = PRE_LOGIN LOGIN_OK("IDLE") "A0002 OK noop\r\n";
    start(&f, (const unsigned char *)no, strlen(no), NULL, 0, &on);
    assert_int_equal(mj_imap_login(f.s, &alice, MJ_SASL_NONE), MJ_OK);
    assert_false(mj_conn_compressed(mj_imap_conn(f.s)));
    assert_int_equal(mj_imap_error(f.s)->outcome, MJ_OK);
    assert_int_equal(mj_imap_noop(f.s), MJ_OK);
    finish(&f);
    free(server);
}

/* The OK itself compressed: a protocol-error at once (a NUL), not a wait for an LF
   (the memory script then ends in a timeout, which a waiting client would report). */
static void test_compressed_before_ok(void **state)
{
    (void)state;
    const char *tail[] = {"A0002 OK DEFLATE active\r\n"};
    unsigned char *server = malloc(BUF_MAX * 4);
    size_t split = 0;
    size_t n = script(server, PRE_LOGIN LOGIN_OK("COMPRESS=DEFLATE"), tail, 1, &split);
    fixture f;
    /* the script ends with a timeout: a client that waited for an LF would report it */
    mj_error err;
    mj_mem_script s = {.input = server, .input_len = n, .end = MJ_MEM_END_TIMEOUT};
    memset(&f, 0, sizeof f);
    f.logfp = open_memstream(&f.logbuf, &f.loglen);
    f.log = mj_log_new(f.logfp);
    mj_conn_config cfg;
    mj_conn_config_init(&cfg, MJ_PROTO_IMAP);
    cfg.log = f.log;
    mj_conn *c = NULL;
    assert_int_equal(mj_mem_transport_new(&s, &cfg.timeouts, &f.t, &err), MJ_OK);
    assert_int_equal(mj_conn_wrap(f.t, &cfg, &c, &err), MJ_OK);
    assert_int_equal(mj_imap_start(c, MJ_SEC_NONE, &insecure, &f.s, &err), MJ_OK);
    assert_int_equal(mj_imap_login(f.s, &alice, MJ_SASL_NONE), MJ_OK);
    assert_int_equal(mj_imap_compress(f.s), MJ_PROTOCOL_ERROR);
    assert_int_equal(mj_imap_error(f.s)->reason, MJ_R_MALFORMED);
    assert_string_equal(mj_imap_error(f.s)->message,
                        "binary data (a NUL byte) while waiting for the plaintext reply to "
                        "COMPRESS: did the server compress before its OK?");
    assert_int_equal(mj_imap_get_state(f.s), MJ_IMAP_STATE_FAILED);
    assert_false(mj_conn_compressed(mj_imap_conn(f.s)));
    finish(&f);
    free(server);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_any_chunking),
        cmocka_unit_test(test_write_sync_flushed),
        cmocka_unit_test(test_corrupt_and_after_end),
        cmocka_unit_test(test_bomb_bound),
        cmocka_unit_test(test_layer_refusals),
        cmocka_unit_test(test_compress_ok_all_at_once),
        cmocka_unit_test(test_compress_ok_every_boundary),
        cmocka_unit_test(test_compress_refusals),
        cmocka_unit_test(test_compress_state_and_option),
        cmocka_unit_test(test_compressed_before_ok),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
