/*
 * ops_pop3.c: the POP3 operations of `mj` (rows of mj_cli_pop3_ops), over
 * the POP3 client of mailjig/pop3.h (RFC 1939, RFC 2449, RFC 5034).
 *
 * Every operation connects (STLS as --security says), authenticates when a
 * user is given (--user or the URL's; password, --token-file, --mechanism),
 * runs, and sends QUIT.  QUIT's answer matters only to dele: deletions are
 * committed by QUIT alone (RFC 1939 §6), so a refused QUIT fails dele.
 *
 * Message bodies (retr, top) go to FILE when given ("-" is stdout).  With
 * no FILE they go to stdout in text mode (and the result lines are left out,
 * so the output is the message alone), and are only hashed with --json (the
 * JSON object owns stdout).  A body that fails halfway is removed from FILE
 * when FILE is a regular file (never /dev/null, a FIFO or a device).
 * Results follow SCENARIOS.md: stat {count, size}; list/uidl {messages:
 * [{number, size}] / [{number, uid}]}; retr/top {message_sha256, size}, and
 * for a range {messages: [{number, message_sha256, size}]}.
 * A range keeps one 48-byte record per message (not jansson objects) and
 * hands them to json_out.c as a stream, printed entry by entry: peak memory
 * stays flat in the range's length (issue 7).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "mj_cli.h"

/* Most messages one range ("N-M") may name. */
#define POP3_CLI_RANGE_MAX 100000u

static mj_outcome op_capa(const mj_cli_options *, const mj_conn_config *, json_t **, mj_error *);
static mj_outcome op_stat(const mj_cli_options *, const mj_conn_config *, json_t **, mj_error *);
static mj_outcome op_list(const mj_cli_options *, const mj_conn_config *, json_t **, mj_error *);
static mj_outcome op_uidl(const mj_cli_options *, const mj_conn_config *, json_t **, mj_error *);
static mj_outcome op_retr(const mj_cli_options *, const mj_conn_config *, json_t **, mj_error *);
static mj_outcome op_top(const mj_cli_options *, const mj_conn_config *, json_t **, mj_error *);
static mj_outcome op_dele(const mj_cli_options *, const mj_conn_config *, json_t **, mj_error *);
static mj_outcome op_rset(const mj_cli_options *, const mj_conn_config *, json_t **, mj_error *);
static mj_outcome op_noop(const mj_cli_options *, const mj_conn_config *, json_t **, mj_error *);

#define P MJ_CLI_PROTO_BIT(MJ_PROTO_POP3)
const mj_cli_op mj_cli_pop3_ops[] = {
    {P, "capa", op_capa, 0, 0, "the server's capabilities (after STLS and login)"},
    {P, "stat", op_stat, 0, 0, "message count and total size"},
    {P, "list", op_list, 0, 1, "[N]: message sizes"},
    {P, "uidl", op_uidl, 0, 1, "[N]: unique ids"},
    {P, "retr", op_retr, 1, 2, "N|N-M [FILE]: messages to FILE or stdout, with sha256 and size"},
    {P, "top", op_top, 2, 3, "N LINES [FILE]: headers and LINES body lines"},
    {P, "dele", op_dele, 1, 1, "N|N-M: delete (committed by QUIT)"},
    {P, "rset", op_rset, 0, 0, "unmark deletions"},
    {P, "noop", op_noop, 0, 0, "keep-alive"},
    {0, NULL, NULL, 0, 0, NULL},
};
#undef P

/* ---- session ------------------------------------------------------------------------ */

static mj_outcome no_memory(mj_error *err)
{
    return mj_error_set(err, MJ_INTERNAL, MJ_R_NO_MEMORY, "out of memory building the result");
}

/* Connect, STLS, and log in when a user is given. */
static mj_outcome open_session(const mj_cli_options *opts, const mj_conn_config *cfg,
                               bool need_login, mj_pop3 **s_out, mj_error *err)
{
    mj_pop3_options po;
    memset(&po, 0, sizeof po);
    po.policy.allow_insecure_auth = opts->allow_insecure_auth;
    po.allow_apop_insecure = opts->allow_insecure_auth; /* the one explicit opt-in */
    if (need_login && opts->user[0] == '\0')
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "%s needs a login: give --user (or user@ in the URL)", opts->op);
    mj_outcome o = mj_pop3_connect(cfg, &po, s_out, err);
    if (o != MJ_OK || opts->user[0] == '\0')
        return o;
    mj_sasl_creds creds = mj_cli_creds(opts);
    o = mj_pop3_login(*s_out, &creds, opts->mechanism);
    if (o != MJ_OK) {
        *err = *mj_pop3_error(*s_out);
        mj_pop3_close(*s_out);
        *s_out = NULL;
    }
    return o;
}

