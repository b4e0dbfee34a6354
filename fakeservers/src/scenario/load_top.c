/*
 * load_top.c: the loader's part for the top level, server:, forbid:,
 * client: and expect: (the last two only validated: they are the harness's).
 * See load.c for the table machinery and FORMAT.md for the format.
 */
#include "scenario/load_internal.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/server.h"
#include "imap/literal.h"
#include "smtp/data.h"

#define FK_DELAY_MS_MAX   600000ull
#define FK_LINE_MAX_LIMIT (16ull * 1024 * 1024) /* --line-max and line_max stop here */
#define FK_CLIENT_MS_MAX  3600000ull

/* The generated certificate set (ci/mkcerts.sh, scenarios/CERTIFICATES.md). */
static const fk_enum certificate_enum[] = {
    {"valid", 0},     {"valid-rsa", 0},  {"expired", 0},          {"not-yet-valid", 0},
    {"self-signed", 0}, {"wrong-host", 0}, {"untrusted-ca", 0},   {"wildcard", 0},
    {"cn-only", 0},   {"client-auth-only", 0}, {"bad-intermediate", 0}, {"weak-key", 0},
    {NULL, 0}};

static const fk_enum protocol_enum[] = {
    {"imap", FK_PROTO_IMAP}, {"pop3", FK_PROTO_POP3}, {"smtp", FK_PROTO_SMTP}, {NULL, 0}};
static const fk_enum tls_enum[] = {{"none", FK_TLS_NONE}, {"implicit", FK_TLS_IMPLICIT}, {NULL, 0}};
static const fk_enum client_cert_enum[] = {{"none", FK_CLIENT_CERT_NONE},
                                           {"request", FK_CLIENT_CERT_REQUEST},
                                           {"require", FK_CLIENT_CERT_REQUIRE},
                                           {NULL, 0}};
static const fk_enum tls_version_enum[] = {
    {"1.0", TLS1_VERSION}, {"1.1", TLS1_1_VERSION}, {"1.2", TLS1_2_VERSION},
    {"1.3", TLS1_3_VERSION}, {NULL, 0}};
static const fk_enum accept_enum[] = {{"serve", FK_ACCEPT_SERVE}, {"refuse", FK_ACCEPT_REFUSE},
                                      {"close", FK_ACCEPT_CLOSE}, {"reset", FK_ACCEPT_RESET},
                                      {"hang", FK_ACCEPT_HANG}, {NULL, 0}};

/* ---- top level -------------------------------------------------------------------- */

static bool h_name(fk_ld *c, const fk_key *k, const fk_node *v, void *t)
{
    return fk_get_str(c, v, k->name, &((fk_scenario *)t)->name);
}

static bool h_summary(fk_ld *c, const fk_key *k, const fk_node *v, void *t)
{
    return fk_get_str(c, v, k->name, &((fk_scenario *)t)->summary);
}

static bool h_source(fk_ld *c, const fk_key *k, const fk_node *v, void *t)
{
    return fk_get_str(c, v, k->name, &((fk_scenario *)t)->source);
}

static bool h_protocol(fk_ld *c, const fk_key *k, const fk_node *v, void *t)
{
    int p = 0;
    if (!fk_get_enum(c, v, k->name, protocol_enum, &p))
        return false;
    ((fk_scenario *)t)->protocol = (fk_protocol)p;
    return true;
}

static bool h_tags(fk_ld *c, const fk_key *k, const fk_node *v, void *t)
{
    fk_scenario *s = t;
    if (v->n == 0)
        return true;
    s->tags = calloc(v->n, sizeof *s->tags);
    if (!s->tags)
        return fk_fail(c, v, "out of memory");
    s->n_tags = v->n;
    for (size_t i = 0; i < v->n; i++)
        if (!fk_get_str(c, v->items[i], k->name, &s->tags[i]))
            return false;
    return true;
}

enum { TOP_NAME, TOP_SUMMARY, TOP_PROTOCOL, TOP_TAGS, TOP_SOURCE, TOP_SERVER, TOP_CLIENT,
       TOP_EXPECT, TOP_COUNT };
