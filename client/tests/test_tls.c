/*
 * test_tls.c: the TLS client transport (src/net/tls.c) against an in-process
 * OpenSSL server on a socketpair (support/tls_peer.c), for every test
 * certificate of scenarios/CERTIFICATES.md (SECURITY-CASES H and I).
 * Needs $MJ_CERTS (ci/mkcerts.sh).  Never touches the network.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "mailjig/transport.h"
#include "support/tls_peer.h"

/* ---- helpers ---------------------------------------------------------------- */

typedef struct session {
    mj_timeouts timeouts;
    mj_transport *t;
    tls_peer *peer;
    mj_error err;
    mj_outcome outcome;
} session;

#define PATH_MAX_TEST 1024
/* Certificate paths the client borrows; written once per test binary. */
static char ca_path[PATH_MAX_TEST];
static char client_crt_path[PATH_MAX_TEST];
static char client_key_path[PATH_MAX_TEST];

static void default_config(mj_tls_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->cafile = ca_path;
}

/* Start a peer with opts and run the client handshake for host with cfg. */
static void handshake(session *s, const tls_peer_opts *opts, const mj_tls_config *cfg,
                      const char *host)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    mj_timeouts_init(&s->timeouts);
    s->timeouts.io_ms = 5000;
    mj_error_clear(&s->err);
    assert_int_equal(mj_tcp_from_fd(sv[0], &s->timeouts, &s->t, &s->err), MJ_OK);
    s->peer = tls_peer_start(sv[1], opts);
    s->outcome = mj_transport_starttls(s->t, cfg, host, &s->err);
    /* One connection's errors never leak into the next message. */
    assert_int_equal(ERR_peek_error(), 0);
}

static void finish(session *s, tls_peer_result *r)
{
    mj_transport_close(s->t);
    tls_peer_join(s->peer, r);
}

/* SHA-256 of a test certificate's DER, as the pin must hold it. */
static void cert_sha256(const char *name, unsigned char out[MJ_SHA256_LEN])
{
    char file[64];
    char path[PATH_MAX_TEST];
    snprintf(file, sizeof file, "%s.crt", name);
    FILE *fp = fopen(tls_peer_cert_path(file, path, sizeof path), "r");
    assert_non_null(fp);
    X509 *x = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    assert_non_null(x);
    unsigned int len = 0;
    assert_int_equal(X509_digest(x, EVP_sha256(), out, &len), 1);
    assert_int_equal(len, MJ_SHA256_LEN);
    X509_free(x);
}

/* ---- every certificate, as a table ---------------------------------------------- */

typedef struct cert_case {
    const char *name;        /* cmocka test name */
    const char *cert;
    const char *host;
    mj_outcome outcome;
    mj_reason reason;
    const char *message_part; /* must appear in the message ("" = no check) */
} cert_case;

