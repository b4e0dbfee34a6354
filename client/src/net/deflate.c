/*
 * deflate.c: the DEFLATE layer of transport.h (mj_deflate_wrap), for IMAP
 * COMPRESS=DEFLATE (RFC 4978) over raw DEFLATE (RFC 1951) from zlib.
 *
 * RFC 4978 section 3: DEFLATE without a zlib or gzip header (windowBits
 * -15), one stream per direction for the rest of the connection; both sides
 * flush so that what was sent can be decompressed at once.  Here every write
 * ends with Z_SYNC_FLUSH: a conn flush (one command) is one write, so no
 * command ever waits in the compressor.  The layer sits above TLS when TLS is
 * on (compress first, then encrypt: section 3, "when sending: apply
 * compression first, then ... TLS"), so it wraps whatever transport the
 * connection has and STARTTLS through it is refused.
 *
 * Reads decompress into the caller's buffer: memory stays at the two fixed
 * buffers below whatever the server sends, the reader's caps (line, reply,
 * literal) apply to the decompressed bytes as before, and a bomb bound
 * (decompressed per compressed byte, after a slack) stops a stream that
 * expands beyond what any mail text does.  The protocol log is written by
 * the conn and the reader above this layer, so it shows plaintext.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "mailjig/transport.h"

/* zlib's raw DEFLATE: a negative windowBits means no header, 2^15 window. */
#define DEFLATE_WINDOW_BITS (-15)
/* Memory level of the compressor (zlib's default: 8, about 128 KiB + window). */
#define DEFLATE_MEM_LEVEL 8
/* Compressed bytes of a bad stream quoted in an error message. */
#define DEFLATE_MSG_MAX 120

struct deflate_transport {
    mj_transport base; /* first: mj_transport * == struct deflate_transport * */
    mj_transport *inner; /* owned */
    z_stream rx, tx;
    bool rx_init, tx_init;
    bool rx_more;   /* the last inflate filled the buffer: output may be pending */
    bool rx_ended;  /* the server sent a final block */
    bool rx_failed; /* corrupt or over the bound: every later read fails */
    mj_error rx_err;
    size_t ratio_max;
    uint64_t total_in, total_out;
    unsigned char raw[MJ_DEFLATE_IN_MAX];  /* compressed input */
    unsigned char zout[MJ_DEFLATE_OUT_MAX]; /* compressed output */
};

static struct deflate_transport *dt(mj_transport *t)
{
    return (struct deflate_transport *)t;
}

/* Record a read failure: it sticks, since the stream cannot resync. */
static mj_outcome rx_fail(struct deflate_transport *d, mj_reason reason, const char *what,
                          mj_error *err)
{
    d->rx_failed = true;
    mj_error_set(&d->rx_err, MJ_PROTOCOL_ERROR, reason, "%s", what);
    if (err != NULL)
        *err = d->rx_err;
    return MJ_PROTOCOL_ERROR;
}

/* The bomb bound, checked after every inflate that produced bytes. */
static mj_outcome ratio_check(struct deflate_transport *d, mj_error *err)
{
    if (d->total_out <= MJ_DEFLATE_RATIO_SLACK ||
        d->total_out / d->ratio_max <= d->total_in)
        return MJ_OK;
    char msg[MJ_ERROR_MESSAGE_MAX];
    snprintf(msg, sizeof msg,
             "the server's compressed stream expands past %zu bytes per compressed byte "
             "(%llu bytes from %llu; a decompression bomb?)",
             d->ratio_max, (unsigned long long)d->total_out, (unsigned long long)d->total_in);
    return rx_fail(d, MJ_R_COMPRESS_RATIO, msg, err);
}

/*
 * One inflate into buf.  MJ_OK with *n_out == 0: nothing more can come out
 * of the input held (read more from below).
 */
static mj_outcome rx_inflate(struct deflate_transport *d, unsigned char *buf, size_t cap,
                             size_t *n_out, mj_error *err)
{
    *n_out = 0;
    if (d->rx.avail_in == 0 && !d->rx_more)
        return MJ_OK;
    uInt room = cap > UINT32_MAX ? UINT32_MAX : (uInt)cap;
    d->rx.next_out = buf;
    d->rx.avail_out = room;
    int rc = inflate(&d->rx, Z_SYNC_FLUSH);
    size_t n = room - d->rx.avail_out;
    d->rx_more = d->rx.avail_out == 0;
    if (rc == Z_STREAM_END) {
        d->rx_ended = true;
        d->rx_more = false;
        if (d->rx.avail_in > 0)
            return rx_fail(d, MJ_R_COMPRESS_CORRUPT,
                           "the server sent data after the end of its compressed stream", err);
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) { /* Z_BUF_ERROR: no progress, need input */
        char msg[MJ_ERROR_MESSAGE_MAX];
        char zmsg[DEFLATE_MSG_MAX];
        const char *why = d->rx.msg != NULL ? d->rx.msg : "zlib error";
        mj_escape(why, strlen(why), zmsg, sizeof zmsg);
        snprintf(msg, sizeof msg,
                 "the server's compressed stream is corrupt (zlib: %s, after %llu compressed bytes)",
                 zmsg, (unsigned long long)(d->total_in - d->rx.avail_in));
        return rx_fail(d, MJ_R_COMPRESS_CORRUPT, msg, err);
    }
    d->total_out += n;
    *n_out = n;
    return n > 0 ? ratio_check(d, err) : MJ_OK;
}

