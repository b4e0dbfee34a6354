/*
 * log.c: the protocol log, in the format of MailKit's ProtocolLogger
 * (MailKit/ProtocolLogger.cs: Log() and LogConnect()), plus mailjig's
 * additions: UTC timestamps, escaping of bytes that could break the log or a
 * terminal, a per-line length cap and secret spans.  See log.h for the rules.
 *
 * Like MailKit, bytes are split at LF and the "C: " / "S: " prefix is written
 * only at the start of a line; whether a line is open ("midline") is tracked
 * per direction.  Because a chunk boundary may cut a UTF-8 sequence or a CRLF,
 * each direction also carries up to 3 bytes of an unfinished UTF-8 sequence
 * and one pending CR, so the output does not depend on how the bytes were cut.
 * UTF-8 validity follows RFC 3629 / Unicode Table 3-7 (no overlongs, no
 * surrogates, nothing above U+10FFFF).
 *
 * Every call ends with fflush: a log must survive a crash of the program.
 */
#include "mailjig/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Output is staged here and written with fwrite when full or at the end of a
 * call; 4 KiB keeps the number of stdio calls low without mattering for size. */
#define LOG_OUT_BUF 4096
/* Longest UTF-8 sequence; an unfinished one carries at most this minus one. */
#define UTF8_MAX 4

/* Per-direction state: everything that survives a chunk boundary. */
struct dir_state {
    bool midline;                 /* a line of this direction is open */
    bool cr_pending;              /* the last byte was CR: raw if LF follows */
    size_t line_len;              /* content bytes written on this line */
    unsigned long long dropped;   /* content bytes over line_max on this line */
    unsigned char seq[UTF8_MAX];  /* unfinished UTF-8 sequence */
    size_t seq_len;               /* bytes in seq */
    size_t seq_need;              /* total length the lead byte announced */
};

struct mj_log {
    FILE *fp;
    bool owns_fp;
    bool timestamps;
    bool fixed_time_set;
    long long fixed_time;
    size_t line_max;
    bool stamp_valid;             /* stamp holds the text for stamp_time */
    time_t stamp_time;
    char stamp[64];
    struct dir_state dir[2];
    size_t out_len;
    char out[LOG_OUT_BUF];
};

static const char *const dir_prefix[2] = {[MJ_LOG_CLIENT] = "C: ", [MJ_LOG_SERVER] = "S: "};

/* ---- output staging -------------------------------------------------------- */

static void out_flush(mj_log *log)
{
    if (log->out_len > 0)
        (void)fwrite(log->out, 1, log->out_len, log->fp);
    log->out_len = 0;
}

static void out_bytes(mj_log *log, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        if (log->out_len == sizeof log->out)
            out_flush(log);
        size_t room = sizeof log->out - log->out_len;
        size_t n = len < room ? len : room;
        memcpy(log->out + log->out_len, p, n);
        log->out_len += n;
        p += n;
        len -= n;
    }
}

static void out_str(mj_log *log, const char *s)
{
    out_bytes(log, s, strlen(s));
}

/* The text is formatted once per second: gmtime_r per line costs more than
 * the rest of the logging together. */
static void out_timestamp(mj_log *log)
{
    time_t now = log->fixed_time_set ? (time_t)log->fixed_time : time(NULL);
    if (!log->stamp_valid || now != log->stamp_time) {
        struct tm tm;
        if (gmtime_r(&now, &tm) == NULL ||
            strftime(log->stamp, sizeof log->stamp, "%Y-%m-%dT%H:%M:%SZ ", &tm) == 0)
            snprintf(log->stamp, sizeof log->stamp, "0000-00-00T00:00:00Z ");
        log->stamp_time = now;
        log->stamp_valid = true;
    }
    out_str(log, log->stamp);
}

/* ---- line structure ---------------------------------------------------------- */

/* Open a line for d if none is open: timestamp, then the prefix. */
static void line_open(mj_log *log, mj_log_dir d)
{
    struct dir_state *s = &log->dir[d];
    if (s->midline)
        return;
    if (log->timestamps)
        out_timestamp(log);
    out_str(log, dir_prefix[d]);
    s->midline = true;
    s->line_len = 0;
    s->dropped = 0;
}

/* One content unit (a char or an escape) of raw length raw_len, counted
 * against line_max: once a line is cut, everything else on it is dropped. */
static void content(mj_log *log, mj_log_dir d, const char *text, size_t text_len,
                    size_t raw_len)
{
    struct dir_state *s = &log->dir[d];
    line_open(log, d);
    if (s->dropped > 0 || s->line_len + raw_len > log->line_max) {
        s->dropped += raw_len;
        return;
    }
    out_bytes(log, text, text_len);
    s->line_len += raw_len;
}

