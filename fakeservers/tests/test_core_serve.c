/*
 * test_core_serve.c: mjfake's core over real sockets on 127.0.0.1: the step
 * engine (expect, captures, optional, unordered, eof), mismatches and their
 * messages, shaping (fragment, drip), files, endings, accept policies, the
 * idle timeout, line_max, SIGTERM, and the transcript and log.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core_support.h"

/* Greeting, LOGIN with {tag} and a capture, LOGOUT, eof: byte-exact, exit 0. */
static void test_basic_script(void **state)
{
    (void)state;
    fk_pattern login = P("{tag} LOGIN {user} *", 6, 13);
    fk_pattern logout = P("{tag} LOGOUT", 8, 13);
    fk_step steps[] = {
        {.pos = AT(5, 7), .send = {.kind = FK_SEND_TEXT, .text = B("* OK ready")}},
        {.pos = AT(6, 7), .expect = {.kind = FK_EXPECT_LINES, .patterns = &login, .n_patterns = 1},
         .send = {.kind = FK_SEND_TEXT, .text = B("{tag} OK hello {user}\n* tag={tag}")}},
        {.pos = AT(8, 7), .expect = {.kind = FK_EXPECT_LINES, .patterns = &logout, .n_patterns = 1},
         .send = {.kind = FK_SEND_TEXT, .text = B("* BYE\n{tag} OK\n")}},
        {.pos = AT(10, 7), .expect = {.kind = FK_EXPECT_EOF}},
    };
    fk_script script;
    fk_scenario s = one_conn(&script, steps, N_OF(steps), FK_PROTO_IMAP);
    run r;
    run_start(&r, &s, 3000, false);
    assert_true(r.port > 0);
    int fd = connect_to(r.port);
    char buf[256];
    assert_int_equal(recv_n(fd, buf, 12), 12);
    assert_string_equal(buf, "* OK ready\r\n");
    send_str(fd, "a1 LOGIN alice secret\r\n");
    const char *want = "a1 OK hello alice\r\n* tag=a1\r\n";
    recv_n(fd, buf, strlen(want));
    assert_string_equal(buf, want);
    send_str(fd, "a2 LOGOUT\n"); /* a bare LF ends a line too */
    want = "* BYE\r\na2 OK\r\n";
    recv_n(fd, buf, strlen(want));
    assert_string_equal(buf, want);
    close(fd);
    assert_int_equal(run_finish(&r), 0);
    char *t = slurp(r.transcript);
    assert_non_null(strstr(t, "\"conn\":1,\"dir\":\"event\",\"data\":\"\",\"tls\":false,"
                              "\"step\":null,\"event\":\"accept\"}"));
    assert_non_null(strstr(t, "\"dir\":\"s\",\"data\":\"* OK ready\\\\r\\\\n\",\"tls\":false,"
                              "\"step\":\"t.yaml:5:7\"}"));
    assert_non_null(strstr(t, "\"dir\":\"c\",\"data\":\"a1 LOGIN alice secret\\\\r\\\\n\""));
    assert_non_null(strstr(t, "\"event\":\"eof\""));
    free(t);
    char *log = slurp(r.log);
    assert_string_equal(log, "S: * OK ready\nC: a1 LOGIN alice secret\nS: a1 OK hello alice\n"
                             "S: * tag=a1\nC: a2 LOGOUT\\n\nS: * BYE\nS: a2 OK\n");
    free(log);
    char *d = slurp(r.diag);
    assert_string_equal(d, "");
    free(d);
    run_cleanup(&r);
}


#define EXPECT1(pp) {.kind = FK_EXPECT_LINES, .patterns = (pp), .n_patterns = 1}
#define TEXT(s) {.kind = FK_SEND_TEXT, .text = B(s)}

