/*
 * url.c: mail URLs (url.h) and the security modes.
 *
 * Follows the generic syntax of RFC 3986 (scheme "://" [userinfo "@"] host
 * [":" port] ["/" path]) for the schemes of RFC 5092 (imap), RFC 2384 (pop)
 * and the customary smtp/smtps, narrowed to what a mail client needs:
 *   - no password in the URL (RFC 3986 section 3.2.1 deprecates it too);
 *   - no query or fragment;
 *   - user and path are percent-decoded, and may not decode to control
 *     bytes, because both end up inside protocol commands (CRLF injection);
 *   - the host is a DNS name, an IPv4 literal, or an IPv6 literal in [].
 * Every error is MJ_USAGE / MJ_R_BAD_ARGUMENT.  Messages quote the offending
 * part through mj_escape and never quote the userinfo of a URL that carries a
 * password.
 */
#include "mailjig/url.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

/* Longest URL accepted: the sum of the part caps plus the punctuation. */
#define URL_TEXT_MAX (MJ_URL_HOST_MAX + MJ_URL_USER_MAX * 3 + MJ_URL_PATH_MAX * 3 + 32)
/* Room for one escaped excerpt in a message. */
#define URL_QUOTE_MAX 96

struct scheme_row {
    const char *name;
    mj_protocol protocol;
    bool implicit_tls;
};

static const struct scheme_row scheme_table[] = {
    {"imap", MJ_PROTO_IMAP, false}, {"imaps", MJ_PROTO_IMAP, true}, {"pop3", MJ_PROTO_POP3, false},
    {"pop3s", MJ_PROTO_POP3, true}, {"smtp", MJ_PROTO_SMTP, false}, {"smtps", MJ_PROTO_SMTP, true},
};

/* Indexed by mj_protocol: name and default ports {plain/STARTTLS, implicit}. */
static const struct {
    const char *name;
    unsigned port[2];
} protocol_table[] = {
    [MJ_PROTO_IMAP] = {"imap", {143, 993}},
    [MJ_PROTO_POP3] = {"pop3", {110, 995}},
    [MJ_PROTO_SMTP] = {"smtp", {587, 465}},
};

static const char *const security_table[] = {
    [MJ_SEC_NONE] = "none",         [MJ_SEC_IMPLICIT] = "implicit",
    [MJ_SEC_STARTTLS] = "starttls", [MJ_SEC_STARTTLS_IF_AVAILABLE] = "starttls-if-available",
    [MJ_SEC_AUTO] = "auto",
};
#define SECURITY_COUNT (sizeof security_table / sizeof security_table[0])

/* The ports where "auto" means implicit TLS (RFC 8314 section 3.3). */
static const unsigned implicit_ports[] = {993, 995, 465};

const char *mj_protocol_name(mj_protocol p)
{
    if ((unsigned)p > MJ_PROTO_SMTP)
        return "unknown";
    return protocol_table[p].name;
}

const char *mj_security_name(mj_security s)
{
    if ((unsigned)s >= SECURITY_COUNT)
        return "unknown";
    return security_table[s];
}

int mj_security_from_name(const char *name, mj_security *sec_out)
{
    for (unsigned i = 0; i < SECURITY_COUNT; i++) {
        if (name != NULL && strcmp(security_table[i], name) == 0) {
            *sec_out = (mj_security)i;
            return 0;
        }
    }
    return -1;
}

mj_security mj_security_resolve(mj_security s, unsigned port)
{
    if (s != MJ_SEC_AUTO)
        return s;
    for (size_t i = 0; i < sizeof implicit_ports / sizeof implicit_ports[0]; i++) {
        if (implicit_ports[i] == port)
            return MJ_SEC_IMPLICIT;
    }
    return MJ_SEC_STARTTLS_IF_AVAILABLE;
}

unsigned mj_default_port(mj_protocol p, bool implicit_tls)
{
    if ((unsigned)p > MJ_PROTO_SMTP)
        return 0;
    return protocol_table[p].port[implicit_tls ? 1 : 0];
}

void mj_url_log_uri(mj_protocol p, mj_security resolved, const char *host, unsigned port, char *out,
                    size_t out_size)
{
    /* Indexed by the resolved mode: the "s" scheme suffix and the query. */
    static const struct {
        const char *s;
        const char *query;
    } shape[] = {
        [MJ_SEC_NONE] = {"", ""},
        [MJ_SEC_IMPLICIT] = {"s", ""},
        [MJ_SEC_STARTTLS] = {"", "?starttls=always"},
        [MJ_SEC_STARTTLS_IF_AVAILABLE] = {"", "?starttls=when-available"},
    };
    mj_security s = mj_security_resolve(resolved, port);
    if ((unsigned)s > MJ_SEC_STARTTLS_IF_AVAILABLE)
        s = MJ_SEC_NONE;
    bool v6 = host != NULL && strchr(host, ':') != NULL;
    if (out_size == 0)
        return;
    snprintf(out, out_size, "%s%s://%s%s%s:%u/%s", mj_protocol_name(p), shape[s].s, v6 ? "[" : "",
             host != NULL ? host : "", v6 ? "]" : "", port, shape[s].query);
}

