/*
 * tls_tap.c: the raw layer under mjfake's TLS (tls_tap.h).  RFC 8446 §5.1 /
 * RFC 5246 §6.2: a record is type<1> version<2> length<2> then length bytes;
 * the tap follows that framing in what OpenSSL writes, and changes only the
 * one record a fault was armed for.
 */
#include "core/tls_tap.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define REC_HEADER 5
#define REC_APPDATA 0x17
#define TAP_CHUNK 4096 /* bytes transformed and sent per send() */

typedef struct tap {
    int fd;
    /* the record framing of the output so far */
    unsigned char hdr[REC_HEADER];
    size_t hdr_len;   /* header bytes of the current record seen */
    size_t body_left; /* body bytes of the current record still to come */
    size_t keep_left; /* TRUNCATE: body bytes still let through */
    fk_tap_fault armed, active; /* armed: for the next record; active: this one */
    bool cut;         /* a truncated record went out: drop the rest */
    /* crafted input served before the socket's */
    unsigned char inject[FK_TAP_INJECT_MAX];
    size_t inject_len, inject_off;
} tap;

/* The framing state after one byte b; *emit_out: the byte to send, -1 to drop it. */
static void step_byte(tap *t, unsigned char b, int *emit_out)
{
    *emit_out = t->cut ? -1 : b;
    if (t->hdr_len < REC_HEADER) {
        t->hdr[t->hdr_len++] = b;
        if (t->hdr_len < REC_HEADER)
            return;
        t->body_left = (size_t)t->hdr[3] << 8 | t->hdr[4];
        t->active = FK_TAP_NONE;
        if (t->armed != FK_TAP_NONE && t->hdr[0] == REC_APPDATA && t->body_left > 0) {
            t->active = t->armed;
            t->armed = FK_TAP_NONE;
            t->keep_left = t->body_left / 2;
        }
        if (t->body_left == 0)
            t->hdr_len = 0;
        return;
    }
    t->body_left--;
    if (t->active == FK_TAP_CORRUPT && t->body_left == 0 && !t->cut)
        *emit_out = b ^ 0x01;
    if (t->active == FK_TAP_TRUNCATE) {
        if (t->keep_left > 0)
            t->keep_left--;
        else if (*emit_out >= 0) {
            *emit_out = -1;
            t->cut = true;
        }
    }
    if (t->body_left == 0)
        t->hdr_len = 0;
}

/* The framing state after n bytes no fault touches: record bodies are skipped whole. */
static void step_plain(tap *t, const unsigned char *in, size_t n)
{
    int e;
    for (size_t i = 0; i < n;) {
        if (t->hdr_len == REC_HEADER && t->body_left > 0) {
            size_t k = t->body_left < n - i ? t->body_left : n - i;
            t->body_left -= k;
            i += k;
            if (t->body_left == 0)
                t->hdr_len = 0;
        } else {
            step_byte(t, in[i++], &e);
        }
    }
}

/*
 * Transform and send up to TAP_CHUNK input bytes.  The framing state only
 * advances over the input whose output the socket took, so a short send
 * resumes at the right byte.  Returns input bytes consumed, or -1 (errno).
 */
static long send_chunk(tap *t, const unsigned char *in, size_t n)
{
    unsigned char out[TAP_CHUNK];
    uint16_t from_in[TAP_CHUNK]; /* out[k] came from input byte from_in[k] */
    if (t->armed == FK_TAP_NONE && t->active == FK_TAP_NONE && !t->cut) {
        /* no fault: the bytes go out as they are, in one send */
        ssize_t w = send(t->fd, in, n, MSG_NOSIGNAL);
        if (w < 0)
            return -1;
        step_plain(t, in, (size_t)w);
        return (long)w;
    }
    tap sim = *t;
    size_t k = 0;
    if (n > TAP_CHUNK)
        n = TAP_CHUNK;
    for (size_t i = 0; i < n; i++) {
        int e;
        step_byte(&sim, in[i], &e);
        if (e >= 0) {
            out[k] = (unsigned char)e;
            from_in[k++] = (uint16_t)i;
        }
    }
    size_t consumed = n;
    if (k > 0) {
        ssize_t w = send(t->fd, out, k, MSG_NOSIGNAL);
        if (w < 0)
            return -1;
        if ((size_t)w < k)
            consumed = (size_t)from_in[w]; /* the first byte not sent, and all after it */
    }
    if (consumed == n) {
        *t = sim;
    } else {
        int e;
        for (size_t i = 0; i < consumed; i++)
            step_byte(t, in[i], &e);
    }
    return (long)consumed;
}

