/*
 * test_conn.c: the connection object (conn.h) over the in-memory transport.
 *
 * A thin counting transport sits between the conn and the memory transport,
 * so "one command leaves in one write" is checked, not assumed, and a write
 * can be made to fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "mailjig/mailjig.h"

/* ---- a counting transport over a memory transport --------------------------------- */

struct counting {
    mj_transport base;
    mj_transport *inner;
    unsigned writes;
    bool fail_writes;
};

static mj_outcome cnt_read(mj_transport *t, void *buf, size_t cap, size_t *n_out, mj_error *err)
{
    return mj_transport_read(((struct counting *)t)->inner, buf, cap, n_out, err);
}

static mj_outcome cnt_write(mj_transport *t, const void *buf, size_t len, mj_error *err)
{
    struct counting *c = (struct counting *)t;
    c->writes++;
    if (c->fail_writes)
        return mj_error_set(err, MJ_CONNECTION_LOST, MJ_R_RESET, "reset (test)");
    return mj_transport_write(c->inner, buf, len, err);
}

static size_t cnt_pending(mj_transport *t)
{
    return mj_transport_pending(((struct counting *)t)->inner);
}

static mj_outcome cnt_starttls(mj_transport *t, const mj_tls_config *cfg, const char *host,
                               mj_error *err)
{
    return mj_transport_starttls(((struct counting *)t)->inner, cfg, host, err);
}

static void cnt_tls_info(mj_transport *t, mj_tls_info *info_out)
{
    mj_transport_tls_info(((struct counting *)t)->inner, info_out);
}

static void cnt_close(mj_transport *t)
{
    mj_transport_close(((struct counting *)t)->inner);
    free(t);
}

static const mj_transport_ops cnt_ops = {"counting", cnt_read,     cnt_write, cnt_pending,
                                         cnt_starttls, cnt_tls_info, cnt_close, NULL};

static mj_timeouts g_timeouts = {1000, 1000, 0};

/* The fixture: a conn over counting(memory(script)), logging to memory. */
struct fx {
    mj_conn *conn;
    struct counting *cnt;
    mj_transport *mem;
    char *log_text;
    size_t log_len;
    FILE *log_fp;
    mj_log *log;
};

static void fx_open(struct fx *f, const char *input, bool report_pending)
{
    mj_mem_script sc = {.input = input,
                        .input_len = input ? strlen(input) : 0,
                        .report_pending = report_pending,
                        .starttls_state = MJ_TLS_VERIFIED};
    mj_error err;
    assert_int_equal(mj_mem_transport_new(&sc, &g_timeouts, &f->mem, &err), MJ_OK);
    f->cnt = calloc(1, sizeof *f->cnt);
    assert_non_null(f->cnt);
    f->cnt->base.ops = &cnt_ops;
    f->cnt->base.timeouts = &g_timeouts;
    f->cnt->inner = f->mem;
    f->log_text = NULL;
    f->log_fp = open_memstream(&f->log_text, &f->log_len);
    assert_non_null(f->log_fp);
    f->log = mj_log_new(f->log_fp);
    mj_conn_config cfg;
    mj_conn_config_init(&cfg, MJ_PROTO_IMAP);
    cfg.endpoint.host = "mail.mailjig.test";
    cfg.endpoint.port = 143;
    cfg.security = MJ_SEC_STARTTLS;
    cfg.log = f->log;
    assert_int_equal(mj_conn_wrap(&f->cnt->base, &cfg, &f->conn, &err), MJ_OK);
}

/* Close everything; the log text stays in f->log_text for the test. */
static void fx_close(struct fx *f)
{
    mj_conn_close(f->conn);
    mj_log_free(f->log);
    fclose(f->log_fp);
}

static void assert_wire(struct fx *f, const void *want, size_t want_len)
{
    size_t len;
    const unsigned char *w = mj_mem_transport_written(f->mem, &len);
    assert_int_equal(len, want_len);
    assert_memory_equal(w, want, want_len);
}

/* ---- output ----------------------------------------------------------------------------- */