static const fk_key top_keys[TOP_COUNT] = {
    [TOP_NAME] = {"name", FK_T_STR, false, h_name},
    [TOP_SUMMARY] = {"summary", FK_T_STR, true, h_summary},
    [TOP_PROTOCOL] = {"protocol", FK_T_STR, true, h_protocol},
    [TOP_TAGS] = {"tags", FK_T_SEQ, false, h_tags},
    [TOP_SOURCE] = {"source", FK_T_STR, false, h_source},
    [TOP_SERVER] = {"server", FK_T_MAP, true, NULL},
    [TOP_CLIENT] = {"client", FK_T_MAP, true, NULL},
    [TOP_EXPECT] = {"expect", FK_T_MAP, true, NULL},
};
const fk_section fk_sec_top = {"top", "the top level", top_keys, TOP_COUNT};

/* ---- server ------------------------------------------------------------------------ */

static bool h_tls(fk_ld *c, const fk_key *k, const fk_node *v, void *t)
{
    int mode = 0;
    if (!fk_get_enum(c, v, k->name, tls_enum, &mode))
        return false;
    ((fk_server *)t)->tls = (fk_tls_mode)mode;
    c->uses_tls |= mode == FK_TLS_IMPLICIT;
    return true;
}

static bool h_certificate(fk_ld *c, const fk_key *k, const fk_node *v, void *t)
{
    int unused = 0;
    return fk_get_enum(c, v, k->name, certificate_enum, &unused) &&
           fk_get_str(c, v, k->name, &((fk_server *)t)->certificate);
}

static bool h_client_cert(fk_ld *c, const fk_key *k, const fk_node *v, void *t)
{
    int mode = 0;
    if (!fk_get_enum(c, v, k->name, client_cert_enum, &mode))
        return false;
    ((fk_server *)t)->client_cert = (fk_client_cert)mode;
    return true;
}

static bool h_tls_version(fk_ld *c, const fk_key *k, const fk_node *v, void *t)
{
    fk_server *srv = t;
    int version = 0;
    if (!fk_get_enum(c, v, k->name, tls_version_enum, &version))
        return false;
    *(strcmp(k->name, "tls_min") == 0 ? &srv->tls_min : &srv->tls_max) = version;
    if (srv->tls_min && srv->tls_max && srv->tls_min > srv->tls_max)
        return fk_fail(c, v, "tls_min is above tls_max: no version is left");
    return true;
}

/* OpenSSL is the judge of a cipher list; level 0 as the server will use for weak ones. */
static bool h_ciphers(fk_ld *c, const fk_key *k, const fk_node *v, void *t)
{
    fk_server *srv = t;
    fk_quote_buf q;
    if (!fk_get_str(c, v, k->name, &srv->ciphers))
        return false;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return fk_fail(c, v, "ciphers: OpenSSL could not start");
    SSL_CTX_set_security_level(ctx, 0);
    int ok = SSL_CTX_set_cipher_list(ctx, srv->ciphers);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    if (!ok)
        return fk_fail(c, v, "ciphers: OpenSSL knows no cipher in '%s'",
                       fk_quote(&q, v->value, v->len));
    return true;
}

static bool h_port(fk_ld *c, const fk_key *k, const fk_node *v, void *t)
{
    unsigned long long port = 0;
    if (!fk_get_uint(c, v, k->name, 0, 65535, &port))
        return false;
    ((fk_server *)t)->port = (unsigned)port;
    return true;
}

static bool h_accept(fk_ld *c, const fk_key *k, const fk_node *v, void *t)
{
    int a = 0;
    if (!fk_get_enum(c, v, k->name, accept_enum, &a))
        return false;
    ((fk_server *)t)->accept = (fk_accept)a;
    return true;
}

static bool h_greeting_delay(fk_ld *c, const fk_key *k, const fk_node *v, void *t)
{
    unsigned long long ms = 0;
    if (!fk_get_uint(c, v, k->name, 0, FK_DELAY_MS_MAX, &ms))
        return false;
    ((fk_server *)t)->greeting_delay_ms = (unsigned)ms;
    return true;
}

