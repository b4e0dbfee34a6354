/*
 * test_imap_ext.c: the IMAP extensions over the in-memory transport: exact
 * client bytes and exact outcomes of MULTIAPPEND (synchronizing literals, one
 * '+' each, and LITERAL+; the fallback to one APPEND per message; NO
 * [TOOBIG]; a failing source), GETQUOTA, SORT and THREAD (results, servers
 * without the capability, malformed replies: bad nesting, numbers over 32
 * bits, depth bombs, chains over the depth limit), BINARY (literal8 bodies
 * split at every byte boundary and streamed, BINARY.SIZE, [UNKNOWN-CTE]),
 * IMAP4rev2 (ENABLE after login and after PREAUTH, rev2-only servers, a
 * refused ENABLE, STATUS without RECENT, ESEARCH answers to SEARCH).
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

static const mj_imap_options insecure_ok = {.policy = {.allow_insecure_auth = 1}};
static const mj_sasl_creds alice = {.username = "alice", .password = "s3cret-pw"};

static void setup_chunks(fixture *f, const char *server, size_t len, const size_t *chunks,
                         size_t n_chunks)
{
    imap_fixture_args a = {.server = server, .server_len = len, .chunks = chunks,
                           .n_chunks = n_chunks, .opts = &insecure_ok};
    imap_fixture_open(f, &a);
    assert_int_equal(f->start, MJ_OK);
}

static void setup(fixture *f, const char *server)
{
    setup_chunks(f, server, 0, NULL, 0);
}

static const char *wire(fixture *f)
{
    return imap_fixture_wire(f);
}

static void teardown(fixture *f)
{
    imap_fixture_close(f);
}

/* LOGGED_IN, LOGIN_WIRE, SELECTED, SELECTED_WIRE: support/imap_fixture.h */

/* A call refused before a byte was sent: its message, the wire unchanged, the state kept. */
static void assert_unsent(fixture *f, const char *message, const char *wire_before,
                          mj_imap_state state)
{
    assert_string_equal(mj_imap_error(f->s)->message, message);
    assert_string_equal(wire(f), wire_before);
    assert_int_equal(mj_imap_get_state(f->s), state);
}


static void login(fixture *f)
{
    assert_int_equal(mj_imap_login(f->s, &alice, MJ_SASL_NONE), MJ_OK);
}

static void login_select(fixture *f)
{
    login(f);
    assert_int_equal(mj_imap_select(f->s, "INBOX", false, NULL), MJ_OK);
}

/* ---- sources ----------------------------------------------------------------------------- */

typedef struct src {
    const char *data;
    size_t pos, len;
    bool fail_after_first; /* a read error after the first chunk */
} src;

static mj_outcome read_src(void *ctx, unsigned char *buf, size_t cap, size_t *len_out, mj_error *err)
{
    src *x = ctx;
    if (x->fail_after_first && x->pos > 0)
        return mj_error_set(err, MJ_INTERNAL, MJ_R_LOCAL_IO, "disk gone");
    size_t n = x->len - x->pos < cap ? x->len - x->pos : cap;
    if (x->fail_after_first && n > 2)
        n = 2;
    memcpy(buf, x->data + x->pos, n);
    x->pos += n;
    *len_out = n;
    return MJ_OK;
}

static void two_messages(src m[2], mj_imap_append_msg msgs[2])
{
    m[0] = (src){"hello", 0, 5, false};
    m[1] = (src){"bye", 0, 3, false};
    msgs[0] = (mj_imap_append_msg){"\\Seen", "17-Jul-1996 02:44:25 -0700", 5, read_src, &m[0], false};
    msgs[1] = (mj_imap_append_msg){"$X", NULL, 3, read_src, &m[1], false};
}

/* ---- MULTIAPPEND ---------------------------------------------------------------------------- */

static void test_multiappend_sync(void **state)
{
    (void)state;
    fixture f;
    setup(&f, LOGGED_IN("IMAP4rev1 MULTIAPPEND UIDPLUS") "+ go\r\n+ go\r\nA0002 OK [APPENDUID 7 10:11] done\r\n");
    login(&f);
    src m[2];
    mj_imap_append_msg msgs[2];
    two_messages(m, msgs);
    size_t appended = 99;
    mj_imap_uidplus au;
    assert_int_equal(mj_imap_append_many(f.s, "Drafts", msgs, 2, &appended, &au), MJ_OK);
    assert_int_equal(appended, 2);
    assert_true(au.present);
    assert_int_equal(au.uidvalidity, 7);
    assert_string_equal(au.dest, "10:11");
    assert_string_equal(wire(&f), LOGIN_WIRE "A0002 APPEND Drafts (\\Seen) \"17-Jul-1996 02:44:25 -0700\" {5}\r\n"
                                             "hello ($X) {3}\r\nbye\r\n");
    teardown(&f);
}

static void test_multiappend_literal_plus(void **state)
{
    (void)state;
    fixture f;
    setup(&f, LOGGED_IN("IMAP4rev1 MULTIAPPEND LITERAL+") "A0002 OK done\r\n");
    login(&f);
    src m[2];
    mj_imap_append_msg msgs[2];
    two_messages(m, msgs);
    msgs[0].date = " 7-Jul-1996 02:44:25 +0000"; /* date-day-fixed with a space */
    size_t appended = 0;
    assert_int_equal(mj_imap_append_many(f.s, "Drafts", msgs, 2, &appended, NULL), MJ_OK);
    assert_int_equal(appended, 2);
    assert_string_equal(wire(&f), LOGIN_WIRE "A0002 APPEND Drafts (\\Seen) \" 7-Jul-1996 02:44:25 +0000\" {5+}\r\n"
                                             "hello ($X) {3+}\r\nbye\r\n");
    teardown(&f);
}

