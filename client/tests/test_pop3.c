/*
 * test_pop3.c: the POP3 session over the in-memory transport: exact client
 * bytes, exact outcomes and reasons, the protocol log's redaction, STLS
 * hygiene (SECURITY-CASES #2, #6, #18, #19), the credential policy (#55-#58,
 * #64), response codes, bodies split at every byte boundary, pipelining.
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
#include "mailjig/pop3.h"

typedef struct fixture {
    mj_transport *t;
    mj_pop3 *s;
    mj_outcome start;
    mj_error err;
    char *logbuf;
    size_t loglen;
    FILE *logfp;
    mj_log *log;
    char *wire;
} fixture;

typedef struct setup_args {
    const char *server;
    const size_t *chunks;
    size_t n_chunks;
    mj_security security;
    const mj_pop3_options *opts;
    bool report_pending;
    mj_tls_state tls_after;
} setup_args;

static void setup_with(fixture *f, const setup_args *a)
{
    memset(f, 0, sizeof *f);
    mj_error err;
    mj_mem_script script = {.input = a->server,
                            .input_len = strlen(a->server),
                            .chunks = a->chunks,
                            .n_chunks = a->n_chunks,
                            .report_pending = a->report_pending,
                            .starttls_state =
                                a->tls_after != MJ_TLS_NONE ? a->tls_after : MJ_TLS_VERIFIED};
    f->logfp = open_memstream(&f->logbuf, &f->loglen);
    assert_non_null(f->logfp);
    f->log = mj_log_new(f->logfp);
    assert_non_null(f->log);
    mj_conn_config cfg;
    mj_conn_config_init(&cfg, MJ_PROTO_POP3);
    cfg.log = f->log;
    cfg.security = a->security;
    mj_conn *c = NULL;
    assert_int_equal(mj_mem_transport_new(&script, &cfg.timeouts, &f->t, &err), MJ_OK);
    assert_int_equal(mj_conn_wrap(f->t, &cfg, &c, &err), MJ_OK);
    mj_error_clear(&f->err);
    f->start = mj_pop3_start(c, a->security, a->opts, &f->s, &f->err);
    if (f->start != MJ_OK) /* the transport went with the conn: keep what it saw */
        f->t = NULL;
}

static void setup(fixture *f, const char *server, mj_security sec, const mj_pop3_options *opts)
{
    setup_args a = {.server = server, .security = sec, .opts = opts};
    setup_with(f, &a);
}

/* What the client wrote so far, NUL-terminated (owned by f). */
static const char *wire(fixture *f)
{
    size_t n = 0;
    const unsigned char *w = mj_mem_transport_written(f->t, &n);
    free(f->wire);
    f->wire = malloc(n + 1);
    assert_non_null(f->wire);
    memcpy(f->wire, w, n);
    f->wire[n] = '\0';
    return f->wire;
}

static const char *logtext(fixture *f)
{
    fflush(f->logfp);
    return f->logbuf;
}

/* The client's lines as the protocol log shows them, "C: " removed
 * (works after a failed start, when the transport is gone). */
static const char *client_lines(fixture *f)
{
    const char *log = logtext(f);
    free(f->wire);
    f->wire = calloc(1, strlen(log) + 1);
    assert_non_null(f->wire);
    for (const char *p = log; (p = strstr(p, "C: ")) != NULL;) {
        const char *eol = strchr(p, '\n');
        size_t n = eol != NULL ? (size_t)(eol - p) - 2 : strlen(p + 3);
        strncat(f->wire, p + 3, n);
        p += 3 + n;
    }
    return f->wire;
}

static void teardown(fixture *f)
{
    mj_pop3_close(f->s);
    mj_log_free(f->log);
    fclose(f->logfp);
    free(f->logbuf);
    free(f->wire);
}

static const mj_sasl_creds alice = {.username = "alice", .password = "s3cret-pw"};
static const mj_pop3_options insecure_ok = {.policy = {.allow_insecure_auth = 1}};

#define GREETING "+OK POP3 ready\r\n"
#define CAPA_USER "+OK\r\nUSER\r\nUIDL\r\n.\r\n"

static void assert_no_secret(fixture *f)
{
    const char *log = logtext(f);
    assert_null(strstr(log, "s3cret-pw"));
    assert_null(strstr(log, "czNjcmV0LXB3")); /* base64 of the password */
}

/* ---- greeting ----------------------------------------------------------------------- */

static void test_greeting_outcomes(void **state)
{
    (void)state;
    static const struct {
        const char *server;
        mj_outcome outcome;
        mj_reason reason;
    } cases[] = {
        {"-ERR [SYS/TEMP] too many connections\r\n", MJ_SERVER_BUSY, MJ_R_NONE},
        {"-ERR [IN-USE] locked\r\n", MJ_SERVER_BUSY, MJ_R_NONE},
        {"-ERR go away\r\n", MJ_SERVER_REFUSED, MJ_R_NONE},
        {"+OKready\r\n", MJ_PROTOCOL_ERROR, MJ_R_MALFORMED},
        {"* OK [CAPABILITY IMAP4rev1] ready\r\n", MJ_PROTOCOL_ERROR, MJ_R_MALFORMED},
        {"220 mail.example ESMTP\r\n", MJ_PROTOCOL_ERROR, MJ_R_MALFORMED},
        {"+OK half a greeting", MJ_CONNECTION_LOST, MJ_R_EOF},
        {"", MJ_CONNECTION_LOST, MJ_R_EOF},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fixture f;
        setup(&f, cases[i].server, MJ_SEC_NONE, NULL);
        if (f.start != cases[i].outcome)
            fail_msg("case %zu: %s (%s)", i, mj_outcome_name(f.start), f.err.message);
        assert_int_equal(f.err.outcome, cases[i].outcome);
        assert_int_equal(f.err.reason, cases[i].reason);
        assert_null(f.s);
        teardown(&f);
    }
}