static const cert_case cert_cases[] = {
    {"valid mail.mailjig.test", "valid", "mail.mailjig.test", MJ_OK, MJ_R_NONE, ""},
    {"valid localhost", "valid", "localhost", MJ_OK, MJ_R_NONE, ""},
    {"valid 127.0.0.1 (IP SAN)", "valid", "127.0.0.1", MJ_OK, MJ_R_NONE, ""},
    {"valid ::1 (IP SAN)", "valid", "::1", MJ_OK, MJ_R_NONE, ""},
    {"valid mixed case host", "valid", "MAIL.MailJig.TEST", MJ_OK, MJ_R_NONE, ""},
    {"valid other host", "valid", "other.mailjig.test", MJ_CERTIFICATE_INVALID,
     MJ_R_CERT_HOSTNAME, "does not match host \"other.mailjig.test\""},
    {"valid other IP", "valid", "127.0.0.2", MJ_CERTIFICATE_INVALID, MJ_R_CERT_HOSTNAME,
     "does not match host \"127.0.0.2\""},
    {"valid-rsa", "valid-rsa", "mail.mailjig.test", MJ_OK, MJ_R_NONE, ""},
    {"expired", "expired", "mail.mailjig.test", MJ_CERTIFICATE_INVALID, MJ_R_CERT_EXPIRED,
     "certificate for \"CN=mail.mailjig.test,OU=expired,O=mailjig test\" (names: "
     "DNS:localhost, DNS:mail.mailjig.test, IP:127.0.0.1, IP:::1) has expired"},
    {"not-yet-valid", "not-yet-valid", "mail.mailjig.test", MJ_CERTIFICATE_INVALID,
     MJ_R_CERT_NOT_YET_VALID, "is not yet valid"},
    {"self-signed", "self-signed", "mail.mailjig.test", MJ_CERTIFICATE_INVALID,
     MJ_R_CERT_UNTRUSTED, "OU=self-signed"},
    {"wrong-host", "wrong-host", "mail.mailjig.test", MJ_CERTIFICATE_INVALID, MJ_R_CERT_HOSTNAME,
     "certificate for \"CN=mail.mailjig.test,OU=wrong-host,O=mailjig test\" (names: "
     "DNS:other.invalid) does not match host \"mail.mailjig.test\""},
    {"untrusted-ca", "untrusted-ca", "mail.mailjig.test", MJ_CERTIFICATE_INVALID,
     MJ_R_CERT_UNTRUSTED, "is not trusted"},
    {"wildcard one label", "wildcard", "mail.mailjig.test", MJ_OK, MJ_R_NONE, ""},
    {"wildcard bare domain", "wildcard", "mailjig.test", MJ_CERTIFICATE_INVALID,
     MJ_R_CERT_HOSTNAME, "(names: DNS:*.mailjig.test)"},
    {"wildcard two labels", "wildcard", "a.b.mailjig.test", MJ_CERTIFICATE_INVALID,
     MJ_R_CERT_HOSTNAME, "does not match host \"a.b.mailjig.test\""},
    {"cn-only rejected", "cn-only", "mail.mailjig.test", MJ_CERTIFICATE_INVALID,
     MJ_R_CERT_HOSTNAME, "\"CN=mail.mailjig.test\" (names: none)"},
    {"client-auth-only", "client-auth-only", "mail.mailjig.test", MJ_CERTIFICATE_INVALID,
     MJ_R_CERT_PURPOSE, "is not valid for a TLS server"},
    {"bad-intermediate", "bad-intermediate", "mail.mailjig.test", MJ_CERTIFICATE_INVALID,
     MJ_R_CERT_CHAIN, "invalid CA certificate"},
    {"weak-key", "weak-key", "mail.mailjig.test", MJ_CERTIFICATE_INVALID, MJ_R_CERT_WEAK,
     "has a weak key or signature"},
};

#define N_CERT_CASES (sizeof cert_cases / sizeof cert_cases[0])

static bool is_ip(const char *host)
{
    return strspn(host, "0123456789.:") == strlen(host);
}