static void test_multiappend_refused_is_atomic(void **state)
{
    (void)state;
    fixture f;
    setup(&f, LOGGED_IN("IMAP4rev1 MULTIAPPEND") "+ go\r\n+ go\r\nA0002 NO [TOOBIG] too big\r\n");
    login(&f);
    src m[2];
    mj_imap_append_msg msgs[2];
    two_messages(m, msgs);
    size_t appended = 99;
    mj_imap_uidplus au;
    assert_int_equal(mj_imap_append_many(f.s, "Drafts", msgs, 2, &appended, &au), MJ_SERVER_REFUSED);
    assert_int_equal(appended, 0);
    assert_false(au.present);
    assert_non_null(strstr(mj_imap_error(f.s)->message, "NO [TOOBIG] too big"));
    assert_int_equal(mj_imap_get_state(f.s), MJ_IMAP_STATE_AUTHENTICATED);
    /* one command only: no retry message by message */
    assert_null(strstr(wire(&f), "A0003"));
    teardown(&f);
}

static void test_append_many_without_multiappend(void **state)
{
    (void)state;
    fixture f;
    setup(&f, LOGGED_IN("IMAP4rev1 UIDPLUS") "+ go\r\nA0002 OK [APPENDUID 7 10] a\r\n"
                                               "+ go\r\nA0003 OK [APPENDUID 7 12] b\r\n"
                                               "+ go\r\nA0004 NO [OVERQUOTA] full\r\n");
    login(&f);
    src m[3];
    mj_imap_append_msg msgs[3];
    two_messages(m, msgs);
    size_t appended = 0;
    mj_imap_uidplus au;
    assert_int_equal(mj_imap_append_many(f.s, "Drafts", msgs, 2, &appended, &au), MJ_OK);
    assert_int_equal(appended, 2);
    assert_true(au.present);
    assert_string_equal(au.dest, "10,12");
    assert_string_equal(wire(&f), LOGIN_WIRE
                        "A0002 APPEND Drafts (\\Seen) \"17-Jul-1996 02:44:25 -0700\" {5}\r\nhello\r\n"
                        "A0003 APPEND Drafts ($X) {3}\r\nbye\r\n");
    /* a refusal of the first message: nothing taken, the next one never sent */
    m[0].pos = m[1].pos = 0;
    m[2] = (src){"x", 0, 1, false};
    mj_imap_append_msg three[2] = {{NULL, NULL, 1, read_src, &m[2], false}, msgs[1]};
    assert_int_equal(mj_imap_append_many(f.s, "Drafts", three, 2, &appended, &au), MJ_SERVER_REFUSED);
    assert_int_equal(appended, 0);
    assert_false(au.present);
    teardown(&f);
}

/* ---- binary messages: literal8 (RFC 3516 §4.2) --------------------------------------------------- */

/* The client's bytes after the login, compared whole (they hold NUL). */
static void assert_wire_after_login(fixture *f, const char *want, size_t want_len)
{
    size_t n = 0;
    const unsigned char *w = mj_mem_transport_written(f->t, &n);
    size_t skip = strlen(LOGIN_WIRE);
    assert_true(n >= skip);
    assert_int_equal(n - skip, want_len);
    assert_memory_equal(w + skip, want, want_len);
}

static void test_append_binary_literal8(void **state)
{
    (void)state;
    static const char msg[] = "Subject: b\r\n\r\na\0b\r\n";
    for (int plus = 0; plus < 2; plus++) {
        fixture f;
        setup(&f, plus ? LOGGED_IN("IMAP4rev1 BINARY LITERAL+") "A0002 OK [APPENDUID 3 9] done\r\n"
                       : LOGGED_IN("IMAP4rev1 BINARY") "+ go\r\nA0002 OK [APPENDUID 3 9] done\r\n");
        login(&f);
        src m = {msg, 0, sizeof msg - 1, false};
        mj_imap_append_msg one = {NULL, NULL, sizeof msg - 1, read_src, &m, true};
        mj_imap_uidplus au;
        assert_int_equal(mj_imap_append_many(f.s, "Drafts", &one, 1, NULL, &au), MJ_OK);
        assert_string_equal(au.dest, "9");
        static const char sync[] = "A0002 APPEND Drafts ~{19}\r\nSubject: b\r\n\r\na\0b\r\n\r\n";
        static const char nonsync[] = "A0002 APPEND Drafts ~{19+}\r\nSubject: b\r\n\r\na\0b\r\n\r\n";
        if (plus)
            assert_wire_after_login(&f, nonsync, sizeof nonsync - 1);
        else
            assert_wire_after_login(&f, sync, sizeof sync - 1);
        teardown(&f);
    }
}

static void test_append_binary_needs_binary(void **state)
{
    (void)state;
    fixture f;
    setup(&f, LOGGED_IN("IMAP4rev1 MULTIAPPEND"));
    login(&f);
    src m[2];
    mj_imap_append_msg msgs[2];
    two_messages(m, msgs);
    msgs[1].binary = true; /* the second one: nothing of the first is sent either */
    size_t appended = 9;
    assert_int_equal(mj_imap_append_many(f.s, "Drafts", msgs, 2, &appended, NULL), MJ_USAGE);
    assert_int_equal(appended, 0);
    assert_unsent(&f,
                  "APPEND of a binary message (a literal8, RFC 3516) needs the BINARY "
                  "capability, which the server does not advertise; nothing was sent",
                  LOGIN_WIRE, MJ_IMAP_STATE_AUTHENTICATED);
    teardown(&f);
}

static void test_append_nul_in_a_literal_stops(void **state)
{
    (void)state;
    static const char msg[] = "Subject: n\r\n\r\nab\0c\r\n";
    fixture f;
    setup(&f, LOGGED_IN("IMAP4rev1 BINARY LITERAL+"));
    login(&f);
    src m = {msg, 0, sizeof msg - 1, false};
    assert_int_equal(mj_imap_append(f.s, "Drafts", NULL, sizeof msg - 1, read_src, &m, NULL),
                     MJ_USAGE);
    assert_string_equal(mj_imap_error(f.s)->message,
                        "the message holds a NUL byte at offset 16: only a binary message "
                        "(a literal8, BINARY) may");
    assert_int_equal(mj_imap_get_state(f.s), MJ_IMAP_STATE_FAILED);
    /* not one byte of the chunk with the NUL went out (here: nothing of the message) */
    assert_null(strstr(wire(&f), "Subject"));
    teardown(&f);
}

