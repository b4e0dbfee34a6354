/*
 * conn.c: one client connection of mjfake, running its fk_script.
 *
 * The engine is a phase table (conn.h): each phase function either moves to
 * another phase (R_NEXT), waits for I/O or a timer (R_WAIT), or frees the
 * connection (R_GONE).  Client bytes are read in every phase that does not
 * belong to TLS, into a line buffer that grows up to line_max, so bytes sent
 * early (pipelining, or the STARTTLS buffering attack) are seen.  Output is a
 * byte stream written by one writer that shapes it (drip, fragment) and
 * streams files in chunks.
 */
#include "core/conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/conn_internal.h"
#include "core/match.h"
#include "core/tls.h"
#include "core/tls_tap.h"

#define IN_INITIAL   1024     /* first size of the line buffer */
#define FILE_CHUNK   16384    /* bytes read from a send_file at a time */
#define WRITE_MAX    65536    /* most bytes handed to one write() when unshaped */
#define DISCARD_MAX  4096     /* bytes read at once when input is thrown away */

static const char *phase_names[FK_PH_COUNT] = {
    "start", "delay", "step", "expect", "sleep", "send", "flush", "starttls",
    "handshake", "tls-fail", "end", "close", "drain", "hung"};

const char *fk_phase_name(fk_phase p)
{
    return p < FK_PH_COUNT ? phase_names[p] : "?";
}

static void conn_run(fk_conn *c);

/* ---- small helpers --------------------------------------------------------- */

const fk_step *fk_conn_step(const fk_conn *c)
{
    return c->script && c->step_i < c->script->n_steps ? &c->script->steps[c->step_i] : NULL;
}

const char *fk_conn_where(const fk_conn *c)
{
    return c->where[0] ? c->where : NULL;
}

void fk_conn_event(fk_conn *c, const char *name, const char *data, json_t *extra)
{
    fk_transcript_event(c->srv->tr, c->id, name, data, c->tls, fk_conn_where(c), extra);
}

/* Quote up to SHOW_MAX bytes of a client line, escaped, for messages. */
void fk_conn_show_line(const unsigned char *p, size_t len, char *out, size_t out_size)
{
    char esc[SHOW_MAX * 4 + 1];
    fk_escape_bytes(p, len > SHOW_MAX ? SHOW_MAX : len, esc, sizeof esc);
    snprintf(out, out_size, "'%s%s'", esc, len > SHOW_MAX ? "..." : "");
}

void fk_conn_idle_cancel(fk_conn *c)
{
    fk_loop_cancel(c->srv->loop, c->t_idle);
    c->t_idle = 0;
}

static void on_idle(fk_loop *loop, void *arg);

void fk_conn_idle_arm(fk_conn *c)
{
    fk_conn_idle_cancel(c);
    c->t_idle = fk_loop_timer(c->srv->loop, c->srv->idle_ms, on_idle, c);
}

/* ---- lifetime ---------------------------------------------------------------- */

static void conn_free(fk_conn *c)
{
    fk_srv *srv = c->srv;
    fk_loop_cancel(srv->loop, c->t_idle);
    fk_loop_cancel(srv->loop, c->t_phase);
    fk_loop_cancel(srv->loop, c->t_write);
    fk_loop_unwatch(srv->loop, c->fd);
    SSL_free(c->ssl);
    fk_z_free(c->z);
    close(c->fd);
    fk_sasl_server_free(c->sasl);
    fk_conn_data_free(c);
    if (c->file)
        fclose(c->file);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c->in);
    free(c->out);
    free(c->hello_buf);
    free(c->matched);
    free(c);
    srv->n_active--;
}

/* The connection is over: record it and tell the server. */
static run_result conn_finish(fk_conn *c, const char *why)
{
    c->where[0] = '\0';
    fk_conn_event(c, "close", why, NULL);
    fk_srv *srv = c->srv;
    conn_free(c);
    fk_srv_conn_done(srv);
    return R_GONE;
}

void fk_conn_abort(fk_conn *c, const char *why)
{
    (void)conn_finish(c, why);
}

/*
 * The connection ended before its script did (TLS failure, peer gone): no
 * byte can go out any more.  The first reason is kept, for "not reached".
 */
static void mark_ended(fk_conn *c, const char *what, const char *detail)
{
    c->in_closed = c->out_dead = true;
    if (c->ended[0] == '\0')
        snprintf(c->ended, sizeof c->ended, "%.60s (%.120s)", what, detail);
}

/*
 * Can step s be counted as run on a connection that is gone?  An optional
 * step is skipped (its expect cannot match), and `expect: eof` with nothing
 * to send is exactly what happened; anything else never ran.
 */
static bool done_when_gone(const fk_step *s)
{
    return s->optional || (s->expect.kind == FK_EXPECT_EOF && s->send.kind == FK_SEND_NONE &&
                           s->starttls.kind == FK_STARTTLS_NONE);
}

/*
 * Finish a connection that ended early: the first step from `from` on that
 * cannot count as run is reported as "FILE:LINE:COL: not reached: why"
 * (exit 1), so a failed handshake never passes for a completed script.
 */
static run_result finish_ended(fk_conn *c, size_t from)
{
    for (size_t i = from; c->script != NULL && i < c->script->n_steps; i++) {
        const fk_step *s = &c->script->steps[i];
        bool started = i == c->step_i && c->phase != FK_PH_STEP; /* cut short midway */
        if (!started && done_when_gone(s))
            continue;
        char where[FK_WHERE_MAX], msg[FK_DIAG_MAX];
        fk_srv_where(c->srv, s->pos, where, sizeof where);
        snprintf(msg, sizeof msg, "%s: not reached: %s", where, c->ended);
        fk_transcript_event(c->srv->tr, c->id, "not-reached", msg, c->tls, where, NULL);
        fk_srv_diag(c->srv, msg);
        break;
    }
    return conn_finish(c, c->ended);
}

/* ---- reading ------------------------------------------------------------------- */

typedef enum { RD_DATA, RD_AGAIN, RD_FULL, RD_CLOSED } read_result;