static bool h_line_max(fk_ld *c, const fk_key *k, const fk_node *v, void *t)
{
    unsigned long long n = 0;
    if (!fk_get_uint(c, v, k->name, 1, FK_LINE_MAX_LIMIT, &n))
        return false;
    ((fk_server *)t)->line_max = (size_t)n;
    return true;
}

/* literal_max, data_max: the personalities' caps (imap/literal.h, smtp/data.h). */
static bool h_literal_max(fk_ld *c, const fk_key *k, const fk_node *v, void *t)
{
    unsigned long long n = 0;
    if (!fk_get_uint(c, v, k->name, 1, FK_LITERAL_MAX_LIMIT, &n))
        return false;
    ((fk_server *)t)->literal_max = (size_t)n;
    return true;
}

static bool h_data_max(fk_ld *c, const fk_key *k, const fk_node *v, void *t)
{
    unsigned long long n = 0;
    if (!fk_get_uint(c, v, k->name, 1, FK_DATA_MAX_LIMIT, &n))
        return false;
    ((fk_server *)t)->data_max = (uint64_t)n;
    return true;
}

static bool h_literal_continuation(fk_ld *c, const fk_key *k, const fk_node *v, void *t)
{
    fk_server *srv = t;
    if (!fk_get_str(c, v, k->name, &srv->literal_continuation))
        return false;
    if (strpbrk(srv->literal_continuation, "\r\n") != NULL)
        return fk_fail(c, v, "%s: one line (the server adds CRLF)", k->name);
    return true;
}

enum { SRV_TLS, SRV_CERTIFICATE, SRV_TLS_MIN, SRV_TLS_MAX, SRV_CIPHERS, SRV_CLIENT_CERT, SRV_PORT, SRV_ACCEPT,
       SRV_GREETING_DELAY, SRV_LINE_MAX, SRV_LITERAL_MAX, SRV_LITERAL_CONTINUATION, SRV_DATA_MAX,
       SRV_FORBID, SRV_STEPS, SRV_CONNECTIONS, SRV_COUNT };
static const fk_key server_keys[SRV_COUNT] = {
    [SRV_TLS] = {"tls", FK_T_STR, false, h_tls},
    [SRV_CERTIFICATE] = {"certificate", FK_T_STR, false, h_certificate},
    [SRV_TLS_MIN] = {"tls_min", FK_T_STR, false, h_tls_version},
    [SRV_TLS_MAX] = {"tls_max", FK_T_STR, false, h_tls_version},
    [SRV_CIPHERS] = {"ciphers", FK_T_STR, false, h_ciphers},
    [SRV_CLIENT_CERT] = {"client_cert", FK_T_STR, false, h_client_cert},
    [SRV_PORT] = {"port", FK_T_INT, false, h_port},
    [SRV_ACCEPT] = {"accept", FK_T_STR, false, h_accept},
    [SRV_GREETING_DELAY] = {"greeting_delay_ms", FK_T_INT, false, h_greeting_delay},
    [SRV_LINE_MAX] = {"line_max", FK_T_INT, false, h_line_max},
    [SRV_LITERAL_MAX] = {"literal_max", FK_T_INT, false, h_literal_max},
    [SRV_LITERAL_CONTINUATION] = {"literal_continuation", FK_T_STR, false, h_literal_continuation},
    [SRV_DATA_MAX] = {"data_max", FK_T_INT, false, h_data_max},
    [SRV_FORBID] = {"forbid", FK_T_MAP, false, NULL},
    [SRV_STEPS] = {"steps", FK_T_SEQ, false, NULL},
    [SRV_CONNECTIONS] = {"connections", FK_T_SEQ, false, NULL},
};
const fk_section fk_sec_server = {"server", "server", server_keys, SRV_COUNT};

static const fk_key forbid_keys[] = {
    {"before_tls", FK_T_SEQ, false, NULL},
    {"always", FK_T_SEQ, false, NULL},
};
const fk_section fk_sec_forbid = {"forbid", "forbid", forbid_keys, sizeof forbid_keys / sizeof forbid_keys[0]};

