/*
 * conn.c: one client connection (conn.h): the transport, the reader, the
 * output buffer with its secret spans, the protocol log, the timeouts and
 * the last error.  IMAP, POP3 and SMTP sessions do all their I/O here.
 *
 * Output is composed with mj_conn_put and leaves with mj_conn_flush in one
 * transport write, so one command is one write.  The log of a flush is
 * written before the write (a crash or a hang in the write still leaves the
 * command in the log), with each secret span replaced by "********".
 */
#include "mailjig/conn.h"

#include <stdlib.h>
#include <string.h>

/* A span of the output buffer that the log must mask. */
struct secret_span {
    size_t off, len;
};

struct mj_conn {
    mj_transport *t;          /* owned */
    mj_reader *r;             /* owned */
    mj_log *log;              /* borrowed from the config: outlives the conn */
    mj_timeouts timeouts;     /* the transport borrows a pointer to this */
    mj_error err;
    mj_protocol protocol;
    mj_security security;
    char host[MJ_URL_HOST_MAX];
    /* TLS settings, with the strings copied: the config is only borrowed. */
    mj_tls_config tls;
    char *cafile, *client_cert, *client_key;
    struct secret_span spans[MJ_CONN_SECRET_SPANS_MAX];
    size_t n_spans;
    size_t out_len;
    unsigned char out[MJ_CONN_OUT_MAX];
};

void mj_conn_config_init(mj_conn_config *cfg, mj_protocol protocol)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->protocol = protocol;
    cfg->security = MJ_SEC_NONE;
    mj_timeouts_init(&cfg->timeouts);
    mj_reader_limits_init(&cfg->limits);
}

/* strdup that keeps NULL as NULL; returns -1 only when out of memory. */
static int copy_opt(const char *s, char **out)
{
    *out = NULL;
    if (s == NULL)
        return 0;
    *out = strdup(s);
    return *out == NULL ? -1 : 0;
}

static void conn_free(mj_conn *c)
{
    if (c == NULL)
        return;
    mj_reader_free(c->r);
    mj_transport_close(c->t);
    free(c->cafile);
    free(c->client_cert);
    free(c->client_key);
    free(c);
}

/* Everything the conn keeps from cfg, copied; the transport comes later. */
static mj_outcome conn_alloc(const mj_conn_config *cfg, mj_conn **c_out, mj_error *err)
{
    *c_out = NULL;
    const char *host = cfg->endpoint.host != NULL ? cfg->endpoint.host : "";
    if (strlen(host) >= MJ_URL_HOST_MAX)
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "host name longer than %d bytes", MJ_URL_HOST_MAX - 1);
    mj_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return mj_error_set(err, MJ_INTERNAL, MJ_R_NO_MEMORY, "out of memory");
    memcpy(c->host, host, strlen(host) + 1);
    c->protocol = cfg->protocol;
    c->security = cfg->security;
    c->timeouts = cfg->timeouts;
    c->log = cfg->log;
    c->tls = cfg->tls;
    if (copy_opt(cfg->tls.cafile, &c->cafile) != 0 ||
        copy_opt(cfg->tls.client_cert, &c->client_cert) != 0 ||
        copy_opt(cfg->tls.client_key, &c->client_key) != 0) {
        conn_free(c);
        return mj_error_set(err, MJ_INTERNAL, MJ_R_NO_MEMORY, "out of memory");
    }
    c->tls.cafile = c->cafile;
    c->tls.client_cert = c->client_cert;
    c->tls.client_key = c->client_key;
    mj_error_clear(&c->err);
    *c_out = c;
    return MJ_OK;
}

static mj_outcome conn_reader(mj_conn *c, const mj_conn_config *cfg, mj_error *err)
{
    c->r = mj_reader_new(c->t, c->log, &cfg->limits);
    if (c->r == NULL)
        return mj_error_set(err, MJ_INTERNAL, MJ_R_NO_MEMORY, "out of memory");
    return MJ_OK;
}

