/*
 * ops_imap.c: the IMAP operations of `mj` (rows of mj_cli_imap_ops), over
 * the IMAP client of mailjig/imap.h (RFC 9051, RFC 3501 and extensions).
 *
 * Every operation connects (STARTTLS as --security says), logs in when a
 * user is given (--user or the URL's; password, --token-file, --mechanism),
 * runs, and sends LOGOUT (whose answer does not change the outcome).
 * Operations on messages take the mailbox first; a trailing word "uid"
 * makes the set a UID set (UID FETCH, UID STORE, ...).
 * Results follow SCENARIOS.md / scenarios/FORMAT.md: login {capabilities,
 * and with --compress compressed: whether COMPRESS=DEFLATE is on};
 * list {mailboxes: [{name, delimiter, attributes; with --list-status status:
 * {messages, unseen, ...} or null; childinfo when the server sent CHILDINFO}]}
 * (LIST-EXTENDED options, RFC 5258, RFC 5819); select {exists, recent,
 * uidvalidity, uidnext, flags, ...}; fetch {messages: [{seq, uid, flags,
 * size, body_sha256, body_size}]}; store {messages}; copy/move {copyuid};
 * append {appended, appenduid}; sort {numbers}; thread {threads}; quota {quota}.
 * A PREAUTH greeting needs no user: no LOGIN is sent.  CONDSTORE / QRESYNC
 * (RFC 7162): select --condstore {highestmodseq, nomodseq}, select --qresync
 * {vanished, changed: [{seq, uid, flags, modseq}], uidvalidity_changed};
 * fetch --changedsince [--vanished] {messages with modseq, vanished}; store
 * --unchangedsince {modified}; expunge MAILBOX [SET uid] (UID EXPUNGE, RFC
 * 4315) {expunged, vanished}.
 * fetch and store print their messages as a stream (json_out.c): each entry
 * is spooled to a temporary file as it arrives, so 100,000 messages take no
 * more memory than 10; the operation's other result keys come first.  The
 * bodies of BODY[...] / BINARY[...] items are hashed as they stream
 * (body_sha256, body_size); fetch --output PATH ('-': stdout) writes their
 * bytes instead, message after message in the order the server sent them,
 * nothing in between (body_size says where each ends; no body_sha256).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "mj_cli.h"

/* Default FETCH items: what the result reports. */
#define IMAP_CLI_FETCH_ITEMS "(UID FLAGS RFC822.SIZE BODY.PEEK[])"
/* Longest IDLE the command line allows (seconds): a day. */
#define IMAP_CLI_IDLE_MAX 86400u
/* Bytes of VANISHED uid sets one result keeps (joined with ','); more fails the command. */
#define IMAP_CLI_VANISHED_MAX ((size_t)4 * 1024 * 1024)

typedef mj_outcome (*imap_op_fn)(mj_imap *s, const mj_cli_options *opts, json_t *r);

static mj_outcome no_memory(mj_error *err)
{
    return mj_error_set(err, MJ_INTERNAL, MJ_R_NO_MEMORY, "out of memory building the result");
}

/* ---- session ------------------------------------------------------------------------------ */

static mj_outcome open_session(const mj_cli_options *opts, const mj_conn_config *cfg,
                               bool need_login, mj_imap **s_out, mj_error *err)
{
    mj_imap_options io;
    memset(&io, 0, sizeof io);
    io.policy.allow_insecure_auth = opts->allow_insecure_auth;
    io.compress = opts->compress;
    io.utf8 = opts->utf8;
    io.strict = opts->strict;
    mj_outcome o = mj_imap_connect(cfg, &io, s_out, err);
    if (o != MJ_OK)
        return o;
    /* a PREAUTH greeting is a logged-in session: no --user needed, no LOGIN sent */
    bool preauth = mj_imap_get_state(*s_out) == MJ_IMAP_STATE_AUTHENTICATED;
    if (!preauth && opts->user[0] == '\0') {
        if (!need_login)
            return MJ_OK;
        mj_imap_close(*s_out);
        *s_out = NULL;
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "%s needs a login: give --user (or user@ in the URL); the server did "
                            "not greet with PREAUTH",
                            opts->op);
    }
    mj_sasl_creds creds = mj_cli_creds(opts);
    o = mj_imap_login(*s_out, preauth ? NULL : &creds, preauth ? MJ_SASL_NONE : opts->mechanism);
    if (o != MJ_OK) {
        *err = *mj_imap_error(*s_out);
        mj_imap_close(*s_out);
        *s_out = NULL;
    }
    return o;
}

/* LOGOUT (when the session is still usable) and close. */
static mj_outcome close_session(mj_imap *s, mj_outcome o, mj_error *err)
{
    if (o != MJ_OK)
        *err = *mj_imap_error(s);
    else if (mj_imap_get_state(s) != MJ_IMAP_STATE_FAILED && mj_imap_logout(s) != MJ_OK)
        mj_error_clear(mj_imap_error(s)); /* the work is done; a failed LOGOUT does not undo it */
    mj_imap_close(s);
    return o;
}

/* Connect, log in, run fn with a fresh result object, log out. */
static mj_outcome run(const mj_cli_options *opts, const mj_conn_config *cfg, bool need_login,
                      imap_op_fn fn, json_t **result_out, mj_error *err)
{
    json_t *r = json_object();
    if (r == NULL)
        return no_memory(err);
    mj_imap *s = NULL;
    mj_outcome o = open_session(opts, cfg, need_login, &s, err);
    if (o == MJ_OK)
        o = close_session(s, fn(s, opts, r), err);
    if (o != MJ_OK) {
        json_decref(r);
        return o;
    }
    *result_out = r;
    return MJ_OK;
}

/* The trailing word "uid" after n fixed arguments. */
static bool uid_word(const mj_cli_options *opts, int n)
{
    return opts->n_args > n && strcasecmp(opts->args[opts->n_args - 1], "uid") == 0;
}

static mj_outcome select_mailbox(mj_imap *s, const char *mailbox, bool read_only)
{
    return mj_imap_select(s, mailbox, read_only, NULL);
}

static json_t *string_list(const char *const *items, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < n; i++)
        json_array_append_new(a, json_string(items[i]));
    return a;
}

