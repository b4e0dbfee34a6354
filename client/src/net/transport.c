/*
 * transport.c: the mj_transport_* entry points (transport.h).  They only
 * dispatch through the ops table, after checking the arguments once here
 * so each implementation can trust them.
 */
#include "mailjig/transport.h"

#include <string.h>

static mj_outcome no_transport(mj_error *err)
{
    return mj_error_set(err, MJ_INTERNAL, MJ_R_SYSTEM, "no transport");
}

mj_outcome mj_transport_read(mj_transport *t, void *buf, size_t cap, size_t *n_out,
                             mj_error *err)
{
    *n_out = 0;
    if (t == NULL || t->ops == NULL)
        return no_transport(err);
    if (cap == 0)
        return mj_error_set(err, MJ_INTERNAL, MJ_R_SYSTEM, "read into an empty buffer");
    return t->ops->read(t, buf, cap, n_out, err);
}

mj_outcome mj_transport_write(mj_transport *t, const void *buf, size_t len, mj_error *err)
{
    if (t == NULL || t->ops == NULL)
        return no_transport(err);
    if (len == 0)
        return MJ_OK;
    return t->ops->write(t, buf, len, err);
}

size_t mj_transport_pending(mj_transport *t)
{
    if (t == NULL || t->ops == NULL)
        return 0;
    return t->ops->pending(t);
}

mj_outcome mj_transport_starttls(mj_transport *t, const mj_tls_config *cfg, const char *host,
                                 mj_error *err)
{
    if (t == NULL || t->ops == NULL)
        return no_transport(err);
    if (cfg == NULL)
        return mj_error_set(err, MJ_INTERNAL, MJ_R_SYSTEM, "starttls without a TLS config");
    if (t->ops->starttls == NULL)
        return mj_error_set(err, MJ_INTERNAL, MJ_R_SYSTEM, "the %s transport cannot start TLS",
                            t->ops->name);
    return t->ops->starttls(t, cfg, host, err);
}

void mj_transport_tls_info(mj_transport *t, mj_tls_info *info_out)
{
    memset(info_out, 0, sizeof *info_out);
    info_out->state = MJ_TLS_NONE;
    if (t != NULL && t->ops != NULL && t->ops->tls_info != NULL)
        t->ops->tls_info(t, info_out);
}

void mj_transport_close(mj_transport *t)
{
    if (t != NULL && t->ops != NULL)
        t->ops->close(t);
}

mj_outcome mj_transport_channel_binding(mj_transport *t, mj_channel_binding *type_out,
                                        unsigned char out[MJ_CB_DATA_MAX], size_t *len_out,
                                        mj_error *err)
{
    *type_out = MJ_CB_NONE;
    *len_out = 0;
    if (t->ops->channel_binding == NULL)
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "channel binding needs a TLS connection (this one is %s)",
                            t->ops->name);
    return t->ops->channel_binding(t, type_out, out, MJ_CB_DATA_MAX, len_out, err);
}