mj_outcome mj_conn_open(const mj_conn_config *cfg, mj_conn **conn_out, mj_error *err)
{
    *conn_out = NULL;
    if (cfg->security == MJ_SEC_AUTO || cfg->endpoint.host == NULL)
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "connection settings incomplete (host or resolved security missing)");
    mj_conn *c;
    mj_outcome o = conn_alloc(cfg, &c, err);
    if (o != MJ_OK)
        return o;
    mj_endpoint ep = cfg->endpoint;
    ep.host = c->host;
    o = mj_tcp_connect(&ep, &c->timeouts, &c->t, err);
    if (o == MJ_OK) {
        /* Logged before the handshake so a failing handshake has context. */
        char uri[MJ_URL_HOST_MAX + 64];
        mj_url_log_uri(c->protocol, c->security, c->host, ep.port, uri, sizeof uri);
        mj_log_connect(c->log, uri);
        if (c->security == MJ_SEC_IMPLICIT)
            o = mj_transport_starttls(c->t, &c->tls, c->host, err);
    }
    if (o == MJ_OK)
        o = conn_reader(c, cfg, err);
    if (o != MJ_OK) {
        conn_free(c);
        return o;
    }
    *conn_out = c;
    return MJ_OK;
}

/* The transport's timeouts become the conn's, so mj_conn_timeouts is what
 * is in force whoever created the transport. */
mj_outcome mj_conn_wrap(mj_transport *t, const mj_conn_config *cfg, mj_conn **conn_out,
                        mj_error *err)
{
    *conn_out = NULL;
    mj_conn *c;
    mj_outcome o = conn_alloc(cfg, &c, err);
    if (o != MJ_OK) {
        mj_transport_close(t);
        return o;
    }
    c->t = t;
    t->timeouts = &c->timeouts;
    o = conn_reader(c, cfg, err);
    if (o != MJ_OK) {
        conn_free(c);
        return o;
    }
    *conn_out = c;
    return MJ_OK;
}

/* ---- output ------------------------------------------------------------------- */

/* Log the output buffer: the plain parts as data, each secret span as one mask. */
static void log_output(mj_conn *c)
{
    size_t pos = 0;
    for (size_t i = 0; i < c->n_spans; i++) {
        const struct secret_span *s = &c->spans[i];
        mj_log_data(c->log, MJ_LOG_CLIENT, c->out + pos, s->off - pos, false);
        mj_log_data(c->log, MJ_LOG_CLIENT, c->out + s->off, s->len, true);
        pos = s->off + s->len;
    }
    if (pos < c->out_len)
        mj_log_data(c->log, MJ_LOG_CLIENT, c->out + pos, c->out_len - pos, false);
}

mj_outcome mj_conn_flush(mj_conn *c)
{
    if (c->out_len == 0)
        return MJ_OK;
    log_output(c);
    size_t len = c->out_len;
    /* Emptied whatever happens: after a failed write the conn is dead, and
     * secrets should not linger in the buffer. */
    c->out_len = 0;
    c->n_spans = 0;
    mj_outcome o = mj_transport_write(c->t, c->out, len, &c->err);
    memset(c->out, 0, len);
    return o;
}

/* A put bigger than the whole buffer: logged once, then written in
 * buffer-sized pieces straight from the caller's memory. */
static mj_outcome put_through(mj_conn *c, const unsigned char *p, size_t len, bool secret)
{
    mj_log_data(c->log, MJ_LOG_CLIENT, p, len, secret);
    while (len > 0) {
        size_t n = len < MJ_CONN_OUT_MAX ? len : MJ_CONN_OUT_MAX;
        mj_outcome o = mj_transport_write(c->t, p, n, &c->err);
        if (o != MJ_OK)
            return o;
        p += n;
        len -= n;
    }
    return MJ_OK;
}

mj_outcome mj_conn_put(mj_conn *c, const void *data, size_t len, bool secret)
{
    if (len == 0)
        return MJ_OK;
    bool need_span = secret && !(c->n_spans > 0 &&
                                 c->spans[c->n_spans - 1].off + c->spans[c->n_spans - 1].len ==
                                     c->out_len);
    if (len > MJ_CONN_OUT_MAX - c->out_len ||
        (need_span && c->n_spans == MJ_CONN_SECRET_SPANS_MAX)) {
        mj_outcome o = mj_conn_flush(c);
        if (o != MJ_OK)
            return o;
        need_span = secret;
    }
    if (len > MJ_CONN_OUT_MAX)
        return put_through(c, data, len, secret);
    if (need_span)
        c->spans[c->n_spans++] = (struct secret_span){c->out_len, 0};
    if (secret) /* a secret right after a secret extends its span: one mask */
        c->spans[c->n_spans - 1].len += len;
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    return MJ_OK;
}

mj_outcome mj_conn_puts(mj_conn *c, const char *s)
{
    return mj_conn_put(c, s, strlen(s), false);
}