static void test_put_flush_one_write(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, NULL, false);
    assert_int_equal(mj_conn_puts(f.conn, "A1 "), MJ_OK);
    assert_int_equal(mj_conn_puts(f.conn, "LOGIN bob "), MJ_OK);
    assert_int_equal(mj_conn_put(f.conn, "s3cr3t", 6, true), MJ_OK);
    assert_int_equal(mj_conn_puts(f.conn, "\r\n"), MJ_OK);
    assert_int_equal(f.cnt->writes, 0); /* nothing leaves before flush */
    assert_int_equal(mj_conn_flush(f.conn), MJ_OK);
    assert_int_equal(f.cnt->writes, 1);
    assert_wire(&f, "A1 LOGIN bob s3cr3t\r\n", 21); /* intact on the wire */
    assert_int_equal(mj_conn_flush(f.conn), MJ_OK); /* empty: no write */
    assert_int_equal(f.cnt->writes, 1);
    fx_close(&f);
    assert_string_equal(f.log_text, "C: A1 LOGIN bob ********\r\n");
    free(f.log_text);
}

static void test_adjacent_secrets_one_mask(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, NULL, false);
    assert_int_equal(mj_conn_put(f.conn, "dXNlcg==", 8, true), MJ_OK);
    assert_int_equal(mj_conn_put(f.conn, "cGFzcw==", 8, true), MJ_OK);
    assert_int_equal(mj_conn_puts(f.conn, "\r\n"), MJ_OK);
    assert_int_equal(mj_conn_flush(f.conn), MJ_OK);
    assert_wire(&f, "dXNlcg==cGFzcw==\r\n", 18);
    fx_close(&f);
    assert_string_equal(f.log_text, "C: ********\r\n");
    free(f.log_text);
}

/* More secret spans than the table holds: put flushes by itself. */
static void test_secret_span_table_full(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, NULL, false);
    char want_wire[256] = "", want_log[512] = "C: ";
    for (int i = 0; i <= MJ_CONN_SECRET_SPANS_MAX; i++) {
        char s[8];
        snprintf(s, sizeof s, "%02d", i);
        assert_int_equal(mj_conn_put(f.conn, s, 2, true), MJ_OK);
        assert_int_equal(mj_conn_puts(f.conn, " "), MJ_OK);
        strcat(want_wire, s);
        strcat(want_wire, " ");
        strcat(want_log, "******** ");
    }
    assert_int_equal(f.cnt->writes, 1); /* the 17th span forced a flush */
    assert_int_equal(mj_conn_puts(f.conn, "\r\n"), MJ_OK);
    assert_int_equal(mj_conn_flush(f.conn), MJ_OK);
    assert_int_equal(f.cnt->writes, 2);
    strcat(want_wire, "\r\n");
    strcat(want_log, "\r\n");
    assert_wire(&f, want_wire, strlen(want_wire));
    fx_close(&f);
    assert_string_equal(f.log_text, want_log);
    free(f.log_text);
}

static void test_put_fills_and_writes_through(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, NULL, false);
    size_t big = 3 * MJ_CONN_OUT_MAX + 100;
    unsigned char *data = malloc(big + 10000);
    assert_non_null(data);
    for (size_t i = 0; i < big + 10000; i++)
        data[i] = (unsigned char)('a' + i % 26);
    /* 60000 then 10000: the second does not fit, so the first leaves alone */
    assert_int_equal(mj_conn_put(f.conn, data, 60000, false), MJ_OK);
    assert_int_equal(mj_conn_put(f.conn, data + 60000, 10000, false), MJ_OK);
    assert_int_equal(f.cnt->writes, 1);
    /* bigger than the buffer: pending output first, then buffer-sized pieces */
    assert_int_equal(mj_conn_put(f.conn, data + 70000, big - 70000 + 10000, false), MJ_OK);
    size_t through = big - 70000 + 10000;
    unsigned pieces = (unsigned)((through + MJ_CONN_OUT_MAX - 1) / MJ_CONN_OUT_MAX);
    assert_int_equal(f.cnt->writes, 2 + pieces);
    assert_wire(&f, data, big + 10000);
    fx_close(&f);
    free(f.log_text);
    free(data);
}

static void test_log_written_before_failed_write(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, NULL, false);
    f.cnt->fail_writes = true;
    assert_int_equal(mj_conn_puts(f.conn, "A2 NOOP\r\n"), MJ_OK);
    assert_int_equal(mj_conn_flush(f.conn), MJ_CONNECTION_LOST);
    assert_int_equal(mj_conn_error(f.conn)->outcome, MJ_CONNECTION_LOST);
    assert_int_equal(mj_conn_error(f.conn)->reason, MJ_R_RESET);
    fflush(f.log_fp);
    assert_string_equal(f.log_text, "C: A2 NOOP\r\n");
    fx_close(&f);
    free(f.log_text);
}

/* ---- STARTTLS ------------------------------------------------------------------------------ */