/* ---- parsing ----------------------------------------------------------- */

/* A span of the input text. */
struct span {
    const char *p;
    size_t len;
};

static mj_outcome bad(mj_error *err, const char *what, struct span quoted)
{
    char q[URL_QUOTE_MAX];
    if (quoted.p == NULL)
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT, "bad URL: %s", what);
    mj_escape(quoted.p, quoted.len, q, sizeof q);
    return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT, "bad URL: %s '%s'", what, q);
}

static const struct span no_quote = {NULL, 0};

/* Control bytes and spaces can never appear raw; name the first one. */
static mj_outcome check_raw_bytes(const char *text, size_t len, mj_error *err)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 || c == 0x7f || c == ' ') {
            char q[8];
            mj_escape(&text[i], 1, q, sizeof q);
            return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT, "bad URL: %s '%s' at offset %zu",
                                c == ' ' ? "space" : "control byte", q, i);
        }
    }
    return MJ_OK;
}

/*
 * Percent-decode in into out (cap bytes, NUL included).  what names the part
 * for messages.  Decoded control bytes are refused: user and path go into
 * protocol commands, where CR/LF/NUL would inject a command.
 */
static mj_outcome decode_part(struct span in, const char *what, char *out, size_t cap,
                              mj_error *err)
{
    char msg[64];
    size_t o = 0;
    for (size_t i = 0; i < in.len; i++) {
        unsigned char c = (unsigned char)in.p[i];
        if (c == '%') {
            int hi = i + 2 < in.len ? OPENSSL_hexchar2int((unsigned char)in.p[i + 1]) : -1;
            int lo = hi >= 0 ? OPENSSL_hexchar2int((unsigned char)in.p[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                snprintf(msg, sizeof msg, "bad percent escape in %s at", what);
                size_t n = in.len - i < 3 ? in.len - i : 3;
                return bad(err, msg, (struct span){in.p + i, n});
            }
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        }
        if (c < 0x20 || c == 0x7f) {
            snprintf(msg, sizeof msg, "%s decodes to a control byte in", what);
            return bad(err, msg, in);
        }
        if (o + 1 >= cap) {
            return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                                "bad URL: %s is longer than %zu bytes", what, cap - 1);
        }
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return MJ_OK;
}

/* "imaps" -> protocol and implicit_tls; the span excludes "://". */
static mj_outcome parse_scheme(struct span s, mj_url *url, mj_error *err)
{
    for (size_t i = 0; i < sizeof scheme_table / sizeof scheme_table[0]; i++) {
        const struct scheme_row *row = &scheme_table[i];
        if (strlen(row->name) == s.len && strncasecmp(row->name, s.p, s.len) == 0) {
            url->protocol = row->protocol;
            url->implicit_tls = row->implicit_tls;
            return MJ_OK;
        }
    }
    return bad(err, "unknown scheme (expected imap, imaps, pop3, pop3s, smtp or smtps)", s);
}

/* RFC 3986 reg-name narrowed to DNS: letters, digits, '-', '.', '_'. */
static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

static mj_outcome parse_port(struct span s, mj_url *url, mj_error *err)
{
    unsigned long v = 0;
    if (s.len == 0)
        return bad(err, "empty port after ':'", no_quote);
    for (size_t i = 0; i < s.len; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return bad(err, "port is not a number:", s);
        v = v * 10 + (unsigned long)(s.p[i] - '0');
        if (v > 65535)
            return bad(err, "port out of range 1..65535:", s);
    }
    if (v == 0)
        return bad(err, "port out of range 1..65535:", s);
    url->port = (unsigned)v;
    url->port_explicit = true;
    return MJ_OK;
}

static mj_outcome copy_host(struct span h, mj_url *url, mj_error *err)
{
    if (h.len == 0)
        return bad(err, "empty host", no_quote);
    if (h.len >= MJ_URL_HOST_MAX) {
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "bad URL: host is longer than %d bytes", MJ_URL_HOST_MAX - 1);
    }
    memcpy(url->host, h.p, h.len);
    url->host[h.len] = '\0';
    return MJ_OK;
}

