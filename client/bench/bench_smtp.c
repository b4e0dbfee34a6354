/*
 * bench_smtp.c: N messages in ONE SMTP session through the library
 * (mj_smtp_open, then mj_smtp_send N times, then QUIT): the "1,000 messages
 * of 10 KB with PIPELINING" figure of issue 8.  The `mj` command sends one
 * message per session, so this driver is what measures a session.
 *
 *   bench_smtp HOST PORT N MESSAGE_FILE [none|implicit|starttls]
 *
 * HOST is verified against the test CA ($MJ_CERTS/ca.crt) and connected to
 * at 127.0.0.1.  Prints one line: messages, seconds, messages/s, MB/s and
 * the process's peak RSS.  Figures, not pass/fail; exit 1 on any failure.
 * Without arguments (the `make bench` loop runs every bench_* binary) it
 * only says that client/bench/bench_smtp.py drives it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mailjig/mailjig.h"
#include "mailjig/smtp.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        printf("bench_smtp: run by client/bench/bench_smtp.py (make bench runs it next)\n");
        return 0;
    }
    const char *host = argv[1];
    unsigned port = (unsigned)strtoul(argv[2], NULL, 10);
    long n = strtol(argv[3], NULL, 10);
    const char *path = argv[4];
    const char *mode = argc > 5 ? argv[5] : "none";
    char cafile[4096];
    const char *certs = getenv("MJ_CERTS");
    snprintf(cafile, sizeof cafile, "%s/ca.crt", certs != NULL ? certs : "build/certs");

    mj_conn_config cfg;
    mj_conn_config_init(&cfg, MJ_PROTO_SMTP);
    cfg.security = strcmp(mode, "implicit") == 0   ? MJ_SEC_IMPLICIT
                   : strcmp(mode, "starttls") == 0 ? MJ_SEC_STARTTLS
                                                   : MJ_SEC_NONE;
    cfg.endpoint.host = host;
    cfg.endpoint.connect_addr = "127.0.0.1";
    cfg.endpoint.port = port;
    cfg.tls.cafile = cafile;

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        perror(path);
        return 1;
    }
    static const char *const to[] = {"bob@mailjig.test"};
    mj_smtp_envelope env = {.from = "alice@mailjig.test", .to = to, .n_to = 1,
                            .size = (uint64_t)st.st_size};
    mj_smtp_source src = {mj_smtp_source_fd, &fd};

    mj_error err;
    mj_smtp *s = NULL;
    double t0 = now_s();
    if (mj_smtp_open(&cfg, NULL, &s, &err) != MJ_OK) {
        fprintf(stderr, "bench_smtp: open: %s\n", err.message);
        return 1;
    }
    long sent = 0;
    for (; sent < n; sent++) {
        mj_smtp_send_result res;
        if (lseek(fd, 0, SEEK_SET) != 0) {
            perror("lseek");
            break;
        }
        mj_outcome o = mj_smtp_send(s, &env, &src, &res);
        mj_smtp_send_result_free(&res);
        if (o != MJ_OK) {
            fprintf(stderr, "bench_smtp: message %ld: %s\n", sent + 1, mj_smtp_error(s)->message);
            break;
        }
    }
    mj_smtp_quit(s);
    mj_smtp_free(s);
    double dt = now_s() - t0;
    close(fd);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("mj-library %s: %ld messages of %lld bytes in one session: %.3f s, %.0f msg/s, "
           "%.1f MB/s, peak RSS %ld KiB\n",
           mode, sent, (long long)st.st_size, dt, (double)sent / dt,
           (double)sent * (double)st.st_size / dt / 1e6, ru.ru_maxrss);
    return sent == n ? 0 : 1;
}