/* "\Seen \Answered" -> ["\\Seen", "\\Answered"] */
static json_t *split_flags(const char *text)
{
    json_t *a = json_array();
    char buf[MJ_IMAP_FLAGS_KEEP];
    snprintf(buf, sizeof buf, "%s", text);
    char *save = NULL;
    for (char *w = strtok_r(buf, " ", &save); a != NULL && w != NULL; w = strtok_r(NULL, " ", &save))
        json_array_append_new(a, json_string(w));
    return a;
}

/* ---- capability, login, namespace ------------------------------------------------------------ */

static json_t *caps_json(mj_imap *s)
{
    const mj_imap_caps *c = mj_imap_capabilities(s);
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < c->n_names; i++)
        json_array_append_new(a, json_string(c->names[i]));
    return a;
}

static mj_outcome do_capability(mj_imap *s, const mj_cli_options *opts, json_t *r)
{
    mj_outcome o = mj_imap_capabilities(s)->known ? MJ_OK : mj_imap_capability(s);
    if (o != MJ_OK)
        return o;
    json_object_set_new(r, "capabilities", caps_json(s));
    json_object_set_new(r, "tls", json_boolean(mj_conn_tls_state(mj_imap_conn(s)) != MJ_TLS_NONE));
    if (opts->compress)
        json_object_set_new(r, "compressed", json_boolean(mj_conn_compressed(mj_imap_conn(s))));
    return MJ_OK;
}

/* login: the capabilities after authentication: those the server sent with its OK, else
   those mj_imap_login asked for again ([] when the server refused that CAPABILITY) */
static mj_outcome do_login(mj_imap *s, const mj_cli_options *opts, json_t *r)
{
    json_object_set_new(r, "capabilities", caps_json(s));
    json_object_set_new(r, "imap4rev2", json_boolean(mj_imap_rev2(s)));
    if (opts->compress) /* COMPRESS=DEFLATE asked for: was it turned on? */
        json_object_set_new(r, "compressed", json_boolean(mj_conn_compressed(mj_imap_conn(s))));
    return MJ_OK;
}

static json_t *ns_json(const mj_imap_namespace_entry *e)
{
    if (!e->present)
        return json_null();
    char d[2] = {e->delimiter, '\0'};
    return json_pack("{s:s, s:s?}", "prefix", e->prefix, "delimiter", e->delimiter ? d : NULL);
}

static mj_outcome do_namespace(mj_imap *s, const mj_cli_options *opts, json_t *r)
{
    (void)opts;
    mj_imap_namespaces ns;
    mj_outcome o = mj_imap_namespace(s, &ns);
    if (o != MJ_OK)
        return o;
    json_object_set_new(r, "personal", ns_json(&ns.personal));
    json_object_set_new(r, "other", ns_json(&ns.other));
    json_object_set_new(r, "shared", ns_json(&ns.shared));
    return MJ_OK;
}

/* ---- mailboxes ------------------------------------------------------------------------------------ */

static void set_int(json_t *r, const char *key, int64_t v)
{
    if (v >= 0)
        json_object_set_new(r, key, json_integer(v));
}

typedef struct list_out {
    json_t *mailboxes;
    bool status; /* --list-status: every entry gets "status" (null when none came) */
} list_out;

/* LIST-STATUS values -> {messages, unseen, ...} with the items the server sent. */
static json_t *status_json(const mj_imap_status_values *v)
{
    static const struct {
        const char *key;
        size_t offset;
    } keys[] = {
        {"messages", offsetof(mj_imap_status_values, messages)},
        {"recent", offsetof(mj_imap_status_values, recent)},
        {"uidnext", offsetof(mj_imap_status_values, uidnext)},
        {"uidvalidity", offsetof(mj_imap_status_values, uidvalidity)},
        {"unseen", offsetof(mj_imap_status_values, unseen)},
        {"highestmodseq", offsetof(mj_imap_status_values, highestmodseq)},
        {"size", offsetof(mj_imap_status_values, size)},
        {"deleted", offsetof(mj_imap_status_values, deleted)},
    };
    json_t *j = json_object();
    for (size_t i = 0; j != NULL && i < sizeof keys / sizeof keys[0]; i++)
        set_int(j, keys[i].key, *(const int64_t *)(const void *)((const char *)v + keys[i].offset));
    return j;
}

static mj_outcome add_mailbox(void *ctx, const mj_imap_list_entry *e)
{
    list_out *lo = ctx;
    char d[2] = {e->delimiter, '\0'};
    json_t *m = json_pack("{s:s, s:s?, s:o}", "name", e->name, "delimiter",
                          e->delimiter ? d : NULL, "attributes",
                          string_list(e->attributes, e->n_attributes));
    if (m != NULL && lo->status)
        json_object_set_new(m, "status", e->has_status ? status_json(&e->status) : json_null());
    if (m != NULL && e->n_childinfo > 0)
        json_object_set_new(m, "childinfo", string_list(e->childinfo, e->n_childinfo));
    return m != NULL && json_array_append_new(lo->mailboxes, m) == 0 ? MJ_OK : MJ_INTERNAL;
}

/* list [--list-select W] [--list-return W] [--list-status ITEMS] [[REFERENCE] PATTERN] */
static mj_outcome do_list(mj_imap *s, const mj_cli_options *opts, json_t *r)
{
    const char *ref = opts->n_args == 2 ? opts->args[0] : "";
    const char *pattern = opts->n_args >= 1 ? opts->args[opts->n_args - 1] : "*";
    list_out lo = {json_array(), opts->list_status != 0};
    if (lo.mailboxes == NULL)
        return no_memory(mj_imap_error(s));
    json_object_set_new(r, "mailboxes", lo.mailboxes);
    if (opts->list_select == 0 && opts->list_return == 0 && opts->list_status == 0)
        return mj_imap_list(s, ref, pattern, false, add_mailbox, &lo);
    mj_imap_list_options lopts = {opts->list_select, opts->list_return, opts->list_status};
    return mj_imap_list_ex(s, ref, pattern, &lopts, add_mailbox, &lo);
}

/* ---- CONDSTORE / QRESYNC: unsolicited changes collected for the result -------------------- */