static const fk_key connection_keys[] = {{"steps", FK_T_SEQ, true, NULL}};
const fk_section fk_sec_connection = {"connection", "a connection", connection_keys, sizeof connection_keys / sizeof connection_keys[0]};

static bool load_pattern_list(fk_ld *c, const fk_node *v, const char *what, fk_pattern **out,
                              size_t *n_out)
{
    if (!v || v->n == 0)
        return true;
    *out = calloc(v->n, sizeof **out);
    if (!*out)
        return fk_fail(c, v, "out of memory");
    *n_out = v->n;
    for (size_t i = 0; i < v->n; i++)
        if (!fk_load_pattern(c, v->items[i], what, false, &(*out)[i]))
            return false;
    return true;
}

static bool load_forbid(fk_ld *c, const fk_node *v, fk_forbid *f)
{
    const fk_node *seen[FK_SECTION_KEYS_MAX];
    return fk_apply_table(c, &fk_sec_forbid, v, NULL, seen) &&
           load_pattern_list(c, seen[0], "forbid: before_tls", &f->before_tls, &f->n_before_tls) &&
           load_pattern_list(c, seen[1], "forbid: always", &f->always, &f->n_always);
}

/* An entry of connections: a list of steps, or {steps: [...]}. */
static bool load_connections(fk_ld *c, const fk_node *v, fk_server *srv)
{
    if (v->n == 0)
        return fk_fail(c, v, "connections: an empty list; give one script or more");
    srv->connections = calloc(v->n, sizeof *srv->connections);
    if (!srv->connections)
        return fk_fail(c, v, "out of memory");
    srv->n_connections = v->n;
    for (size_t i = 0; i < v->n; i++) {
        const fk_node *item = v->items[i], *seen[FK_SECTION_KEYS_MAX];
        if (item->kind == FK_NODE_MAP) {
            if (!fk_apply_table(c, &fk_sec_connection, item, NULL, seen))
                return false;
            item = seen[0];
        } else if (item->kind != FK_NODE_SEQ) {
            return fk_fail(c, item, "connections: expected a list of steps or {steps: [...]}, "
                                    "found %s", fk_node_describe(item));
        }
        if (!fk_load_script(c, item, &srv->connections[i]))
            return false;
    }
    return true;
}

static bool load_scripts(fk_ld *c, const fk_node *map, const fk_node **seen, fk_server *srv)
{
    const fk_node *steps = seen[SRV_STEPS], *conns = seen[SRV_CONNECTIONS];
    if (steps && conns)
        return fk_fail(c, steps->pos.line > conns->pos.line ? steps : conns,
                       "server: steps is one connection's script, connections a list of them: "
                       "choose one");
    if (steps) {
        srv->connections = calloc(1, sizeof *srv->connections);
        if (!srv->connections)
            return fk_fail(c, steps, "out of memory");
        srv->n_connections = 1;
        return fk_load_script(c, steps, srv->connections);
    }
    if (conns)
        return load_connections(c, conns, srv);
    if (srv->accept == FK_ACCEPT_SERVE)
        return fk_fail(c, map, "server: needs steps or connections (or an accept policy other "
                               "than serve)");
    return true;
}

static bool check_certificate(fk_ld *c, const fk_node *at, const fk_server *srv)
{
    static const char *const ext[] = {".crt", ".key"};
    char path[4096];
    if (!c->certs_dir || !c->uses_tls)
        return true;
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s%s", c->certs_dir, srv->certificate, ext[i]);
        if (access(path, R_OK) != 0)
            return fk_fail(c, at, "certificate %s: cannot read %s: %s (sh ci/mkcerts.sh DIR "
                                  "makes the set)", srv->certificate, path, strerror(errno));
    }
    return true;
}

