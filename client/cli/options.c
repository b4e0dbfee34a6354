/*
 * options.c: the command line of `mj` -> struct mj_cli_options.
 *
 * Self-contained on purpose: it calls only libc and the URL/error parts of
 * libmailjig, and does no I/O except reading --password-file, so that
 * client/tests/test_cli_options.c can #include it and test the parser without
 * running the binary.  The options are one table (name, argument, handler,
 * help): the parser and the --help text both come from it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/tls1.h>

#include "mj_cli.h"

/* Room for one escaped argument quoted in a message. */
#define OPT_QUOTE_MAX 128

typedef mj_outcome (*opt_fn)(mj_cli_options *o, const char *value, mj_error *err);

struct opt_row {
    const char *name; /* without "--" */
    char short_name;  /* '\0' if none */
    const char *arg;  /* NULL for a flag */
    opt_fn fn;
    const char *help;
};

static mj_outcome usage(mj_error *err, const char *what, const char *quoted)
{
    char q[OPT_QUOTE_MAX];
    if (quoted == NULL)
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT, "%s", what);
    mj_escape(quoted, strlen(quoted), q, sizeof q);
    return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT, "%s '%s'", what, q);
}

/* ---- option handlers ------------------------------------------------------- */

static mj_outcome opt_help(mj_cli_options *o, const char *v, mj_error *err)
{
    (void)v, (void)err;
    o->help = true;
    return MJ_OK;
}

static mj_outcome opt_version(mj_cli_options *o, const char *v, mj_error *err)
{
    (void)v, (void)err;
    o->version = true;
    return MJ_OK;
}

static mj_outcome opt_json(mj_cli_options *o, const char *v, mj_error *err)
{
    (void)v, (void)err;
    o->json = true;
    return MJ_OK;
}

static mj_outcome opt_insecure(mj_cli_options *o, const char *v, mj_error *err)
{
    (void)v, (void)err;
    o->insecure = true;
    return MJ_OK;
}

static mj_outcome opt_log_timestamps(mj_cli_options *o, const char *v, mj_error *err)
{
    (void)v, (void)err;
    o->log_timestamps = true;
    return MJ_OK;
}

static mj_outcome opt_security(mj_cli_options *o, const char *v, mj_error *err)
{
    if (mj_security_from_name(v, &o->security) != 0)
        return usage(err,
                     "--security must be none, implicit, starttls, "
                     "starttls-if-available or auto, not",
                     v);
    o->security_given = true;
    return MJ_OK;
}

/* A user name goes into protocol commands: no control bytes, bounded. */
static mj_outcome opt_user(mj_cli_options *o, const char *v, mj_error *err)
{
    size_t len = strlen(v);
    if (len == 0 || len >= sizeof o->user)
        return usage(err, "--user must be 1 to 255 bytes", NULL);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c == 0x7f)
            return usage(err, "--user contains a control byte:", v);
    }
    memcpy(o->user, v, len + 1);
    return MJ_OK;
}

static mj_outcome opt_password_file(mj_cli_options *o, const char *v, mj_error *err)
{
    (void)err;
    o->password_file = v;
    return MJ_OK;
}

/* Files given to the TLS layer: say "cannot read" now rather than a TLS error later. */
static mj_outcome readable_file(const char *opt, const char *v, const char **slot, mj_error *err)
{
    char what[64];
    if (access(v, R_OK) != 0) {
        int e = errno;
        snprintf(what, sizeof what, "cannot read %s (%s):", opt, strerror(e));
        return usage(err, what, v);
    }
    *slot = v;
    return MJ_OK;
}

static mj_outcome opt_cafile(mj_cli_options *o, const char *v, mj_error *err)
{
    return readable_file("--cafile", v, &o->cafile, err);
}

static mj_outcome opt_client_cert(mj_cli_options *o, const char *v, mj_error *err)
{
    return readable_file("--client-cert", v, &o->client_cert, err);
}

static mj_outcome opt_client_key(mj_cli_options *o, const char *v, mj_error *err)
{
    return readable_file("--client-key", v, &o->client_key, err);
}

static mj_outcome opt_pin(mj_cli_options *o, const char *v, mj_error *err)
{
    (void)err;
    o->pin_sha256 = v;
    return MJ_OK;
}

static mj_outcome opt_tls_min(mj_cli_options *o, const char *v, mj_error *err)
{
    static const struct {
        const char *name;
        int version;
    } versions[] = {{"1.2", TLS1_2_VERSION}, {"1.3", TLS1_3_VERSION}};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        if (strcmp(versions[i].name, v) == 0) {
            o->tls_min = versions[i].version;
            return MJ_OK;
        }
    }
    return usage(err, "--tls-min must be 1.2 or 1.3, not", v);
}

