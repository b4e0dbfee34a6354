/*
 * mailjig/transport.h: the byte pipe under every protocol.
 *
 * A transport is a vtable (read, write, pending, starttls, tls_info, close)
 * with four implementations: TCP (src/net/tcp.c), TLS over OpenSSL 3
 * (src/net/tls.c, entered by mj_transport_starttls on a TCP transport, for
 * implicit TLS and STARTTLS alike), a DEFLATE layer over any of them
 * (src/net/deflate.c, IMAP COMPRESS=DEFLATE) and an in-memory transport for
 * unit tests (src/net/memtransport.c).  Protocol code never touches a socket,
 * OpenSSL or zlib.
 *
 * Every wait honours an mj_timeouts: no call blocks forever.
 */
#ifndef MAILJIG_TRANSPORT_H
#define MAILJIG_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mailjig/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- time ------------------------------------------------------------- */

/* Milliseconds on CLOCK_MONOTONIC. */
int64_t mj_now_ms(void);

#define MJ_DEFAULT_CONNECT_TIMEOUT_MS 10000
#define MJ_DEFAULT_IO_TIMEOUT_MS 30000

/*
 * Timeouts, owned by the caller (usually a session) and borrowed by the
 * transport for its whole life: the caller may change io_ms or deadline_ms
 * between calls (a per-operation deadline).
 *   connect_ms   budget for connecting, shared among all addresses tried;
 *   io_ms        longest wait for any progress (a byte read or written,
 *                a handshake step); > 0;
 *   deadline_ms  absolute mj_now_ms() time after which every wait fails
 *                with MJ_R_DEADLINE; 0 = no total deadline.
 */
typedef struct mj_timeouts {
    int connect_ms;
    int io_ms;
    int64_t deadline_ms;
} mj_timeouts;

/* The defaults above, no deadline. */
void mj_timeouts_init(mj_timeouts *t);

/*
 * How long the next wait may last: min(io_ms, time left to the deadline),
 * never negative.  *reason_out says which bound applies (MJ_R_IO_TIMEOUT or
 * MJ_R_DEADLINE) so the caller can name the right one when it runs out.
 */
int mj_timeouts_wait_ms(const mj_timeouts *t, mj_reason *reason_out);

/* ---- TLS configuration -------------------------------------------------- */

#define MJ_SHA256_LEN 32

/*
 * TLS settings for one connection; strings are borrowed for the duration of
 * the call that takes the config (OpenSSL copies what it keeps).
 *
 * Trust, in order of precedence:
 *   insecure        no verification at all (the session is then never
 *                   "verified"; credential policy treats it as cleartext);
 *   pin_sha256      the leaf certificate's SHA-256 (DER) must equal this;
 *                   the pin replaces chain, date and name checks;
 *   cafile          trust exactly the CAs in this PEM file;
 *   otherwise       the system trust store.
 * min_version/max_version are TLS1_2_VERSION-style numbers; 0 means
 * TLS 1.2 minimum and no maximum.  Host names are checked with OpenSSL
 * (X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT:
 * a certificate without a matching SAN is rejected even if its CN matches).
 * The security level is 2 (RSA >= 2048 bits, no SHA-1 signatures).
 */
typedef struct mj_tls_config {
    bool insecure;
    bool has_pin;
    unsigned char pin_sha256[MJ_SHA256_LEN];
    const char *cafile;
    const char *client_cert; /* PEM, optional */
    const char *client_key;  /* PEM, optional; defaults to client_cert */
    int min_version;
    int max_version;
} mj_tls_config;

/* Parse "AB:CD:..." or "abcd..." (64 hex digits) into cfg->pin_sha256. */
mj_outcome mj_tls_parse_pin(const char *text, mj_tls_config *cfg, mj_error *err) MJ_MUST_CHECK;

/*
 * Initialise OpenSSL once for this process: its configuration file, its
 * providers and the algorithms a client context fetches.  Optional (every
 * connection initialises what is missing); it moves that cost, most of a
 * TLS connection's CPU time in a short-lived process, to a moment the caller
 * picks, and processes forked afterwards inherit the result (`mj --batch`).
 * OpenSSL reseeds its random generators in a forked child, so children share
 * no random state.  Owns nothing the caller frees; an error only says that
 * the warm-up failed (the next connection will report why again).
 */
mj_outcome mj_tls_preload(mj_error *err) MJ_MUST_CHECK;

typedef enum mj_tls_state {
    MJ_TLS_NONE = 0,      /* plaintext */
    MJ_TLS_UNVERIFIED,    /* encrypted, peer not verified (insecure) */
    MJ_TLS_VERIFIED       /* encrypted, peer verified (chain+name, or pin) */
} mj_tls_state;

#define MJ_TLS_INFO_TEXT_MAX 256

/* What a finished handshake established; filled by mj_transport_tls_info. */
typedef struct mj_tls_info {
    mj_tls_state state;
    char version[32];                      /* "TLSv1.3" */
    char cipher[64];                       /* "TLS_AES_256_GCM_SHA384" */
    char sni[MJ_TLS_INFO_TEXT_MAX];        /* "" when none was sent */
    char peer_subject[MJ_TLS_INFO_TEXT_MAX];
    char peer_issuer[MJ_TLS_INFO_TEXT_MAX];
    char peer_names[MJ_TLS_INFO_TEXT_MAX]; /* SANs, comma-separated */
    unsigned char peer_sha256[MJ_SHA256_LEN];
} mj_tls_info;

