/*
 * test_imap_condstore.c: CONDSTORE, QRESYNC and UID EXPUNGE (RFC 7162,
 * RFC 4315) over the in-memory transport: the exact bytes of every command
 * form (ENABLE, SELECT / EXAMINE (CONDSTORE) and (QRESYNC ...), FETCH
 * (CHANGEDSINCE [VANISHED]), STORE (UNCHANGEDSINCE), UID EXPUNGE), untagged
 * VANISHED / EXPUNGE / FETCH in every state, uid set parsing (ranges, '*',
 * zero, overflow, huge ranges never expanded), [HIGHESTMODSEQ] / [NOMODSEQ]
 * / [MODIFIED], MODSEQ over 63 bits, missing capabilities and CR/LF in
 * arguments refused with nothing sent.
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

static const mj_sasl_creds alice = {.username = "alice", .password = "pw"};
static const mj_imap_options insecure_ok = {.policy = {.allow_insecure_auth = 1}};

/* Greeting with caps, then the server's script; logged in as alice (A0001). */
static void setup(fixture *f, const char *caps, const char *script)
{
    char *server = malloc(strlen(caps) * 2 + strlen(script) + 128);
    assert_non_null(server);
    sprintf(server, "* OK [CAPABILITY %s] hi\r\nA0001 OK [CAPABILITY %s] in\r\n%s", caps, caps,
            script);
    imap_fixture_args a = {.server = server, .opts = &insecure_ok};
    imap_fixture_open(f, &a);
    free(server);
    assert_int_equal(f->start, MJ_OK);
    assert_int_equal(mj_imap_login(f->s, &alice, MJ_SASL_NONE), MJ_OK);
}

static const char *wire(fixture *f)
{
    return imap_fixture_wire(f);
}

static void teardown(fixture *f)
{
    imap_fixture_close(f);
}

#define LOGIN "A0001 LOGIN alice pw\r\n"
#define CAPS_Q "IMAP4rev1 ENABLE CONDSTORE QRESYNC UIDPLUS IDLE"
#define CAPS_C "IMAP4rev1 CONDSTORE"
#define CAPS_NONE "IMAP4rev1"
#define SELECTED_REPLY "* 5 EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n"

/* What the changes callbacks saw, as text. */
typedef struct seen {
    char text[1024];
} seen;

static void add(seen *x, const char *line)
{
    strncat(x->text, line, sizeof x->text - strlen(x->text) - 1);
}

static mj_outcome on_vanished(void *ctx, bool earlier, const char *set, uint64_t count)
{
    char line[256];
    snprintf(line, sizeof line, "V%s %s #%llu;", earlier ? "E" : "", set, (unsigned long long)count);
    add(ctx, line);
    return MJ_OK;
}

static mj_outcome on_expunge(void *ctx, uint32_t seq)
{
    char line[64];
    snprintf(line, sizeof line, "X %u;", seq);
    add(ctx, line);
    return MJ_OK;
}

static mj_outcome on_message(void *ctx, const mj_imap_message *m)
{
    char line[256];
    snprintf(line, sizeof line, "F %u uid=%u modseq=%llu flags=%zu%s;", m->seq, m->uid,
             (unsigned long long)m->modseq, m->n_flags, m->n_flags ? m->flags[0] : "");
    add(ctx, line);
    return MJ_OK;
}

static mj_imap_changes_cb changes_of(seen *x)
{
    memset(x, 0, sizeof *x);
    return (mj_imap_changes_cb){on_vanished, on_expunge, on_message, x};
}

/* ---- SELECT (CONDSTORE) and codes ---------------------------------------------------------- */

