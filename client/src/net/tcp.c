/*
 * tcp.c: the plaintext TCP transport (transport.h): resolve, connect to each
 * address in turn with a non-blocking connect bounded by its share of the
 * connect budget, then poll-bounded recv/send.  MSG_NOSIGNAL on every send so
 * a closed peer is an error value, never a SIGPIPE.  The TLS transport
 * (tls.c) reuses this struct and the wait helper; starttls hands it the fd.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mailjig/transport.h"
#include "tls_internal.h"

/*
 * Smallest slice of the connect budget one address gets, so that a long
 * address list cannot starve each address of a usable share; the total
 * budget and the deadline still bound the whole connect.
 */
#define MJ_CONNECT_SHARE_MIN_MS 1000
/* Room for the per-address failure list in a connect error message. */
#define MJ_CONNECT_DETAIL_MAX 320
/* Longest numeric host text (INET6_ADDRSTRLEN plus slack). */
#define MJ_ADDR_TEXT_MAX 64
/* Escaped host name in messages. */
#define MJ_HOST_TEXT_MAX 128

static mj_sock *sock_of(mj_transport *t)
{
    return (mj_sock *)t;
}

mj_outcome mj_net_wait(int fd, short events, const mj_timeouts *t, const char *what,
                       mj_error *err)
{
    for (;;) {
        mj_reason reason;
        int ms = mj_timeouts_wait_ms(t, &reason);
        struct pollfd p = {.fd = fd, .events = events, .revents = 0};
        int n = (ms > 0) ? poll(&p, 1, ms) : 0;
        if (n > 0)
            return MJ_OK;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return mj_error_set(err, MJ_INTERNAL, MJ_R_SYSTEM, "poll: %s", strerror(errno));
        if (reason == MJ_R_DEADLINE)
            return mj_error_set(err, MJ_TIMEOUT, MJ_R_DEADLINE,
                                "total deadline exceeded while waiting for %s", what);
        return mj_error_set(err, MJ_TIMEOUT, MJ_R_IO_TIMEOUT, "no %s for %d ms", what, ms);
    }
}

mj_outcome mj_net_deadline_check(const mj_timeouts *t, const char *what, mj_error *err)
{
    if (t == NULL || t->deadline_ms <= 0 || mj_now_ms() < t->deadline_ms)
        return MJ_OK;
    return mj_error_set(err, MJ_TIMEOUT, MJ_R_DEADLINE,
                        "total deadline exceeded while waiting for %s", what);
}

/* ---- the plaintext ops ------------------------------------------------------ */

/* Map a failed recv/send errno onto the outcome classes. */
static mj_outcome socket_failure(int e, const char *op, mj_error *err)
{
    if (e == ECONNRESET || e == EPIPE || e == ECONNABORTED)
        return mj_error_set(err, MJ_CONNECTION_LOST, MJ_R_RESET,
                            "connection reset by the server (%s: %s)", op, strerror(e));
    if (e == ETIMEDOUT || e == EHOSTUNREACH || e == ENETUNREACH)
        return mj_error_set(err, MJ_CONNECTION_LOST, MJ_R_RESET, "connection lost (%s: %s)", op,
                            strerror(e));
    return mj_error_set(err, MJ_CONNECTION_LOST, MJ_R_SYSTEM, "%s: %s", op, strerror(e));
}

static mj_outcome tcp_read(mj_transport *t, void *buf, size_t cap, size_t *n_out, mj_error *err)
{
    mj_sock *s = sock_of(t);
    mj_outcome o = mj_net_deadline_check(t->timeouts, "data from the server", err);
    if (o != MJ_OK)
        return o;
    for (;;) {
        ssize_t n = recv(s->fd, buf, cap, 0);
        if (n > 0) {
            *n_out = (size_t)n;
            return MJ_OK;
        }
        if (n == 0)
            return mj_error_set(err, MJ_CONNECTION_LOST, MJ_R_EOF,
                                "the server closed the connection");
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return socket_failure(errno, "recv", err);
        o = mj_net_wait(s->fd, POLLIN, t->timeouts, "data from the server", err);
        if (o != MJ_OK)
            return o;
    }
}