/* One read from the socket or TLS into p; RD_CLOSED after recording why. */
static read_result raw_read_some(fk_conn *c, unsigned char *p, size_t size, size_t *n_out)
{
    if (c->ssl == NULL || !c->tls) {
        ssize_t n = recv(c->fd, p, size, 0);
        if (n > 0) {
            *n_out = (size_t)n;
            return RD_DATA;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return RD_AGAIN;
        fk_conn_event(c, n == 0 ? "eof" : "reset", n == 0 ? NULL : strerror(errno), NULL);
        return RD_CLOSED;
    }
    ERR_clear_error();
    int n = SSL_read(c->ssl, p, size > INT32_MAX ? INT32_MAX : (int)size);
    if (n > 0) {
        *n_out = (size_t)n;
        return RD_DATA;
    }
    int e = SSL_get_error(c->ssl, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        c->ssl_want_write = e == SSL_ERROR_WANT_WRITE;
        return RD_AGAIN;
    }
    char why[256];
    if (e == SSL_ERROR_ZERO_RETURN)
        fk_conn_event(c, "eof", "close_notify", NULL);
    else if (e == SSL_ERROR_SYSCALL && errno == ECONNRESET)
        fk_conn_event(c, "reset", strerror(errno), NULL);
    else
        fk_conn_event(c, "eof", fk_tls_error(why, sizeof why), NULL);
    return RD_CLOSED;
}

/*
 * One read of plaintext: through the DEFLATE layer when COMPRESS is on
 * (compressed bytes from the socket or TLS, decompressed into p).  A corrupt
 * stream from the client fails the run: it is the client's bug.
 */
static read_result read_some(fk_conn *c, unsigned char *p, size_t size, size_t *n_out)
{
    if (c->z == NULL)
        return raw_read_some(c, p, size, n_out);
    for (;;) {
        const char *why = NULL;
        long k = fk_z_inflate(c->z, p, size, &why);
        if (k > 0) {
            *n_out = (size_t)k;
            return RD_DATA;
        }
        if (k < 0) {
            char msg[FK_DIAG_MAX];
            snprintf(msg, sizeof msg, "the client's compressed stream is corrupt (zlib: %.200s)",
                     why);
            fk_conn_fail(c, "mismatch", c->where[0] ? c->where : "-", msg, false, NULL);
            return RD_CLOSED;
        }
        size_t room = 0, got = 0;
        unsigned char *q = fk_z_in_room(c->z, &room);
        if (room == 0)
            return RD_AGAIN;
        read_result r = raw_read_some(c, q, room, &got);
        if (r != RD_DATA)
            return r;
        fk_z_in_added(c->z, got);
    }
}

/* Make room in the line buffer, growing it up to in_max. */
static size_t in_room(fk_conn *c)
{
    if (c->in_cap - c->in_len < IN_INITIAL / 2 && c->in_cap < c->in_max) {
        size_t n = c->in_cap ? c->in_cap * 2 : IN_INITIAL;
        if (n > c->in_max)
            n = c->in_max;
        unsigned char *p = realloc(c->in, n);
        if (p != NULL) {
            c->in = p;
            c->in_cap = n;
        }
    }
    return c->in_cap - c->in_len;
}

static bool check_forbid(fk_conn *c, const unsigned char *line, size_t len);

/* Check each newly completed line against forbid at once, whatever step runs. */
static void scan_new_lines(fk_conn *c)
{
    for (;;) {
        unsigned char *s = c->in + c->in_checked;
        unsigned char *lf = memchr(s, '\n', c->in_len - c->in_checked);
        if (lf == NULL)
            return;
        size_t len = (size_t)(lf - s);
        c->in_checked += len + 1;
        if (len > 0 && s[len - 1] == '\r')
            len--;
        if (check_forbid(c, s, len))
            return;
    }
}

/*
 * TLS_FAIL: keep the ClientHello's first bytes until they parse (or cannot),
 * so the failure modes record SNI, versions and compression as a handshake
 * would.
 */
static void note_hello(fk_conn *c, const unsigned char *p, size_t n)
{
    if (c->hello_done)
        return;
    if (c->hello_buf == NULL && (c->hello_buf = malloc(FK_HELLO_MAX)) == NULL) {
        c->hello_done = true;
        return;
    }
    size_t take = n < FK_HELLO_MAX - c->hello_len ? n : FK_HELLO_MAX - c->hello_len;
    memcpy(c->hello_buf + c->hello_len, p, take);
    c->hello_len += take;
    fk_parse r = fk_client_hello_parse(c->hello_buf, c->hello_len, &c->hello);
    if (r == FK_PARSE_NEED_MORE && c->hello_len < FK_HELLO_MAX)
        return;
    c->hello_done = true;
    if (r != FK_PARSE_OK)
        fk_conn_event(c, "client-hello-unparsed", "the client's first bytes are not a TLS "
                                                  "ClientHello", NULL);
    free(c->hello_buf);
    c->hello_buf = NULL;
}

/* Read what is there (until EAGAIN, EOF or a full buffer). */
static void read_input(fk_conn *c)
{
    for (;;) {
        unsigned char scratch[DISCARD_MAX];
        bool keep = !c->discard_input;
        size_t room = keep ? in_room(c) : sizeof scratch;
        if (room == 0)
            return; /* full: the expect phase reports it if it is one line */
        size_t n = 0;
        read_result r = read_some(c, keep ? c->in + c->in_len : scratch, room, &n);
        if (r == RD_AGAIN)
            return;
        if (r == RD_CLOSED) {
            c->in_closed = true;
            return;
        }
        fk_transcript_bytes(c->srv->tr, c->id, 'c', keep ? c->in + c->in_len : scratch, n,
                            c->tls, fk_conn_where(c));
        c->got_bytes = true;
        if (c->phase == FK_PH_TLS_FAIL)
            note_hello(c, keep ? c->in + c->in_len : scratch, n);
        if (c->phase == FK_PH_EXPECT || c->phase == FK_PH_TLS_FAIL)
            fk_conn_idle_arm(c);
        if (keep) {
            c->in_len += n;
            scan_new_lines(c);
        }
    }
}

/*
 * The next complete line (CRLF or LF; at EOF the rest) in place, without its
 * line end; *used_out counts the line end too.  False when none is there.
 */
bool fk_conn_peek_line(const fk_conn *c, const unsigned char **line_out, size_t *len_out,
                      size_t *used_out)
{
    if (c->in_len == 0)
        return false;
    unsigned char *lf = memchr(c->in, '\n', c->in_len);
    if (lf == NULL && !c->in_closed)
        return false;
    size_t len = lf ? (size_t)(lf - c->in) : c->in_len;
    *used_out = lf ? len + 1 : len;
    if (lf && len > 0 && c->in[len - 1] == '\r')
        len--;
    *line_out = c->in;
    *len_out = len;
    return true;
}

void fk_conn_consume(fk_conn *c, size_t used)
{
    c->lit_acked = 0; /* the head command changed */
    memmove(c->in, c->in + used, c->in_len - used);
    c->in_len -= used;
    c->in_checked = c->in_checked > used ? c->in_checked - used : 0;
}

/* ---- output ------------------------------------------------------------------------ */

int fk_conn_out(fk_conn *c, const void *p, size_t len)
{
    if (len == 0)
        return 0;
    if (c->out_off > 0 && c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (c->out_cap - c->out_len < len) {
        size_t n = c->out_cap ? c->out_cap : 256;
        while (n - c->out_len < len)
            n *= 2;
        unsigned char *q = realloc(c->out, n);
        if (q == NULL)
            return -1;
        c->out = q;
        c->out_cap = n;
    }
    memcpy(c->out + c->out_len, p, len);
    c->out_len += len;
    return 0;
}

/* The value of placeholder name, or NULL ({tag}: the last command's tag). */
static const char *placeholder(const fk_conn *c, const char *name, size_t len)
{
    if (len == 3 && memcmp(name, "tag", 3) == 0 && c->tag[0] != '\0')
        return c->tag;
    return fk_captures_get(&c->caps, name, len);
}

/*
 * Append text with placeholders expanded, each line ending in CRLF (an
 * existing CR before LF is kept as the CR of that CRLF).  Unknown
 * placeholders stay as written, so a scenario bug shows in the transcript;
 * error lines use "*" for a missing {tag} (an untagged BAD is valid IMAP).
 */
int fk_conn_expand(fk_conn *c, const unsigned char *t, size_t len, bool error_line)
{
    size_t i = 0;
    do {
        const unsigned char *lf = memchr(t + i, '\n', len - i);
        size_t end = lf ? (size_t)(lf - t) : len;
        size_t stop = end > i && t[end - 1] == '\r' ? end - 1 : end;
        while (i < stop) {
            size_t ph = fk_placeholder_len((const char *)t + i, stop - i);
            const char *v = ph ? placeholder(c, (const char *)t + i + 1, ph - 2) : NULL;
            if (ph && v == NULL && error_line && ph == 5 && memcmp(t + i, "{tag}", 5) == 0)
                v = "*";
            if (v != NULL) {
                if (fk_conn_out(c, v, strlen(v)) != 0)
                    return -1;
                i += ph;
            } else if (fk_conn_out(c, t + i++, 1) != 0) {
                return -1;
            }
        }
        if (fk_conn_out(c, "\r\n", 2) != 0)
            return -1;
        i = end + 1;
    } while (i < len);
    return 0;
}

/* Read the next chunk of a send_file, dot-stuffed when asked (RFC 1939 §3, RFC 5321 §4.5.2). */
static int refill_file(fk_conn *c)
{
    unsigned char chunk[FILE_CHUNK];
    size_t n = fread(chunk, 1, sizeof chunk, c->file);
    for (size_t i = 0; i < n;) { /* a line (or the chunk's rest) at a time */
        if (c->file_dotstuff && c->file_bol && chunk[i] == '.' && fk_conn_out(c, ".", 1) != 0)
            return -1;
        const unsigned char *lf = memchr(chunk + i, '\n', n - i);
        size_t span = lf != NULL ? (size_t)(lf - (chunk + i)) + 1 : n - i;
        if (fk_conn_out(c, chunk + i, span) != 0)
            return -1;
        i += span;
        c->file_bol = chunk[i - 1] == '\n';
    }
    if (n < sizeof chunk) {
        bool err = ferror(c->file) != 0;
        fclose(c->file);
        c->file = NULL;
        if (err)
            return -1;
        if (c->file_dotstuff) {
            const char *end = c->file_bol ? ".\r\n" : "\r\n.\r\n";
            if (fk_conn_out(c, end, strlen(end)) != 0)
                return -1;
        }
    }
    return 0;
}

/* One write; >0 bytes written, 0 would block, -1 the peer is gone (recorded). */
static long raw_write_some(fk_conn *c, const unsigned char *p, size_t n)
{
    if (!c->tls) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w >= 0)
            return (long)w;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return 0;
        fk_conn_event(c, "reset", strerror(errno), NULL);
        mark_ended(c, "the client is gone", strerror(errno));
        return -1;
    }
    int len = c->ssl_retry_len ? c->ssl_retry_len : (int)(n > INT32_MAX ? INT32_MAX : n);
    ERR_clear_error();
    int w = SSL_write(c->ssl, p, len);
    if (w > 0) {
        c->ssl_retry_len = 0;
        return w;
    }
    int e = SSL_get_error(c->ssl, w);
    if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
        c->ssl_retry_len = len;
        return 0;
    }
    char why[256];
    fk_conn_event(c, "reset", fk_tls_error(why, sizeof why), NULL);
    mark_ended(c, "the client is gone", why);
    return -1;
}