/* A decimal count of milliseconds, 1..MJ_CLI_MS_MAX. */
static mj_outcome parse_ms(const char *opt, const char *v, int *out, mj_error *err)
{
    char what[128];
    char *end = NULL;
    errno = 0;
    long n = (v[0] >= '0' && v[0] <= '9') ? strtol(v, &end, 10) : -1;
    if (end == NULL || *end != '\0' || errno != 0 || n <= 0 || n > MJ_CLI_MS_MAX) {
        snprintf(what, sizeof what, "%s must be a number of milliseconds from 1 to %ld, not", opt,
                 MJ_CLI_MS_MAX);
        return usage(err, what, v);
    }
    *out = (int)n;
    return MJ_OK;
}

static mj_outcome opt_timeout(mj_cli_options *o, const char *v, mj_error *err)
{
    return parse_ms("--timeout-ms", v, &o->timeout_ms, err);
}

static mj_outcome opt_deadline(mj_cli_options *o, const char *v, mj_error *err)
{
    return parse_ms("--deadline-ms", v, &o->deadline_ms, err);
}

static mj_outcome opt_connect_timeout(mj_cli_options *o, const char *v, mj_error *err)
{
    return parse_ms("--connect-timeout-ms", v, &o->connect_timeout_ms, err);
}

static mj_outcome opt_log(mj_cli_options *o, const char *v, mj_error *err)
{
    (void)err;
    o->log_path = v;
    return MJ_OK;
}

/* ADDR of --resolve: an IP literal, IPv6 with or without brackets. */
static bool parse_resolve_addr(const char *a, mj_cli_resolve *r)
{
    unsigned char bin[16];
    size_t len = strlen(a);
    if (len >= 2 && a[0] == '[' && a[len - 1] == ']') {
        a++;
        len -= 2;
    }
    if (len == 0 || len >= sizeof r->addr)
        return false;
    memcpy(r->addr, a, len);
    r->addr[len] = '\0';
    return inet_pton(AF_INET, r->addr, bin) == 1 || inet_pton(AF_INET6, r->addr, bin) == 1;
}

/* HOST:PORT:ADDR, as curl's --resolve. */
static mj_outcome opt_resolve(mj_cli_options *o, const char *v, mj_error *err)
{
    const char *shape = "--resolve must be HOST:PORT:ADDR (ADDR an IP address), not";
    if (o->n_resolve == MJ_CLI_RESOLVE_MAX)
        return usage(err, "too many --resolve options (at most 8)", NULL);
    mj_cli_resolve *r = &o->resolve[o->n_resolve];
    const char *c1 = strchr(v, ':');
    const char *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
    if (c2 == NULL || c1 == v || (size_t)(c1 - v) >= sizeof r->host)
        return usage(err, shape, v);
    memcpy(r->host, v, (size_t)(c1 - v));
    r->host[c1 - v] = '\0';
    unsigned long port = 0;
    for (const char *p = c1 + 1; p < c2; p++) {
        if (*p < '0' || *p > '9' || (port = port * 10 + (unsigned long)(*p - '0')) > 65535)
            return usage(err, shape, v);
    }
    if (port == 0 || !parse_resolve_addr(c2 + 1, r))
        return usage(err, shape, v);
    r->port = (unsigned)port;
    o->n_resolve++;
    return MJ_OK;
}

/* Envelope addresses and identities: no control byte may reach a command
 * line (SECURITY-CASES #136: "MAIL FROM:<a>\r\nDATA" injection). */
static mj_outcome check_plain(const char *opt, const char *v, size_t max, mj_error *err)
{
    char what[96];
    size_t len = strlen(v);
    if (len > max) {
        snprintf(what, sizeof what, "%s is longer than %zu bytes:", opt, max);
        return usage(err, what, v);
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c == 0x7f) {
            snprintf(what, sizeof what, "%s contains a control byte:", opt);
            return usage(err, what, v);
        }
    }
    return MJ_OK;
}

/* RFC 5321 4.5.3.1.3: a path is at most 256 octets. */
#define MJ_CLI_PATH_MAX 256

static mj_outcome opt_mechanism(mj_cli_options *o, const char *v, mj_error *err)
{
    if (mj_sasl_mech_from_name(v, strlen(v), &o->mechanism) != 0 || o->mechanism == MJ_SASL_NONE)
        return usage(err, "--mechanism must be a SASL mechanism mailjig knows (PLAIN, LOGIN, "
                          "CRAM-MD5, SCRAM-SHA-1/256/512[-PLUS], XOAUTH2, OAUTHBEARER, "
                          "ANONYMOUS, EXTERNAL), not",
                     v);
    return MJ_OK;
}

static mj_outcome opt_allow_insecure_auth(mj_cli_options *o, const char *v, mj_error *err)
{
    (void)v;
    (void)err;
    o->allow_insecure_auth = true;
    return MJ_OK;
}

