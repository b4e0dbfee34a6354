/*
 * ops_smtp.c: the SMTP operations of `mj` (rows of mj_cli_smtp_ops), over
 * the library's SMTP session (mailjig/smtp.h).  Results as SCENARIOS.md
 * lists them:
 *   ehlo            {capabilities: [...], helo: bool, tls: "none"|"unverified"|"verified"}
 *   send            (--body, --chunking, --smtputf8, --requiretls, --ret, --envid,
 *                   --notify, --rcpt-notify, --orcpt: the envelope's extensions)
 *                   {accepted: [...], rejected: [{recipient, code, enhanced, text}],
 *                    reply: {code, enhanced, text}}
 *   verify ADDRESS  {code, enhanced, text}
 *   noop            {code}
 * send, verify and noop authenticate first when a user is given (--user or
 * the URL's user@), with the password or the token; ehlo never does.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mj_cli.h"

/* Longest escaped server text put into a result. */
#define SMTP_TEXT_MAX 1024

static mj_outcome op_ehlo(const mj_cli_options *opts, const mj_conn_config *cfg,
                          json_t **result_out, mj_error *err);
static mj_outcome op_send(const mj_cli_options *opts, const mj_conn_config *cfg,
                          json_t **result_out, mj_error *err);
static mj_outcome op_verify(const mj_cli_options *opts, const mj_conn_config *cfg,
                            json_t **result_out, mj_error *err);
static mj_outcome op_noop(const mj_cli_options *opts, const mj_conn_config *cfg,
                          json_t **result_out, mj_error *err);

#define SMTP_ONLY MJ_CLI_PROTO_BIT(MJ_PROTO_SMTP)

const mj_cli_op mj_cli_smtp_ops[] = {
    {SMTP_ONLY, "ehlo", op_ehlo, 0, 0, "greet the server (and STARTTLS); list its capabilities"},
    {SMTP_ONLY, "send", op_send, 0, 0,
     "send --message FILE|- from --from to every --to; authenticates first with --user"},
    {SMTP_ONLY, "verify", op_verify, 1, 1, "VRFY ADDRESS"},
    {SMTP_ONLY, "noop", op_noop, 0, 0, "NOOP"},
    {0, NULL, NULL, 0, 0, NULL},
};

/* ---- helpers ---------------------------------------------------------------- */

static json_t *escaped(const char *s, size_t len)
{
    char buf[SMTP_TEXT_MAX];
    return json_string(mj_escape(s, len, buf, sizeof buf));
}

static mj_outcome no_memory(json_t *j, mj_error *err)
{
    json_decref(j);
    return mj_error_set(err, MJ_INTERNAL, MJ_R_NO_MEMORY, "out of memory building the result");
}

static const char *tls_name(mj_tls_state st)
{
    static const char *const names[] = {
        [MJ_TLS_NONE] = "none", [MJ_TLS_UNVERIFIED] = "unverified", [MJ_TLS_VERIFIED] = "verified"};
    return (unsigned)st <= MJ_TLS_VERIFIED ? names[st] : "none";
}

/* End the session: QUIT when it is usable, keep err when the operation failed. */
static mj_outcome finish(mj_smtp *s, mj_outcome o, json_t **result_out, json_t *result,
                         mj_error *err)
{
    if (o != MJ_OK) {
        *err = *mj_smtp_error(s);
        json_decref(result);
    } else {
        *result_out = result;
    }
    mj_smtp_quit(s);
    mj_smtp_free(s);
    return o;
}

/* Authenticate when a user is given (send, verify, noop). */
static mj_outcome maybe_auth(mj_smtp *s, const mj_cli_options *opts, mj_error *err)
{
    if (opts->user[0] == '\0')
        return MJ_OK;
    bool no_secret_needed =
        opts->mechanism == MJ_SASL_EXTERNAL || opts->mechanism == MJ_SASL_ANONYMOUS;
    if (!opts->has_password && !opts->has_token && !no_secret_needed)
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "a user is given but no --password-file or --token-file");
    mj_sasl_creds creds = mj_cli_creds(opts);
    mj_sasl_policy policy = {.allow_insecure_auth = opts->allow_insecure_auth};
    mj_outcome o = mj_smtp_auth(s, &creds, opts->mechanism, &policy);
    if (o != MJ_OK)
        *err = *mj_smtp_error(s);
    return o;
}

