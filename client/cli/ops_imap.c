/*
 * ops_imap.c: the IMAP operations of `mj` (rows of mj_cli_imap_ops), over
 * the IMAP client of mailjig/imap.h (RFC 9051, RFC 3501 and extensions).
 *
 * Every operation connects (STARTTLS as --security says), logs in when a
 * user is given (--user or the URL's; password, --token-file, --mechanism),
 * runs, and sends LOGOUT (whose answer does not change the outcome).
 * Operations on messages take the mailbox first; a trailing word "uid"
 * makes the set a UID set (UID FETCH, UID STORE, ...).
 * Results follow SCENARIOS.md / scenarios/FORMAT.md: login {capabilities};
 * list {mailboxes: [{name, delimiter, attributes}]}; select {exists, recent,
 * uidvalidity, uidnext, flags, ...}; fetch {messages: [{seq, uid, flags,
 * size, body_sha256}]}; store {messages}; copy/move {copyuid};
 * append {appenduid}.
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
    if (need_login && opts->user[0] == '\0')
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "%s needs a login: give --user (or user@ in the URL)", opts->op);
    mj_outcome o = mj_imap_connect(cfg, &io, s_out, err);
    if (o != MJ_OK || opts->user[0] == '\0')
        return o;
    mj_sasl_creds creds = {.username = opts->user,
                           .password = opts->has_password ? opts->password : NULL,
                           .authzid = opts->authzid,
                           .token = opts->has_token ? opts->token : NULL,
                           .host = opts->url.host,
                           .port = opts->port};
    o = mj_imap_login(*s_out, &creds, opts->mechanism);
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
    (void)opts;
    mj_outcome o = mj_imap_capabilities(s)->known ? MJ_OK : mj_imap_capability(s);
    if (o != MJ_OK)
        return o;
    json_object_set_new(r, "capabilities", caps_json(s));
    json_object_set_new(r, "tls", json_boolean(mj_conn_tls_state(mj_imap_conn(s)) != MJ_TLS_NONE));
    return MJ_OK;
}

/* login: the capabilities after authentication: those the server sent with its OK, else
   those mj_imap_login asked for again ([] when the server refused that CAPABILITY) */
