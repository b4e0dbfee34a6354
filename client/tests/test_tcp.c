/*
 * test_tcp.c: the TCP transport (src/net/tcp.c) and the timeout arithmetic
 * (src/net/time.c) against real sockets on 127.0.0.1 only (SECURITY-CASES
 * #94, #95).  No test touches the internet.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mailjig/transport.h"

/* ---- helpers ------------------------------------------------------------------ */

/* A listening socket on 127.0.0.1 with a kernel-chosen port. */
static int listen_local(unsigned *port_out, int backlog)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, backlog), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port_out = ntohs(a.sin_port);
    return fd;
}

/* A port on 127.0.0.1 where nothing listens (bound, then closed). */
static unsigned closed_port(void)
{
    unsigned port;
    int fd = listen_local(&port, 1);
    close(fd);
    return port;
}

typedef struct pair {
    mj_timeouts timeouts;
    mj_transport *t;
    int server;  /* the accepted server end */
    int listener;
} pair;

/* Connect the transport to a fresh local listener and accept. */
static void connect_pair(pair *p, const char *host)
{
    unsigned port;
    p->listener = listen_local(&port, 8);
    mj_timeouts_init(&p->timeouts);
    p->timeouts.io_ms = 2000;
    mj_endpoint ep = {.host = host, .connect_addr = NULL, .port = port};
    mj_error err;
    assert_int_equal(mj_tcp_connect(&ep, &p->timeouts, &p->t, &err), MJ_OK);
    p->server = accept(p->listener, NULL, NULL);
    assert_true(p->server >= 0);
}

static void close_pair(pair *p)
{
    mj_transport_close(p->t);
    if (p->server >= 0)
        close(p->server);
    close(p->listener);
}

/* Read exactly n bytes from the server end. */
static void server_read(int fd, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = recv(fd, buf + got, n - got, 0);
        assert_true(k > 0);
        got += (size_t)k;
    }
}

/* ---- timeouts arithmetic ----------------------------------------------------- */

static void test_timeouts_wait_ms(void **state)
{
    (void)state;
    mj_timeouts t;
    mj_timeouts_init(&t);
    assert_int_equal(t.connect_ms, MJ_DEFAULT_CONNECT_TIMEOUT_MS);
    assert_int_equal(t.io_ms, MJ_DEFAULT_IO_TIMEOUT_MS);
    assert_int_equal(t.deadline_ms, 0);
    mj_reason r = MJ_R_NONE;
    t.io_ms = 500;
    assert_int_equal(mj_timeouts_wait_ms(&t, &r), 500);
    assert_int_equal(r, MJ_R_IO_TIMEOUT);
    /* A far deadline does not shorten the io timeout. */
    t.deadline_ms = mj_now_ms() + 60000;
    assert_int_equal(mj_timeouts_wait_ms(&t, &r), 500);
    assert_int_equal(r, MJ_R_IO_TIMEOUT);
    /* A near deadline does, and is named. */
    t.deadline_ms = mj_now_ms() + 200;
    int w = mj_timeouts_wait_ms(&t, &r);
    assert_in_range(w, 150, 200);
    assert_int_equal(r, MJ_R_DEADLINE);
    /* A passed deadline leaves nothing, never a negative wait. */
    t.deadline_ms = mj_now_ms() - 1000;
    assert_int_equal(mj_timeouts_wait_ms(&t, &r), 0);
    assert_int_equal(r, MJ_R_DEADLINE);
}

static void test_now_ms_is_monotonic(void **state)
{
    (void)state;
    int64_t a = mj_now_ms();
    usleep(20000);
    int64_t b = mj_now_ms();
    assert_in_range(b - a, 19, 1000);
}

/* ---- connecting --------------------------------------------------------------- */

