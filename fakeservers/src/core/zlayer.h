/*
 * zlayer.h: mjfake's side of IMAP COMPRESS=DEFLATE (RFC 4978): raw DEFLATE
 * (RFC 1951, zlib with windowBits -15) for both directions of one
 * connection, with the faults a scenario asks for (compress_fault).  mjfake
 * shares no code with the client: this is its own use of zlib.
 *
 * The connection (conn.c) keeps its plaintext buffers and its transcript as
 * they are; only the bytes that cross the socket (or TLS) go through here:
 * what it reads is put in with fk_z_in_room / fk_z_in_added and taken out
 * decompressed with fk_z_inflate; what it writes is given to fk_z_deflate
 * (compressed and sync-flushed, so the client can decompress each write at
 * once) and leaves from fk_z_out / fk_z_out_done.
 *
 * Ownership: fk_z_new returns a layer the caller frees with fk_z_free.
 */
#ifndef FK_ZLAYER_H
#define FK_ZLAYER_H

#include <stdbool.h>
#include <stddef.h>

/* Compressed input held at once (one socket or TLS read). */
#define FK_Z_IN_MAX 16384
/* Most compressed output one fk_z_deflate may add (its input is at most
 * FK_Z_DEFLATE_MAX; DEFLATE expands incompressible data by a few bytes per
 * 16 KiB, and the sync flush adds 5). */
#define FK_Z_DEFLATE_MAX 65536
#define FK_Z_OUT_MAX (FK_Z_DEFLATE_MAX + FK_Z_DEFLATE_MAX / 8 + 64)

/* What the next fk_z_deflate does to its output (compress_fault). */
typedef enum fk_z_fault {
    FK_Z_FAULT_NONE = 0,
    FK_Z_FAULT_CORRUPT, /* the first block header says BTYPE 11 (reserved): invalid */
    FK_Z_FAULT_TRUNCATE /* only the first half of the output, then nothing ever again */
} fk_z_fault;

typedef struct fk_z fk_z;

/* A layer for both directions; NULL when zlib cannot start (memory). */
fk_z *fk_z_new(void);
void fk_z_free(fk_z *z);

/* Where the next compressed bytes read from the client go, and how many fit. */
unsigned char *fk_z_in_room(fk_z *z, size_t *room_out);
/* n bytes were written at fk_z_in_room. */
void fk_z_in_added(fk_z *z, size_t n);

/*
 * Decompress into p (up to size).  Returns the bytes produced (0: more
 * compressed input is needed), or -1 when the client's stream is corrupt
 * (*why_out, static or zlib's, says how).
 */
long fk_z_inflate(fk_z *z, unsigned char *p, size_t size, const char **why_out);
/* Whether fk_z_inflate may produce bytes without more input. */
bool fk_z_in_pending(const fk_z *z);

/* Arm a fault for the next fk_z_deflate. */
void fk_z_arm(fk_z *z, fk_z_fault fault);
/*
 * Compress p[0, len) (len <= FK_Z_DEFLATE_MAX) with a sync flush and queue
 * the output (the out buffer must be empty first: fk_z_out).  0, or -1
 * (a zlib error, or len too large).
 */
int fk_z_deflate(fk_z *z, const unsigned char *p, size_t len);
/* True once a truncate fault cut the stream: nothing more goes out. */
bool fk_z_cut(const fk_z *z);

/* Compressed bytes waiting to be written (*len_out, 0: none). */
const unsigned char *fk_z_out(const fk_z *z, size_t *len_out);
/* n of them were written. */
void fk_z_out_done(fk_z *z, size_t n);

#endif