/* QUIT and close.  o is the operation's outcome; QUIT counts when commit. */
static mj_outcome close_session(mj_pop3 *s, mj_outcome o, bool commit, mj_error *err)
{
    if (o != MJ_OK) {
        *err = *mj_pop3_error(s);
    } else if (mj_pop3_get_state(s) != MJ_POP3_STATE_FAILED) {
        mj_outcome q = mj_pop3_quit(s);
        if (commit && q != MJ_OK) {
            *err = *mj_pop3_error(s);
            o = q;
        }
    }
    mj_pop3_close(s);
    return o;
}

/* ---- arguments ------------------------------------------------------------------------ */

static mj_outcome parse_u32(const char *text, const char *what, uint32_t *out, mj_error *err)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = text[0] >= '0' && text[0] <= '9' ? strtoul(text, &end, 10) : 0;
    if (end == NULL || *end != '\0' || errno != 0 || v > UINT32_MAX) {
        char q[64];
        mj_escape(text, strlen(text), q, sizeof q);
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT, "%s must be a number, not '%s'",
                            what, q);
    }
    *out = (uint32_t)v;
    return MJ_OK;
}

/* "N" or "N-M" (1 <= N <= M, at most POP3_CLI_RANGE_MAX messages). */
static mj_outcome parse_range(const char *text, uint32_t *first, uint32_t *last, mj_error *err)
{
    char buf[32];
    if (strlen(text) >= sizeof buf)
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT, "message range too long");
    strcpy(buf, text);
    char *dash = strchr(buf, '-');
    if (dash != NULL)
        *dash = '\0';
    if (parse_u32(buf, "message number", first, err) != MJ_OK)
        return MJ_USAGE;
    *last = *first;
    if (dash != NULL && parse_u32(dash + 1, "message number", last, err) != MJ_OK)
        return MJ_USAGE;
    if (*first == 0 || *last < *first || *last - *first >= POP3_CLI_RANGE_MAX)
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "message range must be N or N-M with 1 <= N <= M and at most %u "
                            "messages",
                            POP3_CLI_RANGE_MAX);
    return MJ_OK;
}

/* ---- capa, stat, list, uidl, rset, noop ------------------------------------------------------- */

static mj_outcome op_capa(const mj_cli_options *opts, const mj_conn_config *cfg,
                          json_t **result_out, mj_error *err)
{
    mj_pop3 *s = NULL;
    mj_outcome o = open_session(opts, cfg, false, &s, err);
    if (o != MJ_OK)
        return o;
    const mj_pop3_caps *caps = mj_pop3_capabilities(s);
    json_t *list = json_array();
    for (size_t i = 0; list != NULL && i < caps->n_lines; i++)
        json_array_append_new(list, json_string(caps->lines[i]));
    json_t *r = list == NULL ? NULL
                             : json_pack("{s:O, s:b, s:b}", "capabilities", list, "capa_answered",
                                         caps->known, "tls",
                                         mj_conn_tls_state(mj_pop3_conn(s)) != MJ_TLS_NONE);
    json_decref(list);
    if (r == NULL)
        o = no_memory(mj_pop3_error(s));
    o = close_session(s, o, false, err);
    if (o == MJ_OK)
        *result_out = r;
    else
        json_decref(r);
    return o;
}

static mj_outcome op_stat(const mj_cli_options *opts, const mj_conn_config *cfg,
                          json_t **result_out, mj_error *err)
{
    mj_pop3 *s = NULL;
    mj_outcome o = open_session(opts, cfg, true, &s, err);
    if (o != MJ_OK)
        return o;
    uint32_t count = 0;
    uint64_t size = 0;
    o = mj_pop3_stat(s, &count, &size);
    o = close_session(s, o, false, err);
    if (o != MJ_OK)
        return o;
    *result_out = json_pack("{s:I, s:I}", "count", (json_int_t)count, "size", (json_int_t)size);
    return *result_out != NULL ? MJ_OK : no_memory(err);
}

static mj_outcome add_size(void *ctx, uint32_t number, uint64_t size)
{
    json_t *m = json_pack("{s:I, s:I}", "number", (json_int_t)number, "size", (json_int_t)size);
    return json_array_append_new(ctx, m) == 0 ? MJ_OK : MJ_INTERNAL;
}

