/*
 * fuzz_imap_session.c: libFuzzer target for the IMAP session (client/src/imap):
 * the greeting, CAPABILITY, STARTTLS, LOGIN, LIST, SELECT, FETCH, SEARCH,
 * IDLE and LOGOUT driven by a hostile server, over the in-memory transport,
 * plus the modified UTF-7 decoder (RFC 3501 §5.1.3) on the same bytes.
 *
 * Build and run (from the repository root; `make fuzz` does the same
 * against the fuzzer-instrumented library):
 *   make CC=clang SANITIZE=fuzzer-no-link,address,undefined \
 *     build/clang-fuzzer-no-link-address-undefined/libmailjig.a
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 \
 *     -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iclient/include -Iclient/src \
 *     client/fuzz/fuzz_imap_session.c \
 *     build/clang-fuzzer-no-link-address-undefined/libmailjig.a \
 *     $(pkg-config --libs openssl) -o build/fuzz_imap_session
 *   build/fuzz_imap_session -max_total_time=120 CORPUS_DIR
 *
 * Input layout: byte 0 picks the security mode and chunking (reads of 1..16
 * bytes or all at once); the rest is what the server sends.  Every call must
 * end in an outcome (never a crash, a leak or a hang: the memory transport
 * ends in EOF or an immediate timeout).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailjig/conn.h"
#include "mailjig/imap.h"

static mj_outcome sink_body(void *ctx, uint32_t seq, const char *section, const unsigned char *data,
                            size_t len)
{
    (void)ctx;
    (void)seq;
    (void)section;
    (void)data;
    (void)len;
    return MJ_OK;
}

static mj_outcome count_entry(void *ctx, const mj_imap_list_entry *e)
{
    *(size_t *)ctx += strlen(e->name) + e->n_attributes;
    return MJ_OK;
}

static mj_outcome count_number(void *ctx, uint32_t n)
{
    *(size_t *)ctx += n & 1;
    return MJ_OK;
}

static void session(mj_imap *s)
{
    static const mj_sasl_creds creds = {.username = "alice", .password = "secret"};
    size_t acc = 0;
    mj_imap_fetch_cb cb = {sink_body, NULL, NULL};
    unsigned events = 0;
    if (mj_imap_login(s, &creds, MJ_SASL_NONE) != MJ_OK)
        return;
    if (mj_imap_list(s, "", "*", false, count_entry, &acc) == MJ_CONNECTION_LOST)
        return;
    if (mj_imap_select(s, "INBOX", false, NULL) != MJ_OK)
        return;
    if (mj_imap_fetch(s, false, "1:*", "(UID FLAGS ENVELOPE BODYSTRUCTURE BODY.PEEK[])", &cb) ==
        MJ_CONNECTION_LOST)
        return;
    if (mj_imap_search(s, false, "ALL", count_number, &acc) == MJ_CONNECTION_LOST)
        return;
    if (mj_imap_idle(s, 0, true, &events) == MJ_CONNECTION_LOST)
        return;
    if (mj_imap_logout(s) != MJ_OK)
        return;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const mj_security secs[] = {MJ_SEC_NONE, MJ_SEC_STARTTLS, MJ_SEC_STARTTLS_IF_AVAILABLE,
                                       MJ_SEC_IMPLICIT};
    mj_security sec = secs[data[0] & 3];
    size_t chunk = (size_t)(data[0] >> 4); /* 0: everything at once */
    char out[512];
    mj_error err;
    (void)mj_imap_utf7_decode((const char *)data + 1, size - 1, out, sizeof out, &err);

    mj_mem_script script = {.input = data + 1,
                            .input_len = size - 1,
                            .chunks = &chunk,
                            .n_chunks = chunk ? 1 : 0,
                            .end = (data[0] & 4) ? MJ_MEM_END_TIMEOUT : MJ_MEM_END_EOF,
                            .starttls_state = MJ_TLS_VERIFIED};
    mj_conn_config cfg;
    mj_conn_config_init(&cfg, MJ_PROTO_IMAP);
    cfg.security = sec;
    mj_transport *t = NULL;
    mj_conn *c = NULL;
    if (mj_mem_transport_new(&script, &cfg.timeouts, &t, &err) != MJ_OK)
        return 0;
    if (mj_conn_wrap(t, &cfg, &c, &err) != MJ_OK)
        return 0;
    mj_imap_options opts = {.policy = {.allow_insecure_auth = 1}, .strict = (data[0] & 8) != 0};
    mj_imap *s = NULL;
    if (mj_imap_start(c, sec, &opts, &s, &err) == MJ_OK) {
        session(s);
        mj_imap_close(s);
    }
    return 0;
}