typedef enum { FL_DONE, FL_WAIT, FL_DEAD } flush_result;

/* Write the compressed bytes the DEFLATE layer holds. */
static flush_result flush_z(fk_conn *c)
{
    size_t k = 0;
    const unsigned char *q = c->z ? fk_z_out(c->z, &k) : NULL;
    while (k > 0) {
        long w = raw_write_some(c, q, k);
        if (w <= 0)
            return w < 0 ? FL_DEAD : FL_WAIT;
        fk_z_out_done(c->z, (size_t)w);
        q = fk_z_out(c->z, &k);
    }
    return FL_DONE;
}

static bool z_out_pending(const fk_conn *c)
{
    size_t k = 0;
    return c->z != NULL && (fk_z_out(c->z, &k), k > 0);
}

/*
 * One write of plaintext; with COMPRESS on, n bytes are compressed (sync
 * flushed) once the previous ones have left, and count as written; what
 * of them the socket does not take yet waits in the layer (flush_output).
 */
static long write_some(fk_conn *c, const unsigned char *p, size_t n)
{
    if (c->z == NULL)
        return raw_write_some(c, p, n);
    flush_result r = flush_z(c);
    if (r != FL_DONE)
        return r == FL_DEAD ? -1 : 0;
    if (fk_z_deflate(c->z, p, n) != 0) {
        fk_conn_event(c, "close", "zlib deflate failed", NULL);
        c->srv->internal = true;
        mark_ended(c, "the DEFLATE layer failed", "zlib");
        return -1;
    }
    if (fk_z_cut(c->z) && !c->z_cut_noted) {
        c->z_cut_noted = true;
        fk_conn_event(c, "compress-truncated", "the compressed stream cut short (half of this "
                                               "write's compressed bytes; nothing after)", NULL);
    }
    return flush_z(c) == FL_DEAD ? -1 : (long)n;
}

static void on_write_timer(fk_loop *loop, void *arg);

/* Size of the next write: the shape's unit, or all that is there. */
static size_t next_unit(fk_conn *c, size_t avail)
{
    if (c->shape == NULL)
        return avail > WRITE_MAX ? WRITE_MAX : avail;
    if (c->unit_left == 0) {
        const fk_step *s = c->shape;
        c->unit_left = s->drip_bytes ? s->drip_bytes : s->fragment[c->frag_i++ % s->n_fragment];
        if (c->unit_left == 0)
            c->unit_left = 1;
    }
    return avail < c->unit_left ? avail : c->unit_left;
}

