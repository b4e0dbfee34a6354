/*
 * batch.c: `mj --batch`, many mj commands run by one long-lived process.
 *
 * Reads requests from standard input, one JSON object per line:
 *
 *     {"argv": ["--json", "imaps://mail.example.org/", "probe"],
 *      "stdout": "PATH", "stderr": "PATH", "stdin": "PATH"}
 *
 * argv is what would follow `mj` on a command line; the command's standard
 * output and error go to the files stdout and stderr (created or truncated,
 * mode 0600); stdin is optional (/dev/null without it).  For each request
 * the process forks, and the child runs the command exactly as `mj ARGV...`
 * would (the same main, in a process group of its own) and exits with its
 * exit code.  The answers, one JSON object per line on standard output:
 *
 *     {"pid": N}                    the command started (its process group is N)
 *     {"pid": N, "exit": CODE}      it ended with mj's exit code CODE (README)
 *     {"pid": N, "signal": SIG}     a signal ended it (a crash, or a kill)
 *     {"error": "why"}              the request was refused; nothing started
 *
 * One command at a time: the next request is read once the command has
 * ended.  End of input ends the batch with exit code 0.
 *
 * Why: the batch process initialises OpenSSL once (mj_tls_preload) and its
 * children inherit that, which is most of the CPU time of a short command
 * over TLS; yet every command still has a process of its own, so a crash, a
 * hang or a kill touches that command only.  The conformance harness's mj
 * adapter runs mj this way (harness/adapters/mj.py).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mj_cli.h"

/* Longest request line; a longer one is refused (and skipped). */
#define MJ_CLI_BATCH_LINE_MAX 65536
/* Most arguments in one request's argv. */
#define MJ_CLI_BATCH_ARGS_MAX 256

typedef struct batch_reader {
    char buf[MJ_CLI_BATCH_LINE_MAX + 2]; /* a line, its newline, a NUL */
    size_t len;       /* bytes in buf */
    bool skip_line; /* discarding the rest of a too-long line */
    int fd;
} batch_reader;

/*
 * The next line (NUL-terminated, newline removed) in *line_out, borrowed
 * until the next call.  Returns 1 for a line, 0 at end of input, -1 for a
 * line longer than MJ_CLI_BATCH_LINE_MAX (skipped), -2 for a read error.
 * Reads the descriptor itself, never stdio, so a forked child's stdin
 * buffer holds nothing of the requests.
 */