static void test_greeting_too_long(void **state)
{
    (void)state;
    char *server = malloc(MJ_POP3_STATUS_LINE_MAX + 16);
    assert_non_null(server);
    memset(server, 'x', MJ_POP3_STATUS_LINE_MAX + 16);
    memcpy(server, "+OK ", 4);
    strcpy(server + MJ_POP3_STATUS_LINE_MAX + 1, "\r\n"); /* one byte over */
    fixture f;
    setup(&f, server, MJ_SEC_NONE, NULL);
    assert_int_equal(f.start, MJ_PROTOCOL_ERROR);
    assert_int_equal(f.err.reason, MJ_R_LINE_TOO_LONG);
    teardown(&f);
    server[MJ_POP3_STATUS_LINE_MAX] = '\r'; /* exactly the limit */
    server[MJ_POP3_STATUS_LINE_MAX + 1] = '\n';
    server[MJ_POP3_STATUS_LINE_MAX + 2] = '\0';
    setup(&f, server, MJ_SEC_NONE, NULL);
    assert_int_equal(f.start, MJ_CONNECTION_LOST); /* the greeting passed; CAPA got EOF */
    teardown(&f);
    free(server);
}

/* ---- STLS (SECURITY-CASES A and B) ---------------------------------------------------------- */

static void test_stls_then_user_pass(void **state)
{
    (void)state;
    const char *pre = GREETING "+OK\r\nSTLS\r\nUSER\r\nSASL PLAIN\r\nPIPELINING\r\n.\r\n"
                               "+OK Begin TLS negotiation\r\n";
    const char *post = "+OK\r\nUSER\r\n.\r\n"
                       "+OK\r\n+OK logged in\r\n+OK\r\nUSER\r\nTOP\r\n.\r\n";
    char server[512];
    snprintf(server, sizeof server, "%s%s", pre, post);
    size_t chunks[] = {strlen(pre), 0};
    setup_args a = {.server = server, .chunks = chunks, .n_chunks = 2,
                    .security = MJ_SEC_STARTTLS};
    fixture f;
    setup_with(&f, &a);
    assert_int_equal(f.start, MJ_OK);
    assert_int_equal(mj_conn_tls_state(mj_pop3_conn(f.s)), MJ_TLS_VERIFIED);
    /* capabilities learned before TLS are forgotten */
    const mj_pop3_caps *caps = mj_pop3_capabilities(f.s);
    assert_int_equal(caps->bits, MJ_POP3_CAP_USER);
    assert_int_equal(caps->sasl, 0);
    assert_int_equal(mj_pop3_login(f.s, &alice, MJ_SASL_NONE), MJ_OK);
    assert_int_equal(mj_pop3_get_state(f.s), MJ_POP3_STATE_TRANSACTION);
    assert_int_equal(mj_pop3_capabilities(f.s)->bits, MJ_POP3_CAP_USER | MJ_POP3_CAP_TOP);
    assert_string_equal(wire(&f), "CAPA\r\nSTLS\r\nCAPA\r\nUSER alice\r\nPASS s3cret-pw\r\nCAPA\r\n");
    assert_int_equal(mj_mem_transport_starttls_count(f.t), 1);
    assert_non_null(strstr(logtext(&f), "C: PASS ********\r\n"));
    assert_no_secret(&f);
    teardown(&f);
}

static void test_stls_required_but_missing(void **state)
{
    (void)state;
    static const char *const servers[] = {
        GREETING CAPA_USER,                            /* (a) no STLS in CAPA */
        GREETING "-ERR Not implemented\r\n",           /* (b) CAPA refused */
        GREETING "-ERR unknown command\r\n",           /* (c) CAPA hidden */
    };
    for (size_t i = 0; i < sizeof servers / sizeof servers[0]; i++) {
        fixture f;
        setup_args a = {.server = servers[i], .security = MJ_SEC_STARTTLS};
        setup_with(&f, &a);
        assert_int_equal(f.start, MJ_STARTTLS_UNAVAILABLE);
        assert_int_equal(f.err.outcome, MJ_STARTTLS_UNAVAILABLE);
        assert_null(f.s);
        assert_string_equal(client_lines(&f), "CAPA\r\n");
        teardown(&f);
    }
}

static void test_stls_refused_no_retry(void **state)
{
    (void)state;
    static const char *const servers[] = {
        GREETING "+OK\r\nSTLS\r\nUSER\r\n.\r\n-ERR STARTTLS not supported.\r\n",
        GREETING "+OK\r\nSTLS\r\nUSER\r\n.\r\n-ERR [sys/perm] perm alert\r\n",
    };
    for (size_t i = 0; i < 2; i++) {
        fixture f;
        setup(&f, servers[i], MJ_SEC_STARTTLS, NULL);
        assert_int_equal(f.start, MJ_STARTTLS_UNAVAILABLE);
        assert_string_equal(client_lines(&f), "CAPA\r\nSTLS\r\n");
        teardown(&f);
        /* starttls-if-available: the session goes on in plaintext, STLS sent once */
        setup(&f, servers[i], MJ_SEC_STARTTLS_IF_AVAILABLE, &insecure_ok);
        assert_int_equal(f.start, MJ_OK);
        assert_int_equal(mj_conn_tls_state(mj_pop3_conn(f.s)), MJ_TLS_NONE);
        assert_string_equal(wire(&f), "CAPA\r\nSTLS\r\n");
        teardown(&f);
    }
}

