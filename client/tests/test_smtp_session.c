/*
 * test_smtp_session.c: the SMTP session over the in-memory transport:
 * exact client bytes, exact outcome class and reason, for the greeting,
 * EHLO/HELO, STARTTLS (SECURITY-CASES #3, #7, #9, #14, #20-#22), AUTH
 * (RFC 4954 codes, initial-response length, credential policy #55/#56,
 * log redaction #67), transactions (pipelining, per-recipient results,
 * RSET, 421, a hang-up after a refusal, DSN/SIZE/BODY/SMTPUTF8/REQUIRETLS
 * parameters, BDAT, dot-stuffing #140/#141), caller arguments with CR/LF
 * (#136), VRFY, NOOP, QUIT.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mailjig/conn.h"
#include "mailjig/smtp.h"

#define GREET "220 mx.test ESMTP\r\n"
#define EHLO_W "EHLO [127.0.0.1]\r\n"

/* A transport that counts writes around the memory transport (pipelining groups). */
typedef struct counting {
    mj_transport base;
    mj_transport *inner;
    size_t n_writes;
    size_t write_len[64];
    size_t fail_from; /* writes from this one on fail with a reset (0: never) */
} counting;

static counting *cnt_of(mj_transport *t)
{
    return (counting *)t;
}
static mj_outcome c_read(mj_transport *t, void *b, size_t cap, size_t *n, mj_error *e)
{
    return mj_transport_read(cnt_of(t)->inner, b, cap, n, e);
}
static mj_outcome c_write(mj_transport *t, const void *b, size_t len, mj_error *e)
{
    counting *c = cnt_of(t);
    if (c->fail_from > 0 && c->n_writes + 1 >= c->fail_from)
        return mj_error_set(e, MJ_CONNECTION_LOST, MJ_R_RESET, "connection reset (test)");
    if (c->n_writes < 64)
        c->write_len[c->n_writes] = len;
    c->n_writes++;
    return mj_transport_write(c->inner, b, len, e);
}
static size_t c_pending(mj_transport *t)
{
    return mj_transport_pending(cnt_of(t)->inner);
}
static mj_outcome c_starttls(mj_transport *t, const mj_tls_config *cfg, const char *h, mj_error *e)
{
    return mj_transport_starttls(cnt_of(t)->inner, cfg, h, e);
}
static void c_info(mj_transport *t, mj_tls_info *i)
{
    mj_transport_tls_info(cnt_of(t)->inner, i);
}
static void c_close(mj_transport *t)
{
    mj_transport_close(cnt_of(t)->inner);
    free(t);
}
static const mj_transport_ops counting_ops = {"counting", c_read,  c_write, c_pending,
                                              c_starttls, c_info, c_close, NULL};

typedef struct fixture {
    counting *ct;
    mj_transport *mem;
    mj_smtp *s;
    FILE *logfp;
    char *logbuf;
    size_t loglen;
    mj_log *log;
    size_t mark; /* wire bytes before the part a test checks */
} fixture;

typedef struct opts {
    mj_security sec;
    size_t chunk;         /* 0: all input in one read */
    mj_tls_state tls_now; /* TLS up before the session (implicit) */
    mj_mem_end end;
} opts;

static void setup_opts(fixture *f, const char *server, size_t len, const opts *o)
{
    memset(f, 0, sizeof *f);
    mj_error err;
    size_t chunks[1] = {o->chunk};
    mj_mem_script script = {.input = server,
                            .input_len = len,
                            .chunks = chunks,
                            .n_chunks = o->chunk ? 1 : 0,
                            .end = o->end,
                            .starttls_state = MJ_TLS_VERIFIED};
    f->logfp = open_memstream(&f->logbuf, &f->loglen);
    assert_non_null(f->logfp);
    f->log = mj_log_new(f->logfp);
    mj_conn_config cfg;
    mj_conn_config_init(&cfg, MJ_PROTO_SMTP);
    cfg.log = f->log;
    cfg.security = o->sec;
    assert_int_equal(mj_mem_transport_new(&script, &cfg.timeouts, &f->mem, &err), MJ_OK);
    if (o->tls_now != MJ_TLS_NONE) {
        assert_int_equal(mj_transport_starttls(f->mem, &cfg.tls, "mx.test", &err), MJ_OK);
    }
    f->ct = calloc(1, sizeof *f->ct);
    assert_non_null(f->ct);
    f->ct->base.ops = &counting_ops;
    f->ct->base.timeouts = f->mem->timeouts;
    f->ct->inner = f->mem;
    mj_conn *c = NULL;
    assert_int_equal(mj_conn_wrap(&f->ct->base, &cfg, &c, &err), MJ_OK);
    assert_int_equal(mj_smtp_new(c, o->sec, NULL, &f->s, &err), MJ_OK);
}

static void setup(fixture *f, const char *server, mj_security sec)
{
    opts o = {.sec = sec};
    setup_opts(f, server, strlen(server), &o);
}

static void teardown(fixture *f)
{
    mj_smtp_free(f->s);
    mj_log_free(f->log);
    fclose(f->logfp);
    free(f->logbuf);
}

static void assert_wire(fixture *f, const char *want)
{
    size_t n = 0;
    const unsigned char *w = mj_mem_transport_written(f->mem, &n);
    assert_true(n >= f->mark);
    char *copy = malloc(n - f->mark + 1);
    assert_non_null(copy);
    if (n > f->mark)
        memcpy(copy, w + f->mark, n - f->mark);
    copy[n - f->mark] = '\0';
    assert_string_equal(copy, want);
    free(copy);
}

/* Skip the bytes sent so far (the hello) in later assert_wire calls. */
static void mark(fixture *f)
{
    mj_mem_transport_written(f->mem, &f->mark);
}

static void assert_err(fixture *f, mj_outcome o, mj_reason r, const char *in_message)
{
    const mj_error *e = mj_smtp_error(f->s);
    assert_int_equal(e->outcome, o);
    assert_int_equal(e->reason, r);
    if (in_message != NULL && strstr(e->message, in_message) == NULL)
        fail_msg("message '%s' lacks '%s'", e->message, in_message);
}

/* ---- greeting, EHLO, HELO ------------------------------------------------------- */

static void test_ehlo_capabilities(void **state)
{
    (void)state;
    fixture f;
    setup(&f,
          GREET "250-mx.test greets you\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-8BITMIME\r\n"
                "250-AUTH=LOGIN\r\n250-auth PLAIN SCRAM-SHA-256\r\n250-ENHANCEDSTATUSCODES\r\n"
                "250-CHUNKING\r\n250 DSN\r\n",
          MJ_SEC_NONE);
    assert_int_equal(mj_smtp_hello(f.s), MJ_OK);
    const mj_smtp_caps *c = mj_smtp_caps_get(f.s);
    assert_int_equal(c->flags, MJ_SMTP_EXT_PIPELINING | MJ_SMTP_EXT_SIZE | MJ_SMTP_EXT_8BITMIME |
                                   MJ_SMTP_EXT_AUTH | MJ_SMTP_EXT_ENHANCEDSTATUSCODES |
                                   MJ_SMTP_EXT_CHUNKING | MJ_SMTP_EXT_DSN);
    assert_int_equal(c->size_max, 1000);
    assert_int_equal(c->auth, MJ_SASL_BIT(MJ_SASL_LOGIN) | MJ_SASL_BIT(MJ_SASL_PLAIN) |
                                  MJ_SASL_BIT(MJ_SASL_SCRAM_SHA_256));
    assert_false(c->helo);
    assert_int_equal(mj_smtp_ehlo_reply(f.s)->n_lines, 9);
    assert_wire(&f, EHLO_W);
    teardown(&f);
}

