/*
 * smtp/stuff.c: the DATA byte state machine (RFC 5321 4.5.2 transparency,
 * RFC 5322 2.3 "CR and LF MUST only occur together as CRLF").
 *
 * Two bits of state survive any chunk boundary: "at the start of a line"
 * and "a CR is waiting to see whether LF follows".  Every line break of the
 * input -- CRLF, bare LF, bare CR -- leaves as CRLF, so the wire can carry
 * no alternative end-of-data sequence (SMTP smuggling, SECURITY-CASES #141),
 * and a '.' starting a line is doubled (#140).  Output per input byte is at
 * most 2 bytes, plus 2 for a CR held over from the previous call.
 */
#include "mailjig/smtp.h"

#include <string.h>

void mj_smtp_stuffer_init(mj_smtp_stuffer *st, bool stuff)
{
    st->stuff = stuff;
    st->line_start = true;
    st->pending_cr = false;
}

static size_t put_crlf(mj_smtp_stuffer *st, unsigned char *out)
{
    out[0] = '\r';
    out[1] = '\n';
    st->line_start = true;
    st->pending_cr = false;
    return 2;
}

size_t mj_smtp_stuff(mj_smtp_stuffer *st, const unsigned char *in, size_t len, unsigned char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = in[i];
        if (b == '\n') {
            o += put_crlf(st, out + o); /* CRLF, or a bare LF made CRLF */
            continue;
        }
        if (st->pending_cr)
            o += put_crlf(st, out + o); /* the held CR was bare */
        if (b == '\r') {
            st->pending_cr = true;
            continue;
        }
        if (b == '.' && st->line_start && st->stuff)
            out[o++] = '.';
        out[o++] = b;
        st->line_start = false;
    }
    return o;
}

size_t mj_smtp_stuff_finish(mj_smtp_stuffer *st, unsigned char *out)
{
    size_t o = 0;
    if (st->pending_cr || !st->line_start)
        o += put_crlf(st, out);
    if (st->stuff) {
        memcpy(out + o, ".\r\n", 3);
        o += 3;
    }
    return o;
}
