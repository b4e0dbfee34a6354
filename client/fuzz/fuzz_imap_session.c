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
 * bytes or all at once); byte 1 the plan after login (0: LIST, SELECT,
 * FETCH, SEARCH, IDLE; 1: CONDSTORE / QRESYNC: SELECT (QRESYNC ...) with
 * VANISHED, FETCH CHANGEDSINCE, STORE UNCHANGEDSINCE, UID EXPUNGE; 2: SORT, ESORT,
 * THREAD, GETQUOTA, MULTIAPPEND (a binary message), BINARY; 3: COMPRESS, then plan 0 through
 * the inflater); the rest is what the server sends.  Every call must end in
 * an outcome (never a crash, a leak or a hang: the memory transport ends in
 * EOF or an immediate timeout).
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

static mj_outcome count_thread(void *ctx, uint32_t number, unsigned depth)
{
    *(size_t *)ctx += number + depth;
    return MJ_OK;
}

static mj_outcome count_quota(void *ctx, const char *root, const char *resource, uint64_t usage,
                              uint64_t limit)
{
    *(size_t *)ctx += strlen(root) + strlen(resource) + (size_t)(usage & limit & 1);
    return MJ_OK;
}

static mj_outcome count_vanished(void *ctx, bool earlier, const char *uid_set, uint64_t count)
{
    size_t pos = 0;
    uint32_t first = 0, last = 0;
    while (mj_imap_uid_set_next(uid_set, &pos, &first, &last))
        *(size_t *)ctx += (size_t)(last - first) + earlier;
    *(size_t *)ctx += (size_t)(count & 1);
    return MJ_OK;
}

static mj_outcome count_expunge(void *ctx, uint32_t seq)
{
    *(size_t *)ctx += seq & 1;
    return MJ_OK;
}

static mj_outcome count_message(void *ctx, const mj_imap_message *m)
{
    *(size_t *)ctx += m->seq + m->n_flags + (m->body != NULL) + (m->envelope != NULL);
    return MJ_OK;
}

/* The message source of plan 2's APPEND: 5 bytes. */
static mj_outcome read_message(void *ctx, unsigned char *buf, size_t cap, size_t *len_out,
                               mj_error *err)
{
    size_t *left = ctx;
    (void)err;
    size_t n = *left < cap ? *left : cap;
    memset(buf, 'x', n);
    *left -= n;
    *len_out = n;
    return MJ_OK;
}

/* Plan 1: CONDSTORE / QRESYNC, VANISHED, MODSEQ, MODIFIED, UID EXPUNGE. */
static void condstore(mj_imap *s, size_t *acc)
{
    mj_imap_fetch_cb cb = {sink_body, count_message, acc};
    mj_imap_changes_cb changes = {count_vanished, count_expunge, count_message, acc};
    mj_imap_set_changes(s, &changes);
    mj_imap_select_params p = {.qresync = true, .uidvalidity = 7, .modseq = 42,
                               .known_uids = "1:100"};
    if (mj_imap_select_ex(s, "INBOX", false, &p, NULL) != MJ_OK)
        return;
    if (mj_imap_fetch_changed(s, true, "1:*", "(UID FLAGS)", 40, true, &cb) == MJ_CONNECTION_LOST)
        return;
    const char *modified = NULL;
    if (mj_imap_store_unchanged(s, true, "1:5", MJ_IMAP_STORE_ADD, "\\Seen", false, 41, &cb,
                                &modified) == MJ_CONNECTION_LOST)
        return;
    *acc += modified != NULL ? strlen(modified) : 0;
    (void)mj_imap_uid_expunge(s, "3:4");
}

/* Plan 2: SORT, ESORT, THREAD, GETQUOTA, MULTIAPPEND (one binary message), BINARY. */
static void extensions(mj_imap *s, size_t *acc)
{
    mj_imap_fetch_cb cb = {sink_body, count_message, acc};
    if (mj_imap_select(s, "INBOX", false, NULL) != MJ_OK)
        return;
    if (mj_imap_sort(s, true, "REVERSE DATE", NULL, NULL, count_number, acc) == MJ_CONNECTION_LOST)
        return;
    mj_imap_esort_result esort;
    if (mj_imap_esort(s, false, "MIN MAX COUNT ALL", "DATE", NULL, NULL, &esort, count_number,
                      acc) == MJ_CONNECTION_LOST)
        return;
    *acc += esort.count;
    if (mj_imap_thread(s, false, "REFERENCES", NULL, NULL, count_thread, acc) == MJ_CONNECTION_LOST)
        return;
    if (mj_imap_getquota(s, "", count_quota, acc) == MJ_CONNECTION_LOST)
        return;
    if (mj_imap_fetch(s, false, "1", "(BINARY.SIZE[1] BINARY.PEEK[1])", &cb) == MJ_CONNECTION_LOST)
        return;
    size_t left[2] = {5, 5};
    mj_imap_append_msg msgs[2] = {{.size = 5, .read = read_message, .ctx = &left[0]},
                                  {.flags = "\\Seen", .size = 5, .read = read_message,
                                   .ctx = &left[1], .binary = true}};
    size_t appended = 0;
    mj_imap_uidplus uidplus;
    (void)mj_imap_append_many(s, "Sent", msgs, 2, &appended, &uidplus);
}

static void session(mj_imap *s, unsigned plan)
{
    static const mj_sasl_creds creds = {.username = "alice", .password = "secret"};
    size_t acc = 0;
    mj_imap_fetch_cb cb = {sink_body, NULL, NULL};
    unsigned events = 0;
    if (mj_imap_login(s, &creds, MJ_SASL_NONE) != MJ_OK)
        return;
    if (plan == 1) {
        condstore(s, &acc);
        return;
    }
    if (plan == 2) {
        extensions(s, &acc);
        return;
    }
    if (plan == 3 && mj_imap_compress(s) != MJ_OK)
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
    if (size < 2)
        return 0;
    static const mj_security secs[] = {MJ_SEC_NONE, MJ_SEC_STARTTLS, MJ_SEC_STARTTLS_IF_AVAILABLE,
                                       MJ_SEC_IMPLICIT};
    mj_security sec = secs[data[0] & 3];
    size_t chunk = (size_t)(data[0] >> 4); /* 0: everything at once */
    char out[512];
    mj_error err;
    unsigned plan = data[1] & 3;
    (void)mj_imap_utf7_decode((const char *)data + 2, size - 2, out, sizeof out, &err);

    mj_mem_script script = {.input = data + 2,
                            .input_len = size - 2,
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
        session(s, plan);
        mj_imap_close(s);
    }
    return 0;
}
