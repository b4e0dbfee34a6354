/*
 * ops.c: the operations of `mj`, as one table of {protocols, name, handler,
 * arguments, usage} rows; the protocol issues add their rows here.  Also the
 * translation of the command line into an mj_conn_config.
 *
 * probe: connect (with the TLS handshake for implicit TLS), read the first
 * line, report it and the TLS session.  It speaks no protocol, so it cannot
 * do STARTTLS: --security starttls is refused, and starttls-if-available
 * probes in plaintext and says so ("starttls": "not attempted").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mj_cli.h"

/* Longest escaped greeting reported (mj_escape marks a cut with "..."). */
#define PROBE_GREETING_MAX 1024

static mj_outcome op_probe(const mj_cli_options *opts, const mj_conn_config *cfg,
                           json_t **result_out, mj_error *err);

const mj_cli_op mj_cli_core_ops[] = {
    {MJ_CLI_PROTO_ANY, "probe", op_probe, 0, 0,
     "connect, read the greeting, report it and the TLS session"},
    {0, NULL, NULL, 0, 0, NULL},
};

static const mj_cli_op *const op_tables[] = {
    mj_cli_core_ops, mj_cli_smtp_ops, mj_cli_pop3_ops, mj_cli_imap_ops, NULL,
};

const mj_cli_op *const *mj_cli_ops(void)
{
    return op_tables;
}

const mj_cli_op *mj_cli_find_op(mj_protocol p, const char *name, mj_error *err)
{
    char list[512] = "";
    char q[128];
    for (const mj_cli_op *const *table = op_tables; *table != NULL; table++) {
        for (const mj_cli_op *op = *table; op->name != NULL; op++) {
            if ((op->protocols & MJ_CLI_PROTO_BIT(p)) == 0)
                continue;
            if (strcmp(op->name, name) == 0)
                return op;
            size_t used = strlen(list);
            snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", op->name);
        }
    }
    mj_escape(name, strlen(name), q, sizeof q);
    mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT, "unknown operation '%s' for %s; operations: %s",
                 q, mj_protocol_name(p), list);
    return NULL;
}

/* The --resolve entry for host:port (host names compare case-insensitively). */
static const char *resolve_addr(const mj_cli_options *opts)
{
    for (size_t i = 0; i < opts->n_resolve; i++) {
        const mj_cli_resolve *r = &opts->resolve[i];
        if (r->port == opts->port && strcasecmp(r->host, opts->url.host) == 0)
            return r->addr;
    }
    return NULL;
}

mj_outcome mj_cli_conn_config(const mj_cli_options *opts, mj_log *log, mj_conn_config *cfg,
                              mj_error *err)
{
    mj_conn_config_init(cfg, opts->url.protocol);
    cfg->security = opts->resolved;
    cfg->endpoint.host = opts->url.host;
    cfg->endpoint.port = opts->port;
    cfg->endpoint.connect_addr = resolve_addr(opts);
    cfg->tls.insecure = opts->insecure;
    cfg->tls.cafile = opts->cafile;
    cfg->tls.client_cert = opts->client_cert;
    cfg->tls.client_key = opts->client_key;
    cfg->tls.min_version = opts->tls_min;
    if (opts->pin_sha256 != NULL && mj_tls_parse_pin(opts->pin_sha256, &cfg->tls, err) != MJ_OK) {
        char q[128];
        mj_escape(opts->pin_sha256, strlen(opts->pin_sha256), q, sizeof q);
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "--pin-sha256 must be 64 hex digits (colons allowed), not '%s'", q);
    }
    if (opts->timeout_ms > 0)
        cfg->timeouts.io_ms = opts->timeout_ms;
    if (opts->connect_timeout_ms > 0)
        cfg->timeouts.connect_ms = opts->connect_timeout_ms;
    if (opts->deadline_ms > 0)
        cfg->timeouts.deadline_ms = mj_now_ms() + opts->deadline_ms;
    cfg->log = log;
    return MJ_OK;
}

/* Longest temporary file path: $TMPDIR and the name. */
#define MJ_CLI_TMP_PATH_MAX 4096

