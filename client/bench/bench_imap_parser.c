/*
 * bench_imap_parser.c: throughput of the IMAP response parser (imap/parser.h)
 * on synthetic FETCH responses, the shape RFC 9051 FETCH (FLAGS UID
 * ENVELOPE BODYSTRUCTURE) returns for ordinary mail: a multipart/alternative
 * with an attachment, five addresses, quoted subjects.  (Figures, not
 * pass/fail.)
 *
 * 100,000 responses, fed in 16 KiB chunks as a busy socket delivers them
 * (a 1,000-response buffer is fed 100 times, so memory measures the parser,
 * not the input).  Every tree is walked once, as a session would.
 * Prints responses/s, MB/s (10^6 bytes) and the peak RSS of the process.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "imap/parser.h"

#define N_RESPONSES 100000
#define N_DISTINCT 1000
#define CHUNK ((size_t)16 * 1024)
#define RESP_MAX 4096

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int make_one(char *out, size_t cap, unsigned i)
{
    return snprintf(
        out, cap,
        "* %u FETCH (UID %u FLAGS (\\Seen \\Answered $Label%u) ENVELOPE (\"Mon, 7 Feb 1994 "
        "21:52:25 -0800 (PST)\" \"Re: quarterly figures, draft %u \\\"final\\\"\" ((\"Terry "
        "Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" "
        "\"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((NIL "
        "NIL \"imap\" \"cac.washington.edu\") (\"Mark Crispin\" NIL \"mrc\" "
        "\"cac.washington.edu\")) ((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")) NIL "
        "\"<B27397-0100000@cac.washington.edu>\" \"<%u.1994@cac.washington.edu>\") BODYSTRUCTURE "
        "(((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"QUOTED-PRINTABLE\" %u 42 NIL NIL "
        "NIL NIL)(\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL \"QUOTED-PRINTABLE\" %u 120 "
        "NIL NIL NIL NIL) \"ALTERNATIVE\" (\"BOUNDARY\" \"b1_%u\") NIL NIL NIL)(\"APPLICATION\" "
        "\"PDF\" (\"NAME\" \"report-%u.pdf\") NIL NIL \"BASE64\" %u NIL (\"ATTACHMENT\" "
        "(\"FILENAME\" \"report-%u.pdf\")) NIL NIL) \"MIXED\" (\"BOUNDARY\" \"b0_%u\") NIL NIL "
        "NIL))\r\n",
        i + 1, 1000 + i, i % 7, i, i, 1200 + i, 4800 + i, i, i, 150000 + i, i, i);
}

static size_t walk(const mj_imap_node *n)
{
    size_t count = 0;
    for (; n != NULL; n = n->next)
        count += 1 + (n->kind == MJ_IMAP_LIST ? walk(n->first) : 0);
    return count;
}

int main(void)
{
    char *buf = malloc((size_t)N_DISTINCT * RESP_MAX);
    if (buf == NULL)
        return 1;
    size_t len = 0;
    for (unsigned i = 0; i < N_DISTINCT; i++)
        len += (size_t)make_one(buf + len, RESP_MAX, i);
    mj_imap_parser *p = mj_imap_parser_new(NULL);
    if (p == NULL)
        return 1;
    size_t responses = 0, tokens = 0, bytes = 0;
    double t0 = now_s();
    for (int round = 0; round < N_RESPONSES / N_DISTINCT; round++) {
        for (size_t pos = 0; pos < len;) {
            size_t n = len - pos < CHUNK ? len - pos : CHUNK;
            size_t used;
            const mj_imap_response *r;
            mj_error err;
            mj_parse_result res = mj_imap_parse(p, (const unsigned char *)buf + pos, n, &used,
                                                &r, &err);
            if (res == MJ_PARSE_ERROR) {
                fprintf(stderr, "bench_imap_parser: %s\n", err.message);
                return 1;
            }
            if (res == MJ_PARSE_OK) {
                responses++;
                tokens += walk(r->data);
            }
            pos += used;
        }
        bytes += len;
    }
    double secs = now_s() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("imap parser: %zu FETCH responses (%zu tokens, %.1f MB) in %.3f s\n", responses, tokens,
           (double)bytes / 1e6, secs);
    printf("imap parser: %.0f responses/s  %.1f MB/s  peak RSS %.1f MiB (input buffer %.1f MiB)\n",
           (double)responses / secs, (double)bytes / secs / 1e6, (double)ru.ru_maxrss / 1024.0,
           (double)len / (1024.0 * 1024.0));
    mj_imap_parser_free(p);
    free(buf);
    return responses == N_RESPONSES ? 0 : 1;
}