static void test_stls_injection(void **state)
{
    (void)state;
    static const char *const injected[] = {
        "+OK Begin fake TLS negotiation now.\r\n+OK\r\nPLAIN\r\nLOGIN\r\n.\r\n", /* #18 */
        "+OK Begin fake TLS negotiation now.\r\n\xc2\xb9\xc2\xb3\xc2\xb9",        /* #19 */
    };
    for (size_t i = 0; i < 2; i++) {
        for (int split = 0; split < 2; split++) {
            char server[512];
            const char *pre = GREETING "+OK\r\nSTLS\r\nSASL PLAIN\r\n.\r\n";
            snprintf(server, sizeof server, "%s%s", pre, injected[i]);
            /* split: the injected bytes still sit in the socket (transport pending) */
            size_t stls_end = strlen(pre) + strlen("+OK Begin fake TLS negotiation now.\r\n");
            size_t chunks[] = {stls_end, 0};
            setup_args a = {.server = server, .security = MJ_SEC_STARTTLS,
                            .chunks = split ? chunks : NULL, .n_chunks = split ? 2 : 0,
                            .report_pending = true};
            fixture f;
            setup_with(&f, &a);
            assert_int_equal(f.start, MJ_PROTOCOL_ERROR);
            assert_int_equal(f.err.reason, MJ_R_DATA_AFTER_STARTTLS);
            assert_non_null(strstr(f.err.message, "data after the STARTTLS reply"));
            assert_string_equal(client_lines(&f), "CAPA\r\nSTLS\r\n");
            teardown(&f);
        }
    }
}

static void test_stls_refused_then_injection(void **state)
{
    (void)state;
    /* curl test982: a -ERR to STLS followed by replies to commands never sent */
    fixture f;
    setup(&f, GREETING "+OK\r\nSTLS\r\n.\r\n-ERR currently unavailable\r\n"
                       "+OK user accepted\r\n+OK authenticated",
          MJ_SEC_STARTTLS, &insecure_ok);
    assert_int_equal(f.start, MJ_STARTTLS_UNAVAILABLE);
    assert_string_equal(client_lines(&f), "CAPA\r\nSTLS\r\n");
    teardown(&f);
}

/* ---- credentials ------------------------------------------------------------------------------- */

static void test_cleartext_refused(void **state)
{
    (void)state;
    fixture f;
    setup(&f, GREETING "+OK\r\nUSER\r\nSASL PLAIN LOGIN\r\n.\r\n", MJ_SEC_NONE, NULL);
    assert_int_equal(f.start, MJ_OK);
    assert_int_equal(mj_pop3_login(f.s, &alice, MJ_SASL_NONE), MJ_CLEARTEXT_REFUSED);
    assert_string_equal(wire(&f), "CAPA\r\n");
    assert_int_equal(mj_pop3_get_state(f.s), MJ_POP3_STATE_AUTHORIZATION);
    teardown(&f);
}

static void test_user_pass_insecure_allowed(void **state)
{
    (void)state;
    fixture f;
    setup(&f, GREETING CAPA_USER "+OK\r\n+OK maildrop has 2 messages\r\n-ERR\r\n", MJ_SEC_NONE,
          &insecure_ok);
    assert_int_equal(mj_pop3_login(f.s, &alice, MJ_SASL_NONE), MJ_OK);
    assert_string_equal(wire(&f), "CAPA\r\nUSER alice\r\nPASS s3cret-pw\r\nCAPA\r\n");
    /* CAPA refused after login: what was learned before it stays */
    assert_true(mj_pop3_capabilities(f.s)->known);
    assert_int_equal(mj_pop3_capabilities(f.s)->bits, MJ_POP3_CAP_USER | MJ_POP3_CAP_UIDL);
    assert_no_secret(&f);
    teardown(&f);
}

