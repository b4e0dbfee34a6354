/*
 * zlayer.c: raw DEFLATE for mjfake's COMPRESS=DEFLATE (zlayer.h), RFC 4978
 * section 3 over RFC 1951: no zlib header (windowBits -15), one stream per
 * direction, every write sync-flushed (Z_SYNC_FLUSH: the block ends and an
 * empty stored block aligns the stream to a byte, so the client can
 * decompress all of it at once).
 *
 * The faults work on the compressed bytes of one write:
 *   corrupt   after a sync flush every write starts a new block on a byte
 *             boundary, so setting bits 1-2 of its first byte makes BTYPE 11,
 *             which RFC 1951 section 3.2.3 reserves ("error"): every inflater
 *             rejects it at once, whatever the data;
 *   truncate  half of the write's compressed bytes leave and none after: the
 *             client's inflater waits for the rest of a block.
 */
#include "core/zlayer.h"

#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#define FK_Z_WINDOW_BITS (-15) /* raw DEFLATE, 32 KiB window */
#define FK_Z_MEM_LEVEL 8       /* zlib's default */
#define FK_Z_BTYPE_RESERVED 0x06 /* bits 1-2 of a block header: BTYPE 11 */

struct fk_z {
    z_stream rx, tx;
    bool rx_init, tx_init;
    bool rx_more;   /* the last inflate filled its buffer */
    bool cut;       /* a truncate fault happened */
    fk_z_fault fault;
    unsigned char in[FK_Z_IN_MAX];
    size_t in_off, in_len;   /* compressed input not yet inflated: in[in_off, in_len) */
    unsigned char out[FK_Z_OUT_MAX];
    size_t out_off, out_len; /* compressed output not yet written */
};

fk_z *fk_z_new(void)
{
    fk_z *z = calloc(1, sizeof *z);
    if (z == NULL)
        return NULL;
    z->rx_init = inflateInit2(&z->rx, FK_Z_WINDOW_BITS) == Z_OK;
    z->tx_init = deflateInit2(&z->tx, Z_DEFAULT_COMPRESSION, Z_DEFLATED, FK_Z_WINDOW_BITS,
                              FK_Z_MEM_LEVEL, Z_DEFAULT_STRATEGY) == Z_OK;
    if (!z->rx_init || !z->tx_init) {
        fk_z_free(z);
        return NULL;
    }
    return z;
}

void fk_z_free(fk_z *z)
{
    if (z == NULL)
        return;
    if (z->rx_init)
        inflateEnd(&z->rx);
    if (z->tx_init)
        deflateEnd(&z->tx);
    free(z);
}

unsigned char *fk_z_in_room(fk_z *z, size_t *room_out)
{
    if (z->in_off == z->in_len)
        z->in_off = z->in_len = 0;
    else if (z->in_off > 0) {
        memmove(z->in, z->in + z->in_off, z->in_len - z->in_off);
        z->in_len -= z->in_off;
        z->in_off = 0;
    }
    *room_out = sizeof z->in - z->in_len;
    return z->in + z->in_len;
}

void fk_z_in_added(fk_z *z, size_t n)
{
    z->in_len += n;
}

long fk_z_inflate(fk_z *z, unsigned char *p, size_t size, const char **why_out)
{
    *why_out = NULL;
    if (z->in_off == z->in_len && !z->rx_more)
        return 0;
    uInt room = size > 0x7fffffffu ? 0x7fffffffu : (uInt)size;
    z->rx.next_in = z->in + z->in_off;
    z->rx.avail_in = (uInt)(z->in_len - z->in_off);
    z->rx.next_out = p;
    z->rx.avail_out = room;
    int rc = inflate(&z->rx, Z_SYNC_FLUSH);
    z->in_off = z->in_len - z->rx.avail_in;
    z->rx_more = z->rx.avail_out == 0;
    if (rc == Z_STREAM_END) {
        *why_out = "the client ended its compressed stream (a final block)";
        return -1;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
        *why_out = z->rx.msg != NULL ? z->rx.msg : "zlib error";
        return -1;
    }
    return (long)(room - z->rx.avail_out);
}

bool fk_z_in_pending(const fk_z *z)
{
    return z->rx_more || z->in_off < z->in_len;
}

void fk_z_arm(fk_z *z, fk_z_fault fault)
{
    z->fault = fault;
}

int fk_z_deflate(fk_z *z, const unsigned char *p, size_t len)
{
    if (len > FK_Z_DEFLATE_MAX || z->out_off < z->out_len)
        return -1;
    z->out_off = z->out_len = 0;
    if (z->cut || len == 0)
        return 0;
    z->tx.next_in = (unsigned char *)(size_t)p; /* zlib does not write its input */
    z->tx.avail_in = (uInt)len;
    z->tx.next_out = z->out;
    z->tx.avail_out = (uInt)sizeof z->out;
    int rc = deflate(&z->tx, Z_SYNC_FLUSH);
    if (rc != Z_OK || z->tx.avail_in != 0 || z->tx.avail_out == 0)
        return -1; /* FK_Z_OUT_MAX holds any sync-flushed FK_Z_DEFLATE_MAX */
    z->out_len = sizeof z->out - z->tx.avail_out;
    if (z->fault == FK_Z_FAULT_CORRUPT)
        z->out[0] |= FK_Z_BTYPE_RESERVED;
    if (z->fault == FK_Z_FAULT_TRUNCATE) {
        z->out_len /= 2;
        z->cut = true;
    }
    z->fault = FK_Z_FAULT_NONE;
    return 0;
}

bool fk_z_cut(const fk_z *z)
{
    return z->cut;
}

const unsigned char *fk_z_out(const fk_z *z, size_t *len_out)
{
    *len_out = z->out_len - z->out_off;
    return z->out + z->out_off;
}

void fk_z_out_done(fk_z *z, size_t n)
{
    z->out_off += n;
}