static void test_select_condstore(void **state)
{
    (void)state;
    fixture f;
    setup(&f, CAPS_C,
          SELECTED_REPLY "* OK [HIGHESTMODSEQ 9223372036854775807] h\r\nA0002 OK [READ-WRITE] s\r\n"
                         "* OK [NOMODSEQ] none\r\nA0003 OK [READ-ONLY] e\r\n");
    mj_imap_select_params p = {.condstore = true};
    mj_imap_mailbox_info m;
    assert_int_equal(mj_imap_enabled(f.s), 0);
    assert_int_equal(mj_imap_select_ex(f.s, "INBOX", false, &p, &m), MJ_OK);
    assert_int_equal(m.highestmodseq, INT64_MAX);
    assert_false(m.nomodseq);
    assert_true(mj_imap_enabled(f.s) & MJ_IMAP_CAP_CONDSTORE);
    assert_int_equal(mj_imap_select_ex(f.s, "Other Box", true, &p, &m), MJ_OK);
    assert_true(m.nomodseq);
    assert_int_equal(m.highestmodseq, -1);
    assert_true(m.read_only);
    assert_string_equal(wire(&f), LOGIN "A0002 SELECT INBOX (CONDSTORE)\r\n"
                                        "A0003 EXAMINE \"Other Box\" (CONDSTORE)\r\n");
    teardown(&f);
}

static void test_modseq_codes_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *reply;
        mj_reason reason;
    } cases[] = {
        {"* OK [HIGHESTMODSEQ 9223372036854775808] h\r\nA0002 OK s\r\n", MJ_R_NUMBER_OVERFLOW},
        {"* OK [HIGHESTMODSEQ 99999999999999999999] h\r\nA0002 OK s\r\n", MJ_R_NUMBER_OVERFLOW},
        {"* OK [HIGHESTMODSEQ abc] h\r\nA0002 OK s\r\n", MJ_R_MALFORMED},
        {"* OK [HIGHESTMODSEQ] h\r\nA0002 OK s\r\n", MJ_R_MALFORMED},
        {"A0002 OK [HIGHESTMODSEQ 1 2] s\r\n", MJ_R_MALFORMED},
        {"* 1 FETCH (MODSEQ (9223372036854775808))\r\nA0002 OK s\r\n", MJ_R_NUMBER_OVERFLOW},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fixture f;
        setup(&f, CAPS_C, cases[i].reply);
        mj_imap_select_params p = {.condstore = true};
        if (mj_imap_select_ex(f.s, "INBOX", false, &p, NULL) != MJ_PROTOCOL_ERROR)
            fail_msg("case %zu was not a protocol error", i);
        assert_int_equal(mj_imap_error(f.s)->reason, cases[i].reason);
        assert_int_equal(mj_imap_get_state(f.s), MJ_IMAP_STATE_FAILED);
        teardown(&f);
    }
}

/* ---- QRESYNC ---------------------------------------------------------------------------------- */

static void test_select_qresync(void **state)
{
    (void)state;
    fixture f;
    setup(&f, CAPS_Q,
          "* ENABLED QRESYNC\r\nA0002 OK enabled\r\n"
          "* 100 EXISTS\r\n* OK [UIDVALIDITY 67890007] v\r\n* OK [HIGHESTMODSEQ 90060128194045007] h\r\n"
          "* VANISHED (EARLIER) 41,43:116,118,120:211,214:540\r\n"
          "* 49 FETCH (UID 117 FLAGS (\\Seen \\Answered) MODSEQ (90060115194045001))\r\n"
          "* 50 FETCH (UID 119 FLAGS (\\Draft) MODSEQ (90060115194045308))\r\n"
          "A0003 OK [READ-WRITE] selected\r\n"
          /* second SELECT: UIDVALIDITY changed, the data is ignored */
          "* 3 EXISTS\r\n* OK [UIDVALIDITY 99] v\r\nA0004 OK [READ-WRITE] selected\r\n");
    seen x;
    mj_imap_changes_cb cb = changes_of(&x);
    mj_imap_set_changes(f.s, &cb);
    mj_imap_select_params p = {.qresync = true,
                               .uidvalidity = 67890007,
                               .modseq = 90060115194045000ULL,
                               .known_uids = "41:211,214:541",
                               .seq_match = "1:3",
                               .uid_match = "41,43,45"};
    mj_imap_mailbox_info m;
    assert_int_equal(mj_imap_select_ex(f.s, "INBOX", false, &p, &m), MJ_OK);
    assert_int_equal(m.exists, 100); /* EARLIER is not counted against exists */
    assert_int_equal(m.highestmodseq, 90060128194045007LL);
    assert_false(m.uidvalidity_changed);
    assert_true(mj_imap_enabled(f.s) & MJ_IMAP_CAP_QRESYNC);
    assert_true(mj_imap_enabled(f.s) & MJ_IMAP_CAP_CONDSTORE); /* implied */
    assert_string_equal(x.text, "VE 41,43:116,118,120:211,214:540 #495;"
                                "F 49 uid=117 modseq=90060115194045001 flags=2\\Seen;"
                                "F 50 uid=119 modseq=90060115194045308 flags=1\\Draft;");
    /* QRESYNC already enabled: no second ENABLE; a bare modseq form */
    mj_imap_select_params q = {.qresync = true, .uidvalidity = 67890007, .modseq = 1};
    assert_int_equal(mj_imap_select_ex(f.s, "INBOX", true, &q, &m), MJ_OK);
    assert_true(m.uidvalidity_changed);
    assert_int_equal(m.uidvalidity, 99);
    assert_string_equal(wire(&f), LOGIN "A0002 ENABLE QRESYNC\r\n"
                                        "A0003 SELECT INBOX (QRESYNC (67890007 90060115194045000 "
                                        "41:211,214:541 (1:3 41,43,45)))\r\n"
                                        "A0004 EXAMINE INBOX (QRESYNC (67890007 1))\r\n");
    teardown(&f);
}