static mj_outcome add_uid(void *ctx, uint32_t number, const char *uid)
{
    json_t *m = json_pack("{s:I, s:s}", "number", (json_int_t)number, "uid", uid);
    return json_array_append_new(ctx, m) == 0 ? MJ_OK : MJ_INTERNAL;
}

static mj_outcome listing(const mj_cli_options *opts, const mj_conn_config *cfg, bool uidl,
                          json_t **result_out, mj_error *err)
{
    uint32_t number = 0;
    if (opts->n_args == 1 && parse_u32(opts->args[0], "message number", &number, err) != MJ_OK)
        return MJ_USAGE;
    json_t *messages = json_array();
    if (messages == NULL)
        return no_memory(err);
    mj_pop3 *s = NULL;
    mj_outcome o = open_session(opts, cfg, true, &s, err);
    if (o == MJ_OK) {
        o = uidl ? mj_pop3_uidl(s, number, add_uid, messages)
                 : mj_pop3_list(s, number, add_size, messages);
        o = close_session(s, o, false, err);
    }
    if (o == MJ_OK && (*result_out = json_pack("{s:O}", "messages", messages)) == NULL)
        o = no_memory(err);
    json_decref(messages);
    return o;
}

static mj_outcome op_list(const mj_cli_options *opts, const mj_conn_config *cfg,
                          json_t **result_out, mj_error *err)
{
    return listing(opts, cfg, false, result_out, err);
}

static mj_outcome op_uidl(const mj_cli_options *opts, const mj_conn_config *cfg,
                          json_t **result_out, mj_error *err)
{
    return listing(opts, cfg, true, result_out, err);
}

/* rset and noop: one command, an empty result. */
static mj_outcome simple_op(const mj_cli_options *opts, const mj_conn_config *cfg,
                            mj_outcome (*fn)(mj_pop3 *), json_t **result_out, mj_error *err)
{
    mj_pop3 *s = NULL;
    mj_outcome o = open_session(opts, cfg, true, &s, err);
    if (o != MJ_OK)
        return o;
    o = close_session(s, fn(s), false, err);
    if (o != MJ_OK)
        return o;
    *result_out = json_object();
    return *result_out != NULL ? MJ_OK : no_memory(err);
}

static mj_outcome op_rset(const mj_cli_options *opts, const mj_conn_config *cfg,
                          json_t **result_out, mj_error *err)
{
    return simple_op(opts, cfg, mj_pop3_rset, result_out, err);
}

static mj_outcome op_noop(const mj_cli_options *opts, const mj_conn_config *cfg,
                          json_t **result_out, mj_error *err)
{
    return simple_op(opts, cfg, mj_pop3_noop, result_out, err);
}

/* ---- bodies: retr, top ------------------------------------------------------------------- */

/* SHA-256 digest length in bytes. */
#define POP3_CLI_SHA256_LEN 32

/* One message of a range's result: 48 bytes where a json_t entry took ~800. */
typedef struct range_rec {
    uint64_t size;
    uint32_t number;
    unsigned char sha256[POP3_CLI_SHA256_LEN];
} range_rec;

/* A range's results: owned by body_out, then by the stream (json_out.c). */
typedef struct range_recs {
    size_t n;   /* records filled */
    size_t cap; /* records allocated (the range's length, <= POP3_CLI_RANGE_MAX) */
    range_rec rec[];
} range_recs;

/* Where a body goes: hashed and counted, then written to fd (-1: nowhere). */
typedef struct body_out {
    int fd;
    bool close_fd;
    const char *path; /* removed when a body fails; NULL for stdout */
    EVP_MD_CTX *md;
    uint64_t size;
    range_recs *recs; /* range results; NULL once handed to the stream */
} body_out;

static mj_outcome hash_sink(void *ctx, const unsigned char *data, size_t len, mj_error *err)
{
    body_out *b = ctx;
    if (EVP_DigestUpdate(b->md, data, len) != 1)
        return mj_error_set(err, MJ_INTERNAL, MJ_R_SYSTEM, "SHA-256 failed");
    b->size += len;
    return b->fd >= 0 ? mj_sink_fd(&b->fd, data, len, err) : MJ_OK;
}