static void test_append_many_checks_before_sending(void **state)
{
    (void)state;
    fixture f;
    setup(&f, LOGGED_IN("IMAP4rev1 MULTIAPPEND"));
    login(&f);
    src m[2];
    mj_imap_append_msg msgs[2];
    static const char *const bad_dates[] = {"17-Jul-1996 02:44:25", "17-Jly-1996 02:44:25 -0700",
                                            "17-Jul-1996 02:44:25 -0700\r\n", "17-Jul-1996T02:44:25 -0700"};
    for (size_t i = 0; i < sizeof bad_dates / sizeof bad_dates[0]; i++) {
        two_messages(m, msgs);
        msgs[1].date = bad_dates[i];
        assert_int_equal(mj_imap_append_many(f.s, "Drafts", msgs, 2, NULL, NULL), MJ_USAGE);
    }
    two_messages(m, msgs);
    msgs[1].flags = "\\Seen\r\nA9 DELETE INBOX";
    assert_int_equal(mj_imap_append_many(f.s, "Drafts", msgs, 2, NULL, NULL), MJ_USAGE);
    assert_int_equal(mj_imap_append_many(f.s, "Drafts", msgs, 0, NULL, NULL), MJ_USAGE);
    assert_int_equal(mj_imap_append_many(f.s, "Drafts", msgs, MJ_IMAP_APPEND_MAX + 1, NULL, NULL), MJ_USAGE);
    assert_string_equal(wire(&f), LOGIN_WIRE);
    assert_int_equal(mj_imap_get_state(f.s), MJ_IMAP_STATE_AUTHENTICATED);
    teardown(&f);
}

static void test_append_many_source_fails(void **state)
{
    (void)state;
    fixture f;
    setup(&f, LOGGED_IN("IMAP4rev1 MULTIAPPEND LITERAL+"));
    login(&f);
    src m[2];
    mj_imap_append_msg msgs[2];
    two_messages(m, msgs);
    m[1].fail_after_first = true;
    assert_int_equal(mj_imap_append_many(f.s, "Drafts", msgs, 2, NULL, NULL), MJ_INTERNAL);
    /* the second literal is half sent: the session cannot go on */
    assert_int_equal(mj_imap_get_state(f.s), MJ_IMAP_STATE_FAILED);
    assert_int_equal(mj_imap_noop(f.s), MJ_USAGE);
    teardown(&f);
}

/* ---- GETQUOTA -------------------------------------------------------------------------------- */

typedef struct quotas {
    char text[256];
} quotas;

static mj_outcome on_quota(void *ctx, const char *root, const char *resource, uint64_t usage,
                           uint64_t limit)
{
    quotas *q = ctx;
    char line[96];
    snprintf(line, sizeof line, "%s/%s=%llu/%llu;", root, resource, (unsigned long long)usage,
             (unsigned long long)limit);
    strcat(q->text, line);
    return MJ_OK;
}

static void test_getquota(void **state)
{
    (void)state;
    fixture f;
    setup(&f, LOGGED_IN("IMAP4rev1 QUOTA") "* QUOTA \"\" (STORAGE 10 512 MESSAGE 3 1000)\r\nA0002 OK\r\n"
                                            "* QUOTA #user/alice (STORAGE 1)\r\nA0003 OK\r\n");
    login(&f);
    quotas q = {""};
    assert_int_equal(mj_imap_getquota(f.s, "", on_quota, &q), MJ_OK);
    assert_string_equal(q.text, "/STORAGE=10/512;/MESSAGE=3/1000;");
    /* a resource without its limit: malformed */
    assert_int_equal(mj_imap_getquota(f.s, "#user/alice", on_quota, &q), MJ_PROTOCOL_ERROR);
    assert_string_equal(wire(&f), LOGIN_WIRE "A0002 GETQUOTA \"\"\r\nA0003 GETQUOTA #user/alice\r\n");
    teardown(&f);
}

/* ---- SORT ------------------------------------------------------------------------------------ */

typedef struct numbers {
    char text[256];
    unsigned calls;
} numbers;

static mj_outcome on_number(void *ctx, uint32_t n)
{
    numbers *x = ctx;
    char w[16];
    snprintf(w, sizeof w, "%u,", n);
    strcat(x->text, w);
    x->calls++;
    return MJ_OK;
}

