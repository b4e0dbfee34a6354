/*
 * hello.c: fk_client_hello_parse (tls.h), a minimal reader of a TLS
 * ClientHello for the failure modes where mjfake answers the hello itself.
 * RFC 8446 §4.1.2 (ClientHello), §4.2 (extensions), §4.2.1
 * (supported_versions); RFC 6066 §3 (server_name); RFC 5246 §6.2.1 (records
 * may carry a fragment of a handshake message).
 */
#include <string.h>

#include "core/tls.h"

#define REC_HANDSHAKE 0x16
#define HS_CLIENT_HELLO 0x01
#define EXT_SERVER_NAME 0x0000
#define EXT_SUPPORTED_VERSIONS 0x002b

/* A read cursor that never passes its end. */
typedef struct cur {
    const unsigned char *p;
    size_t left;
    bool bad;
} cur;

static unsigned take(cur *c, size_t n) /* n <= 3: a big-endian integer */
{
    unsigned v = 0;
    if (c->bad || c->left < n) {
        c->bad = true;
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        v = v << 8 | c->p[i];
    c->p += n;
    c->left -= n;
    return v;
}

/* A sub-cursor over the next n bytes (a length-prefixed vector). */
static cur sub(cur *c, size_t n)
{
    cur s = {c->p, n, c->bad || c->left < n};
    if (!s.bad) {
        c->p += n;
        c->left -= n;
    } else {
        c->bad = true;
    }
    return s;
}

static bool grease(unsigned v)
{
    return (v & 0x0f0f) == 0x0a0a;
}

static void ext_server_name(cur e, fk_client_hello *h)
{
    cur list = sub(&e, take(&e, 2));
    while (!list.bad && list.left > 0) {
        unsigned type = take(&list, 1);
        cur name = sub(&list, take(&list, 2));
        if (!name.bad && type == 0 && name.left < FK_SNI_MAX && h->sni[0] == '\0') {
            memcpy(h->sni, name.p, name.left);
            h->sni[name.left] = '\0';
        }
    }
}

static void ext_versions(cur e, fk_client_hello *h)
{
    cur list = sub(&e, take(&e, 1));
    h->n_versions = 0;
    while (!list.bad && list.left >= 2) {
        unsigned v = take(&list, 2);
        if (!grease(v) && h->n_versions < FK_VERSIONS_MAX)
            h->versions[h->n_versions++] = v;
    }
}

/* The ClientHello body (after the 4-byte handshake header). */
static fk_parse parse_body(cur b, fk_client_hello *h)
{
    unsigned legacy = take(&b, 2);
    sub(&b, 32);                  /* random */
    sub(&b, take(&b, 1));         /* legacy_session_id */
    sub(&b, take(&b, 2));         /* cipher_suites */
    cur comp = sub(&b, take(&b, 1));
    if (b.bad || comp.bad)
        return FK_PARSE_ERROR;
    memset(h, 0, sizeof *h);
    for (size_t i = 0; i < comp.left; i++)
        h->compression |= comp.p[i] != 0;
    h->versions[h->n_versions++] = legacy;
    cur exts = sub(&b, b.left >= 2 ? take(&b, 2) : 0); /* extensions may be absent */
    while (!exts.bad && exts.left >= 4) {
        unsigned type = take(&exts, 2);
        cur e = sub(&exts, take(&exts, 2));
        if (type == EXT_SERVER_NAME)
            ext_server_name(e, h);
        else if (type == EXT_SUPPORTED_VERSIONS)
            ext_versions(e, h);
    }
    if (exts.bad)
        return FK_PARSE_ERROR;
    if (h->n_versions == 0) /* supported_versions held only GREASE */
        h->versions[h->n_versions++] = legacy;
    h->seen = true;
    return FK_PARSE_OK;
}

fk_parse fk_client_hello_parse(const unsigned char *p, size_t len, fk_client_hello *out)
{
    unsigned char msg[FK_HELLO_MAX]; /* the handshake message, joined from its records */
    size_t have = 0, need = 0;
    cur in = {p, len, false};
    while (in.left > 0) {
        if (in.left < 5)
            return FK_PARSE_NEED_MORE;
        if (in.p[0] != REC_HANDSHAKE || in.p[1] != 0x03)
            return FK_PARSE_ERROR;
        size_t rlen = (size_t)in.p[3] << 8 | in.p[4];
        if (rlen == 0 || have + rlen > sizeof msg)
            return FK_PARSE_ERROR;
        if (in.left < 5 + rlen)
            return FK_PARSE_NEED_MORE;
        memcpy(msg + have, in.p + 5, rlen);
        have += rlen;
        in.p += 5 + rlen;
        in.left -= 5 + rlen;
        if (have >= 4) {
            if (msg[0] != HS_CLIENT_HELLO)
                return FK_PARSE_ERROR;
            need = 4 + ((size_t)msg[1] << 16 | (size_t)msg[2] << 8 | msg[3]);
            if (need > sizeof msg)
                return FK_PARSE_ERROR;
            if (have >= need)
                return parse_body((cur){msg + 4, need - 4, false}, out);
        }
    }
    return FK_PARSE_NEED_MORE;
}