static mj_outcome do_login(mj_imap *s, const mj_cli_options *opts, json_t *r)
{
    (void)opts;
    json_object_set_new(r, "capabilities", caps_json(s));
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

static mj_outcome add_mailbox(void *ctx, const mj_imap_list_entry *e)
{
    char d[2] = {e->delimiter, '\0'};
    json_t *m = json_pack("{s:s, s:s?, s:o}", "name", e->name, "delimiter",
                          e->delimiter ? d : NULL, "attributes",
                          string_list(e->attributes, e->n_attributes));
    return m != NULL && json_array_append_new(ctx, m) == 0 ? MJ_OK : MJ_INTERNAL;
}

static mj_outcome do_list(mj_imap *s, const mj_cli_options *opts, json_t *r)
{
    const char *ref = opts->n_args == 2 ? opts->args[0] : "";
    const char *pattern = opts->n_args >= 1 ? opts->args[opts->n_args - 1] : "*";
    json_t *a = json_array();
    if (a == NULL)
        return no_memory(mj_imap_error(s));
    json_object_set_new(r, "mailboxes", a);
    return mj_imap_list(s, ref, pattern, false, add_mailbox, a);
}

static void set_int(json_t *r, const char *key, int64_t v)
{
    if (v >= 0)
        json_object_set_new(r, key, json_integer(v));
}

static mj_outcome do_select(mj_imap *s, const mj_cli_options *opts, json_t *r)
{
    bool ro = opts->n_args > 1 && (strcasecmp(opts->args[1], "readonly") == 0 ||
                                   strcasecmp(opts->args[1], "examine") == 0);
    if (opts->n_args > 1 && !ro)
        return mj_error_set(mj_imap_error(s), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "select takes MAILBOX [readonly]");
    mj_imap_mailbox_info m;
    mj_outcome o = mj_imap_select(s, opts->args[0], ro, &m);
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

static mj_outcome do_expunge(mj_imap *s, const mj_cli_options *opts, json_t *r)
{
    (void)r;
    mj_outcome o = select_mailbox(s, opts->args[0], false);
    return o == MJ_OK ? mj_imap_selected_command(s, MJ_IMAP_EXPUNGE) : o;
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
    return mj_imap_quota(s, opts->n_args > 0 ? opts->args[0] : "INBOX", add_quota, a);
}

/* ---- messages -------------------------------------------------------------------------------------- */

/* FETCH results: each message's body sections hashed as they stream. */
typedef struct fetch_out {
    json_t *messages;
    EVP_MD_CTX *md;
    uint32_t seq;  /* whose bytes md holds (0: none) */
    bool failed;
} fetch_out;

static mj_outcome fetch_body(void *ctx, uint32_t seq, const char *section, const unsigned char *data,
                             size_t len)
{
    fetch_out *fo = ctx;
    (void)section;
    if (fo->seq != seq) {
        if (EVP_DigestInit_ex(fo->md, EVP_sha256(), NULL) != 1)
            return MJ_INTERNAL;
        fo->seq = seq;
    }
    return EVP_DigestUpdate(fo->md, data, len) == 1 ? MJ_OK : MJ_INTERNAL;
}

static json_t *digest_hex(EVP_MD_CTX *md)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    char text[2 * EVP_MAX_MD_SIZE + 1];
    if (EVP_DigestFinal_ex(md, d, &n) != 1)
        return NULL;
    for (unsigned i = 0; i < n; i++) {
        text[2 * i] = hex[d[i] >> 4];
        text[2 * i + 1] = hex[d[i] & 0xf];
    }
    text[2 * n] = '\0';
    return json_string(text);
}

static mj_outcome fetch_message(void *ctx, const mj_imap_message *m)
{
    fetch_out *fo = ctx;
    json_t *j = json_pack("{s:I}", "seq", (json_int_t)m->seq);
    if (j == NULL)
        return MJ_INTERNAL;
    if (m->has_uid)
        json_object_set_new(j, "uid", json_integer(m->uid));
    if (m->has_flags)
        json_object_set_new(j, "flags", string_list(m->flags, m->n_flags));
    if (m->has_size)
        json_object_set_new(j, "size", json_integer((json_int_t)m->size));
    if (m->internaldate != NULL)
        json_object_set_new(j, "internaldate", json_string(m->internaldate));
    if (m->has_envelope)
        json_object_set_new(j, "subject", m->subject ? json_string(m->subject) : json_null());
    if (m->envelope != NULL)
        json_object_set_new(j, "envelope", mj_cli_json_envelope(m->envelope));
    if (m->body != NULL)
        json_object_set_new(j, "bodystructure", mj_cli_json_body(m->body));
    if (fo->seq == m->seq) {
        json_object_set_new(j, "body_sha256", digest_hex(fo->md));
        json_object_set_new(j, "body_size", json_integer((json_int_t)m->body_bytes));
        fo->seq = 0;
    }
    return json_array_append_new(fo->messages, j) == 0 ? MJ_OK : MJ_INTERNAL;
}

static mj_outcome with_messages(mj_imap *s, json_t *r, fetch_out *fo)
{
    memset(fo, 0, sizeof *fo);
    fo->messages = json_array();
    fo->md = EVP_MD_CTX_new();
    if (fo->messages == NULL || fo->md == NULL) {
        json_decref(fo->messages);
        EVP_MD_CTX_free(fo->md);
        return no_memory(mj_imap_error(s));
    }
    json_object_set_new(r, "messages", fo->messages);
    return MJ_OK;
}

static mj_outcome do_fetch(mj_imap *s, const mj_cli_options *opts, json_t *r)
{
    bool uid = uid_word(opts, 2);
    int n = opts->n_args - (uid ? 1 : 0);
    const char *items = n > 2 ? opts->args[2] : IMAP_CLI_FETCH_ITEMS;
    fetch_out fo;
    mj_outcome o = with_messages(s, r, &fo);
    if (o == MJ_OK)
        o = select_mailbox(s, opts->args[0], true);
    if (o == MJ_OK) {
        mj_imap_fetch_cb cb = {fetch_body, fetch_message, &fo};
        o = mj_imap_fetch(s, uid, opts->args[1], items, &cb);
    }
    EVP_MD_CTX_free(fo.md);
    return o;
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
    fetch_out fo;
    mj_outcome o = with_messages(s, r, &fo);
    if (o == MJ_OK)
        o = select_mailbox(s, opts->args[0], false);
    if (o == MJ_OK) {
        mj_imap_fetch_cb cb = {NULL, fetch_message, &fo};
        o = mj_imap_store(s, uid_word(opts, 4), opts->args[1], modes[i].mode, opts->args[3], false, &cb);
    }
    EVP_MD_CTX_free(fo.md);
    return o;
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

/* The message as a seekable file of known size: stdin that is a pipe is spooled. */
static FILE *message_file(const char *path, uint64_t *size_out, mj_error *err)
{
    FILE *fp = strcmp(path, "-") == 0 ? tmpfile() : fopen(path, "rb");
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
    return fp;
}

static mj_outcome do_append(mj_imap *s, const mj_cli_options *opts, json_t *r)
{
    const char *path = opts->n_args > 1 ? opts->args[1] : opts->message != NULL ? opts->message : "-";
    uint64_t size = 0;
    FILE *fp = message_file(path, &size, mj_imap_error(s));
    if (fp == NULL)
        return MJ_INTERNAL;
    mj_imap_uidplus au;
    mj_outcome o = mj_imap_append(s, opts->args[0], opts->n_args > 2 ? opts->args[2] : NULL, size,
                                  read_file, fp, &au);
    fclose(fp);
    if (o == MJ_OK && au.present)
        json_object_set_new(r, "appenduid", uidplus_json(&au, false));
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
    mj_outcome o = select_mailbox(s, opts->args[0], true);
    if (o == MJ_OK)
        o = mj_imap_idle(s, (unsigned)secs, until_event, &events);
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
#undef IMAP_OP

#define I MJ_CLI_PROTO_BIT(MJ_PROTO_IMAP)
const mj_cli_op mj_cli_imap_ops[] = {
    {I, "capability", op_capability, 0, 0, "the server's capabilities (after STARTTLS and login)"},
    {I, "login", op_login, 0, 0, "log in; the capabilities after authentication"},
    {I, "namespace", op_namespace, 0, 0, "personal, other and shared namespaces"},
    {I, "list", op_list, 0, 2, "[[REFERENCE] PATTERN]: mailboxes"},
    {I, "select", op_select, 1, 2, "MAILBOX [readonly]: exists, recent, uidvalidity, uidnext, flags"},
    {I, "status", op_status, 1, 1, "MAILBOX: messages, recent, uidnext, uidvalidity, unseen"},
    {I, "create", op_create, 1, 1, "MAILBOX"},
    {I, "delete", op_delete, 1, 1, "MAILBOX"},
    {I, "rename", op_rename, 2, 2, "FROM TO"},
    {I, "subscribe", op_subscribe, 1, 1, "MAILBOX"},
    {I, "expunge", op_expunge, 1, 1, "MAILBOX: remove messages marked \\Deleted"},
    {I, "quota", op_quota, 0, 1, "[MAILBOX]: GETQUOTAROOT"},
    {I, "fetch", op_fetch, 2, 4, "MAILBOX SET [ITEMS] [uid]: seq, uid, flags, size, body_sha256"},
    {I, "store", op_store, 4, 5, "MAILBOX SET add|remove|replace FLAGS [uid]"},
    {I, "search", op_search, 2, 3, "MAILBOX CRITERIA [uid]: matching numbers"},
    {I, "copy", op_copy, 3, 4, "MAILBOX SET TO [uid]: copyuid"},
    {I, "move", op_move, 3, 4, "MAILBOX SET TO [uid]: copyuid"},
    {I, "append", op_append, 1, 3, "MAILBOX [FILE|-] [FLAGS]: appenduid (default: --message or stdin)"},
    {I, "idle", op_idle, 2, 3, "MAILBOX SECONDS [event]: untagged events while idling"},
    {0, NULL, NULL, 0, 0, NULL},
};
#undef I
