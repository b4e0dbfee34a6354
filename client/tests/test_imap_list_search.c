/*
 * test_imap_list_search.c: LIST-EXTENDED / LIST-STATUS and SEARCH with
 * non-ASCII criteria over the in-memory transport: exact client bytes and
 * exact outcomes.  LIST: selection and return options as sent, options a
 * server does not offer (usage, nothing sent), IMAP4rev2 having them all but
 * RECENT, STATUS replies interleaved with LIST replies (Dovecot and Gmail
 * shapes, from the corpus) delivered with their entry, a STATUS for another
 * mailbox, CHILDINFO, malformed STATUS and extended data (protocol-error), a
 * callback that stops.  SEARCH: literals with the '+' wait, LITERAL+ and
 * LITERAL-, CHARSET placement (after RETURN), UTF8=ACCEPT and IMAP4rev2
 * (UTF-8 quoted, no CHARSET), invalid UTF-8, BADCHARSET, ASCII criteria
 * unchanged; SORT and THREAD through the same encoder.
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
static const mj_imap_options utf8_ok = {.policy = {.allow_insecure_auth = 1}, .utf8 = true};
static const mj_sasl_creds alice = {.username = "alice", .password = "s3cret-pw"};

static void setup_opts(fixture *f, const char *server, const mj_imap_options *opts)
{
    imap_fixture_args a = {.server = server, .opts = opts};
    imap_fixture_open(f, &a);
    assert_int_equal(f->start, MJ_OK);
    assert_int_equal(mj_imap_login(f->s, &alice, MJ_SASL_NONE), MJ_OK);
}

static void setup(fixture *f, const char *server)
{
    setup_opts(f, server, &insecure_ok);
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

/* ---- LIST entries collected ----------------------------------------------------------------- */

#define ENTRIES_MAX 8
typedef struct entries {
    size_t n;
    char name[ENTRIES_MAX][64];
    size_t n_attrs[ENTRIES_MAX];
    char attr0[ENTRIES_MAX][32];
    bool has_status[ENTRIES_MAX];
    mj_imap_status_values status[ENTRIES_MAX];
    size_t n_child[ENTRIES_MAX];
    char child0[ENTRIES_MAX][32];
    char delim[ENTRIES_MAX];
    size_t stop_after; /* 0: never */
} entries;

static mj_outcome collect(void *ctx, const mj_imap_list_entry *e)
{
    entries *x = ctx;
    assert_true(x->n < ENTRIES_MAX);
    snprintf(x->name[x->n], sizeof x->name[0], "%s", e->name);
    x->n_attrs[x->n] = e->n_attributes;
    snprintf(x->attr0[x->n], sizeof x->attr0[0], "%s", e->n_attributes ? e->attributes[0] : "");
    x->has_status[x->n] = e->has_status;
    x->status[x->n] = e->status;
    x->n_child[x->n] = e->n_childinfo;
    snprintf(x->child0[x->n], sizeof x->child0[0], "%s", e->n_childinfo ? e->childinfo[0] : "");
    x->delim[x->n] = e->delimiter;
    x->n++;
    return x->stop_after != 0 && x->n == x->stop_after ? MJ_USAGE : MJ_OK;
}

static mj_outcome list_status(fixture *f, unsigned items, entries *x)
{
    mj_imap_list_options o = {0, 0, items};
    memset(x, 0, sizeof *x);
    return mj_imap_list_ex(f->s, "", "*", &o, collect, x);
}