static mj_outcome deflate_read(mj_transport *t, void *buf, size_t cap, size_t *n_out,
                               mj_error *err)
{
    struct deflate_transport *d = dt(t);
    *n_out = 0;
    if (d->rx_failed) {
        if (err != NULL)
            *err = d->rx_err;
        return d->rx_err.outcome;
    }
    for (;;) {
        size_t n = 0;
        mj_outcome o = rx_inflate(d, buf, cap, &n, err);
        if (o != MJ_OK || n > 0) {
            *n_out = o == MJ_OK ? n : 0;
            return o;
        }
        size_t got = 0; /* all input is consumed: refill from the start */
        o = mj_transport_read(d->inner, d->raw, sizeof d->raw, &got, err);
        if (o != MJ_OK)
            return o;
        if (d->rx_ended)
            return rx_fail(d, MJ_R_COMPRESS_CORRUPT,
                           "the server sent data after the end of its compressed stream", err);
        d->rx.next_in = d->raw;
        d->rx.avail_in = (uInt)got;
        d->total_in += got;
    }
}

/* Compress all of buf, sync-flushed, writing each full output buffer below. */
static mj_outcome deflate_write(mj_transport *t, const void *buf, size_t len, mj_error *err)
{
    struct deflate_transport *d = dt(t);
    const unsigned char *p = buf;
    while (len > 0) {
        uInt take = len > UINT32_MAX ? UINT32_MAX : (uInt)len;
        d->tx.next_in = (unsigned char *)(uintptr_t)p; /* zlib does not write input */
        d->tx.avail_in = take;
        do {
            d->tx.next_out = d->zout;
            d->tx.avail_out = (uInt)sizeof d->zout;
            int rc = deflate(&d->tx, Z_SYNC_FLUSH);
            if (rc != Z_OK && rc != Z_BUF_ERROR)
                return mj_error_set(err, MJ_INTERNAL, MJ_R_SYSTEM, "zlib deflate failed (%d)", rc);
            size_t n = sizeof d->zout - d->tx.avail_out;
            mj_outcome o = mj_transport_write(d->inner, d->zout, n, err);
            if (o != MJ_OK)
                return o;
        } while (d->tx.avail_out == 0); /* zlib: call again while the output is full */
        p += take;
        len -= take;
    }
    return MJ_OK;
}

static size_t deflate_pending(mj_transport *t)
{
    struct deflate_transport *d = dt(t);
    return (size_t)d->rx.avail_in + (d->rx_more ? 1 : 0) + mj_transport_pending(d->inner);
}

static mj_outcome deflate_starttls(mj_transport *t, const mj_tls_config *cfg, const char *host,
                                   mj_error *err)
{
    (void)t;
    (void)cfg;
    (void)host;
    return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                        "STARTTLS after COMPRESS: TLS must start before compression "
                        "(RFC 4978 section 3); nothing was sent");
}

static void deflate_tls_info(mj_transport *t, mj_tls_info *info_out)
{
    mj_transport_tls_info(dt(t)->inner, info_out);
}

static mj_outcome deflate_channel_binding(mj_transport *t, mj_channel_binding *type_out,
                                          unsigned char *out, size_t cap, size_t *len_out,
                                          mj_error *err)
{
    (void)cap; /* mj_transport_channel_binding's out always has MJ_CB_DATA_MAX bytes */
    return mj_transport_channel_binding(dt(t)->inner, type_out, out, len_out, err);
}

static void deflate_free(struct deflate_transport *d, bool close_inner)
{
    if (d->rx_init)
        inflateEnd(&d->rx);
    if (d->tx_init)
        deflateEnd(&d->tx);
    if (close_inner)
        mj_transport_close(d->inner);
    free(d);
}

static void deflate_close(mj_transport *t)
{
    if (t != NULL)
        deflate_free(dt(t), true);
}

static const mj_transport_ops deflate_ops = {
    .name = "deflate",
    .read = deflate_read,
    .write = deflate_write,
    .pending = deflate_pending,
    .starttls = deflate_starttls,
    .tls_info = deflate_tls_info,
    .close = deflate_close,
    .channel_binding = deflate_channel_binding,
};

mj_outcome mj_deflate_wrap(mj_transport *inner, const void *already, size_t len, size_t ratio_max,
                           mj_transport **t_out, mj_error *err)
{
    *t_out = NULL;
    if (inner == NULL || len > MJ_DEFLATE_IN_MAX)
        return mj_error_set(err, MJ_INTERNAL, MJ_R_SYSTEM,
                            "DEFLATE layer: %zu bytes already read (at most %zu)", len,
                            MJ_DEFLATE_IN_MAX);
    struct deflate_transport *d = calloc(1, sizeof *d);
    if (d == NULL)
        return mj_error_set(err, MJ_INTERNAL, MJ_R_NO_MEMORY, "out of memory");
    d->base.ops = &deflate_ops;
    d->base.timeouts = inner->timeouts;
    d->inner = inner;
    d->ratio_max = ratio_max != 0 ? ratio_max : MJ_DEFLATE_RATIO_DEFAULT;
    d->rx_init = inflateInit2(&d->rx, DEFLATE_WINDOW_BITS) == Z_OK;
    d->tx_init = d->rx_init && deflateInit2(&d->tx, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
                                            DEFLATE_WINDOW_BITS, DEFLATE_MEM_LEVEL,
                                            Z_DEFAULT_STRATEGY) == Z_OK;
    if (!d->tx_init) {
        deflate_free(d, false);
        return mj_error_set(err, MJ_INTERNAL, MJ_R_NO_MEMORY, "cannot start zlib");
    }
    if (len > 0)
        memcpy(d->raw, already, len);
    d->rx.next_in = d->raw;
    d->rx.avail_in = (uInt)len;
    d->total_in = len;
    *t_out = &d->base;
    return MJ_OK;
}

bool mj_transport_is_deflate(const mj_transport *t)
{
    return t != NULL && t->ops == &deflate_ops;
}