static void test_helo_fallback(void **state)
{
    (void)state;
    fixture f;
    setup(&f, GREET "500 5.5.1 what is EHLO\r\n250 mx.test\r\n", MJ_SEC_NONE);
    assert_int_equal(mj_smtp_hello(f.s), MJ_OK);
    assert_true(mj_smtp_caps_get(f.s)->helo);
    assert_int_equal(mj_smtp_caps_get(f.s)->flags, 0);
    assert_null(mj_smtp_ehlo_reply(f.s));
    assert_wire(&f, EHLO_W "HELO [127.0.0.1]\r\n");
    teardown(&f);
}

/* SECURITY-CASES #9: the HELO fallback does not route around STARTTLS. */
static void test_helo_fallback_under_starttls_required(void **state)
{
    (void)state;
    fixture f;
    setup(&f, GREET "502 no\r\n250 mx.test\r\n", MJ_SEC_STARTTLS);
    assert_int_equal(mj_smtp_hello(f.s), MJ_STARTTLS_UNAVAILABLE);
    assert_err(&f, MJ_STARTTLS_UNAVAILABLE, MJ_R_NONE, "HELO cannot offer STARTTLS");
    mj_smtp_quit(f.s);
    assert_wire(&f, EHLO_W "HELO [127.0.0.1]\r\nQUIT\r\n");
    teardown(&f);
}

static void test_greeting_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *server;
        mj_outcome o;
        const char *msg;
    } rows[] = {
        {"554 5.7.1 no service for you\x1b[0m\r\n", MJ_SERVER_REFUSED,
         "554 5.7.1 no service for you\\x1b[0m"},
        {"421 4.3.2 busy\r\n", MJ_SERVER_BUSY, "closing the session: 421 4.3.2 busy"},
        {"450 later\r\n", MJ_SERVER_BUSY, "450 later"},
        {"250 hi\r\n", MJ_PROTOCOL_ERROR, "unexpected reply 250 hi"},
        {"* OK IMAP4rev1\r\n", MJ_PROTOCOL_ERROR, "three-digit code"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        fixture f;
        setup(&f, rows[i].server, MJ_SEC_NONE);
        assert_int_equal(mj_smtp_hello(f.s), rows[i].o);
        assert_err(&f, rows[i].o, rows[i].o == MJ_PROTOCOL_ERROR ? MJ_R_MALFORMED : MJ_R_NONE,
                   rows[i].msg);
        assert_wire(&f, "");
        teardown(&f);
    }
}

static void test_hostile_ehlo_replies(void **state)
{
    (void)state;
    fixture f;
    setup(&f, GREET "250-mx\r\n550 AUTH PLAIN\r\n", MJ_SEC_NONE);
    assert_int_equal(mj_smtp_hello(f.s), MJ_PROTOCOL_ERROR);
    assert_err(&f, MJ_PROTOCOL_ERROR, MJ_R_MALFORMED, "codes disagree (250, then 550)");
    teardown(&f);

    size_t n = 200 * 7 + sizeof GREET;
    char *endless = malloc(n);
    assert_non_null(endless);
    strcpy(endless, GREET);
    for (int i = 0; i < 200; i++)
        strcat(endless, "250-x\r\n");
    setup(&f, endless, MJ_SEC_NONE);
    assert_int_equal(mj_smtp_hello(f.s), MJ_PROTOCOL_ERROR);
    assert_err(&f, MJ_PROTOCOL_ERROR, MJ_R_REPLY_TOO_LARGE, "MJ_SMTP_REPLY_LINES_MAX");
    teardown(&f);
    free(endless);

    setup(&f, GREET "250\r\n", MJ_SEC_NONE); /* bare 250 */
    assert_int_equal(mj_smtp_hello(f.s), MJ_OK);
    assert_int_equal(mj_smtp_caps_get(f.s)->flags, 0);
    teardown(&f);

    setup(&f, GREET, MJ_SEC_NONE); /* EOF where the EHLO reply is due */
    assert_int_equal(mj_smtp_hello(f.s), MJ_CONNECTION_LOST);
    assert_err(&f, MJ_CONNECTION_LOST, MJ_R_EOF, NULL);
    teardown(&f);
}

/* ---- STARTTLS ------------------------------------------------------------------- */

/* SECURITY-CASES #3: STARTTLS missing. */
static void test_starttls_missing_required(void **state)
{
    (void)state;
    fixture f;
    setup(&f, GREET "250-example.org\r\n250 AUTH PLAIN LOGIN\r\n", MJ_SEC_STARTTLS);
    assert_int_equal(mj_smtp_hello(f.s), MJ_STARTTLS_UNAVAILABLE);
    assert_err(&f, MJ_STARTTLS_UNAVAILABLE, MJ_R_NONE, "does not offer STARTTLS");
    mj_sasl_creds creds = {.username = "alice", .password = "s3cret-pw"};
    assert_int_equal(mj_smtp_auth(f.s, &creds, MJ_SASL_NONE, NULL), MJ_USAGE);
    assert_wire(&f, EHLO_W);
    teardown(&f);
}

static void test_starttls_upgrade(void **state)
{
    (void)state;
    fixture f;
    static const char server[] = GREET "250-mx\r\n250-PIPELINING\r\n250-AUTH LOGIN\r\n250 STARTTLS\r\n"
                                       "220 2.0.0 go ahead\r\n"
                                       "250-mx over tls\r\n250 AUTH PLAIN SCRAM-SHA-256\r\n";
    /* One byte per read: nothing is buffered past the 220 when TLS starts. */
    opts o = {.sec = MJ_SEC_STARTTLS, .chunk = 1};
    setup_opts(&f, server, strlen(server), &o);
    assert_int_equal(mj_smtp_hello(f.s), MJ_OK);
    assert_int_equal(mj_mem_transport_starttls_count(f.mem), 1);
    assert_int_equal(mj_conn_tls_state(mj_smtp_conn(f.s)), MJ_TLS_VERIFIED);
    const mj_smtp_caps *c = mj_smtp_caps_get(f.s);
    /* Only what the server said over TLS counts. */
    assert_int_equal(c->flags, MJ_SMTP_EXT_AUTH);
    assert_int_equal(c->auth, MJ_SASL_BIT(MJ_SASL_PLAIN) | MJ_SASL_BIT(MJ_SASL_SCRAM_SHA_256));
    assert_wire(&f, EHLO_W "STARTTLS\r\n" EHLO_W);
    teardown(&f);
}