/* Write what is queued, shaped; FL_WAIT when a timer or POLLOUT must come first. */
static flush_result flush_output(fk_conn *c)
{
    for (;;) {
        if (c->out_off == c->out_len && c->file != NULL && refill_file(c) != 0) {
            fk_conn_event(c, "close", "cannot read send_file", NULL);
            c->srv->internal = true;
            return FL_DEAD;
        }
        if (c->out_off == c->out_len) {
            flush_result zr = flush_z(c); /* compressed bytes still in the layer */
            if (zr != FL_DONE)
                return zr;
            c->gap_due = false;
            return FL_DONE;
        }
        if (c->t_write != 0)
            return FL_WAIT;
        if (c->gap_due) {
            c->gap_due = false;
            unsigned ms = c->shape->drip_bytes ? c->shape->drip_every_ms : FK_FRAGMENT_GAP_MS;
            c->t_write = fk_loop_timer(c->srv->loop, ms, on_write_timer, c);
            return FL_WAIT;
        }
        size_t n = next_unit(c, c->out_len - c->out_off);
        long w = write_some(c, c->out + c->out_off, n);
        if (w < 0)
            return FL_DEAD;
        if (w == 0)
            return FL_WAIT;
        fk_transcript_bytes(c->srv->tr, c->id, 's', c->out + c->out_off, (size_t)w, c->tls,
                            fk_conn_where(c));
        c->out_off += (size_t)w;
        if (c->shape != NULL && (c->unit_left -= (size_t)w) == 0)
            c->gap_due = true;
    }
}

static void drop_output(fk_conn *c)
{
    c->out_off = c->out_len = 0;
    c->ssl_retry_len = 0;
    if (c->file) {
        fclose(c->file);
        c->file = NULL;
    }
}

/* ---- mismatches and oracles ---------------------------------------------------- */

/*
 * Fail the run: record "FILE:LINE:COL: msg" as event kind, print it on
 * diag_out, send the step's on_mismatch (or reply, or the personality's
 * error line) when send_error, then close.
 */
void fk_conn_fail(fk_conn *c, const char *kind, const char *where, const char *msg,
                  bool send_error, const char *reply)
{
    char full[FK_DIAG_MAX];
    snprintf(full, sizeof full, "%s: %s", where, msg);
    fk_conn_event(c, kind, full, NULL);
    fk_srv_diag(c->srv, full);
    drop_output(c);
    fk_loop_cancel(c->srv->loop, c->t_write);
    c->t_write = 0;
    fk_conn_idle_cancel(c);
    c->shape = NULL;
    c->gap_due = false;
    const fk_step *s = fk_conn_step(c);
    if (send_error && !c->out_dead) {
        if (reply == NULL)
            reply = c->srv->pers->error_line;
        if (s != NULL && s->has_on_mismatch)
            fk_conn_expand(c, s->on_mismatch.data, s->on_mismatch.len, true);
        else
            fk_conn_expand(c, (const unsigned char *)reply, strlen(reply), true);
    }
    c->discard_input = true;
    c->close_notify = true;
    c->after_flush = FK_PH_CLOSE;
    c->phase = FK_PH_FLUSH;
}

void fk_conn_remember_tag(fk_conn *c, const unsigned char *line, size_t len)
{
    size_t a = fk_atom_len((const char *)line, len);
    /* a command is "tag SP ...": a line of one atom (IDLE's DONE) is not one */
    if (c->srv->pers->first_atom_is_tag && a > 0 && a < sizeof c->tag && a < len &&
        line[a] == ' ') {
        memcpy(c->tag, line, a);
        c->tag[a] = '\0';
    }
}

/* The forbid patterns (credential tripwire); true when one fired. */
static bool check_forbid(fk_conn *c, const unsigned char *line, size_t len)
{
    const fk_forbid *f = &c->srv->sc->server.forbid;
    const struct {
        const fk_pattern *p;
        size_t n;
        bool active;
    } sets[] = {{f->before_tls, f->n_before_tls, !c->tls}, {f->always, f->n_always, true}};
    for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++) {
        for (size_t i = 0; sets[k].active && i < sets[k].n; i++) {
            const fk_pattern *p = &sets[k].p[i];
            if (fk_match_line(p, (const char *)line, len, NULL) != FK_MATCH_YES)
                continue;
            char where[FK_WHERE_MAX], shown[SHOW_MAX * 4 + 8], msg[FK_DIAG_MAX];
            fk_conn_remember_tag(c, line, len);
            fk_srv_where(c->srv, p->pos, where, sizeof where);
            fk_conn_show_line(line, len, shown, sizeof shown);
            snprintf(msg, sizeof msg, "forbidden pattern '%s'%s matched client line %s",
                     p->source, k == 0 ? " (before TLS)" : "", shown);
            fk_conn_fail(c, "oracle", where, msg, true, NULL);
            return true;
        }
    }
    return false;
}

/* What step s still waits for, for messages: 'P', one of 'A', 'B', eof. */
static void describe_expect(const fk_conn *c, const fk_step *s, char *out, size_t out_size)
{
    const fk_expect *e = &s->expect;
    if (e->kind == FK_EXPECT_EOF) {
        snprintf(out, out_size, "eof");
        return;
    }
    if (e->kind == FK_EXPECT_SASL || e->kind == FK_EXPECT_APOP) {
        fk_conn_describe_sasl(c, s, out, out_size);
        return;
    }
    if (e->kind == FK_EXPECT_DATA) {
        fk_conn_describe_data(c, s, out, out_size);
        return;
    }
    if (!e->unordered) {
        snprintf(out, out_size, "'%s'", e->patterns[c->n_matched].source);
        return;
    }
    size_t n = (size_t)snprintf(out, out_size, "one of");
    for (size_t i = 0; i < e->n_patterns && n < out_size; i++)
        if (!c->matched[i])
            n += (size_t)snprintf(out + n, out_size - n, "%s '%s'", n > 6 ? "," : "",
                                  e->patterns[i].source);
}

void fk_conn_expect_failed(fk_conn *c, const fk_step *s, const char *got, const char *reply)
{
    char want[FK_DIAG_MAX / 2], msg[FK_DIAG_MAX];
    describe_expect(c, s, want, sizeof want);
    snprintf(msg, sizeof msg, "expected %s, got %s", want, got);
    fk_conn_fail(c, "mismatch", c->where, msg, true, reply);
}

/* ---- phases ----------------------------------------------------------------------- */

static void on_phase_timer(fk_loop *loop, void *arg)
{
    (void)loop;
    fk_conn *c = arg;
    c->t_phase = 0;
    c->timer_fired = true;
    conn_run(c);
}

/* True while a wait of ms (sleep, greeting delay, drain) is running. */
static bool waiting(fk_conn *c, unsigned ms)
{
    if (ms == 0)
        return false;
    if (c->timer_fired) {
        c->timer_fired = false;
        return false;
    }
    if (c->t_phase == 0)
        c->t_phase = fk_loop_timer(c->srv->loop, ms, on_phase_timer, c);
    return true;
}

