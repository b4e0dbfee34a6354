/*
 * transcript.h: what mjfake saw and did, for the harness and for people.
 *
 * The JSON-lines transcript has one object per event, flushed at once so a
 * SIGTERM loses nothing:
 *   {"t_ms": 12, "conn": 1, "dir": "c"|"s"|"event", "data": "...",
 *    "tls": false, "step": "FILE:LINE:COL"|null, ["event": "...", extras]}
 * "data" holds the bytes escaped by fk_escape_bytes.  The MailKit-format log
 * has "C: " / "S: " lines, one per LF-terminated line of each direction.
 *
 * Ownership: fk_transcript_open returns a heap object that owns both files;
 * fk_transcript_close closes and frees it.  A NULL transcript is valid
 * everywhere and records nothing.
 */
#ifndef FK_TRANSCRIPT_H
#define FK_TRANSCRIPT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct fk_transcript fk_transcript;

/*
 * Open the transcript (json_path) and the log (log_path); either may be NULL.
 * Returns NULL with a message in err when a file cannot be created.  With
 * both paths NULL it still returns an object (for the clock).
 */
fk_transcript *fk_transcript_open(const char *json_path, const char *log_path, char *err,
                                  size_t err_size);
void fk_transcript_close(fk_transcript *t);

/* Milliseconds since fk_transcript_open. */
long long fk_transcript_ms(const fk_transcript *t);

/* Bytes that went over connection conn (1-based); dir is 'c' or 's'. */
void fk_transcript_bytes(fk_transcript *t, unsigned conn, char dir, const void *data,
                         size_t len, bool tls, const char *step);

/*
 * An event (accept, tls-handshake, tls-failed, client-hello, mismatch,
 * oracle, eof, reset, close).  data is text (escaped like bytes), may be NULL;
 * extra, when not NULL, is a JSON object whose fields are added (stolen).
 */
void fk_transcript_event(fk_transcript *t, unsigned conn, const char *event, const char *data,
                         bool tls, const char *step, json_t *extra);

/*
 * Escape len bytes into out (NUL-terminated, at most out_size - 1 chars):
 * printable ASCII as is except the backslash (written "\\" so the escaping
 * can be undone), CR LF TAB as \r \n \t, every other byte \xNN.  Returns the
 * length the full escape needs (like snprintf), so callers can size out with
 * fk_escaped_size.
 */
size_t fk_escape_bytes(const unsigned char *data, size_t len, char *out, size_t out_size);
/* Bytes fk_escape_bytes needs for len input bytes, NUL included (worst case). */
size_t fk_escaped_size(size_t len);

#endif