/* SECURITY-CASES #7: only 220 leads to a handshake. */
static void test_starttls_answered_otherwise(void **state)
{
    (void)state;
    static const struct {
        const char *reply;
        mj_outcome o;
    } rows[] = {
        {"454 4.7.0 TLS not available due to temporary reason\r\n", MJ_STARTTLS_UNAVAILABLE},
        {"502 5.5.1 Command not implemented\r\n", MJ_STARTTLS_UNAVAILABLE},
        {"501 5.5.4 Syntax error\r\n", MJ_STARTTLS_UNAVAILABLE},
        {"500 5.5.2 unrecognized\r\n", MJ_STARTTLS_UNAVAILABLE},
        {"530 5.7.0 Must issue a STARTTLS command first\r\n", MJ_STARTTLS_UNAVAILABLE},
        {"221 2.0.0 bye\r\n", MJ_STARTTLS_UNAVAILABLE},
        {"354 Start mail input\r\n", MJ_STARTTLS_UNAVAILABLE},
        {"421 4.7.0 closing\r\n", MJ_SERVER_BUSY},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char server[256];
        snprintf(server, sizeof server, GREET "250-mx\r\n250 STARTTLS\r\n%s", rows[i].reply);
        fixture f;
        setup(&f, server, MJ_SEC_STARTTLS);
        assert_int_equal(mj_smtp_hello(f.s), rows[i].o);
        assert_err(&f, rows[i].o, MJ_R_NONE, NULL);
        char code[4];
        memcpy(code, rows[i].reply, 3);
        code[3] = '\0';
        assert_non_null(strstr(mj_smtp_error(f.s)->message, code));
        assert_int_equal(mj_mem_transport_starttls_count(f.mem), 0);
        mj_smtp_quit(f.s);
        /* QUIT only where it cannot be taken as message data or reach a closing server. */
        bool quit = rows[i].reply[0] >= '4' && strncmp(rows[i].reply, "421", 3) != 0;
        assert_wire(&f, quit ? EHLO_W "STARTTLS\r\nQUIT\r\n" : EHLO_W "STARTTLS\r\n");
        teardown(&f);
    }
}

/* SECURITY-CASES #14: opportunistic mode stays in plaintext, and credentials stay home. */
static void test_starttls_if_available_refused(void **state)
{
    (void)state;
    fixture f;
    setup(&f, GREET "250-mx\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n454 4.7.0 not now\r\n",
          MJ_SEC_STARTTLS_IF_AVAILABLE);
    assert_int_equal(mj_smtp_hello(f.s), MJ_OK);
    assert_int_equal(mj_conn_tls_state(mj_smtp_conn(f.s)), MJ_TLS_NONE);
    mj_sasl_creds creds = {.username = "alice", .password = "s3cret-pw"};
    assert_int_equal(mj_smtp_auth(f.s, &creds, MJ_SASL_NONE, NULL), MJ_CLEARTEXT_REFUSED);
    assert_wire(&f, EHLO_W "STARTTLS\r\n");
    teardown(&f);
}

/* SECURITY-CASES #20, #21, #22: bytes after the 220 are an attack. */
static void test_starttls_injection(void **state)
{
    (void)state;
    static const char *const injected[] = {
        "220 Ready to start TLS\r\n250-example.org\r\n250 AUTH LOGIN\r\n",
        ("220 ok\r\n454 currently unavailable\r\n235 Authenticated\r\n250 2.1.0 Sender ok\r\n"
         "250 2.1.5 Recipient ok\r\n354 Enter mail\r\n250 2.0.0 Accepted"),
        "220 ok\r\n250-AUTH PLAIN",
    };
    for (size_t i = 0; i < sizeof injected / sizeof injected[0]; i++) {
        char server[512];
        snprintf(server, sizeof server, GREET "250-mx\r\n250 STARTTLS\r\n%s", injected[i]);
        fixture f;
        setup(&f, server, MJ_SEC_STARTTLS);
        assert_int_equal(mj_smtp_hello(f.s), MJ_PROTOCOL_ERROR);
        assert_err(&f, MJ_PROTOCOL_ERROR, MJ_R_DATA_AFTER_STARTTLS, NULL);
        assert_int_equal(mj_mem_transport_starttls_count(f.mem), 0);
        mj_smtp_quit(f.s);
        assert_wire(&f, EHLO_W "STARTTLS\r\n");
        teardown(&f);
    }
}

/* ---- AUTH ------------------------------------------------------------------------- */

static const mj_sasl_creds alice = {.username = "alice", .password = "s3cret-pw"};

static void setup_tls(fixture *f, const char *server)
{
    opts o = {.sec = MJ_SEC_IMPLICIT, .tls_now = MJ_TLS_VERIFIED};
    setup_opts(f, server, strlen(server), &o);
    assert_int_equal(mj_smtp_hello(f->s), MJ_OK);
    mark(f);
}

#define EHLO_AUTH GREET "250-mx\r\n250 AUTH PLAIN LOGIN\r\n"

static void test_auth_plain(void **state)
{
    (void)state;
    fixture f;
    setup_tls(&f, EHLO_AUTH "235 2.7.0 Authentication successful\r\n");
    assert_int_equal(mj_smtp_auth(&*f.s, &alice, MJ_SASL_NONE, NULL), MJ_OK);
    assert_wire(&f, "AUTH PLAIN AGFsaWNlAHMzY3JldC1wdw==\r\n");
    fflush(f.logfp);
    assert_non_null(strstr(f.logbuf, "C: AUTH PLAIN ********\r\n"));
    assert_null(strstr(f.logbuf, "AGFsaWNlAHMzY3JldC1wdw=="));
    teardown(&f);
}

static void test_auth_login_redacted(void **state)
{
    (void)state;
    fixture f;
    setup_tls(&f, EHLO_AUTH "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 ok\r\n");
    assert_int_equal(mj_smtp_auth(f.s, &alice, MJ_SASL_LOGIN, NULL), MJ_OK);
    assert_wire(&f, "AUTH LOGIN\r\nYWxpY2U=\r\nczNjcmV0LXB3\r\n");
    fflush(f.logfp);
    assert_null(strstr(f.logbuf, "czNjcmV0LXB3"));
    assert_null(strstr(f.logbuf, "YWxpY2U="));
    teardown(&f);
}

static void test_auth_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *reply;
        mj_outcome o;
    } rows[] = {
        {"535 5.7.8 Authentication credentials invalid\r\n", MJ_AUTH_FAILED},
        {"534 5.7.9 Please log in with your web browser\r\n", MJ_AUTH_FAILED},
        {"530 5.7.0 Authentication required\r\n", MJ_AUTH_FAILED},
        {"538 5.7.11 Encryption required\r\n", MJ_AUTH_FAILED},
        {"454 4.7.0 Temporary authentication failure\r\n", MJ_SERVER_BUSY},
        {"421 4.7.0 Try again later, closing connection\r\n", MJ_SERVER_BUSY},
        {"504 5.5.4 Unrecognized authentication type\r\n", MJ_AUTH_UNSUPPORTED},
        {"501 5.5.2 Cannot Base64-decode\r\n", MJ_PROTOCOL_ERROR},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char server[256];
        snprintf(server, sizeof server, EHLO_AUTH "%s", rows[i].reply);
        fixture f;
        setup_tls(&f, server);
        assert_int_equal(mj_smtp_auth(f.s, &alice, MJ_SASL_PLAIN, NULL), rows[i].o);
        char want[128];
        snprintf(want, sizeof want, "the server refused PLAIN authentication: %.*s",
                 (int)(strlen(rows[i].reply) - 2), rows[i].reply);
        assert_err(&f, rows[i].o, MJ_R_NONE, want);
        assert_null(strstr(mj_smtp_error(f.s)->message, "s3cret"));
        assert_wire(&f, "AUTH PLAIN AGFsaWNlAHMzY3JldC1wdw==\r\n");
        teardown(&f);
    }
}