static void test_connect_and_round_trip(void **state)
{
    (void)state;
    pair p;
    connect_pair(&p, "127.0.0.1");
    assert_string_equal(p.t->ops->name, "tcp");
    mj_error err;
    assert_int_equal(mj_transport_write(p.t, "EHLO x\r\n", 8, &err), MJ_OK);
    char buf[16];
    server_read(p.server, buf, 8);
    assert_memory_equal(buf, "EHLO x\r\n", 8);
    assert_int_equal(send(p.server, "250 ok\r\n", 8, 0), 8);
    size_t n = 0;
    size_t got = 0;
    while (got < 8) {
        assert_int_equal(mj_transport_read(p.t, buf + got, sizeof buf - got, &n, &err), MJ_OK);
        got += n;
    }
    assert_memory_equal(buf, "250 ok\r\n", 8);
    mj_tls_info info;
    mj_transport_tls_info(p.t, &info);
    assert_int_equal(info.state, MJ_TLS_NONE);
    close_pair(&p);
}

/* "localhost" may resolve to ::1 first: every address is tried in turn. */
static void test_connect_localhost_tries_every_address(void **state)
{
    (void)state;
    pair p;
    connect_pair(&p, "localhost");
    close_pair(&p);
}

static void test_connect_refused(void **state)
{
    (void)state;
    mj_timeouts to;
    mj_timeouts_init(&to);
    unsigned port = closed_port();
    mj_endpoint ep = {.host = "127.0.0.1", .connect_addr = NULL, .port = port};
    mj_transport *t = (mj_transport *)&to; /* must be reset to NULL */
    mj_error err;
    assert_int_equal(mj_tcp_connect(&ep, &to, &t, &err), MJ_CONNECT_FAILED);
    assert_null(t);
    assert_int_equal(err.reason, MJ_R_REFUSED);
    char want[128];
    snprintf(want, sizeof want, "cannot connect to 127.0.0.1 port %u (127.0.0.1: %s)", port,
             strerror(ECONNREFUSED));
    assert_string_equal(err.message, want);
}

static void test_connect_unresolvable(void **state)
{
    (void)state;
    mj_timeouts to;
    mj_timeouts_init(&to);
    mj_endpoint ep = {.host = "nonexistent.invalid", .connect_addr = NULL, .port = 143};
    mj_transport *t = NULL;
    mj_error err;
    assert_int_equal(mj_tcp_connect(&ep, &to, &t, &err), MJ_CONNECT_FAILED);
    assert_int_equal(err.reason, MJ_R_RESOLVE);
    assert_non_null(strstr(err.message, "cannot resolve host nonexistent.invalid: "));
}

static void test_connect_addr_override(void **state)
{
    (void)state;
    unsigned port;
    int listener = listen_local(&port, 4);
    mj_timeouts to;
    mj_timeouts_init(&to);
    /* The name does not resolve: only connect_addr is used for connecting. */
    mj_endpoint ep = {.host = "mail.mailjig.test", .connect_addr = "127.0.0.1", .port = port};
    mj_transport *t = NULL;
    mj_error err;
    assert_int_equal(mj_tcp_connect(&ep, &to, &t, &err), MJ_OK);
    int s = accept(listener, NULL, NULL);
    assert_true(s >= 0);
    close(s);
    mj_transport_close(t);
    /* connect_addr must be numeric: no lookup behind the user's back. */
    ep.connect_addr = "localhost";
    assert_int_equal(mj_tcp_connect(&ep, &to, &t, &err), MJ_USAGE);
    assert_int_equal(err.reason, MJ_R_BAD_ARGUMENT);
    assert_string_equal(err.message, "connect address \"localhost\" is not a numeric IP address");
    close(listener);
}

static void test_connect_bad_endpoint(void **state)
{
    (void)state;
    mj_timeouts to;
    mj_timeouts_init(&to);
    mj_transport *t = NULL;
    mj_error err;
    mj_endpoint ep = {.host = "127.0.0.1", .connect_addr = NULL, .port = 0};
    assert_int_equal(mj_tcp_connect(&ep, &to, &t, &err), MJ_USAGE);
    ep.port = 70000;
    assert_int_equal(mj_tcp_connect(&ep, &to, &t, &err), MJ_USAGE);
    ep.port = 25;
    ep.host = "";
    assert_int_equal(mj_tcp_connect(&ep, &to, &t, &err), MJ_USAGE);
    assert_int_equal(err.reason, MJ_R_BAD_ARGUMENT);
}