static void test_starttls_injected_bytes(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "A1 OK Begin TLS now\r\n* OK injected\r\n", false);
    mj_reader *r = mj_conn_reader(f.conn);
    const char *line;
    size_t len;
    mj_error err;
    assert_int_equal(mj_reader_line(r, &line, &len, &err), MJ_OK);
    assert_string_equal(line, "A1 OK Begin TLS now");
    assert_int_equal(mj_conn_starttls(f.conn), MJ_PROTOCOL_ERROR);
    mj_error *e = mj_conn_error(f.conn);
    assert_int_equal(e->reason, MJ_R_DATA_AFTER_STARTTLS);
    assert_non_null(strstr(e->message, "data after the STARTTLS reply: \"* OK injected\\x0d\\x0a\""));
    assert_int_equal(mj_mem_transport_starttls_count(f.mem), 0);
    assert_int_equal(mj_conn_tls_state(f.conn), MJ_TLS_NONE);
    /* the injected line is gone: the next read sees only the end */
    assert_int_equal(mj_reader_line(r, &line, &len, &err), MJ_CONNECTION_LOST);
    assert_int_equal(err.reason, MJ_R_EOF);
    fx_close(&f);
    free(f.log_text);
}

static void test_starttls_clean(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "A1 OK Begin TLS now\r\n", true);
    mj_reader *r = mj_conn_reader(f.conn);
    const char *line;
    size_t len;
    mj_error err;
    assert_int_equal(mj_reader_line(r, &line, &len, &err), MJ_OK);
    assert_int_equal(mj_conn_tls_state(f.conn), MJ_TLS_NONE);
    assert_int_equal(mj_conn_starttls(f.conn), MJ_OK);
    assert_int_equal(mj_mem_transport_starttls_count(f.mem), 1);
    assert_int_equal(mj_conn_tls_state(f.conn), MJ_TLS_VERIFIED);
    mj_tls_info info;
    mj_conn_tls_info(f.conn, &info);
    assert_int_equal(info.state, MJ_TLS_VERIFIED);
    assert_string_equal(mj_conn_host(f.conn), "mail.mailjig.test");
    assert_int_equal(mj_mem_transport_feed(f.mem, "* OK secure\r\n", 13, &err), MJ_OK);
    assert_int_equal(mj_reader_line(r, &line, &len, &err), MJ_OK);
    assert_string_equal(line, "* OK secure");
    fx_close(&f);
    free(f.log_text);
}

static void test_starttls_with_unflushed_output(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "A1 OK go\r\n", false);
    assert_int_equal(mj_conn_puts(f.conn, "A2 CAPABILITY\r\n"), MJ_OK);
    assert_int_equal(mj_conn_starttls(f.conn), MJ_INTERNAL);
    assert_non_null(strstr(mj_conn_error(f.conn)->message, "unsent output"));
    assert_int_equal(mj_mem_transport_starttls_count(f.mem), 0);
    assert_int_equal(f.cnt->writes, 0);
    fx_close(&f);
    free(f.log_text);
}

/* ---- configuration -------------------------------------------------------------------------- */

static void test_config_defaults_and_timeouts(void **state)
{
    (void)state;
    mj_conn_config cfg;
    mj_conn_config_init(&cfg, MJ_PROTO_SMTP);
    assert_int_equal(cfg.protocol, MJ_PROTO_SMTP);
    assert_int_equal(cfg.security, MJ_SEC_NONE);
    assert_null(cfg.log);
    assert_int_equal(cfg.timeouts.io_ms, MJ_DEFAULT_IO_TIMEOUT_MS);
    assert_int_equal(cfg.timeouts.connect_ms, MJ_DEFAULT_CONNECT_TIMEOUT_MS);
    assert_int_equal(cfg.limits.line_max, MJ_LIMIT_LINE_DEFAULT);
    assert_int_equal(cfg.limits.reply_max, MJ_LIMIT_REPLY_DEFAULT);
    assert_false(cfg.tls.insecure);

    struct fx f;
    fx_open(&f, NULL, false);
    /* the conn's timeouts are the ones the transport uses */
    assert_ptr_equal(f.cnt->base.timeouts, mj_conn_timeouts(f.conn));
    assert_int_equal(mj_conn_timeouts(f.conn)->io_ms, MJ_DEFAULT_IO_TIMEOUT_MS);
    fx_close(&f);
    free(f.log_text);
}