/* Automatic choice: after PLAIN is refused, LOGIN (same class) is tried, never weaker. */
static void test_auth_fallback_same_class(void **state)
{
    (void)state;
    fixture f;
    setup_tls(&f, EHLO_AUTH "535 5.7.8 no\r\n535 5.7.8 still no\r\n");
    assert_int_equal(mj_smtp_auth(f.s, &alice, MJ_SASL_NONE, NULL), MJ_AUTH_FAILED);
    assert_err(&f, MJ_AUTH_FAILED, MJ_R_NONE, "LOGIN authentication: 535 5.7.8 still no");
    assert_wire(&f, "AUTH PLAIN AGFsaWNlAHMzY3JldC1wdw==\r\nAUTH LOGIN\r\n");
    teardown(&f);
}

/* RFC 4954 4: the initial response only when the AUTH line stays within 512 bytes. */
static void test_auth_initial_response_limit(void **state)
{
    (void)state;
    char pw[401];
    memset(pw, 'p', 400);
    pw[400] = '\0';
    mj_sasl_creds big = {.username = "alice", .password = pw};
    fixture f;
    setup_tls(&f, EHLO_AUTH "334 \r\n235 ok\r\n");
    assert_int_equal(mj_smtp_auth(f.s, &big, MJ_SASL_PLAIN, NULL), MJ_OK);
    size_t n = 0;
    const unsigned char *w = mj_mem_transport_written(f.mem, &n);
    assert_memory_equal(w + f.mark, "AUTH PLAIN\r\n", 12);
    assert_int_equal(n - f.mark, 12 + MJ_B64_ENCODED_LEN(407) + 2);
    teardown(&f);

    /* 373 bytes of password: "AUTH PLAIN " + 508 base64 chars + CRLF = 521 > 512. */
    /* 370 bytes: 11 + 504 + 2 = 517 > 512 still; 366 bytes: 11 + 500 + 2 = 513. */
    /* 365 bytes: 11 + MJ_B64_ENCODED_LEN(372)=496 + 2 = 509: fits. */
    pw[365] = '\0';
    setup_tls(&f, EHLO_AUTH "235 ok\r\n");
    assert_int_equal(mj_smtp_auth(f.s, &big, MJ_SASL_PLAIN, NULL), MJ_OK);
    w = mj_mem_transport_written(f.mem, &n);
    assert_int_equal(n - f.mark, 11 + MJ_B64_ENCODED_LEN(372) + 2);
    teardown(&f);
}

static void test_auth_policy(void **state)
{
    (void)state;
    fixture f;
    /* SECURITY-CASES #55/#56: plaintext and the server's AUTH PLAIN do not unlock it. */
    setup(&f, EHLO_AUTH, MJ_SEC_NONE);
    assert_int_equal(mj_smtp_hello(f.s), MJ_OK);
    assert_int_equal(mj_smtp_auth(f.s, &alice, MJ_SASL_NONE, NULL), MJ_CLEARTEXT_REFUSED);
    assert_wire(&f, EHLO_W);
    teardown(&f);
    /* ... unless the caller opted in. */
    setup(&f, EHLO_AUTH "235 ok\r\n", MJ_SEC_NONE);
    assert_int_equal(mj_smtp_hello(f.s), MJ_OK);
    mj_sasl_policy allow = {.allow_insecure_auth = 1};
    assert_int_equal(mj_smtp_auth(f.s, &alice, MJ_SASL_NONE, &allow), MJ_OK);
    teardown(&f);
    /* No AUTH at all. */
    setup_tls(&f, GREET "250-mx\r\n250 8BITMIME\r\n");
    assert_int_equal(mj_smtp_auth(f.s, &alice, MJ_SASL_NONE, NULL), MJ_AUTH_UNSUPPORTED);
    assert_err(&f, MJ_AUTH_UNSUPPORTED, MJ_R_NONE, "does not offer AUTH");
    assert_wire(&f, "");
    teardown(&f);
}

/* ---- transactions ------------------------------------------------------------------ */

typedef struct memsrc {
    const char *data;
    size_t len, pos, step;
} memsrc;

static mj_outcome memsrc_read(void *ctx, unsigned char *buf, size_t cap, size_t *n_out,
                              mj_error *err)
{
    memsrc *m = ctx;
    (void)err;
    size_t n = m->len - m->pos;
    if (m->step > 0 && n > m->step)
        n = m->step;
    if (n > cap)
        n = cap;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    *n_out = n;
    return MJ_OK;
}

static const char *const two[] = {"bob@example.org", "carol@example.org"};

static mj_outcome send_text(fixture *f, const mj_smtp_envelope *env, const char *body, size_t step,
                            mj_smtp_send_result *res)
{
    memsrc m = {body, strlen(body), 0, step};
    mj_smtp_source src = {memsrc_read, &m};
    return mj_smtp_send(f->s, env, &src, res);
}

#define EHLO_PLAIN GREET "250-mx\r\n250 8BITMIME\r\n"
#define EHLO_PIPE GREET "250-mx\r\n250 PIPELINING\r\n"

static void test_send_partial_refusal(void **state)
{
    (void)state;
    fixture f;
    setup_tls(&f, EHLO_PLAIN "250 2.1.0 ok\r\n550-5.1.1 no such\r\n550 5.1.1 user\r\n"
                             "250 2.1.5 ok\r\n354 go\r\n250 2.0.0 queued as X\r\n");
    mj_smtp_envelope env = {.from = "alice@example.org", .to = two, .n_to = 2};
    mj_smtp_send_result res;
    assert_int_equal(send_text(&f, &env, "Subject: hi\r\n\r\nbody\r\n", 0, &res), MJ_OK);
    assert_wire(&f, "MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\n"
                    "RCPT TO:<carol@example.org>\r\nDATA\r\nSubject: hi\r\n\r\nbody\r\n.\r\n");
    assert_int_equal(res.n_rcpt, 2);
    assert_int_equal(res.n_accepted, 1);
    assert_false(res.rcpt[0].accepted);
    assert_int_equal(res.rcpt[0].code, 550);
    assert_string_equal(res.rcpt[0].enhanced, "5.1.1");
    assert_string_equal(res.rcpt[0].text, "no such / user");
    assert_true(res.rcpt[1].accepted);
    assert_int_equal(res.code, 250);
    assert_string_equal(res.enhanced, "2.0.0");
    assert_string_equal(res.text, "queued as X");
    mj_smtp_send_result_free(&res);
    /* The session is ready for the next command. */
    teardown(&f);
}