/* dovecot/list-personal.txt: LIST and STATUS alternate, unquoted names. */
static void test_list_status_dovecot(void **state)
{
    (void)state;
    fixture f;
    setup(&f, LOGGED_IN("IMAP4rev1 LIST-EXTENDED LIST-STATUS CONDSTORE")
              "* LIST (\\HasNoChildren) \".\" Archives\r\n"
              "* STATUS Archives (MESSAGES 0 RECENT 0 UIDNEXT 1 UIDVALIDITY 1436832059 UNSEEN 0 "
              "HIGHESTMODSEQ 1)\r\n"
              "* LIST (\\HasNoChildren) \".\" \"Sent Messages\"\r\n"
              "* STATUS \"Sent Messages\" (MESSAGES 3 UNSEEN 1)\r\n"
              "* LIST (\\Noselect \\HasChildren) \".\" Public\r\n"
              "* LIST (\\HasNoChildren) \".\" INBOX\r\n"
              "* STATUS INBOX (MESSAGES 4 RECENT 0 UIDNEXT 5 UIDVALIDITY 1436832057 UNSEEN 0 "
              "HIGHESTMODSEQ 15)\r\n"
              "A0002 OK List completed (0.000 + 0.000 secs).\r\n");
    entries x;
    assert_int_equal(list_status(&f, MJ_IMAP_STATUS_MESSAGES | MJ_IMAP_STATUS_UNSEEN |
                                         MJ_IMAP_STATUS_HIGHESTMODSEQ, &x),
                     MJ_OK);
    assert_string_equal(wire(&f), LOGIN_WIRE "A0002 LIST \"\" \"*\" RETURN (STATUS (MESSAGES UNSEEN "
                                             "HIGHESTMODSEQ))\r\n");
    assert_int_equal(x.n, 4);
    assert_string_equal(x.name[0], "Archives");
    assert_true(x.has_status[0]);
    assert_int_equal(x.status[0].messages, 0);
    assert_int_equal(x.status[0].uidvalidity, 1436832059);
    assert_int_equal(x.status[0].highestmodseq, 1);
    assert_int_equal(x.status[0].size, -1);
    assert_string_equal(x.name[1], "Sent Messages");
    assert_int_equal(x.status[1].messages, 3);
    assert_int_equal(x.status[1].unseen, 1);
    assert_int_equal(x.status[1].uidnext, -1);
    assert_string_equal(x.name[2], "Public");
    assert_false(x.has_status[2]); /* \Noselect: no STATUS (RFC 5819 §2) */
    assert_string_equal(x.attr0[2], "\\Noselect");
    assert_string_equal(x.name[3], "INBOX"); /* the last one, flushed after the tagged OK */
    assert_true(x.has_status[3]);
    assert_int_equal(x.status[3].messages, 4);
    assert_int_equal(x.status[3].highestmodseq, 15);
    assert_int_equal(mj_imap_get_state(f.s), MJ_IMAP_STATE_AUTHENTICATED);
    teardown(&f);
}

/* gmail/list-all.txt and list-personal-status-appendlimit.txt: items of other extensions
   (APPENDLIMIT, MAILBOXID (...)) next to the known ones; \NonExistent without STATUS. */
static void test_list_status_gmail(void **state)
{
    (void)state;
    fixture f;
    setup(&f, LOGGED_IN("IMAP4rev1 LIST-EXTENDED LIST-STATUS STATUS=SIZE")
              "* LIST (\\HasNoChildren \\Subscribed) \"/\" \"INBOX\"\r\n"
              "* STATUS \"INBOX\" (APPENDLIMIT 1234567890 MESSAGES 10 UNSEEN 1 SIZE 123456789 "
              "MAILBOXID (d0f3b017-d3ec-40aa-9bb9-66c1aeccbb24))\r\n"
              "* LIST (\\HasChildren \\NonExistent \\Subscribed) \"/\" \"[Gmail]\"\r\n"
              "* LIST (\\HasNoChildren \\Subscribed) \"/\" \"[Gmail]/All Mail\"\r\n"
              "* STATUS \"[Gmail]/All Mail\" (MESSAGES 67 UNSEEN 3 SIZE 1024 APPENDLIMIT NIL)\r\n"
              "A0002 OK Success\r\n");
    entries x;
    assert_int_equal(list_status(&f, MJ_IMAP_STATUS_MESSAGES | MJ_IMAP_STATUS_UNSEEN |
                                         MJ_IMAP_STATUS_SIZE, &x),
                     MJ_OK);
    assert_string_equal(wire(&f), LOGIN_WIRE "A0002 LIST \"\" \"*\" RETURN (STATUS (MESSAGES UNSEEN "
                                             "SIZE))\r\n");
    assert_int_equal(x.n, 3);
    assert_int_equal(x.status[0].messages, 10);
    assert_int_equal(x.status[0].size, 123456789);
    assert_false(x.has_status[1]);
    assert_string_equal(x.name[2], "[Gmail]/All Mail");
    assert_int_equal(x.status[2].messages, 67);
    assert_int_equal(x.status[2].unseen, 3);
    teardown(&f);
}

/* dovecot/list-personal.txt: a mailbox named NIL, sent as the atom NIL (an astring, not nil),
   in LIST and in its STATUS; a plain STATUS of it too. */