static void content_escaped(mj_log *log, mj_log_dir d, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    char esc[4] = {'\\', 'x', hex[c >> 4], hex[c & 0xf]};
    content(log, d, esc, sizeof esc, 1);
}

/* The cut marker, if this line was cut; called where the line ends. */
static void line_marker(mj_log *log, mj_log_dir d)
{
    struct dir_state *s = &log->dir[d];
    if (s->dropped == 0)
        return;
    char marker[64];
    snprintf(marker, sizeof marker, " [... %llu bytes not logged]", s->dropped);
    out_str(log, marker);
    s->dropped = 0;
}

/* End the line at a LF from the wire, written as it came (CRLF or LF). */
static void line_end(mj_log *log, mj_log_dir d, bool crlf)
{
    line_open(log, d); /* an empty line still gets its prefix */
    line_marker(log, d);
    out_str(log, crlf ? "\r\n" : "\n");
    log->dir[d].midline = false;
    log->dir[d].line_len = 0;
}

/* ---- UTF-8 and control bytes ------------------------------------------------- */

/* Length a lead byte announces (0: cannot start a sequence). */
static size_t utf8_len(unsigned char c)
{
    if (c >= 0xc2 && c <= 0xdf)
        return 2;
    if (c >= 0xe0 && c <= 0xef)
        return 3;
    if (c >= 0xf0 && c <= 0xf4)
        return 4;
    return 0;
}

/* Whether c may follow seq (lead + continuation bytes so far): Table 3-7. */
static bool utf8_next_ok(const unsigned char *seq, size_t seq_len, unsigned char c)
{
    unsigned char lo = 0x80, hi = 0xbf;
    if (seq_len == 1) {
        switch (seq[0]) {
        case 0xe0: lo = 0xa0; break; /* overlong below U+0800 */
        case 0xed: hi = 0x9f; break; /* surrogates */
        case 0xf0: lo = 0x90; break; /* overlong below U+10000 */
        case 0xf4: hi = 0x8f; break; /* above U+10FFFF */
        default: break;
        }
    }
    return c >= lo && c <= hi;
}

/* An unfinished sequence that cannot complete: each byte as \xNN. */
static void seq_abandon(mj_log *log, mj_log_dir d)
{
    struct dir_state *s = &log->dir[d];
    for (size_t i = 0; i < s->seq_len; i++)
        content_escaped(log, d, s->seq[i]);
    s->seq_len = 0;
    s->seq_need = 0;
}

/* A CR is the line end's only if LF follows; anything else makes it content. */
static void cr_resolve(mj_log *log, mj_log_dir d)
{
    if (!log->dir[d].cr_pending)
        return;
    log->dir[d].cr_pending = false;
    content_escaped(log, d, '\r');
}

/* Whether a byte below 0x80 is written raw. */
static bool ascii_raw(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c < 0x7f);
}

static void byte_ascii(mj_log *log, mj_log_dir d, unsigned char c)
{
    if (c == '\n') {
        bool crlf = log->dir[d].cr_pending;
        log->dir[d].cr_pending = false;
        line_end(log, d, crlf);
        return;
    }
    cr_resolve(log, d);
    if (c == '\r') {
        log->dir[d].cr_pending = true;
    } else if (ascii_raw(c)) {
        char ch = (char)c;
        content(log, d, &ch, 1, 1);
    } else {
        content_escaped(log, d, c);
    }
}

/* Feed one byte through the UTF-8 / CR state machine of direction d. */
static void log_byte(mj_log *log, mj_log_dir d, unsigned char c)
{
    struct dir_state *s = &log->dir[d];
    if (s->seq_len > 0) {
        if (utf8_next_ok(s->seq, s->seq_len, c)) {
            s->seq[s->seq_len++] = c;
            if (s->seq_len == s->seq_need) {
                content(log, d, (const char *)s->seq, s->seq_len, s->seq_len);
                s->seq_len = 0;
                s->seq_need = 0;
            }
            return;
        }
        seq_abandon(log, d); /* then c starts afresh */
    }
    if (c < 0x80) {
        byte_ascii(log, d, c);
        return;
    }
    cr_resolve(log, d);
    size_t need = utf8_len(c);
    if (need == 0) {
        content_escaped(log, d, c);
        return;
    }
    s->seq[0] = c;
    s->seq_len = 1;
    s->seq_need = need;
}

/* Resolve everything a direction carries (CR, unfinished sequence) as
 * content, when no later byte can complete it. */
static void dir_settle(mj_log *log, mj_log_dir d)
{
    seq_abandon(log, d);
    cr_resolve(log, d);
}