static run_result start_tls(fk_conn *c, fk_phase after)
{
    SSL_CTX *ctx = fk_srv_tls_ctx(c->srv); /* may wait for its build, at start-up only */
    c->ssl = ctx ? fk_tls_new(ctx, c->fd, &c->hello) : NULL;
    if (c->ssl == NULL) {
        c->srv->internal = true;
        return conn_finish(c, "cannot start TLS");
    }
    c->after_tls = after;
    c->phase = FK_PH_HANDSHAKE;
    return R_NEXT;
}

static run_result ph_start(fk_conn *c)
{
    if (c->srv->sc->server.tls == FK_TLS_IMPLICIT)
        return start_tls(c, FK_PH_DELAY);
    c->phase = FK_PH_DELAY;
    return R_NEXT;
}

static run_result ph_delay(fk_conn *c)
{
    if (!c->out_dead && waiting(c, c->srv->sc->server.greeting_delay_ms))
        return R_WAIT;
    c->phase = FK_PH_STEP;
    return R_NEXT;
}

static run_result ph_step(fk_conn *c)
{
    const fk_step *s = fk_conn_step(c);
    if (c->ended[0] != '\0')
        return finish_ended(c, c->step_i);
    if (s == NULL) { /* the script is over: close politely */
        c->where[0] = '\0';
        c->close_notify = true;
        c->phase = FK_PH_CLOSE;
        return R_NEXT;
    }
    fk_srv_where(c->srv, s->pos, c->where, sizeof c->where);
    c->auto_reply = NULL;
    fk_sasl_server_free(c->sasl);
    c->sasl = NULL;
    fk_conn_data_free(c);
    c->n_matched = 0;
    free(c->matched);
    c->matched = NULL;
    if (s->expect.unordered && s->expect.n_patterns > 0 &&
        (c->matched = calloc(s->expect.n_patterns, sizeof *c->matched)) == NULL) {
        c->srv->internal = true;
        return conn_finish(c, "out of memory");
    }
    c->phase = FK_PH_EXPECT;
    return R_NEXT;
}

run_result fk_conn_skip_step(fk_conn *c)
{
    fk_conn_idle_cancel(c);
    c->step_i++;
    c->phase = FK_PH_STEP;
    return R_NEXT;
}

/* Which pattern line matches (-1: none, -2: matcher error). */
static long match_expect(fk_conn *c, const fk_step *s, const unsigned char *line, size_t len)
{
    const fk_expect *e = &s->expect;
    for (size_t i = e->unordered ? 0 : c->n_matched; i < e->n_patterns; i++) {
        if (e->unordered && c->matched[i])
            continue;
        fk_match_result r = fk_match_line(&e->patterns[i], (const char *)line, len, &c->caps);
        if (r == FK_MATCH_ERROR)
            return -2;
        if (r == FK_MATCH_YES)
            return (long)i;
        if (!e->unordered)
            break;
    }
    return -1;
}

/* The client is gone (EOF, reset, dead TLS) while step s waits. */
run_result fk_conn_expect_gone(fk_conn *c, const fk_step *s)
{
    if (s->expect.kind == FK_EXPECT_EOF) {
        fk_conn_idle_cancel(c);
        c->phase = FK_PH_SLEEP;
        return R_NEXT;
    }
    if (s->optional && c->n_matched == 0)
        return fk_conn_skip_step(c);
    fk_conn_expect_failed(c, s, "eof", NULL);
    return R_NEXT;
}

/* One client line against step s. */
static run_result expect_line(fk_conn *c, const fk_step *s, const unsigned char *line,
                              size_t len, size_t used)
{
    char shown[SHOW_MAX * 4 + 8];
    long i = s->expect.kind == FK_EXPECT_LINES ? match_expect(c, s, line, len) : -1;
    if (i == -1 && s->optional && c->n_matched == 0)
        return fk_conn_skip_step(c); /* the line stays for the next step */
    if (i < 0) {
        fk_conn_remember_tag(c, line, len); /* the error line answers this command */
        fk_conn_show_line(line, len, shown, sizeof shown);
        if (i == -2)
            strcat(shown, " (pattern too costly to match)");
        fk_conn_expect_failed(c, s, shown, NULL);
        return R_NEXT;
    }
    fk_conn_remember_tag(c, line, len);
    fk_conn_consume(c, used);
    if (s->expect.unordered)
        c->matched[i] = true;
    if (++c->n_matched == s->expect.n_patterns) {
        fk_conn_idle_cancel(c);
        c->phase = FK_PH_SLEEP;
    }
    return R_NEXT;
}

run_result fk_conn_wait_input(fk_conn *c)
{
    if (c->t_idle == 0)
        fk_conn_idle_arm(c);
    return R_WAIT;
}

run_result fk_conn_expect_done(fk_conn *c)
{
    fk_conn_idle_cancel(c);
    c->phase = FK_PH_SLEEP;
    return R_NEXT;
}

run_result fk_conn_reply_and_expect(fk_conn *c)
{
    c->shape = NULL;
    c->gap_due = false;
    c->after_flush = FK_PH_EXPECT;
    c->phase = FK_PH_FLUSH;
    return R_NEXT;
}

run_result fk_conn_internal(fk_conn *c, const char *why)
{
    c->srv->internal = true;
    return conn_finish(c, why);
}

static run_result expect_none(fk_conn *c, const fk_step *s)
{
    (void)s;
    c->phase = FK_PH_SLEEP;
    return R_NEXT;
}

/* expect: patterns or eof: one command (a line; IMAP: with its literals) at a time. */
static run_result expect_lines(fk_conn *c, const fk_step *s)
{
    const unsigned char *line;
    size_t len, used;
    char why[FK_DIAG_MAX / 4];
    switch (fk_conn_peek_unit(c, &line, &len, &used, why, sizeof why)) {
    case UNIT_READY:
        return expect_line(c, s, line, len, used);
    case UNIT_REPLY:
        return fk_conn_reply_and_expect(c);
    case UNIT_ERROR: { /* the error line answers the command that broke the cap */
        const unsigned char *lf = memchr(c->in, '\n', c->in_len);
        fk_conn_remember_tag(c, c->in, lf ? (size_t)(lf - c->in) : c->in_len);
        fk_conn_expect_failed(c, s, why, NULL);
        return R_NEXT;
    }
    case UNIT_WAIT:
        break;
    }
    return c->in_closed ? fk_conn_expect_gone(c, s) : fk_conn_wait_input(c);
}

/* How each kind of expect reads the client (the personalities' modes). */
static fk_expect_fn *const expect_fns[] = {
    [FK_EXPECT_NONE] = expect_none,          [FK_EXPECT_LINES] = expect_lines,
    [FK_EXPECT_EOF] = expect_lines,          [FK_EXPECT_SASL] = fk_conn_expect_sasl,
    [FK_EXPECT_DATA] = fk_conn_expect_data,  [FK_EXPECT_APOP] = fk_conn_expect_apop,
};