static mj_outcome opt_authzid(mj_cli_options *o, const char *v, mj_error *err)
{
    o->authzid = v;
    return check_plain("--authzid", v, MJ_SASL_CRED_MAX - 1, err);
}

static mj_outcome opt_token_file(mj_cli_options *o, const char *v, mj_error *err)
{
    (void)err;
    o->token_file = v;
    return MJ_OK;
}

static mj_outcome opt_from(mj_cli_options *o, const char *v, mj_error *err)
{
    o->from = v;
    return check_plain("--from", v, MJ_CLI_PATH_MAX, err);
}

static mj_outcome opt_to(mj_cli_options *o, const char *v, mj_error *err)
{
    if (o->n_to == MJ_CLI_RCPT_MAX)
        return usage(err, "too many --to options (at most 100)", NULL);
    mj_outcome rc = check_plain("--to", v, MJ_CLI_PATH_MAX, err);
    if (rc == MJ_OK)
        o->to[o->n_to++] = v;
    return rc;
}

static mj_outcome opt_message(mj_cli_options *o, const char *v, mj_error *err)
{
    (void)err;
    o->message = v;
    return MJ_OK;
}

/* Longest --output path (Linux PATH_MAX). */
#define MJ_CLI_FILE_PATH_MAX 4096

static mj_outcome opt_output(mj_cli_options *o, const char *v, mj_error *err)
{
    mj_outcome rc = check_plain("--output", v, MJ_CLI_FILE_PATH_MAX, err);
    if (rc == MJ_OK)
        o->output = v;
    return rc;
}

/* ---- SMTP extensions (RFC 3030, 6152, 6531, 3461, 8689) ---------------------- */

static mj_outcome opt_body(mj_cli_options *o, const char *v, mj_error *err)
{
    static const struct {
        const char *name;
        mj_smtp_body body;
    } bodies[] = {{"7bit", MJ_SMTP_BODY_7BIT},
                  {"8bitmime", MJ_SMTP_BODY_8BITMIME},
                  {"binarymime", MJ_SMTP_BODY_BINARYMIME}};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        if (strcasecmp(bodies[i].name, v) == 0) {
            o->body = bodies[i].body;
            o->body_given = true;
            return MJ_OK;
        }
    }
    return usage(err, "--body must be 7bit, 8bitmime or binarymime, not", v);
}

static mj_outcome opt_chunking(mj_cli_options *o, const char *v, mj_error *err)
{
    (void)v, (void)err;
    o->chunking = true;
    return MJ_OK;
}

static mj_outcome opt_smtputf8(mj_cli_options *o, const char *v, mj_error *err)
{
    (void)v, (void)err;
    o->smtputf8 = true;
    return MJ_OK;
}

static mj_outcome opt_compress(mj_cli_options *o, const char *v, mj_error *err)
{
    (void)v, (void)err;
    o->compress = true;
    return MJ_OK;
}

static mj_outcome opt_strict(mj_cli_options *o, const char *v, mj_error *err)
{
    (void)v, (void)err;
    o->strict = true;
    return MJ_OK;
}

static mj_outcome opt_utf8(mj_cli_options *o, const char *v, mj_error *err)
{
    (void)v, (void)err;
    o->utf8 = true;
    return MJ_OK;
}

static mj_outcome opt_requiretls(mj_cli_options *o, const char *v, mj_error *err)
{
    (void)v, (void)err;
    o->requiretls = true;
    return MJ_OK;
}

static mj_outcome opt_ret(mj_cli_options *o, const char *v, mj_error *err)
{
    if (strcasecmp(v, "full") == 0)
        o->ret = MJ_SMTP_RET_FULL;
    else if (strcasecmp(v, "hdrs") == 0)
        o->ret = MJ_SMTP_RET_HDRS;
    else
        return usage(err, "--ret must be FULL or HDRS, not", v);
    return MJ_OK;
}

/* RFC 3461 4.4: ENVID is at most 100 characters once xtext-encoded; the
 * library caps the raw value so that every byte fits encoded. */
static mj_outcome opt_envid(mj_cli_options *o, const char *v, mj_error *err)
{
    o->envid = v;
    return check_plain("--envid", v, MJ_SMTP_ARG_MAX / 3, err);
}