static void test_cert_case(void **state)
{
    const cert_case *c = *state;
    session s;
    mj_tls_config cfg;
    default_config(&cfg);
    tls_peer_opts opts = {.mode = TLS_PEER_HANDSHAKE, .cert = c->cert};
    handshake(&s, &opts, &cfg, c->host);
    if (getenv("MJ_TEST_VERBOSE") != NULL)
        print_message("%s: %s\n", c->name, s.err.message);
    assert_string_equal(mj_outcome_name(s.outcome), mj_outcome_name(c->outcome));
    assert_string_equal(mj_reason_name(s.err.reason), mj_reason_name(c->reason));
    if (c->message_part[0] != '\0' && strstr(s.err.message, c->message_part) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", s.err.message, c->message_part);
    mj_tls_info info;
    mj_transport_tls_info(s.t, &info);
    tls_peer_result r;
    finish(&s, &r);
    if (c->outcome != MJ_OK) {
        /* The client aborted the handshake itself: the server never finished it. */
        assert_false(r.handshake_ok);
        assert_int_equal(info.state, MJ_TLS_NONE);
        return;
    }
    assert_true(r.handshake_ok);
    assert_int_equal(info.state, MJ_TLS_VERIFIED);
    /* SNI is the host as given, and none for an IP literal (RFC 6066). */
    assert_string_equal(r.sni, is_ip(c->host) ? "" : c->host);
    assert_string_equal(info.sni, r.sni);
}

/* ---- trust modes ------------------------------------------------------------------- */

static void test_insecure_accepts_self_signed_unverified(void **state)
{
    (void)state;
    session s;
    mj_tls_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.insecure = true;
    tls_peer_opts opts = {.mode = TLS_PEER_HANDSHAKE, .cert = "self-signed"};
    handshake(&s, &opts, &cfg, "mail.mailjig.test");
    assert_int_equal(s.outcome, MJ_OK);
    mj_tls_info info;
    mj_transport_tls_info(s.t, &info);
    assert_int_equal(info.state, MJ_TLS_UNVERIFIED);
    tls_peer_result r;
    finish(&s, &r);
    assert_true(r.handshake_ok);
}

static void test_pin_match_replaces_chain_checks(void **state)
{
    (void)state;
    session s;
    mj_tls_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.has_pin = true;
    cert_sha256("self-signed", cfg.pin_sha256);
    tls_peer_opts opts = {.mode = TLS_PEER_HANDSHAKE, .cert = "self-signed"};
    handshake(&s, &opts, &cfg, "some.other.host");
    assert_int_equal(s.outcome, MJ_OK);
    mj_tls_info info;
    mj_transport_tls_info(s.t, &info);
    assert_int_equal(info.state, MJ_TLS_VERIFIED);
    assert_memory_equal(info.peer_sha256, cfg.pin_sha256, MJ_SHA256_LEN);
    finish(&s, NULL);
}

static void test_pin_mismatch(void **state)
{
    (void)state;
    session s;
    mj_tls_config cfg;
    default_config(&cfg); /* the pin takes precedence over the (passing) CA */
    cfg.has_pin = true;
    cert_sha256("self-signed", cfg.pin_sha256);
    tls_peer_opts opts = {.mode = TLS_PEER_HANDSHAKE, .cert = "valid"};
    handshake(&s, &opts, &cfg, "mail.mailjig.test");
    assert_int_equal(s.outcome, MJ_CERTIFICATE_INVALID);
    assert_int_equal(s.err.reason, MJ_R_CERT_PIN);
    assert_non_null(strstr(s.err.message, "does not match the pinned SHA-256"));
    finish(&s, NULL);
}

static void test_parse_pin(void **state)
{
    (void)state;
    mj_tls_config cfg;
    mj_error err;
    memset(&cfg, 0, sizeof cfg);
    const char *plain = "00112233445566778899aabbccddeeffFFEEDDCCBBAA99887766554433221100";
    assert_int_equal(mj_tls_parse_pin(plain, &cfg, &err), MJ_OK);
    assert_true(cfg.has_pin);
    assert_int_equal(cfg.pin_sha256[0], 0x00);
    assert_int_equal(cfg.pin_sha256[5], 0x55);
    assert_int_equal(cfg.pin_sha256[16], 0xff);
    assert_int_equal(cfg.pin_sha256[31], 0x00);
    const char *colons = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:"
                         "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";
    assert_int_equal(mj_tls_parse_pin(colons, &cfg, &err), MJ_OK);
    assert_int_equal(cfg.pin_sha256[0], 0xab);
    assert_int_equal(cfg.pin_sha256[31], 0x89);
    static const char *const bad[] = {
        "", "abcd", "00112233445566778899aabbccddeeffFFEEDDCCBBAA9988776655443322110",
        "00112233445566778899aabbccddeeffFFEEDDCCBBAA998877665544332211000",
        "g0112233445566778899aabbccddeeffFFEEDDCCBBAA99887766554433221100",
        "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:"
        "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67-89",
        "\x10\x10" "112233445566778899aabbccddeeffFFEEDDCCBBAA99887766554433221100",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mj_error_clear(&err);
        assert_int_equal(mj_tls_parse_pin(bad[i], &cfg, &err), MJ_USAGE);
        assert_int_equal(err.reason, MJ_R_BAD_ARGUMENT);
    }
    /* Server text is never in a pin, but the message escapes it anyway. */
    assert_non_null(strstr(err.message, "\\x10\\x10"));
}

static void test_missing_cafile_is_usage(void **state)
{
    (void)state;
    session s;
    mj_tls_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.cafile = "/nonexistent/ca.pem";
    tls_peer_opts opts = {.mode = TLS_PEER_SILENT};
    handshake(&s, &opts, &cfg, "mail.mailjig.test");
    assert_int_equal(s.outcome, MJ_USAGE);
    assert_int_equal(s.err.reason, MJ_R_BAD_ARGUMENT);
    assert_non_null(strstr(s.err.message, "cannot load CA file /nonexistent/ca.pem"));
    finish(&s, NULL);
}

/* ---- handshake failures ------------------------------------------------------------ */

static void test_tls11_server_is_version_failure(void **state)
{
    (void)state;
    session s;
    mj_tls_config cfg;
    default_config(&cfg);
    tls_peer_opts opts = {.mode = TLS_PEER_HANDSHAKE,
                          .cert = "valid",
                          .min_version = TLS1_VERSION,
                          .max_version = TLS1_1_VERSION};
    handshake(&s, &opts, &cfg, "mail.mailjig.test");
    assert_int_equal(s.outcome, MJ_TLS_FAILED);
    assert_int_equal(s.err.reason, MJ_R_TLS_VERSION);
    tls_peer_result r;
    finish(&s, &r);
    assert_false(r.handshake_ok);
}

static void plaintext_case(const char *greeting, const char *quoted, const char *hint)
{
    session s;
    mj_tls_config cfg;
    default_config(&cfg);
    tls_peer_opts opts = {.mode = TLS_PEER_PLAINTEXT, .plaintext = greeting};
    handshake(&s, &opts, &cfg, "mail.mailjig.test");
    assert_int_equal(s.outcome, MJ_TLS_FAILED);
    assert_int_equal(s.err.reason, MJ_R_TLS_PLAINTEXT);
    if (strstr(s.err.message, quoted) == NULL || strstr(s.err.message, hint) == NULL)
        fail_msg("message \"%s\" lacks %s or %s", s.err.message, quoted, hint);
    finish(&s, NULL);
}

static void test_plaintext_smtp_greeting(void **state)
{
    (void)state;
    plaintext_case("220 smtp.example ESMTP\r\n", "in plaintext instead of TLS: \"220 smtp.example ESMTP\";",
                   "this looks like an SMTP server speaking plaintext: on port 587 or 25 use "
                   "security=starttls");
}

static void test_plaintext_imap_greeting(void **state)
{
    (void)state;
    plaintext_case("* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n",
                   "\"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\"",
                   "port 143 speaks STARTTLS: use security=starttls");
}

static void test_plaintext_pop3_greeting(void **state)
{
    (void)state;
    plaintext_case("+OK POP3 ready\r\n", "\"+OK POP3 ready\"", "port 110");
}

static void test_plaintext_escaped_and_generic(void **state)
{
    (void)state;
    plaintext_case("hello\x1b[31m\xff\r\n", "\"hello\\x1b[31m\\xff\"",
                   "the server does not speak TLS on this port");
}

static void test_silent_server_times_out(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    mj_timeouts to;
    mj_timeouts_init(&to);
    to.io_ms = 150;
    mj_transport *t = NULL;
    mj_error err;
    assert_int_equal(mj_tcp_from_fd(sv[0], &to, &t, &err), MJ_OK);
    tls_peer_opts opts = {.mode = TLS_PEER_SILENT};
    tls_peer *p = tls_peer_start(sv[1], &opts);
    mj_tls_config cfg;
    default_config(&cfg);
    int64_t t0 = mj_now_ms();
    assert_int_equal(mj_transport_starttls(t, &cfg, "mail.mailjig.test", &err), MJ_TIMEOUT);
    int64_t elapsed = mj_now_ms() - t0;
    assert_int_equal(err.reason, MJ_R_IO_TIMEOUT);
    assert_string_equal(err.message, "no progress in the TLS handshake for 150 ms");
    assert_in_range(elapsed, 140, 2000);
    mj_transport_close(t);
    tls_peer_join(p, NULL);
}

static void test_silent_server_deadline(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    mj_timeouts to;
    mj_timeouts_init(&to);
    to.deadline_ms = mj_now_ms() + 100;
    mj_transport *t = NULL;
    mj_error err;
    assert_int_equal(mj_tcp_from_fd(sv[0], &to, &t, &err), MJ_OK);
    tls_peer_opts opts = {.mode = TLS_PEER_SILENT};
    tls_peer *p = tls_peer_start(sv[1], &opts);
    mj_tls_config cfg;
    default_config(&cfg);
    assert_int_equal(mj_transport_starttls(t, &cfg, "mail.mailjig.test", &err), MJ_TIMEOUT);
    assert_int_equal(err.reason, MJ_R_DEADLINE);
    assert_string_equal(err.message,
                        "total deadline exceeded while waiting for progress in the TLS handshake");
    mj_transport_close(t);
    tls_peer_join(p, NULL);
}

/* ---- client certificates ------------------------------------------------------------ */

static void test_client_certificate_presented(void **state)
{
    (void)state;
    session s;
    mj_tls_config cfg;
    default_config(&cfg);
    cfg.client_cert = client_crt_path;
    cfg.client_key = client_key_path;
    tls_peer_opts opts = {
        .mode = TLS_PEER_HANDSHAKE, .cert = "valid", .request_client_cert = true};
    handshake(&s, &opts, &cfg, "mail.mailjig.test");
    assert_int_equal(s.outcome, MJ_OK);
    tls_peer_result r;
    finish(&s, &r);
    assert_true(r.handshake_ok);
    assert_true(r.got_client_cert);
    assert_string_equal(r.client_subject, "/O=mailjig test/CN=alice");
}

static void test_no_client_certificate_unless_configured(void **state)
{
    (void)state;
    session s;
    mj_tls_config cfg;
    default_config(&cfg);
    tls_peer_opts opts = {
        .mode = TLS_PEER_HANDSHAKE, .cert = "valid", .request_client_cert = true};
    handshake(&s, &opts, &cfg, "mail.mailjig.test");
    assert_int_equal(s.outcome, MJ_OK);
    tls_peer_result r;
    finish(&s, &r);
    assert_true(r.handshake_ok);
    assert_false(r.got_client_cert);
}

/* ---- after the handshake ---------------------------------------------------------- */

/* Read until n bytes arrived or the transport fails; returns the outcome. */
static mj_outcome read_exactly(mj_transport *t, char *buf, size_t n, mj_error *err)
{
    size_t got = 0;
    while (got < n) {
        size_t k = 0;
        mj_outcome o = mj_transport_read(t, buf + got, n - got, &k, err);
        if (o != MJ_OK)
            return o;
        got += k;
    }
    return MJ_OK;
}

static void test_round_trip_and_info(void **state)
{
    (void)state;
    session s;
    mj_tls_config cfg;
    default_config(&cfg);
    tls_peer_opts opts = {.mode = TLS_PEER_HANDSHAKE, .cert = "valid", .echo_line = true};
    handshake(&s, &opts, &cfg, "mail.mailjig.test");
    assert_int_equal(s.outcome, MJ_OK);
    assert_string_equal(s.t->ops->name, "tls");
    assert_int_equal(mj_transport_write(s.t, "A1 NOOP\r\n", 9, &s.err), MJ_OK);
    char buf[16] = "";
    assert_int_equal(read_exactly(s.t, buf, 9, &s.err), MJ_OK);
    assert_memory_equal(buf, "A1 NOOP\r\n", 9);
    mj_tls_info info;
    mj_transport_tls_info(s.t, &info);
    assert_int_equal(info.state, MJ_TLS_VERIFIED);
    assert_string_equal(info.version, "TLSv1.3");
    assert_true(info.cipher[0] != '\0');
    assert_string_equal(info.sni, "mail.mailjig.test");
    assert_string_equal(info.peer_subject, "CN=mail.mailjig.test,OU=valid,O=mailjig test");
    assert_string_equal(info.peer_issuer, "CN=mailjig test CA,O=mailjig test");
    assert_string_equal(info.peer_names,
                        "DNS:localhost, DNS:mail.mailjig.test, IP:127.0.0.1, IP:::1");
    unsigned char sha[MJ_SHA256_LEN];
    cert_sha256("valid", sha);
    assert_memory_equal(info.peer_sha256, sha, MJ_SHA256_LEN);
    /* A second starttls on a TLS transport is refused. */
    assert_int_equal(mj_transport_starttls(s.t, &cfg, "mail.mailjig.test", &s.err), MJ_INTERNAL);
    tls_peer_result r;
    finish(&s, &r);
    assert_string_equal(r.line, "A1 NOOP\r\n");
}

/* Channel binding: tls-exporter on TLS 1.3; on TLS 1.2 tls-server-end-point,
 * which for a SHA-256-signed certificate is the certificate's SHA-256. */
static void test_channel_binding(void **state)
{
    (void)state;
    session s;
    mj_tls_config cfg;
    default_config(&cfg);
    tls_peer_opts opts = {.mode = TLS_PEER_HANDSHAKE, .cert = "valid", .echo_line = true};
    handshake(&s, &opts, &cfg, "mail.mailjig.test");
    assert_int_equal(s.outcome, MJ_OK);
    mj_channel_binding type = MJ_CB_NONE;
    unsigned char cb[MJ_CB_DATA_MAX], again[MJ_CB_DATA_MAX];
    size_t n = 0, n2 = 0;
    assert_int_equal(mj_transport_channel_binding(s.t, &type, cb, &n, &s.err), MJ_OK);
    assert_int_equal(type, MJ_CB_TLS_EXPORTER);
    assert_int_equal(n, 32);
    assert_int_equal(mj_transport_channel_binding(s.t, &type, again, &n2, &s.err), MJ_OK);
    assert_memory_equal(cb, again, 32);
    assert_int_equal(mj_transport_write(s.t, "x\r\n", 3, &s.err), MJ_OK);
    tls_peer_result r;
    finish(&s, &r);

    opts.max_version = TLS1_2_VERSION;
    handshake(&s, &opts, &cfg, "mail.mailjig.test");
    assert_int_equal(s.outcome, MJ_OK);
    assert_int_equal(mj_transport_channel_binding(s.t, &type, cb, &n, &s.err), MJ_OK);
    assert_int_equal(type, MJ_CB_TLS_SERVER_END_POINT);
    assert_int_equal(n, MJ_SHA256_LEN);
    unsigned char sha[MJ_SHA256_LEN];
    cert_sha256("valid", sha);
    assert_memory_equal(cb, sha, MJ_SHA256_LEN);
    assert_int_equal(mj_transport_write(s.t, "x\r\n", 3, &s.err), MJ_OK);
    finish(&s, &r);
}

static void test_close_notify_is_eof(void **state)
{
    (void)state;
    session s;
    mj_tls_config cfg;
    default_config(&cfg);
    tls_peer_opts opts = {.mode = TLS_PEER_HANDSHAKE,
                          .cert = "valid",
                          .send = "* BYE\r\n",
                          .end = TLS_PEER_END_CLOSE_NOTIFY};
    handshake(&s, &opts, &cfg, "mail.mailjig.test");
    assert_int_equal(s.outcome, MJ_OK);
    char buf[16];
    assert_int_equal(read_exactly(s.t, buf, 7, &s.err), MJ_OK);
    assert_memory_equal(buf, "* BYE\r\n", 7);
    size_t n = 0;
    assert_int_equal(mj_transport_read(s.t, buf, sizeof buf, &n, &s.err), MJ_CONNECTION_LOST);
    assert_int_equal(s.err.reason, MJ_R_EOF);
    assert_int_equal(n, 0);
    assert_int_equal(ERR_peek_error(), 0);
    finish(&s, NULL);
}

static void test_fin_without_close_notify_is_truncation(void **state)
{
    (void)state;
    session s;
    mj_tls_config cfg;
    default_config(&cfg);
    tls_peer_opts opts = {.mode = TLS_PEER_HANDSHAKE,
                          .cert = "valid",
                          .send = "* 1 FETCH (BODY[] {100}\r\npartial",
                          .end = TLS_PEER_END_FIN};
    handshake(&s, &opts, &cfg, "mail.mailjig.test");
    assert_int_equal(s.outcome, MJ_OK);
    char buf[64];
    size_t want = strlen(opts.send);
    assert_int_equal(read_exactly(s.t, buf, want, &s.err), MJ_OK);
    assert_memory_equal(buf, opts.send, want);
    size_t n = 0;
    assert_int_equal(mj_transport_read(s.t, buf, sizeof buf, &n, &s.err), MJ_CONNECTION_LOST);
    assert_int_equal(s.err.reason, MJ_R_TLS_TRUNCATED);
    assert_non_null(strstr(s.err.message, "without a TLS close_notify"));
    assert_int_equal(ERR_peek_error(), 0);
    finish(&s, NULL);
}

/* A corrupted record mid-stream is a fatal TLS error (SECURITY-CASES #93). */
static void test_corrupted_record_is_fatal(void **state)
{
    (void)state;
    static const unsigned char bogus[5 + 32] = {0x17, 0x03, 0x03, 0x00, 0x20, 0xde, 0xad};
    session s;
    mj_tls_config cfg;
    default_config(&cfg);
    tls_peer_opts opts = {.mode = TLS_PEER_HANDSHAKE,
                          .cert = "valid",
                          .send = "* OK\r\n",
                          .raw = bogus,
                          .raw_len = sizeof bogus,
                          .end = TLS_PEER_END_FIN};
    handshake(&s, &opts, &cfg, "mail.mailjig.test");
    assert_int_equal(s.outcome, MJ_OK);
    char buf[16];
    assert_int_equal(read_exactly(s.t, buf, 6, &s.err), MJ_OK);
    assert_memory_equal(buf, "* OK\r\n", 6);
    size_t n = 0;
    assert_int_equal(mj_transport_read(s.t, buf, sizeof buf, &n, &s.err), MJ_TLS_FAILED);
    assert_int_equal(s.err.reason, MJ_R_TLS_ALERT);
    assert_non_null(strstr(s.err.message, "fatal TLS error: "));
    assert_int_equal(ERR_peek_error(), 0);
    finish(&s, NULL);
}

static void test_pending_counts_tls_bytes(void **state)
{
    (void)state;
    session s;
    mj_tls_config cfg;
    default_config(&cfg);
    tls_peer_opts opts = {.mode = TLS_PEER_HANDSHAKE,
                          .cert = "valid",
                          .send = "0123456789",
                          .end = TLS_PEER_END_CLOSE_NOTIFY};
    handshake(&s, &opts, &cfg, "mail.mailjig.test");
    assert_int_equal(s.outcome, MJ_OK);
    char c;
    size_t n = 0;
    assert_int_equal(mj_transport_read(s.t, &c, 1, &n, &s.err), MJ_OK);
    assert_int_equal(c, '0');
    /* The other nine are decrypted in OpenSSL's buffer (or still in the kernel). */
    assert_true(mj_transport_pending(s.t) >= 9);
    finish(&s, NULL);
}

static void test_plaintext_info_is_none(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    mj_timeouts to;
    mj_timeouts_init(&to);
    mj_transport *t = NULL;
    mj_error err;
    assert_int_equal(mj_tcp_from_fd(sv[0], &to, &t, &err), MJ_OK);
    mj_tls_info info;
    memset(&info, 0x55, sizeof info);
    mj_transport_tls_info(t, &info);
    assert_int_equal(info.state, MJ_TLS_NONE);
    assert_string_equal(info.version, "");
    mj_transport_close(t);
    close(sv[1]);
}

int main(void)
{
    tls_peer_cert_path("ca.crt", ca_path, sizeof ca_path);
    tls_peer_cert_path("client.crt", client_crt_path, sizeof client_crt_path);
    tls_peer_cert_path("client.key", client_key_path, sizeof client_key_path);
    static struct CMUnitTest cert_tests[N_CERT_CASES];
    for (size_t i = 0; i < N_CERT_CASES; i++) {
        cert_tests[i].name = cert_cases[i].name;
        cert_tests[i].test_func = test_cert_case;
        cert_tests[i].initial_state = (void *)(uintptr_t)&cert_cases[i];
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_insecure_accepts_self_signed_unverified),
        cmocka_unit_test(test_pin_match_replaces_chain_checks),
        cmocka_unit_test(test_pin_mismatch),
        cmocka_unit_test(test_parse_pin),
        cmocka_unit_test(test_missing_cafile_is_usage),
        cmocka_unit_test(test_tls11_server_is_version_failure),
        cmocka_unit_test(test_plaintext_smtp_greeting),
        cmocka_unit_test(test_plaintext_imap_greeting),
        cmocka_unit_test(test_plaintext_pop3_greeting),
        cmocka_unit_test(test_plaintext_escaped_and_generic),
        cmocka_unit_test(test_silent_server_times_out),
        cmocka_unit_test(test_silent_server_deadline),
        cmocka_unit_test(test_client_certificate_presented),
        cmocka_unit_test(test_no_client_certificate_unless_configured),
        cmocka_unit_test(test_round_trip_and_info),
        cmocka_unit_test(test_channel_binding),
        cmocka_unit_test(test_close_notify_is_eof),
        cmocka_unit_test(test_fin_without_close_notify_is_truncation),
        cmocka_unit_test(test_corrupted_record_is_fatal),
        cmocka_unit_test(test_pending_counts_tls_bytes),
        cmocka_unit_test(test_plaintext_info_is_none),
    };
    int failed = _cmocka_run_group_tests("tls_certificates", cert_tests, N_CERT_CASES, NULL, NULL);
    failed += cmocka_run_group_tests_name("tls_transport", tests, NULL, NULL);
    return failed != 0;
}