static void test_list_mailbox_named_nil(void **state)
{
    (void)state;
    fixture f;
    setup(&f, LOGGED_IN("IMAP4rev1 LIST-EXTENDED LIST-STATUS")
              "* LIST (\\HasNoChildren) \".\" INBOX\r\n"
              "* STATUS INBOX (MESSAGES 4 UIDNEXT 5)\r\n"
              "* LIST (\\HasNoChildren) \".\" NIL\r\n"
              "* STATUS NIL (MESSAGES 0 UIDNEXT 1)\r\n"
              "* LIST (\\HasNoChildren) NIL nil\r\n"
              "A0002 OK List completed (0.000 + 0.000 secs).\r\n"
              "* STATUS NIL (MESSAGES 2)\r\nA0003 OK done\r\n");
    entries x;
    assert_int_equal(list_status(&f, MJ_IMAP_STATUS_MESSAGES | MJ_IMAP_STATUS_UIDNEXT, &x), MJ_OK);
    assert_int_equal(x.n, 3);
    assert_string_equal(x.name[1], "NIL");
    assert_true(x.has_status[1]);
    assert_int_equal(x.status[1].uidnext, 1);
    assert_string_equal(x.name[2], "nil"); /* as sent; its delimiter is nil */
    mj_imap_mailbox_info info;
    assert_int_equal(mj_imap_mailbox_status(f.s, "NIL", &info), MJ_OK);
    assert_int_equal(info.exists, 2);
    assert_non_null(strstr(wire(&f), "A0003 STATUS \"NIL\" (")); /* quoted: an atom NIL reads as nil */
    teardown(&f);
}

/* common/list-nil-folder-delim.txt: a NIL delimiter and an empty "" one (tolerance
   empty-delimiter): both no delimiter; strict, "" is a protocol error naming the tolerance. */
static void test_list_empty_delimiter(void **state)
{
    (void)state;
    static const char server[] = LOGGED_IN("IMAP4rev1")
        "* LIST () \"/\" INBOX\r\n"
        "* LIST (\\HasNoChildren) NIL \"Folder1\"\r\n"
        "* LIST (\\HasNoChildren) \"\" \"Folder2\"\r\n"
        "A0002 OK LIST Completed\r\n";
    fixture f;
    setup(&f, server);
    entries x;
    memset(&x, 0, sizeof x);
    assert_int_equal(mj_imap_list(f.s, "", "*", false, collect, &x), MJ_OK);
    assert_int_equal(x.n, 3);
    assert_int_equal(x.delim[0], '/');
    assert_int_equal(x.delim[1], '\0');
    assert_string_equal(x.name[2], "Folder2");
    assert_int_equal(x.delim[2], '\0');
    teardown(&f);
    static const mj_imap_options strict = {.policy = {.allow_insecure_auth = 1}, .strict = true};
    setup_opts(&f, server, &strict);
    memset(&x, 0, sizeof x);
    assert_int_equal(mj_imap_list(f.s, "", "*", false, collect, &x), MJ_PROTOCOL_ERROR);
    assert_string_equal(mj_imap_error(f.s)->message,
                        "malformed LIST (the delimiter \"\": strict, tolerance empty-delimiter is "
                        "off) response");
    teardown(&f);
}

/* The same delimiter rule in NAMESPACE: "" is no delimiter, unless strict. */
static void test_namespace_empty_delimiter(void **state)
{
    (void)state;
    static const char server[] = LOGGED_IN("IMAP4rev1 NAMESPACE")
        "* NAMESPACE ((\"\" \"\")) NIL ((\"#shared/\" \"/\"))\r\nA0002 OK done\r\n";
    fixture f;
    setup(&f, server);
    mj_imap_namespaces ns;
    assert_int_equal(mj_imap_namespace(f.s, &ns), MJ_OK);
    assert_true(ns.personal.present);
    assert_string_equal(ns.personal.prefix, "");
    assert_int_equal(ns.personal.delimiter, '\0');
    assert_false(ns.other.present);
    assert_string_equal(ns.shared.prefix, "#shared/");
    assert_int_equal(ns.shared.delimiter, '/');
    teardown(&f);
    static const mj_imap_options strict = {.policy = {.allow_insecure_auth = 1}, .strict = true};
    setup_opts(&f, server, &strict);
    assert_int_equal(mj_imap_namespace(f.s, &ns), MJ_PROTOCOL_ERROR);
    assert_string_equal(mj_imap_error(f.s)->message, "malformed NAMESPACE response");
    teardown(&f);
}