/* Fast path: a run of printable ASCII, as far as it goes. */
static size_t plain_run(const unsigned char *p, size_t len)
{
    size_t i = 0;
    while (i < len && p[i] >= 0x20 && p[i] < 0x7f)
        i++;
    return i;
}

static void log_plain(mj_log *log, mj_log_dir d, const unsigned char *p, size_t n)
{
    struct dir_state *s = &log->dir[d];
    line_open(log, d);
    size_t room = s->dropped > 0 || s->line_len >= log->line_max ? 0 : log->line_max - s->line_len;
    size_t w = n < room ? n : room;
    out_bytes(log, p, w);
    s->line_len += w;
    s->dropped += n - w;
}

/* ---- public API ----------------------------------------------------------------- */

mj_log *mj_log_new(FILE *fp)
{
    mj_log *log = calloc(1, sizeof *log);
    if (log == NULL)
        return NULL;
    log->fp = fp;
    log->line_max = MJ_LOG_LINE_MAX_DEFAULT;
    return log;
}

mj_outcome mj_log_open(const char *path, mj_log **log_out, mj_error *err)
{
    *log_out = NULL;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return mj_error_set(err, MJ_INTERNAL, MJ_R_LOCAL_IO, "cannot open log %s: %s", path,
                            strerror(errno));
    /* An existing file keeps its mode on O_CREAT: a log may hold mail, so
     * narrow it to the owner either way. */
    (void)fchmod(fd, 0600);
    FILE *fp = fdopen(fd, "w");
    if (fp == NULL) {
        close(fd);
        return mj_error_set(err, MJ_INTERNAL, MJ_R_LOCAL_IO, "cannot open log %s: %s", path,
                            strerror(errno));
    }
    mj_log *log = mj_log_new(fp);
    if (log == NULL) {
        fclose(fp);
        return mj_error_set(err, MJ_INTERNAL, MJ_R_NO_MEMORY, "out of memory");
    }
    log->owns_fp = true;
    *log_out = log;
    return MJ_OK;
}

void mj_log_set_timestamps(mj_log *log, bool on)
{
    log->timestamps = on;
}

void mj_log_set_line_max(mj_log *log, size_t line_max)
{
    log->line_max = line_max;
}

void mj_log_set_fixed_time(mj_log *log, long long epoch_seconds)
{
    log->fixed_time_set = true;
    log->fixed_time = epoch_seconds;
}

/* MailKit's LogConnect: one CRLF ends whatever line is open, then the
 * "Connected to" line (timestamped too when timestamps are on). */
void mj_log_connect(mj_log *log, const char *uri)
{
    if (log == NULL)
        return;
    bool open_line = false;
    for (int d = 0; d < 2; d++) {
        dir_settle(log, (mj_log_dir)d);
        line_marker(log, (mj_log_dir)d);
        open_line = open_line || log->dir[d].midline;
        log->dir[d].midline = false;
        log->dir[d].line_len = 0;
    }
    if (open_line)
        out_str(log, "\r\n");
    if (log->timestamps)
        out_timestamp(log);
    out_str(log, "Connected to ");
    out_str(log, uri);
    out_str(log, "\r\n");
    out_flush(log);
    fflush(log->fp);
}

static void log_secret(mj_log *log, mj_log_dir d)
{
    dir_settle(log, d);
    line_open(log, d);
    /* Once a line is cut nothing more of it is shown; the secret's length is
     * not added to the count either, which would reveal it. */
    if (log->dir[d].dropped == 0)
        out_str(log, MJ_LOG_SECRET_MASK);
}

void mj_log_data(mj_log *log, mj_log_dir dir, const void *data, size_t len, bool secret)
{
    if (log == NULL)
        return;
    if (secret) {
        log_secret(log, dir);
    } else {
        const unsigned char *p = data;
        struct dir_state *s = &log->dir[dir];
        size_t i = 0;
        while (i < len) {
            size_t run = (s->seq_len == 0 && !s->cr_pending) ? plain_run(p + i, len - i) : 0;
            if (run > 0) {
                log_plain(log, dir, p + i, run);
                i += run;
            } else {
                log_byte(log, dir, p[i++]);
            }
        }
    }
    out_flush(log);
    fflush(log->fp);
}

void mj_log_free(mj_log *log)
{
    if (log == NULL)
        return;
    /* Nothing can complete a carried CR or sequence any more. */
    dir_settle(log, MJ_LOG_CLIENT);
    dir_settle(log, MJ_LOG_SERVER);
    line_marker(log, MJ_LOG_CLIENT);
    line_marker(log, MJ_LOG_SERVER);
    out_flush(log);
    fflush(log->fp);
    if (log->owns_fp)
        fclose(log->fp);
    free(log);
}