static void test_pass_error_codes(void **state)
{
    (void)state;
    static const struct {
        const char *reply;
        mj_outcome outcome;
    } cases[] = {
        {"-ERR [AUTH] invalid password\r\n", MJ_AUTH_FAILED},
        {"-ERR [IN-USE] maildrop locked\r\n", MJ_SERVER_BUSY},
        {"-ERR [LOGIN-DELAY] wait 10 minutes\r\n", MJ_SERVER_BUSY},
        {"-ERR [SYS/TEMP] try later\r\n", MJ_SERVER_BUSY},
        {"-ERR [sys/perm] account disabled\r\n", MJ_SERVER_REFUSED},
        {"-ERR invalid password\r\n", MJ_AUTH_FAILED},
        {"-ERR [X-VENDOR] whatever\r\n", MJ_AUTH_FAILED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char server[256];
        snprintf(server, sizeof server, "%s%s+OK\r\n%s", GREETING, CAPA_USER, cases[i].reply);
        fixture f;
        setup(&f, server, MJ_SEC_NONE, &insecure_ok);
        mj_outcome o = mj_pop3_login(f.s, &alice, MJ_SASL_NONE);
        if (o != cases[i].outcome)
            fail_msg("case %zu: %s (%s)", i, mj_outcome_name(o), mj_pop3_error(f.s)->message);
        assert_null(strstr(mj_pop3_error(f.s)->message, "s3cret"));
        assert_int_equal(mj_pop3_get_state(f.s), MJ_POP3_STATE_AUTHORIZATION);
        teardown(&f);
    }
}

static void test_pass_error_message(void **state)
{
    (void)state;
    fixture f;
    setup(&f, GREETING CAPA_USER "+OK\r\n-ERR [AUTH] bad \x1b[0m\r\n", MJ_SEC_NONE, &insecure_ok);
    assert_int_equal(mj_pop3_login(f.s, &alice, MJ_SASL_NONE), MJ_AUTH_FAILED);
    assert_string_equal(mj_pop3_error(f.s)->message,
                        "the server refused PASS: -ERR [AUTH] bad \\x1b[0m");
    teardown(&f);
}

static void test_crlf_in_credentials(void **state)
{
    (void)state;
    static const mj_sasl_creds bad[] = {
        {.username = "alice\r\nDELE 1", .password = "pw"},
        {.username = "alice", .password = "pw\nQUIT"},
    };
    for (size_t i = 0; i < 2; i++) {
        fixture f;
        setup(&f, GREETING CAPA_USER "+OK\r\n+OK\r\n", MJ_SEC_NONE, &insecure_ok);
        assert_int_equal(mj_pop3_login(f.s, &bad[i], MJ_SASL_NONE), MJ_USAGE);
        assert_int_equal(mj_pop3_error(f.s)->reason, MJ_R_BAD_ARGUMENT);
        assert_string_equal(wire(&f), "CAPA\r\n");
        teardown(&f);
    }
}

/* RFC 1939 §7's example: digest c4c9334bac560ecc979e58001b3e22fb. */
#define APOP_GREETING "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"
static const mj_sasl_creds mrose = {.username = "mrose", .password = "tanstaaf"};

static void test_apop(void **state)
{
    (void)state;
    mj_pop3_options opts = {.allow_apop_insecure = true};
    fixture f;
    setup(&f, APOP_GREETING "-ERR\r\n+OK mrose's maildrop has 2 messages\r\n-ERR\r\n", MJ_SEC_NONE,
          &opts);
    assert_true(mj_pop3_has_apop(f.s));
    assert_int_equal(mj_pop3_login(f.s, &mrose, MJ_SASL_NONE), MJ_OK);
    assert_string_equal(wire(&f), "CAPA\r\nAPOP mrose c4c9334bac560ecc979e58001b3e22fb\r\nCAPA\r\n");
    assert_non_null(strstr(logtext(&f), "C: APOP mrose ********\r\n"));
    assert_null(strstr(logtext(&f), "c4c9334b"));
    teardown(&f);
}

static void test_apop_not_over_plaintext(void **state)
{
    (void)state;
    fixture f;
    /* USER/PASS allowed by the policy, APOP not: USER/PASS is used */
    setup(&f, APOP_GREETING "-ERR\r\n+OK\r\n+OK\r\n-ERR\r\n", MJ_SEC_NONE, &insecure_ok);
    assert_int_equal(mj_pop3_login(f.s, &mrose, MJ_SASL_NONE), MJ_OK);
    assert_string_equal(wire(&f), "CAPA\r\nUSER mrose\r\nPASS tanstaaf\r\nCAPA\r\n");
    teardown(&f);
    /* default policy: nothing at all */
    setup(&f, APOP_GREETING "-ERR\r\n", MJ_SEC_NONE, NULL);
    assert_int_equal(mj_pop3_login(f.s, &mrose, MJ_SASL_NONE), MJ_CLEARTEXT_REFUSED);
    assert_string_equal(wire(&f), "CAPA\r\n");
    teardown(&f);
}

static void test_apop_bad_timestamps(void **state)
{
    (void)state;
    static const char *const greetings[] = {
        "+OK ready <no-at-sign>\r\n-ERR\r\n",
        "+OK ready <a b@c>\r\n-ERR\r\n",
        "+OK ready <\x01@x>\r\n-ERR\r\n",
    };
    mj_pop3_options opts = {.allow_apop_insecure = true};
    for (size_t i = 0; i < 3; i++) {
        fixture f;
        setup(&f, greetings[i], MJ_SEC_NONE, &opts);
        assert_int_equal(f.start, MJ_OK);
        assert_false(mj_pop3_has_apop(f.s));
        /* no APOP, USER/PASS not allowed: nothing sent */
        assert_int_equal(mj_pop3_login(f.s, &mrose, MJ_SASL_NONE), MJ_CLEARTEXT_REFUSED);
        assert_string_equal(wire(&f), "CAPA\r\n");
        teardown(&f);
    }
}

/* ---- AUTH (RFC 5034) ----------------------------------------------------------------------------- */

static void test_auth_plain_initial_response(void **state)
{
    (void)state;
    fixture f;
    setup(&f, GREETING "+OK\r\nSASL PLAIN\r\n.\r\n+OK Maildrop locked and ready\r\n-ERR\r\n",
          MJ_SEC_NONE, &insecure_ok);
    assert_int_equal(mj_pop3_login(f.s, &alice, MJ_SASL_NONE), MJ_OK);
    assert_string_equal(wire(&f), "CAPA\r\nAUTH PLAIN AGFsaWNlAHMzY3JldC1wdw==\r\nCAPA\r\n");
    assert_non_null(strstr(logtext(&f), "C: AUTH PLAIN ********\r\n"));
    assert_no_secret(&f);
    teardown(&f);
}

static void test_auth_login_bare_plus(void **state)
{
    (void)state;
    /* curl test891: "+" without a space is an empty challenge */
    fixture f;
    setup(&f, GREETING "+OK\r\nSASL LOGIN\r\n.\r\n+\r\n+ UGFzc3dvcmQ6\r\n+OK\r\n-ERR\r\n",
          MJ_SEC_NONE, &insecure_ok);
    assert_int_equal(mj_pop3_login(f.s, &alice, MJ_SASL_LOGIN), MJ_OK);
    assert_string_equal(wire(&f), "CAPA\r\nAUTH LOGIN\r\nYWxpY2U=\r\nczNjcmV0LXB3\r\nCAPA\r\n");
    assert_no_secret(&f);
    teardown(&f);
}

static void test_auth_failures(void **state)
{
    (void)state;
    static const struct {
        const char *reply;
        mj_outcome outcome;
    } cases[] = {
        {"-ERR [SYS/TEMP] backend down\r\n", MJ_SERVER_BUSY},
        {"-ERR [AUTH] Invalid credentials\r\n", MJ_AUTH_FAILED},
        {"-ERR\r\n", MJ_AUTH_FAILED},
        {"+OKAY\r\n", MJ_PROTOCOL_ERROR},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char server[256];
        snprintf(server, sizeof server, GREETING "+OK\r\nSASL PLAIN\r\n.\r\n%s", cases[i].reply);
        fixture f;
        setup(&f, server, MJ_SEC_NONE, &insecure_ok);
        mj_outcome o = mj_pop3_login(f.s, &alice, MJ_SASL_NONE);
        if (o != cases[i].outcome)
            fail_msg("case %zu: %s (%s)", i, mj_outcome_name(o), mj_pop3_error(f.s)->message);
        teardown(&f);
    }
}

static void test_auth_initial_response_limit(void **state)
{
    (void)state;
    /* AUTH PLAIN <ir> over 255 octets: sent after an empty challenge instead */
    char user[200];
    memset(user, 'u', sizeof user - 1);
    user[sizeof user - 1] = '\0';
    mj_sasl_creds creds = {.username = user, .password = "s3cret-pw"};
    fixture f;
    setup(&f, GREETING "+OK\r\nSASL PLAIN\r\n.\r\n+ \r\n+OK\r\n-ERR\r\n", MJ_SEC_NONE,
          &insecure_ok);
    assert_int_equal(mj_pop3_login(f.s, &creds, MJ_SASL_NONE), MJ_OK);
    const char *w = wire(&f);
    assert_memory_equal(w, "CAPA\r\nAUTH PLAIN\r\n", 18);
    teardown(&f);
}

static void test_auth_unsupported_forced(void **state)
{
    (void)state;
    fixture f;
    setup(&f, GREETING "+OK\r\nSASL PLAIN\r\n.\r\n", MJ_SEC_NONE, &insecure_ok);
    assert_int_equal(mj_pop3_login(f.s, &alice, MJ_SASL_SCRAM_SHA_256), MJ_AUTH_UNSUPPORTED);
    assert_string_equal(wire(&f), "CAPA\r\n");
    teardown(&f);
}

static void test_utf8_before_login(void **state)
{
    (void)state;
    mj_pop3_options opts = insecure_ok;
    opts.utf8 = true;
    fixture f;
    setup(&f, GREETING "+OK\r\nUSER\r\nUTF8\r\n.\r\n+OK UTF8 enabled\r\n+OK\r\n+OK\r\n-ERR\r\n",
          MJ_SEC_NONE, &opts);
    assert_int_equal(mj_pop3_login(f.s, &alice, MJ_SASL_NONE), MJ_OK);
    assert_true(mj_pop3_utf8_active(f.s));
    assert_string_equal(wire(&f), "CAPA\r\nUTF8\r\nUSER alice\r\nPASS s3cret-pw\r\nCAPA\r\n");
    teardown(&f);
}

/* ---- TRANSACTION ---------------------------------------------------------------------------------- */

/* A session logged in with USER/PASS (plaintext, allowed), then `rest`. */
static void logged_in(fixture *f, const char *capa_extra, const char *rest,
                      const size_t *chunks, size_t n_chunks)
{
    static char server[1 << 16];
    snprintf(server, sizeof server, GREETING "+OK\r\nUSER\r\n%s.\r\n+OK\r\n+OK\r\n-ERR\r\n%s",
             capa_extra, rest);
    setup_args a = {.server = server, .security = MJ_SEC_NONE, .opts = &insecure_ok,
                    .chunks = chunks, .n_chunks = n_chunks};
    setup_with(f, &a);
    assert_int_equal(f->start, MJ_OK);
    assert_int_equal(mj_pop3_login(f->s, &alice, MJ_SASL_NONE), MJ_OK);
}

/* What the client wrote after login. */
static const char *wire_after_login(fixture *f)
{
    const char *w = wire(f);
    const char *p = strstr(w, "PASS s3cret-pw\r\nCAPA\r\n");
    assert_non_null(p);
    return p + strlen("PASS s3cret-pw\r\nCAPA\r\n");
}

static void test_command_before_login(void **state)
{
    (void)state;
    fixture f;
    setup(&f, GREETING CAPA_USER, MJ_SEC_NONE, NULL);
    uint32_t count = 0;
    uint64_t size = 0;
    assert_int_equal(mj_pop3_stat(f.s, &count, &size), MJ_USAGE);
    assert_string_equal(wire(&f), "CAPA\r\n");
    teardown(&f);
}

static void test_stat(void **state)
{
    (void)state;
    fixture f;
    logged_in(&f, "", "+OK 2 320\r\n+OK 7\r\n", NULL, 0);
    uint32_t count = 0;
    uint64_t size = 0;
    assert_int_equal(mj_pop3_stat(f.s, &count, &size), MJ_OK);
    assert_int_equal(count, 2);
    assert_int_equal(size, 320);
    assert_int_equal(mj_pop3_stat(f.s, &count, &size), MJ_PROTOCOL_ERROR);
    assert_int_equal(mj_pop3_error(f.s)->reason, MJ_R_MALFORMED);
    assert_int_equal(mj_pop3_get_state(f.s), MJ_POP3_STATE_FAILED);
    assert_string_equal(wire_after_login(&f), "STAT\r\nSTAT\r\n");
    teardown(&f);
}

typedef struct collected {
    size_t n;
    uint32_t numbers[16];
    uint64_t sizes[16];
    char uids[16][MJ_POP3_UID_MAX + 1];
} collected;

static mj_outcome collect_list(void *ctx, uint32_t number, uint64_t size)
{
    collected *c = ctx;
    if (c->n < 16) {
        c->numbers[c->n] = number;
        c->sizes[c->n++] = size;
    }
    return MJ_OK;
}

static mj_outcome collect_uid(void *ctx, uint32_t number, const char *uid)
{
    collected *c = ctx;
    if (c->n < 16) {
        c->numbers[c->n] = number;
        snprintf(c->uids[c->n++], sizeof c->uids[0], "%s", uid);
    }
    return MJ_OK;
}

static void test_list_and_uidl(void **state)
{
    (void)state;
    fixture f;
    logged_in(&f, "",
              "+OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n"
              "+OK 2 200\r\n"
              "+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n"
              "-ERR no such message\r\n"
              "+OK\r\n",
              NULL, 0);
    collected c = {0};
    assert_int_equal(mj_pop3_list(f.s, 0, collect_list, &c), MJ_OK);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.numbers[1], 2);
    assert_int_equal(c.sizes[1], 200);
    memset(&c, 0, sizeof c);
    assert_int_equal(mj_pop3_list(f.s, 2, collect_list, &c), MJ_OK);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.sizes[0], 200);
    memset(&c, 0, sizeof c);
    assert_int_equal(mj_pop3_uidl(f.s, 0, collect_uid, &c), MJ_OK);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.uids[1], "QhdPYR:00WBw1Ph7x7");
    assert_int_equal(mj_pop3_uidl(f.s, 9, collect_uid, &c), MJ_SERVER_REFUSED);
    assert_int_equal(mj_pop3_get_state(f.s), MJ_POP3_STATE_TRANSACTION);
    assert_int_equal(mj_pop3_noop(f.s), MJ_OK);
    assert_string_equal(wire_after_login(&f), "LIST\r\nLIST 2\r\nUIDL\r\nUIDL 9\r\nNOOP\r\n");
    teardown(&f);
}