static bool load_server(fk_ld *c, const fk_node *v)
{
    fk_server *srv = &c->s->server;
    const fk_node *seen[FK_SECTION_KEYS_MAX];
    srv->line_max = FK_LINE_MAX_DEFAULT;
    if (!fk_apply_table(c, &fk_sec_server, v, srv, seen))
        return false;
    static const struct {
        int key;
        fk_protocol protocol;
    } owned[] = {{SRV_LITERAL_MAX, FK_PROTO_IMAP},
                 {SRV_LITERAL_CONTINUATION, FK_PROTO_IMAP},
                 {SRV_DATA_MAX, FK_PROTO_SMTP}};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
        if (seen[owned[i].key] && c->s->protocol != owned[i].protocol)
            return fk_fail(c, seen[owned[i].key], "%s applies to %s scenarios only",
                           server_keys[owned[i].key].name,
                           owned[i].protocol == FK_PROTO_IMAP ? "imap" : "smtp");
    if (!srv->certificate && !(srv->certificate = strdup("valid")))
        return fk_fail(c, v, "out of memory");
    if (seen[SRV_FORBID] && !load_forbid(c, seen[SRV_FORBID], &srv->forbid))
        return false;
    return load_scripts(c, v, seen, srv) &&
           check_certificate(c, seen[SRV_CERTIFICATE] ? seen[SRV_CERTIFICATE] : v, srv);
}

/* ---- client and expect: the harness's, validated only -------------------------------- */

static const char *const protocol_prefix[] = {
    [FK_PROTO_IMAP] = "imap.", [FK_PROTO_POP3] = "pop3.", [FK_PROTO_SMTP] = "smtp."};

static bool h_op(fk_ld *c, const fk_key *k, const fk_node *v, void *t)
{
    const char *prefix = protocol_prefix[c->s->protocol];
    size_t plen = strlen(prefix);
    fk_quote_buf q;
    (void)k, (void)t;
    if (strcmp(v->value, "probe") == 0)
        return true;
    bool ok = v->len > plen && memcmp(v->value, prefix, plen) == 0;
    for (size_t i = plen; ok && i < v->len; i++)
        ok = (v->value[i] >= 'a' && v->value[i] <= 'z') || v->value[i] == '_';
    if (!ok)
        return fk_fail(c, v, "op: expected probe or %sOPERATION (this scenario's protocol), "
                             "found '%s'", prefix, fk_quote(&q, v->value, v->len));
    return true;
}

static bool h_security(fk_ld *c, const fk_key *k, const fk_node *v, void *t)
{
    static const fk_enum e[] = {{"none", 0},     {"implicit", 0}, {"starttls", 0},
                                {"starttls-if-available", 0}, {"auto", 0}, {NULL, 0}};
    int unused = 0;
    (void)t;
    return fk_get_enum(c, v, k->name, e, &unused);
}

static bool h_trust(fk_ld *c, const fk_key *k, const fk_node *v, void *t)
{
    static const fk_enum e[] = {{"test-ca", 0}, {"system", 0}, {"insecure", 0}, {NULL, 0}};
    int unused = 0;
    (void)t;
    return fk_get_enum(c, v, k->name, e, &unused);
}

/* client: {client_cert: NAME}: a certificate the client presents (CERTIFICATES.md). */
static bool h_client_certificate(fk_ld *c, const fk_key *k, const fk_node *v, void *t)
{
    static const fk_enum e[] = {{"client", 0},  {"client-auth-only", 0}, {"valid", 0},
                                {"expired", 0}, {"self-signed", 0},      {"untrusted-ca", 0},
                                {NULL, 0}};
    int unused = 0;
    (void)t;
    return fk_get_enum(c, v, k->name, e, &unused);
}

static bool h_client_ms(fk_ld *c, const fk_key *k, const fk_node *v, void *t)
{
    unsigned long long ms = 0;
    (void)t;
    return fk_get_uint(c, v, k->name, 1, FK_CLIENT_MS_MAX, &ms);
}