typedef struct changes_out {
    mj_imap *s;
    mj_imap_changes_cb cb;
    char *vanished; /* VANISHED sets joined with ',' (malloc) */
    size_t len;
    json_t *changed;  /* [{seq, uid, flags, modseq}] of FETCH outside FETCH/STORE, or NULL */
    json_t *expunged; /* [seq] of EXPUNGE */
} changes_out;

static mj_outcome on_vanished(void *ctx, bool earlier, const char *set, uint64_t count)
{
    changes_out *co = ctx;
    size_t n = strlen(set);
    (void)earlier, (void)count;
    if (co->len + n + 1 > IMAP_CLI_VANISHED_MAX)
        return mj_error_set(mj_imap_error(co->s), MJ_INTERNAL, MJ_R_REPLY_TOO_LARGE,
                            "VANISHED sets over %zu bytes: not kept", IMAP_CLI_VANISHED_MAX);
    char *v = realloc(co->vanished, co->len + n + 2);
    if (v == NULL)
        return no_memory(mj_imap_error(co->s));
    co->vanished = v;
    if (co->len > 0)
        v[co->len++] = ',';
    memcpy(v + co->len, set, n + 1);
    co->len += n;
    return MJ_OK;
}

static mj_outcome on_expunge(void *ctx, uint32_t seq)
{
    changes_out *co = ctx;
    return json_array_append_new(co->expunged, json_integer(seq)) == 0 ? MJ_OK
                                                                       : no_memory(mj_imap_error(co->s));
}

static mj_outcome on_changed(void *ctx, const mj_imap_message *m)
{
    changes_out *co = ctx;
    json_t *j = json_pack("{s:I}", "seq", (json_int_t)m->seq);
    if (j != NULL && m->has_uid)
        json_object_set_new(j, "uid", json_integer(m->uid));
    if (j != NULL && m->has_flags)
        json_object_set_new(j, "flags", string_list(m->flags, m->n_flags));
    if (j != NULL && m->has_modseq)
        json_object_set_new(j, "modseq", json_integer((json_int_t)m->modseq));
    return j != NULL && json_array_append_new(co->changed, j) == 0 ? MJ_OK
                                                                   : no_memory(mj_imap_error(co->s));
}

/* Report the changes of the next commands to co (changed: also unsolicited FETCH). */
static void changes_begin(mj_imap *s, changes_out *co, bool changed)
{
    memset(co, 0, sizeof *co);
    co->s = s;
    co->expunged = json_array();
    co->changed = changed ? json_array() : NULL;
    co->cb = (mj_imap_changes_cb){on_vanished, co->expunged ? on_expunge : NULL,
                                  co->changed ? on_changed : NULL, co};
    mj_imap_set_changes(s, &co->cb);
}

/* Stop reporting; on success put vanished, expunged and changed into r (NULL: drop them). */
static mj_outcome changes_end(mj_imap *s, changes_out *co, mj_outcome o, json_t *r)
{
    mj_imap_set_changes(s, NULL);
    if (o == MJ_OK && r != NULL) {
        json_object_set_new(r, "vanished", json_string(co->vanished ? co->vanished : ""));
        json_object_set_new(r, "expunged", co->expunged ? co->expunged : json_array());
        if (co->changed != NULL)
            json_object_set_new(r, "changed", co->changed);
        co->expunged = co->changed = NULL;
    }
    json_decref(co->expunged);
    json_decref(co->changed);
    free(co->vanished);
    return o;
}

/* select with --condstore / --qresync (the QRESYNC changes go into r). */
static mj_outcome select_condstore(mj_imap *s, const mj_cli_options *opts, bool ro, json_t *r,
                                   mj_imap_mailbox_info *m)
{
    if (!opts->condstore && !opts->qresync)
        return mj_imap_select(s, opts->args[0], ro, m);
    mj_imap_select_params p = {.condstore = opts->condstore,
                               .qresync = opts->qresync,
                               .uidvalidity = opts->qresync_uidvalidity,
                               .modseq = opts->qresync_modseq,
                               .known_uids = opts->qresync_known,
                               .seq_match = opts->qresync_seq_match,
                               .uid_match = opts->qresync_uid_match};
    changes_out co;
    changes_begin(s, &co, opts->qresync);
    mj_outcome o = changes_end(s, &co, mj_imap_select_ex(s, opts->args[0], ro, &p, m),
                               opts->qresync ? r : NULL);
    if (o == MJ_OK) {
        json_object_set_new(r, "nomodseq", json_boolean(m->nomodseq));
        if (opts->qresync)
            json_object_set_new(r, "uidvalidity_changed", json_boolean(m->uidvalidity_changed));
    }
    return o;
}

static mj_outcome do_select(mj_imap *s, const mj_cli_options *opts, json_t *r)
{
    bool ro = opts->n_args > 1 && (strcasecmp(opts->args[1], "readonly") == 0 ||
                                   strcasecmp(opts->args[1], "examine") == 0);
    if (opts->n_args > 1 && !ro)
        return mj_error_set(mj_imap_error(s), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "select takes MAILBOX [readonly]");
    mj_imap_mailbox_info m;
    mj_outcome o = select_condstore(s, opts, ro, r, &m);
    if (o != MJ_OK)
        return o;
    set_int(r, "exists", m.exists);
    set_int(r, "recent", m.recent);
    set_int(r, "uidvalidity", m.uidvalidity);
    set_int(r, "uidnext", m.uidnext);
    set_int(r, "unseen", m.unseen);
    set_int(r, "highestmodseq", m.highestmodseq);
    json_object_set_new(r, "flags", split_flags(m.flags));
    json_object_set_new(r, "permanentflags", split_flags(m.permanentflags));
    json_object_set_new(r, "read_only", json_boolean(m.read_only));
    return MJ_OK;
}

static mj_outcome do_status(mj_imap *s, const mj_cli_options *opts, json_t *r)
{
    mj_imap_mailbox_info m;
    mj_outcome o = mj_imap_mailbox_status(s, opts->args[0], &m);
    if (o != MJ_OK)
        return o;
    set_int(r, "messages", m.exists);
    set_int(r, "recent", m.recent);
    set_int(r, "uidvalidity", m.uidvalidity);
    set_int(r, "uidnext", m.uidnext);
    set_int(r, "unseen", m.unseen);
    return MJ_OK;
}