/* A wrong line: the personality's error line, exit 1, FILE:LINE:COL on diag. */
static void test_mismatch_default_error(void **state)
{
    (void)state;
    fk_pattern login = P("{tag} LOGIN *", 6, 13);
    fk_step steps[] = {
        {.pos = AT(5, 7), .send = TEXT("* OK ready")},
        {.pos = AT(6, 7), .expect = EXPECT1(&login), .send = TEXT("{tag} OK")},
    };
    fk_script script;
    fk_scenario s = one_conn(&script, steps, N_OF(steps), FK_PROTO_IMAP);
    run r;
    run_start(&r, &s, 3000, false);
    int fd = connect_to(r.port);
    char buf[256];
    int err;
    recv_n(fd, buf, 12);
    send_str(fd, "A1 LOGOUT\r\n");
    recv_all(fd, buf, sizeof buf, &err);
    assert_string_equal(buf, "A1 BAD unexpected command\r\n");
    assert_int_equal(err, 0); /* FIN, not RST */
    close(fd);
    assert_int_equal(run_finish(&r), 1);
    char *d = slurp(r.diag);
    assert_string_equal(d, "t.yaml:6:7: expected '{tag} LOGIN *', got 'A1 LOGOUT'\n");
    free(d);
    char *t = slurp(r.transcript);
    assert_non_null(strstr(t, "\"step\":\"t.yaml:6:7\",\"event\":\"mismatch\""));
    free(t);
    run_cleanup(&r);
}

/* on_mismatch replaces the error line; SMTP's default is 500 5.5.2. */
static void test_on_mismatch_and_smtp_default(void **state)
{
    (void)state;
    fk_pattern ehlo = P("EHLO *", 4, 13);
    fk_step steps[] = {
        {.pos = AT(3, 7), .send = TEXT("220 hi")},
        {.pos = AT(4, 7), .expect = EXPECT1(&ehlo), .send = TEXT("250 ok"),
         .has_on_mismatch = true, .on_mismatch = B("421 4.7.0 go away\n")},
    };
    fk_script script;
    fk_scenario s = one_conn(&script, steps, N_OF(steps), FK_PROTO_SMTP);
    run r;
    char buf[256];
    int err;
    run_start(&r, &s, 3000, false);
    int fd = connect_to(r.port);
    recv_n(fd, buf, 8);
    send_str(fd, "HELO x\r\n");
    recv_all(fd, buf, sizeof buf, &err);
    assert_string_equal(buf, "421 4.7.0 go away\r\n");
    close(fd);
    assert_int_equal(run_finish(&r), 1);
    run_cleanup(&r);

    steps[1].has_on_mismatch = false;
    run_start(&r, &s, 3000, false);
    fd = connect_to(r.port);
    recv_n(fd, buf, 8);
    send_str(fd, "HELO x\r\n");
    recv_all(fd, buf, sizeof buf, &err);
    assert_string_equal(buf, "500 5.5.2 unexpected command\r\n");
    close(fd);
    assert_int_equal(run_finish(&r), 1);
    run_cleanup(&r);
}