/* The config's strings are copied: the conn keeps working after they change. */
static void test_config_strings_copied(void **state)
{
    (void)state;
    char host[32] = "mail.mailjig.test";
    char cafile[32] = "/tmp/ca.pem";
    mj_mem_script sc = {0};
    mj_transport *t;
    mj_error err;
    assert_int_equal(mj_mem_transport_new(&sc, &g_timeouts, &t, &err), MJ_OK);
    mj_conn_config cfg;
    mj_conn_config_init(&cfg, MJ_PROTO_POP3);
    cfg.endpoint.host = host;
    cfg.tls.cafile = cafile;
    mj_conn *c;
    assert_int_equal(mj_conn_wrap(t, &cfg, &c, &err), MJ_OK);
    memset(host, 'X', sizeof host - 1);
    memset(cafile, 'X', sizeof cafile - 1);
    assert_string_equal(mj_conn_host(c), "mail.mailjig.test");
    mj_conn_close(c);
}

/* ---- mj_conn_open over 127.0.0.1 (no internet) ------------------------------------------- */

/* A listening socket on 127.0.0.1 with a kernel-chosen port. */
static int listen_local(unsigned *port_out)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 4), 0);
    socklen_t len = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port_out = ntohs(sa.sin_port);
    return fd;
}

static void test_open_plaintext_logs_connect(void **state)
{
    (void)state;
    unsigned port;
    int lfd = listen_local(&port);
    char *text = NULL;
    size_t text_len = 0;
    FILE *fp = open_memstream(&text, &text_len);
    mj_log *log = mj_log_new(fp);
    mj_conn_config cfg;
    mj_conn_config_init(&cfg, MJ_PROTO_IMAP);
    cfg.endpoint.host = "127.0.0.1";
    cfg.endpoint.port = port;
    cfg.security = MJ_SEC_STARTTLS_IF_AVAILABLE;
    cfg.log = log;
    mj_conn *c;
    mj_error err;
    assert_int_equal(mj_conn_open(&cfg, &c, &err), MJ_OK);
    int sfd = accept(lfd, NULL, NULL);
    assert_true(sfd >= 0);
    assert_int_equal(write(sfd, "* OK hi\r\n", 9), 9);
    const char *line;
    size_t len;
    assert_int_equal(mj_reader_line(mj_conn_reader(c), &line, &len, &err), MJ_OK);
    assert_string_equal(line, "* OK hi");
    assert_int_equal(mj_conn_puts(c, "a LOGOUT\r\n"), MJ_OK);
    assert_int_equal(mj_conn_flush(c), MJ_OK);
    char got[32] = {0};
    assert_int_equal(read(sfd, got, sizeof got - 1), 10);
    assert_string_equal(got, "a LOGOUT\r\n");
    assert_int_equal(mj_conn_tls_state(c), MJ_TLS_NONE);
    mj_conn_close(c);
    mj_log_free(log);
    fclose(fp);
    char want[128];
    snprintf(want, sizeof want,
             "Connected to imap://127.0.0.1:%u/?starttls=when-available\r\n"
             "S: * OK hi\r\nC: a LOGOUT\r\n",
             port);
    assert_string_equal(text, want);
    free(text);
    close(sfd);
    close(lfd);
}

static void test_open_refused_and_bad_config(void **state)
{
    (void)state;
    unsigned port;
    int lfd = listen_local(&port);
    close(lfd); /* nothing listens there now */
    mj_conn_config cfg;
    mj_conn_config_init(&cfg, MJ_PROTO_POP3);
    cfg.endpoint.host = "127.0.0.1";
    cfg.endpoint.port = port;
    mj_conn *c = (mj_conn *)&cfg; /* must be reset to NULL */
    mj_error err;
    assert_int_equal(mj_conn_open(&cfg, &c, &err), MJ_CONNECT_FAILED);
    assert_int_equal(err.reason, MJ_R_REFUSED);
    assert_null(c);

    cfg.security = MJ_SEC_AUTO; /* must be resolved before open */
    assert_int_equal(mj_conn_open(&cfg, &c, &err), MJ_USAGE);
    assert_int_equal(err.reason, MJ_R_BAD_ARGUMENT);
    assert_null(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_flush_one_write),
        cmocka_unit_test(test_adjacent_secrets_one_mask),
        cmocka_unit_test(test_secret_span_table_full),
        cmocka_unit_test(test_put_fills_and_writes_through),
        cmocka_unit_test(test_log_written_before_failed_write),
        cmocka_unit_test(test_starttls_injected_bytes),
        cmocka_unit_test(test_starttls_clean),
        cmocka_unit_test(test_starttls_with_unflushed_output),
        cmocka_unit_test(test_config_defaults_and_timeouts),
        cmocka_unit_test(test_config_strings_copied),
        cmocka_unit_test(test_open_plaintext_logs_connect),
        cmocka_unit_test(test_open_refused_and_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