static const fk_key client_keys[] = {
    {"op", FK_T_STR, true, h_op},
    {"args", FK_T_MAP, false, NULL},
    {"security", FK_T_STR, false, h_security},
    {"user", FK_T_STR, false, NULL},
    {"password", FK_T_STR, false, NULL},
    {"mechanism", FK_T_STR, false, NULL},
    {"token", FK_T_STR, false, NULL},
    {"allow_insecure_auth", FK_T_BOOL, false, NULL},
    {"trust", FK_T_STR, false, h_trust},
    {"client_cert", FK_T_STR, false, h_client_certificate},
    {"timeout_ms", FK_T_INT, false, h_client_ms},
    {"compress", FK_T_BOOL, false, NULL},
    {"utf8", FK_T_BOOL, false, NULL},
    {"strict", FK_T_BOOL, false, NULL},
};
const fk_section fk_sec_client = {"client", "client", client_keys,
                                   sizeof client_keys / sizeof client_keys[0]};

static const fk_enum outcome_enum[] = {
    {"ok", 0}, {"usage", 0}, {"connect-failed", 0}, {"timeout", 0}, {"connection-lost", 0},
    {"tls-failed", 0}, {"certificate-invalid", 0}, {"starttls-unavailable", 0},
    {"cleartext-refused", 0}, {"auth-failed", 0}, {"auth-unsupported", 0},
    {"protocol-error", 0}, {"server-refused", 0}, {"server-busy", 0}, {"message-rejected", 0},
    {NULL, 0}};

static bool h_outcome(fk_ld *c, const fk_key *k, const fk_node *v, void *t)
{
    int unused = 0;
    (void)t;
    if (v->kind != FK_NODE_SEQ)
        return fk_get_enum(c, v, k->name, outcome_enum, &unused);
    if (v->n == 0)
        return fk_fail(c, v, "outcome: an empty list accepts nothing");
    for (size_t i = 0; i < v->n; i++)
        if (!fk_get_enum(c, v->items[i], k->name, outcome_enum, &unused))
            return false;
    return true;
}

static bool h_string_list(fk_ld *c, const fk_key *k, const fk_node *v, void *t)
{
    (void)t;
    for (size_t i = 0; i < v->n; i++) {
        const fk_node *item = v->items[i];
        if (item->kind != FK_NODE_SCALAR || fk_node_is_null(item))
            return fk_fail(c, item, "%s: expected a list of strings, found %s", k->name,
                           fk_node_describe(item));
    }
    return true;
}

static bool h_server_consumed(fk_ld *c, const fk_key *k, const fk_node *v, void *t)
{
    (void)t;
    if (fk_node_is_bool(v, NULL) || (v->kind == FK_NODE_SCALAR && strcmp(v->value, "all") == 0))
        return true;
    return fk_fail(c, v, "%s: expected all, true or false, found %s", k->name,
                   fk_node_describe(v));
}

static const fk_key expect_top_keys[] = {
    {"outcome", FK_T_ANY, true, h_outcome},
    {"result", FK_T_MAP, false, NULL},
    {"sent", FK_T_SEQ, false, h_string_list},
    {"never_sent", FK_T_SEQ, false, h_string_list},
    {"never_sent_before_tls", FK_T_SEQ, false, h_string_list},
    {"within_ms", FK_T_INT, false, h_client_ms},
    {"server_consumed", FK_T_ANY, false, h_server_consumed},
};
const fk_section fk_sec_expect_top = {"expect_top", "expect", expect_top_keys, sizeof expect_top_keys / sizeof expect_top_keys[0]};

bool fk_load_top(fk_ld *c, const fk_node *root)
{
    const fk_node *seen[FK_SECTION_KEYS_MAX], *sub[FK_SECTION_KEYS_MAX];
    if (root->kind != FK_NODE_MAP)
        return fk_fail(c, root, "a scenario is a mapping (summary, protocol, server, client, "
                                "expect), found %s", fk_node_describe(root));
    return fk_apply_table(c, &fk_sec_top, root, c->s, seen) && load_server(c, seen[TOP_SERVER]) &&
           fk_apply_table(c, &fk_sec_client, seen[TOP_CLIENT], NULL, sub) &&
           fk_apply_table(c, &fk_sec_expect_top, seen[TOP_EXPECT], NULL, sub);
}
