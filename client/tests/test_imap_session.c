/*
 * test_imap_session.c: the IMAP session over the in-memory transport: exact
 * client bytes, exact outcomes and reasons.  Greeting (OK, PREAUTH, BYE),
 * CAPABILITY, STARTTLS hygiene (SECURITY-CASES A, B: stripped, refused,
 * '+', injection), the credential policy (F), log redaction of LOGIN with
 * quoted strings and literals and of AUTHENTICATE (G), what the client sends
 * (N: #136-#139), untagged data and BYE at any moment, modified UTF-7.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/imap_fixture.h"

#include "mailjig/conn.h"
#include "mailjig/imap.h"

typedef imap_fixture fixture;
typedef imap_fixture_args setup_args;

static void setup_with(fixture *f, const setup_args *a)
{
    imap_fixture_open(f, a);
}

static void setup(fixture *f, const char *server, mj_security sec, const mj_imap_options *opts)
{
    setup_args a = {.server = server, .security = sec, .opts = opts};
    setup_with(f, &a);
}

static const char *wire(fixture *f)
{
    return imap_fixture_wire(f);
}

static const char *logtext(fixture *f)
{
    return imap_fixture_log(f);
}

/* The client's lines as the log shows them (works after a failed start). */
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
    imap_fixture_close(f);
}

static const mj_sasl_creds alice = {.username = "alice", .password = "s3cret-pw"};
static const mj_imap_options insecure_ok = {.policy = {.allow_insecure_auth = 1}};

#define GREET_CAPS "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n"
#define GREET_PLAIN "* OK ready\r\n"

static void assert_no_secret(fixture *f)
{
    const char *log = logtext(f);
    assert_null(strstr(log, "s3cret-pw"));
    assert_null(strstr(log, "czNjcmV0LXB3")); /* base64 of the password */
    assert_null(strstr(log, "AGFsaWNlAHMzY3JldC1wdw")); /* PLAIN \0alice\0s3cret-pw */
}

/* ---- greeting ---------------------------------------------------------------------------- */

static void test_greeting_caps_in_ok(void **state)
{
    (void)state;
    fixture f;
    setup(&f, GREET_CAPS, MJ_SEC_NONE, NULL);
    assert_int_equal(f.start, MJ_OK);
    assert_int_equal(mj_imap_get_state(f.s), MJ_IMAP_STATE_NOT_AUTHENTICATED);
    assert_string_equal(wire(&f), ""); /* capabilities came with the greeting */
    const mj_imap_caps *c = mj_imap_capabilities(f.s);
    assert_true(c->known);
    assert_int_equal(c->bits, MJ_IMAP_CAP_IMAP4REV1);
    assert_int_equal(c->sasl, MJ_SASL_BIT(MJ_SASL_PLAIN));
    assert_string_equal(mj_imap_greeting(f.s), "ready");
    teardown(&f);
}

static void test_greeting_then_capability(void **state)
{
    (void)state;
    fixture f;
    setup(&f, GREET_PLAIN "* CAPABILITY IMAP4rev2 IDLE LITERAL+\r\nA0001 OK done\r\n",
          MJ_SEC_NONE, NULL);
    assert_int_equal(f.start, MJ_OK);
    assert_string_equal(wire(&f), "A0001 CAPABILITY\r\n");
    const mj_imap_caps *c = mj_imap_capabilities(f.s);
    /* rev2 implies LITERAL- (RFC 9051 7.2.2) */
    assert_int_equal(c->bits, MJ_IMAP_CAP_IMAP4REV2 | MJ_IMAP_CAP_IDLE | MJ_IMAP_CAP_LITERAL_PLUS |
                                  MJ_IMAP_CAP_LITERAL_MINUS);
    assert_int_equal(c->n_names, 3);
    assert_string_equal(c->names[2], "LITERAL+");
    teardown(&f);
}