static mj_outcome tcp_write(mj_transport *t, const void *buf, size_t len, mj_error *err)
{
    mj_sock *s = sock_of(t);
    const unsigned char *p = buf;
    mj_outcome o = mj_net_deadline_check(t->timeouts, "progress sending to the server", err);
    if (o != MJ_OK)
        return o;
    while (len > 0) {
        ssize_t n = send(s->fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return socket_failure(errno, "send", err);
        o = mj_net_wait(s->fd, POLLOUT, t->timeouts, "progress sending to the server", err);
        if (o != MJ_OK)
            return o;
    }
    return MJ_OK;
}

static size_t tcp_pending(mj_transport *t)
{
    int n = 0;
    if (ioctl(sock_of(t)->fd, FIONREAD, &n) != 0 || n < 0)
        return 0;
    return (size_t)n;
}

static mj_outcome tcp_starttls(mj_transport *t, const mj_tls_config *cfg, const char *host,
                               mj_error *err)
{
    return mj_tls_start(sock_of(t), cfg, host, err);
}

static void tcp_tls_info(mj_transport *t, mj_tls_info *info_out)
{
    (void)t;
    memset(info_out, 0, sizeof *info_out);
    info_out->state = MJ_TLS_NONE;
}

static void tcp_close(mj_transport *t)
{
    mj_sock *s = sock_of(t);
    mj_tls_release(s);
    if (s->fd >= 0)
        close(s->fd);
    free(s);
}

static const mj_transport_ops tcp_ops = {
    .name = "tcp",
    .read = tcp_read,
    .write = tcp_write,
    .pending = tcp_pending,
    .starttls = tcp_starttls,
    .tls_info = tcp_tls_info,
    .close = tcp_close,
};

/* ---- construction ---------------------------------------------------------- */

static mj_outcome sock_new(int fd, const mj_timeouts *timeouts, mj_transport **t_out,
                           mj_error *err)
{
    mj_sock *s = calloc(1, sizeof *s);
    if (s == NULL) {
        close(fd);
        return mj_error_set(err, MJ_INTERNAL, MJ_R_NO_MEMORY, "out of memory");
    }
    s->base.ops = &tcp_ops;
    s->base.timeouts = timeouts;
    s->fd = fd;
    s->tls_state = MJ_TLS_NONE;
    *t_out = &s->base;
    return MJ_OK;
}

/* Interactive protocols: every command should leave at once (no Nagle). */
static void set_nodelay(int fd)
{
    int one = 1;
    /* Fails harmlessly on non-TCP sockets (socketpairs in tests). */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

mj_outcome mj_tcp_from_fd(int fd, const mj_timeouts *timeouts, mj_transport **t_out,
                          mj_error *err)
{
    *t_out = NULL;
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        int e = errno;
        close(fd);
        return mj_error_set(err, MJ_INTERNAL, MJ_R_SYSTEM, "fcntl: %s", strerror(e));
    }
    set_nodelay(fd);
    return sock_new(fd, timeouts, t_out, err);
}

/* How one address failed, for the final classification. */
typedef enum conn_fail { CF_REFUSED, CF_UNREACHABLE, CF_TIMEOUT, CF_OTHER } conn_fail;

/* Tallies and the per-address story for the error message. */
typedef struct connect_report {
    unsigned count[CF_OTHER + 1];
    unsigned tried;
    char detail[MJ_CONNECT_DETAIL_MAX];
    size_t detail_len;
} connect_report;

static conn_fail classify_errno(int e)
{
    switch (e) {
    case ECONNREFUSED:
        return CF_REFUSED;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case EADDRNOTAVAIL:
    case EAFNOSUPPORT:
    case ENETDOWN:
        return CF_UNREACHABLE;
    case ETIMEDOUT:
        return CF_TIMEOUT;
    default:
        return CF_OTHER;
    }
}

static void report_add(connect_report *r, const struct addrinfo *ai, int e)
{
    char host[MJ_ADDR_TEXT_MAX];
    if (getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof host, NULL, 0, NI_NUMERICHOST) != 0)
        snprintf(host, sizeof host, "?");
    r->count[classify_errno(e)]++;
    r->tried++;
    size_t room = sizeof r->detail - r->detail_len;
    int n = snprintf(r->detail + r->detail_len, room, "%s%s: %s", r->tried > 1 ? "; " : "", host,
                     e == ETIMEDOUT ? "timed out" : strerror(e));
    if (n > 0)
        r->detail_len += ((size_t)n < room) ? (size_t)n : room - 1;
}

/* Wait for a non-blocking connect; returns 0 or an errno (ETIMEDOUT). */
static int finish_connect(int fd, int64_t until_ms)
{
    for (;;) {
        int64_t left = until_ms - mj_now_ms();
        if (left <= 0)
            return ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = POLLOUT, .revents = 0};
        int n = poll(&p, 1, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        if (n == 0)
            return ETIMEDOUT;
        int so_error = 0;
        socklen_t len = sizeof so_error;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0)
            return errno;
        return so_error;
    }
}