/* NOTIFY (RFC 3461 4.1): NEVER, or a comma list of SUCCESS, FAILURE, DELAY. */
static mj_outcome parse_notify(const char *opt, const char *v, unsigned *out, mj_error *err)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"SUCCESS", MJ_SMTP_NOTIFY_SUCCESS},
                 {"FAILURE", MJ_SMTP_NOTIFY_FAILURE},
                 {"DELAY", MJ_SMTP_NOTIFY_DELAY},
                 {"NEVER", MJ_SMTP_NOTIFY_NEVER}};
    char what[128];
    unsigned bits = 0;
    for (const char *p = v;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        unsigned bit = 0;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strlen(names[i].name) == len && strncasecmp(names[i].name, p, len) == 0)
                bit = names[i].bit;
        if (bit == 0 || (bits & bit) != 0) {
            snprintf(what, sizeof what,
                     "%s must be NEVER or a list of SUCCESS, FAILURE, DELAY (each once), not", opt);
            return usage(err, what, v);
        }
        bits |= bit;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    if ((bits & MJ_SMTP_NOTIFY_NEVER) != 0 && bits != MJ_SMTP_NOTIFY_NEVER) {
        snprintf(what, sizeof what, "%s: NEVER excludes the other values:", opt);
        return usage(err, what, v);
    }
    *out = bits;
    return MJ_OK;
}

static mj_outcome opt_notify(mj_cli_options *o, const char *v, mj_error *err)
{
    return parse_notify("--notify", v, &o->notify, err);
}

/* Options that qualify one recipient: the --to given last before them. */
static mj_outcome last_rcpt(const char *opt, const mj_cli_options *o, mj_error *err)
{
    char what[96];
    if (o->n_to == 0) {
        snprintf(what, sizeof what, "%s applies to the --to before it, and there is none", opt);
        return usage(err, what, NULL);
    }
    return MJ_OK;
}

static mj_outcome opt_rcpt_notify(mj_cli_options *o, const char *v, mj_error *err)
{
    mj_outcome rc = last_rcpt("--rcpt-notify", o, err);
    return rc != MJ_OK ? rc : parse_notify("--rcpt-notify", v, &o->to_notify[o->n_to - 1], err);
}

static mj_outcome opt_orcpt(mj_cli_options *o, const char *v, mj_error *err)
{
    mj_outcome rc = last_rcpt("--orcpt", o, err);
    if (rc == MJ_OK)
        rc = check_plain("--orcpt", v, MJ_CLI_PATH_MAX, err);
    if (rc == MJ_OK) {
        o->orcpt[o->n_to - 1] = v;
        o->has_orcpt = true;
    }
    return rc;
}

/* ---- IMAP CONDSTORE / QRESYNC (RFC 7162) ------------------------------------- */

/* Largest mod-sequence (RFC 7162 mod-sequence-value: 63 bits). */
#define OPT_MODSEQ_MAX ((uint64_t)INT64_MAX)