static run_result ph_expect(fk_conn *c)
{
    const fk_step *s = fk_conn_step(c);
    return expect_fns[s->expect.kind](c, s);
}

static run_result ph_sleep(fk_conn *c)
{
    if (waiting(c, fk_conn_step(c)->sleep_ms))
        return R_WAIT;
    c->phase = FK_PH_SEND;
    return R_NEXT;
}

static int queue_send(fk_conn *c, const fk_step *s)
{
    size_t from = c->out_len;
    int rc = 0;
    switch (s->send.kind) {
    case FK_SEND_TEXT:
        rc = fk_conn_expand(c, s->send.text.data, s->send.text.len, false);
        return rc == 0 && s->send.dotstuff ? fk_conn_dotstuff_tail(c, from) : rc;
    case FK_SEND_RAW:
        return fk_conn_out(c, s->send.text.data, s->send.text.len);
    case FK_SEND_FILE:
        c->file = fopen(s->send.path, "rb");
        c->file_dotstuff = s->send.dotstuff;
        c->file_bol = true;
        return c->file ? 0 : -1;
    case FK_SEND_NONE: /* a personality's default answer (SASL, APOP), if any */
        if (c->auto_reply != NULL)
            return fk_conn_expand(c, (const unsigned char *)c->auto_reply, strlen(c->auto_reply),
                                  false);
        break;
    }
    return 0;
}

/*
 * COMPRESS=DEFLATE on for both directions (RFC 4978 section 3): the client
 * may send nothing between its COMPRESS and the server's OK, so a byte
 * already here fails the run (the oracle).  0: on; 1: the run failed (the
 * phase is set: go on); -1: out of memory, the connection is gone.
 */
static int start_compress(fk_conn *c)
{
    if (c->in_len > 0) {
        char msg[128];
        snprintf(msg, sizeof msg,
                 "client sent %zu byte(s) after COMPRESS before the server's OK", c->in_len);
        fk_conn_fail(c, "oracle", c->where, msg, false, NULL);
        return 1;
    }
    c->z = fk_z_new();
    if (c->z == NULL) {
        fk_conn_internal(c, "out of memory (zlib)");
        return -1;
    }
    fk_conn_event(c, "compress", "DEFLATE on, both directions", NULL);
    return 0;
}

static run_result ph_send(fk_conn *c)
{
    const fk_step *s = fk_conn_step(c);
    if (s->compress && s->compress_fault == FK_COMPRESS_FAULT_EARLY && !c->out_dead &&
        c->z == NULL) { /* the OK itself goes out compressed */
        int z = start_compress(c);
        if (z != 0)
            return z < 0 ? R_GONE : R_NEXT;
    }
    c->after_flush = FK_PH_STARTTLS;
    c->phase = FK_PH_FLUSH;
    if (c->out_dead)
        return R_NEXT;
    c->shape = s->drip_bytes || s->n_fragment ? s : NULL;
    c->frag_i = c->unit_left = 0;
    c->gap_due = false;
    if (c->out_off == c->out_len) /* all written: start the buffer over */
        c->out_off = c->out_len = 0;
    size_t from = c->out_len;
    if (c->z != NULL && s->compress_fault != FK_COMPRESS_FAULT_NONE &&
        s->compress_fault != FK_COMPRESS_FAULT_EARLY)
        fk_z_arm(c->z, s->compress_fault == FK_COMPRESS_FAULT_CORRUPT ? FK_Z_FAULT_CORRUPT
                                                                    : FK_Z_FAULT_TRUNCATE);
    if (c->tls && (s->corrupt_record || s->end == FK_END_TRUNCATE)) /* the send's first record */
        fk_tap_arm(SSL_get_wbio(c->ssl), s->corrupt_record ? FK_TAP_CORRUPT : FK_TAP_TRUNCATE);
    if (queue_send(c, s) != 0 ||
        (s->starttls.inject.len && fk_conn_out(c, s->starttls.inject.data, s->starttls.inject.len))) {
        c->srv->internal = true;
        return conn_finish(c, s->send.kind == FK_SEND_FILE ? "cannot open send_file" : "out of memory");
    }
    if (!c->greeted && c->out_len > from) { /* the first thing sent: APOP's timestamp */
        c->greeted = true;
        fk_conn_note_greeting(c, c->out + from, c->out_len - from);
    }
    return R_NEXT;
}

static run_result ph_flush(fk_conn *c)
{
    size_t before = c->out_off;
    flush_result r = c->out_dead ? FL_DEAD : flush_output(c);
    if (r == FL_WAIT) {
        /* Blocked on a full send buffer (not a drip/fragment pause): a client
           that stops reading gets idle_ms from the last progress, then fails. */
        if (c->t_write != 0 || c->out_off != before)
            fk_conn_idle_cancel(c);
        if (c->t_write == 0 && c->t_idle == 0)
            fk_conn_idle_arm(c);
        return R_WAIT;
    }
    fk_conn_idle_cancel(c);
    if (r == FL_DEAD) {
        c->out_dead = c->in_closed = true;
        drop_output(c);
    }
    c->phase = c->after_flush;
    return R_NEXT;
}

static run_result ph_starttls(fk_conn *c)
{
    const fk_step *st = fk_conn_step(c);
    if (st->compress && c->z == NULL && !c->out_dead && c->ended[0] == '\0') {
        /* after the send (the OK) is out: the next byte either way is compressed */
        int z = start_compress(c);
        if (z != 0)
            return z < 0 ? R_GONE : R_NEXT;
    }
    const fk_starttls *t = &st->starttls;
    if (t->kind != FK_STARTTLS_NONE && c->ended[0] != '\0')
        return finish_ended(c, c->step_i); /* the handshake of this step never started */
    if (t->kind == FK_STARTTLS_NONE || c->out_dead) {
        c->phase = FK_PH_END;
        return R_NEXT;
    }
    if (c->in_len > 0) { /* the oracle: nothing may come between STARTTLS and the handshake */
        char msg[128];
        snprintf(msg, sizeof msg,
                 "client sent %zu plaintext byte(s) after STARTTLS before the TLS handshake",
                 c->in_len);
        fk_conn_fail(c, "oracle", c->where, msg, false, NULL);
        return R_NEXT;
    }
    if (t->kind == FK_STARTTLS_HANDSHAKE)
        return start_tls(c, FK_PH_END);
    c->discard_input = true; /* the ClientHello is read and thrown away */
    c->got_bytes = false;
    c->phase = FK_PH_TLS_FAIL;
    return R_NEXT;
}

static void record_hello(fk_conn *c)
{
    if (c->hello.seen)
        fk_conn_event(c, "client-hello", NULL, fk_client_hello_json(&c->hello));
}