/* Connect to one address before until_ms; returns the fd or -1 with *errno_out. */
static int connect_one(const struct addrinfo *ai, int64_t until_ms, int *errno_out)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
    if (fd < 0) {
        *errno_out = errno;
        return -1;
    }
    int e = 0;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        e = errno;
        if (e == EINPROGRESS || e == EINTR)
            e = finish_connect(fd, until_ms);
    }
    if (e != 0) {
        close(fd);
        *errno_out = e;
        return -1;
    }
    return fd;
}

/* The final error once every address failed. */
static mj_outcome connect_failed(const mj_endpoint *ep, const char *host, connect_report *r,
                                 bool deadline_hit, mj_error *err)
{
    if (deadline_hit)
        return mj_error_set(err, MJ_TIMEOUT, MJ_R_DEADLINE,
                            "total deadline exceeded connecting to %s port %u (%s)", host,
                            ep->port, r->detail);
    if (r->tried > 0 && r->count[CF_TIMEOUT] == r->tried)
        return mj_error_set(err, MJ_TIMEOUT, MJ_R_CONNECT_TIMEOUT,
                            "timed out connecting to %s port %u (%s)", host, ep->port, r->detail);
    mj_reason reason = (r->count[CF_REFUSED] > 0 || r->count[CF_UNREACHABLE] == 0)
                           ? MJ_R_REFUSED
                           : MJ_R_UNREACHABLE;
    return mj_error_set(err, MJ_CONNECT_FAILED, reason, "cannot connect to %s port %u (%s)", host,
                        ep->port, r->detail);
}

static mj_outcome resolve(const mj_endpoint *ep, const char *host_text, struct addrinfo **res,
                          mj_error *err)
{
    char port[16];
    snprintf(port, sizeof port, "%u", ep->port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = AI_NUMERICSERV | (ep->connect_addr != NULL ? AI_NUMERICHOST : 0);
    const char *name = ep->connect_addr != NULL ? ep->connect_addr : ep->host;
    int rc = getaddrinfo(name, port, &hints, res);
    if (rc == 0)
        return MJ_OK;
    if (ep->connect_addr != NULL) {
        char addr[MJ_HOST_TEXT_MAX];
        mj_escape(ep->connect_addr, strlen(ep->connect_addr), addr, sizeof addr);
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "connect address \"%s\" is not a numeric IP address", addr);
    }
    return mj_error_set(err, MJ_CONNECT_FAILED, MJ_R_RESOLVE, "cannot resolve host %s: %s",
                        host_text, rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
}

mj_outcome mj_tcp_connect(const mj_endpoint *ep, const mj_timeouts *timeouts,
                          mj_transport **t_out, mj_error *err)
{
    *t_out = NULL;
    if (ep == NULL || ep->host == NULL || ep->host[0] == '\0' || ep->port == 0 ||
        ep->port > 65535)
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT, "no host or no valid port");
    char host[MJ_HOST_TEXT_MAX];
    mj_escape(ep->host, strlen(ep->host), host, sizeof host);

    struct addrinfo *res = NULL;
    mj_outcome o = resolve(ep, host, &res, err);
    if (o != MJ_OK)
        return o;

    unsigned left = 0;
    for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next)
        left++;
    int budget = (timeouts != NULL && timeouts->connect_ms > 0) ? timeouts->connect_ms
                                                                 : MJ_DEFAULT_CONNECT_TIMEOUT_MS;
    int64_t end = mj_now_ms() + budget;
    bool deadline_hit = false;
    if (timeouts != NULL && timeouts->deadline_ms > 0 && timeouts->deadline_ms < end) {
        end = timeouts->deadline_ms;
        deadline_hit = true; /* provisional: only if the deadline is what ran out */
    }
    connect_report report;
    memset(&report, 0, sizeof report);
    int fd = -1;
    for (const struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next, left--) {
        int64_t now = mj_now_ms();
        int64_t share = (end - now) / left;
        if (share < MJ_CONNECT_SHARE_MIN_MS)
            share = MJ_CONNECT_SHARE_MIN_MS;
        int64_t until = (now + share < end) ? now + share : end;
        int e = 0;
        fd = connect_one(ai, until, &e);
        if (fd < 0)
            report_add(&report, ai, e);
    }
    freeaddrinfo(res);
    if (fd < 0)
        return connect_failed(ep, host, &report, deadline_hit && mj_now_ms() >= end, err);
    set_nodelay(fd);
    return sock_new(fd, timeouts, t_out, err);
}