/* ---- access --------------------------------------------------------------------- */

mj_reader *mj_conn_reader(mj_conn *c)
{
    return c->r;
}

mj_error *mj_conn_error(mj_conn *c)
{
    return &c->err;
}

mj_timeouts *mj_conn_timeouts(mj_conn *c)
{
    return &c->timeouts;
}

mj_outcome mj_conn_starttls(mj_conn *c)
{
    if (c->out_len > 0)
        return mj_error_set(&c->err, MJ_INTERNAL, MJ_R_SYSTEM,
                            "STARTTLS with %zu bytes of unsent output (nothing may be sent "
                            "between the reply and the handshake)",
                            c->out_len);
    return mj_reader_starttls(c->r, &c->tls, c->host, &c->err);
}

/* The reader's unparsed bytes after the caller's: they are one contiguous
 * run of what was received after the COMPRESS reply. */
static mj_outcome take_early_bytes(mj_conn *c, unsigned char *buf, size_t *len)
{
    while (mj_reader_buffered(c->r) > 0) {
        const unsigned char *p = NULL;
        size_t n = 0;
        size_t room = MJ_DEFLATE_IN_MAX - *len;
        if (mj_reader_buffered(c->r) > room)
            return mj_error_set(&c->err, MJ_INTERNAL, MJ_R_SYSTEM,
                                "COMPRESS with more than %zu bytes already read",
                                MJ_DEFLATE_IN_MAX);
        mj_outcome o = mj_reader_read_some(c->r, room, &p, &n, &c->err);
        if (o != MJ_OK)
            return o;
        memcpy(buf + *len, p, n);
        *len += n;
    }
    return MJ_OK;
}

mj_outcome mj_conn_compress(mj_conn *c, const void *already, size_t len)
{
    if (c->out_len > 0 || mj_transport_is_deflate(c->t) || len > MJ_DEFLATE_IN_MAX)
        return mj_error_set(&c->err, MJ_INTERNAL, MJ_R_SYSTEM,
                            "COMPRESS with unsent output, twice, or with %zu bytes already read",
                            len);
    unsigned char *early = malloc(MJ_DEFLATE_IN_MAX);
    if (early == NULL)
        return mj_error_set(&c->err, MJ_INTERNAL, MJ_R_NO_MEMORY, "out of memory");
    if (len > 0)
        memcpy(early, already, len);
    mj_transport *z = NULL;
    mj_outcome o = take_early_bytes(c, early, &len);
    if (o == MJ_OK)
        o = mj_deflate_wrap(c->t, early, len, 0, &z, &c->err);
    free(early);
    if (o != MJ_OK)
        return o;
    c->t = z;
    mj_reader_set_transport(c->r, z);
    return MJ_OK;
}

bool mj_conn_compressed(const mj_conn *c)
{
    return mj_transport_is_deflate(c->t);
}

mj_tls_state mj_conn_tls_state(mj_conn *c)
{
    mj_tls_info info;
    mj_transport_tls_info(c->t, &info);
    return info.state;
}

void mj_conn_tls_info(mj_conn *c, mj_tls_info *info_out)
{
    mj_transport_tls_info(c->t, info_out);
}

mj_outcome mj_conn_channel_binding(mj_conn *c, mj_channel_binding *type_out,
                                   unsigned char out[MJ_CB_DATA_MAX], size_t *len_out)
{
    return mj_transport_channel_binding(c->t, type_out, out, len_out, &c->err);
}

mj_starttls_action mj_starttls_decide(mj_security resolved, bool offered)
{
    switch (resolved) {
    case MJ_SEC_STARTTLS:
        return offered ? MJ_STARTTLS_DO : MJ_STARTTLS_REFUSE;
    case MJ_SEC_STARTTLS_IF_AVAILABLE:
        return offered ? MJ_STARTTLS_DO : MJ_STARTTLS_SKIP;
    case MJ_SEC_NONE:
    case MJ_SEC_IMPLICIT:
        return MJ_STARTTLS_SKIP;
    case MJ_SEC_AUTO: /* unresolved: the caller's bug; fail closed */
    default:
        return MJ_STARTTLS_REFUSE;
    }
}

const char *mj_conn_host(const mj_conn *c)
{
    return c->host;
}

void mj_conn_close(mj_conn *c)
{
    if (c != NULL)
        memset(c->out, 0, c->out_len); /* unsent output may hold a secret */
    conn_free(c);
}
