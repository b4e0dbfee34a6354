/*
 * listen.c: mjfake's listener: bind host:port (SO_REUSEADDR; port 0 picks a
 * free one), and the accept policies of the scenario (serve, close, reset,
 * hang; refuse is handled by server.c closing the listener).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/core.h"

#define LISTEN_BACKLOG 4096 /* the kernel caps it at somaxconn */

/* Fill addr from host (numeric IPv4 or IPv6) and port. */
static int make_addr(const char *host, unsigned port, struct sockaddr_storage *addr,
                     socklen_t *len)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
    char service[16];
    snprintf(service, sizeof service, "%u", port);
    if (getaddrinfo(host, service, &hints, &res) != 0 || res == NULL)
        return -1;
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static unsigned bound_port(int fd)
{
    struct sockaddr_storage a;
    socklen_t len = sizeof a;
    if (getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        return 0;
    if (a.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&a)->sin6_port);
    return ntohs(((struct sockaddr_in *)&a)->sin_port);
}

int fk_listen(const char *host, unsigned port, unsigned *port_out, char *err, size_t err_size)
{
    struct sockaddr_storage addr;
    socklen_t alen;
    if (port > 65535 || make_addr(host, port, &addr, &alen) != 0) {
        snprintf(err, err_size, "cannot listen on %s:%u: not a numeric address and port", host,
                 port);
        return -1;
    }
    int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&addr, alen) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
        snprintf(err, err_size, "cannot listen on %s:%u: %s", host, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *port_out = bound_port(fd);
    return fd;
}

static void set_linger0(int fd)
{
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

/* A connection beyond the script: the personality's error line, then close. */
static void refuse_unscripted(fk_srv *srv, int fd, unsigned id)
{
    char line[128];
    const char *e = srv->pers->error_line;
    const char *tag = strstr(e, "{tag}");
    if (tag)
        snprintf(line, sizeof line, "%.*s*%s\r\n", (int)(tag - e), e, tag + 5);
    else
        snprintf(line, sizeof line, "%s\r\n", e);
    fk_transcript_event(srv->tr, id, "accept", "unscripted connection", false, NULL, NULL);
    if (send(fd, line, strlen(line), MSG_NOSIGNAL) > 0)
        fk_transcript_bytes(srv->tr, id, 's', line, strlen(line), false, NULL);
    fk_transcript_event(srv->tr, id, "close", "unscripted connection", false, NULL, NULL);
    close(fd);
}

/* accept: close / reset: record and drop the socket at once. */
static void drop_now(fk_srv *srv, int fd, unsigned id, bool reset)
{
    fk_transcript_event(srv->tr, id, "accept", NULL, false, NULL, NULL);
    if (reset)
        set_linger0(fd);
    fk_transcript_event(srv->tr, id, reset ? "reset" : "close",
                        reset ? "accept: reset (RST)" : "accept: close (FIN)", false, NULL, NULL);
    close(fd);
}

/* Hand one accepted socket to the accept policy and the next script. */
static void dispatch_accepted(fk_srv *srv, int fd)
{
    unsigned id = ++srv->n_accepted;
    fk_accept policy = srv->sc->server.accept;
    bool scripted = srv->opt->repeat || (srv->next_script < srv->n_expected && !srv->mismatch);
    fk_loop_cancel(srv->loop, srv->wait_timer);
    srv->wait_timer = 0;
    if (!scripted) {
        refuse_unscripted(srv, fd, id);
        return;
    }
    static const fk_script empty; /* serve with no steps: close at once */
    const fk_script *script = policy == FK_ACCEPT_SERVE ? &empty : NULL;
    if (policy == FK_ACCEPT_SERVE && srv->sc->server.n_connections > 0)
        script = &srv->sc->server.connections[srv->next_script % srv->sc->server.n_connections];
    srv->next_script++;
    if (policy == FK_ACCEPT_CLOSE || policy == FK_ACCEPT_RESET) {
        drop_now(srv, fd, id, policy == FK_ACCEPT_RESET);
        fk_srv_conn_done(srv);
    } else if (fk_conn_start(srv, fd, script, id) != 0) {
        srv->internal = true;
        close(fd);
    }
}

static void on_accept_resume(fk_loop *loop, void *arg)
{
    fk_srv *srv = arg;
    srv->accept_timer = 0;
    if (srv->lfd >= 0)
        fk_loop_watch(loop, srv->lfd, FK_EV_READ, fk_on_accept, srv);
}

/*
 * accept() failed for want of descriptors or memory: the pending connection
 * stays in the backlog and the listener stays readable, so stop watching it
 * for FK_ACCEPT_PAUSE_MS instead of spinning; recorded once per pause.
 */
static void pause_accepting(fk_srv *srv, int err)
{
    char why[128];
    srv->n_accept_paused++;
    snprintf(why, sizeof why, "accept: %s; accepting paused for %u ms (pause %u)", strerror(err),
             FK_ACCEPT_PAUSE_MS, srv->n_accept_paused);
    fk_transcript_event(srv->tr, 0, "accept-paused", why, false, NULL, NULL);
    fk_loop_watch(srv->loop, srv->lfd, 0, fk_on_accept, srv);
    srv->accept_timer = fk_loop_timer(srv->loop, FK_ACCEPT_PAUSE_MS, on_accept_resume, srv);
}

void fk_on_accept(fk_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)events;
    fk_srv *srv = arg;
    for (;;) {
        int cfd = accept(fd, NULL, NULL); /* accept4 needs _GNU_SOURCE */
        if (cfd < 0) {
            int e = errno;
            if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM)
                pause_accepting(srv, e);
            return; /* EAGAIN, ECONNABORTED, EINTR: the next event */
        }
        int fl = fcntl(cfd, F_GETFL);
        if (fl < 0 || fcntl(cfd, F_SETFL, fl | O_NONBLOCK) != 0 ||
            fcntl(cfd, F_SETFD, FD_CLOEXEC) != 0) {
            close(cfd);
            continue;
        }
        dispatch_accepted(srv, cfd);
    }
}