FILE *mj_cli_tmpfile(void)
{
    const char *dir = getenv("TMPDIR");
    if (dir == NULL || dir[0] == '\0')
        dir = "/tmp";
    char path[MJ_CLI_TMP_PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/mj-XXXXXX", dir) >= sizeof path) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    unlink(path);
    FILE *fp = fdopen(fd, "w+b");
    if (fp == NULL) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return fp;
}

mj_sasl_creds mj_cli_creds(const mj_cli_options *opts)
{
    mj_sasl_creds creds = {.username = opts->user,
                           .password = opts->has_password ? opts->password : NULL,
                           .authzid = opts->authzid,
                           .token = opts->has_token ? opts->token : NULL,
                           .host = opts->url.host,
                           .port = opts->port};
    return creds;
}

/* ---- probe ---------------------------------------------------------------- */

/* Untrusted text (server or certificate) as a JSON string, escaped. */
static json_t *escaped_string(const char *s, size_t len)
{
    char buf[PROBE_GREETING_MAX];
    return json_string(mj_escape(s, len, buf, sizeof buf));
}

static int set_text(json_t *obj, const char *key, const char *s)
{
    return json_object_set_new(obj, key, escaped_string(s, strlen(s)));
}

static json_t *tls_json(mj_conn *c)
{
    static const char *const state_names[] = {
        [MJ_TLS_NONE] = "none", [MJ_TLS_UNVERIFIED] = "unverified", [MJ_TLS_VERIFIED] = "verified"};
    static const char hex[] = "0123456789abcdef";
    mj_tls_info info;
    char fp[MJ_SHA256_LEN * 2 + 1] = "";

    memset(&info, 0, sizeof info);
    mj_conn_tls_info(c, &info);
    if ((unsigned)info.state > MJ_TLS_VERIFIED)
        info.state = MJ_TLS_NONE;
    for (size_t i = 0; info.state != MJ_TLS_NONE && i < MJ_SHA256_LEN; i++) {
        fp[2 * i] = hex[info.peer_sha256[i] >> 4];
        fp[2 * i + 1] = hex[info.peer_sha256[i] & 0xf];
    }
    json_t *t = json_object();
    if (t == NULL)
        return NULL;
    int bad = json_object_set_new(t, "state", json_string(state_names[info.state]));
    bad |= set_text(t, "version", info.version);
    bad |= set_text(t, "cipher", info.cipher);
    bad |= set_text(t, "sni", info.sni);
    bad |= set_text(t, "peer_subject", info.peer_subject);
    bad |= set_text(t, "peer_issuer", info.peer_issuer);
    bad |= set_text(t, "peer_names", info.peer_names);
    bad |= set_text(t, "peer_sha256", fp);
    if (bad != 0) {
        json_decref(t);
        return NULL;
    }
    return t;
}

static mj_outcome probe_result(mj_conn *c, mj_security sec, const char *line, size_t len,
                               json_t **result_out, mj_error *err)
{
    json_t *r = json_object();
    int bad = r == NULL;
    if (!bad) {
        bad |= json_object_set_new(r, "greeting", escaped_string(line, len));
        bad |= json_object_set_new(r, "tls", tls_json(c));
    }
    if (!bad && sec == MJ_SEC_STARTTLS_IF_AVAILABLE)
        bad |= json_object_set_new(r, "starttls", json_string("not attempted"));
    if (bad) {
        json_decref(r);
        return mj_error_set(err, MJ_INTERNAL, MJ_R_NO_MEMORY, "out of memory building the result");
    }
    *result_out = r;
    return MJ_OK;
}

static mj_outcome op_probe(const mj_cli_options *opts, const mj_conn_config *cfg,
                           json_t **result_out, mj_error *err)
{
    (void)opts;
    if (cfg->security == MJ_SEC_STARTTLS) {
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "probe does not speak STARTTLS yet: use --security none or implicit");
    }
    mj_conn *c = NULL;
    mj_outcome rc = mj_conn_open(cfg, &c, err);
    if (rc != MJ_OK)
        return rc;
    const char *line = NULL;
    size_t len = 0;
    mj_reader *r = mj_conn_reader(c);
    mj_reader_reply_begin(r);
    rc = mj_reader_line(r, &line, &len, err);
    if (rc == MJ_OK)
        rc = probe_result(c, cfg->security, line, len, result_out, err);
    mj_conn_close(c);
    return rc;
}
