/*
 * test_zlayer.c: mjfake's DEFLATE layer (core/zlayer.c) against zlib used
 * directly as the peer: what it compresses inflates to the same bytes after
 * every write (sync flush), what a peer compresses comes out whole whatever
 * the chunking, the corrupt and truncate faults do what FORMAT.md says, and
 * a corrupt client stream is an error.  Run under ASan and valgrind by
 * make's targets (fk_z_free leaves nothing behind).
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

#include "core/zlayer.h"

#define PEER_BUF (1u << 20)

/* The peer: raw DEFLATE both ways, as a client would run it. */
typedef struct peer {
    z_stream tx, rx;
} peer;

static void peer_init(peer *p)
{
    memset(p, 0, sizeof *p);
    assert_int_equal(deflateInit2(&p->tx, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    assert_int_equal(inflateInit2(&p->rx, -15), Z_OK);
}

static void peer_end(peer *p)
{
    deflateEnd(&p->tx);
    inflateEnd(&p->rx);
}

/* Compress with a sync flush into out; returns the length. */
static size_t peer_deflate(peer *p, const void *in, size_t len, unsigned char *out, size_t cap)
{
    p->tx.next_in = (unsigned char *)(uintptr_t)in;
    p->tx.avail_in = (uInt)len;
    p->tx.next_out = out;
    p->tx.avail_out = (uInt)cap;
    assert_int_equal(deflate(&p->tx, Z_SYNC_FLUSH), Z_OK);
    assert_int_equal(p->tx.avail_in, 0);
    return cap - p->tx.avail_out;
}

/* Inflate what the layer wrote; returns the zlib code. */
static int peer_inflate(peer *p, const unsigned char *in, size_t len, unsigned char *out,
                        size_t cap, size_t *n_out)
{
    p->rx.next_in = (unsigned char *)(uintptr_t)in;
    p->rx.avail_in = (uInt)len;
    p->rx.next_out = out;
    p->rx.avail_out = (uInt)cap;
    int rc = inflate(&p->rx, Z_SYNC_FLUSH);
    *n_out = cap - p->rx.avail_out;
    return rc;
}

/* The layer compresses text; all of it goes out and inflates back. */
static void send_and_check(fk_z *z, peer *p, const char *text)
{
    assert_int_equal(fk_z_deflate(z, (const unsigned char *)text, strlen(text)), 0);
    size_t n = 0;
    const unsigned char *q = fk_z_out(z, &n);
    assert_true(n > 0);
    unsigned char out[4096];
    size_t got = 0;
    assert_int_equal(peer_inflate(p, q, n, out, sizeof out, &got), Z_OK);
    fk_z_out_done(z, n);
    assert_int_equal(got, strlen(text));
    assert_memory_equal(out, text, got);
    q = fk_z_out(z, &n);
    assert_int_equal(n, 0);
}

static void test_server_to_client_each_write_whole(void **state)
{
    (void)state;
    fk_z *z = fk_z_new();
    assert_non_null(z);
    peer p;
    peer_init(&p);
    /* each write decompresses completely on its own: the sync flush */
    send_and_check(z, &p, "A0002 OK DEFLATE active\r\n");
    send_and_check(z, &p, "* 3 EXISTS\r\n");
    send_and_check(z, &p, "* LIST (\\HasNoChildren) \"/\" INBOX\r\nA0003 OK done\r\n");
    assert_false(fk_z_cut(z));
    /* a write while compressed bytes wait is refused, not merged */
    assert_int_equal(fk_z_deflate(z, (const unsigned char *)"x", 1), 0);
    assert_int_equal(fk_z_deflate(z, (const unsigned char *)"y", 1), -1);
    peer_end(&p);
    fk_z_free(z);
}

static void test_client_to_server_any_chunking(void **state)
{
    (void)state;
    static const size_t chunk_sizes[] = {1, 2, 3, 7, 64, FK_Z_IN_MAX};
    const char *cmds[] = {"A0003 LIST \"\" *\r\n", "A0004 NOOP\r\n", "A0005 LOGOUT\r\n"};
    for (size_t c = 0; c < sizeof chunk_sizes / sizeof chunk_sizes[0]; c++) {
        fk_z *z = fk_z_new();
        peer p;
        peer_init(&p);
        unsigned char wire[1024];
        size_t wlen = 0;
        char want[256] = "";
        for (size_t i = 0; i < 3; i++) {
            wlen += peer_deflate(&p, cmds[i], strlen(cmds[i]), wire + wlen, sizeof wire - wlen);
            strcat(want, cmds[i]);
        }
        char got[256];
        size_t have = 0, fed = 0;
        while (fed < wlen || fk_z_in_pending(z)) {
            size_t room = 0;
            unsigned char *dst = fk_z_in_room(z, &room);
            size_t k = chunk_sizes[c] < wlen - fed ? chunk_sizes[c] : wlen - fed;
            if (k > room)
                k = room;
            memcpy(dst, wire + fed, k);
            fk_z_in_added(z, k);
            fed += k;
            const char *why = NULL;
            long n;
            /* a small output buffer: pending output must be drained too */
            while ((n = fk_z_inflate(z, (unsigned char *)got + have, 5, &why)) > 0)
                have += (size_t)n;
            assert_int_equal(n, 0);
            assert_null(why);
        }
        assert_int_equal(have, strlen(want));
        assert_memory_equal(got, want, have);
        peer_end(&p);
        fk_z_free(z);
    }
}

static void test_fault_corrupt(void **state)
{
    (void)state;
    fk_z *z = fk_z_new();
    peer p;
    peer_init(&p);
    send_and_check(z, &p, "A0002 OK DEFLATE active\r\n");
    fk_z_arm(z, FK_Z_FAULT_CORRUPT);
    assert_int_equal(fk_z_deflate(z, (const unsigned char *)"* LIST () \"/\" INBOX\r\n", 21), 0);
    size_t n = 0, got = 0;
    const unsigned char *q = fk_z_out(z, &n);
    assert_int_equal(q[0] & 0x06, 0x06); /* BTYPE 11 */
    unsigned char out[256];
    assert_int_equal(peer_inflate(&p, q, n, out, sizeof out, &got), Z_DATA_ERROR);
    assert_string_equal(p.rx.msg, "invalid block type");
    fk_z_out_done(z, n);
    /* the fault is for one write: the next one is not touched (the stream is still broken) */
    assert_int_equal(fk_z_deflate(z, (const unsigned char *)"x\r\n", 3), 0);
    q = fk_z_out(z, &n);
    assert_true(n > 0);
    peer_end(&p);
    fk_z_free(z);
}

static void test_fault_truncate(void **state)
{
    (void)state;
    fk_z *z = fk_z_new();
    peer p;
    peer_init(&p);
    const char *text = "* LIST (\\HasNoChildren) \"/\" INBOX\r\n* LIST () \"/\" Sent\r\nA1 OK\r\n";
    fk_z *whole = fk_z_new();
    assert_int_equal(fk_z_deflate(whole, (const unsigned char *)text, strlen(text)), 0);
    size_t full = 0;
    (void)fk_z_out(whole, &full);
    fk_z_arm(z, FK_Z_FAULT_TRUNCATE);
    assert_int_equal(fk_z_deflate(z, (const unsigned char *)text, strlen(text)), 0);
    size_t n = 0, got = 0;
    const unsigned char *q = fk_z_out(z, &n);
    assert_int_equal(n, full / 2);
    assert_true(fk_z_cut(z));
    unsigned char out[256];
    int rc = peer_inflate(&p, q, n, out, sizeof out, &got);
    assert_true(rc == Z_OK || rc == Z_BUF_ERROR);
    assert_true(got < strlen(text)); /* the peer cannot have it all */
    fk_z_out_done(z, n);
    /* nothing more ever leaves */
    assert_int_equal(fk_z_deflate(z, (const unsigned char *)"more\r\n", 6), 0);
    (void)fk_z_out(z, &n);
    assert_int_equal(n, 0);
    peer_end(&p);
    fk_z_free(z);
    fk_z_free(whole);
}

static void test_corrupt_client_stream(void **state)
{
    (void)state;
    fk_z *z = fk_z_new();
    size_t room = 0;
    unsigned char *dst = fk_z_in_room(z, &room);
    assert_true(room >= 16);
    /* plaintext where DEFLATE was due: 'A' = 0x41 is a final stored block
       whose LEN/NLEN check fails */
    memcpy(dst, "A0003 NOOP\r\n", 12);
    fk_z_in_added(z, 12);
    unsigned char out[64];
    const char *why = NULL;
    assert_int_equal(fk_z_inflate(z, out, sizeof out, &why), -1);
    assert_non_null(why);
    fk_z_free(z);
    fk_z_free(NULL);
}

static void test_too_large_write_refused(void **state)
{
    (void)state;
    fk_z *z = fk_z_new();
    unsigned char *big = calloc(1, FK_Z_DEFLATE_MAX + 1);
    assert_non_null(big);
    assert_int_equal(fk_z_deflate(z, big, FK_Z_DEFLATE_MAX + 1), -1);
    /* the largest write, incompressible, fits FK_Z_OUT_MAX */
    for (size_t i = 0; i < FK_Z_DEFLATE_MAX; i++)
        big[i] = (unsigned char)((i * 2654435761u) >> 13);
    assert_int_equal(fk_z_deflate(z, big, FK_Z_DEFLATE_MAX), 0);
    size_t n = 0;
    (void)fk_z_out(z, &n);
    assert_true(n > 0 && n <= FK_Z_OUT_MAX);
    free(big);
    fk_z_free(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_to_client_each_write_whole),
        cmocka_unit_test(test_client_to_server_any_chunking),
        cmocka_unit_test(test_fault_corrupt),
        cmocka_unit_test(test_fault_truncate),
        cmocka_unit_test(test_corrupt_client_stream),
        cmocka_unit_test(test_too_large_write_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