static void test_sort(void **state)
{
    (void)state;
    fixture f;
    setup(&f, SELECTED("IMAP4rev1 SORT CONDSTORE") "* SORT 5 3 4 1 2\r\nA0003 OK\r\n"
                                                    "* SORT 4289 4301 (MODSEQ 917162500)\r\nA0004 OK\r\n"
                                                    "* SORT\r\nA0005 OK\r\n");
    login_select(&f);
    numbers x = {"", 0};
    assert_int_equal(mj_imap_sort(f.s, false, "REVERSE DATE", NULL, NULL, on_number, &x), MJ_OK);
    assert_string_equal(x.text, "5,3,4,1,2,");
    x = (numbers){"", 0};
    assert_int_equal(mj_imap_sort(f.s, true, "SUBJECT REVERSE SIZE", "US-ASCII", "UNSEEN SINCE 1-Feb-1994",
                                  on_number, &x), MJ_OK);
    assert_string_equal(x.text, "4289,4301,");
    x = (numbers){"", 0};
    assert_int_equal(mj_imap_sort(f.s, false, "ARRIVAL", NULL, "ALL", on_number, &x), MJ_OK);
    assert_int_equal(x.calls, 0);
    /* criteria checked before a byte is sent */
    static const char *const bad[] = {"", "DATE ", " DATE", "DATE  SIZE", "REVERSE", "DATE REVERSE",
                                      "REVERSE REVERSE DATE", "NAME", "(DATE)", "DATE\r\nA9 LOGOUT"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(mj_imap_sort(f.s, false, bad[i], NULL, NULL, on_number, &x), MJ_USAGE);
    assert_int_equal(mj_imap_sort(f.s, false, "DATE", "UTF 8", NULL, on_number, &x), MJ_USAGE);
    assert_int_equal(mj_imap_sort(f.s, false, "DATE", NULL, "ALL {5}", on_number, &x), MJ_USAGE);
    assert_string_equal(wire(&f), SELECTED_WIRE "A0003 SORT (REVERSE DATE) UTF-8 ALL\r\n"
                                  "A0004 UID SORT (SUBJECT REVERSE SIZE) US-ASCII UNSEEN SINCE 1-Feb-1994\r\n"
                                  "A0005 SORT (ARRIVAL) UTF-8 ALL\r\n");
    teardown(&f);
}

static void test_sort_not_advertised(void **state)
{
    (void)state;
    fixture f;
    setup(&f, SELECTED("IMAP4rev1 THREAD=REFERENCES"));
    login_select(&f);
    numbers x = {"", 0};
    assert_int_equal(mj_imap_sort(f.s, false, "DATE", NULL, NULL, on_number, &x), MJ_USAGE);
    assert_unsent(&f,
                  "SORT (RFC 5256) needs the SORT capability, which the server does not "
                  "advertise; nothing was sent",
                  SELECTED_WIRE, MJ_IMAP_STATE_SELECTED);
    teardown(&f);
}

/* ---- ESORT (RFC 5267 §3) ---------------------------------------------------------------------- */

static void test_esort(void **state)
{
    (void)state;
    fixture f;
    setup(&f, SELECTED("IMAP4rev1 SORT ESORT")
          /* another command's answer first: ignored */
          "* ESEARCH (TAG \"X9\") MIN 99 COUNT 1 ALL 99\r\n"
          "* ESEARCH (TAG \"A0003\") MIN 5 MAX 1 COUNT 6 ALL 5,9:7,2,1\r\nA0003 OK\r\n"
          "* ESEARCH (TAG \"A0004\") UID COUNT 3 MODSEQ 917162500 PARTIAL (1:2 4,5) ALL 4289:4291\r\n"
          "A0004 OK\r\n"
          "* ESEARCH (TAG \"A0005\") COUNT 0\r\nA0005 OK\r\n"
          "A0006 OK no answer at all\r\n");
    login_select(&f);
    numbers x = {"", 0};
    mj_imap_esort_result r;
    assert_int_equal(mj_imap_esort(f.s, false, "MIN MAX COUNT ALL", "REVERSE DATE", NULL, NULL, &r,
                                   on_number, &x), MJ_OK);
    assert_string_equal(x.text, "5,9,8,7,2,1,"); /* in the order sent, 9:7 counting down */
    assert_true(r.present && !r.uid && r.has_min && r.has_max && r.has_count);
    assert_int_equal(r.min, 5);
    assert_int_equal(r.max, 1);
    assert_int_equal(r.count, 6);
    x = (numbers){"", 0};
    assert_int_equal(mj_imap_esort(f.s, true, "count all", "SUBJECT", NULL, "UNSEEN", &r, on_number,
                                   &x), MJ_OK);
    assert_string_equal(x.text, "4289,4290,4291,"); /* MODSEQ and PARTIAL skipped */
    assert_true(r.uid && r.has_count && !r.has_min && !r.has_max);
    assert_int_equal(r.count, 3);
    x = (numbers){"", 0};
    assert_int_equal(mj_imap_esort(f.s, false, "", "SIZE", NULL, NULL, &r, on_number, &x), MJ_OK);
    assert_true(r.present && r.has_count && r.count == 0);
    assert_int_equal(x.calls, 0);
    assert_int_equal(mj_imap_esort(f.s, false, "MIN", "SIZE", NULL, NULL, &r, on_number, &x), MJ_OK);
    assert_false(r.present);
    /* return options checked before a byte is sent */
    static const char *const bad[] = {"SAVE", "MIN MIN", "MIN  MAX", " MIN", "MIN ", "PARTIAL 1:5",
                                      "ALL\r\nA9 LOGOUT"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(mj_imap_esort(f.s, false, bad[i], "DATE", NULL, NULL, &r, on_number, &x),
                         MJ_USAGE);
    assert_int_equal(mj_imap_esort(f.s, false, NULL, "DATE", NULL, NULL, &r, on_number, &x), MJ_USAGE);
    assert_string_equal(wire(&f), SELECTED_WIRE
                        "A0003 SORT RETURN (MIN MAX COUNT ALL) (REVERSE DATE) UTF-8 ALL\r\n"
                        "A0004 UID SORT RETURN (count all) (SUBJECT) UTF-8 UNSEEN\r\n"
                        "A0005 SORT RETURN () (SIZE) UTF-8 ALL\r\n"
                        "A0006 SORT RETURN (MIN) (SIZE) UTF-8 ALL\r\n");
    teardown(&f);
}

static void test_esort_not_advertised(void **state)
{
    (void)state;
    fixture f;
    setup(&f, SELECTED("IMAP4rev1 SORT"));
    login_select(&f);
    mj_imap_esort_result r;
    assert_int_equal(mj_imap_esort(f.s, false, "ALL", "DATE", NULL, NULL, &r, NULL, NULL), MJ_USAGE);
    assert_unsent(&f,
                  "SORT RETURN (ESORT, RFC 5267) needs the ESORT capability, which the server "
                  "does not advertise; nothing was sent",
                  SELECTED_WIRE, MJ_IMAP_STATE_SELECTED);
    teardown(&f);
}

static void test_esort_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *reply;
        mj_reason reason;
    } cases[] = {
        {"* ESEARCH (TAG \"A0003\") ALL 1,0\r\n", MJ_R_MALFORMED},
        {"* ESEARCH (TAG \"A0003\") ALL 1:\r\n", MJ_R_MALFORMED},
        {"* ESEARCH (TAG \"A0003\") ALL 3,\r\n", MJ_R_MALFORMED},
        {"* ESEARCH (TAG \"A0003\") ALL 2:*\r\n", MJ_R_MALFORMED},
        {"* ESEARCH (TAG \"A0003\") ALL 1:4294967296\r\n", MJ_R_NUMBER_OVERFLOW},
        {"* ESEARCH (TAG \"A0003\") ALL 1:4294967295\r\n", MJ_R_REPLY_TOO_LARGE},
        {"* ESEARCH (TAG \"A0003\") ALL (1)\r\n", MJ_R_MALFORMED},
        {"* ESEARCH (TAG \"A0003\") MIN x\r\n", MJ_R_MALFORMED},
        {"* ESEARCH (TAG \"A0003\") MIN 0\r\n", MJ_R_MALFORMED},
        {"* ESEARCH (TAG \"A0003\") COUNT 4294967296\r\n", MJ_R_NUMBER_OVERFLOW},
        {"* ESEARCH (TAG \"A0003\") MIN 3 COUNT\r\n", MJ_R_MALFORMED},
        {"* ESEARCH (TAG \"A0003\") 5 ALL 5\r\n", MJ_R_MALFORMED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char server[512];
        snprintf(server, sizeof server, "%s%sA0003 OK\r\n", SELECTED("IMAP4rev1 SORT ESORT"),
                 cases[i].reply);
        fixture f;
        setup(&f, server);
        login_select(&f);
        numbers x = {"", 0};
        mj_imap_esort_result r;
        assert_int_equal(mj_imap_esort(f.s, false, "MIN COUNT ALL", "DATE", NULL, NULL, &r,
                                       on_number, &x), MJ_PROTOCOL_ERROR);
        assert_int_equal(mj_imap_error(f.s)->reason, cases[i].reason);
        assert_int_equal(x.calls, 0); /* nothing delivered from a bad reply */
        assert_false(r.present);
        assert_int_equal(mj_imap_get_state(f.s), MJ_IMAP_STATE_FAILED);
        teardown(&f);
    }
}

static void test_sort_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *reply;
        mj_reason reason;
    } cases[] = {
        {"* SORT 1 4294967296\r\n", MJ_R_NUMBER_OVERFLOW},
        {"* SORT 1 99999999999999999999\r\n", MJ_R_NUMBER_OVERFLOW}, /* past 63 bits: the parser */
        {"* SORT 1 0\r\n", MJ_R_MALFORMED},
        {"* SORT 1 two\r\n", MJ_R_MALFORMED},
        {"* SORT (MODSEQ 5) 1\r\n", MJ_R_MALFORMED},
        {"* SORT 1 \"2\"\r\n", MJ_R_MALFORMED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char server[512];
        snprintf(server, sizeof server, "%s%sA0003 OK\r\n", SELECTED("IMAP4rev1 SORT"), cases[i].reply);
        fixture f;
        setup(&f, server);
        login_select(&f);
        numbers x = {"", 0};
        assert_int_equal(mj_imap_sort(f.s, false, "DATE", NULL, NULL, on_number, &x), MJ_PROTOCOL_ERROR);
        assert_int_equal(mj_imap_error(f.s)->reason, cases[i].reason);
        assert_int_equal(x.calls, 0); /* nothing delivered from a bad reply */
        assert_int_equal(mj_imap_get_state(f.s), MJ_IMAP_STATE_FAILED);
        teardown(&f);
    }
}