static void test_uidl_abuse(void **state)
{
    (void)state;
    static const char *const replies[] = {
        "+OK\r\n1 has space\r\n.\r\n",
        "+OK\r\n1 \r\n.\r\n",
        "+OK\r\n1 uid\xff\r\n.\r\n",
        "+OK\r\n1 0123456789012345678901234567890123456789012345678901234567890123456789X\r\n.\r\n",
        "+OK\r\n99999999999 uid\r\n.\r\n",
        "+OK\r\n1 uid\r\n", /* no terminator before EOF */
    };
    static const mj_outcome outcomes[] = {MJ_PROTOCOL_ERROR, MJ_PROTOCOL_ERROR,
                                          MJ_PROTOCOL_ERROR, MJ_PROTOCOL_ERROR,
                                          MJ_PROTOCOL_ERROR, MJ_CONNECTION_LOST};
    for (size_t i = 0; i < sizeof replies / sizeof replies[0]; i++) {
        fixture f;
        logged_in(&f, "", replies[i], NULL, 0);
        collected c = {0};
        mj_outcome o = mj_pop3_uidl(f.s, 0, collect_uid, &c);
        if (o != outcomes[i])
            fail_msg("case %zu: %s (%s)", i, mj_outcome_name(o), mj_pop3_error(f.s)->message);
        /* entries before the failure were delivered; the call still fails */
        assert_int_equal(c.n, i == 5 ? 1 : 0);
        assert_int_equal(mj_pop3_get_state(f.s), MJ_POP3_STATE_FAILED);
        teardown(&f);
    }
}

