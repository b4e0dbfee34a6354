/*
 * bench_reader.c: throughput of the buffered reader and the protocol log
 * over the in-memory transport (figures, not pass/fail).
 *
 *   lines:        mj_reader_line over ~100 MB of 80-byte CRLF lines
 *   stream_until: a ~100 MB body ending in CRLF "." CRLF into a null sink
 *   log:          mj_log_data of the same bytes to /dev/null, plain and
 *                 with timestamps
 * Input arrives in 16 KiB transport reads, like a busy TCP socket.
 * MB here is 10^6 bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mailjig/mailjig.h"

#define TOTAL_BYTES ((size_t)100 * 1024 * 1024)
#define LINE_BYTES 80 /* including CRLF */
#define CHUNK_BYTES ((size_t)16 * 1024)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* n_lines lines of LINE_BYTES: "<seq> FETCH ...xxxx\r\n"; extra bytes at the end. */
static unsigned char *make_lines(size_t n_lines, const char *tail, size_t *len_out)
{
    size_t tail_len = strlen(tail);
    size_t len = n_lines * LINE_BYTES + tail_len;
    unsigned char *buf = malloc(len);
    if (buf == NULL)
        return NULL;
    for (size_t i = 0; i < n_lines; i++) {
        unsigned char *p = buf + i * LINE_BYTES;
        memset(p, 'x', LINE_BYTES - 2);
        int k = snprintf((char *)p, LINE_BYTES - 2, "* %zu FETCH (FLAGS (\\Seen)) ", i);
        p[k] = 'x'; /* snprintf's NUL */
        p[LINE_BYTES - 2] = '\r';
        p[LINE_BYTES - 1] = '\n';
    }
    memcpy(buf + n_lines * LINE_BYTES, tail, tail_len);
    *len_out = len;
    return buf;
}

static mj_reader *open_reader(const unsigned char *in, size_t len, mj_transport **t_out)
{
    static mj_timeouts timeouts = {1000, 1000, 0};
    static const size_t chunk = CHUNK_BYTES;
    mj_mem_script sc = {.input = in, .input_len = len, .chunks = &chunk, .n_chunks = 1};
    mj_error err;
    if (mj_mem_transport_new(&sc, &timeouts, t_out, &err) != MJ_OK)
        return NULL;
    return mj_reader_new(*t_out, NULL, NULL);
}

static void report(const char *what, size_t bytes, double secs, size_t units, const char *unit)
{
    printf("%-24s %8.1f MB/s", what, (double)bytes / secs / 1e6);
    if (units > 0)
        printf("  %10.0f %s/s", (double)units / secs, unit);
    printf("  (%.1f MB in %.3f s)\n", (double)bytes / 1e6, secs);
}

static int bench_lines(size_t n_lines)
{
    size_t len;
    unsigned char *in = make_lines(n_lines, "", &len);
    mj_transport *t;
    mj_reader *r = in ? open_reader(in, len, &t) : NULL;
    if (r == NULL)
        return 1;
    const char *line;
    size_t line_len, count = 0;
    mj_error err;
    double t0 = now_s();
    /* each line is one reply, as each untagged IMAP response would be */
    for (;;) {
        mj_reader_reply_begin(r);
        if (mj_reader_line(r, &line, &line_len, &err) != MJ_OK)
            break;
        count++;
    }
    double secs = now_s() - t0;
    if (count != n_lines)
        fprintf(stderr, "reader_line: %s after %zu lines\n", err.message, count);
    report("reader_line", len, secs, count, "lines");
    mj_reader_free(r);
    mj_transport_close(t);
    free(in);
    return count == n_lines ? 0 : 1;
}

static mj_outcome null_sink(void *ctx, const unsigned char *data, size_t len, mj_error *err)
{
    (void)data;
    (void)err;
    *(size_t *)ctx += len;
    return MJ_OK;
}

static int bench_stream(size_t n_lines)
{
    size_t len;
    unsigned char *in = make_lines(n_lines, ".\r\n", &len);
    mj_transport *t;
    mj_reader *r = in ? open_reader(in, len, &t) : NULL;
    if (r == NULL)
        return 1;
    size_t got = 0;
    mj_sink sink = {null_sink, &got};
    mj_error err;
    double t0 = now_s();
    mj_outcome o = mj_reader_stream_until(r, "\r\n.\r\n", 5, len, &sink, &err);
    double secs = now_s() - t0;
    report("stream_until CRLF.CRLF", len, secs, 0, "");
    mj_reader_free(r);
    mj_transport_close(t);
    free(in);
    return o == MJ_OK && got == len - 5 ? 0 : 1;
}

static int bench_log(size_t n_lines, bool timestamps)
{
    size_t len;
    unsigned char *in = make_lines(n_lines, "", &len);
    FILE *fp = fopen("/dev/null", "w");
    mj_log *log = fp ? mj_log_new(fp) : NULL;
    if (in == NULL || log == NULL)
        return 1;
    mj_log_set_timestamps(log, timestamps);
    double t0 = now_s();
    for (size_t off = 0; off < len; off += CHUNK_BYTES) {
        size_t n = len - off < CHUNK_BYTES ? len - off : CHUNK_BYTES;
        mj_log_data(log, MJ_LOG_SERVER, in + off, n, false);
    }
    double secs = now_s() - t0;
    report(timestamps ? "log (timestamps)" : "log", len, secs, n_lines, "lines");
    mj_log_free(log);
    fclose(fp);
    free(in);
    return 0;
}

int main(void)
{
    size_t n_lines = TOTAL_BYTES / LINE_BYTES;
    printf("bench_reader: %zu lines of %d bytes (%.1f MB), %zu-byte transport reads, "
           "reader chunk %d, default limits\n",
           n_lines, LINE_BYTES, (double)(n_lines * LINE_BYTES) / 1e6, CHUNK_BYTES,
           MJ_READER_CHUNK);
    int rc = bench_lines(n_lines);
    rc |= bench_stream(n_lines);
    rc |= bench_log(n_lines, false);
    rc |= bench_log(n_lines, true);
    if (rc != 0)
        fprintf(stderr, "bench_reader: a run did not read what it should have\n");
    return rc;
}