/* ---- THREAD ---------------------------------------------------------------------------------- */

typedef struct tree {
    char text[512];
    unsigned calls;
} tree;

static mj_outcome on_node(void *ctx, uint32_t number, unsigned depth)
{
    tree *t = ctx;
    char w[32];
    snprintf(w, sizeof w, "%u@%u ", number, depth);
    if (strlen(t->text) + strlen(w) < sizeof t->text)
        strcat(t->text, w);
    t->calls++;
    return MJ_OK;
}

static void test_thread(void **state)
{
    (void)state;
    fixture f;
    setup(&f, SELECTED("IMAP4rev1 THREAD=ORDEREDSUBJECT THREAD=REFERENCES")
              "* THREAD (2)(3 6 (4 23)(44 7 96))((11)(12))\r\nA0003 OK\r\n"
              "* THREAD\r\nA0004 OK\r\n"
              "* THREAD (1 (2 ((3)(4))))\r\nA0005 OK\r\n");
    login_select(&f);
    tree t = {"", 0};
    assert_int_equal(mj_imap_thread(f.s, false, "REFERENCES", NULL, NULL, on_node, &t), MJ_OK);
    assert_string_equal(t.text, "2@0 3@0 6@1 4@2 23@3 44@2 7@3 96@4 0@0 11@1 12@1 ");
    t = (tree){"", 0};
    assert_int_equal(mj_imap_thread(f.s, true, "ORDEREDSUBJECT", "US-ASCII", "SINCE 5-MAR-2000", on_node, &t), MJ_OK);
    assert_int_equal(t.calls, 0);
    /* a single nested list (unambiguous) and a missing parent below a member */
    t = (tree){"", 0};
    assert_int_equal(mj_imap_thread(f.s, false, "REFERENCES", NULL, NULL, on_node, &t), MJ_OK);
    assert_string_equal(t.text, "1@0 2@1 0@2 3@3 4@3 ");
    /* an algorithm not advertised, a non-atom algorithm: nothing sent */
    assert_int_equal(mj_imap_thread(f.s, false, "REFS", NULL, NULL, on_node, &t), MJ_USAGE);
    assert_non_null(strstr(mj_imap_error(f.s)->message, "THREAD=REFS"));
    assert_int_equal(mj_imap_thread(f.s, false, "REF ERENCES", NULL, NULL, on_node, &t), MJ_USAGE);
    assert_string_equal(wire(&f), SELECTED_WIRE "A0003 THREAD REFERENCES UTF-8 ALL\r\n"
                                  "A0004 UID THREAD ORDEREDSUBJECT US-ASCII SINCE 5-MAR-2000\r\n"
                                  "A0005 THREAD REFERENCES UTF-8 ALL\r\n");
    teardown(&f);
}