/* Decimal digits only, lo..hi, from text[0..len). */
static bool parse_u64(const char *text, size_t len, uint64_t lo, uint64_t hi, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0 || len > 20)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return false;
        unsigned d = (unsigned)(text[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static mj_outcome opt_condstore(mj_cli_options *o, const char *v, mj_error *err)
{
    (void)v, (void)err;
    o->condstore = true;
    return MJ_OK;
}

/* UIDVALIDITY:MODSEQ[:KNOWN-UIDS]; the known UIDs (a uid set) are checked by the library. */
static mj_outcome opt_qresync(mj_cli_options *o, const char *v, mj_error *err)
{
    const char *c1 = strchr(v, ':');
    const char *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
    size_t mlen = c1 == NULL ? 0 : c2 != NULL ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1);
    uint64_t uv = 0;
    if (c1 == NULL || !parse_u64(v, (size_t)(c1 - v), 1, UINT32_MAX, &uv) ||
        !parse_u64(c1 + 1, mlen, 1, OPT_MODSEQ_MAX, &o->qresync_modseq) ||
        (c2 != NULL && c2[1] == '\0'))
        return usage(err,
                     "--qresync must be UIDVALIDITY:MODSEQ[:KNOWN-UIDS] (UIDVALIDITY 1 to "
                     "2^32-1, MODSEQ 1 to 2^63-1), not",
                     v);
    o->qresync = true;
    o->qresync_uidvalidity = (uint32_t)uv;
    o->qresync_known = c2 != NULL ? c2 + 1 : NULL;
    return MJ_OK;
}

/* QRESYNC's sequence match data (RFC 7162 3.2.5.2): checked by the library. */
static mj_outcome opt_seq_match(mj_cli_options *o, const char *v, mj_error *err)
{
    (void)err;
    o->qresync_seq_match = v;
    return MJ_OK;
}

static mj_outcome opt_uid_match(mj_cli_options *o, const char *v, mj_error *err)
{
    (void)err;
    o->qresync_uid_match = v;
    return MJ_OK;
}

/* ESORT's RETURN options ("MIN MAX COUNT ALL", "" for ALL): checked by the library. */
static mj_outcome opt_sort_return(mj_cli_options *o, const char *v, mj_error *err)
{
    (void)err;
    o->sort_return = v;
    return MJ_OK;
}

static mj_outcome opt_changedsince(mj_cli_options *o, const char *v, mj_error *err)
{
    if (!parse_u64(v, strlen(v), 1, OPT_MODSEQ_MAX, &o->changedsince))
        return usage(err, "--changedsince must be a mod-sequence from 1 to 2^63-1, not", v);
    o->has_changedsince = true;
    return MJ_OK;
}

static mj_outcome opt_silent(mj_cli_options *o, const char *v, mj_error *err)
{
    (void)v, (void)err;
    o->silent = true;
    return MJ_OK;
}

static mj_outcome opt_vanished(mj_cli_options *o, const char *v, mj_error *err)
{
    (void)v, (void)err;
    o->vanished = true;
    return MJ_OK;
}

static mj_outcome opt_unchangedsince(mj_cli_options *o, const char *v, mj_error *err)
{
    if (!parse_u64(v, strlen(v), 0, OPT_MODSEQ_MAX, &o->unchangedsince))
        return usage(err, "--unchangedsince must be a mod-sequence from 0 to 2^63-1, not", v);
    o->has_unchangedsince = true;
    return MJ_OK;
}

/* ---- IMAP LIST-EXTENDED / LIST-STATUS (RFC 5258, RFC 5819) ------------------- */

typedef struct opt_word {
    const char *name;
    unsigned bit;
} opt_word;

/* A comma list of the words of table (any case, each once) -> *bits. */
static mj_outcome parse_words(const char *opt, const char *v, const opt_word *table, size_t n,
                              const char *expected, unsigned *bits, mj_error *err)
{
    char what[160];
    unsigned out = 0;
    for (const char *p = v;;) {
        size_t len = strcspn(p, ",");
        unsigned bit = 0;
        for (size_t i = 0; i < n; i++)
            if (strlen(table[i].name) == len && strncasecmp(table[i].name, p, len) == 0)
                bit = table[i].bit;
        if (bit == 0 || (out & bit) != 0) {
            snprintf(what, sizeof what, "%s must be a comma list of %s (each once), not", opt,
                     expected);
            return usage(err, what, v);
        }
        out |= bit;
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
    *bits = out;
    return MJ_OK;
}

static mj_outcome opt_list_select(mj_cli_options *o, const char *v, mj_error *err)
{
    static const opt_word words[] = {{"subscribed", MJ_IMAP_LIST_SEL_SUBSCRIBED},
                                     {"remote", MJ_IMAP_LIST_SEL_REMOTE},
                                     {"recursivematch", MJ_IMAP_LIST_SEL_RECURSIVEMATCH},
                                     {"special-use", MJ_IMAP_LIST_SEL_SPECIAL_USE}};
    return parse_words("--list-select", v, words, sizeof words / sizeof words[0],
                       "subscribed, remote, recursivematch, special-use", &o->list_select, err);
}

static mj_outcome opt_list_return(mj_cli_options *o, const char *v, mj_error *err)
{
    static const opt_word words[] = {{"subscribed", MJ_IMAP_LIST_RET_SUBSCRIBED},
                                     {"children", MJ_IMAP_LIST_RET_CHILDREN},
                                     {"special-use", MJ_IMAP_LIST_RET_SPECIAL_USE}};
    return parse_words("--list-return", v, words, sizeof words / sizeof words[0],
                       "subscribed, children, special-use", &o->list_return, err);
}

static mj_outcome opt_list_status(mj_cli_options *o, const char *v, mj_error *err)
{
    static const opt_word words[] = {{"messages", MJ_IMAP_STATUS_MESSAGES},
                                     {"recent", MJ_IMAP_STATUS_RECENT},
                                     {"uidnext", MJ_IMAP_STATUS_UIDNEXT},
                                     {"uidvalidity", MJ_IMAP_STATUS_UIDVALIDITY},
                                     {"unseen", MJ_IMAP_STATUS_UNSEEN},
                                     {"highestmodseq", MJ_IMAP_STATUS_HIGHESTMODSEQ},
                                     {"size", MJ_IMAP_STATUS_SIZE},
                                     {"deleted", MJ_IMAP_STATUS_DELETED}};
    return parse_words("--list-status", v, words, sizeof words / sizeof words[0],
                       "messages, recent, uidnext, uidvalidity, unseen, highestmodseq, size, "
                       "deleted",
                       &o->list_status, err);
}

static const struct opt_row opt_table[] = {
    {"security", '\0', "MODE", opt_security,
     "none|implicit|starttls|starttls-if-available|auto (default auto: by port)"},
    {"user", '\0', "NAME", opt_user, "user name (overrides the URL's user@)"},
    {"password-file", '\0', "PATH", opt_password_file,
     "read the password from the first line of PATH"},
    {"cafile", '\0', "PATH", opt_cafile, "trust exactly the CAs in this PEM file"},
    {"pin-sha256", '\0', "HEX", opt_pin, "trust only a leaf certificate with this SHA-256"},
    {"insecure", '\0', NULL, opt_insecure, "do not verify the server's certificate"},
    {"client-cert", '\0', "PATH", opt_client_cert, "client certificate (PEM)"},
    {"client-key", '\0', "PATH", opt_client_key, "client key (PEM; default: --client-cert)"},
    {"tls-min", '\0', "1.2|1.3", opt_tls_min, "lowest TLS version accepted (default 1.2)"},
    {"timeout-ms", '\0', "N", opt_timeout, "longest wait for any progress (default 30000)"},
    {"deadline-ms", '\0', "N", opt_deadline, "total time allowed for the whole command"},
    {"connect-timeout-ms", '\0', "N", opt_connect_timeout,
     "time allowed for connecting (default 10000)"},
    {"log", '\0', "FILE", opt_log, "write the protocol log to FILE ('-' = stderr)"},
    {"log-timestamps", '\0', NULL, opt_log_timestamps, "timestamp each protocol log line"},
    {"json", '\0', NULL, opt_json, "print the outcome as one JSON object on stdout"},
    {"resolve", '\0', "HOST:PORT:ADDR", opt_resolve,
     "connect to ADDR for HOST:PORT, still verifying HOST"},
    {"mechanism", '\0', "NAME", opt_mechanism, "use this SASL mechanism (default: the strongest)"},
    {"allow-insecure-auth", '\0', NULL, opt_allow_insecure_auth,
     "allow passwords and tokens over plaintext or unverified TLS"},
    {"authzid", '\0', "ID", opt_authzid, "SASL authorization identity"},
    {"token-file", '\0', "PATH", opt_token_file,
     "read an OAuth 2.0 bearer token from the first line of PATH"},
    {"from", '\0', "ADDRESS", opt_from, "SMTP: the envelope sender (\"<>\" for the null sender)"},
    {"to", '\0', "ADDRESS", opt_to, "SMTP: an envelope recipient (repeat for more)"},
    {"message", '\0', "PATH", opt_message, "the message to send or append ('-' = stdin)"},
    {"output", '\0', "PATH", opt_output,
     "IMAP fetch: write the BODY[]/BINARY[] bytes to PATH ('-' = stdout), one message after another, instead of body_sha256"},
    {"body", '\0', "7bit|8bitmime|binarymime", opt_body,
     "SMTP: BODY= (default: 8bitmime for a file with 8-bit bytes; binarymime uses BDAT)"},
    {"chunking", '\0', NULL, opt_chunking, "SMTP: send with BDAT when the server offers CHUNKING"},
    {"smtputf8", '\0', NULL, opt_smtputf8,
     "SMTP: ask for SMTPUTF8 (implied by a non-ASCII address)"},
    {"requiretls", '\0', NULL, opt_requiretls,
     "SMTP: REQUIRETLS (RFC 8689): only over verified TLS to a server offering it"},
    {"ret", '\0', "FULL|HDRS", opt_ret, "SMTP DSN: return the full message or its headers"},
    {"envid", '\0', "ID", opt_envid, "SMTP DSN: the envelope identifier"},
    {"notify", '\0', "LIST", opt_notify,
     "SMTP DSN: NEVER or SUCCESS,FAILURE,DELAY for every recipient"},
    {"rcpt-notify", '\0', "LIST", opt_rcpt_notify,
     "SMTP DSN: NOTIFY for the --to before it (overrides --notify)"},
    {"orcpt", '\0', "ADDRESS", opt_orcpt,
     "SMTP DSN: the original recipient (rfc822) of the --to before it"},
    {"condstore", '\0', NULL, opt_condstore, "IMAP select: SELECT (CONDSTORE): highestmodseq"},
    {"qresync", '\0', "V:MODSEQ[:UIDS]", opt_qresync,
     "IMAP select: ENABLE QRESYNC, SELECT (QRESYNC ...): vanished and changed messages"},
    {"seq-match", '\0', "SEQS", opt_seq_match,
     "IMAP select --qresync with known UIDs: message numbers whose UIDs --uid-match gives"},
    {"uid-match", '\0', "UIDS", opt_uid_match,
     "IMAP select --qresync: the UIDs of the --seq-match numbers, in the same order"},
    {"return", '\0', "OPTS", opt_sort_return,
     "IMAP sort: SORT RETURN (OPTS) (ESORT): MIN MAX COUNT ALL, space-separated"},
    {"changedsince", '\0', "MODSEQ", opt_changedsince,
     "IMAP fetch: only messages changed since MODSEQ (CONDSTORE)"},
    {"vanished", '\0', NULL, opt_vanished,
     "IMAP fetch with --changedsince and uid: also the UIDs expunged since (QRESYNC)"},
    {"unchangedsince", '\0', "MODSEQ", opt_unchangedsince,
     "IMAP store: only messages unchanged since MODSEQ; the others are reported as modified"},
    {"silent", '\0', NULL, opt_silent,
     "IMAP store: +FLAGS.SILENT and the like: the server sends no FETCH back"},
    {"strict", '\0', NULL, opt_strict,
     "IMAP: parse strictly (RFC 9051): no tolerance of known server quirks"},
    {"compress", '\0', NULL, opt_compress,
     "IMAP: COMPRESS=DEFLATE after login when the server offers it (RFC 4978)"},
    {"utf8", '\0', NULL, opt_utf8,
     "IMAP: ENABLE UTF8=ACCEPT after login when the server offers it (RFC 6855)"},
    {"list-select", '\0', "WORDS", opt_list_select,
     "IMAP list: LIST (...) selection options: subscribed,remote,recursivematch,special-use"},
    {"list-return", '\0', "WORDS", opt_list_return,
     "IMAP list: RETURN (...) options: subscribed,children,special-use"},
    {"list-status", '\0', "ITEMS", opt_list_status,
     "IMAP list: RETURN (STATUS (...)) (LIST-STATUS): messages,unseen,uidnext,uidvalidity,..."},
    {"version", 'V', NULL, opt_version, "print the version and exit"},
    {"help", 'h', NULL, opt_help, "print this help and exit"},
};
#define OPT_COUNT (sizeof opt_table / sizeof opt_table[0])

void mj_cli_print_options(FILE *fp)
{
    for (size_t i = 0; i < OPT_COUNT; i++) {
        const struct opt_row *r = &opt_table[i];
        char head[64];
        char short_head[8] = "    ";
        if (r->short_name != '\0')
            snprintf(short_head, sizeof short_head, "-%c, ", r->short_name);
        snprintf(head, sizeof head, "%s--%s%s%s", short_head, r->name, r->arg ? " " : "",
                 r->arg ? r->arg : "");
        fprintf(fp, "  %-36s %s\n", head, r->help);
    }
}

/* ---- the parser -------------------------------------------------------------- */

static const struct opt_row *find_opt(const char *arg, size_t name_len)
{
    for (size_t i = 0; i < OPT_COUNT; i++) {
        const struct opt_row *r = &opt_table[i];
        if (arg[1] != '-') {
            if (name_len == 1 && r->short_name == arg[1])
                return r;
        } else if (strlen(r->name) == name_len && strncmp(r->name, arg + 2, name_len) == 0) {
            return r;
        }
    }
    return NULL;
}

/*
 * One option at argv[*i]: "--name", "--name=value", "--name value", "-h".
 * Advances *i past a separate value.
 */
static mj_outcome parse_one_option(int argc, char **argv, int *i, mj_cli_options *o, mj_error *err)
{
    const char *arg = argv[*i];
    const char *eq = arg[1] == '-' ? strchr(arg, '=') : NULL;
    size_t name_len = eq != NULL ? (size_t)(eq - arg - 2) : strlen(arg) - (arg[1] == '-' ? 2 : 1);
    const struct opt_row *r = find_opt(arg, name_len);
    if (r == NULL || (arg[1] != '-' && arg[2] != '\0'))
        return usage(err, "unknown option", arg);
    if (r->arg == NULL) {
        if (eq != NULL)
            return usage(err, "option takes no value:", arg);
        return r->fn(o, NULL, err);
    }
    const char *value = eq != NULL ? eq + 1 : NULL;
    if (value == NULL) {
        if (*i + 1 >= argc)
            return usage(err, "option needs a value:", arg);
        value = argv[++*i];
    }
    if (value[0] == '\0')
        return usage(err, "option needs a non-empty value:", arg);
    return r->fn(o, value, err);
}

static bool is_option(const char *a)
{
    return a[0] == '-' && a[1] != '\0';
}

/*
 * Read the first line of a secret file (--password-file, --token-file) into
 * out (cap bytes, NUL included); CR/LF stripped; the secret is never quoted
 * in a message, only the file's path.
 */
static mj_outcome read_secret_line(const char *opt, const char *path, char *out, size_t cap,
                                   mj_error *err)
{
    char buf[MJ_SASL_TOKEN_MAX + 2];
    char what[128];
    size_t n = 0;
    mj_outcome rc = MJ_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(what, sizeof what, "cannot open %s (%s):", opt, strerror(errno));
        return usage(err, what, path);
    }
    size_t want = cap + 1 < sizeof buf ? cap + 1 : sizeof buf;
    while (n < want) {
        ssize_t got = read(fd, buf + n, want - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            snprintf(what, sizeof what, "cannot read %s", opt);
            rc = usage(err, what, path);
            break;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    close(fd);
    const char *nl = rc == MJ_OK ? memchr(buf, '\n', n) : NULL;
    size_t len = nl != NULL ? (size_t)(nl - buf) : n;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    if (rc == MJ_OK && (len >= cap || (nl == NULL && n == want))) {
        snprintf(what, sizeof what, "the first line is too long (at most %zu bytes) in %s", cap - 1,
                 opt);
        rc = usage(err, what, path);
    }
    if (rc == MJ_OK && len == 0) {
        snprintf(what, sizeof what, "the first line is empty in %s", opt);
        rc = usage(err, what, path);
    }
    for (size_t i = 0; rc == MJ_OK && i < len; i++) {
        if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f) {
            snprintf(what, sizeof what, "the first line contains a control byte in %s", opt);
            rc = usage(err, what, path);
        }
    }
    if (rc == MJ_OK) {
        memcpy(out, buf, len);
        out[len] = '\0';
    }
    explicit_bzero(buf, sizeof buf);
    return rc;
}

static mj_outcome read_password(mj_cli_options *o, mj_error *err)
{
    mj_outcome rc = read_secret_line("--password-file", o->password_file, o->password,
                                     sizeof o->password, err);
    o->has_password = rc == MJ_OK;
    return rc;
}

static mj_outcome read_token(mj_cli_options *o, mj_error *err)
{
    mj_outcome rc = read_secret_line("--token-file", o->token_file, o->token, sizeof o->token, err);
    o->has_token = rc == MJ_OK;
    return rc;
}

/* The scheme implies a mode; an explicit --security must agree with it. */
static mj_outcome settle_security(mj_cli_options *o, mj_error *err)
{
    mj_url *u = &o->url;
    if (!o->security_given) {
        o->security = u->implicit_tls ? MJ_SEC_IMPLICIT : MJ_SEC_AUTO;
    } else if (u->implicit_tls && o->security == MJ_SEC_AUTO) {
        o->security = MJ_SEC_IMPLICIT;
    } else if (u->implicit_tls && o->security != MJ_SEC_IMPLICIT) {
        char what[160];
        snprintf(what, sizeof what,
                 "%ss:// means implicit TLS and conflicts with --security %s "
                 "(use %s:// for that mode)",
                 mj_protocol_name(u->protocol), mj_security_name(o->security),
                 mj_protocol_name(u->protocol));
        return usage(err, what, NULL);
    }
    o->port =
        u->port_explicit ? u->port : mj_default_port(u->protocol, o->security == MJ_SEC_IMPLICIT);
    o->resolved = mj_security_resolve(o->security, o->port);
    return MJ_OK;
}

/* After the loop: URL, OP, user, password, security. */
static mj_outcome finish(mj_cli_options *o, const char *url_text, mj_error *err)
{
    if (o->help || o->version)
        return MJ_OK;
    if (url_text == NULL)
        return usage(err, "missing URL (try mj --help)", NULL);
    mj_outcome rc = mj_url_parse(url_text, &o->url, err);
    if (rc != MJ_OK)
        return rc;
    o->has_url = true;
    if (o->op == NULL)
        return usage(err, "missing operation after the URL (try mj --help)", NULL);
    if (o->user[0] == '\0')
        memcpy(o->user, o->url.user, sizeof o->user);
    if ((o->qresync_seq_match != NULL || o->qresync_uid_match != NULL) && !o->qresync)
        return usage(err, "--seq-match and --uid-match go with --qresync V:MODSEQ:UIDS", NULL);
    if (o->password_file != NULL && (rc = read_password(o, err)) != MJ_OK)
        return rc;
    if (o->token_file != NULL && (rc = read_token(o, err)) != MJ_OK)
        return rc;
    return settle_security(o, err);
}

mj_outcome mj_cli_parse(int argc, char **argv, mj_cli_options *opts_out, mj_error *err)
{
    mj_cli_options *o = opts_out;
    const char *url_text = NULL;
    bool options_done = false;

    mj_error later; /* errors after the first are dropped */
    bool failed = false;

    memset(o, 0, sizeof *o);
    o->security = MJ_SEC_AUTO;
    /* After a bad option, go on scanning so that a later --json still counts:
     * the usage error is then printed as JSON too. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!options_done && strcmp(a, "--") == 0) {
            options_done = true;
        } else if (!options_done && is_option(a)) {
            if (parse_one_option(argc, argv, &i, o, failed ? &later : err) != MJ_OK)
                failed = true;
        } else if (url_text == NULL) {
            url_text = a;
        } else if (o->op == NULL) {
            o->op = a;
        } else {
            o->args = &argv[i];
            o->n_args = argc - i;
            break;
        }
    }
    if (failed)
        return err->outcome;
    return finish(o, url_text, err);
}

void mj_cli_options_wipe(mj_cli_options *opts)
{
    if (opts == NULL)
        return;
    explicit_bzero(opts->password, sizeof opts->password);
    opts->has_password = false;
}