/* optional steps are skipped; lists in order; sets in any order; a step list. */
static void test_optional_ordered_unordered(void **state)
{
    (void)state;
    fk_pattern capa = P("{tag} CAPABILITY", 4, 13);
    fk_pattern list[] = {P("{tag} NOOP", 6, 14), P("{tag} CHECK", 6, 22)};
    fk_pattern set[] = {P("X1 A", 8, 14), P("X2 B", 8, 20), P("X3 C", 8, 26)};
    fk_pattern logout = P("{tag} LOGOUT", 10, 13);
    fk_step steps[] = {
        {.pos = AT(3, 7), .send = TEXT("* OK")},
        {.pos = AT(4, 7), .optional = true, .expect = EXPECT1(&capa), .send = TEXT("{tag} OK capa")},
        {.pos = AT(6, 7), .expect = {.kind = FK_EXPECT_LINES, .patterns = list, .n_patterns = 2},
         .send = TEXT("{tag} OK both")},
        {.pos = AT(8, 7),
         .expect = {.kind = FK_EXPECT_LINES, .patterns = set, .n_patterns = 3, .unordered = true},
         .send = TEXT("{tag} OK set")},
        {.pos = AT(10, 7), .expect = EXPECT1(&logout), .send = TEXT("{tag} OK bye"),
         .end = FK_END_CLOSE},
    };
    fk_script script;
    fk_scenario s = one_conn(&script, steps, N_OF(steps), FK_PROTO_IMAP);
    run r;
    char buf[256];
    int err;
    run_start(&r, &s, 3000, false);
    int fd = connect_to(r.port);
    recv_n(fd, buf, 6);
    /* no CAPABILITY: the optional step is skipped; then pipelined lines */
    send_str(fd, "a NOOP\r\nb CHECK\r\nX3 C\r\nX1 A\r\nX2 B\r\nz LOGOUT\r\n");
    recv_all(fd, buf, sizeof buf, &err);
    assert_string_equal(buf, "b OK both\r\nX2 OK set\r\nz OK bye\r\n");
    close(fd);
    assert_int_equal(run_finish(&r), 0);
    run_cleanup(&r);

    /* a set with one line out of it: "one of" the rest */
    run_start(&r, &s, 3000, false);
    fd = connect_to(r.port);
    recv_n(fd, buf, 6);
    send_str(fd, "t CAPABILITY\r\na NOOP\r\nb CHECK\r\nX2 B\r\nX9 Z\r\n");
    recv_all(fd, buf, sizeof buf, &err);
    assert_string_equal(buf, "t OK capa\r\nb OK both\r\nX9 BAD unexpected command\r\n");
    close(fd);
    assert_int_equal(run_finish(&r), 1);
    char *d = slurp(r.diag);
    assert_string_equal(d, "t.yaml:8:7: expected one of 'X1 A', 'X3 C', got 'X9 Z'\n");
    free(d);
    run_cleanup(&r);
}

/* fragment: one write per size (cycled), seen as separate reads by the client. */
static void test_fragment(void **state)
{
    (void)state;
    size_t sizes[] = {3, 4};
    fk_step steps[] = {
        {.pos = AT(3, 7), .send = TEXT("* OK hello"), .fragment = sizes, .n_fragment = 2},
        {.pos = AT(4, 7), .expect = {.kind = FK_EXPECT_EOF}},
    };
    fk_script script;
    fk_scenario s = one_conn(&script, steps, N_OF(steps), FK_PROTO_IMAP);
    run r;
    run_start(&r, &s, 3000, false);
    int fd = connect_to(r.port);
    /* 12 bytes written as 3+4+3+2.  Each write is its own segment, but a
     * busy receiver may find several queued at once: every recv must end on
     * a write boundary, and the bytes must arrive in order. */
    char got[64] = "";
    size_t n = 0;
    while (n < 12) {
        ssize_t k = recv(fd, got + n, sizeof got - 1 - n, 0);
        assert_true(k > 0);
        n += (size_t)k;
        assert_true(n == 3 || n == 7 || n == 10 || n == 12);
    }
    got[n] = '\0';
    assert_string_equal(got, "* OK hello\r\n");
    close(fd);
    assert_int_equal(run_finish(&r), 0);
    char *t = slurp(r.transcript);
    assert_non_null(strstr(t, "\"data\":\"* O\""));
    assert_non_null(strstr(t, "\"data\":\"K he\""));
    assert_non_null(strstr(t, "\"data\":\"llo\""));
    assert_non_null(strstr(t, "\"data\":\"\\\\r\\\\n\""));
    free(t);
    run_cleanup(&r);
}