/*
 * Channel-binding types for SCRAM-*-PLUS.  The values equal those of
 * mj_sasl_cb_type (sasl.h).
 */
typedef enum mj_channel_binding {
    MJ_CB_NONE = 0,
    MJ_CB_TLS_EXPORTER,        /* RFC 9266, TLS 1.3: 32 bytes of keying material */
    MJ_CB_TLS_SERVER_END_POINT /* RFC 5929: hash of the server certificate */
} mj_channel_binding;

/* Longest channel-binding data (a SHA-512 digest). */
#define MJ_CB_DATA_MAX 64

/* ---- the transport vtable ----------------------------------------------- */

typedef struct mj_transport mj_transport;

/*
 * read:     wait for at least one byte; *n_out > 0 on MJ_OK.  End of stream
 *           is never MJ_OK: it is MJ_CONNECTION_LOST with MJ_R_EOF (orderly),
 *           MJ_R_RESET or MJ_R_TLS_TRUNCATED.
 * write:    write all len bytes or fail.  Never raises SIGPIPE.
 * pending:  bytes already received below the caller (kernel socket buffer,
 *           OpenSSL's record buffer) that a read would return at once.
 * starttls: run a TLS client handshake over this connection and from then on
 *           carry TLS.  host is the reference identity: SNI (unless it is an
 *           IP literal) and the name verified.  On failure the transport is
 *           unusable and must be closed.
 * tls_info: fill *info_out (state MJ_TLS_NONE when plaintext).
 * close:    close and free; NULL is allowed.
 * channel_binding: the TLS session's channel-binding data: tls-exporter on
 *           TLS 1.3, tls-server-end-point before; *type_out says which.  NULL
 *           in the table (plaintext, memory) means none: MJ_USAGE.
 */
typedef struct mj_transport_ops {
    const char *name;
    mj_outcome (*read)(mj_transport *t, void *buf, size_t cap, size_t *n_out, mj_error *err);
    mj_outcome (*write)(mj_transport *t, const void *buf, size_t len, mj_error *err);
    size_t (*pending)(mj_transport *t);
    mj_outcome (*starttls)(mj_transport *t, const mj_tls_config *cfg, const char *host,
                           mj_error *err);
    void (*tls_info)(mj_transport *t, mj_tls_info *info_out);
    void (*close)(mj_transport *t);
    mj_outcome (*channel_binding)(mj_transport *t, mj_channel_binding *type_out,
                                  unsigned char *out, size_t cap, size_t *len_out, mj_error *err);
} mj_transport_ops;

/*
 * The common head of every transport.  Implementations embed it first and
 * may swap ops (TCP -> TLS) during starttls.  timeouts is borrowed.
 */
struct mj_transport {
    const mj_transport_ops *ops;
    const mj_timeouts *timeouts;
};

mj_outcome mj_transport_read(mj_transport *t, void *buf, size_t cap, size_t *n_out,
                             mj_error *err) MJ_MUST_CHECK;
mj_outcome mj_transport_write(mj_transport *t, const void *buf, size_t len,
                              mj_error *err) MJ_MUST_CHECK;
size_t mj_transport_pending(mj_transport *t);
mj_outcome mj_transport_starttls(mj_transport *t, const mj_tls_config *cfg, const char *host,
                                 mj_error *err) MJ_MUST_CHECK;
void mj_transport_tls_info(mj_transport *t, mj_tls_info *info_out);
void mj_transport_close(mj_transport *t);
/* Channel-binding data (see the op); out has room for MJ_CB_DATA_MAX bytes. */
mj_outcome mj_transport_channel_binding(mj_transport *t, mj_channel_binding *type_out,
                                        unsigned char out[MJ_CB_DATA_MAX], size_t *len_out,
                                        mj_error *err) MJ_MUST_CHECK;

/* ---- TCP ------------------------------------------------------------------ */

/*
 * Where to connect.  host is the name the user gave: it is resolved, sent as
 * SNI and verified.  connect_addr, when set, is the address to connect to
 * instead of resolving host (curl's --resolve): verification still uses host.
 */
typedef struct mj_endpoint {
    const char *host;
    const char *connect_addr;
    unsigned port;
} mj_endpoint;

/*
 * Resolve and connect: every address (IPv6 and IPv4) is tried in turn, each
 * with a non-blocking connect bounded by its share of timeouts->connect_ms
 * (and by the deadline); TCP_NODELAY is set.  On success *t_out is a
 * plaintext transport that the caller closes with mj_transport_close;
 * timeouts is borrowed for the transport's life.  Fails with
 * MJ_CONNECT_FAILED (MJ_R_RESOLVE / MJ_R_REFUSED / MJ_R_UNREACHABLE) or
 * MJ_TIMEOUT (MJ_R_CONNECT_TIMEOUT / MJ_R_DEADLINE); the message names the
 * host, the port and each address's failure.
 */