/* Every option in table order; CHILDINFO extended data with the entry. */
static void test_list_options_wire(void **state)
{
    (void)state;
    fixture f;
    setup(&f, LOGGED_IN("IMAP4rev1 LIST-EXTENDED SPECIAL-USE LIST-STATUS CONDSTORE")
              "* LIST () \"/\" \"Foo\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n"
              "* LIST (\\Subscribed \\HasNoChildren) \"/\" \"Foo/Bar\" (\"OLDNAME\" (\"Old\"))\r\n"
              "* STATUS \"Foo/Bar\" (UIDNEXT 7 HIGHESTMODSEQ 99)\r\n"
              "A0002 OK done\r\n");
    mj_imap_list_options o = {
        MJ_IMAP_LIST_SEL_SUBSCRIBED | MJ_IMAP_LIST_SEL_RECURSIVEMATCH,
        MJ_IMAP_LIST_RET_SUBSCRIBED | MJ_IMAP_LIST_RET_CHILDREN | MJ_IMAP_LIST_RET_SPECIAL_USE,
        MJ_IMAP_STATUS_UIDNEXT | MJ_IMAP_STATUS_HIGHESTMODSEQ};
    entries x;
    memset(&x, 0, sizeof x);
    assert_int_equal(mj_imap_list_ex(f.s, "", "Foo*", &o, collect, &x), MJ_OK);
    assert_string_equal(wire(&f), LOGIN_WIRE "A0002 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"Foo*\" "
                                             "RETURN (SUBSCRIBED CHILDREN SPECIAL-USE STATUS "
                                             "(UIDNEXT HIGHESTMODSEQ))\r\n");
    assert_int_equal(x.n, 2);
    assert_int_equal(x.n_attrs[0], 0);
    assert_int_equal(x.n_child[0], 1);
    assert_string_equal(x.child0[0], "SUBSCRIBED");
    assert_false(x.has_status[0]);
    assert_int_equal(x.n_child[1], 0);
    assert_true(x.has_status[1]);
    assert_int_equal(x.status[1].uidnext, 7);
    assert_int_equal(x.status[1].highestmodseq, 99);
    teardown(&f);
}