static void test_send_pipelined_one_group(void **state)
{
    (void)state;
    fixture f;
    setup_tls(&f, EHLO_PIPE "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 sent\r\n");
    size_t writes_before = f.ct->n_writes;
    mj_smtp_envelope env = {.from = "a@x", .to = two, .n_to = 2};
    mj_smtp_send_result res;
    assert_int_equal(send_text(&f, &env, "hi\r\n", 0, &res), MJ_OK);
    static const char group[] = "MAIL FROM:<a@x>\r\nRCPT TO:<bob@example.org>\r\n"
                                "RCPT TO:<carol@example.org>\r\nDATA\r\n";
    assert_wire(&f, "MAIL FROM:<a@x>\r\nRCPT TO:<bob@example.org>\r\n"
                    "RCPT TO:<carol@example.org>\r\nDATA\r\nhi\r\n.\r\n");
    /* MAIL, RCPT, RCPT, DATA in one write; the body in a later one. */
    assert_int_equal(f.ct->n_writes - writes_before, 2);
    assert_int_equal(f.ct->write_len[writes_before], strlen(group));
    assert_int_equal(res.n_accepted, 2);
    mj_smtp_send_result_free(&res);
    teardown(&f);
}

/* No byte of the body before DATA's 354; RSET after the failed transaction. */
static void test_send_pipelined_data_refused(void **state)
{
    (void)state;
    fixture f;
    setup_tls(&f, EHLO_PIPE "250 ok\r\n250 ok\r\n554 5.5.1 no valid recipients\r\n250 reset\r\n");
    static const char *const one[] = {"b@x"};
    mj_smtp_envelope env = {.from = "a@x", .to = one, .n_to = 1};
    mj_smtp_send_result res;
    assert_int_equal(send_text(&f, &env, "secret body\r\n", 0, &res), MJ_MESSAGE_REJECTED);
    assert_err(&f, MJ_MESSAGE_REJECTED, MJ_R_NONE, "DATA: 554 5.5.1 no valid recipients");
    assert_wire(&f, "MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\nRSET\r\n");
    mj_smtp_send_result_free(&res);
    teardown(&f);
}

/* RFC 2920 3.1: 354 although every RCPT failed: close with an empty message, never the body. */
static void test_send_pipelined_354_without_recipients(void **state)
{
    (void)state;
    fixture f;
    setup_tls(&f, EHLO_PIPE "250 ok\r\n550 5.1.1 nobody\r\n354 go\r\n554 no message\r\n250 ok\r\n");
    static const char *const one[] = {"b@x"};
    mj_smtp_envelope env = {.from = "a@x", .to = one, .n_to = 1};
    mj_smtp_send_result res;
    assert_int_equal(send_text(&f, &env, "secret body\r\n", 0, &res), MJ_MESSAGE_REJECTED);
    assert_err(&f, MJ_MESSAGE_REJECTED, MJ_R_NONE, "every recipient was refused: <b@x> 550 5.1.1 nobody");
    assert_wire(&f, "MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n.\r\nRSET\r\n");
    mj_smtp_send_result_free(&res);
    teardown(&f);
}

/*
 * Pipelined, the only recipient greylisted (450) and DATA then refused 554:
 * the DATA refusal is a consequence, the verdict is the recipients'
 * (server-busy: try again later), not a permanent message-rejected.
 */
static void test_send_pipelined_greylisted_then_data_refused(void **state)
{
    (void)state;
    fixture f;
    setup_tls(&f, EHLO_PIPE "250 ok\r\n450 4.2.0 greylisted\r\n554 5.5.1 no valid recipients\r\n"
                            "250 reset\r\n");
    static const char *const one[] = {"b@x"};
    mj_smtp_envelope env = {.from = "a@x", .to = one, .n_to = 1};
    mj_smtp_send_result res;
    assert_int_equal(send_text(&f, &env, "secret body\r\n", 0, &res), MJ_SERVER_BUSY);
    assert_err(&f, MJ_SERVER_BUSY, MJ_R_NONE, "every recipient was refused: <b@x> 450 4.2.0 greylisted");
    assert_wire(&f, "MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\nRSET\r\n");
    mj_smtp_send_result_free(&res);
    teardown(&f);

    /* A permanent refusal of the recipient: still message-rejected, for the recipient. */
    setup_tls(&f, EHLO_PIPE "250 ok\r\n550 5.1.1 nobody\r\n554 5.5.1 no valid recipients\r\n"
                            "250 reset\r\n");
    assert_int_equal(send_text(&f, &env, "secret body\r\n", 0, &res), MJ_MESSAGE_REJECTED);
    assert_err(&f, MJ_MESSAGE_REJECTED, MJ_R_NONE, "every recipient was refused: <b@x> 550 5.1.1 nobody");
    mj_smtp_send_result_free(&res);
    teardown(&f);
}

static void test_send_all_refused(void **state)
{
    (void)state;
    fixture f;
    setup_tls(&f, EHLO_PLAIN "250 ok\r\n550 5.1.1 no bob\r\n553 5.1.3 bad carol\r\n250 reset\r\n");
    mj_smtp_envelope env = {.from = "a@x", .to = two, .n_to = 2};
    mj_smtp_send_result res;
    assert_int_equal(send_text(&f, &env, "x\r\n", 0, &res), MJ_MESSAGE_REJECTED);
    assert_err(&f, MJ_MESSAGE_REJECTED, MJ_R_NONE,
               "every recipient was refused: <bob@example.org> 550 5.1.1 no bob; "
               "<carol@example.org> 553 5.1.3 bad carol");
    assert_wire(&f, "MAIL FROM:<a@x>\r\nRCPT TO:<bob@example.org>\r\n"
                    "RCPT TO:<carol@example.org>\r\nRSET\r\n");
    mj_smtp_send_result_free(&res);
    teardown(&f);

    /* Greylisting: every refusal temporary -> server-busy. */
    setup_tls(&f, EHLO_PLAIN "250 ok\r\n450 4.2.0 greylisted\r\n451 4.7.1 try later\r\n250 ok\r\n");
    assert_int_equal(send_text(&f, &env, "x\r\n", 0, &res), MJ_SERVER_BUSY);
    assert_err(&f, MJ_SERVER_BUSY, MJ_R_NONE, "450 4.2.0 greylisted");
    mj_smtp_send_result_free(&res);
    teardown(&f);
}

static void test_send_sender_refused(void **state)
{
    (void)state;
    fixture f;
    setup_tls(&f, EHLO_PLAIN "550 5.7.1 sender denied\r\n250 ok\r\n");
    mj_smtp_envelope env = {.from = "a@x", .to = two, .n_to = 2};
    mj_smtp_send_result res;
    assert_int_equal(send_text(&f, &env, "x\r\n", 0, &res), MJ_MESSAGE_REJECTED);
    assert_err(&f, MJ_MESSAGE_REJECTED, MJ_R_NONE,
               "the server refused the sender <a@x>: 550 5.7.1 sender denied");
    assert_wire(&f, "MAIL FROM:<a@x>\r\nRSET\r\n");
    mj_smtp_send_result_free(&res);
    teardown(&f);
}