static json_t *reply_json(const mj_smtp_reply *r)
{
    char text[SMTP_TEXT_MAX] = "";
    size_t used = 0;
    for (size_t i = 0; i < r->n_lines && used + 1 < sizeof text; i++) {
        size_t len = 0;
        const char *t = mj_smtp_reply_line(r, i, &len);
        mj_escape(t, len, text + used + (i ? 1 : 0), sizeof text - used - (i ? 1 : 0));
        if (i)
            text[used] = '\n';
        used = strlen(text);
    }
    return json_pack("{s:i, s:s, s:s}", "code", (int)r->code, "enhanced", r->enhanced, "text",
                     text);
}

/* ---- ehlo --------------------------------------------------------------------- */

static mj_outcome op_ehlo(const mj_cli_options *opts, const mj_conn_config *cfg,
                          json_t **result_out, mj_error *err)
{
    (void)opts;
    mj_smtp *s = NULL;
    mj_outcome o = mj_smtp_open(cfg, NULL, &s, err);
    if (o != MJ_OK)
        return o;
    json_t *caps = json_array();
    const mj_smtp_reply *r = mj_smtp_ehlo_reply(s);
    int bad = caps == NULL;
    for (size_t i = 1; !bad && r != NULL && i < r->n_lines; i++) {
        size_t len = 0;
        const char *t = mj_smtp_reply_line(r, i, &len);
        bad |= json_array_append_new(caps, escaped(t, len));
    }
    json_t *res = bad ? NULL
                      : json_pack("{s:o, s:b, s:s}", "capabilities", caps, "helo",
                                  mj_smtp_caps_get(s)->helo, "tls",
                                  tls_name(mj_conn_tls_state(mj_smtp_conn(s))));
    if (res == NULL) {
        json_decref(bad ? caps : NULL);
        o = no_memory(NULL, mj_conn_error(mj_smtp_conn(s)));
    }
    return finish(s, o, result_out, res, err);
}

/* ---- send ---------------------------------------------------------------------- */

/* The message source: a file or stdin; *size_out its size when known (else 0). */
static mj_outcome open_message(const char *path, int *fd_out, uint64_t *size_out, mj_error *err)
{
    struct stat st;
    *size_out = 0;
    *fd_out = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (*fd_out < 0) {
        char q[256];
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT, "cannot open the message '%s': %s",
                            mj_escape(path, strlen(path), q, sizeof q), strerror(errno));
    }
    if (fstat(*fd_out, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        *size_out = (uint64_t)st.st_size;
    return MJ_OK;
}

/*
 * Whether a regular file holds a byte >= 0x80 (read with pread: the offset
 * stays at 0).  Such a body goes with BODY=8BITMIME (RFC 6152 3: 8-bit data
 * only to a server that offers 8BITMIME, and declared), and is refused
 * before MAIL by a server that does not offer it.  stdin is not scanned.
 */
static bool file_has_8bit(int fd)
{
    unsigned char buf[64 * 1024];
    off_t off = 0;
    for (;;) {
        ssize_t n = pread(fd, buf, sizeof buf, off);
        if (n <= 0)
            return false;
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] >= 0x80)
                return true;
        off += n;
    }
}

static mj_outcome send_result(const mj_cli_options *opts, const mj_smtp_send_result *res,
                              json_t **out, mj_error *err)
{
    json_t *acc = json_array(), *rej = json_array();
    json_t *r = json_pack("{s:o, s:o, s:{s:i, s:s, s:s}}", "accepted", acc, "rejected", rej,
                          "reply", "code", (int)res->code, "enhanced", res->enhanced, "text",
                          res->text);
    if (r == NULL)
        return no_memory(NULL, err);
    int bad = 0;
    for (size_t i = 0; i < res->n_rcpt; i++) {
        const mj_smtp_rcpt_result *rr = &res->rcpt[i];
        if (rr->accepted)
            bad |= json_array_append_new(acc, json_string(opts->to[i]));
        else
            bad |= json_array_append_new(
                rej, json_pack("{s:s, s:i, s:s, s:s}", "recipient", opts->to[i], "code",
                               (int)rr->code, "enhanced", rr->enhanced, "text", rr->text));
    }
    if (bad)
        return no_memory(r, err);
    *out = r;
    return MJ_OK;
}