/* Options the server does not offer: MJ_USAGE naming the capability, not a byte of LIST. */
static void test_list_not_offered(void **state)
{
    (void)state;
    static const struct {
        const char *caps;
        mj_imap_list_options o;
        const char *needle;
    } cases[] = {
        {"IMAP4rev1 LIST-EXTENDED", {0, 0, MJ_IMAP_STATUS_MESSAGES}, "LIST-STATUS"},
        {"IMAP4rev1", {MJ_IMAP_LIST_SEL_SUBSCRIBED, 0, 0}, "LIST-EXTENDED"},
        {"IMAP4rev1", {0, MJ_IMAP_LIST_RET_CHILDREN, 0}, "LIST-EXTENDED"},
        {"IMAP4rev1 LIST-EXTENDED", {MJ_IMAP_LIST_SEL_SPECIAL_USE, 0, 0}, "SPECIAL-USE"},
        {"IMAP4rev1 SPECIAL-USE", {0, MJ_IMAP_LIST_RET_SPECIAL_USE, 0}, "LIST-EXTENDED"},
        {"IMAP4rev1 LIST-STATUS", {0, 0, MJ_IMAP_STATUS_HIGHESTMODSEQ}, "CONDSTORE"},
        {"IMAP4rev1 LIST-STATUS", {0, 0, MJ_IMAP_STATUS_SIZE}, "STATUS=SIZE"},
        {"IMAP4rev1 LIST-STATUS", {0, 0, MJ_IMAP_STATUS_DELETED}, "IMAP4rev2"},
        {"IMAP4rev1 LIST-EXTENDED", {MJ_IMAP_LIST_SEL_RECURSIVEMATCH, 0, 0}, "RECURSIVEMATCH"},
        {"IMAP4rev1 LIST-EXTENDED",
         {MJ_IMAP_LIST_SEL_RECURSIVEMATCH | MJ_IMAP_LIST_SEL_REMOTE, 0, 0}, "RECURSIVEMATCH"},
        {"IMAP4rev1 LIST-EXTENDED", {1u << 20, 0, 0}, "unknown"},
        {"IMAP4rev1 LIST-STATUS", {0, 0, 1u << 20}, "unknown"},
        {"IMAP4rev2", {0, 0, MJ_IMAP_STATUS_RECENT}, "removed STATUS RECENT"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char server[256];
        snprintf(server, sizeof server, LOGGED_IN("%s"), cases[i].caps, cases[i].caps);
        fixture f;
        setup(&f, server);
        entries x;
        memset(&x, 0, sizeof x);
        assert_int_equal(mj_imap_list_ex(f.s, "", "*", &cases[i].o, collect, &x), MJ_USAGE);
        assert_string_equal(wire(&f), LOGIN_WIRE);
        assert_non_null(strstr(mj_imap_error(f.s)->message, cases[i].needle));
        assert_non_null(strstr(mj_imap_error(f.s)->message, "nothing was sent"));
        assert_int_equal(x.n, 0);
        teardown(&f);
    }
}

/* A server speaking only IMAP4rev2 has LIST-EXTENDED, LIST-STATUS, SIZE and DELETED. */
static void test_list_rev2_base(void **state)
{
    (void)state;
    fixture f;
    setup(&f, LOGGED_IN("IMAP4rev2")
              "* LIST (\\HasNoChildren) \"/\" \"Grüße\"\r\n"
              "* STATUS \"Grüße\" (MESSAGES 2 DELETED 1 SIZE 40)\r\n"
              "A0002 OK done\r\n");
    mj_imap_list_options o = {MJ_IMAP_LIST_SEL_SUBSCRIBED, MJ_IMAP_LIST_RET_CHILDREN,
                              MJ_IMAP_STATUS_MESSAGES | MJ_IMAP_STATUS_DELETED |
                                  MJ_IMAP_STATUS_SIZE};
    entries x;
    memset(&x, 0, sizeof x);
    assert_int_equal(mj_imap_list_ex(f.s, "", "*", &o, collect, &x), MJ_OK);
    assert_string_equal(wire(&f), LOGIN_WIRE "A0002 LIST (SUBSCRIBED) \"\" \"*\" RETURN (CHILDREN "
                                             "STATUS (MESSAGES SIZE DELETED))\r\n");
    assert_int_equal(x.n, 1);
    assert_string_equal(x.name[0], "Grüße");
    assert_int_equal(x.status[0].deleted, 1);
    assert_int_equal(x.status[0].size, 40);
    teardown(&f);
}

/* A STATUS for a mailbox other than the last LIST's is checked and ignored. */
static void test_list_status_other_mailbox(void **state)
{
    (void)state;
    fixture f;
    setup(&f, LOGGED_IN("IMAP4rev1 LIST-STATUS")
              "* STATUS Early (MESSAGES 9)\r\n"
              "* LIST () \"/\" A\r\n"
              "* STATUS B (MESSAGES 5)\r\n"
              "* LIST () \"/\" B\r\n"
              "* STATUS B (MESSAGES 6)\r\n"
              "* STATUS B (MESSAGES 7)\r\n"
              "A0002 OK done\r\n");
    entries x;
    assert_int_equal(list_status(&f, MJ_IMAP_STATUS_MESSAGES, &x), MJ_OK);
    assert_int_equal(x.n, 2);
    assert_false(x.has_status[0]);
    assert_true(x.has_status[1]);
    assert_int_equal(x.status[1].messages, 6); /* the first STATUS after its LIST */
    teardown(&f);
}

/* Malformed STATUS or extended data: protocol-error, the session FAILED. */
static void test_list_status_malformed(void **state)
{
    (void)state;
    static const char *const replies[] = {
        "* LIST () \"/\" A\r\n* STATUS A (MESSAGES)\r\nA0002 OK done\r\n",
        "* LIST () \"/\" A\r\n* STATUS A (MESSAGES x UNSEEN 1)\r\nA0002 OK done\r\n",
        "* LIST () \"/\" A\r\n* STATUS A MESSAGES 1\r\nA0002 OK done\r\n",
        "* LIST () \"/\" A\r\n* STATUS (MESSAGES 1)\r\nA0002 OK done\r\n",
        "* LIST () \"/\" A (\"CHILDINFO\")\r\nA0002 OK done\r\n",
        "* LIST () \"/\" A (\"CHILDINFO\" \"SUBSCRIBED\")\r\nA0002 OK done\r\n",
        "* LIST () \"/\" A (\"CHILDINFO\" (\"SUBSCRIBED\" (X)))\r\nA0002 OK done\r\n",
        "* LIST () \"/\" A ((X) Y)\r\nA0002 OK done\r\n",
        "* LIST () \"/\" A X\r\nA0002 OK done\r\n",
    };
    for (size_t i = 0; i < sizeof replies / sizeof replies[0]; i++) {
        char server[512];
        snprintf(server, sizeof server, "%s%s", LOGGED_IN("IMAP4rev1 LIST-STATUS"), replies[i]);
        fixture f;
        setup(&f, server);
        entries x;
        assert_int_equal(list_status(&f, MJ_IMAP_STATUS_MESSAGES, &x), MJ_PROTOCOL_ERROR);
        assert_int_equal(mj_imap_error(f.s)->reason, MJ_R_MALFORMED);
        assert_int_equal(mj_imap_get_state(f.s), MJ_IMAP_STATE_FAILED);
        assert_int_equal(x.n, 0); /* nothing half-checked reaches the caller */
        teardown(&f);
    }
}

/* A callback error stops the callbacks; the response is still read to its end. */
static void test_list_callback_stops(void **state)
{
    (void)state;
    fixture f;
    setup(&f, LOGGED_IN("IMAP4rev1 LIST-STATUS")
              "* LIST () \"/\" A\r\n* STATUS A (MESSAGES 1)\r\n"
              "* LIST () \"/\" B\r\n* STATUS B (MESSAGES 2)\r\n"
              "A0002 OK done\r\nA0003 OK noop\r\n");
    entries x;
    mj_imap_list_options o = {0, 0, MJ_IMAP_STATUS_MESSAGES};
    memset(&x, 0, sizeof x);
    x.stop_after = 1;
    assert_int_equal(mj_imap_list_ex(f.s, "", "*", &o, collect, &x), MJ_USAGE);
    assert_int_equal(x.n, 1);
    if (mj_imap_noop(f.s) != MJ_OK) /* still in step */
        fail_msg("%s", mj_imap_error(f.s)->message);
    teardown(&f);
}

/* The plain LIST is unchanged: RETURN (SPECIAL-USE) only when both are offered; a refusal
   still hands over what came before it. */
static void test_list_plain_and_refused(void **state)
{
    (void)state;
    fixture f;
    setup(&f, LOGGED_IN("IMAP4rev1 SPECIAL-USE")
              "* LIST () \"/\" A\r\nA0002 NO [UNAVAILABLE] later\r\n");
    entries x;
    memset(&x, 0, sizeof x);
    assert_int_equal(mj_imap_list(f.s, "", "*", false, collect, &x), MJ_SERVER_BUSY);
    assert_string_equal(wire(&f), LOGIN_WIRE "A0002 LIST \"\" \"*\"\r\n");
    assert_non_null(strstr(mj_imap_error(f.s)->message, "later"));
    assert_int_equal(x.n, 1);
    assert_string_equal(x.name[0], "A");
    teardown(&f);
}

/* STATUS (mj_imap_mailbox_status) skips items of other extensions (gmail/status-+folder.txt). */
static void test_status_unknown_items(void **state)
{
    (void)state;
    fixture f;
    setup(&f, LOGGED_IN("IMAP4rev1")
              "* STATUS +Folder (HIGHESTMODSEQ 41234 MESSAGES 6 RECENT 0 UIDNEXT 7 UIDVALIDITY 1 "
              "UNSEEN 0 SIZE 1024 MAILBOXID (f001Ed6c-ebee-41a5-a65e-9498d3e0aec0))\r\n"
              "A0002 OK Success\r\n");
    mj_imap_mailbox_info m;
    assert_int_equal(mj_imap_mailbox_status(f.s, "+Folder", &m), MJ_OK);
    assert_int_equal(m.exists, 6);
    assert_int_equal(m.uidnext, 7);
    assert_int_equal(m.highestmodseq, 41234);
    teardown(&f);
}

/* ---- SEARCH ------------------------------------------------------------------------------- */

static mj_outcome add_number(void *ctx, uint32_t n)
{
    uint32_t *a = ctx;
    a[++a[0]] = n;
    return MJ_OK;
}

static mj_outcome search(fixture *f, const char *criteria, uint32_t *numbers)
{
    memset(numbers, 0, 8 * sizeof numbers[0]);
    assert_int_equal(mj_imap_select(f->s, "INBOX", false, NULL), MJ_OK);
    return mj_imap_search(f->s, false, criteria, add_number, numbers);
}

/* IMAP4rev1 without LITERAL+: CHARSET UTF-8 and a synchronizing literal ('+' awaited). */
static void test_search_literal_sync(void **state)
{
    (void)state;
    fixture f;
    setup(&f, SELECTED("IMAP4rev1") "+ go\r\n* SEARCH 4 9\r\nA0003 OK done\r\n");
    uint32_t n[8];
    assert_int_equal(search(&f, "SUBJECT \"Grüße\" FROM x", n), MJ_OK);
    assert_string_equal(wire(&f), SELECTED_WIRE "A0003 SEARCH CHARSET UTF-8 SUBJECT {7}\r\n"
                                                "Grüße FROM x\r\n");
    assert_int_equal(n[0], 2);
    assert_int_equal(n[1], 4);
    assert_int_equal(n[2], 9);
    teardown(&f);
}

/* Without the '+' the client stops after the marker: the server's NO ends the command. */
static void test_search_literal_refused(void **state)
{
    (void)state;
    fixture f;
    setup(&f, SELECTED("IMAP4rev1") "A0003 NO [BADCHARSET (US-ASCII ISO-8859-1)] no UTF-8\r\n"
                                    "A0004 OK noop\r\n");
    uint32_t n[8];
    assert_int_equal(search(&f, "BODY Łukasz", n), MJ_SERVER_REFUSED);
    assert_string_equal(wire(&f), SELECTED_WIRE "A0003 SEARCH CHARSET UTF-8 BODY {7}\r\n");
    const char *msg = mj_imap_error(f.s)->message;
    assert_non_null(strstr(msg, "BADCHARSET"));
    assert_non_null(strstr(msg, "the charsets it supports: US-ASCII ISO-8859-1"));
    assert_int_equal(mj_imap_get_state(f.s), MJ_IMAP_STATE_SELECTED);
    assert_int_equal(mj_imap_noop(f.s), MJ_OK);
    teardown(&f);
}

/* LITERAL+ and LITERAL-: {n+} without waiting; two strings; parentheses and escapes. */
static void test_search_literal_plus(void **state)
{
    (void)state;
    static const char *const caps[] = {"IMAP4rev1 LITERAL+", "IMAP4rev1 LITERAL-"};
    for (size_t i = 0; i < 2; i++) {
        char server[256];
        snprintf(server, sizeof server, SELECTED("%s") "* SEARCH\r\nA0003 OK done\r\n", caps[i],
                 caps[i]);
        fixture f;
        setup(&f, server);
        uint32_t n[8];
        assert_int_equal(search(&f, "(OR SUBJECT \"a\\\"ü\" FROM \"Łukasz\") UNSEEN", n), MJ_OK);
        assert_string_equal(wire(&f), SELECTED_WIRE
                            "A0003 SEARCH CHARSET UTF-8 (OR SUBJECT {4+}\r\na\"ü FROM {7+}\r\n"
                            "Łukasz) UNSEEN\r\n");
        assert_int_equal(n[0], 0);
        teardown(&f);
    }
}

/* ESEARCH: RETURN (ALL) comes before CHARSET (RFC 4731 §3); a BADCHARSET without a list. */
static void test_search_esearch_order(void **state)
{
    (void)state;
    fixture f;
    setup(&f, SELECTED("IMAP4rev1 ESEARCH LITERAL+") "A0003 NO [BADCHARSET] nope\r\n");
    uint32_t n[8];
    assert_int_equal(search(&f, "TEXT café", n), MJ_SERVER_REFUSED);
    assert_string_equal(wire(&f), SELECTED_WIRE "A0003 SEARCH RETURN (ALL) CHARSET UTF-8 TEXT "
                                                "{5+}\r\ncafé\r\n");
    assert_non_null(strstr(mj_imap_error(f.s)->message, "did not say which charsets"));
    teardown(&f);
}

/* UTF8=ACCEPT enabled: a UTF-8 quoted string, no CHARSET (RFC 6855 §3). */
static void test_search_utf8_accept(void **state)
{
    (void)state;
    fixture f;
    setup_opts(&f, LOGGED_IN("IMAP4rev1 ENABLE UTF8=ACCEPT")
                   "* ENABLED UTF8=ACCEPT\r\nA0002 OK enabled\r\n"
                   "A0003 OK [READ-WRITE] selected\r\n* SEARCH 1\r\nA0004 OK done\r\n",
               &utf8_ok);
    uint32_t n[8];
    assert_int_equal(search(&f, "SUBJECT \"Grüße\" FROM Łukasz", n), MJ_OK);
    assert_string_equal(wire(&f), LOGIN_WIRE "A0002 ENABLE UTF8=ACCEPT\r\nA0003 SELECT INBOX\r\n"
                                             "A0004 SEARCH SUBJECT \"Grüße\" FROM \"Łukasz\"\r\n");
    assert_int_equal(n[1], 1);
    teardown(&f);
}

/* IMAP4rev2 (a rev2-only server): ESEARCH and UTF-8 quoted strings without CHARSET. */
static void test_search_rev2(void **state)
{
    (void)state;
    fixture f;
    setup(&f, SELECTED("IMAP4rev2") "* ESEARCH (TAG \"A0003\") ALL 2:3\r\nA0003 OK done\r\n");
    uint32_t n[8];
    assert_int_equal(search(&f, "SUBJECT \"Grüße\"", n), MJ_OK);
    assert_string_equal(wire(&f), SELECTED_WIRE "A0003 SEARCH RETURN (ALL) SUBJECT \"Grüße\"\r\n");
    assert_int_equal(n[0], 2);
    teardown(&f);
}

/* ASCII criteria go exactly as written (no CHARSET, no literal). */
static void test_search_ascii_unchanged(void **state)
{
    (void)state;
    fixture f;
    setup(&f, SELECTED("IMAP4rev1") "* SEARCH\r\nA0003 OK done\r\n");
    uint32_t n[8];
    assert_int_equal(search(&f, "OR (SUBJECT \"a \\\"b\\\"\")  FROM  \"x\" UNSEEN", n), MJ_OK);
    assert_string_equal(wire(&f), SELECTED_WIRE "A0003 SEARCH OR (SUBJECT \"a \\\"b\\\"\")  FROM  "
                                                "\"x\" UNSEEN\r\n");
    teardown(&f);
}

/* Refused before a byte of SEARCH: invalid UTF-8 (Latin-1, overlong, surrogate, cut),
   too many non-ASCII strings, a literal marker, an unclosed quote. */
static void test_search_usage(void **state)
{
    (void)state;
    char many[1024] = "";
    for (int i = 0; i <= MJ_IMAP_CRITERIA_STRINGS_MAX; i++)
        strcat(many, "TEXT é ");
    const char *const bad[] = {
        "SUBJECT \"Gr\xfc\xdf" "e\"", "SUBJECT \xc0\xaf", "SUBJECT \xed\xa0\x80",
        "SUBJECT \xc3",              many,                "SUBJECT {3}",
        "SUBJECT \"Grüße",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fixture f;
        setup(&f, SELECTED("IMAP4rev1 LITERAL+"));
        uint32_t n[8];
        assert_int_equal(search(&f, bad[i], n), MJ_USAGE);
        assert_string_equal(wire(&f), SELECTED_WIRE);
        if (strstr(mj_imap_error(f.s)->message, "nothing was sent") == NULL)
            fail_msg("case %zu: %s", i, mj_imap_error(f.s)->message);
        teardown(&f);
    }
}

/* SORT and THREAD: the same encoder after their charset; another charset with non-ASCII
   text is refused; BADCHARSET explained. */
static void test_sort_thread_criteria(void **state)
{
    (void)state;
    fixture f;
    setup(&f, SELECTED("IMAP4rev1 SORT THREAD=REFERENCES")
              "+ go\r\n* SORT 3 1\r\nA0003 OK done\r\n"
              "+ go\r\nA0004 NO [BADCHARSET (US-ASCII)] no\r\n");
    assert_int_equal(mj_imap_select(f.s, "INBOX", false, NULL), MJ_OK);
    uint32_t n[8] = {0};
    assert_int_equal(mj_imap_sort(f.s, false, "DATE", NULL, "SUBJECT \"Grüße\"", add_number, n),
                     MJ_OK);
    assert_int_equal(n[0], 2);
    assert_int_equal(mj_imap_thread(f.s, false, "REFERENCES", "US-ASCII", "FROM Łukasz", NULL,
                                    NULL),
                     MJ_USAGE);
    assert_int_equal(mj_imap_thread(f.s, true, "REFERENCES", "utf-8", "FROM Łukasz", NULL, NULL),
                     MJ_SERVER_REFUSED);
    assert_non_null(strstr(mj_imap_error(f.s)->message, "the charsets it supports: US-ASCII"));
    assert_string_equal(wire(&f), SELECTED_WIRE "A0003 SORT (DATE) UTF-8 SUBJECT {7}\r\nGrüße\r\n"
                                                "A0004 UID THREAD REFERENCES utf-8 FROM {7}\r\n"
                                                "Łukasz\r\n");
    teardown(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_status_dovecot),
        cmocka_unit_test(test_list_status_gmail),
        cmocka_unit_test(test_list_mailbox_named_nil),
        cmocka_unit_test(test_list_empty_delimiter),
        cmocka_unit_test(test_namespace_empty_delimiter),
        cmocka_unit_test(test_list_options_wire),
        cmocka_unit_test(test_list_not_offered),
        cmocka_unit_test(test_list_rev2_base),
        cmocka_unit_test(test_list_status_other_mailbox),
        cmocka_unit_test(test_list_status_malformed),
        cmocka_unit_test(test_list_callback_stops),
        cmocka_unit_test(test_list_plain_and_refused),
        cmocka_unit_test(test_status_unknown_items),
        cmocka_unit_test(test_search_literal_sync),
        cmocka_unit_test(test_search_literal_refused),
        cmocka_unit_test(test_search_literal_plus),
        cmocka_unit_test(test_search_esearch_order),
        cmocka_unit_test(test_search_utf8_accept),
        cmocka_unit_test(test_search_rev2),
        cmocka_unit_test(test_search_ascii_unchanged),
        cmocka_unit_test(test_search_usage),
        cmocka_unit_test(test_sort_thread_criteria),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
