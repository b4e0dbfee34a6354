/*
 * memtransport.c: the in-memory transport of transport.h, for unit tests.
 *
 * A scripted peer: the input is handed out in reads whose sizes follow the
 * script's chunk list (so tests can cut a stream at every byte boundary),
 * then the script's ending (EOF, reset or timeout).  Everything written is
 * kept for the test to compare byte for byte.  STARTTLS is simulated: it
 * succeeds or fails as scripted and only changes the reported TLS state, so
 * the reader's STARTTLS hygiene can be tested without OpenSSL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailjig/transport.h"

struct mem_transport {
    mj_transport base; /* first: the transport API casts between the two */
    unsigned char *in;
    size_t in_len, in_cap, in_pos;
    size_t *chunks;
    size_t n_chunks, next_chunk;
    mj_mem_end end;
    bool report_pending;
    mj_outcome starttls_outcome;
    mj_tls_state starttls_state;
    mj_tls_state state;
    unsigned starttls_count;
    unsigned char *out;
    size_t out_len, out_cap;
};

static struct mem_transport *mem(mj_transport *t)
{
    return (struct mem_transport *)t;
}

/* Grow *buf (capacity *cap) to hold need bytes; sizes come from the test. */
static int grow(unsigned char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 256;
    while (n < need)
        n *= 2;
    unsigned char *p = realloc(*buf, n);
    if (p == NULL)
        return -1;
    *buf = p;
    *cap = n;
    return 0;
}

static mj_outcome mem_end(struct mem_transport *m, mj_error *err)
{
    switch (m->end) {
    case MJ_MEM_END_RESET:
        return mj_error_set(err, MJ_CONNECTION_LOST, MJ_R_RESET,
                            "connection reset by peer (memory transport)");
    case MJ_MEM_END_TIMEOUT:
        return mj_error_set(err, MJ_TIMEOUT, MJ_R_IO_TIMEOUT,
                            "no data within the I/O timeout (memory transport)");
    case MJ_MEM_END_EOF:
    default:
        return mj_error_set(err, MJ_CONNECTION_LOST, MJ_R_EOF,
                            "connection closed by peer (memory transport)");
    }
}

static mj_outcome mem_read(mj_transport *t, void *buf, size_t cap, size_t *n_out, mj_error *err)
{
    struct mem_transport *m = mem(t);
    *n_out = 0;
    if (m->in_pos == m->in_len)
        return mem_end(m, err);
    size_t n = m->in_len - m->in_pos;
    if (m->n_chunks > 0) {
        size_t chunk = m->chunks[m->next_chunk++ % m->n_chunks];
        if (chunk > 0 && chunk < n) /* a 0 in the list means "the rest" */
            n = chunk;
    }
    if (n > cap)
        n = cap;
    memcpy(buf, m->in + m->in_pos, n);
    m->in_pos += n;
    *n_out = n;
    return MJ_OK;
}

static mj_outcome mem_write(mj_transport *t, const void *buf, size_t len, mj_error *err)
{
    struct mem_transport *m = mem(t);
    if (grow(&m->out, &m->out_cap, m->out_len + len) != 0)
        return mj_error_set(err, MJ_INTERNAL, MJ_R_NO_MEMORY, "out of memory");
    if (len > 0)
        memcpy(m->out + m->out_len, buf, len);
    m->out_len += len;
    return MJ_OK;
}

static size_t mem_pending(mj_transport *t)
{
    struct mem_transport *m = mem(t);
    return m->report_pending ? m->in_len - m->in_pos : 0;
}

static mj_outcome mem_starttls(mj_transport *t, const mj_tls_config *cfg, const char *host,
                               mj_error *err)
{
    struct mem_transport *m = mem(t);
    (void)cfg;
    (void)host;
    if (m->starttls_outcome != MJ_OK)
        return mj_error_set(err, m->starttls_outcome, MJ_R_TLS_HANDSHAKE,
                            "scripted TLS handshake failure (memory transport)");
    m->state = m->starttls_state;
    m->starttls_count++;
    return MJ_OK;
}

static void mem_tls_info(mj_transport *t, mj_tls_info *info_out)
{
    memset(info_out, 0, sizeof *info_out);
    info_out->state = mem(t)->state;
    if (info_out->state != MJ_TLS_NONE)
        snprintf(info_out->version, sizeof info_out->version, "memory");
}

static void mem_close(mj_transport *t)
{
    struct mem_transport *m = mem(t);
    if (m == NULL)
        return;
    free(m->in);
    free(m->out);
    free(m->chunks);
    free(m);
}

static const mj_transport_ops mem_ops = {
    .name = "memory",
    .read = mem_read,
    .write = mem_write,
    .pending = mem_pending,
    .starttls = mem_starttls,
    .tls_info = mem_tls_info,
    .close = mem_close,
};

static mj_outcome mem_copy_script(struct mem_transport *m, const mj_mem_script *s)
{
    if (s->input_len > 0 && grow(&m->in, &m->in_cap, s->input_len) != 0)
        return MJ_INTERNAL;
    if (s->input_len > 0)
        memcpy(m->in, s->input, s->input_len);
    m->in_len = s->input_len;
    if (s->n_chunks > 0) {
        m->chunks = malloc(s->n_chunks * sizeof *m->chunks);
        if (m->chunks == NULL)
            return MJ_INTERNAL;
        memcpy(m->chunks, s->chunks, s->n_chunks * sizeof *m->chunks);
        m->n_chunks = s->n_chunks;
    }
    m->end = s->end;
    m->report_pending = s->report_pending;
    m->starttls_outcome = s->starttls_outcome;
    m->starttls_state = s->starttls_state;
    return MJ_OK;
}

mj_outcome mj_mem_transport_new(const mj_mem_script *script, const mj_timeouts *timeouts,
                                mj_transport **t_out, mj_error *err)
{
    *t_out = NULL;
    struct mem_transport *m = calloc(1, sizeof *m);
    if (m == NULL)
        return mj_error_set(err, MJ_INTERNAL, MJ_R_NO_MEMORY, "out of memory");
    m->base.ops = &mem_ops;
    m->base.timeouts = timeouts;
    if (mem_copy_script(m, script) != MJ_OK) {
        mem_close(&m->base);
        return mj_error_set(err, MJ_INTERNAL, MJ_R_NO_MEMORY, "out of memory");
    }
    *t_out = &m->base;
    return MJ_OK;
}

const unsigned char *mj_mem_transport_written(mj_transport *t, size_t *len_out)
{
    struct mem_transport *m = mem(t);
    *len_out = 0;
    if (t->ops != &mem_ops) /* not a memory transport: nothing to show */
        return NULL;
    *len_out = m->out_len;
    return m->out;
}

unsigned mj_mem_transport_starttls_count(mj_transport *t)
{
    return t->ops == &mem_ops ? mem(t)->starttls_count : 0;
}

mj_outcome mj_mem_transport_feed(mj_transport *t, const void *data, size_t len, mj_error *err)
{
    struct mem_transport *m = mem(t);
    if (t->ops != &mem_ops)
        return mj_error_set(err, MJ_INTERNAL, MJ_R_SYSTEM, "not a memory transport");
    if (grow(&m->in, &m->in_cap, m->in_len + len) != 0)
        return mj_error_set(err, MJ_INTERNAL, MJ_R_NO_MEMORY, "out of memory");
    if (len > 0)
        memcpy(m->in + m->in_len, data, len);
    m->in_len += len;
    return MJ_OK;
}