/* The client certificate's CN, kept for EXTERNAL; the event says it when one was asked for. */
static json_t *take_peer_cn(fk_conn *c)
{
    c->has_peer_cn = fk_tls_peer_cn(c->ssl, c->peer_cn, sizeof c->peer_cn) == 0;
    if (c->srv->sc->server.client_cert == FK_CLIENT_CERT_NONE)
        return NULL;
    return json_pack("{s:s?}", "client_cert", c->has_peer_cn ? c->peer_cn : NULL);
}

static run_result ph_handshake(fk_conn *c)
{
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        fk_conn_idle_cancel(c);
        record_hello(c);
        c->tls = true;
        char info[128];
        snprintf(info, sizeof info, "%s %s", SSL_get_version(c->ssl),
                 SSL_CIPHER_get_name(SSL_get_current_cipher(c->ssl)));
        fk_conn_event(c, "tls-handshake", info, take_peer_cn(c));
        c->phase = c->after_tls;
        return R_NEXT;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        c->ssl_want_write = e == SSL_ERROR_WANT_WRITE;
        if (c->t_idle == 0)
            fk_conn_idle_arm(c);
        return R_WAIT;
    }
    char why[256];
    record_hello(c);
    const char *what = e == SSL_ERROR_SYSCALL ? "connection closed during the handshake"
                                              : fk_tls_error(why, sizeof why);
    fk_conn_event(c, "tls-failed", what, NULL);
    fk_conn_idle_cancel(c);
    mark_ended(c, "the TLS handshake failed", what);
    c->phase = c->after_tls;
    return R_NEXT;
}

/* The scripted failure modes answer the ClientHello with these. */
static run_result ph_tls_fail(fk_conn *c)
{
    const fk_starttls *t = &fk_conn_step(c)->starttls;
    if (!c->hello_done && !c->in_closed) {
        if (c->t_idle == 0)
            fk_conn_idle_arm(c);
        return R_WAIT;
    }
    fk_conn_idle_cancel(c);
    record_hello(c);
    static const char *what[] = {[FK_STARTTLS_PLAINTEXT] = "answered the ClientHello with plaintext",
                                 [FK_STARTTLS_ALERT] = "answered the ClientHello with a fatal alert",
                                 [FK_STARTTLS_SILENCE] = "left the ClientHello unanswered"};
    fk_conn_event(c, "tls-failed", what[t->kind], NULL);
    int rc = 0;
    if (t->kind == FK_STARTTLS_PLAINTEXT)
        rc = fk_conn_out(c, t->plaintext.data, t->plaintext.len);
    else if (t->kind == FK_STARTTLS_ALERT)
        rc = fk_conn_out(c, fk_tls_alert_handshake_failure, sizeof fk_tls_alert_handshake_failure);
    if (rc != 0) {
        c->srv->internal = true;
        return conn_finish(c, "out of memory");
    }
    c->shape = NULL;
    c->after_flush = FK_PH_END;
    c->phase = FK_PH_FLUSH;
    return R_NEXT;
}

static void set_linger0(int fd)
{
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

/*
 * alert: NAME.  OpenSSL sends fatal alerts only for errors it detects, so it
 * is fed a record it answers with that alert, encrypted with the live keys;
 * the alert it actually sent is recorded.  The TLS object is dead after it:
 * the rest of the connection is raw TCP (FIN, then drain).
 */
static void send_alert(fk_conn *c, fk_alert a)
{
    size_t len = 0;
    const unsigned char *rec = fk_tap_alert_record(a, &len);
    char buf[8], info[160];
    if (rec == NULL || fk_tap_inject(SSL_get_rbio(c->ssl), rec, len) != 0)
        return;
    c->hello.alert_sent = 0;
    ERR_clear_error();
    (void)SSL_read(c->ssl, buf, sizeof buf);
    ERR_clear_error();
    unsigned sent = c->hello.alert_sent;
    if (sent == 0)
        snprintf(info, sizeof info, "OpenSSL sent no alert");
    else
        snprintf(info, sizeof info, "%s alert %u (%s)", (sent >> 8) == 2 ? "fatal" : "warning",
                 sent & 0xffu, SSL_alert_desc_string_long((int)sent));
    fk_conn_event(c, "tls-alert", info, json_pack("{s:i}", "alert", (int)(sent & 0xffu)));
    c->tls = false; /* what follows is discarded raw bytes */
}

static run_result ph_end(fk_conn *c)
{
    switch (fk_conn_step(c)->end) {
    case FK_END_ALERT:
    case FK_END_TRUNCATE:
        if (c->tls && fk_conn_step(c)->end == FK_END_ALERT)
            send_alert(c, fk_conn_step(c)->alert);
        else if (c->tls)
            fk_conn_event(c, "tls-truncated", fk_tap_cut(SSL_get_wbio(c->ssl))
                                                  ? "a TLS record cut short, then FIN"
                                                  : "no record to cut (nothing was sent)", NULL);
        c->close_notify = false;
        c->phase = FK_PH_CLOSE;
        return R_NEXT;
    case FK_END_CLOSE:
    case FK_END_CLOSE_NO_NOTIFY:
    case FK_END_COMPRESS_CUT: /* the compressed stream stops mid-block: no goodbye */
        c->close_notify = fk_conn_step(c)->end == FK_END_CLOSE;
        c->phase = FK_PH_CLOSE;
        return R_NEXT;
    case FK_END_RESET:
        set_linger0(c->fd);
        return conn_finish(c, "reset by the script (RST)");
    case FK_END_HANG:
        c->discard_input = true;
        c->phase = FK_PH_HUNG;
        return R_NEXT;
    case FK_END_SHUTDOWN_WRITE:
        if (c->tls && !c->out_dead)
            SSL_shutdown(c->ssl);
        shutdown(c->fd, SHUT_WR);
        fk_conn_event(c, "close", "write side shut by the script (FIN)", NULL);
        break;
    case FK_END_NONE:
        break;
    }
    c->step_i++;
    c->phase = FK_PH_STEP;
    return R_NEXT;
}

/* FIN (after close_notify when asked), then drain so unread bytes cause no RST. */
static run_result ph_close(fk_conn *c)
{
    if (c->tls && c->close_notify && !c->out_dead) {
        ERR_clear_error();
        SSL_shutdown(c->ssl);
    }
    if (c->out_dead)
        return conn_finish(c, "closed (peer gone)");
    shutdown(c->fd, SHUT_WR);
    c->discard_input = true;
    c->timer_fired = false;
    c->phase = FK_PH_DRAIN;
    return R_NEXT;
}

static run_result ph_drain(fk_conn *c)
{
    if (!c->in_closed && waiting(c, FK_DRAIN_MS))
        return R_WAIT;
    return conn_finish(c, c->close_notify && c->tls ? "closed (close_notify, FIN)" : "closed (FIN)");
}

static run_result ph_hung(fk_conn *c)
{
    if (c->in_closed)
        return conn_finish(c, "hung connection closed by the client");
    if (c->t_idle == 0 && !c->srv->opt->repeat)
        fk_conn_idle_arm(c);
    return R_WAIT;
}

typedef run_result phase_fn(fk_conn *c);

static phase_fn *const phases[FK_PH_COUNT] = {
    [FK_PH_START] = ph_start,       [FK_PH_DELAY] = ph_delay,
    [FK_PH_STEP] = ph_step,         [FK_PH_EXPECT] = ph_expect,
    [FK_PH_SLEEP] = ph_sleep,       [FK_PH_SEND] = ph_send,
    [FK_PH_FLUSH] = ph_flush,       [FK_PH_STARTTLS] = ph_starttls,
    [FK_PH_HANDSHAKE] = ph_handshake, [FK_PH_TLS_FAIL] = ph_tls_fail,
    [FK_PH_END] = ph_end,           [FK_PH_CLOSE] = ph_close,
    [FK_PH_DRAIN] = ph_drain,       [FK_PH_HUNG] = ph_hung,
};

/* ---- events --------------------------------------------------------------------- */

static void on_io(fk_loop *loop, int fd, unsigned events, void *arg);

static void update_interest(fk_conn *c)
{
    unsigned mask = 0;
    if (c->phase == FK_PH_HANDSHAKE) {
        mask = c->ssl_want_write ? FK_EV_WRITE : FK_EV_READ;
    } else {
        if (!c->in_closed && (c->discard_input || c->in_len < c->in_max))
            mask |= FK_EV_READ;
        if ((c->phase == FK_PH_FLUSH && c->t_write == 0 &&
             (c->out_off < c->out_len || z_out_pending(c))) ||
            c->ssl_want_write)
            mask |= FK_EV_WRITE;
    }
    fk_loop_watch(c->srv->loop, c->fd, mask, on_io, c);
}

static void conn_run(fk_conn *c)
{
    for (;;) {
        run_result r = phases[c->phase](c);
        if (r == R_GONE)
            return;
        if (r != R_WAIT)
            continue;
        /* TLS may hold decrypted bytes, DEFLATE decompressible ones, that poll()
           cannot announce */
        bool held = (c->tls && c->phase != FK_PH_HANDSHAKE && SSL_has_pending(c->ssl)) ||
                    (c->z != NULL && fk_z_in_pending(c->z));
        if (!(held && !c->in_closed && (c->discard_input || c->in_len < c->in_max)))
            break;
        read_input(c);
    }
    update_interest(c);
}

static void on_io(fk_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)fd;
    fk_conn *c = arg;
    c->ssl_want_write = c->phase == FK_PH_HANDSHAKE && c->ssl_want_write;
    if (c->phase != FK_PH_HANDSHAKE && (events & (FK_EV_READ | FK_EV_ERROR)) && !c->in_closed)
        read_input(c);
    conn_run(c);
}