static int next_line(batch_reader *r, char **line_out, size_t *consumed)
{
    memmove(r->buf, r->buf + *consumed, r->len - *consumed);
    r->len -= *consumed;
    *consumed = 0;
    for (;;) {
        char *nl = memchr(r->buf, '\n', r->len);
        if (nl != NULL) {
            size_t n = (size_t)(nl - r->buf);
            *consumed = n + 1;
            if (r->skip_line) {
                r->skip_line = false;
                return -1;
            }
            r->buf[n] = '\0';
            if (n > 0 && r->buf[n - 1] == '\r')
                r->buf[n - 1] = '\0';
            *line_out = r->buf;
            return 1;
        }
        if (r->len == MJ_CLI_BATCH_LINE_MAX + 1) {
            r->len = 0;
            r->skip_line = true;
        }
        ssize_t got = read(r->fd, r->buf + r->len, MJ_CLI_BATCH_LINE_MAX + 1 - r->len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -2;
        if (got == 0) {
            if (r->len == 0 && !r->skip_line)
                return 0;
            /* A last line without a newline still counts. */
            *consumed = r->len;
            if (r->skip_line) {
                r->skip_line = false;
                return -1;
            }
            r->buf[r->len] = '\0';
            *line_out = r->buf;
            return 1;
        }
        r->len += (size_t)got;
    }
}

/* One answer line on standard output, written unbuffered (never lost in a fork). */
static void answer(json_t *obj)
{
    char *text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (text == NULL)
        return;
    size_t len = strlen(text), off = 0;
    text[len] = '\n';
    while (off <= len) {
        ssize_t n = write(STDOUT_FILENO, text + off, len + 1 - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    free(text);
}

static void refuse(const char *fmt, ...) MJ_PRINTF(1, 2);
static void refuse(const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    answer(json_pack("{s:s}", "error", why));
}

/* The file a request names for one of the child's standard streams, open. */
static int open_stream(const json_t *req, const char *key, int flags)
{
    const json_t *v = json_object_get(req, key);
    const char *path = json_is_string(v) ? json_string_value(v) : NULL;
    if (v != NULL && path == NULL) {
        refuse("\"%s\" must be a string (a path)", key);
        return -1;
    }
    if (path == NULL) {
        if (flags != O_RDONLY) {
            refuse("\"%s\" (a path) is required", key);
            return -1;
        }
        path = "/dev/null";
    }
    int fd = open(path, flags | O_CLOEXEC, 0600);
    if (fd < 0) {
        refuse("cannot open %s %s: %s", key, path, strerror(errno));
    }
    return fd;
}

/* argv of a request (borrowed from req), after "mj"; argc, or -1 when refused. */
static int request_argv(const json_t *req, char **argv)
{
    const json_t *a = json_object_get(req, "argv");
    if (!json_is_array(a)) {
        refuse("%s", "\"argv\" (an array of strings) is required");
        return -1;
    }
    size_t n = json_array_size(a);
    if (n + 2 > MJ_CLI_BATCH_ARGS_MAX) {
        refuse("%s", "too many arguments in \"argv\"");
        return -1;
    }
    argv[0] = (char *)"mj";
    for (size_t i = 0; i < n; i++) {
        const json_t *s = json_array_get(a, i);
        if (!json_is_string(s)) { /* (json_loads refuses NUL in strings) */
            refuse("%s", "\"argv\" holds something other than a string");
            return -1;
        }
        argv[i + 1] = (char *)json_string_value(s);
    }
    argv[n + 1] = NULL;
    return (int)n + 1;
}

/*
 * The child: the three streams in place, a group of its own, then mj's main.
 * It leaves by _exit once stdio is flushed: exit() would run OpenSSL's
 * cleanup, which frees (and so copies, page by page, from the parent) memory
 * that vanishes with the process anyway: 15% of a TLS probe's instructions.
 * (`mj` started afresh keeps exit(), so leak checkers still see its end.)
 */
static _Noreturn void child(const int fds[3], int argc, char **argv, mj_cli_main_fn run)
{
    setpgid(0, 0);
    for (int i = 0; i < 3; i++) {
        if (dup2(fds[i], i) < 0)
            _exit(mj_outcome_exit_code(MJ_INTERNAL));
        close(fds[i]);
    }
    int code = run(argc, argv);
    if (fflush(NULL) != 0 && code == 0)
        code = mj_outcome_exit_code(MJ_INTERNAL);
    _exit(code);
}

/* Run one request to its end and answer for it. */
static void run_request(const char *line, mj_cli_main_fn run)
{
    json_error_t jerr;
    json_t *req = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
    if (req == NULL) {
        refuse("the request is not JSON: %s", jerr.text);
        return;
    }
    if (!json_is_object(req)) {
        refuse("%s", "the request is not a JSON object");
        json_decref(req);
        return;
    }
    char *argv[MJ_CLI_BATCH_ARGS_MAX];
    int argc = request_argv(req, argv);
    int fds[3] = {-1, -1, -1};
    if (argc > 0)
        fds[0] = open_stream(req, "stdin", O_RDONLY);
    if (fds[0] >= 0)
        fds[1] = open_stream(req, "stdout", O_WRONLY | O_CREAT | O_TRUNC);
    if (fds[1] >= 0)
        fds[2] = open_stream(req, "stderr", O_WRONLY | O_CREAT | O_TRUNC);
    pid_t pid = -1;
    if (fds[2] >= 0) {
        pid = fork();
        if (pid == 0)
            child(fds, argc, argv, run);
        if (pid < 0)
            refuse("cannot fork: %s", strerror(errno));
    }
    for (int i = 0; i < 3; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    json_decref(req);
    if (pid < 0)
        return;
    /* Also here, so that a kill of the group right after the answer finds it. */
    setpgid(pid, pid);
    answer(json_pack("{s:I}", "pid", (json_int_t)pid));
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            refuse("waitpid: %s", strerror(errno));
            return;
        }
    }
    if (WIFSIGNALED(status))
        answer(json_pack("{s:I,s:i}", "pid", (json_int_t)pid, "signal", WTERMSIG(status)));
    else
        answer(json_pack("{s:I,s:i}", "pid", (json_int_t)pid, "exit", WEXITSTATUS(status)));
}

int mj_cli_batch(mj_cli_main_fn run)
{
    mj_error err;
    mj_error_clear(&err);
    if (mj_tls_preload(&err) != MJ_OK) {
        /* Only the warm-up failed: each command reports its own TLS errors. */
    }
    static batch_reader reader; /* 64 KiB: not on the stack */
    reader.fd = STDIN_FILENO;
    reader.len = 0;
    reader.skip_line = false;
    size_t consumed = 0;
    for (;;) {
        char *line = NULL;
        int got = next_line(&reader, &line, &consumed);
        if (got == 0)
            return 0;
        if (got == -2) {
            fprintf(stderr, "mj --batch: reading requests: %s\n", strerror(errno));
            return mj_outcome_exit_code(MJ_INTERNAL);
        }
        if (got == -1) {
            refuse("a request line is longer than %d bytes", MJ_CLI_BATCH_LINE_MAX);
            continue;
        }
        if (line[0] != '\0')
            run_request(line, run);
    }
}