static void test_connect_deadline_already_passed(void **state)
{
    (void)state;
    unsigned port;
    int listener = listen_local(&port, 4);
    mj_timeouts to;
    mj_timeouts_init(&to);
    to.deadline_ms = mj_now_ms() - 1;
    mj_endpoint ep = {.host = "127.0.0.1", .connect_addr = NULL, .port = port};
    mj_transport *t = NULL;
    mj_error err;
    /* A loopback connect may complete at once; if it does, the first read fails. */
    mj_outcome o = mj_tcp_connect(&ep, &to, &t, &err);
    if (o == MJ_OK) {
        char c;
        size_t n;
        o = mj_transport_read(t, &c, 1, &n, &err);
        mj_transport_close(t);
    }
    assert_int_equal(o, MJ_TIMEOUT);
    assert_int_equal(err.reason, MJ_R_DEADLINE);
    close(listener);
}

/* ---- reading and writing ----------------------------------------------------- */

static void test_read_io_timeout(void **state)
{
    (void)state;
    pair p;
    connect_pair(&p, "127.0.0.1");
    p.timeouts.io_ms = 100;
    char buf[8];
    size_t n = 99;
    mj_error err;
    int64_t t0 = mj_now_ms();
    assert_int_equal(mj_transport_read(p.t, buf, sizeof buf, &n, &err), MJ_TIMEOUT);
    int64_t elapsed = mj_now_ms() - t0;
    assert_int_equal(err.reason, MJ_R_IO_TIMEOUT);
    assert_int_equal(n, 0);
    assert_string_equal(err.message, "no data from the server for 100 ms");
    assert_in_range(elapsed, 95, 1000);
    close_pair(&p);
}

/*
 * A drip keeps the io timeout happy (a byte is always there when the client
 * reads); the total deadline still ends it (SECURITY-CASES #95).
 */
static void test_read_deadline_beats_slow_drip(void **state)
{
    (void)state;
    pair p;
    connect_pair(&p, "127.0.0.1");
    p.timeouts.io_ms = 1000;
    int64_t t0 = mj_now_ms();
    p.timeouts.deadline_ms = t0 + 150;
    char buf[8];
    size_t n = 0;
    mj_error err;
    mj_outcome o = MJ_OK;
    int rounds = 0;
    while (o == MJ_OK && rounds < 100) {
        assert_int_equal(send(p.server, "x", 1, 0), 1);
        usleep(30000);
        o = mj_transport_read(p.t, buf, sizeof buf, &n, &err);
        rounds++;
    }
    assert_int_equal(o, MJ_TIMEOUT);
    assert_int_equal(err.reason, MJ_R_DEADLINE);
    assert_string_equal(err.message, "total deadline exceeded while waiting for data from the server");
    /* Ended by the deadline: not before it, and long before 100 rounds. */
    assert_in_range(mj_now_ms() - t0, 150, 1500);
    assert_in_range(rounds, 1, 50);
    close_pair(&p);
}

static void test_peer_close_is_eof(void **state)
{
    (void)state;
    pair p;
    connect_pair(&p, "127.0.0.1");
    assert_int_equal(send(p.server, "* BYE\r\n", 7, 0), 7);
    close(p.server);
    p.server = -1;
    char buf[16];
    size_t n = 0;
    mj_error err;
    assert_int_equal(mj_transport_read(p.t, buf, sizeof buf, &n, &err), MJ_OK);
    assert_int_equal(n, 7);
    assert_int_equal(mj_transport_read(p.t, buf, sizeof buf, &n, &err), MJ_CONNECTION_LOST);
    assert_int_equal(err.reason, MJ_R_EOF);
    assert_string_equal(err.message, "the server closed the connection");
    close_pair(&p);
}