/* LIST n / UIDL n answered for another message (MailKit corpus
 * comcast/list1-error2.txt, gmail/uidl1-error2.txt): protocol-error, and
 * nothing is reported as message n. */
static void test_single_listing_wrong_number(void **state)
{
    (void)state;
    fixture f;
    logged_in(&f, "", "+OK 99 1024\r\n", NULL, 0);
    collected c = {0};
    assert_int_equal(mj_pop3_list(f.s, 1, collect_list, &c), MJ_PROTOCOL_ERROR);
    assert_int_equal(mj_pop3_error(f.s)->reason, MJ_R_MALFORMED);
    assert_int_equal(c.n, 0);
    assert_int_equal(mj_pop3_get_state(f.s), MJ_POP3_STATE_FAILED);
    teardown(&f);

    logged_in(&f, "", "+OK 99 101\r\n", NULL, 0);
    memset(&c, 0, sizeof c);
    assert_int_equal(mj_pop3_uidl(f.s, 1, collect_uid, &c), MJ_PROTOCOL_ERROR);
    assert_int_equal(mj_pop3_error(f.s)->reason, MJ_R_MALFORMED);
    assert_int_equal(c.n, 0);
    teardown(&f);

    /* the right number still works, and a full listing may skip numbers */
    logged_in(&f, "", "+OK 1 101\r\n+OK\r\n1 101\r\n4 103\r\n.\r\n", NULL, 0);
    memset(&c, 0, sizeof c);
    assert_int_equal(mj_pop3_uidl(f.s, 1, collect_uid, &c), MJ_OK);
    assert_int_equal(mj_pop3_uidl(f.s, 0, collect_uid, &c), MJ_OK);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.numbers[2], 4);
    teardown(&f);
}

static void test_list_line_too_long(void **state)
{
    (void)state;
    static char reply[MJ_POP3_DATA_LINE_MAX + 64];
    memset(reply, '1', sizeof reply);
    memcpy(reply, "+OK\r\n1 ", 7);
    strcpy(reply + 7 + MJ_POP3_DATA_LINE_MAX, "\r\n.\r\n");
    fixture f;
    logged_in(&f, "", reply, NULL, 0);
    collected c = {0};
    assert_int_equal(mj_pop3_list(f.s, 0, collect_list, &c), MJ_PROTOCOL_ERROR);
    assert_int_equal(mj_pop3_error(f.s)->reason, MJ_R_LINE_TOO_LONG);
    teardown(&f);
}

/* A sink into a growing buffer (test only). */
typedef struct membuf {
    unsigned char data[4096];
    size_t len;
    unsigned calls;
} membuf;

static mj_outcome membuf_sink(void *ctx, const unsigned char *data, size_t len, mj_error *err)
{
    membuf *m = ctx;
    if (len > sizeof m->data - m->len)
        return mj_error_set(err, MJ_INTERNAL, MJ_R_LOCAL_IO, "test sink full");
    memcpy(m->data + m->len, data, len);
    m->len += len;
    m->calls++;
    return MJ_OK;
}

static void test_retr_every_chunking(void **state)
{
    (void)state;
    const char *body_wire = "+OK 120 octets\r\nSubject: x\r\n\r\n..dot\r\n..\r\n.\r.\r\nend\r\n.\r\n"
                            "+OK\r\n";
    const char *body = "Subject: x\r\n\r\n.dot\r\n.\r\n\r.\r\nend\r\n";
    for (size_t chunk = 1; chunk <= strlen(body_wire) + 1; chunk++) {
        size_t chunks[] = {chunk};
        fixture f;
        logged_in(&f, "", body_wire, chunks, 1);
        membuf m = {.len = 0};
        mj_sink sink = {membuf_sink, &m};
        uint64_t size = 0;
        assert_int_equal(mj_pop3_retr(f.s, 1, &sink, &size), MJ_OK);
        assert_int_equal(size, strlen(body));
        assert_int_equal(m.len, strlen(body));
        assert_memory_equal(m.data, body, m.len);
        assert_int_equal(mj_pop3_noop(f.s), MJ_OK); /* the next reply is intact */
        assert_string_equal(wire_after_login(&f), "RETR 1\r\nNOOP\r\n");
        teardown(&f);
    }
}