static mj_outcome do_create(mj_imap *s, const mj_cli_options *opts, json_t *r)
{
    (void)r;
    return mj_imap_mailbox(s, MJ_IMAP_CREATE, opts->args[0]);
}

static mj_outcome do_delete(mj_imap *s, const mj_cli_options *opts, json_t *r)
{
    (void)r;
    return mj_imap_mailbox(s, MJ_IMAP_DELETE, opts->args[0]);
}

static mj_outcome do_subscribe(mj_imap *s, const mj_cli_options *opts, json_t *r)
{
    (void)r;
    return mj_imap_mailbox(s, MJ_IMAP_SUBSCRIBE, opts->args[0]);
}

static mj_outcome do_rename(mj_imap *s, const mj_cli_options *opts, json_t *r)
{
    (void)r;
    return mj_imap_rename(s, opts->args[0], opts->args[1]);
}

/* expunge MAILBOX [SET uid]: EXPUNGE, or UID EXPUNGE SET (RFC 4315); what went, as reported. */
static mj_outcome do_expunge(mj_imap *s, const mj_cli_options *opts, json_t *r)
{
    bool uid = opts->n_args == 3 && uid_word(opts, 2);
    if (opts->n_args > 1 && !uid)
        return mj_error_set(mj_imap_error(s), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "expunge takes MAILBOX, or MAILBOX SET uid (UID EXPUNGE)");
    changes_out co;
    mj_outcome o = select_mailbox(s, opts->args[0], false);
    if (o != MJ_OK)
        return o;
    changes_begin(s, &co, false);
    o = uid ? mj_imap_uid_expunge(s, opts->args[1]) : mj_imap_selected_command(s, MJ_IMAP_EXPUNGE);
    return changes_end(s, &co, o, r);
}

static mj_outcome add_quota(void *ctx, const char *root, const char *resource, uint64_t usage,
                            uint64_t limit)
{
    json_t *q = json_pack("{s:s, s:s, s:I, s:I}", "root", root, "resource", resource, "usage",
                          (json_int_t)usage, "limit", (json_int_t)limit);
    return q != NULL && json_array_append_new(ctx, q) == 0 ? MJ_OK : MJ_INTERNAL;
}

static mj_outcome do_quota(mj_imap *s, const mj_cli_options *opts, json_t *r)
{
    json_t *a = json_array();
    if (a == NULL)
        return no_memory(mj_imap_error(s));
    json_object_set_new(r, "quota", a);
    if (opts->n_args == 2 && strcasecmp(opts->args[1], "root") == 0) /* quota ROOT root: GETQUOTA */
        return mj_imap_getquota(s, opts->args[0], add_quota, a);
    if (opts->n_args == 2)
        return mj_error_set(mj_imap_error(s), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "quota takes [MAILBOX] (GETQUOTAROOT) or ROOT root (GETQUOTA)");
    return mj_imap_quota(s, opts->n_args > 0 ? opts->args[0] : "INBOX", add_quota, a);
}

/* ---- messages -------------------------------------------------------------------------------------- */

/*
 * FETCH and STORE results: each message's entry is built as a json_t by
 * fetch_message, printed compact as one line of a spool file and freed, so
 * memory stays flat whatever the number of messages (100,000 FETCH
 * responses: the same peak as 10).  When the command succeeds the spool
 * becomes the result stream {"messages": [...]} (mj_cli_stream_set), which
 * json_out.c copies out entry by entry, the same bytes jansson would print.
 * Body sections are hashed as they stream (body_sha256), or, with --output,
 * written there instead (body_size says where each message's bytes end).
 */
typedef struct fetch_out {
    FILE *spool;       /* one compact JSON entry per line; NULL once handed to the stream */
    size_t count;      /* entries in spool */
    EVP_MD_CTX *md;
    uint32_t seq;      /* whose bytes md holds (0: none) */
    FILE *body;        /* --output, NULL without it */
    const char *body_path;
    int body_errno;    /* writing --output failed (0: no) */
    mj_error *err;     /* the session's, for failures of ours */
} fetch_out;

/* The result stream's state: the spool read back in order. */
typedef struct fetch_spool {
    FILE *fp;
    size_t next; /* index of the entry the file position is at */
} fetch_spool;

/* stdio buffer of the spool: one write per 64 KiB of entries. */
#define IMAP_CLI_SPOOL_BUF ((size_t)64 * 1024)
/* Bytes of a spool line read at a time. */
#define IMAP_CLI_SPOOL_CHUNK 16384
/* stdio buffer of a --output file: one write per 256 KiB rather than per TLS record. */
#define IMAP_CLI_OUTPUT_BUF ((size_t)256 * 1024)

static void spool_write_entry(void *ctx, size_t i, FILE *out)
{
    fetch_spool *sp = ctx;
    char buf[IMAP_CLI_SPOOL_CHUNK];
    if (i < sp->next) { /* never in json_out.c's order, but cheap to allow */
        rewind(sp->fp);
        sp->next = 0;
    }
    while (fgets(buf, sizeof buf, sp->fp) != NULL) {
        size_t n = strlen(buf); /* jansson escapes NUL: a line has none */
        bool eol = n > 0 && buf[n - 1] == '\n';
        if (sp->next == i)
            fwrite(buf, 1, eol ? n - 1 : n, out);
        if (eol && sp->next++ == i)
            return;
    }
}

static void spool_release(void *ctx)
{
    fetch_spool *sp = ctx;
    fclose(sp->fp);
    free(sp);
}

static mj_outcome fetch_body(void *ctx, uint32_t seq, const char *section, const unsigned char *data,
                             size_t len)
{
    fetch_out *fo = ctx;
    (void)section;
    if (fo->body != NULL) { /* --output: the bytes themselves, no digest */
        fo->seq = seq;
        if (len > 0 && fwrite(data, 1, len, fo->body) != len) {
            fo->body_errno = errno != 0 ? errno : EIO;
            return MJ_INTERNAL;
        }
        return MJ_OK;
    }
    if (fo->seq != seq) {
        if (EVP_DigestInit_ex(fo->md, EVP_sha256(), NULL) != 1)
            return MJ_INTERNAL;
        fo->seq = seq;
    }
    return EVP_DigestUpdate(fo->md, data, len) == 1 ? MJ_OK : MJ_INTERNAL;
}