/* Close with SO_LINGER 0: the kernel sends RST. */
static void reset_server(pair *p)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(setsockopt(p->server, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(p->server);
    p->server = -1;
}

static void test_peer_reset(void **state)
{
    (void)state;
    pair p;
    connect_pair(&p, "127.0.0.1");
    reset_server(&p);
    char buf[16];
    size_t n = 0;
    mj_error err;
    assert_int_equal(mj_transport_read(p.t, buf, sizeof buf, &n, &err), MJ_CONNECTION_LOST);
    assert_int_equal(err.reason, MJ_R_RESET);
    close_pair(&p);
}

/* Writing to a reset peer is an error value, never SIGPIPE (default action). */
static void test_write_to_closed_peer_no_sigpipe(void **state)
{
    (void)state;
    void (*old)(int) = signal(SIGPIPE, SIG_DFL);
    pair p;
    connect_pair(&p, "127.0.0.1");
    reset_server(&p);
    usleep(10000);
    static const char chunk[4096] = {0};
    mj_error err;
    mj_outcome o = MJ_OK;
    for (int i = 0; i < 64 && o == MJ_OK; i++)
        o = mj_transport_write(p.t, chunk, sizeof chunk, &err);
    assert_int_equal(o, MJ_CONNECTION_LOST);
    assert_int_equal(err.reason, MJ_R_RESET);
    close_pair(&p);
    signal(SIGPIPE, old);
}

static void test_pending_counts_unread_bytes(void **state)
{
    (void)state;
    pair p;
    connect_pair(&p, "127.0.0.1");
    assert_int_equal(mj_transport_pending(p.t), 0);
    assert_int_equal(send(p.server, "hello", 5, 0), 5);
    for (int i = 0; i < 100 && mj_transport_pending(p.t) < 5; i++)
        usleep(1000);
    assert_int_equal(mj_transport_pending(p.t), 5);
    char buf[8];
    size_t n = 0;
    mj_error err;
    assert_int_equal(mj_transport_read(p.t, buf, 2, &n, &err), MJ_OK);
    assert_int_equal(n, 2);
    assert_int_equal(mj_transport_pending(p.t), 3);
    close_pair(&p);
}

static void test_from_fd_socketpair(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    mj_timeouts to;
    mj_timeouts_init(&to);
    mj_transport *t = NULL;
    mj_error err;
    assert_int_equal(mj_tcp_from_fd(sv[0], &to, &t, &err), MJ_OK);
    assert_int_equal(mj_transport_write(t, "abc", 3, &err), MJ_OK);
    char buf[4];
    assert_int_equal(recv(sv[1], buf, 3, MSG_WAITALL), 3);
    assert_memory_equal(buf, "abc", 3);
    mj_transport_close(t); /* closes sv[0] */
    assert_int_equal(recv(sv[1], buf, 1, 0), 0);
    close(sv[1]);
    mj_transport_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timeouts_wait_ms),
        cmocka_unit_test(test_now_ms_is_monotonic),
        cmocka_unit_test(test_connect_and_round_trip),
        cmocka_unit_test(test_connect_localhost_tries_every_address),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_connect_unresolvable),
        cmocka_unit_test(test_connect_addr_override),
        cmocka_unit_test(test_connect_bad_endpoint),
        cmocka_unit_test(test_connect_deadline_already_passed),
        cmocka_unit_test(test_read_io_timeout),
        cmocka_unit_test(test_read_deadline_beats_slow_drip),
        cmocka_unit_test(test_peer_close_is_eof),
        cmocka_unit_test(test_peer_reset),
        cmocka_unit_test(test_write_to_closed_peer_no_sigpipe),
        cmocka_unit_test(test_pending_counts_unread_bytes),
        cmocka_unit_test(test_from_fd_socketpair),
    };
    return cmocka_run_group_tests_name("tcp", tests, NULL, NULL);
}