static void test_enable_variants(void **state)
{
    (void)state;
    fixture f;
    /* OK without ENABLED: not enabled, and no SELECT follows */
    setup(&f, CAPS_Q, "A0002 OK nothing\r\n* ENABLED CONDSTORE\r\nA0003 OK\r\n");
    mj_imap_select_params p = {.qresync = true, .uidvalidity = 1, .modseq = 1};
    assert_int_equal(mj_imap_select_ex(f.s, "INBOX", false, &p, NULL), MJ_SERVER_REFUSED);
    assert_int_equal(mj_imap_enabled(f.s), 0);
    assert_int_equal(mj_imap_enable_condstore(f.s, false), MJ_OK);
    assert_int_equal(mj_imap_enabled(f.s), MJ_IMAP_CAP_CONDSTORE);
    assert_int_equal(mj_imap_enable_condstore(f.s, false), MJ_OK); /* nothing sent again */
    assert_string_equal(wire(&f), LOGIN "A0002 ENABLE QRESYNC\r\nA0003 ENABLE CONDSTORE\r\n");
    teardown(&f);
}

/* ---- missing capabilities and bad arguments: MJ_USAGE, nothing sent ----------------------------- */

static void test_capabilities_missing(void **state)
{
    (void)state;
    fixture f;
    setup(&f, CAPS_NONE, SELECTED_REPLY "A0002 OK s\r\n");
    mj_imap *s = f.s;
    mj_imap_select_params c = {.condstore = true};
    mj_imap_select_params q = {.qresync = true, .uidvalidity = 1, .modseq = 1};
    assert_int_equal(mj_imap_select_ex(s, "INBOX", false, &c, NULL), MJ_USAGE);
    assert_non_null(strstr(mj_imap_error(s)->message, "CONDSTORE capability"));
    assert_int_equal(mj_imap_select_ex(s, "INBOX", false, &q, NULL), MJ_USAGE);
    assert_non_null(strstr(mj_imap_error(s)->message, "QRESYNC capability"));
    assert_int_equal(mj_imap_enable_condstore(s, true), MJ_USAGE);
    assert_int_equal(mj_imap_select(s, "INBOX", false, NULL), MJ_OK);
    assert_int_equal(mj_imap_fetch_changed(s, true, "1:*", "(FLAGS)", 5, false, NULL), MJ_USAGE);
    assert_int_equal(mj_imap_store_unchanged(s, false, "1", MJ_IMAP_STORE_ADD, "\\Seen", false, 5,
                                             NULL, NULL),
                     MJ_USAGE);
    assert_int_equal(mj_imap_uid_expunge(s, "1:3"), MJ_USAGE);
    assert_non_null(strstr(mj_imap_error(s)->message, "UIDPLUS"));
    assert_non_null(strstr(mj_imap_error(s)->message, "nothing was sent"));
    assert_string_equal(wire(&f), LOGIN "A0002 SELECT INBOX\r\n");
    assert_int_equal(mj_imap_get_state(s), MJ_IMAP_STATE_SELECTED);
    teardown(&f);
}