static mj_outcome body_open(const mj_cli_options *opts, int file_arg, body_out *b, mj_error *err)
{
    memset(b, 0, sizeof *b);
    b->fd = -1;
    const char *file = opts->n_args > file_arg ? opts->args[file_arg] : NULL;
    if (file != NULL && strcmp(file, "-") != 0) {
        b->fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (b->fd < 0) {
            char q[256];
            mj_escape(file, strlen(file), q, sizeof q);
            return mj_error_set(err, MJ_INTERNAL, MJ_R_LOCAL_IO, "cannot open '%s': %s", q,
                                strerror(errno));
        }
        b->close_fd = true;
        /* Only a regular file is removed when the body fails: FILE may be
         * /dev/null, a FIFO or a terminal, which must never be unlinked. */
        struct stat st;
        if (fstat(b->fd, &st) == 0 && S_ISREG(st.st_mode))
            b->path = file;
    } else if (file != NULL || !opts->json) {
        b->fd = STDOUT_FILENO;
    }
    b->md = EVP_MD_CTX_new();
    if (b->md == NULL) {
        if (b->close_fd)
            close(b->fd);
        return no_memory(err);
    }
    return MJ_OK;
}

/* Close; on failure a partial file is removed (never handed over as complete). */
static void body_close(body_out *b, mj_outcome o)
{
    if (b->close_fd && close(b->fd) != 0 && o == MJ_OK)
        o = MJ_INTERNAL;
    if (o != MJ_OK && b->path != NULL)
        unlink(b->path);
    EVP_MD_CTX_free(b->md);
    free(b->recs);
}

/* Finish the digest of the body just hashed into rec; the digest is reset. */
static bool body_digest(body_out *b, uint32_t number, range_rec *rec)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(b->md, md, &n) != 1 || n != POP3_CLI_SHA256_LEN ||
        EVP_DigestInit_ex(b->md, EVP_sha256(), NULL) != 1)
        return false;
    memcpy(rec->sha256, md, POP3_CLI_SHA256_LEN);
    rec->size = b->size;
    rec->number = number;
    b->size = 0;
    return true;
}

static void sha256_hex(const range_rec *rec, char text[2 * POP3_CLI_SHA256_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < POP3_CLI_SHA256_LEN; i++) {
        text[2 * i] = hex[rec->sha256[i] >> 4];
        text[2 * i + 1] = hex[rec->sha256[i] & 0xf];
    }
    text[2 * POP3_CLI_SHA256_LEN] = '\0';
}

/* {message_sha256, size} of the body just hashed (a single message). */
static json_t *body_result(body_out *b, uint32_t number)
{
    range_rec rec;
    char text[2 * POP3_CLI_SHA256_LEN + 1];
    if (!body_digest(b, number, &rec))
        return NULL;
    sha256_hex(&rec, text);
    return json_pack("{s:s, s:I}", "message_sha256", text, "size", (json_int_t)rec.size);
}

/* A range entry, in the bytes (and key order) the json_t version printed:
 * {"message_sha256":"..","size":N,"number":N}. */
static void range_write_entry(void *ctx, size_t i, FILE *out)
{
    const range_rec *rec = &((const range_recs *)ctx)->rec[i];
    char text[2 * POP3_CLI_SHA256_LEN + 1];
    sha256_hex(rec, text);
    fprintf(out, "{\"message_sha256\":\"%s\",\"size\":%llu,\"number\":%lu}", text,
            (unsigned long long)rec->size, (unsigned long)rec->number);
}

static void range_release(void *ctx)
{
    free(ctx);
}

static mj_outcome range_begin(void *ctx, uint32_t number, mj_sink *sink_out)
{
    (void)number;
    sink_out->fn = hash_sink;
    sink_out->ctx = ctx;
    return MJ_OK;
}

static mj_outcome range_end(void *ctx, uint32_t number, mj_outcome outcome, uint64_t size)
{
    body_out *b = ctx;
    (void)size;
    if (outcome != MJ_OK)
        return MJ_OK; /* the batch returns the first -ERR */
    if (b->recs->n >= b->recs->cap) /* more answers than numbers asked: never */
        return MJ_INTERNAL;
    if (!body_digest(b, number, &b->recs->rec[b->recs->n]))
        return MJ_INTERNAL;
    b->recs->n++;
    return MJ_OK;
}

/*
 * RETR of first..last (pipelined when the server allows it).  The records
 * are allocated for the whole range at once: n is the user's, capped by
 * POP3_CLI_RANGE_MAX (4.8 MB at most), and calloc'd pages cost memory only
 * once written.  *result_out is an empty object; the records become the
 * result stream in fetch, once the session has ended well.
 */