mj_outcome mj_tcp_connect(const mj_endpoint *ep, const mj_timeouts *timeouts,
                          mj_transport **t_out, mj_error *err) MJ_MUST_CHECK;

/*
 * Wrap a connected socket (tests: one end of a socketpair).  Takes ownership
 * of fd: it is closed by mj_transport_close.  Sets it non-blocking.
 */
mj_outcome mj_tcp_from_fd(int fd, const mj_timeouts *timeouts, mj_transport **t_out,
                          mj_error *err) MJ_MUST_CHECK;

/* ---- DEFLATE layer (RFC 4978 COMPRESS=DEFLATE, RFC 1951) ------------------ */

/* Compressed bytes read from the transport below at once; also the most
 * bytes that may already be waiting when the layer starts (one reader chunk). */
#define MJ_DEFLATE_IN_MAX ((size_t)16384)
/* Compressed bytes produced per deflate() call before they are written below. */
#define MJ_DEFLATE_OUT_MAX ((size_t)16384)
/* Decompression-bomb bound: once more than MJ_DEFLATE_RATIO_SLACK bytes came
 * out, the total decompressed may be at most ratio_max times the total
 * compressed (DEFLATE itself allows about 1032:1; mail text is 3-20:1). */
#define MJ_DEFLATE_RATIO_DEFAULT ((size_t)256)
#define MJ_DEFLATE_RATIO_SLACK ((uint64_t)1024 * 1024)

/*
 * Put a raw DEFLATE layer (RFC 1951, no zlib header: windowBits -15) over
 * inner, for both directions.  Every write is compressed and sent with
 * Z_SYNC_FLUSH, so each write of the caller (one command) leaves whole and
 * the peer can decompress it at once.  already (may be NULL when len is 0)
 * holds compressed bytes the caller had read from inner before the layer
 * started (RFC 4978: the server compresses from the byte after its OK); they
 * are copied and decompressed first; at most MJ_DEFLATE_IN_MAX.
 * ratio_max: the bomb bound above (0 = MJ_DEFLATE_RATIO_DEFAULT).
 *
 * Reads fail with MJ_PROTOCOL_ERROR / MJ_R_COMPRESS_CORRUPT for a stream
 * zlib rejects (and every read after it), MJ_R_COMPRESS_RATIO past the bomb
 * bound, MJ_R_COMPRESS_CORRUPT for bytes after a final block; an EOF below is
 * passed up as it is.  starttls is refused (MJ_USAGE: TLS goes under the
 * compression, RFC 4978 section 3); tls_info and channel_binding are the
 * inner transport's.
 *
 * On success *t_out owns inner (closing it closes both; timeouts are
 * inner's).  On failure inner is untouched and still the caller's.
 */
mj_outcome mj_deflate_wrap(mj_transport *inner, const void *already, size_t len, size_t ratio_max,
                           mj_transport **t_out, mj_error *err) MJ_MUST_CHECK;

/* Whether t is a DEFLATE layer. */
bool mj_transport_is_deflate(const mj_transport *t);

/* ---- in-memory transport (tests) ---------------------------------------- */

/* How a memory transport's script ends once its input is exhausted. */
typedef enum mj_mem_end {
    MJ_MEM_END_EOF = 0,   /* MJ_CONNECTION_LOST, MJ_R_EOF */
    MJ_MEM_END_RESET,     /* MJ_CONNECTION_LOST, MJ_R_RESET */
    MJ_MEM_END_TIMEOUT    /* MJ_TIMEOUT, MJ_R_IO_TIMEOUT (without waiting) */
} mj_mem_end;

/*
 * A scripted peer: input is delivered in reads of at most chunk sizes taken
 * in turn from chunks[] (cycled; n_chunks == 0 means all at once), then end.
 * input is copied.  pending() reports the bytes not yet delivered when
 * report_pending is true (to model data sitting in the socket buffer).
 * starttls succeeds and sets the state to starttls_state, unless
 * starttls_outcome is not MJ_OK, in which case it fails with it.
 */
typedef struct mj_mem_script {
    const void *input;
    size_t input_len;
    const size_t *chunks;
    size_t n_chunks;
    mj_mem_end end;
    bool report_pending;
    mj_outcome starttls_outcome;
    mj_tls_state starttls_state;
} mj_mem_script;

mj_outcome mj_mem_transport_new(const mj_mem_script *script, const mj_timeouts *timeouts,
                                mj_transport **t_out, mj_error *err) MJ_MUST_CHECK;

/*
 * Everything written so far (valid until the next write or close; not
 * NUL-terminated), and how many starttls calls succeeded.  t must be a memory
 * transport.
 */
const unsigned char *mj_mem_transport_written(mj_transport *t, size_t *len_out);
unsigned mj_mem_transport_starttls_count(mj_transport *t);

/*
 * Queue more input after the script (tests of STARTTLS: what the server sends
 * once TLS is up).  Copied.
 */
mj_outcome mj_mem_transport_feed(mj_transport *t, const void *data, size_t len,
                                 mj_error *err) MJ_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