static void test_send_421_midway(void **state)
{
    (void)state;
    fixture f;
    setup_tls(&f, EHLO_PLAIN "250 ok\r\n421 4.7.0 too many errors, closing\r\n");
    mj_smtp_envelope env = {.from = "a@x", .to = two, .n_to = 2};
    mj_smtp_send_result res;
    assert_int_equal(send_text(&f, &env, "x\r\n", 0, &res), MJ_SERVER_BUSY);
    assert_err(&f, MJ_SERVER_BUSY, MJ_R_NONE,
               "closing the session: 421 4.7.0 too many errors, closing");
    mj_smtp_quit(f.s); /* nothing more: the server is gone */
    assert_wire(&f, "MAIL FROM:<a@x>\r\nRCPT TO:<bob@example.org>\r\n");
    mj_smtp_send_result_free(&res);
    teardown(&f);
}

/* Hotmail: a refusal, then the connection closes; the refusal's text is the answer. */
static void test_send_hangup_after_refusal(void **state)
{
    (void)state;
    fixture f;
    setup_tls(&f, EHLO_PLAIN "250 ok\r\n550 5.7.1 Service unavailable; client blocked\r\n");
    mj_smtp_envelope env = {.from = "a@x", .to = two, .n_to = 2};
    mj_smtp_send_result res;
    assert_int_equal(send_text(&f, &env, "x\r\n", 0, &res), MJ_MESSAGE_REJECTED);
    assert_err(&f, MJ_MESSAGE_REJECTED, MJ_R_NONE,
               "550 5.7.1 Service unavailable; client blocked (then the connection ended)");
    mj_smtp_send_result_free(&res);
    teardown(&f);

    setup_tls(&f, EHLO_PIPE "550 5.7.1 go away\r\n");
    assert_int_equal(send_text(&f, &env, "x\r\n", 0, &res), MJ_MESSAGE_REJECTED);
    assert_err(&f, MJ_MESSAGE_REJECTED, MJ_R_NONE,
               "the server refused the sender <a@x>: 550 5.7.1 go away (then the connection ended)");
    mj_smtp_send_result_free(&res);
    teardown(&f);
}

static void test_send_final_reply(void **state)
{
    (void)state;
    static const struct {
        const char *reply;
        mj_outcome o;
        mj_reason r;
    } rows[] = {
        {"554 5.6.0 message refused\r\n", MJ_MESSAGE_REJECTED, MJ_R_NONE},
        {"451 4.3.0 local error\r\n", MJ_SERVER_BUSY, MJ_R_NONE},
        {"", MJ_CONNECTION_LOST, MJ_R_EOF},
        {"354 again?\r\n", MJ_PROTOCOL_ERROR, MJ_R_MALFORMED},
    };
    static const char *const one[] = {"b@x"};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char server[256];
        snprintf(server, sizeof server, EHLO_PLAIN "250 ok\r\n250 ok\r\n354 go\r\n%s",
                 rows[i].reply);
        fixture f;
        setup_tls(&f, server);
        mj_smtp_envelope env = {.from = "a@x", .to = one, .n_to = 1};
        mj_smtp_send_result res;
        assert_int_equal(send_text(&f, &env, "x\r\n", 0, &res), rows[i].o);
        assert_err(&f, rows[i].o, rows[i].r, NULL);
        assert_int_equal(res.code, 0); /* never "sent" */
        mj_smtp_send_result_free(&res);
        teardown(&f);
    }
}

/* SECURITY-CASES #136: CR/LF/NUL in the envelope: refused before a byte of MAIL. */
static void test_send_argument_injection(void **state)
{
    (void)state;
    static const char *const bad_from[] = {"sender@example.com\r\nDATA", "a@x\n", "a@x> SIZE=1",
                                           "<a@x"};
    for (size_t i = 0; i < sizeof bad_from / sizeof bad_from[0]; i++) {
        fixture f;
        setup_tls(&f, EHLO_PLAIN "250 ok\r\n");
        mj_smtp_envelope env = {.from = bad_from[i], .to = two, .n_to = 2};
        mj_smtp_send_result res;
        assert_int_equal(send_text(&f, &env, "x\r\n", 0, &res), MJ_USAGE);
        assert_err(&f, MJ_USAGE, MJ_R_BAD_ARGUMENT, "the sender contains a forbidden byte");
        mj_smtp_send_result_free(&res);
        mj_smtp_quit(f.s);
        assert_wire(&f, "QUIT\r\n");
        teardown(&f);
    }
    static const char *const bad_to[] = {"b@x", "c@x\r\nRCPT TO:<evil@x>"};
    fixture f;
    setup_tls(&f, EHLO_PLAIN);
    mj_smtp_envelope env = {.from = "a@x", .to = bad_to, .n_to = 2};
    mj_smtp_send_result res;
    assert_int_equal(send_text(&f, &env, "x\r\n", 0, &res), MJ_USAGE);
    assert_err(&f, MJ_USAGE, MJ_R_BAD_ARGUMENT, "c@x\\x0d\\x0aRCPT TO:<evil@x>");
    assert_wire(&f, "");
    mj_smtp_send_result_free(&res);
    const mj_smtp_reply *r = NULL;
    assert_int_equal(mj_smtp_verify(f.s, "bob\r\nQUIT", &r), MJ_USAGE);
    assert_wire(&f, "");
    teardown(&f);
}

static void test_send_parameters(void **state)
{
    (void)state;
    fixture f;
    setup_tls(&f, GREET "250-mx\r\n250-SIZE 100000\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
                        "250-DSN\r\n250 REQUIRETLS\r\n"
                        "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n");
    static const char *const to[] = {"b@x", "c@x"};
    static const char *const orcpt[] = {"B+b=@x", NULL};
    mj_smtp_envelope env = {.from = "<>",
                            .to = to,
                            .n_to = 2,
                            .size = 1234,
                            .body = MJ_SMTP_BODY_8BITMIME,
                            .smtputf8 = true,
                            .ret = MJ_SMTP_RET_HDRS,
                            .envid = "id 1+=",
                            .notify = MJ_SMTP_NOTIFY_FAILURE | MJ_SMTP_NOTIFY_DELAY,
                            .orcpt = orcpt,
                            .requiretls = true};
    mj_smtp_send_result res;
    assert_int_equal(send_text(&f, &env, "x", 0, &res), MJ_OK);
    assert_wire(&f, "MAIL FROM:<> SIZE=1234 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id+201+2B+3D "
                    "REQUIRETLS\r\n"
                    "RCPT TO:<b@x> NOTIFY=FAILURE,DELAY ORCPT=rfc822;B+2Bb+3D@x\r\n"
                    "RCPT TO:<c@x> NOTIFY=FAILURE,DELAY\r\nDATA\r\nx\r\n.\r\n");
    mj_smtp_send_result_free(&res);
    teardown(&f);
}