/* "[v6]" or "[v6]:port". */
static mj_outcome parse_ipv6_hostport(struct span a, mj_url *url, mj_error *err)
{
    unsigned char bin[16];
    const char *close = memchr(a.p, ']', a.len);
    if (close == NULL)
        return bad(err, "IPv6 literal without ']':", a);
    struct span h = {a.p + 1, (size_t)(close - a.p - 1)};
    mj_outcome o = copy_host(h, url, err);
    if (o != MJ_OK)
        return o;
    if (inet_pton(AF_INET6, url->host, bin) != 1)
        return bad(err, "not an IPv6 address:", h);
    url->host_is_ip = true;
    struct span rest = {close + 1, a.len - h.len - 2};
    if (rest.len == 0)
        return MJ_OK;
    if (rest.p[0] != ':')
        return bad(err, "unexpected text after the IPv6 literal:", rest);
    return parse_port((struct span){rest.p + 1, rest.len - 1}, url, err);
}

/* host[:port] where host is a name or an IPv4 literal. */
static mj_outcome parse_hostport(struct span a, mj_url *url, mj_error *err)
{
    unsigned char bin[4];
    if (a.len > 0 && a.p[0] == '[')
        return parse_ipv6_hostport(a, url, err);
    const char *colon = memchr(a.p, ':', a.len);
    struct span h = {a.p, colon != NULL ? (size_t)(colon - a.p) : a.len};
    if (colon != NULL && memchr(colon + 1, ':', a.len - h.len - 1) != NULL)
        return bad(err, "an IPv6 address must be in brackets:", a);
    mj_outcome o = copy_host(h, url, err);
    if (o != MJ_OK)
        return o;
    for (size_t i = 0; i < h.len; i++) {
        if (!is_name_char(h.p[i]))
            return bad(err, "invalid character in host", h);
    }
    url->host_is_ip = inet_pton(AF_INET, url->host, bin) == 1;
    if (colon == NULL)
        return MJ_OK;
    return parse_port((struct span){colon + 1, a.len - h.len - 1}, url, err);
}

/* [user@]host[:port]; a ':' in the userinfo is a password, refused unquoted. */
static mj_outcome parse_authority(struct span a, mj_url *url, mj_error *err)
{
    const char *at = NULL;
    for (size_t i = 0; i < a.len; i++) {
        if (a.p[i] == '@')
            at = a.p + i;
    }
    if (at == NULL)
        return parse_hostport(a, url, err);
    struct span user = {a.p, (size_t)(at - a.p)};
    if (memchr(user.p, ':', user.len) != NULL) {
        return bad(err,
                   "a password in the URL (user:password@) is refused; "
                   "use --password-file",
                   no_quote);
    }
    if (user.len == 0)
        return bad(err, "empty user name before '@'", no_quote);
    mj_outcome o = decode_part(user, "user", url->user, sizeof url->user, err);
    if (o != MJ_OK)
        return o;
    return parse_hostport((struct span){at + 1, a.len - user.len - 1}, url, err);
}

mj_outcome mj_url_parse(const char *text, mj_url *url_out, mj_error *err)
{
    memset(url_out, 0, sizeof *url_out);
    if (text == NULL || text[0] == '\0')
        return bad(err, "empty URL", no_quote);
    size_t len = strnlen(text, URL_TEXT_MAX + 1);
    if (len > URL_TEXT_MAX)
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT, "bad URL: longer than %d bytes",
                            URL_TEXT_MAX);
    mj_outcome o = check_raw_bytes(text, len, err);
    if (o != MJ_OK)
        return o;
    const char *sep = strstr(text, "://");
    if (sep == NULL)
        return bad(err,
                   "no scheme (expected imap://, imaps://, pop3://, pop3s://, smtp:// "
                   "or smtps://) in",
                   (struct span){text, len});
    o = parse_scheme((struct span){text, (size_t)(sep - text)}, url_out, err);
    if (o != MJ_OK)
        return o;
    const char *auth = sep + 3;
    size_t auth_len = strcspn(auth, "/?#");
    if (strpbrk(auth, "?#") != NULL)
        return bad(err, "a query or fragment ('?', '#') is not supported", no_quote);
    o = parse_authority((struct span){auth, auth_len}, url_out, err);
    if (o != MJ_OK)
        return o;
    if (!url_out->port_explicit)
        url_out->port = mj_default_port(url_out->protocol, url_out->implicit_tls);
    if (auth[auth_len] != '/')
        return MJ_OK;
    const char *path = auth + auth_len + 1;
    return decode_part((struct span){path, strlen(path)}, "path", url_out->path,
                       sizeof url_out->path, err);
}