static void test_greeting_bye_and_garbage(void **state)
{
    (void)state;
    static const struct {
        const char *server;
        mj_outcome outcome;
        const char *msg;
    } cases[] = {
        {"* BYE too many connections\r\n", MJ_SERVER_REFUSED, "* BYE too many connections"},
        {"* BYE [UNAVAILABLE] try later\r\n", MJ_SERVER_BUSY, "* BYE try later"},
        {"A1 OK hello\r\n", MJ_PROTOCOL_ERROR, "greeting must be"},
        {"* NO go away\r\n", MJ_PROTOCOL_ERROR, "not NO"},
        {"+OK POP3 ready\r\n", MJ_PROTOCOL_ERROR, "expected"},
        {"", MJ_CONNECTION_LOST, "closed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fixture f;
        setup(&f, cases[i].server, MJ_SEC_NONE, NULL);
        assert_int_equal(f.start, cases[i].outcome);
        if (strstr(f.err.message, cases[i].msg) == NULL)
            fail_msg("case %zu: message '%s' lacks '%s'", i, f.err.message, cases[i].msg);
        assert_string_equal(client_lines(&f), "");
        teardown(&f);
    }
}

/* CAPABILITY refused before TLS: with STARTTLS required the session ends (SECURITY-CASES #8,
   curl test984) with only CAPABILITY on the wire; without the requirement it goes on. */
static void test_capability_refused(void **state)
{
    (void)state;
    const char *replies[] = {"A0001 BAD Not implemented\r\n", "A0001 NO not now\r\n"};
    for (size_t i = 0; i < 2; i++) {
        char server[128];
        snprintf(server, sizeof server, "%s%s", GREET_PLAIN, replies[i]);
        fixture f;
        setup(&f, server, MJ_SEC_STARTTLS, NULL);
        assert_int_equal(f.start, MJ_STARTTLS_UNAVAILABLE);
        assert_non_null(strstr(f.err.message, "refused CAPABILITY"));
        const char *sent = client_lines(&f);
        assert_non_null(strstr(sent, "A0001 CAPABILITY"));
        assert_null(strstr(sent, "A0002")); /* nothing after it */
        teardown(&f);
        setup(&f, server, MJ_SEC_STARTTLS_IF_AVAILABLE, NULL);
        assert_int_equal(f.start, MJ_OK);
        assert_false(mj_imap_capabilities(f.s)->known);
        assert_string_equal(wire(&f), "A0001 CAPABILITY\r\n"); /* no STARTTLS attempted */
        teardown(&f);
    }
}

static void test_preauth(void **state)
{
    (void)state;
    fixture f;
    /* PREAUTH on plaintext when TLS is required: nothing is sent (SECURITY-CASES A) */
    setup(&f, "* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] welcome\r\n", MJ_SEC_STARTTLS, NULL);
    assert_int_equal(f.start, MJ_STARTTLS_UNAVAILABLE);
    assert_non_null(strstr(f.err.message, "PREAUTH"));
    assert_string_equal(client_lines(&f), "");
    teardown(&f);
    /* starttls-if-available or none: authenticated already, login sends nothing */
    setup(&f, "* PREAUTH [CAPABILITY IMAP4rev1] welcome\r\n", MJ_SEC_STARTTLS_IF_AVAILABLE, NULL);
    assert_int_equal(f.start, MJ_OK);
    assert_int_equal(mj_imap_get_state(f.s), MJ_IMAP_STATE_AUTHENTICATED);
    assert_int_equal(mj_imap_login(f.s, &alice, MJ_SASL_NONE), MJ_OK);
    assert_string_equal(wire(&f), "");
    teardown(&f);
}

/* ---- STARTTLS ------------------------------------------------------------------------------- */

static void test_starttls_then_login(void **state)
{
    (void)state;
    /* LITERAL+ before TLS must not enable {n+} after it (SECURITY-CASES #138) */
    const char *pre = "* OK [CAPABILITY IMAP4rev1 STARTTLS LITERAL+ LOGINDISABLED] hi\r\n"
                      "A0001 OK begin TLS\r\n";
    const char *post = "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nA0002 OK done\r\n"
                       "+ go\r\nA0003 OK [CAPABILITY IMAP4rev1 IDLE] in\r\n";
    char server[512];
    snprintf(server, sizeof server, "%s%s", pre, post);
    size_t chunks[] = {strlen(pre), 0};
    setup_args a = {.server = server, .chunks = chunks, .n_chunks = 2, .security = MJ_SEC_STARTTLS};
    fixture f;
    setup_with(&f, &a);
    assert_int_equal(f.start, MJ_OK);
    assert_int_equal(mj_conn_tls_state(mj_imap_conn(f.s)), MJ_TLS_VERIFIED);
    assert_int_equal(mj_imap_capabilities(f.s)->bits, MJ_IMAP_CAP_IMAP4REV1);
    /* a password with 8-bit bytes goes as a synchronizing literal */
    mj_sasl_creds creds = {.username = "alice", .password = "s3cret-pw\xc3\xa9"};
    assert_int_equal(mj_imap_login(f.s, &creds, MJ_SASL_NONE), MJ_OK);
    assert_string_equal(wire(&f), "A0001 STARTTLS\r\nA0002 CAPABILITY\r\n"
                                  "A0003 LOGIN alice {11}\r\ns3cret-pw\xc3\xa9\r\n");
    assert_int_equal(mj_imap_get_state(f.s), MJ_IMAP_STATE_AUTHENTICATED);
    assert_int_equal(mj_imap_capabilities(f.s)->bits, MJ_IMAP_CAP_IMAP4REV1 | MJ_IMAP_CAP_IDLE);
    assert_no_secret(&f);
    assert_non_null(strstr(logtext(&f), "C: A0003 LOGIN alice {11}"));
    teardown(&f);
}

static void test_starttls_stripped_or_refused(void **state)
{
    (void)state;
    static const struct {
        const char *server;
        mj_security sec;
        mj_outcome outcome;
        const char *sent;
    } cases[] = {
        /* stripped: not offered */
        {"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n", MJ_SEC_STARTTLS, MJ_STARTTLS_UNAVAILABLE, ""},
        {"* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\nA0001 NO not now\r\n", MJ_SEC_STARTTLS,
         MJ_STARTTLS_UNAVAILABLE, "A0001 STARTTLS\r\n"},
        {"* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\nA0001 BAD what\r\n", MJ_SEC_STARTTLS,
         MJ_STARTTLS_UNAVAILABLE, "A0001 STARTTLS\r\n"},
        /* '+' to STARTTLS */
        {"* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n+ go ahead\r\n", MJ_SEC_STARTTLS,
         MJ_PROTOCOL_ERROR, "A0001 STARTTLS\r\n"},
        /* if-available: refused means plaintext, no retry */
        {"* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\nA0001 NO not now\r\n",
         MJ_SEC_STARTTLS_IF_AVAILABLE, MJ_OK, "A0001 STARTTLS\r\n"},
        /* a tagged reply with a tag never sent */
        {"* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\nX1 OK begin\r\n", MJ_SEC_STARTTLS,
         MJ_PROTOCOL_ERROR, "A0001 STARTTLS\r\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fixture f;
        setup(&f, cases[i].server, cases[i].sec, NULL);
        if (f.start != cases[i].outcome)
            fail_msg("case %zu: %s (%s)", i, mj_outcome_name(f.start), f.err.message);
        assert_string_equal(client_lines(&f), cases[i].sent);
        if (f.start == MJ_OK)
            assert_int_equal(mj_conn_tls_state(mj_imap_conn(f.s)), MJ_TLS_NONE);
        teardown(&f);
    }
}

static void test_starttls_injection(void **state)
{
    (void)state;
    /* SECURITY-CASES #18: responses injected after the STARTTLS reply, in
       the same segment or still in the socket */
    for (int split = 0; split < 2; split++) {
        const char *pre = "* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\nA0001 OK begin\r\n";
        char server[256];
        snprintf(server, sizeof server, "%s%s", pre, "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n");
        size_t chunks[] = {strlen(pre), 0};
        setup_args a = {.server = server, .security = MJ_SEC_STARTTLS,
                        .chunks = split ? chunks : NULL, .n_chunks = split ? 2 : 0,
                        .report_pending = true};
        fixture f;
        setup_with(&f, &a);
        assert_int_equal(f.start, MJ_PROTOCOL_ERROR);
        assert_int_equal(f.err.reason, MJ_R_DATA_AFTER_STARTTLS);
        assert_string_equal(client_lines(&f), "A0001 STARTTLS\r\n");
        teardown(&f);
    }
}

/* ---- LOGIN and AUTHENTICATE ------------------------------------------------------------------- */

static void test_login_cleartext_refused(void **state)
{
    (void)state;
    fixture f;
    setup(&f, "* OK [CAPABILITY IMAP4rev1] hi\r\n", MJ_SEC_NONE, NULL);
    assert_int_equal(f.start, MJ_OK);
    assert_int_equal(mj_imap_login(f.s, &alice, MJ_SASL_NONE), MJ_CLEARTEXT_REFUSED);
    assert_string_equal(wire(&f), "");
    assert_null(strstr(mj_imap_error(f.s)->message, "s3cret"));
    teardown(&f);
    /* LOGINDISABLED and no mechanism: auth-unsupported, nothing sent */
    setup(&f, "* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] hi\r\n", MJ_SEC_NONE, &insecure_ok);
    assert_int_equal(mj_imap_login(f.s, &alice, MJ_SASL_NONE), MJ_AUTH_UNSUPPORTED);
    assert_non_null(strstr(mj_imap_error(f.s)->message, "LOGINDISABLED"));
    assert_string_equal(wire(&f), "");
    teardown(&f);
}

static void test_login_quoting_and_redaction(void **state)
{
    (void)state;
    static const struct {
        const char *user, *password, *sent;
        const char *log;
    } cases[] = {
        {"alice", "s3cret-pw", "A0001 LOGIN alice s3cret-pw\r\n", "C: A0001 LOGIN alice ********"},
        {"al ice", "s3cret-pw\"x\\", "A0001 LOGIN \"al ice\" \"s3cret-pw\\\"x\\\\\"\r\n",
         "C: A0001 LOGIN \"al ice\" ********"},
        {"x{", "s3cret-pw{", "A0001 LOGIN \"x{\" \"s3cret-pw{\"\r\n", "C: A0001 LOGIN \"x{\" ********"},
        {"nil", "s3cret-pw\t", "A0001 LOGIN \"nil\" {10}\r\ns3cret-pw\t\r\n",
         "C: A0001 LOGIN \"nil\" {10}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char server[256];
        bool literal = strchr(cases[i].sent, '{') != NULL && strstr(cases[i].sent, "{\"") == NULL;
        snprintf(server, sizeof server,
                 "* OK [CAPABILITY IMAP4rev1] hi\r\n%sA0001 OK in\r\n"
                 "* CAPABILITY IMAP4rev1 IDLE\r\nA0002 OK done\r\n",
                 literal ? "+ Ready\r\n" : "");
        fixture f;
        setup(&f, server, MJ_SEC_NONE, &insecure_ok);
        mj_sasl_creds c = {.username = cases[i].user, .password = cases[i].password};
        if (mj_imap_login(f.s, &c, MJ_SASL_NONE) != MJ_OK)
            fail_msg("case %zu: %s", i, mj_imap_error(f.s)->message);
        char sent[256];
        snprintf(sent, sizeof sent, "%sA0002 CAPABILITY\r\n", cases[i].sent);
        assert_string_equal(wire(&f), sent);
        assert_non_null(strstr(logtext(&f), cases[i].log));
        assert_no_secret(&f);
        /* no capabilities in the OK: forgotten and asked again */
        assert_true(mj_imap_capabilities(f.s)->known);
        assert_int_equal(mj_imap_capabilities(f.s)->bits, MJ_IMAP_CAP_IMAP4REV1 | MJ_IMAP_CAP_IDLE);
        teardown(&f);
    }
}

/* Capabilities after authentication (RFC 9051 6.2.2-6.2.3, issue 6): kept when the tagged OK
   carries [CAPABILITY ...], otherwise forgotten and asked again; a NO or BAD to that CAPABILITY
   leaves them unknown without failing the login; a BYE and EOF there ends the session. */
static void test_capabilities_after_login(void **state)
{
    (void)state;
    static const struct {
        const char *reply;
        mj_outcome outcome;
        const char *sent; /* after the LOGIN line */
        bool known;
        uint32_t bits;
    } cases[] = {
        {"A0001 OK [CAPABILITY IMAP4rev1 MOVE] in\r\n", MJ_OK, "", true,
         MJ_IMAP_CAP_IMAP4REV1 | MJ_IMAP_CAP_MOVE},
        {"A0001 OK in\r\n* CAPABILITY IMAP4rev1 MOVE\r\nA0002 OK done\r\n", MJ_OK,
         "A0002 CAPABILITY\r\n", true, MJ_IMAP_CAP_IMAP4REV1 | MJ_IMAP_CAP_MOVE},
        /* another response code in the OK: asked again */
        {"A0001 OK [READ-WRITE] in\r\n* CAPABILITY IMAP4rev1\r\nA0002 OK\r\n", MJ_OK,
         "A0002 CAPABILITY\r\n", true, MJ_IMAP_CAP_IMAP4REV1},
        {"A0001 OK in\r\nA0002 BAD not now\r\n", MJ_OK, "A0002 CAPABILITY\r\n", false, 0},
        {"A0001 OK in\r\nA0002 NO no\r\n", MJ_OK, "A0002 CAPABILITY\r\n", false, 0},
        {"A0001 OK in\r\n* BYE going away\r\n", MJ_CONNECTION_LOST, "A0002 CAPABILITY\r\n",
         false, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char server[256];
        snprintf(server, sizeof server, "* OK [CAPABILITY IMAP4rev1 IDLE STARTTLS] hi\r\n%s",
                 cases[i].reply);
        fixture f;
        setup(&f, server, MJ_SEC_NONE, &insecure_ok);
        mj_outcome got = mj_imap_login(f.s, &alice, MJ_SASL_NONE);
        if (got != cases[i].outcome)
            fail_msg("case %zu: %s (%s)", i, mj_outcome_name(got), mj_imap_error(f.s)->message);
        char sent[128];
        snprintf(sent, sizeof sent, "A0001 LOGIN alice s3cret-pw\r\n%s", cases[i].sent);
        assert_string_equal(wire(&f), sent);
        if (got == MJ_OK) {
            assert_int_equal(mj_imap_get_state(f.s), MJ_IMAP_STATE_AUTHENTICATED);
            const mj_imap_caps *c = mj_imap_capabilities(f.s);
            if (c->known != cases[i].known || c->bits != cases[i].bits)
                fail_msg("case %zu: known %d bits %x", i, c->known, (unsigned)c->bits);
        } else {
            assert_non_null(strstr(mj_imap_error(f.s)->message, "BYE going away"));
        }
        teardown(&f);
    }
}

static void test_login_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *reply;
        mj_outcome outcome;
    } cases[] = {
        {"A0001 NO [AUTHENTICATIONFAILED] invalid credentials\r\n", MJ_AUTH_FAILED},
        {"A0001 NO bad password\r\n", MJ_AUTH_FAILED},
        {"A0001 NO [UNAVAILABLE] backend down\r\n", MJ_SERVER_BUSY},
        {"A0001 NO [PRIVACYREQUIRED] use TLS\r\n", MJ_CLEARTEXT_REFUSED},
        {"* BYE shutting down\r\n", MJ_CONNECTION_LOST},
        {"* BYE [UNAVAILABLE] maintenance\r\n", MJ_SERVER_BUSY},
        {"A0001 OK [UNKNOWN-CODE\r\n", MJ_PROTOCOL_ERROR},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char server[256];
        snprintf(server, sizeof server, "* OK [CAPABILITY IMAP4rev1] hi\r\n%s", cases[i].reply);
        mj_imap_options o = insecure_ok;
        o.strict = true;
        fixture f;
        setup(&f, server, MJ_SEC_NONE, &o);
        mj_outcome got = mj_imap_login(f.s, &alice, MJ_SASL_NONE);
        if (got != cases[i].outcome)
            fail_msg("case %zu: %s (%s)", i, mj_outcome_name(got), mj_imap_error(f.s)->message);
        assert_null(strstr(mj_imap_error(f.s)->message, "s3cret"));
        if (i == 4)
            assert_non_null(strstr(mj_imap_error(f.s)->message, "BYE shutting down"));
        teardown(&f);
    }
}

static void test_authenticate_plain(void **state)
{
    (void)state;
    /* LOGINDISABLED with AUTH=PLAIN: AUTHENTICATE, with SASL-IR when advertised */
    static const struct {
        const char *caps, *server, *sent;
    } cases[] = {
        {"IMAP4rev1 LOGINDISABLED AUTH=PLAIN SASL-IR", "A0001 OK [CAPABILITY IMAP4rev1] in\r\n",
         "A0001 AUTHENTICATE PLAIN AGFsaWNlAHMzY3JldC1wdw==\r\n"},
        {"IMAP4rev1 LOGINDISABLED AUTH=PLAIN", "* OK still here\r\n+ \r\nA0001 OK [CAPABILITY IMAP4rev1] in\r\n",
         "A0001 AUTHENTICATE PLAIN\r\nAGFsaWNlAHMzY3JldC1wdw==\r\n"},
    };
    for (size_t i = 0; i < 2; i++) {
        char server[256];
        snprintf(server, sizeof server, "* OK [CAPABILITY %s] hi\r\n%s", cases[i].caps,
                 cases[i].server);
        fixture f;
        setup(&f, server, MJ_SEC_NONE, &insecure_ok);
        assert_int_equal(mj_imap_login(f.s, &alice, MJ_SASL_NONE), MJ_OK);
        assert_string_equal(wire(&f), cases[i].sent);
        assert_non_null(strstr(logtext(&f), "C: A0001 AUTHENTICATE PLAIN"));
        assert_no_secret(&f);
        teardown(&f);
    }
    /* refusal codes */
    fixture f;
    setup(&f,
          "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR LOGINDISABLED] hi\r\n"
          "A0001 NO [AUTHENTICATIONFAILED] nope\r\n",
          MJ_SEC_NONE, &insecure_ok);
    assert_int_equal(mj_imap_login(f.s, &alice, MJ_SASL_NONE), MJ_AUTH_FAILED);
    assert_no_secret(&f);
    teardown(&f);
}

/* ---- what the client sends (SECURITY-CASES N) ---------------------------------------------- */

#define SELECTED_SERVER                                                                            \
    "* OK [CAPABILITY IMAP4rev1] hi\r\nA0001 OK [CAPABILITY IMAP4rev1 MOVE] in\r\n* 3 EXISTS\r\nA0002 OK [READ-WRITE] sel\r\n"

static void open_selected(fixture *f, const char *more)
{
    char *server = malloc(strlen(SELECTED_SERVER) + strlen(more) + 1);
    assert_non_null(server);
    strcpy(server, SELECTED_SERVER);
    strcat(server, more);
    setup(f, server, MJ_SEC_NONE, &insecure_ok);
    free(server);
    assert_int_equal(f->start, MJ_OK);
    assert_int_equal(mj_imap_login(f->s, &alice, MJ_SASL_NONE), MJ_OK);
    assert_int_equal(mj_imap_select(f->s, "INBOX", false, NULL), MJ_OK);
}

static void test_arguments_refused(void **state)
{
    (void)state;
    fixture f;
    open_selected(&f, "");
    mj_imap *s = f.s;
    assert_int_equal(mj_imap_mailbox(s, MJ_IMAP_CREATE, "a\r\nA9 DELETE INBOX"), MJ_USAGE);
    assert_int_equal(mj_imap_select(s, "x\ny", false, NULL), MJ_USAGE);
    assert_int_equal(mj_imap_fetch(s, false, "1", "(BODY[] {0}", NULL), MJ_USAGE);
    assert_int_equal(mj_imap_fetch(s, false, "1", "BODY[] {5+}", NULL), MJ_USAGE);
    assert_int_equal(mj_imap_fetch(s, false, "1", "(FLAGS", NULL), MJ_USAGE);
    assert_int_equal(mj_imap_fetch(s, false, "1 FLAGS", "FLAGS", NULL), MJ_USAGE);
    assert_int_equal(mj_imap_search(s, false, "SUBJECT x\r\nA9 LOGOUT", NULL, NULL), MJ_USAGE);
    assert_int_equal(mj_imap_search(s, false, "TEXT {3}", NULL, NULL), MJ_USAGE);
    assert_int_equal(mj_imap_store(s, false, "1", MJ_IMAP_STORE_ADD, "\\Seen)", false, NULL), MJ_USAGE);
    assert_int_equal(mj_imap_store(s, false, "1", MJ_IMAP_STORE_ADD, "a\rb", false, NULL), MJ_USAGE);
    const char *f1[] = {"name"}, *v1[] = {"x\r\ny"};
    assert_int_equal(mj_imap_id(s, f1, v1, 1), MJ_USAGE);
    const char *en[] = {"UTF8=ACCEPT\r\n"};
    assert_int_equal(mj_imap_enable(s, en, 1, NULL), MJ_USAGE);
    assert_non_null(strstr(mj_imap_error(s)->message, "nothing was sent"));
    assert_string_equal(wire(&f), SELECTED_WIRE); /* not one byte more */
    assert_int_equal(mj_imap_get_state(s), MJ_IMAP_STATE_SELECTED);
    teardown(&f);
}

static void test_mailbox_name_forms(void **state)
{
    (void)state;
    fixture f;
    open_selected(&f, "A0003 OK\r\nA0004 OK\r\nA0005 OK\r\nA0006 OK\r\nA0007 OK\r\n");
    assert_int_equal(mj_imap_mailbox(f.s, MJ_IMAP_CREATE, "Sent"), MJ_OK);
    assert_int_equal(mj_imap_mailbox(f.s, MJ_IMAP_CREATE, "My \"Mail\""), MJ_OK);
    assert_int_equal(mj_imap_mailbox(f.s, MJ_IMAP_CREATE, "Entw\xc3\xbcrfe & \xe5\x8f\xb0"), MJ_OK);
    assert_int_equal(mj_imap_mailbox(f.s, MJ_IMAP_CREATE, "tab\there"), MJ_OK);
    assert_int_equal(mj_imap_mailbox(f.s, MJ_IMAP_CREATE, "\xff"), MJ_USAGE); /* not UTF-8 */
    assert_int_equal(mj_imap_rename(f.s, "a", "b"), MJ_OK);
    assert_string_equal(wire(&f), SELECTED_WIRE "A0003 CREATE Sent\r\n"
                                                "A0004 CREATE \"My \\\"Mail\\\"\"\r\n"
                                                "A0005 CREATE \"Entw&APw-rfe &- &U,A-\"\r\n"
                                                "A0006 CREATE tab&AAk-here\r\n"
                                                "A0007 RENAME a b\r\n");
    teardown(&f);
}

static void test_literal_plus_after_login(void **state)
{
    (void)state;
    fixture f;
    /* LITERAL+ announced (over verified TLS... here allowed plaintext): no wait for '+' */
    setup(&f,
          "* OK [CAPABILITY IMAP4rev1] hi\r\nA0001 OK [CAPABILITY IMAP4rev1 LITERAL+] in\r\n"
          "A0002 OK\r\n",
          MJ_SEC_NONE, &insecure_ok);
    assert_int_equal(mj_imap_login(f.s, &alice, MJ_SASL_NONE), MJ_OK);
    const char *field[] = {"name"}, *value[] = {"a\tb"};
    assert_int_equal(mj_imap_id(f.s, field, value, 1), MJ_OK);
    assert_string_equal(wire(&f), "A0001 LOGIN alice s3cret-pw\r\nA0002 ID (\"name\" {3+}\r\na\tb)\r\n");
    teardown(&f);
    /* a literal refused before its bytes: the tagged NO ends the command */
    setup(&f, "* OK [CAPABILITY IMAP4rev1] hi\r\nA0001 OK [CAPABILITY IMAP4rev1] in\r\nA0002 NO [LIMIT] too big\r\n",
          MJ_SEC_NONE, &insecure_ok);
    assert_int_equal(mj_imap_login(f.s, &alice, MJ_SASL_NONE), MJ_OK);
    assert_int_equal(mj_imap_id(f.s, field, value, 1), MJ_SERVER_BUSY);
    assert_string_equal(wire(&f), "A0001 LOGIN alice s3cret-pw\r\nA0002 ID (\"name\" {3}\r\n");
    assert_int_equal(mj_imap_get_state(f.s), MJ_IMAP_STATE_AUTHENTICATED);
    teardown(&f);
}

/* ---- untagged data and BYE ------------------------------------------------------------------------ */

static void test_untagged_and_alert(void **state)
{
    (void)state;
    fixture f;
    open_selected(&f, "* 4 EXISTS\r\n* 2 EXPUNGE\r\n* OK [ALERT] disk full\r\n"
                      "* FLAGS (\\Seen \\Deleted)\r\n* 9 FETCH (FLAGS (\\Seen))\r\nA0003 OK\r\n"
                      "+ unexpected\r\n");
    assert_int_equal(mj_imap_noop(f.s), MJ_OK);
    const mj_imap_mailbox_info *m = mj_imap_selected(f.s);
    assert_non_null(m);
    assert_int_equal(m->exists, 3);
    assert_string_equal(m->flags, "\\Seen \\Deleted");
    bool untrusted = false;
    assert_string_equal(mj_imap_alert(f.s, &untrusted), "disk full");
    assert_true(untrusted); /* arrived on plaintext */
    /* a continuation nobody asked for */
    assert_int_equal(mj_imap_noop(f.s), MJ_PROTOCOL_ERROR);
    assert_int_equal(mj_imap_get_state(f.s), MJ_IMAP_STATE_FAILED);
    assert_int_equal(mj_imap_noop(f.s), MJ_USAGE); /* nothing more is sent */
    assert_string_equal(wire(&f), SELECTED_WIRE "A0003 NOOP\r\nA0004 NOOP\r\n");
    teardown(&f);
}

static void test_logout(void **state)
{
    (void)state;
    const char *servers[] = {"* BYE bye\r\nA0002 OK done\r\n", "* BYE bye\r\n"};
    for (size_t i = 0; i < 2; i++) {
        char server[256];
        snprintf(server, sizeof server, "* OK [CAPABILITY IMAP4rev1] hi\r\nA0001 OK\r\n%s",
                 servers[i]);
        fixture f;
        setup(&f, server, MJ_SEC_NONE, NULL);
        assert_int_equal(mj_imap_noop(f.s), MJ_OK);
        assert_int_equal(mj_imap_logout(f.s), MJ_OK);
        assert_int_equal(mj_imap_get_state(f.s), MJ_IMAP_STATE_LOGOUT);
        assert_string_equal(wire(&f), "A0001 NOOP\r\nA0002 LOGOUT\r\n");
        teardown(&f);
    }
}


/* ---- mailbox and message commands ------------------------------------------------------------ */

static mj_outcome add_entry(void *ctx, const mj_imap_list_entry *e)
{
    char *out = ctx;
    char line[256];
    snprintf(line, sizeof line, "%s|%c|%zu|%s;", e->name, e->delimiter ? e->delimiter : '-',
             e->n_attributes, e->n_attributes ? e->attributes[e->n_attributes - 1] : "");
    strcat(out, line);
    return MJ_OK;
}

static void test_list_and_select(void **state)
{
    (void)state;
    fixture f;
    setup(&f,
          "* OK [CAPABILITY IMAP4rev1 SPECIAL-USE LIST-EXTENDED] hi\r\n"
          "A0001 OK [CAPABILITY IMAP4rev1 SPECIAL-USE LIST-EXTENDED] in\r\n"
          "* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
          "* LIST (\\HasNoChildren \\Sent) \"/\" \"Entw&APw-rfe\"\r\n"
          "* LIST (\\Noselect) NIL {5}\r\nA\"b c\r\n"
          "A0002 OK done\r\n"
          "* FLAGS (\\Answered \\Seen)\r\n* OK [PERMANENTFLAGS (\\Seen \\*)] ok\r\n"
          "* 172 EXISTS\r\n* 1 RECENT\r\n* OK [UNSEEN 12] x\r\n* OK [UIDVALIDITY 3857529045] x\r\n"
          "* OK [UIDNEXT 4392] x\r\n* OK [HIGHESTMODSEQ 90060115205545359] x\r\n"
          "A0003 OK [READ-WRITE] SELECT completed\r\n"
          "* STATUS Drafts (MESSAGES 2 UIDNEXT 9 UIDVALIDITY 7 UNSEEN 1 RECENT 0)\r\nA0004 OK\r\n",
          MJ_SEC_NONE, &insecure_ok);
    assert_int_equal(mj_imap_login(f.s, &alice, MJ_SASL_NONE), MJ_OK);
    char out[512] = "";
    assert_int_equal(mj_imap_list(f.s, "", "*", false, add_entry, out), MJ_OK);
    assert_string_equal(out, "INBOX|/|1|\\HasNoChildren;Entw\xc3\xbcrfe|/|2|\\Sent;A\"b c|-|1|\\Noselect;");
    mj_imap_mailbox_info m;
    assert_int_equal(mj_imap_select(f.s, "INBOX", false, &m), MJ_OK);
    assert_int_equal(m.exists, 172);
    assert_int_equal(m.recent, 1);
    assert_int_equal(m.unseen, 12);
    assert_int_equal(m.uidvalidity, 3857529045);
    assert_int_equal(m.uidnext, 4392);
    assert_int_equal(m.highestmodseq, 90060115205545359);
    assert_false(m.read_only);
    assert_string_equal(m.flags, "\\Answered \\Seen");
    assert_string_equal(m.permanentflags, "\\Seen \\*");
    assert_int_equal(mj_imap_mailbox_status(f.s, "Drafts", &m), MJ_OK);
    assert_int_equal(m.exists, 2);
    assert_int_equal(m.uidnext, 9);
    assert_int_equal(m.unseen, 1);
    assert_int_equal(m.recent, 0);
    assert_int_equal(m.highestmodseq, -1);
    assert_string_equal(wire(&f), "A0001 LOGIN alice s3cret-pw\r\n"
                                  "A0002 LIST \"\" \"*\" RETURN (SPECIAL-USE)\r\n"
                                  "A0003 SELECT INBOX\r\n"
                                  "A0004 STATUS Drafts (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)\r\n");
    teardown(&f);
}

typedef struct fetched {
    char text[512];
    size_t body_len;
    unsigned char body[64];
} fetched;

static mj_outcome on_body(void *ctx, uint32_t seq, const char *section, const unsigned char *data,
                          size_t len)
{
    fetched *x = ctx;
    (void)seq;
    (void)section;
    if (x->body_len + len <= sizeof x->body)
        memcpy(x->body + x->body_len, data, len);
    x->body_len += len;
    return MJ_OK;
}

static mj_outcome on_message(void *ctx, const mj_imap_message *m)
{
    fetched *x = ctx;
    char line[200];
    snprintf(line, sizeof line, "%u uid=%u size=%llu flags=%zu%s env=%d subj=%s bs=%d body=%llu;",
             m->seq, m->uid, (unsigned long long)m->size, m->n_flags,
             m->n_flags ? m->flags[0] : "", m->has_envelope, m->subject ? m->subject : "-",
             m->has_bodystructure, (unsigned long long)m->body_bytes);
    strcat(x->text, line);
    return MJ_OK;
}

#define FETCH_REPLY                                                                                \
    "* 1 FETCH (UID 10 FLAGS (\\Seen) RFC822.SIZE 11 ENVELOPE (\"d\" \"Hi\" NIL NIL NIL NIL NIL NIL NIL " \
    "\"<m@x>\") BODYSTRUCTURE (\"text\" \"plain\" NIL NIL NIL \"7bit\" 11 1) BODY[] {11}\r\n"      \
    "Hello\r\nworl)\r\n"                                                                           \
    "A0003 OK done\r\n"

static void test_fetch_split_everywhere(void **state)
{
    (void)state;
    /* the same FETCH delivered in every chunk size, 1 byte included */
    for (size_t chunk = 1; chunk <= 40; chunk++) {
        size_t chunks[] = {chunk};
        char server[1024];
        snprintf(server, sizeof server, "%s%s", SELECTED_SERVER, FETCH_REPLY);
        setup_args a = {.server = server, .chunks = chunks, .n_chunks = 1, .security = MJ_SEC_NONE,
                        .opts = &insecure_ok};
        fixture f;
        setup_with(&f, &a);
        assert_int_equal(mj_imap_login(f.s, &alice, MJ_SASL_NONE), MJ_OK);
        assert_int_equal(mj_imap_select(f.s, "INBOX", false, NULL), MJ_OK);
        fetched x;
        memset(&x, 0, sizeof x);
        mj_imap_fetch_cb cb = {on_body, on_message, &x};
        assert_int_equal(mj_imap_fetch(f.s, true, "10", "(UID FLAGS RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY.PEEK[])", &cb), MJ_OK);
        assert_string_equal(x.text, "1 uid=10 size=11 flags=1\\Seen env=1 subj=Hi bs=1 body=11;");
        assert_int_equal(x.body_len, 11);
        assert_memory_equal(x.body, "Hello\r\nworl", 11);
        assert_string_equal(wire(&f), SELECTED_WIRE "A0003 UID FETCH 10 (UID FLAGS RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY.PEEK[])\r\n");
        teardown(&f);
    }
}

static void test_fetch_streamed_body(void **state)
{
    (void)state;
    /* a body above the inline threshold reaches the callback in chunks */
    size_t n = 200 * 1024;
    const char *head = SELECTED_SERVER "* 2 FETCH (BODY[] {204800}\r\n";
    const char *tail = " UID 7)\r\nA0003 OK\r\n";
    size_t len = strlen(head) + n + strlen(tail);
    char *server = malloc(len + 1);
    assert_non_null(server);
    memcpy(server, head, strlen(head));
    memset(server + strlen(head), 'x', n);
    memcpy(server + strlen(head) + n, tail, strlen(tail) + 1);
    setup_args a = {.server = server, .server_len = len, .security = MJ_SEC_NONE, .opts = &insecure_ok};
    fixture f;
    setup_with(&f, &a);
    free(server);
    assert_int_equal(mj_imap_login(f.s, &alice, MJ_SASL_NONE), MJ_OK);
    assert_int_equal(mj_imap_select(f.s, "INBOX", false, NULL), MJ_OK);
    fetched x;
    memset(&x, 0, sizeof x);
    mj_imap_fetch_cb cb = {on_body, on_message, &x};
    assert_int_equal(mj_imap_fetch(f.s, false, "2", "BODY[]", &cb), MJ_OK);
    assert_int_equal(x.body_len, n);
    assert_string_equal(x.text, "2 uid=7 size=0 flags=0 env=0 subj=- bs=0 body=204800;");
    teardown(&f);
}

static mj_outcome add_number(void *ctx, uint32_t n)
{
    char *out = ctx;
    char w[16];
    snprintf(w, sizeof w, "%u,", n);
    strcat(out, w);
    return MJ_OK;
}

static void test_search_store_copy_move(void **state)
{
    (void)state;
    fixture f;
    open_selected(&f, "* SEARCH 2 84 882\r\nA0003 OK\r\n"
                      "* 2 FETCH (FLAGS (\\Deleted \\Seen) UID 4)\r\nA0004 OK\r\n"
                      "A0005 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n"
                      "* OK [COPYUID 432432 42 11] x\r\n* 2 EXPUNGE\r\nA0006 OK Done\r\n"
                      "A0007 NO [TRYCREATE] no such mailbox\r\n");
    char out[128] = "";
    assert_int_equal(mj_imap_search(f.s, false, "FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"", add_number, out), MJ_OK);
    assert_string_equal(out, "2,84,882,");
    fetched x;
    memset(&x, 0, sizeof x);
    mj_imap_fetch_cb cb = {NULL, on_message, &x};
    assert_int_equal(mj_imap_store(f.s, false, "2", MJ_IMAP_STORE_ADD, "\\Deleted", false, &cb), MJ_OK);
    assert_string_equal(x.text, "2 uid=4 size=0 flags=2\\Deleted env=0 subj=- bs=0 body=0;");
    mj_imap_uidplus cu;
    assert_int_equal(mj_imap_copy(f.s, true, false, "304,319:320", "Saved", &cu), MJ_OK);
    assert_true(cu.present);
    assert_int_equal(cu.uidvalidity, 38505);
    assert_string_equal(cu.source, "304,319:320");
    assert_string_equal(cu.dest, "3956:3958");
    assert_int_equal(mj_imap_copy(f.s, true, true, "42", "Trash", &cu), MJ_OK);
    assert_int_equal(cu.uidvalidity, 432432);
    assert_string_equal(cu.dest, "11");
    assert_int_equal(mj_imap_selected(f.s)->exists, 2);
    assert_int_equal(mj_imap_copy(f.s, false, false, "1", "Nope", &cu), MJ_SERVER_REFUSED);
    assert_false(cu.present);
    assert_non_null(strstr(mj_imap_error(f.s)->message, "NO [TRYCREATE] no such mailbox"));
    assert_string_equal(wire(&f), SELECTED_WIRE
                        "A0003 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n"
                        "A0004 STORE 2 +FLAGS (\\Deleted)\r\n"
                        "A0005 UID COPY 304,319:320 Saved\r\n"
                        "A0006 UID MOVE 42 Trash\r\n"
                        "A0007 COPY 1 Nope\r\n");
    teardown(&f);
}

static mj_outcome refuse_number(void *ctx, uint32_t n)
{
    (void)ctx;
    (void)n;
    return MJ_INTERNAL; /* without setting an error: the session must name what happened */
}

/* A caller's callback that says no: its outcome, a message of its own (never a stale one). */
static void test_callback_refusal_has_a_message(void **state)
{
    (void)state;
    fixture f;
    open_selected(&f, "A0003 NO [TRYCREATE] first\r\n* SEARCH 2 84\r\nA0004 OK\r\n");
    mj_imap_uidplus cu;
    assert_int_equal(mj_imap_copy(f.s, false, false, "1", "Nope", &cu), MJ_SERVER_REFUSED);
    assert_int_equal(mj_imap_search(f.s, false, "ALL", refuse_number, NULL), MJ_INTERNAL);
    assert_string_equal(mj_imap_error(f.s)->message,
                        "the caller's callback stopped the command at an untagged SEARCH (internal)");
    teardown(&f);
}

/* RFC 6851 §3.3: no MOVE to a server that does not advertise it; COPY still goes. */
static void test_move_needs_capability(void **state)
{
    (void)state;
    fixture f;
    setup(&f, "* OK [CAPABILITY IMAP4rev1] hi\r\nA0001 OK [CAPABILITY IMAP4rev1] in\r\n"
              "* 3 EXISTS\r\nA0002 OK [READ-WRITE] sel\r\nA0003 OK copied\r\n",
          MJ_SEC_NONE, &insecure_ok);
    assert_int_equal(f.start, MJ_OK);
    assert_int_equal(mj_imap_login(f.s, &alice, MJ_SASL_NONE), MJ_OK);
    assert_int_equal(mj_imap_select(f.s, "INBOX", false, NULL), MJ_OK);
    mj_imap_uidplus cu;
    assert_int_equal(mj_imap_copy(f.s, true, true, "42", "Trash", &cu), MJ_USAGE);
    assert_string_equal(mj_imap_error(f.s)->message,
                        "UID MOVE (RFC 6851) needs the MOVE capability, which the server does not "
                        "advertise; nothing was sent");
    assert_int_equal(mj_imap_copy(f.s, false, false, "1", "Trash", &cu), MJ_OK);
    assert_string_equal(wire(&f), SELECTED_WIRE "A0003 COPY 1 Trash\r\n");
    teardown(&f);
}

typedef struct src {
    const char *data;
    size_t pos, len;
} src;

static mj_outcome read_src(void *ctx, unsigned char *buf, size_t cap, size_t *len_out, mj_error *err)
{
    src *x = ctx;
    (void)err;
    size_t n = x->len - x->pos < cap ? x->len - x->pos : cap;
    memcpy(buf, x->data + x->pos, n);
    x->pos += n;
    *len_out = n;
    return MJ_OK;
}

static void test_append_and_idle(void **state)
{
    (void)state;
    fixture f;
    setup_args a = {.server = "* OK [CAPABILITY IMAP4rev1 IDLE] hi\r\nA0001 OK [CAPABILITY IMAP4rev1 IDLE] in\r\n"
                              "+ Ready\r\nA0002 OK [APPENDUID 38505 3955] APPEND completed\r\n"
                              "A0003 NO [OVERQUOTA] full\r\n"
                              "+ idling\r\n* 4 EXISTS\r\nA0004 OK IDLE terminated\r\n",
                    .security = MJ_SEC_NONE, .opts = &insecure_ok, .end = MJ_MEM_END_TIMEOUT};
    setup_with(&f, &a);
    assert_int_equal(mj_imap_login(f.s, &alice, MJ_SASL_NONE), MJ_OK);
    src m = {"Subject: x\r\n\r\nhi\r\n", 0, 18};
    mj_imap_uidplus au;
    assert_int_equal(mj_imap_append(f.s, "Sent", "\\Seen", m.len, read_src, &m, &au), MJ_OK);
    assert_true(au.present);
    assert_int_equal(au.uidvalidity, 38505);
    assert_string_equal(au.dest, "3955");
    m.pos = 0;
    assert_int_equal(mj_imap_append(f.s, "Sent", NULL, m.len, read_src, &m, &au), MJ_SERVER_REFUSED);
    unsigned events = 0;
    assert_int_equal(mj_imap_idle(f.s, 5, true, &events), MJ_OK);
    assert_int_equal(events, 1);
    assert_string_equal(wire(&f), "A0001 LOGIN alice s3cret-pw\r\n"
                                  "A0002 APPEND Sent (\\Seen) {18}\r\nSubject: x\r\n\r\nhi\r\n\r\n"
                                  "A0003 APPEND Sent {18}\r\n"
                                  "A0004 IDLE\r\nDONE\r\n");
    /* a NO to the literal: the message was never sent, the session goes on */
    assert_int_equal(mj_imap_get_state(f.s), MJ_IMAP_STATE_AUTHENTICATED);
    teardown(&f);
}

static void test_malformed_responses(void **state)
{
    (void)state;
    static const char *const replies[] = {
        "* 1 FETCH (UID)\r\nA0003 OK\r\n",            /* odd item list */
        "* 1 FETCH (UID x)\r\nA0003 OK\r\n",          /* UID not a number */
        "* 1 FETCH (UID 99999999999)\r\nA0003 OK\r\n", /* over 32 bits */
        "* 1 FETCH (BODY[] {99999999999999})\r\n",     /* literal over the cap */
        "* 0 FETCH (UID 1)\r\nA0003 OK\r\n",          /* message number 0 (nz-number) */
    };
    for (size_t i = 0; i < sizeof replies / sizeof replies[0]; i++) {
        fixture f;
        open_selected(&f, replies[i]);
        mj_outcome o = mj_imap_fetch(f.s, false, "1", "(UID)", NULL);
        if (o != MJ_PROTOCOL_ERROR)
            fail_msg("case %zu: %s", i, mj_outcome_name(o));
        assert_int_equal(mj_imap_get_state(f.s), MJ_IMAP_STATE_FAILED);
        teardown(&f);
    }
}

/* ---- modified UTF-7 -------------------------------------------------------------------------------- */

static void test_utf7(void **state)
{
    (void)state;
    static const struct {
        const char *utf8, *utf7;
    } pairs[] = {
        {"INBOX", "INBOX"},
        {"A & B", "A &- B"},
        {"Entw\xc3\xbcrfe", "Entw&APw-rfe"},
        {"\xe5\x8f\xb0\xe5\x8c\x97", "&U,BTFw-"},                  /* RFC 3501 example */
        {"~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
         "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
        {"\xf0\x9f\x98\x80", "&2D3eAA-"},                           /* a surrogate pair */
        {"", ""},
    };
    mj_error err;
    char out[256];
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        assert_int_equal(mj_imap_utf7_encode(pairs[i].utf8, out, sizeof out, &err), MJ_OK);
        assert_string_equal(out, pairs[i].utf7);
        assert_int_equal(mj_imap_utf7_decode(pairs[i].utf7, strlen(pairs[i].utf7), out, sizeof out, &err),
                         MJ_OK);
        assert_string_equal(out, pairs[i].utf8);
    }
    static const char *const bad[] = {"&", "&U,BTFw", "&AGE-", "&2D0-", "&3gA-", "a\xc3\xa9",
                                      "&U,B-", "&Jjo!-"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (mj_imap_utf7_decode(bad[i], strlen(bad[i]), out, sizeof out, &err) != MJ_PROTOCOL_ERROR)
            fail_msg("'%s' decoded", bad[i]);
        assert_int_equal(err.reason, MJ_R_MALFORMED);
    }
    assert_int_equal(mj_imap_utf7_encode("\xc3", out, sizeof out, &err), MJ_USAGE);
    assert_int_equal(mj_imap_utf7_encode("abcdef", out, 4, &err), MJ_USAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greeting_caps_in_ok),
        cmocka_unit_test(test_greeting_then_capability),
        cmocka_unit_test(test_greeting_bye_and_garbage),
        cmocka_unit_test(test_capability_refused),
        cmocka_unit_test(test_preauth),
        cmocka_unit_test(test_starttls_then_login),
        cmocka_unit_test(test_starttls_stripped_or_refused),
        cmocka_unit_test(test_starttls_injection),
        cmocka_unit_test(test_login_cleartext_refused),
        cmocka_unit_test(test_login_quoting_and_redaction),
        cmocka_unit_test(test_capabilities_after_login),
        cmocka_unit_test(test_login_refusals),
        cmocka_unit_test(test_authenticate_plain),
        cmocka_unit_test(test_arguments_refused),
        cmocka_unit_test(test_mailbox_name_forms),
        cmocka_unit_test(test_literal_plus_after_login),
        cmocka_unit_test(test_untagged_and_alert),
        cmocka_unit_test(test_logout),
        cmocka_unit_test(test_list_and_select),
        cmocka_unit_test(test_fetch_split_everywhere),
        cmocka_unit_test(test_fetch_streamed_body),
        cmocka_unit_test(test_search_store_copy_move),
        cmocka_unit_test(test_move_needs_capability),
        cmocka_unit_test(test_callback_refusal_has_a_message),
        cmocka_unit_test(test_append_and_idle),
        cmocka_unit_test(test_malformed_responses),
        cmocka_unit_test(test_utf7),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