/* NOTIFY per recipient (notify_each) overrides the global one; 0 keeps it. */
static void test_send_notify_per_recipient(void **state)
{
    (void)state;
    fixture f;
    setup_tls(&f, GREET "250-mx\r\n250 DSN\r\n"
                        "250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n");
    static const char *const to[] = {"b@x", "c@x", "d@x"};
    static const unsigned each[] = {MJ_SMTP_NOTIFY_NEVER, 0,
                                    MJ_SMTP_NOTIFY_SUCCESS | MJ_SMTP_NOTIFY_DELAY};
    mj_smtp_envelope env = {.from = "a@x",
                            .to = to,
                            .n_to = 3,
                            .notify = MJ_SMTP_NOTIFY_FAILURE,
                            .notify_each = each};
    mj_smtp_send_result res;
    assert_int_equal(send_text(&f, &env, "x", 0, &res), MJ_OK);
    assert_wire(&f, "MAIL FROM:<a@x>\r\nRCPT TO:<b@x> NOTIFY=NEVER\r\n"
                    "RCPT TO:<c@x> NOTIFY=FAILURE\r\nRCPT TO:<d@x> NOTIFY=SUCCESS,DELAY\r\n"
                    "DATA\r\nx\r\n.\r\n");
    mj_smtp_send_result_free(&res);
    teardown(&f);

    /* NEVER with another value for one recipient: refused before any byte. */
    static const unsigned bad[] = {0, MJ_SMTP_NOTIFY_NEVER | MJ_SMTP_NOTIFY_FAILURE, 0};
    setup_tls(&f, GREET "250-mx\r\n250 DSN\r\n");
    env.notify_each = bad;
    assert_int_equal(send_text(&f, &env, "x", 0, &res), MJ_USAGE);
    assert_err(&f, MJ_USAGE, MJ_R_BAD_ARGUMENT, "NOTIFY=NEVER excludes other values");
    assert_wire(&f, "");
    mj_smtp_send_result_free(&res);
    teardown(&f);
}