/* The digest as lower-case hex into text (2 * EVP_MAX_MD_SIZE + 1 bytes); NULL on failure. */
static const char *digest_hex(EVP_MD_CTX *md, char *text)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(md, d, &n) != 1)
        return NULL;
    for (unsigned i = 0; i < n; i++) {
        text[2 * i] = hex[d[i] >> 4];
        text[2 * i + 1] = hex[d[i] & 0xf];
    }
    text[2 * n] = '\0';
    return text;
}

/*
 * The result entry of one message, every field of it set here, written
 * straight to the spool as one line of compact JSON (json_write.c: no
 * jansson tree per message; 100,000 FETCH responses with ENVELOPE and
 * BODYSTRUCTURE cost the writing only).
 */
static mj_outcome fetch_message(void *ctx, const mj_imap_message *m)
{
    fetch_out *fo = ctx;
    mj_jw w;
    mj_jw_init(&w, fo->spool);
    mj_jw_open(&w, '{');
    mj_jw_key(&w, "seq");
    mj_jw_uint(&w, m->seq);
    if (m->has_uid) {
        mj_jw_key(&w, "uid");
        mj_jw_uint(&w, m->uid);
    }
    if (m->has_flags) {
        mj_jw_key(&w, "flags");
        mj_jw_open(&w, '[');
        for (size_t i = 0; i < m->n_flags; i++)
            mj_jw_str(&w, m->flags[i]);
        mj_jw_close(&w, ']');
    }
    if (m->has_size) {
        mj_jw_key(&w, "size");
        mj_jw_uint(&w, m->size);
    }
    if (m->internaldate != NULL) {
        mj_jw_key(&w, "internaldate");
        mj_jw_str(&w, m->internaldate);
    }
    if (m->has_modseq) {
        mj_jw_key(&w, "modseq");
        mj_jw_uint(&w, m->modseq);
    }
    if (m->has_envelope) {
        mj_jw_key(&w, "subject");
        mj_jw_str(&w, m->subject);
    }
    if (m->has_binary_size) {
        mj_jw_key(&w, "binary_size");
        mj_jw_uint(&w, m->binary_size);
    }
    if (m->envelope != NULL) {
        mj_jw_key(&w, "envelope");
        mj_cli_jw_envelope(&w, m->envelope);
    }
    if (m->body != NULL) {
        mj_jw_key(&w, "bodystructure");
        mj_cli_jw_body(&w, m->body);
    }
    if (fo->seq == m->seq) {
        char hex[2 * EVP_MAX_MD_SIZE + 1];
        if (fo->body == NULL) {
            mj_jw_key(&w, "body_sha256");
            mj_jw_str(&w, digest_hex(fo->md, hex));
        }
        mj_jw_key(&w, "body_size");
        mj_jw_uint(&w, m->body_bytes);
        fo->seq = 0;
    }
    mj_jw_close(&w, '}');
    mj_jw_flush(&w);
    if (putc('\n', fo->spool) == EOF || ferror(fo->spool))
        return mj_error_set(fo->err, MJ_INTERNAL, MJ_R_LOCAL_IO,
                            "writing the result to a temporary file failed: %s", strerror(errno));
    fo->count++;
    return MJ_OK;
}

/* --output PATH: "-" is stdout (written before the result, which follows it). */
static mj_outcome open_output(fetch_out *fo, const char *path)
{
    fo->body_path = path;
    fo->body = strcmp(path, "-") == 0 ? stdout : fopen(path, "wb");
    if (fo->body != NULL && fo->body != stdout)
        setvbuf(fo->body, NULL, _IOFBF, IMAP_CLI_OUTPUT_BUF); /* fewer writes; a failure keeps the default */
    if (fo->body != NULL)
        return MJ_OK;
    char q[256];
    mj_escape(path, strlen(path), q, sizeof q);
    return mj_error_set(fo->err, MJ_INTERNAL, MJ_R_LOCAL_IO, "cannot write --output '%s': %s", q,
                        strerror(errno));
}

static mj_outcome with_messages(mj_imap *s, const char *output, fetch_out *fo)
{
    memset(fo, 0, sizeof *fo);
    fo->err = mj_imap_error(s);
    fo->md = EVP_MD_CTX_new();
    if (fo->md == NULL)
        return no_memory(fo->err);
    fo->spool = mj_cli_tmpfile();
    if (fo->spool == NULL)
        return mj_error_set(fo->err, MJ_INTERNAL, MJ_R_LOCAL_IO,
                            "cannot create a temporary file for the result: %s", strerror(errno));
    setvbuf(fo->spool, NULL, _IOFBF, IMAP_CLI_SPOOL_BUF); /* a failure keeps the default */
    return output != NULL ? open_output(fo, output) : MJ_OK;
}

/* End of a FETCH or STORE: on success the spool becomes the result stream; else it goes. */
static mj_outcome end_messages(fetch_out *fo, mj_outcome o)
{
    EVP_MD_CTX_free(fo->md);
    if (fo->body != NULL) {
        bool failed = fflush(fo->body) != 0 || ferror(fo->body);
        if (failed && fo->body_errno == 0)
            fo->body_errno = errno != 0 ? errno : EIO;
        if (fo->body != stdout && fclose(fo->body) != 0 && fo->body_errno == 0)
            fo->body_errno = errno != 0 ? errno : EIO;
    }
    if (fo->body_errno != 0) {
        char q[256];
        mj_escape(fo->body_path, strlen(fo->body_path), q, sizeof q);
        o = mj_error_set(fo->err, MJ_INTERNAL, MJ_R_LOCAL_IO, "writing --output '%s' failed: %s", q,
                         strerror(fo->body_errno));
    }
    fetch_spool *sp = o == MJ_OK && fo->spool != NULL ? malloc(sizeof *sp) : NULL;
    if (o == MJ_OK && (sp == NULL || fflush(fo->spool) != 0 || fseek(fo->spool, 0, SEEK_SET) != 0)) {
        free(sp);
        sp = NULL;
        o = mj_error_set(fo->err, MJ_INTERNAL, MJ_R_LOCAL_IO, "reading the result back failed");
    }
    if (sp == NULL) {
        if (fo->spool != NULL)
            fclose(fo->spool);
        return o;
    }
    sp->fp = fo->spool;
    sp->next = 0;
    mj_cli_stream st = {"messages", fo->count, spool_write_entry, spool_release, sp};
    mj_cli_stream_set(&st);
    return o;
}

