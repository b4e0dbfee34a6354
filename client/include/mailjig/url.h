/*
 * mailjig/url.h: mail URLs and security modes.
 *
 *     imap://[user@]host[:port][/path]     143, or 993 for imaps://
 *     pop3://...                           110, or 995 for pop3s://
 *     smtp://...                           587 (submission), or 465 for smtps://
 *
 * host may be a name, an IPv4 literal or an IPv6 literal in brackets; user is
 * percent-decoded.  A URL never carries a password ("user:pass@" is refused
 * with MJ_USAGE so that passwords do not end up in shell history and logs).
 */
#ifndef MAILJIG_URL_H
#define MAILJIG_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "mailjig/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mj_protocol { MJ_PROTO_IMAP = 0, MJ_PROTO_POP3, MJ_PROTO_SMTP } mj_protocol;

/*
 * Security modes of SCENARIOS.md.  MJ_SEC_AUTO resolves by port
 * (mj_security_resolve): 993, 995 and 465 are implicit TLS, any other port is
 * starttls-if-available.
 */
typedef enum mj_security {
    MJ_SEC_NONE = 0,
    MJ_SEC_IMPLICIT,
    MJ_SEC_STARTTLS,
    MJ_SEC_STARTTLS_IF_AVAILABLE,
    MJ_SEC_AUTO
} mj_security;

const char *mj_protocol_name(mj_protocol p);  /* "imap" */
const char *mj_security_name(mj_security s);  /* "starttls-if-available" */
int mj_security_from_name(const char *name, mj_security *sec_out) MJ_MUST_CHECK;
mj_security mj_security_resolve(mj_security s, unsigned port);

/* Default port of a protocol, plaintext/STARTTLS or implicit TLS. */
unsigned mj_default_port(mj_protocol p, bool implicit_tls);

#define MJ_URL_HOST_MAX 256
#define MJ_URL_USER_MAX 256
#define MJ_URL_PATH_MAX 1024

typedef struct mj_url {
    mj_protocol protocol;
    bool implicit_tls;             /* the "s" scheme */
    char host[MJ_URL_HOST_MAX];    /* without IPv6 brackets */
    bool host_is_ip;               /* IPv4 or IPv6 literal */
    unsigned port;                 /* explicit or default */
    bool port_explicit;
    char user[MJ_URL_USER_MAX];    /* "" when absent */
    char path[MJ_URL_PATH_MAX];    /* after the first '/', percent-decoded, "" if none */
} mj_url;

/*
 * Parse text into *url_out.  Errors are MJ_USAGE / MJ_R_BAD_ARGUMENT with a
 * message naming the problem (unknown scheme, bad port, empty host, CR/LF/NUL
 * or other control bytes, a password in the URL, a component too long).
 */
mj_outcome mj_url_parse(const char *text, mj_url *url_out, mj_error *err) MJ_MUST_CHECK;

/*
 * The URI for the protocol log's "Connected to" line (see log.h), for a
 * resolved security mode.  Writes at most out_size bytes, NUL included.
 */
void mj_url_log_uri(mj_protocol p, mj_security resolved, const char *host, unsigned port,
                    char *out, size_t out_size);

#ifdef __cplusplus
}
#endif
#endif