static void test_send_missing_extensions(void **state)
{
    (void)state;
    static const char *const one[] = {"b@x"};
    static const char *const utf8[] = {"j\xc3\xbcrgen@x"};
    static const struct {
        mj_smtp_envelope env;
        const char *msg;
    } rows[] = {
        {{.from = "a@x", .to = one, .n_to = 1, .body = MJ_SMTP_BODY_8BITMIME}, "8BITMIME"},
        {{.from = "a@x", .to = one, .n_to = 1, .body = MJ_SMTP_BODY_BINARYMIME}, "BINARYMIME"},
        {{.from = "a@x", .to = utf8, .n_to = 1}, "SMTPUTF8"},
        {{.from = "a@x", .to = one, .n_to = 1, .requiretls = true}, "REQUIRETLS"},
        {{.from = "a@x", .to = one, .n_to = 1, .size = 1001}, "exceeds the server's SIZE limit"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        fixture f;
        setup_tls(&f, GREET "250-mx\r\n250 SIZE 1000\r\n");
        mj_smtp_send_result res;
        assert_int_equal(send_text(&f, &rows[i].env, "x", 0, &res), MJ_MESSAGE_REJECTED);
        assert_err(&f, MJ_MESSAGE_REJECTED, MJ_R_NONE, rows[i].msg);
        assert_wire(&f, "");
        mj_smtp_send_result_free(&res);
        teardown(&f);
    }
}

/* SECURITY-CASES #140/#141 on the wire, the message read one byte at a time. */
static void test_send_dot_stuffing(void **state)
{
    (void)state;
    fixture f;
    setup_tls(&f, EHLO_PLAIN "250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n");
    static const char *const one[] = {"b@x"};
    mj_smtp_envelope env = {.from = "a@x", .to = one, .n_to = 1};
    mj_smtp_send_result res;
    assert_int_equal(send_text(&f, &env, ".\n.\r\n..x\r\n.\ry\n.\nz", 1, &res), MJ_OK);
    assert_wire(&f, "MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n"
                    "..\r\n..\r\n...x\r\n..\r\ny\r\n..\r\nz\r\n.\r\n");
    mj_smtp_send_result_free(&res);
    teardown(&f);
}

static void test_send_bdat(void **state)
{
    (void)state;
    fixture f;
    setup_tls(&f, GREET "250-mx\r\n250 CHUNKING\r\n250 ok\r\n250 ok\r\n250 1\r\n250 2\r\n"
                        "250 2.0.0 done\r\n");
    static const char *const one[] = {"b@x"};
    mj_smtp_envelope env = {.from = "a@x", .to = one, .n_to = 1, .chunking = true};
    mj_smtp_send_result res;
    assert_int_equal(send_text(&f, &env, "ab\ncd.\nefg", 4, &res), MJ_OK);
    assert_wire(&f, "MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\n"
                    "BDAT 5\r\nab\r\nc"
                    "BDAT 5\r\nd.\r\ne"
                    "BDAT 4 LAST\r\nfg\r\n");
    assert_int_equal(res.code, 250);
    assert_string_equal(res.text, "done");
    mj_smtp_send_result_free(&res);
    teardown(&f);
}

static void test_send_binarymime(void **state)
{
    (void)state;
    fixture f;
    setup_tls(&f, GREET "250-mx\r\n250-BINARYMIME\r\n250 CHUNKING\r\n250 ok\r\n250 ok\r\n"
                        "451 4.3.0 disk full\r\n250 reset\r\n");
    static const char *const one[] = {"b@x"};
    mj_smtp_envelope env = {.from = "a@x", .to = one, .n_to = 1, .body = MJ_SMTP_BODY_BINARYMIME};
    mj_smtp_send_result res;
    static const char body[] = "\x01\n.\r\x00z";
    memsrc m = {body, sizeof body - 1, 0, 0};
    mj_smtp_source src = {memsrc_read, &m};
    assert_int_equal(mj_smtp_send(f.s, &env, &src, &res), MJ_SERVER_BUSY);
    assert_err(&f, MJ_SERVER_BUSY, MJ_R_NONE, "451 4.3.0 disk full");
    size_t n = 0;
    const unsigned char *w = mj_mem_transport_written(f.mem, &n);
    static const char want[] = "MAIL FROM:<a@x> BODY=BINARYMIME\r\nRCPT TO:<b@x>\r\n"
                               "BDAT 6 LAST\r\n\x01\n.\r\x00zRSET\r\n";
    assert_int_equal(n - f.mark, sizeof want - 1);
    assert_memory_equal(w + f.mark, want, sizeof want - 1);
    mj_smtp_send_result_free(&res);
    teardown(&f);
}

/* The server says 552 and hangs up mid-DATA: the write fails, the 552 is the answer. */
static void test_send_refusal_during_data(void **state)
{
    (void)state;
    fixture f;
    setup_tls(&f, EHLO_PLAIN "250 ok\r\n250 ok\r\n354 go\r\n552 5.3.4 message too big\r\n");
    static const char *const one[] = {"b@x"};
    mj_smtp_envelope env = {.from = "a@x", .to = one, .n_to = 1};
    f.ct->fail_from = f.ct->n_writes + 4; /* MAIL, RCPT, DATA go; the body fails */
    mj_smtp_send_result res;
    assert_int_equal(send_text(&f, &env, "big\r\n", 0, &res), MJ_MESSAGE_REJECTED);
    assert_err(&f, MJ_MESSAGE_REJECTED, MJ_R_NONE,
               "the server refused the message: 552 5.3.4 message too big (then the connection "
               "ended)");
    assert_int_equal(res.code, 0);
    mj_smtp_send_result_free(&res);
    teardown(&f);
}

static mj_outcome failing_read(void *ctx, unsigned char *buf, size_t cap, size_t *n_out,
                               mj_error *err)
{
    int *calls = ctx;
    (void)cap;
    if ((*calls)++ == 0) {
        memcpy(buf, "half", 4);
        *n_out = 4;
        return MJ_OK;
    }
    return mj_error_set(err, MJ_INTERNAL, MJ_R_LOCAL_IO, "disk error");
}

/* A source failing mid-message: never an end-of-data line (it would deliver half a message). */
static void test_send_source_error(void **state)
{
    (void)state;
    fixture f;
    setup_tls(&f, EHLO_PLAIN "250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n");
    static const char *const one[] = {"b@x"};
    mj_smtp_envelope env = {.from = "a@x", .to = one, .n_to = 1};
    int calls = 0;
    mj_smtp_source src = {failing_read, &calls};
    mj_smtp_send_result res;
    assert_int_equal(mj_smtp_send(f.s, &env, &src, &res), MJ_INTERNAL);
    assert_err(&f, MJ_INTERNAL, MJ_R_LOCAL_IO, "disk error");
    mj_smtp_quit(f.s);
    assert_wire(&f, "MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n");
    mj_smtp_send_result_free(&res);
    teardown(&f);
}

static void test_send_unexpected_codes(void **state)
{
    (void)state;
    fixture f;
    setup_tls(&f, EHLO_PLAIN "250 ok\r\n354 what\r\n");
    static const char *const one[] = {"b@x"};
    mj_smtp_envelope env = {.from = "a@x", .to = one, .n_to = 1};
    mj_smtp_send_result res;
    assert_int_equal(send_text(&f, &env, "x", 0, &res), MJ_PROTOCOL_ERROR);
    assert_err(&f, MJ_PROTOCOL_ERROR, MJ_R_MALFORMED, "RCPT TO:<b@x>: unexpected reply 354 what");
    mj_smtp_quit(f.s);
    assert_wire(&f, "MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\n");
    mj_smtp_send_result_free(&res);
    teardown(&f);
}

/* ---- VRFY, NOOP, QUIT -------------------------------------------------------------- */

static void test_verify_noop_quit(void **state)
{
    (void)state;
    fixture f;
    setup_tls(&f, EHLO_PLAIN "252 2.5.2 Cannot VRFY user\r\n550 5.1.1 unknown\r\n250 2.0.0 ok\r\n"
                             "221 2.0.0 bye\r\n");
    const mj_smtp_reply *r = NULL;
    assert_int_equal(mj_smtp_verify(f.s, "bob", &r), MJ_OK);
    assert_int_equal(r->code, 252);
    assert_string_equal(r->enhanced, "2.5.2");
    assert_int_equal(mj_smtp_verify(f.s, "nobody", &r), MJ_SERVER_REFUSED);
    assert_err(&f, MJ_SERVER_REFUSED, MJ_R_NONE, "VRFY: 550 5.1.1 unknown");
    assert_int_equal(mj_smtp_noop(f.s), MJ_OK);
    mj_smtp_quit(f.s);
    assert_wire(&f, "VRFY bob\r\nVRFY nobody\r\nNOOP\r\nQUIT\r\n");
    assert_int_equal(mj_smtp_noop(f.s), MJ_USAGE);
    teardown(&f);
}

static void test_client_name(void **state)
{
    (void)state;
    mj_error err;
    static const char *const bad[] = {"", "a b", "x\r\nMAIL FROM:<a@x>", "<x>"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mj_transport *t = NULL;
        mj_conn *c = NULL;
        mj_smtp *s = NULL;
        mj_conn_config cfg;
        mj_conn_config_init(&cfg, MJ_PROTO_SMTP);
        mj_mem_script script = {.input = "", .input_len = 0};
        assert_int_equal(mj_mem_transport_new(&script, &cfg.timeouts, &t, &err), MJ_OK);
        assert_int_equal(mj_conn_wrap(t, &cfg, &c, &err), MJ_OK);
        mj_smtp_config scfg = {.client_name = bad[i]};
        assert_int_equal(mj_smtp_new(c, MJ_SEC_NONE, &scfg, &s, &err), MJ_USAGE);
        assert_null(s);
    }
    fixture f;
    setup(&f, "", MJ_SEC_NONE);
    mj_smtp_free(f.s);
    mj_transport *t = NULL;
    mj_conn *c = NULL;
    mj_conn_config cfg;
    mj_conn_config_init(&cfg, MJ_PROTO_SMTP);
    mj_mem_script script = {.input = GREET "250 mx\r\n", .input_len = strlen(GREET) + 8};
    assert_int_equal(mj_mem_transport_new(&script, &cfg.timeouts, &t, &err), MJ_OK);
    f.mem = t;
    assert_int_equal(mj_conn_wrap(t, &cfg, &c, &err), MJ_OK);
    mj_smtp_config scfg = {.client_name = "client.example.org"};
    assert_int_equal(mj_smtp_new(c, MJ_SEC_NONE, &scfg, &f.s, &err), MJ_OK);
    assert_int_equal(mj_smtp_hello(f.s), MJ_OK);
    f.mark = 0;
    assert_wire(&f, "EHLO client.example.org\r\n");
    teardown(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ehlo_capabilities),
        cmocka_unit_test(test_helo_fallback),
        cmocka_unit_test(test_helo_fallback_under_starttls_required),
        cmocka_unit_test(test_greeting_refusals),
        cmocka_unit_test(test_hostile_ehlo_replies),
        cmocka_unit_test(test_starttls_missing_required),
        cmocka_unit_test(test_starttls_upgrade),
        cmocka_unit_test(test_starttls_answered_otherwise),
        cmocka_unit_test(test_starttls_if_available_refused),
        cmocka_unit_test(test_starttls_injection),
        cmocka_unit_test(test_auth_plain),
        cmocka_unit_test(test_auth_login_redacted),
        cmocka_unit_test(test_auth_refusals),
        cmocka_unit_test(test_auth_fallback_same_class),
        cmocka_unit_test(test_auth_initial_response_limit),
        cmocka_unit_test(test_auth_policy),
        cmocka_unit_test(test_send_partial_refusal),
        cmocka_unit_test(test_send_pipelined_one_group),
        cmocka_unit_test(test_send_pipelined_data_refused),
        cmocka_unit_test(test_send_pipelined_354_without_recipients),
        cmocka_unit_test(test_send_pipelined_greylisted_then_data_refused),
        cmocka_unit_test(test_send_all_refused),
        cmocka_unit_test(test_send_sender_refused),
        cmocka_unit_test(test_send_421_midway),
        cmocka_unit_test(test_send_hangup_after_refusal),
        cmocka_unit_test(test_send_final_reply),
        cmocka_unit_test(test_send_argument_injection),
        cmocka_unit_test(test_send_parameters),
        cmocka_unit_test(test_send_notify_per_recipient),
        cmocka_unit_test(test_send_missing_extensions),
        cmocka_unit_test(test_send_dot_stuffing),
        cmocka_unit_test(test_send_bdat),
        cmocka_unit_test(test_send_binarymime),
        cmocka_unit_test(test_send_source_error),
        cmocka_unit_test(test_send_refusal_during_data),
        cmocka_unit_test(test_send_unexpected_codes),
        cmocka_unit_test(test_verify_noop_quit),
        cmocka_unit_test(test_client_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