static mj_outcome op_send(const mj_cli_options *opts, const mj_conn_config *cfg,
                          json_t **result_out, mj_error *err)
{
    if (opts->from == NULL || opts->n_to == 0 || opts->message == NULL)
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "send needs --from, at least one --to and --message FILE (or -)");
    int fd = -1;
    mj_smtp_envelope env = {.from = opts->from,
                            .to = opts->to,
                            .n_to = opts->n_to,
                            .body = opts->body,
                            .smtputf8 = opts->smtputf8,
                            .ret = opts->ret,
                            .envid = opts->envid,
                            .notify = opts->notify,
                            .notify_each = opts->to_notify,
                            .orcpt = opts->has_orcpt ? opts->orcpt : NULL,
                            .requiretls = opts->requiretls,
                            .chunking = opts->chunking};
    mj_outcome o = open_message(opts->message, &fd, &env.size, err);
    if (o != MJ_OK)
        return o;
    bool eight = env.size > 0 && file_has_8bit(fd);
    if (!opts->body_given && eight)
        env.body = MJ_SMTP_BODY_8BITMIME;
    if (opts->body_given && opts->body == MJ_SMTP_BODY_7BIT && eight) {
        /* A 7BIT declaration of 8-bit content is a lie a relay may act on. */
        if (fd != STDIN_FILENO)
            close(fd);
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "--body 7bit, but the message has bytes above 127 "
                            "(use --body 8bitmime or binarymime)");
    }
    mj_smtp *s = NULL;
    o = mj_smtp_open(cfg, NULL, &s, err);
    if (o == MJ_OK)
        o = maybe_auth(s, opts, err);
    json_t *result = NULL;
    if (o == MJ_OK) {
        mj_smtp_source src = {mj_smtp_source_fd, &fd};
        mj_smtp_send_result res;
        o = mj_smtp_send(s, &env, &src, &res);
        if (o == MJ_OK)
            o = send_result(opts, &res, &result, mj_conn_error(mj_smtp_conn(s)));
        mj_smtp_send_result_free(&res);
    }
    if (fd != STDIN_FILENO)
        close(fd);
    return s == NULL ? o : finish(s, o, result_out, result, err);
}

/* ---- verify, noop ---------------------------------------------------------------- */

static mj_outcome op_verify(const mj_cli_options *opts, const mj_conn_config *cfg,
                            json_t **result_out, mj_error *err)
{
    mj_smtp *s = NULL;
    mj_outcome o = mj_smtp_open(cfg, NULL, &s, err);
    if (o != MJ_OK)
        return o;
    o = maybe_auth(s, opts, err);
    const mj_smtp_reply *r = NULL;
    if (o == MJ_OK)
        o = mj_smtp_verify(s, opts->args[0], &r);
    json_t *res = o == MJ_OK ? reply_json(r) : NULL;
    if (o == MJ_OK && res == NULL)
        o = no_memory(NULL, mj_conn_error(mj_smtp_conn(s)));
    return finish(s, o, result_out, res, err);
}

static mj_outcome op_noop(const mj_cli_options *opts, const mj_conn_config *cfg,
                          json_t **result_out, mj_error *err)
{
    mj_smtp *s = NULL;
    mj_outcome o = mj_smtp_open(cfg, NULL, &s, err);
    if (o != MJ_OK)
        return o;
    o = maybe_auth(s, opts, err);
    if (o == MJ_OK)
        o = mj_smtp_noop(s);
    json_t *res = o == MJ_OK ? reply_json(mj_smtp_last_reply(s)) : NULL;
    if (o == MJ_OK && res == NULL)
        o = no_memory(NULL, mj_conn_error(mj_smtp_conn(s)));
    return finish(s, o, result_out, res, err);
}