static void test_retr_split_at_every_byte(void **state)
{
    (void)state;
    /* the reply split in two at every position */
    const char *reply = "+OK\r\n..\r\n..\r\n.\r\n+OK\r\n";
    size_t n = strlen(reply);
    for (size_t k = 1; k < n; k++) {
        static char server[256];
        snprintf(server, sizeof server, GREETING "+OK\r\nUSER\r\n.\r\n+OK\r\n+OK\r\n-ERR\r\n");
        size_t pre = strlen(server);
        snprintf(server + pre, sizeof server - pre, "%s", reply);
        size_t cks[] = {pre + k, 0};
        setup_args a = {.server = server, .security = MJ_SEC_NONE, .opts = &insecure_ok,
                        .chunks = cks, .n_chunks = 2};
        fixture f;
        setup_with(&f, &a);
        assert_int_equal(mj_pop3_login(f.s, &alice, MJ_SASL_NONE), MJ_OK);
        membuf m = {.len = 0};
        mj_sink sink = {membuf_sink, &m};
        assert_int_equal(mj_pop3_retr(f.s, 1, &sink, NULL), MJ_OK);
        assert_int_equal(m.len, 6);
        assert_memory_equal(m.data, ".\r\n.\r\n", 6);
        assert_int_equal(mj_pop3_noop(f.s), MJ_OK);
        teardown(&f);
    }
}