static void on_write_timer(fk_loop *loop, void *arg)
{
    (void)loop;
    fk_conn *c = arg;
    c->t_write = 0;
    conn_run(c);
}

/*
 * The client read nothing of our output for idle_ms (its receive window and
 * our send buffer are full): fail the step, and RST, since a FIN would queue
 * behind bytes that never leave.
 */
static void write_stalled(fk_conn *c)
{
    char msg[FK_DIAG_MAX];
    snprintf(msg, sizeof msg, "%s: the client stopped reading: %zu byte(s)%s unsent after %u ms "
                              "without progress",
             c->where[0] ? c->where : "-", c->out_len - c->out_off,
             c->file ? " and the rest of send_file" : "", c->srv->idle_ms);
    fk_conn_event(c, "mismatch", msg, NULL);
    fk_srv_diag(c->srv, msg);
    set_linger0(c->fd);
    (void)conn_finish(c, "reset: the client stopped reading");
}

static void on_idle(fk_loop *loop, void *arg)
{
    (void)loop;
    fk_conn *c = arg;
    char got[64];
    c->t_idle = 0;
    snprintf(got, sizeof got, "nothing within %u ms", c->srv->idle_ms);
    switch (c->phase) {
    case FK_PH_EXPECT:
        fk_conn_expect_failed(c, fk_conn_step(c), got, NULL);
        break;
    case FK_PH_HANDSHAKE:
    case FK_PH_TLS_FAIL:
        fk_conn_event(c, "tls-failed", c->phase == FK_PH_HANDSHAKE ? "handshake timed out"
                                                            : "no ClientHello arrived", NULL);
        if (c->phase == FK_PH_HANDSHAKE) {
            mark_ended(c, "the TLS handshake timed out", got);
        }
        c->phase = c->phase == FK_PH_HANDSHAKE ? c->after_tls : FK_PH_END;
        break;
    case FK_PH_HUNG:
        (void)conn_finish(c, "idle timeout while hung");
        return;
    case FK_PH_FLUSH:
        write_stalled(c);
        return;
    default:
        break;
    }
    conn_run(c);
}

/* ---- entry points ------------------------------------------------------------------ */

int fk_conn_start(fk_srv *srv, int fd, const fk_script *script, unsigned id)
{
    fk_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return -1;
    c->srv = srv;
    c->fd = fd;
    c->id = id;
    c->script = script;
    c->in_max = srv->line_max + 2; /* the line and its CRLF */
    if (srv->pers->extra_mode == FK_READ_IMAP_LITERAL) /* a command: two lines and a literal */
        c->in_max = 2 * (srv->line_max + 2) + srv->literal_max;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* each write its own segment */
    if (fk_loop_watch(srv->loop, fd, 0, on_io, c) != 0) {
        free(c);
        return -1;
    }
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->n_active++;
    fk_conn_event(c, "accept", script ? NULL : "accept: hang", NULL);
    c->discard_input = script == NULL;
    c->phase = script ? FK_PH_START : FK_PH_HUNG;
    conn_run(c);
    return 0;
}

bool fk_conn_complete(const fk_conn *c, char *where, size_t where_size)
{
    if (c->script == NULL || c->phase == FK_PH_HUNG || c->phase == FK_PH_CLOSE ||
        c->phase == FK_PH_DRAIN)
        return true;
    for (size_t i = c->step_i; i < c->script->n_steps; i++) {
        const fk_step *s = &c->script->steps[i];
        bool untouched = i > c->step_i || c->phase == FK_PH_STEP ||
                         (c->phase == FK_PH_EXPECT && c->n_matched == 0);
        if (s->optional && untouched)
            continue;
        fk_srv_where(c->srv, s->pos, where, where_size);
        return false;
    }
    return true;
}

const fk_conn *fk_conn_next(const fk_conn *c)
{
    return c->next;
}