/* drip: N bytes every M ms; sleep before the send. */
static void test_drip_and_sleep(void **state)
{
    (void)state;
    fk_step steps[] = {
        {.pos = AT(3, 7), .sleep_ms = 150, .send = TEXT("abcd"), .drip_bytes = 2,
         .drip_every_ms = 100},
        {.pos = AT(4, 7), .expect = {.kind = FK_EXPECT_EOF}},
    };
    fk_script script;
    fk_scenario s = one_conn(&script, steps, N_OF(steps), FK_PROTO_POP3);
    run r;
    run_start(&r, &s, 3000, false);
    long long t0 = mono_ms();
    int fd = connect_to(r.port);
    char buf[16];
    long long at[3];
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(recv_n(fd, buf, 2), 2);
        at[i] = mono_ms() - t0;
    }
    assert_true(at[0] >= 140);            /* the sleep */
    assert_true(at[1] - at[0] >= 90);     /* one drip interval */
    assert_true(at[2] - at[1] >= 90);
    assert_true(at[2] < 1500);
    close(fd);
    assert_int_equal(run_finish(&r), 0);
    run_cleanup(&r);
}

/* send_raw keeps NUL and bare LF; send_file dot-stuffs and terminates. */
static void test_raw_and_file(void **state)
{
    (void)state;
    char path[] = "/tmp/fkcore-file.XXXXXX";
    int ffd = mkstemp(path);
    const char body[] = "line1\r\n.dot\r\n..two\r\nlast";
    assert_int_equal(write(ffd, body, sizeof body - 1), (ssize_t)(sizeof body - 1));
    close(ffd);
    fk_step steps[] = {
        {.pos = AT(3, 7), .send = {.kind = FK_SEND_RAW, .text = B("+OK a\nb\0c")}},
        {.pos = AT(4, 7), .send = {.kind = FK_SEND_FILE, .path = path, .dotstuff = true}},
        {.pos = AT(5, 7), .expect = {.kind = FK_EXPECT_EOF}},
    };
    fk_script script;
    fk_scenario s = one_conn(&script, steps, N_OF(steps), FK_PROTO_POP3);
    run r;
    run_start(&r, &s, 3000, false);
    int fd = connect_to(r.port);
    char buf[256];
    const char want[] = "+OK a\nb\0cline1\r\n..dot\r\n...two\r\nlast\r\n.\r\n";
    shutdown(fd, SHUT_WR);
    int err;
    size_t n = recv_all(fd, buf, sizeof buf, &err);
    assert_int_equal(n, sizeof want - 1);
    assert_memory_equal(buf, want, sizeof want - 1);
    close(fd);
    assert_int_equal(run_finish(&r), 0);
    char *t = slurp(r.transcript);
    assert_non_null(strstr(t, "\"data\":\"+OK a\\\\nb\\\\x00c\""));
    free(t);
    unlink(path);
    run_cleanup(&r);
}

/* send_file stuffs a line at a time: a '.' that opens the second 16 KB read
 * (after an LF that closed the first) is stuffed, and a file ending in LF
 * gets ".\r\n" alone. */
static void test_file_dot_at_chunk_boundary(void **state)
{
    (void)state;
    char path[] = "/tmp/fkcore-file.XXXXXX";
    int ffd = mkstemp(path);
    static char body[16384 + 8], want[16384 + 16], buf[16384 + 64];
    memset(body, 'a', 16382);
    memcpy(body + 16382, "\r\n.x\r\n.\r\n", 9); /* LF is byte 16383, '.' byte 16384 */
    size_t body_len = 16382 + 9;
    assert_int_equal(write(ffd, body, body_len), (ssize_t)body_len);
    close(ffd);
    memcpy(want, body, 16384);
    memcpy(want + 16384, "..x\r\n..\r\n.\r\n", 12);
    size_t want_len = 16384 + 12;
    fk_step steps[] = {
        {.pos = AT(3, 7), .send = {.kind = FK_SEND_FILE, .path = path, .dotstuff = true}},
        {.pos = AT(4, 7), .expect = {.kind = FK_EXPECT_EOF}},
    };
    fk_script script;
    fk_scenario s = one_conn(&script, steps, N_OF(steps), FK_PROTO_POP3);
    run r;
    run_start(&r, &s, 3000, false);
    int fd = connect_to(r.port);
    shutdown(fd, SHUT_WR);
    int err;
    size_t n = recv_all(fd, buf, sizeof buf, &err);
    assert_int_equal(n, want_len);
    assert_memory_equal(buf, want, want_len);
    close(fd);
    assert_int_equal(run_finish(&r), 0);
    unlink(path);
    run_cleanup(&r);
}