static void test_retr_failures(void **state)
{
    (void)state;
    static const struct {
        const char *reply;
        mj_outcome outcome;
        mj_reason reason;
        mj_pop3_state after;
    } cases[] = {
        {"+OK\r\nbody\r\n", MJ_CONNECTION_LOST, MJ_R_EOF, MJ_POP3_STATE_FAILED},
        {"+OK\r\nbody\r\n.", MJ_CONNECTION_LOST, MJ_R_EOF, MJ_POP3_STATE_FAILED},
        {"+OK\r\nbody\n.\n", MJ_CONNECTION_LOST, MJ_R_EOF, MJ_POP3_STATE_FAILED},
        {"-ERR no such message\r\n", MJ_SERVER_REFUSED, MJ_R_NONE,
         MJ_POP3_STATE_TRANSACTION},
        {"-ERR [SYS/TEMP] retry\r\n", MJ_SERVER_BUSY, MJ_R_NONE, MJ_POP3_STATE_TRANSACTION},
        {"+OKAY\r\n", MJ_PROTOCOL_ERROR, MJ_R_MALFORMED, MJ_POP3_STATE_FAILED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fixture f;
        logged_in(&f, "", cases[i].reply, NULL, 0);
        membuf m = {.len = 0};
        mj_sink sink = {membuf_sink, &m};
        mj_outcome o = mj_pop3_retr(f.s, 1, &sink, NULL);
        if (o != cases[i].outcome)
            fail_msg("case %zu: %s (%s)", i, mj_outcome_name(o), mj_pop3_error(f.s)->message);
        assert_int_equal(mj_pop3_error(f.s)->reason, cases[i].reason);
        assert_int_equal(mj_pop3_get_state(f.s), cases[i].after);
        teardown(&f);
    }
}

static void test_retr_body_cap(void **state)
{
    (void)state;
    mj_pop3_options opts = insecure_ok;
    opts.body_max = 8;
    static const struct {
        const char *reply;
        mj_outcome outcome;
    } cases[] = {{"+OK\r\n123456\r\n.\r\n", MJ_OK}, {"+OK\r\n1234567\r\n.\r\n", MJ_PROTOCOL_ERROR}};
    for (size_t i = 0; i < 2; i++) {
        char server[256];
        snprintf(server, sizeof server, GREETING CAPA_USER "+OK\r\n+OK\r\n-ERR\r\n%s",
                 cases[i].reply);
        fixture f;
        setup(&f, server, MJ_SEC_NONE, &opts);
        assert_int_equal(mj_pop3_login(f.s, &alice, MJ_SASL_NONE), MJ_OK);
        mj_outcome o = mj_pop3_retr(f.s, 1, NULL, NULL);
        assert_int_equal(o, cases[i].outcome);
        if (o != MJ_OK)
            assert_int_equal(mj_pop3_error(f.s)->reason, MJ_R_STREAM_TOO_LARGE);
        teardown(&f);
    }
}

static void test_top(void **state)
{
    (void)state;
    fixture f;
    logged_in(&f, "", "+OK\r\nSubject: hi\r\n\r\nline 1\r\n.\r\n", NULL, 0);
    membuf m = {.len = 0};
    mj_sink sink = {membuf_sink, &m};
    uint64_t size = 0;
    assert_int_equal(mj_pop3_top(f.s, 3, 1, &sink, &size), MJ_OK);
    assert_int_equal(size, 23);
    assert_memory_equal(m.data, "Subject: hi\r\n\r\nline 1\r\n", 23);
    assert_string_equal(wire_after_login(&f), "TOP 3 1\r\n");
    teardown(&f);
}

/* ---- batches and pipelining ----------------------------------------------------------------------- */

typedef struct batch_log {
    membuf bodies[4];
    mj_outcome outcomes[4];
    uint64_t sizes[4];
    size_t n;
} batch_log;

static mj_outcome b_begin(void *ctx, uint32_t number, mj_sink *sink_out)
{
    batch_log *b = ctx;
    sink_out->fn = membuf_sink;
    sink_out->ctx = &b->bodies[(number - 1) % 4];
    return MJ_OK;
}

static mj_outcome b_end(void *ctx, uint32_t number, mj_outcome outcome, uint64_t size)
{
    batch_log *b = ctx;
    b->outcomes[(number - 1) % 4] = outcome;
    b->sizes[(number - 1) % 4] = size;
    b->n++;
    return MJ_OK;
}

static void test_retr_many_pipelined(void **state)
{
    (void)state;
    static const uint32_t numbers[] = {1, 2, 3};
    for (int pipe = 0; pipe < 2; pipe++) {
        fixture f;
        /* the server answers the first RETR only, then closes */
        logged_in(&f, pipe ? "PIPELINING\r\n" : "", "+OK\r\none\r\n.\r\n", NULL, 0);
        batch_log b;
        memset(&b, 0, sizeof b);
        mj_pop3_batch batch = {b_begin, b_end, &b};
        assert_int_equal(mj_pop3_retr_many(f.s, numbers, 3, &batch), MJ_CONNECTION_LOST);
        assert_int_equal(b.n, 1);
        assert_memory_equal(b.bodies[0].data, "one\r\n", 5);
        assert_string_equal(wire_after_login(&f),
                            pipe ? "RETR 1\r\nRETR 2\r\nRETR 3\r\n" : "RETR 1\r\nRETR 2\r\n");
        assert_int_equal(mj_pop3_get_state(f.s), MJ_POP3_STATE_FAILED);
        teardown(&f);
    }
}

static void test_retr_many_with_error(void **state)
{
    (void)state;
    static const uint32_t numbers[] = {1, 2, 3};
    fixture f;
    logged_in(&f, "PIPELINING\r\n",
              "+OK\r\none\r\n.\r\n-ERR [SYS/TEMP] busy\r\n+OK\r\n..three\r\n.\r\n+OK\r\n", NULL,
              0);
    batch_log b;
    memset(&b, 0, sizeof b);
    mj_pop3_batch batch = {b_begin, b_end, &b};
    assert_int_equal(mj_pop3_retr_many(f.s, numbers, 3, &batch), MJ_SERVER_BUSY);
    assert_int_equal(b.n, 3);
    assert_int_equal(b.outcomes[0], MJ_OK);
    assert_int_equal(b.outcomes[1], MJ_SERVER_BUSY);
    assert_int_equal(b.outcomes[2], MJ_OK);
    assert_int_equal(b.sizes[2], 8);
    assert_memory_equal(b.bodies[2].data, ".three\r\n", 8);
    assert_int_equal(mj_pop3_noop(f.s), MJ_OK);
    teardown(&f);
}

static void test_dele_quit(void **state)
{
    (void)state;
    static const uint32_t numbers[] = {1, 2, 3};
    fixture f;
    logged_in(&f, "PIPELINING\r\n",
              "+OK deleted\r\n-ERR message 2 already deleted\r\n+OK deleted\r\n"
              "+OK\r\n+OK bye\r\n",
              NULL, 0);
    assert_int_equal(mj_pop3_dele_many(f.s, numbers, 3), MJ_SERVER_REFUSED);
    assert_non_null(strstr(mj_pop3_error(f.s)->message, "already deleted"));
    assert_int_equal(mj_pop3_rset(f.s), MJ_OK);
    assert_int_equal(mj_pop3_quit(f.s), MJ_OK);
    assert_int_equal(mj_pop3_get_state(f.s), MJ_POP3_STATE_UPDATE);
    assert_string_equal(wire_after_login(&f), "DELE 1\r\nDELE 2\r\nDELE 3\r\nRSET\r\nQUIT\r\n");
    teardown(&f);
}

static void test_quit_refused(void **state)
{
    (void)state;
    fixture f;
    logged_in(&f, "", "+OK\r\n-ERR some deleted messages not removed\r\n", NULL, 0);
    assert_int_equal(mj_pop3_dele(f.s, 1), MJ_OK);
    assert_int_equal(mj_pop3_quit(f.s), MJ_SERVER_REFUSED);
    assert_int_equal(mj_pop3_dele(f.s, 0), MJ_USAGE);
    teardown(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greeting_outcomes),
        cmocka_unit_test(test_greeting_too_long),
        cmocka_unit_test(test_stls_then_user_pass),
        cmocka_unit_test(test_stls_required_but_missing),
        cmocka_unit_test(test_stls_refused_no_retry),
        cmocka_unit_test(test_stls_injection),
        cmocka_unit_test(test_stls_refused_then_injection),
        cmocka_unit_test(test_cleartext_refused),
        cmocka_unit_test(test_user_pass_insecure_allowed),
        cmocka_unit_test(test_pass_error_codes),
        cmocka_unit_test(test_pass_error_message),
        cmocka_unit_test(test_crlf_in_credentials),
        cmocka_unit_test(test_apop),
        cmocka_unit_test(test_apop_not_over_plaintext),
        cmocka_unit_test(test_apop_bad_timestamps),
        cmocka_unit_test(test_auth_plain_initial_response),
        cmocka_unit_test(test_auth_login_bare_plus),
        cmocka_unit_test(test_auth_failures),
        cmocka_unit_test(test_auth_initial_response_limit),
        cmocka_unit_test(test_auth_unsupported_forced),
        cmocka_unit_test(test_utf8_before_login),
        cmocka_unit_test(test_command_before_login),
        cmocka_unit_test(test_stat),
        cmocka_unit_test(test_list_and_uidl),
        cmocka_unit_test(test_uidl_abuse),
        cmocka_unit_test(test_list_line_too_long),
        cmocka_unit_test(test_retr_every_chunking),
        cmocka_unit_test(test_retr_split_at_every_byte),
        cmocka_unit_test(test_retr_failures),
        cmocka_unit_test(test_retr_body_cap),
        cmocka_unit_test(test_single_listing_wrong_number),
        cmocka_unit_test(test_top),
        cmocka_unit_test(test_retr_many_pipelined),
        cmocka_unit_test(test_retr_many_with_error),
        cmocka_unit_test(test_dele_quit),
        cmocka_unit_test(test_quit_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