static int tap_write(BIO *b, const char *data, int len)
{
    tap *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    size_t done = 0;
    while (done < (size_t)len) {
        long c = send_chunk(t, (const unsigned char *)data + done, (size_t)len - done);
        if (c < 0) {
            if (done == 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
                BIO_set_retry_write(b);
                return -1;
            }
            return done ? (int)done : -1;
        }
        if (c == 0)
            break;
        done += (size_t)c;
    }
    if (done == 0) {
        BIO_set_retry_write(b);
        return -1;
    }
    return (int)done;
}

static int tap_read(BIO *b, char *buf, int size)
{
    tap *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (size <= 0)
        return 0;
    if (t->inject_off < t->inject_len) {
        size_t n = t->inject_len - t->inject_off;
        if (n > (size_t)size)
            n = (size_t)size;
        memcpy(buf, t->inject + t->inject_off, n);
        t->inject_off += n;
        return (int)n;
    }
    ssize_t r = recv(t->fd, buf, (size_t)size, 0);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_read(b);
    return (int)r;
}

static long tap_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0; /* nothing buffered here; no other control applies */
}

static int tap_puts(BIO *b, const char *s)
{
    return tap_write(b, s, (int)strlen(s));
}

static int tap_destroy(BIO *b)
{
    free(BIO_get_data(b));
    BIO_set_data(b, NULL);
    return 1;
}

static BIO_METHOD *tap_method(void)
{
    static BIO_METHOD *m; /* made once, kept for the process (OpenSSL's own methods are static) */
    if (m == NULL && (m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "fk_tap")) &&
        (!BIO_meth_set_write(m, tap_write) || !BIO_meth_set_read(m, tap_read) ||
         !BIO_meth_set_ctrl(m, tap_ctrl) || !BIO_meth_set_puts(m, tap_puts) ||
         !BIO_meth_set_destroy(m, tap_destroy))) {
        BIO_meth_free(m);
        m = NULL;
    }
    return m;
}

BIO *fk_tap_new(int fd)
{
    BIO_METHOD *m = tap_method();
    tap *t = calloc(1, sizeof *t);
    BIO *b = m && t ? BIO_new(m) : NULL;
    if (b == NULL) {
        free(t);
        return NULL;
    }
    t->fd = fd;
    BIO_set_data(b, t);
    BIO_set_init(b, 1);
    return b;
}

void fk_tap_arm(BIO *b, fk_tap_fault fault)
{
    ((tap *)BIO_get_data(b))->armed = fault;
}

bool fk_tap_cut(BIO *b)
{
    return ((tap *)BIO_get_data(b))->cut;
}

int fk_tap_inject(BIO *b, const unsigned char *p, size_t len)
{
    tap *t = BIO_get_data(b);
    if (len > sizeof t->inject)
        return -1;
    memcpy(t->inject, p, len);
    t->inject_len = len;
    t->inject_off = 0;
    return 0;
}

/* Each alert and the input OpenSSL answers with it. */
static const unsigned char rec_bad_mac[REC_HEADER + 64] = {REC_APPDATA, 0x03, 0x03, 0x00, 64};
static const unsigned char rec_overflow[REC_HEADER] = {REC_APPDATA, 0x03, 0x03, 0xff, 0xff};
static const unsigned char rec_plain_hs[REC_HEADER + 4] = {0x16, 0x03, 0x03, 0x00, 0x04,
                                                           0x14, 0x00, 0x00, 0x00};

const unsigned char *fk_tap_alert_record(fk_alert a, size_t *len_out)
{
    static const struct {
        const unsigned char *rec;
        size_t len;
    } recs[] = {[FK_ALERT_NONE] = {NULL, 0},
                [FK_ALERT_BAD_RECORD_MAC] = {rec_bad_mac, sizeof rec_bad_mac},
                [FK_ALERT_RECORD_OVERFLOW] = {rec_overflow, sizeof rec_overflow},
                [FK_ALERT_UNEXPECTED_MESSAGE] = {rec_plain_hs, sizeof rec_plain_hs}};
    if ((size_t)a >= sizeof recs / sizeof recs[0])
        return NULL;
    *len_out = recs[a].len;
    return recs[a].rec;
}