/* reset: the client sees ECONNRESET; shutdown_write: EOF while still read. */
static void test_reset_and_shutdown_write(void **state)
{
    (void)state;
    fk_pattern quit = P("QUIT", 5, 13);
    fk_step steps[] = {
        {.pos = AT(3, 7), .send = TEXT("+OK"), .end = FK_END_SHUTDOWN_WRITE},
        {.pos = AT(5, 7), .expect = EXPECT1(&quit)},
        {.pos = AT(6, 7), .end = FK_END_RESET},
    };
    fk_script script;
    fk_scenario s = one_conn(&script, steps, N_OF(steps), FK_PROTO_POP3);
    run r;
    run_start(&r, &s, 3000, false);
    int fd = connect_to(r.port);
    char buf[64];
    int err;
    recv_all(fd, buf, sizeof buf, &err); /* up to the FIN */
    assert_string_equal(buf, "+OK\r\n");
    assert_int_equal(err, 0);
    send_str(fd, "QUIT\r\n");
    usleep(200000);
    ssize_t k = send(fd, "x", 1, MSG_NOSIGNAL);
    k = k < 0 ? k : recv(fd, buf, sizeof buf, 0);
    assert_true(k < 0);
    assert_true(errno == ECONNRESET || errno == EPIPE);
    close(fd);
    assert_int_equal(run_finish(&r), 0);
    char *t = slurp(r.transcript);
    assert_non_null(strstr(t, "\"data\":\"reset by the script (RST)\""));
    free(t);
    run_cleanup(&r);
}