static mj_outcome retr_range(mj_pop3 *s, uint32_t first, uint32_t last, body_out *b,
                             json_t **result_out)
{
    size_t n = (size_t)(last - first) + 1;
    uint32_t *numbers = malloc(n * sizeof *numbers); /* n <= POP3_CLI_RANGE_MAX */
    b->recs = calloc(1, sizeof *b->recs + n * sizeof b->recs->rec[0]);
    if (numbers == NULL || b->recs == NULL) {
        free(numbers);
        return no_memory(mj_pop3_error(s));
    }
    b->recs->cap = n;
    for (size_t i = 0; i < n; i++)
        numbers[i] = first + (uint32_t)i;
    mj_pop3_batch batch = {range_begin, range_end, b};
    mj_outcome o = mj_pop3_retr_many(s, numbers, n, &batch);
    free(numbers);
    if (o == MJ_OK && (*result_out = json_object()) == NULL)
        o = no_memory(mj_pop3_error(s));
    return o;
}

/* Hand a range's records to json_out.c as the result (ok only). */
static void range_to_stream(body_out *b)
{
    mj_cli_stream st = {"messages", b->recs->n, range_write_entry, range_release, b->recs};
    b->recs = NULL;
    mj_cli_stream_set(&st);
}

static mj_outcome fetch(const mj_cli_options *opts, const mj_conn_config *cfg, bool top,
                        json_t **result_out, mj_error *err)
{
    uint32_t first = 0, last = 0, lines = 0;
    if (top ? parse_u32(opts->args[0], "message number", &first, err) != MJ_OK ||
                  parse_u32(opts->args[1], "line count", &lines, err) != MJ_OK
            : parse_range(opts->args[0], &first, &last, err) != MJ_OK)
        return MJ_USAGE;
    body_out b;
    mj_outcome o = body_open(opts, top ? 2 : 1, &b, err);
    if (o != MJ_OK)
        return o;
    if (EVP_DigestInit_ex(b.md, EVP_sha256(), NULL) != 1) {
        body_close(&b, MJ_INTERNAL);
        return mj_error_set(err, MJ_INTERNAL, MJ_R_SYSTEM, "SHA-256 is not available");
    }
    mj_pop3 *s = NULL;
    o = open_session(opts, cfg, true, &s, err);
    if (o == MJ_OK) {
        mj_sink sink = {hash_sink, &b};
        if (top)
            o = mj_pop3_top(s, first, lines, &sink, NULL);
        else if (last > first)
            o = retr_range(s, first, last, &b, result_out);
        else
            o = mj_pop3_retr(s, first, &sink, NULL);
        if (o == MJ_OK && *result_out == NULL &&
            (*result_out = body_result(&b, first)) == NULL)
            o = no_memory(mj_pop3_error(s));
        o = close_session(s, o, false, err);
    }
    if (o == MJ_OK && b.fd == STDOUT_FILENO && !opts->json) {
        json_decref(*result_out); /* stdout holds the message alone */
        *result_out = json_object();
    } else if (o == MJ_OK && b.recs != NULL) {
        range_to_stream(&b);
    }
    if (o != MJ_OK) {
        json_decref(*result_out);
        *result_out = NULL;
    }
    body_close(&b, o);
    return o;
}

static mj_outcome op_retr(const mj_cli_options *opts, const mj_conn_config *cfg,
                          json_t **result_out, mj_error *err)
{
    return fetch(opts, cfg, false, result_out, err);
}

static mj_outcome op_top(const mj_cli_options *opts, const mj_conn_config *cfg,
                         json_t **result_out, mj_error *err)
{
    return fetch(opts, cfg, true, result_out, err);
}

/* ---- dele ---------------------------------------------------------------------------------------- */

static mj_outcome op_dele(const mj_cli_options *opts, const mj_conn_config *cfg,
                          json_t **result_out, mj_error *err)
{
    uint32_t first = 0, last = 0;
    if (parse_range(opts->args[0], &first, &last, err) != MJ_OK)
        return MJ_USAGE;
    size_t n = (size_t)(last - first) + 1;
    uint32_t *numbers = malloc(n * sizeof *numbers); /* n <= POP3_CLI_RANGE_MAX */
    json_t *deleted = json_array();
    if (numbers == NULL || deleted == NULL) {
        free(numbers);
        json_decref(deleted);
        return no_memory(err);
    }
    for (size_t i = 0; i < n; i++) {
        numbers[i] = first + (uint32_t)i;
        json_array_append_new(deleted, json_integer(numbers[i]));
    }
    mj_pop3 *s = NULL;
    mj_outcome o = open_session(opts, cfg, true, &s, err);
    if (o == MJ_OK)
        o = close_session(s, mj_pop3_dele_many(s, numbers, n), true, err);
    free(numbers);
    if (o == MJ_OK && (*result_out = json_pack("{s:O}", "deleted", deleted)) == NULL)
        o = no_memory(err);
    json_decref(deleted);
    return o;
}