static mj_outcome do_fetch(mj_imap *s, const mj_cli_options *opts, json_t *r)
{
    bool uid = uid_word(opts, 2);
    int n = opts->n_args - (uid ? 1 : 0);
    const char *items = n > 2 ? opts->args[2] : IMAP_CLI_FETCH_ITEMS;
    fetch_out fo;
    if (opts->vanished && (!opts->has_changedsince || !uid))
        return mj_error_set(mj_imap_error(s), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "--vanished needs --changedsince and a UID set (trailing word uid)");
    changes_out co;
    mj_outcome o = with_messages(s, opts->output, &fo);
    if (o == MJ_OK && opts->vanished) /* QRESYNC is enabled before SELECT (RFC 7162 3.2.3) */
        o = mj_imap_enable_condstore(s, true);
    if (o == MJ_OK)
        o = select_mailbox(s, opts->args[0], true);
    if (o == MJ_OK) {
        mj_imap_fetch_cb cb = {fetch_body, fetch_message, &fo};
        changes_begin(s, &co, false);
        o = opts->has_changedsince
                ? mj_imap_fetch_changed(s, uid, opts->args[1], items, opts->changedsince,
                                        opts->vanished, &cb)
                : mj_imap_fetch(s, uid, opts->args[1], items, &cb);
        o = changes_end(s, &co, o, opts->vanished ? r : NULL);
    }
    return end_messages(&fo, o);
}

static mj_outcome do_store(mj_imap *s, const mj_cli_options *opts, json_t *r)
{
    static const struct {
        const char *name;
        mj_imap_store_mode mode;
    } modes[] = {{"add", MJ_IMAP_STORE_ADD}, {"remove", MJ_IMAP_STORE_REMOVE}, {"replace", MJ_IMAP_STORE_REPLACE}};
    size_t i = 0;
    while (i < 3 && strcasecmp(opts->args[2], modes[i].name) != 0)
        i++;
    if (i == 3)
        return mj_error_set(mj_imap_error(s), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "store mode must be add, remove or replace");
    /* the messages are the stream set by end_messages; r gets the other keys */
    fetch_out fo;
    mj_outcome o = with_messages(s, NULL, &fo);
    if (o == MJ_OK)
        o = select_mailbox(s, opts->args[0], false);
    if (o == MJ_OK) {
        mj_imap_fetch_cb cb = {NULL, fetch_message, &fo};
        const char *modified = NULL;
        o = opts->has_unchangedsince
                ? mj_imap_store_unchanged(s, uid_word(opts, 4), opts->args[1], modes[i].mode,
                                          opts->args[3], opts->silent, opts->unchangedsince, &cb,
                                          &modified)
                : mj_imap_store(s, uid_word(opts, 4), opts->args[1], modes[i].mode, opts->args[3],
                                opts->silent, &cb);
        if (o == MJ_OK && opts->has_unchangedsince)
            json_object_set_new(r, "modified", modified ? json_string(modified) : json_null());
    }
    return end_messages(&fo, o);
}

static mj_outcome add_number(void *ctx, uint32_t n)
{
    return json_array_append_new(ctx, json_integer(n)) == 0 ? MJ_OK : MJ_INTERNAL;
}

static mj_outcome do_search(mj_imap *s, const mj_cli_options *opts, json_t *r)
{
    json_t *a = json_array();
    if (a == NULL)
        return no_memory(mj_imap_error(s));
    json_object_set_new(r, "numbers", a);
    mj_outcome o = select_mailbox(s, opts->args[0], true);
    return o == MJ_OK ? mj_imap_search(s, uid_word(opts, 2), opts->args[1], add_number, a) : o;
}

/* sort MAILBOX CRITERIA [SEARCH] [uid]: {numbers: [...]} in the server's order */
static mj_outcome do_sort(mj_imap *s, const mj_cli_options *opts, json_t *r)
{
    bool uid = uid_word(opts, 2);
    int n = opts->n_args - (uid ? 1 : 0);
    json_t *a = json_array();
    if (a == NULL)
        return no_memory(mj_imap_error(s));
    json_object_set_new(r, "numbers", a);
    mj_outcome o = select_mailbox(s, opts->args[0], true);
    if (o != MJ_OK || opts->sort_return == NULL)
        return o == MJ_OK ? mj_imap_sort(s, uid, opts->args[1], NULL, n > 2 ? opts->args[2] : NULL,
                                         add_number, a)
                          : o;
    /* --return: ESORT; "numbers" is ALL in sort order, min / max / count as the server sent them */
    mj_imap_esort_result e;
    o = mj_imap_esort(s, uid, opts->sort_return, opts->args[1], NULL, n > 2 ? opts->args[2] : NULL,
                      &e, add_number, a);
    if (o == MJ_OK && e.has_min)
        json_object_set_new(r, "min", json_integer(e.min));
    if (o == MJ_OK && e.has_max)
        json_object_set_new(r, "max", json_integer(e.max));
    if (o == MJ_OK && e.has_count)
        json_object_set_new(r, "count", json_integer(e.count));
    return o;
}

/* THREAD nodes in pre-order -> nested lists: a node is [number, child, child...], null for a
   missing parent; stack[d] is the last node at depth d. */
typedef struct thread_out {
    json_t *threads;
    json_t *stack[MJ_IMAP_THREAD_DEPTH_MAX];
} thread_out;

static mj_outcome add_thread_node(void *ctx, uint32_t number, unsigned depth)
{
    thread_out *t = ctx;
    json_t *node = json_array();
    if (node == NULL || json_array_append_new(node, number ? json_integer(number) : json_null()) != 0) {
        json_decref(node);
        return MJ_INTERNAL;
    }
    json_t *parent = depth == 0 ? t->threads : t->stack[depth - 1];
    t->stack[depth] = node; /* borrowed: the parent owns it */
    return json_array_append_new(parent, node) == 0 ? MJ_OK : MJ_INTERNAL;
}