/* accept policies: refuse, close, reset, hang. */
static void test_accept_policies(void **state)
{
    (void)state;
    fk_scenario s = {.path = "t.yaml", .protocol = FK_PROTO_IMAP};
    run r;
    char buf[16];
    int err;

    s.server.accept = FK_ACCEPT_REFUSE;
    run_start(&r, &s, 300, false);
    assert_true(r.port > 0);
    assert_int_equal(connect_to(r.port), -1);
    assert_int_equal(errno, ECONNREFUSED);
    assert_int_equal(run_finish(&r), 0);
    run_cleanup(&r);

    s.server.accept = FK_ACCEPT_CLOSE;
    run_start(&r, &s, 3000, false);
    assert_true(r.port > 0);
    int fd = connect_to(r.port);
    assert_int_equal(recv_all(fd, buf, sizeof buf, &err), 0);
    assert_int_equal(err, 0);
    close(fd);
    assert_int_equal(run_finish(&r), 0);
    run_cleanup(&r);

    s.server.accept = FK_ACCEPT_RESET;
    run_start(&r, &s, 3000, false);
    assert_true(r.port > 0);
    fd = connect_to(r.port);
    assert_int_equal(recv_all(fd, buf, sizeof buf, &err), 0);
    assert_int_equal(err, ECONNRESET);
    close(fd);
    assert_int_equal(run_finish(&r), 0);
    run_cleanup(&r);

    s.server.accept = FK_ACCEPT_HANG; /* says nothing; ends when the client closes */
    run_start(&r, &s, 3000, false);
    assert_true(r.port > 0);
    fd = connect_to(r.port);
    struct timeval tv = {.tv_usec = 300000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    assert_int_equal(recv_all(fd, buf, sizeof buf, &err), 0);
    assert_int_equal(err, EAGAIN);
    close(fd);
    assert_int_equal(run_finish(&r), 0);
    run_cleanup(&r);
}

/* A silent client fails the step after idle_timeout_ms; a too long line too. */
static void test_idle_timeout_and_line_max(void **state)
{
    (void)state;
    fk_pattern any = P("*", 4, 13);
    fk_step steps[] = {
        {.pos = AT(3, 7), .send = TEXT("+OK")},
        {.pos = AT(4, 7), .expect = EXPECT1(&any), .send = TEXT("+OK")},
    };
    fk_script script;
    fk_scenario s = one_conn(&script, steps, N_OF(steps), FK_PROTO_POP3);
    run r;
    char buf[256];
    int err;
    run_start(&r, &s, 200, false);
    int fd = connect_to(r.port);
    long long t0 = mono_ms();
    recv_all(fd, buf, sizeof buf, &err);
    assert_string_equal(buf, "+OK\r\n-ERR unexpected command\r\n");
    assert_true(mono_ms() - t0 >= 150);
    close(fd);
    assert_int_equal(run_finish(&r), 1);
    char *d = slurp(r.diag);
    assert_string_equal(d, "t.yaml:4:7: expected '*', got nothing within 200 ms\n");
    free(d);
    run_cleanup(&r);

    s.server.line_max = 16;
    run_start(&r, &s, 3000, false);
    fd = connect_to(r.port);
    recv_n(fd, buf, 5);
    send_str(fd, "0123456789abcdefXYZ"); /* 19 bytes, no line end */
    recv_all(fd, buf, sizeof buf, &err);
    assert_string_equal(buf, "-ERR unexpected command\r\n");
    close(fd);
    assert_int_equal(run_finish(&r), 1);
    d = slurp(r.diag);
    assert_string_equal(d, "t.yaml:4:7: expected '*', got a line longer than line_max (16 bytes)\n");
    free(d);
    run_cleanup(&r);
}

/* forbid: a credential before TLS is an oracle failure naming the pattern. */
static void test_forbid_before_tls(void **state)
{
    (void)state;
    fk_pattern any = P("*", 4, 13);
    fk_pattern forbid = P("{tag} LOGIN *", 9, 9);
    fk_step steps[] = {
        {.pos = AT(3, 7), .send = TEXT("* OK")},
        {.pos = AT(4, 7), .expect = EXPECT1(&any), .send = TEXT("{tag} OK")},
        {.pos = AT(5, 7), .expect = {.kind = FK_EXPECT_EOF}},
    };
    fk_script script;
    fk_scenario s = one_conn(&script, steps, N_OF(steps), FK_PROTO_IMAP);
    s.server.forbid.before_tls = &forbid;
    s.server.forbid.n_before_tls = 1;
    run r;
    char buf[256];
    int err;
    run_start(&r, &s, 3000, false);
    int fd = connect_to(r.port);
    recv_n(fd, buf, 6);
    send_str(fd, "a CAPABILITY\r\n");
    recv_n(fd, buf, 6);
    assert_string_equal(buf, "a OK\r\n");
    send_str(fd, "b LOGIN alice pw\r\n");
    recv_all(fd, buf, sizeof buf, &err);
    assert_string_equal(buf, "b BAD unexpected command\r\n");
    close(fd);
    assert_int_equal(run_finish(&r), 1);
    char *d = slurp(r.diag);
    assert_string_equal(d, "t.yaml:9:9: forbidden pattern '{tag} LOGIN *' (before TLS) matched "
                           "client line 'b LOGIN alice pw'\n");
    free(d);
    char *t = slurp(r.transcript);
    assert_non_null(strstr(t, "\"event\":\"oracle\""));
    free(t);
    run_cleanup(&r);
}

/* Connections in order; one more is told off; a missing one times out. */
static void test_connections_in_order(void **state)
{
    (void)state;
    fk_step s1[] = {{.pos = AT(4, 9), .send = TEXT("* BYE first"), .end = FK_END_CLOSE}};
    fk_step s2[] = {{.pos = AT(6, 9), .send = TEXT("* OK second")},
                    {.pos = AT(7, 9), .expect = {.kind = FK_EXPECT_EOF}}};
    fk_script scripts[] = {{.pos = AT(4, 7), .steps = s1, .n_steps = 1},
                           {.pos = AT(6, 7), .steps = s2, .n_steps = 2}};
    fk_scenario s = {.path = "t.yaml", .protocol = FK_PROTO_IMAP};
    s.server.connections = scripts;
    s.server.n_connections = 2;
    run r;
    char buf[256];
    int err;
    run_start(&r, &s, 3000, false);
    int a = connect_to(r.port);
    recv_all(a, buf, sizeof buf, &err);
    assert_string_equal(buf, "* BYE first\r\n");
    int b = connect_to(r.port);
    recv_n(b, buf, 13);
    assert_string_equal(buf, "* OK second\r\n");
    int c = connect_to(r.port); /* beyond the script */
    recv_all(c, buf, sizeof buf, &err);
    assert_string_equal(buf, "* BAD unexpected command\r\n");
    close(a);
    close(b);
    close(c);
    assert_int_equal(run_finish(&r), 0);
    run_cleanup(&r);

    run_start(&r, &s, 300, false);
    a = connect_to(r.port);
    recv_all(a, buf, sizeof buf, &err);
    close(a);
    assert_int_equal(run_finish(&r), 1);
    char *d = slurp(r.diag);
    assert_string_equal(d, "t.yaml:6:7: expected connection 2, none arrived within 300 ms\n");
    free(d);
    run_cleanup(&r);
}

/* SIGTERM: a clean exit naming the step still due; the transcript is complete. */
static void test_sigterm(void **state)
{
    (void)state;
    fk_pattern any = P("*", 4, 13);
    fk_step steps[] = {
        {.pos = AT(3, 7), .send = TEXT("* OK")},
        {.pos = AT(4, 7), .expect = EXPECT1(&any)},
    };
    fk_script script;
    fk_scenario s = one_conn(&script, steps, N_OF(steps), FK_PROTO_IMAP);
    run r;
    char buf[16];
    run_start(&r, &s, 10000, false);
    int fd = connect_to(r.port);
    recv_n(fd, buf, 6);
    kill(r.pid, SIGTERM);
    assert_int_equal(run_finish(&r), 1);
    close(fd);
    char *d = slurp(r.diag);
    assert_string_equal(d, "t.yaml:4:7: interrupted by a signal before this step completed\n");
    free(d);
    char *t = slurp(r.transcript);
    assert_non_null(strstr(t, "\"event\":\"close\"}"));
    assert_non_null(strstr(t, "\"data\":\"interrupted\""));
    free(t);
    run_cleanup(&r);

    /* repeat mode: SIGTERM is the normal end */
    run_start(&r, &s, 10000, true);
    fd = connect_to(r.port);
    int fd2 = connect_to(r.port);
    recv_n(fd, buf, 6);
    recv_n(fd2, buf, 6);
    assert_string_equal(buf, "* OK\r\n");
    kill(r.pid, SIGTERM);
    assert_int_equal(run_finish(&r), 0);
    close(fd);
    close(fd2);
    run_cleanup(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_script),
        cmocka_unit_test(test_mismatch_default_error),
        cmocka_unit_test(test_on_mismatch_and_smtp_default),
        cmocka_unit_test(test_optional_ordered_unordered),
        cmocka_unit_test(test_fragment),
        cmocka_unit_test(test_drip_and_sleep),
        cmocka_unit_test(test_raw_and_file),
        cmocka_unit_test(test_file_dot_at_chunk_boundary),
        cmocka_unit_test(test_reset_and_shutdown_write),
        cmocka_unit_test(test_accept_policies),
        cmocka_unit_test(test_idle_timeout_and_line_max),
        cmocka_unit_test(test_forbid_before_tls),
        cmocka_unit_test(test_connections_in_order),
        cmocka_unit_test(test_sigterm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
