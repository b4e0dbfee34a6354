/*
 * transcript.c: the JSON-lines transcript (jansson) and the MailKit-format
 * log of transcript.h.  Every record is written and flushed at once.
 */
#include "core/transcript.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/loop.h"

struct fk_transcript {
    FILE *json;
    FILE *log;
    uint64_t t0;
    /* The log's open line, so a line split over reads keeps one prefix. */
    unsigned log_conn;
    char log_dir;      /* 0 when the last log line is complete */
};

size_t fk_escaped_size(size_t len)
{
    return len * 4 + 1;
}

size_t fk_escape_bytes(const unsigned char *data, size_t len, char *out, size_t out_size)
{
    size_t n = 0, fit = 0; /* fit: the whole escapes that fit in out */
    for (size_t i = 0; i < len; i++) {
        char tmp[5];
        unsigned char b = data[i];
        if (b == '\\')
            memcpy(tmp, "\\\\", 3);
        else if (b == '\r' || b == '\n' || b == '\t')
            snprintf(tmp, sizeof tmp, "\\%c", b == '\r' ? 'r' : b == '\n' ? 'n' : 't');
        else if (b >= 0x20 && b < 0x7f)
            tmp[0] = (char)b, tmp[1] = '\0';
        else
            snprintf(tmp, sizeof tmp, "\\x%02X", b);
        size_t k = strlen(tmp);
        if (fit == n && out_size > 0 && n + k < out_size) {
            memcpy(out + n, tmp, k);
            fit = n + k;
        }
        n += k;
    }
    if (out_size > 0)
        out[fit] = '\0';
    return n;
}

fk_transcript *fk_transcript_open(const char *json_path, const char *log_path, char *err,
                                  size_t err_size)
{
    fk_transcript *t = calloc(1, sizeof *t);
    if (t == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    t->t0 = fk_now_ms();
    if (json_path != NULL && (t->json = fopen(json_path, "w")) == NULL) {
        snprintf(err, err_size, "%s: cannot create transcript: %s", json_path, strerror(errno));
        fk_transcript_close(t);
        return NULL;
    }
    if (log_path != NULL && (t->log = fopen(log_path, "w")) == NULL) {
        snprintf(err, err_size, "%s: cannot create log: %s", log_path, strerror(errno));
        fk_transcript_close(t);
        return NULL;
    }
    return t;
}

void fk_transcript_close(fk_transcript *t)
{
    if (t == NULL)
        return;
    if (t->log != NULL) {
        if (t->log_dir != 0)
            fputc('\n', t->log);
        fclose(t->log);
    }
    if (t->json != NULL)
        fclose(t->json);
    free(t);
}

long long fk_transcript_ms(const fk_transcript *t)
{
    return t == NULL ? 0 : (long long)(fk_now_ms() - t->t0);
}

/* Escape into a fresh string (NULL when out of memory). */
static char *escape_dup(const void *data, size_t len)
{
    size_t size = fk_escaped_size(len);
    char *s = malloc(size);
    if (s != NULL)
        fk_escape_bytes(data, len, s, size);
    return s;
}

static void write_record(fk_transcript *t, json_t *o)
{
    if (o != NULL && t->json != NULL) {
        json_dumpf(o, t->json, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fputc('\n', t->json);
        fflush(t->json);
    }
    json_decref(o);
}

static json_t *record(fk_transcript *t, unsigned conn, const char *dir, const char *data,
                      bool tls, const char *step)
{
    return json_pack("{s:I, s:i, s:s, s:s, s:b, s:s?}", "t_ms", (json_int_t)fk_transcript_ms(t),
                     "conn", (int)conn, "dir", dir, "data", data ? data : "", "tls", tls, "step",
                     step);
}

/*
 * The log: "C: " / "S: " then the line escaped; a CRLF or LF ends the line
 * (a bare LF shows as "\n" before the newline so it stays visible).
 */
static void log_bytes(fk_transcript *t, unsigned conn, char dir, const unsigned char *p,
                      size_t len)
{
    if (t->log_dir != 0 && (t->log_dir != dir || t->log_conn != conn)) {
        fputc('\n', t->log);
        t->log_dir = 0;
    }
    while (len > 0) {
        if (t->log_dir == 0)
            fprintf(t->log, "%c: ", dir == 'c' ? 'C' : 'S');
        t->log_dir = dir;
        t->log_conn = conn;
        const unsigned char *lf = memchr(p, '\n', len);
        size_t n = lf ? (size_t)(lf - p) : len;
        bool crlf = lf != NULL && n > 0 && p[n - 1] == '\r';
        char buf[256];
        for (size_t i = 0; i < n - (crlf ? 1 : 0); i += 60) {
            size_t k = n - (crlf ? 1 : 0) - i;
            fk_escape_bytes(p + i, k > 60 ? 60 : k, buf, sizeof buf);
            fputs(buf, t->log);
        }
        if (lf != NULL) {
            fputs(crlf ? "\n" : "\\n\n", t->log);
            t->log_dir = 0;
            n++;
        }
        p += n;
        len -= n;
    }
    fflush(t->log);
}

void fk_transcript_bytes(fk_transcript *t, unsigned conn, char dir, const void *data,
                         size_t len, bool tls, const char *step)
{
    if (t == NULL || len == 0)
        return;
    if (t->json != NULL) {
        char *s = escape_dup(data, len);
        write_record(t, record(t, conn, dir == 'c' ? "c" : "s", s, tls, step));
        free(s);
    }
    if (t->log != NULL)
        log_bytes(t, conn, dir, data, len);
}

void fk_transcript_event(fk_transcript *t, unsigned conn, const char *event, const char *data,
                         bool tls, const char *step, json_t *extra)
{
    if (t == NULL || t->json == NULL) {
        json_decref(extra);
        return;
    }
    char *s = data ? escape_dup(data, strlen(data)) : NULL;
    json_t *o = record(t, conn, "event", s, tls, step);
    free(s);
    if (o != NULL) {
        json_object_set_new(o, "event", json_string(event));
        if (extra != NULL)
            json_object_update(o, extra);
    }
    json_decref(extra);
    write_record(t, o);
}