/* A reply of n lists nested (depth bomb) or a chain of n members. */
static char *nested(size_t n, bool chain)
{
    size_t cap = 64 + n * 12;
    char *b = malloc(cap);
    assert_non_null(b);
    size_t used = (size_t)snprintf(b, cap, "* THREAD ");
    if (chain) {
        b[used++] = '(';
        for (size_t i = 1; i <= n; i++)
            used += (size_t)snprintf(b + used, cap - used, "%s%zu", i > 1 ? " " : "", i);
        b[used++] = ')';
    } else {
        for (size_t i = 0; i < n; i++)
            b[used++] = '(';
        b[used++] = '1';
        for (size_t i = 0; i < n; i++)
            b[used++] = ')';
    }
    snprintf(b + used, cap - used, "\r\n");
    return b;
}

static void test_thread_malformed(void **state)
{
    (void)state;
    char *bomb = nested(200, false);
    char *deep_chain = nested(MJ_IMAP_THREAD_DEPTH_MAX + 1, true);
    char *ok_chain = nested(MJ_IMAP_THREAD_DEPTH_MAX, true);
    const struct {
        const char *reply;
        mj_outcome outcome;
        mj_reason reason;
    } cases[] = {
        {"* THREAD (1 (2)(3) 4)\r\n", MJ_PROTOCOL_ERROR, MJ_R_MALFORMED}, /* member after nested */
        {"* THREAD ()\r\n", MJ_PROTOCOL_ERROR, MJ_R_MALFORMED},
        {"* THREAD (1)()\r\n", MJ_PROTOCOL_ERROR, MJ_R_MALFORMED},
        {"* THREAD (0)\r\n", MJ_PROTOCOL_ERROR, MJ_R_MALFORMED},
        {"* THREAD (1 NIL)\r\n", MJ_PROTOCOL_ERROR, MJ_R_MALFORMED},
        {"* THREAD (1 \"2\")\r\n", MJ_PROTOCOL_ERROR, MJ_R_MALFORMED},
        {"* THREAD 1 2\r\n", MJ_PROTOCOL_ERROR, MJ_R_MALFORMED},
        {"* THREAD (1)(2 4294967296)\r\n", MJ_PROTOCOL_ERROR, MJ_R_NUMBER_OVERFLOW},
        {"* THREAD (1 (2)\r\n", MJ_PROTOCOL_ERROR, MJ_R_MALFORMED}, /* unbalanced: the parser */
        {bomb, MJ_PROTOCOL_ERROR, MJ_R_NESTING_TOO_DEEP},             /* the parser's depth */
        {deep_chain, MJ_PROTOCOL_ERROR, MJ_R_NESTING_TOO_DEEP},       /* the thread depth */
        {ok_chain, MJ_OK, MJ_R_NONE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = strlen(SELECTED("IMAP4rev1 THREAD=REFERENCES")) + strlen(cases[i].reply) + 32;
        char *server = malloc(len);
        assert_non_null(server);
        snprintf(server, len, "%s%sA0003 OK\r\n", SELECTED("IMAP4rev1 THREAD=REFERENCES"), cases[i].reply);
        fixture f;
        setup(&f, server);
        free(server);
        login_select(&f);
        tree t = {"", 0};
        assert_int_equal(mj_imap_thread(f.s, false, "REFERENCES", NULL, NULL, on_node, &t), cases[i].outcome);
        if (cases[i].outcome != MJ_OK) {
            assert_int_equal(mj_imap_error(f.s)->reason, cases[i].reason);
            assert_int_equal(t.calls, 0); /* nothing delivered from a bad reply */
            assert_int_equal(mj_imap_get_state(f.s), MJ_IMAP_STATE_FAILED);
        } else {
            assert_int_equal(t.calls, MJ_IMAP_THREAD_DEPTH_MAX);
        }
        teardown(&f);
    }
    free(bomb);
    free(deep_chain);
    free(ok_chain);
}

static void test_thread_too_many_nodes(void **state)
{
    (void)state;
    /* MJ_IMAP_THREAD_NODES_MAX + 1 one-message threads */
    size_t n = MJ_IMAP_THREAD_NODES_MAX + 1;
    const char *head = SELECTED("IMAP4rev1 THREAD=REFERENCES") "* THREAD";
    size_t cap = strlen(head) + n * 4 + 64;
    char *server = malloc(cap);
    assert_non_null(server);
    size_t used = (size_t)snprintf(server, cap, "%s", head);
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(server + used, cap - used, "%s(1)", i == 0 ? " " : "");
    snprintf(server + used, cap - used, "\r\nA0003 OK\r\n");
    fixture f;
    setup(&f, server);
    free(server);
    login_select(&f);
    tree t = {"", 0};
    assert_int_equal(mj_imap_thread(f.s, false, "REFERENCES", NULL, NULL, on_node, &t), MJ_PROTOCOL_ERROR);
    assert_int_equal(mj_imap_error(f.s)->reason, MJ_R_TOO_MANY_TOKENS);
    assert_int_equal(t.calls, 0);
    teardown(&f);
}

/* ---- BINARY ---------------------------------------------------------------------------------- */

typedef struct fetched {
    unsigned char body[256];
    size_t body_len;
    char section[64];
    bool has_binary_size;
    uint64_t binary_size;
    uint64_t body_bytes;
    size_t streamed; /* bytes of a large body */
} fetched;

static mj_outcome on_body(void *ctx, uint32_t seq, const char *section, const unsigned char *data, size_t len)
{
    fetched *x = ctx;
    (void)seq;
    snprintf(x->section, sizeof x->section, "%s", section);
    if (x->body_len + len <= sizeof x->body)
        memcpy(x->body + x->body_len, data, len);
    x->body_len += len;
    return MJ_OK;
}

static mj_outcome on_message(void *ctx, const mj_imap_message *m)
{
    fetched *x = ctx;
    x->has_binary_size = m->has_binary_size;
    x->binary_size = m->binary_size;
    x->body_bytes = m->body_bytes;
    return MJ_OK;
}

#define BINARY_REPLY "* 1 FETCH (BINARY.SIZE[1] 14 BINARY[1] ~{14}\r\nhello\0binary\r\n UID 9)\r\nA0003 OK\r\n"

static void test_binary_literal8_split_everywhere(void **state)
{
    (void)state;
    const char *head = SELECTED("IMAP4rev1 BINARY");
    size_t reply_len = sizeof BINARY_REPLY - 1;
    size_t len = strlen(head) + reply_len;
    char *server = malloc(len);
    assert_non_null(server);
    memcpy(server, head, strlen(head));
    memcpy(server + strlen(head), BINARY_REPLY, reply_len);
    for (size_t chunk = 1; chunk <= len; chunk++) {
        size_t chunks[] = {chunk};
        fixture f;
        setup_chunks(&f, server, len, chunks, 1);
        login_select(&f);
        fetched x;
        memset(&x, 0, sizeof x);
        mj_imap_fetch_cb cb = {on_body, on_message, &x};
        assert_int_equal(mj_imap_fetch(f.s, false, "1", "(BINARY.SIZE[1] BINARY.PEEK[1])", &cb), MJ_OK);
        assert_int_equal(x.body_len, 14);
        assert_memory_equal(x.body, "hello\0binary\r\n", 14);
        assert_string_equal(x.section, "BINARY[1]");
        assert_true(x.has_binary_size);
        assert_int_equal(x.binary_size, 14);
        assert_int_equal(x.body_bytes, 14);
        assert_string_equal(wire(&f), SELECTED_WIRE "A0003 FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1])\r\n");
        teardown(&f);
    }
    free(server);
}

static mj_outcome count_body(void *ctx, uint32_t seq, const char *section, const unsigned char *data, size_t len)
{
    fetched *x = ctx;
    (void)seq, (void)section;
    for (size_t i = 0; i < len; i++)
        if (data[i] != (unsigned char)((x->streamed + i) & 0xff))
            return MJ_INTERNAL;
    x->streamed += len;
    return MJ_OK;
}

static void test_binary_streamed_literal8(void **state)
{
    (void)state;
    /* above the inline threshold: the bytes (every value, NUL included) stream to the callback */
    size_t n = 300 * 1000;
    char head[256];
    snprintf(head, sizeof head, "%s* 2 FETCH (BINARY[2]<0> ~{%zu}\r\n", SELECTED("IMAP4rev1 BINARY"), n);
    const char *tail = ")\r\nA0003 OK\r\n";
    size_t len = strlen(head) + n + strlen(tail);
    char *server = malloc(len);
    assert_non_null(server);
    memcpy(server, head, strlen(head));
    for (size_t i = 0; i < n; i++)
        server[strlen(head) + i] = (char)(i & 0xff);
    memcpy(server + strlen(head) + n, tail, strlen(tail));
    fixture f;
    setup_chunks(&f, server, len, NULL, 0);
    free(server);
    login_select(&f);
    fetched x;
    memset(&x, 0, sizeof x);
    mj_imap_fetch_cb cb = {count_body, on_message, &x};
    assert_int_equal(mj_imap_fetch(f.s, false, "2", "BINARY.PEEK[2]<0.300000>", &cb), MJ_OK);
    assert_int_equal(x.streamed, n);
    assert_int_equal(x.body_bytes, n);
    teardown(&f);
}

static void test_binary_refusals(void **state)
{
    (void)state;
    fixture f;
    setup(&f, SELECTED("IMAP4rev1") );
    login_select(&f);
    fetched x;
    mj_imap_fetch_cb cb = {on_body, on_message, &x};
    assert_int_equal(mj_imap_fetch(f.s, false, "1", "(BINARY.PEEK[1])", &cb), MJ_USAGE);
    assert_non_null(strstr(mj_imap_error(f.s)->message, "needs the BINARY capability, which the server does not advertise"));
    assert_int_equal(mj_imap_fetch(f.s, false, "1", "binary.size[1]", &cb), MJ_USAGE);
    assert_string_equal(wire(&f), SELECTED_WIRE);
    teardown(&f);

    setup(&f, SELECTED("IMAP4rev1 BINARY") "A0003 NO [UNKNOWN-CTE] cannot decode x-uuencode\r\n");
    login_select(&f);
    assert_int_equal(mj_imap_fetch(f.s, true, "5", "(BINARY[2])", &cb), MJ_SERVER_REFUSED);
    assert_non_null(strstr(mj_imap_error(f.s)->message, "[UNKNOWN-CTE]"));
    assert_non_null(strstr(mj_imap_error(f.s)->message, "BODY[]"));
    assert_non_null(strstr(mj_imap_error(f.s)->message, "cannot decode x-uuencode"));
    assert_int_equal(mj_imap_get_state(f.s), MJ_IMAP_STATE_SELECTED);
    teardown(&f);
}

/* ---- IMAP4rev2 ------------------------------------------------------------------------------- */

static void test_rev2_enable_after_login(void **state)
{
    (void)state;
    fixture f;
    setup(&f, LOGGED_IN("IMAP4rev1 IMAP4rev2 ESEARCH") "* ENABLED IMAP4rev2\r\nA0002 OK enabled\r\n"
              "* STATUS INBOX (MESSAGES 5 UIDNEXT 44 UIDVALIDITY 1 UNSEEN 2)\r\nA0003 OK\r\n"
              "A0004 OK [READ-WRITE] selected\r\n"
              "* ESEARCH (TAG \"A0001\") ALL 9\r\n* ESEARCH (TAG \"A0005\") ALL 1:3,5\r\nA0005 OK\r\n"
              "* ESEARCH (TAG \"A0006\") UID\r\nA0006 OK\r\n");
    login(&f);
    assert_true(mj_imap_rev2(f.s));
    mj_imap_mailbox_info m;
    assert_int_equal(mj_imap_mailbox_status(f.s, "INBOX", &m), MJ_OK);
    assert_int_equal(m.exists, 5);
    assert_int_equal(m.recent, -1);
    assert_int_equal(mj_imap_select(f.s, "Entwürfe", false, NULL), MJ_OK);
    numbers x = {"", 0};
    assert_int_equal(mj_imap_search(f.s, false, "UNSEEN", on_number, &x), MJ_OK);
    assert_string_equal(x.text, "1,2,3,5,");
    x = (numbers){"", 0};
    assert_int_equal(mj_imap_search(f.s, true, "DELETED", on_number, &x), MJ_OK);
    assert_int_equal(x.calls, 0);
    /* the login again: nothing more is sent */
    assert_int_equal(mj_imap_login(f.s, &alice, MJ_SASL_NONE), MJ_USAGE);
    assert_string_equal(wire(&f), LOGIN_WIRE "A0002 ENABLE IMAP4rev2\r\n"
                                  "A0003 STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN)\r\n"
                                  "A0004 SELECT \"Entwürfe\"\r\n"
                                  "A0005 SEARCH RETURN (ALL) UNSEEN\r\n"
                                  "A0006 UID SEARCH RETURN (ALL) DELETED\r\n");
    teardown(&f);
}

static void test_rev1_unchanged(void **state)
{
    (void)state;
    fixture f;
    setup(&f, LOGGED_IN("IMAP4rev1") "* STATUS INBOX (MESSAGES 5 RECENT 1)\r\nA0002 OK\r\n"
              "A0003 OK [READ-WRITE] selected\r\n");
    login(&f);
    assert_false(mj_imap_rev2(f.s));
    mj_imap_mailbox_info m;
    assert_int_equal(mj_imap_mailbox_status(f.s, "INBOX", &m), MJ_OK);
    assert_int_equal(m.recent, 1);
    assert_int_equal(mj_imap_select(f.s, "Entwürfe", false, NULL), MJ_OK);
    assert_string_equal(wire(&f), LOGIN_WIRE "A0002 STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)\r\n"
                                  "A0003 SELECT Entw&APw-rfe\r\n");
    teardown(&f);
}

static void test_rev2_enable_refused_or_unconfirmed(void **state)
{
    (void)state;
    static const char *const replies[] = {"A0002 NO not now\r\n", "A0002 OK nothing\r\n",
                                          "A0002 BAD unknown\r\n", "* ENABLED CONDSTORE\r\nA0002 OK\r\n"};
    for (size_t i = 0; i < sizeof replies / sizeof replies[0]; i++) {
        char server[256];
        snprintf(server, sizeof server, "%s%s", LOGGED_IN("IMAP4rev1 IMAP4rev2"), replies[i]);
        fixture f;
        setup(&f, server);
        login(&f);
        assert_false(mj_imap_rev2(f.s));
        assert_int_equal(mj_imap_get_state(f.s), MJ_IMAP_STATE_AUTHENTICATED);
        assert_int_equal(mj_imap_error(f.s)->outcome, MJ_OK);
        assert_string_equal(wire(&f), LOGIN_WIRE "A0002 ENABLE IMAP4rev2\r\n");
        teardown(&f);
    }
}

static void test_rev2_only_server(void **state)
{
    (void)state;
    fixture f;
    setup(&f, LOGGED_IN("IMAP4rev2"));
    login(&f);
    assert_true(mj_imap_rev2(f.s));
    assert_string_equal(wire(&f), LOGIN_WIRE);
    teardown(&f);
}

static void test_rev2_preauth(void **state)
{
    (void)state;
    fixture f;
    setup(&f, "* PREAUTH [CAPABILITY IMAP4rev1 IMAP4rev2] hi alice\r\n* ENABLED IMAP4rev2\r\nA0001 OK\r\n");
    assert_int_equal(mj_imap_get_state(f.s), MJ_IMAP_STATE_AUTHENTICATED);
    assert_int_equal(mj_imap_login(f.s, NULL, MJ_SASL_NONE), MJ_OK);
    assert_true(mj_imap_rev2(f.s));
    assert_int_equal(mj_imap_login(f.s, &alice, MJ_SASL_NONE), MJ_OK); /* once only */
    assert_string_equal(wire(&f), "A0001 ENABLE IMAP4rev2\r\n");
    teardown(&f);

    /* PREAUTH on a rev1 server: nothing at all is sent */
    setup(&f, "* PREAUTH [CAPABILITY IMAP4rev1] hi alice\r\n");
    assert_int_equal(mj_imap_login(f.s, NULL, MJ_SASL_NONE), MJ_OK);
    assert_false(mj_imap_rev2(f.s));
    assert_string_equal(wire(&f), "");
    teardown(&f);
}

static void test_login_without_creds(void **state)
{
    (void)state;
    fixture f;
    setup(&f, "* OK [CAPABILITY IMAP4rev1] hi\r\n");
    assert_int_equal(mj_imap_login(f.s, NULL, MJ_SASL_NONE), MJ_USAGE);
    assert_string_equal(wire(&f), "");
    teardown(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multiappend_sync),
        cmocka_unit_test(test_multiappend_literal_plus),
        cmocka_unit_test(test_multiappend_refused_is_atomic),
        cmocka_unit_test(test_append_many_without_multiappend),
        cmocka_unit_test(test_append_many_checks_before_sending),
        cmocka_unit_test(test_append_binary_literal8),
        cmocka_unit_test(test_append_binary_needs_binary),
        cmocka_unit_test(test_append_nul_in_a_literal_stops),
        cmocka_unit_test(test_append_many_source_fails),
        cmocka_unit_test(test_getquota),
        cmocka_unit_test(test_sort),
        cmocka_unit_test(test_sort_not_advertised),
        cmocka_unit_test(test_sort_malformed),
        cmocka_unit_test(test_esort),
        cmocka_unit_test(test_esort_not_advertised),
        cmocka_unit_test(test_esort_malformed),
        cmocka_unit_test(test_thread),
        cmocka_unit_test(test_thread_malformed),
        cmocka_unit_test(test_thread_too_many_nodes),
        cmocka_unit_test(test_binary_literal8_split_everywhere),
        cmocka_unit_test(test_binary_streamed_literal8),
        cmocka_unit_test(test_binary_refusals),
        cmocka_unit_test(test_rev2_enable_after_login),
        cmocka_unit_test(test_rev1_unchanged),
        cmocka_unit_test(test_rev2_enable_refused_or_unconfirmed),
        cmocka_unit_test(test_rev2_only_server),
        cmocka_unit_test(test_rev2_preauth),
        cmocka_unit_test(test_login_without_creds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