static void test_arguments_refused(void **state)
{
    (void)state;
    fixture f;
    setup(&f, CAPS_Q, "* ENABLED QRESYNC\r\nA0002 OK\r\n" SELECTED_REPLY "A0003 OK s\r\n");
    mj_imap *s = f.s;
    const mj_imap_select_params bad[] = {
        {.qresync = true, .uidvalidity = 0, .modseq = 1},
        {.qresync = true, .uidvalidity = 1, .modseq = 0},
        {.qresync = true, .uidvalidity = 1, .modseq = (uint64_t)INT64_MAX + 1},
        {.qresync = true, .uidvalidity = 1, .modseq = 1, .known_uids = "1:5\r\nA9 LOGOUT"},
        {.qresync = true, .uidvalidity = 1, .modseq = 1, .known_uids = "1:*"},
        {.qresync = true, .uidvalidity = 1, .modseq = 1, .known_uids = "0:4"},
        {.qresync = true, .uidvalidity = 1, .modseq = 1, .known_uids = "1:5) (x"},
        {.qresync = true, .uidvalidity = 1, .modseq = 1, .known_uids = "1", .seq_match = "1"},
        {.qresync = true, .uidvalidity = 1, .modseq = 1, .seq_match = "1", .uid_match = "2"},
        {.qresync = true, .uidvalidity = 1, .modseq = 1, .known_uids = "1", .seq_match = "1\n",
         .uid_match = "2"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (mj_imap_select_ex(s, "INBOX", false, &bad[i], NULL) != MJ_USAGE)
            fail_msg("select params %zu accepted", i);
    mj_imap_select_params c = {.condstore = true};
    assert_int_equal(mj_imap_select_ex(s, "IN\r\nBOX", false, &c, NULL), MJ_USAGE);
    assert_int_equal(mj_imap_enable_condstore(s, true), MJ_OK); /* enabled by the first call */
    assert_int_equal(mj_imap_select(s, "INBOX", false, NULL), MJ_OK);
    assert_int_equal(mj_imap_fetch_changed(s, true, "1:*", "(FLAGS)", 0, false, NULL), MJ_USAGE);
    assert_int_equal(mj_imap_fetch_changed(s, true, "1:*", "(FLAGS)", (uint64_t)INT64_MAX + 1, false,
                                           NULL),
                     MJ_USAGE);
    assert_int_equal(mj_imap_fetch_changed(s, false, "1:*", "(FLAGS)", 5, true, NULL), MJ_USAGE);
    assert_int_equal(mj_imap_fetch_changed(s, true, "1\r\n", "(FLAGS)", 5, true, NULL), MJ_USAGE);
    assert_int_equal(mj_imap_fetch_changed(s, true, "1", "(FLAGS\r\n)", 5, true, NULL), MJ_USAGE);
    assert_int_equal(mj_imap_store_unchanged(s, true, "1", MJ_IMAP_STORE_ADD, "\\Seen", false,
                                             (uint64_t)INT64_MAX + 1, NULL, NULL),
                     MJ_USAGE);
    assert_int_equal(mj_imap_store_unchanged(s, true, "1\r\nA9 EXPUNGE", MJ_IMAP_STORE_ADD, "\\Seen",
                                             false, 1, NULL, NULL),
                     MJ_USAGE);
    assert_int_equal(mj_imap_store_unchanged(s, true, "1", MJ_IMAP_STORE_ADD, "\\Seen\r\n", false, 1,
                                             NULL, NULL),
                     MJ_USAGE);
    assert_int_equal(mj_imap_uid_expunge(s, "1\r\nA9 EXPUNGE"), MJ_USAGE);
    assert_int_equal(mj_imap_uid_expunge(s, "1 2"), MJ_USAGE);
    /* QRESYNC may not be enabled once a mailbox is selected (RFC 5161) */
    assert_string_equal(wire(&f), LOGIN "A0002 ENABLE QRESYNC\r\nA0003 SELECT INBOX\r\n");
    teardown(&f);

    setup(&f, CAPS_Q, SELECTED_REPLY "A0002 OK s\r\n");
    mj_imap_select_params q = {.qresync = true, .uidvalidity = 1, .modseq = 1};
    assert_int_equal(mj_imap_select(f.s, "INBOX", false, NULL), MJ_OK);
    assert_int_equal(mj_imap_select_ex(f.s, "INBOX", false, &q, NULL), MJ_USAGE);
    assert_non_null(strstr(mj_imap_error(f.s)->message, "before a mailbox is selected"));
    assert_int_equal(mj_imap_fetch_changed(f.s, true, "1:*", "(FLAGS)", 5, true, NULL), MJ_USAGE);
    assert_non_null(strstr(mj_imap_error(f.s)->message, "QRESYNC enabled"));
    assert_string_equal(wire(&f), LOGIN "A0002 SELECT INBOX\r\n");
    teardown(&f);
}

/* ---- FETCH (CHANGEDSINCE), STORE (UNCHANGEDSINCE), UID EXPUNGE --------------------------------- */

static mj_outcome fetch_msg(void *ctx, const mj_imap_message *m)
{
    return on_message(ctx, m);
}

static void test_fetch_changedsince(void **state)
{
    (void)state;
    fixture f;
    setup(&f, CAPS_Q,
          "* ENABLED QRESYNC\r\nA0002 OK\r\n" SELECTED_REPLY "A0003 OK s\r\n"
          "* VANISHED (EARLIER) 5,9:10\r\n* 2 FETCH (UID 6 MODSEQ (4) FLAGS (\\Seen))\r\nA0004 OK\r\n"
          "* 1 FETCH (FLAGS () MODSEQ (12))\r\nA0005 OK\r\n");
    seen x, y;
    memset(&y, 0, sizeof y);
    mj_imap_changes_cb cb = changes_of(&x);
    mj_imap_set_changes(f.s, &cb);
    mj_imap_fetch_cb fcb = {NULL, fetch_msg, &y};
    assert_int_equal(mj_imap_enable_condstore(f.s, true), MJ_OK);
    assert_int_equal(mj_imap_select(f.s, "INBOX", true, NULL), MJ_OK);
    assert_int_equal(mj_imap_fetch_changed(f.s, true, "1:*", "(UID FLAGS)", 3, true, &fcb), MJ_OK);
    assert_int_equal(mj_imap_fetch_changed(f.s, false, "1:*", "FLAGS", 9223372036854775807ULL, false,
                                           &fcb),
                     MJ_OK);
    /* the FETCH responses went to the command's callback, not to the changes */
    assert_string_equal(x.text, "VE 5,9:10 #3;");
    assert_string_equal(y.text, "F 2 uid=6 modseq=4 flags=1\\Seen;F 1 uid=0 modseq=12 flags=0;");
    assert_int_equal(mj_imap_selected(f.s)->exists, 5);
    assert_string_equal(wire(&f), LOGIN "A0002 ENABLE QRESYNC\r\nA0003 EXAMINE INBOX\r\n"
                                        "A0004 UID FETCH 1:* (UID FLAGS) (CHANGEDSINCE 3 VANISHED)\r\n"
                                        "A0005 FETCH 1:* FLAGS (CHANGEDSINCE 9223372036854775807)\r\n");
    teardown(&f);
}

static void test_store_unchangedsince(void **state)
{
    (void)state;
    fixture f;
    setup(&f, CAPS_C,
          SELECTED_REPLY "A0002 OK s\r\n"
          "* 1 FETCH (UID 1 MODSEQ (6))\r\nA0003 OK [MODIFIED 7,9] partial\r\n"
          "A0004 NO [MODIFIED 2:3] failed\r\n"
          "A0005 OK all stored\r\n"
          "A0006 NO [CANNOT] no modseq here\r\n");
    seen y;
    memset(&y, 0, sizeof y);
    mj_imap_fetch_cb fcb = {NULL, fetch_msg, &y};
    const char *modified = "unset";
    assert_int_equal(mj_imap_select(f.s, "INBOX", false, NULL), MJ_OK);
    assert_int_equal(mj_imap_store_unchanged(f.s, true, "1:9", MJ_IMAP_STORE_ADD, "\\Seen", false, 5,
                                             &fcb, &modified),
                     MJ_OK);
    assert_string_equal(modified, "7,9");
    assert_string_equal(y.text, "F 1 uid=1 modseq=6 flags=0;");
    assert_int_equal(mj_imap_store_unchanged(f.s, false, "2:3", MJ_IMAP_STORE_REPLACE, "\\Seen $L",
                                             true, 0, NULL, &modified),
                     MJ_OK); /* NO [MODIFIED]: the conditional store's report */
    assert_string_equal(modified, "2:3");
    assert_int_equal(mj_imap_store_unchanged(f.s, false, "1", MJ_IMAP_STORE_REMOVE, "\\Seen", false,
                                             1, NULL, &modified),
                     MJ_OK);
    assert_null(modified);
    assert_int_equal(mj_imap_store_unchanged(f.s, false, "1", MJ_IMAP_STORE_ADD, "\\Seen", false, 1,
                                             NULL, &modified),
                     MJ_SERVER_REFUSED);
    assert_null(modified);
    assert_int_equal(mj_imap_get_state(f.s), MJ_IMAP_STATE_SELECTED);
    assert_string_equal(wire(&f), LOGIN "A0002 SELECT INBOX\r\n"
                                        "A0003 UID STORE 1:9 (UNCHANGEDSINCE 5) +FLAGS (\\Seen)\r\n"
                                        "A0004 STORE 2:3 (UNCHANGEDSINCE 0) FLAGS.SILENT (\\Seen $L)\r\n"
                                        "A0005 STORE 1 (UNCHANGEDSINCE 1) -FLAGS (\\Seen)\r\n"
                                        "A0006 STORE 1 (UNCHANGEDSINCE 1) +FLAGS (\\Seen)\r\n");
    teardown(&f);

    /* a MODIFIED that is not a set of numbers */
    const char *bad[] = {"A0003 OK [MODIFIED 1:*] x\r\n", "A0003 OK [MODIFIED] x\r\n",
                         "A0003 NO [MODIFIED 0] x\r\n", "A0003 OK [MODIFIED 1,,2] x\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char script[256];
        snprintf(script, sizeof script, "%sA0002 OK s\r\n%s", SELECTED_REPLY, bad[i]);
        setup(&f, CAPS_C, script);
        assert_int_equal(mj_imap_select(f.s, "INBOX", false, NULL), MJ_OK);
        if (mj_imap_store_unchanged(f.s, false, "1", MJ_IMAP_STORE_ADD, "\\Seen", false, 1, NULL,
                                    &modified) != MJ_PROTOCOL_ERROR)
            fail_msg("'%s' accepted", bad[i]);
        assert_null(modified);
        teardown(&f);
    }
}

static void test_uid_expunge(void **state)
{
    (void)state;
    fixture f;
    setup(&f, CAPS_Q,
          SELECTED_REPLY "A0002 OK s\r\n"
          "* 3 EXPUNGE\r\n* 3 EXPUNGE\r\nA0003 OK done\r\n"
          "* VANISHED 8\r\nA0004 OK [HIGHESTMODSEQ 6] done\r\n");
    seen x;
    mj_imap_changes_cb cb = changes_of(&x);
    mj_imap_set_changes(f.s, &cb);
    assert_int_equal(mj_imap_select(f.s, "INBOX", false, NULL), MJ_OK);
    assert_int_equal(mj_imap_uid_expunge(f.s, "3000:3001"), MJ_OK);
    assert_int_equal(mj_imap_selected(f.s)->exists, 3);
    assert_int_equal(mj_imap_uid_expunge(f.s, "8"), MJ_OK);
    assert_int_equal(mj_imap_selected(f.s)->exists, 2);
    assert_int_equal(mj_imap_selected(f.s)->highestmodseq, 6);
    assert_string_equal(x.text, "X 3;X 3;V 8 #1;");
    assert_string_equal(wire(&f), LOGIN "A0002 SELECT INBOX\r\nA0003 UID EXPUNGE 3000:3001\r\n"
                                        "A0004 UID EXPUNGE 8\r\n");
    teardown(&f);
    /* IMAP4rev2 has UID EXPUNGE without UIDPLUS; not in the authenticated state */
    setup(&f, "IMAP4rev2", SELECTED_REPLY "A0002 OK s\r\nA0003 OK done\r\n");
    assert_int_equal(mj_imap_uid_expunge(f.s, "1"), MJ_USAGE);
    assert_int_equal(mj_imap_select(f.s, "INBOX", false, NULL), MJ_OK);
    assert_int_equal(mj_imap_uid_expunge(f.s, "1"), MJ_OK);
    assert_string_equal(wire(&f), LOGIN "A0002 SELECT INBOX\r\nA0003 UID EXPUNGE 1\r\n");
    teardown(&f);
}

/* ---- VANISHED in every state, and its parsing ------------------------------------------------------ */

static void test_vanished_every_state(void **state)
{
    (void)state;
    fixture f;
    setup(&f, CAPS_Q,
          "* VANISHED 1:3\r\nA0002 OK\r\n"                       /* authenticated: reported */
          SELECTED_REPLY "A0003 OK s\r\n"                         /* exists 5 */
          "* VANISHED (EARLIER) 1:100\r\n* VANISHED 2,4\r\n"
          "* 1 FETCH (UID 1 FLAGS (\\Seen) MODSEQ (3))\r\nA0004 OK\r\n" /* NOOP */
          "+ idling\r\n* VANISHED 9:7\r\nA0005 OK done\r\n"       /* IDLE until an event */
          "* VANISHED 1:4294967295\r\nA0006 OK\r\n");
    seen x;
    mj_imap_changes_cb cb = changes_of(&x);
    mj_imap_set_changes(f.s, &cb);
    assert_int_equal(mj_imap_noop(f.s), MJ_OK);
    assert_int_equal(mj_imap_select(f.s, "INBOX", true, NULL), MJ_OK);
    assert_int_equal(mj_imap_noop(f.s), MJ_OK);
    assert_int_equal(mj_imap_selected(f.s)->exists, 3); /* EARLIER not counted, 2,4 counted */
    unsigned events = 0;
    assert_int_equal(mj_imap_idle(f.s, 5, true, &events), MJ_OK);
    assert_int_equal(events, 1);
    assert_int_equal(mj_imap_selected(f.s)->exists, 0); /* 3 vanished: never below 0 */
    assert_int_equal(mj_imap_noop(f.s), MJ_OK);          /* the huge range: counted, not expanded */
    assert_int_equal(mj_imap_selected(f.s)->exists, 0);
    assert_string_equal(x.text, "V 1:3 #3;VE 1:100 #100;V 2,4 #2;F 1 uid=1 modseq=3 flags=1\\Seen;"
                                "V 9:7 #3;V 1:4294967295 #4294967295;");
    assert_string_equal(wire(&f), LOGIN "A0002 NOOP\r\nA0003 EXAMINE INBOX\r\nA0004 NOOP\r\n"
                                        "A0005 IDLE\r\nDONE\r\nA0006 NOOP\r\n");
    teardown(&f);
}

/* Overlapping or unordered ranges: each UID counted once (exists lowered by that). */
static void test_vanished_counts_distinct_uids(void **state)
{
    (void)state;
    fixture f;
    setup(&f, CAPS_Q,
          SELECTED_REPLY "A0002 OK s\r\n" /* exists 5 */
          "* VANISHED (EARLIER) 5:9,1:6,7,20,2\r\n* VANISHED 3,3\r\nA0003 OK\r\n"
          "* VANISHED 4294967295,1:4294967295,10:20\r\n* VANISHED 9,4:6,1\r\nA0004 OK\r\n");
    seen x;
    mj_imap_changes_cb cb = changes_of(&x);
    mj_imap_set_changes(f.s, &cb);
    assert_int_equal(mj_imap_select(f.s, "INBOX", true, NULL), MJ_OK);
    assert_int_equal(mj_imap_noop(f.s), MJ_OK);
    assert_int_equal(mj_imap_selected(f.s)->exists, 4); /* 3,3 is one message */
    assert_int_equal(mj_imap_noop(f.s), MJ_OK);
    assert_int_equal(mj_imap_selected(f.s)->exists, 0);
    assert_string_equal(x.text, "VE 5:9,1:6,7,20,2 #10;V 3,3 #1;"
                                "V 4294967295,1:4294967295,10:20 #4294967295;V 9,4:6,1 #5;");
    teardown(&f);
}

static void test_vanished_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        mj_reason reason;
    } cases[] = {
        {"* VANISHED *", MJ_R_MALFORMED},
        {"* VANISHED 3:*", MJ_R_MALFORMED},
        {"* VANISHED 0", MJ_R_MALFORMED},
        {"* VANISHED 1:0", MJ_R_MALFORMED},
        {"* VANISHED 4294967296", MJ_R_NUMBER_OVERFLOW},
        {"* VANISHED 1:4294967296", MJ_R_NUMBER_OVERFLOW},
        {"* VANISHED 1,,2", MJ_R_MALFORMED},
        {"* VANISHED 1,", MJ_R_MALFORMED},
        {"* VANISHED ,1", MJ_R_MALFORMED},
        {"* VANISHED 1:", MJ_R_MALFORMED},
        {"* VANISHED 1::2", MJ_R_MALFORMED},
        {"* VANISHED abc", MJ_R_MALFORMED},
        {"* VANISHED", MJ_R_MALFORMED},
        {"* VANISHED (EARLIER)", MJ_R_MALFORMED},
        {"* VANISHED (LATER) 1", MJ_R_MALFORMED},
        {"* VANISHED (EARLIER X) 1", MJ_R_MALFORMED},
        {"* VANISHED 1 2", MJ_R_MALFORMED},
        {"* VANISHED \"1\"", MJ_R_MALFORMED},
        {"* VANISHED (1)", MJ_R_MALFORMED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char script[256];
        snprintf(script, sizeof script, "%s\r\nA0002 OK\r\n", cases[i].line);
        fixture f;
        setup(&f, CAPS_Q, script);
        if (mj_imap_noop(f.s) != MJ_PROTOCOL_ERROR)
            fail_msg("'%s' accepted", cases[i].line);
        if (mj_imap_error(f.s)->reason != cases[i].reason)
            fail_msg("'%s': reason %d", cases[i].line, (int)mj_imap_error(f.s)->reason);
        assert_int_equal(mj_imap_get_state(f.s), MJ_IMAP_STATE_FAILED);
        assert_int_equal(mj_imap_noop(f.s), MJ_USAGE); /* nothing more is sent */
        teardown(&f);
    }
}

static void test_uid_set_next(void **state)
{
    (void)state;
    const char *set = "5:1,7,9:10";
    size_t pos = 0;
    uint32_t a = 0, b = 0;
    char out[128] = "";
    while (mj_imap_uid_set_next(set, &pos, &a, &b)) {
        char r[32];
        snprintf(r, sizeof r, "%u-%u;", a, b);
        strcat(out, r);
    }
    assert_string_equal(out, "1-5;7-7;9-10;");
    pos = 0;
    assert_true(mj_imap_uid_set_next("1:4294967295", &pos, &a, &b));
    assert_int_equal(a, 1);
    assert_int_equal(b, UINT32_MAX);
    assert_false(mj_imap_uid_set_next("1:4294967295", &pos, &a, &b));
    pos = 0;
    assert_false(mj_imap_uid_set_next("1:*", &pos, &a, &b));
    pos = 0;
    assert_false(mj_imap_uid_set_next("", &pos, &a, &b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_select_condstore),
        cmocka_unit_test(test_modseq_codes_malformed),
        cmocka_unit_test(test_select_qresync),
        cmocka_unit_test(test_enable_variants),
        cmocka_unit_test(test_capabilities_missing),
        cmocka_unit_test(test_arguments_refused),
        cmocka_unit_test(test_fetch_changedsince),
        cmocka_unit_test(test_store_unchangedsince),
        cmocka_unit_test(test_uid_expunge),
        cmocka_unit_test(test_vanished_every_state),
        cmocka_unit_test(test_vanished_counts_distinct_uids),
        cmocka_unit_test(test_vanished_malformed),
        cmocka_unit_test(test_uid_set_next),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