/* thread MAILBOX ALGORITHM [SEARCH] [uid]: {threads: [node...]} */
static mj_outcome do_thread(mj_imap *s, const mj_cli_options *opts, json_t *r)
{
    bool uid = uid_word(opts, 2);
    int n = opts->n_args - (uid ? 1 : 0);
    thread_out *t = calloc(1, sizeof *t);
    if (t == NULL || (t->threads = json_array()) == NULL) {
        free(t);
        return no_memory(mj_imap_error(s));
    }
    json_object_set_new(r, "threads", t->threads);
    mj_outcome o = select_mailbox(s, opts->args[0], true);
    if (o == MJ_OK)
        o = mj_imap_thread(s, uid, opts->args[1], NULL, n > 2 ? opts->args[2] : NULL,
                           add_thread_node, t);
    free(t);
    return o;
}

static json_t *uidplus_json(const mj_imap_uidplus *u, bool copy)
{
    json_t *j = json_pack("{s:I, s:s}", "uidvalidity", (json_int_t)u->uidvalidity, copy ? "dest" : "uid",
                          u->dest);
    if (j != NULL && copy)
        json_object_set_new(j, "source", json_string(u->source));
    return j;
}

static mj_outcome copy_or_move(mj_imap *s, const mj_cli_options *opts, json_t *r, bool move)
{
    mj_imap_uidplus cu;
    mj_outcome o = select_mailbox(s, opts->args[0], false);
    if (o == MJ_OK)
        o = mj_imap_copy(s, uid_word(opts, 3), move, opts->args[1], opts->args[2], &cu);
    if (o == MJ_OK && cu.present)
        json_object_set_new(r, "copyuid", uidplus_json(&cu, true));
    return o;
}

static mj_outcome do_copy(mj_imap *s, const mj_cli_options *opts, json_t *r)
{
    return copy_or_move(s, opts, r, false);
}

static mj_outcome do_move(mj_imap *s, const mj_cli_options *opts, json_t *r)
{
    return copy_or_move(s, opts, r, true);
}

static mj_outcome read_file(void *ctx, unsigned char *buf, size_t cap, size_t *len_out, mj_error *err)
{
    size_t n = fread(buf, 1, cap, ctx);
    *len_out = n;
    if (n == 0 && ferror((FILE *)ctx))
        return mj_error_set(err, MJ_INTERNAL, MJ_R_LOCAL_IO, "reading the message failed");
    return MJ_OK;
}

/* Whether the file holds a NUL byte (then APPEND sends it as a literal8); rewound after. */
static bool holds_nul(FILE *fp)
{
    unsigned char buf[16384];
    size_t n;
    bool nul = false;
    while (!nul && (n = fread(buf, 1, sizeof buf, fp)) > 0)
        nul = memchr(buf, 0, n) != NULL;
    rewind(fp);
    return nul;
}

/*
 * The message as a seekable file of known size: stdin that is a pipe is
 * spooled.  *binary_out: it holds NUL bytes (RFC 3516 literal8 needed).
 */
static FILE *message_file(const char *path, uint64_t *size_out, bool *binary_out, mj_error *err)
{
    FILE *fp = strcmp(path, "-") == 0 ? mj_cli_tmpfile() : fopen(path, "rb");
    if (fp != NULL && strcmp(path, "-") == 0) {
        unsigned char buf[16384];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)
            if (fwrite(buf, 1, n, fp) != n)
                break;
        rewind(fp);
    }
    struct stat st;
    if (fp == NULL || fstat(fileno(fp), &st) != 0) {
        char q[256];
        mj_escape(path, strlen(path), q, sizeof q);
        mj_error_set(err, MJ_INTERNAL, MJ_R_LOCAL_IO, "cannot read the message '%s': %s", q,
                     strerror(errno));
        if (fp != NULL)
            fclose(fp);
        return NULL;
    }
    *size_out = (uint64_t)st.st_size;
    *binary_out = holds_nul(fp);
    return fp;
}

/* The messages of one append: their files and the words that describe them. */
typedef struct append_in {
    size_t n;
    mj_imap_append_msg msgs[MJ_IMAP_APPEND_MAX];
    FILE *files[MJ_IMAP_APPEND_MAX];
} append_in;

/*
 * append MAILBOX [FILE|-] [FLAGS] (one message, as before) or
 * append MAILBOX FILE [flags=FLAGS] [date=DATE] [FILE [flags=..] [date=..]]...
 * A word starting with '\' or '(' is the flags of the file before it; "-" (stdin) once.
 */
static mj_outcome append_words(mj_imap *s, const mj_cli_options *opts, append_in *in)
{
    mj_error *err = mj_imap_error(s);
    bool stdin_used = false;
    for (int i = 1; i < opts->n_args; i++) {
        const char *w = opts->args[i];
        mj_imap_append_msg *last = in->n > 0 ? &in->msgs[in->n - 1] : NULL;
        if (last != NULL && strncmp(w, "flags=", 6) == 0) {
            last->flags = w + 6;
        } else if (last != NULL && (w[0] == '\\' || w[0] == '(')) {
            last->flags = w;
        } else if (last != NULL && strncmp(w, "date=", 5) == 0) {
            last->date = w + 5;
        } else {
            if (in->n == MJ_IMAP_APPEND_MAX)
                return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                                    "append takes at most %d messages", MJ_IMAP_APPEND_MAX);
            if (strcmp(w, "-") == 0 && stdin_used)
                return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                                    "append reads stdin (\"-\") once only");
            stdin_used |= strcmp(w, "-") == 0;
            FILE *fp = message_file(w, &in->msgs[in->n].size, &in->msgs[in->n].binary, err);
            if (fp == NULL)
                return MJ_INTERNAL;
            in->files[in->n] = fp;
            in->msgs[in->n].read = read_file;
            in->msgs[in->n].ctx = fp;
            in->n++;
        }
    }
    if (in->n == 0) { /* no file: --message, else stdin */
        const char *path = opts->message != NULL ? opts->message : "-";
        FILE *fp = message_file(path, &in->msgs[0].size, &in->msgs[0].binary, err);
        if (fp == NULL)
            return MJ_INTERNAL;
        in->files[0] = fp;
        in->msgs[0].read = read_file;
        in->msgs[0].ctx = fp;
        in->n = 1;
    }
    return MJ_OK;
}

