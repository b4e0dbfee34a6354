/*
 * data_check.h: matching SMTP message content against a step's
 * `expect: {data: {sha256, contains, equals_file}}` while it streams in
 * (DATA un-stuffed, or BDAT chunks), so memory stays flat whatever the size:
 * SHA-256 over the content, `contains` found across chunk boundaries, and
 * `equals_file` compared chunk by chunk with the file.
 *
 * Ownership: fk_data_check_begin opens the file and the digest; they belong
 * to the check until fk_data_check_free (safe to call twice, and on a check
 * whose begin failed).  e must outlive the check.
 */
#ifndef FK_SMTP_DATA_CHECK_H
#define FK_SMTP_DATA_CHECK_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "scenario/scenario.h"

/* Longest `contains` text the check accepts (the loader enforces it). */
#define FK_DATA_CONTAINS_MAX 4096
/* Longest description written by fk_data_check_end. */
#define FK_DATA_WHY_MAX 512

typedef struct fk_data_check {
    const fk_expect_data *e;
    EVP_MD_CTX *sha;
    uint64_t size;
    /* contains: the last (needle length - 1) bytes seen, to find it across chunks */
    unsigned char tail[FK_DATA_CONTAINS_MAX];
    size_t tail_len, needle_len;
    bool found;
    /* equals_file */
    FILE *file;
    bool differs;
    uint64_t first_diff;
    unsigned char digest[32];
} fk_data_check;

/* Start checking; returns 0, or -1 (no memory, the file unreadable). */
int fk_data_check_begin(fk_data_check *d, const fk_expect_data *e);

/* The next content bytes (an fk_data_sink: arg is the check). */
void fk_data_check_feed(void *arg, const unsigned char *p, size_t n);

/*
 * The content is complete: true when every condition holds; otherwise why
 * (size FK_DATA_WHY_MAX) names the first that does not.  The SHA-256 of the
 * content is in d->digest afterwards either way.
 */
bool fk_data_check_end(fk_data_check *d, char *why, size_t why_size);

void fk_data_check_free(fk_data_check *d);

/* 64 lower-case hex digits and a NUL. */
void fk_sha256_hex(const unsigned char digest[32], char out[65]);

#endif