static mj_outcome do_append(mj_imap *s, const mj_cli_options *opts, json_t *r)
{
    append_in *in = calloc(1, sizeof *in);
    if (in == NULL)
        return no_memory(mj_imap_error(s));
    mj_imap_uidplus au;
    size_t appended = 0;
    mj_outcome o = append_words(s, opts, in);
    if (o == MJ_OK)
        o = mj_imap_append_many(s, opts->args[0], in->msgs, in->n, &appended, &au);
    for (size_t i = 0; i < in->n; i++)
        fclose(in->files[i]);
    if (o == MJ_OK) {
        json_object_set_new(r, "appended", json_integer((json_int_t)appended));
        if (au.present)
            json_object_set_new(r, "appenduid", uidplus_json(&au, false));
    }
    free(in);
    return o;
}

static mj_outcome do_idle(mj_imap *s, const mj_cli_options *opts, json_t *r)
{
    char *end = NULL;
    unsigned long secs = strtoul(opts->args[1], &end, 10);
    bool until_event = opts->n_args > 2 && strcasecmp(opts->args[2], "event") == 0;
    if (end == opts->args[1] || *end != '\0' || secs > IMAP_CLI_IDLE_MAX ||
        (opts->n_args > 2 && !until_event))
        return mj_error_set(mj_imap_error(s), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "idle takes MAILBOX SECONDS [event], SECONDS at most %u", IMAP_CLI_IDLE_MAX);
    unsigned events = 0;
    changes_out co;
    mj_outcome o = select_mailbox(s, opts->args[0], true);
    if (o == MJ_OK) {
        changes_begin(s, &co, false);
        o = changes_end(s, &co, mj_imap_idle(s, (unsigned)secs, until_event, &events), r);
    }
    if (o == MJ_OK) {
        json_object_set_new(r, "events", json_integer(events));
        const mj_imap_mailbox_info *m = mj_imap_selected(s);
        if (m != NULL)
            set_int(r, "exists", m->exists);
    }
    return o;
}

/* ---- the table ---------------------------------------------------------------------------------------- */

/* One row's handler: run() with do_NAME; login says whether a user is required. */
#define IMAP_OP(name, login)                                                                       \
    static mj_outcome op_##name(const mj_cli_options *opts, const mj_conn_config *cfg,             \
                                json_t **result_out, mj_error *err)                                \
    {                                                                                              \
        return run(opts, cfg, login, do_##name, result_out, err);                                  \
    }
IMAP_OP(capability, false)
IMAP_OP(login, true)
IMAP_OP(namespace, true)
IMAP_OP(list, true)
IMAP_OP(select, true)
IMAP_OP(status, true)
IMAP_OP(create, true)
IMAP_OP(delete, true)
IMAP_OP(rename, true)
IMAP_OP(subscribe, true)
IMAP_OP(expunge, true)
IMAP_OP(quota, true)
IMAP_OP(fetch, true)
IMAP_OP(store, true)
IMAP_OP(search, true)
IMAP_OP(copy, true)
IMAP_OP(move, true)
IMAP_OP(append, true)
IMAP_OP(idle, true)
IMAP_OP(sort, true)
IMAP_OP(thread, true)
#undef IMAP_OP

#define I MJ_CLI_PROTO_BIT(MJ_PROTO_IMAP)
const mj_cli_op mj_cli_imap_ops[] = {
    {I, "capability", op_capability, 0, 0, "the server's capabilities (after STARTTLS and login)"},
    {I, "login", op_login, 0, 0, "log in; the capabilities after authentication"},
    {I, "namespace", op_namespace, 0, 0, "personal, other and shared namespaces"},
    {I, "list", op_list, 0, 2,
     "[--list-select W] [--list-return W] [--list-status ITEMS] [[REFERENCE] PATTERN]: mailboxes "
     "(with status, childinfo)"},
    {I, "select", op_select, 1, 2, "[--condstore|--qresync V:M[:UIDS] [--seq-match SEQS --uid-match UIDS]] MAILBOX [readonly]: exists, recent, uidvalidity, uidnext, flags, highestmodseq"},
    {I, "status", op_status, 1, 1, "MAILBOX: messages, recent, uidnext, uidvalidity, unseen"},
    {I, "create", op_create, 1, 1, "MAILBOX"},
    {I, "delete", op_delete, 1, 1, "MAILBOX"},
    {I, "rename", op_rename, 2, 2, "FROM TO"},
    {I, "subscribe", op_subscribe, 1, 1, "MAILBOX"},
    {I, "expunge", op_expunge, 1, 3, "MAILBOX [SET uid]: remove messages marked \\Deleted (UID EXPUNGE SET): expunged, vanished"},
    {I, "quota", op_quota, 0, 2, "[MAILBOX]: GETQUOTAROOT; ROOT root: GETQUOTA of one root"},
    {I, "fetch", op_fetch, 2, 4, "[--changedsince N [--vanished]] MAILBOX SET [ITEMS] [uid]: seq, uid, flags, size, modseq, body_sha256 (--output PATH: the bodies)"},
    {I, "store", op_store, 4, 5, "[--unchangedsince N] [--silent] MAILBOX SET add|remove|replace FLAGS [uid]: messages, modified"},
    {I, "search", op_search, 2, 3, "MAILBOX CRITERIA [uid]: matching numbers"},
    {I, "copy", op_copy, 3, 4, "MAILBOX SET TO [uid]: copyuid"},
    {I, "move", op_move, 3, 4, "MAILBOX SET TO [uid]: copyuid"},
    {I, "append", op_append, 1, 1 + 3 * MJ_IMAP_APPEND_MAX,
     "MAILBOX [FILE|- [FLAGS|flags=FLAGS] [date=DATE]]...: appended, appenduid (MULTIAPPEND when "
     "offered; a file with NUL bytes as a literal8, BINARY; default: --message or stdin)"},
    {I, "idle", op_idle, 2, 3, "MAILBOX SECONDS [event]: untagged events while idling"},
    {I, "sort", op_sort, 2, 4,
     "[--return OPTS] MAILBOX CRITERIA [SEARCH] [uid]: numbers in SORT order (RFC 5256); with "
     "--return (ESORT, RFC 5267) also min, max, count"},
    {I, "thread", op_thread, 2, 4,
     "MAILBOX ALGORITHM [SEARCH] [uid]: threads as nested lists [number, child...] (RFC 5256)"},
    {0, NULL, NULL, 0, 0, NULL},
};
#undef I
