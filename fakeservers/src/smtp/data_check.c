/*
 * data_check.c: streaming checks of SMTP message content (data_check.h):
 * SHA-256 by OpenSSL's EVP, `contains` by memmem with a carried tail,
 * `equals_file` by comparing with the file as the bytes come.
 */
#include "smtp/data_check.h"

#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#define CMP_CHUNK 4096 /* bytes of the equals_file read at once */

int fk_data_check_begin(fk_data_check *d, const fk_expect_data *e)
{
    memset(d, 0, sizeof *d);
    d->e = e;
    d->needle_len = e->contains ? strlen(e->contains) : 0;
    d->found = e->contains == NULL || d->needle_len == 0 || d->needle_len > FK_DATA_CONTAINS_MAX;
    if ((d->sha = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(d->sha, EVP_sha256(), NULL) != 1)
        return -1;
    if (e->equals_file != NULL && (d->file = fopen(e->equals_file, "rb")) == NULL)
        return -1;
    return 0;
}

/* Whether needle (k > 0 bytes) occurs in p (n bytes); memmem is a GNU extension. */
static bool has_bytes(const unsigned char *p, size_t n, const char *needle, size_t k)
{
    const unsigned char *q = p, *end = p + n;
    while ((size_t)(end - q) >= k && (q = memchr(q, (unsigned char)needle[0],
                                                 (size_t)(end - q - (ptrdiff_t)k + 1))) != NULL) {
        if (memcmp(q, needle, k) == 0)
            return true;
        q++;
    }
    return false;
}

/* contains: look where the last chunk and this one meet, then inside this one. */
static void look_for_needle(fk_data_check *d, const unsigned char *p, size_t n)
{
    const char *needle = d->e->contains;
    size_t k = d->needle_len;
    unsigned char seam[2 * FK_DATA_CONTAINS_MAX];
    size_t head = n < k - 1 ? n : k - 1;
    memcpy(seam, d->tail, d->tail_len);
    memcpy(seam + d->tail_len, p, head);
    if (has_bytes(seam, d->tail_len + head, needle, k) || has_bytes(p, n, needle, k)) {
        d->found = true;
        return;
    }
    /* keep the last k - 1 bytes of tail + p */
    size_t total = d->tail_len + n, keep = total < k - 1 ? total : k - 1;
    if (n >= keep) {
        memcpy(d->tail, p + n - keep, keep);
    } else {
        memmove(d->tail, d->tail + d->tail_len - (keep - n), keep - n);
        memcpy(d->tail + keep - n, p, n);
    }
    d->tail_len = keep;
}

/* equals_file: compare with the file's next n bytes. */
static void compare_file(fk_data_check *d, const unsigned char *p, size_t n)
{
    unsigned char buf[CMP_CHUNK];
    size_t off = 0;
    while (off < n && !d->differs) {
        size_t want = n - off < sizeof buf ? n - off : sizeof buf;
        size_t got = fread(buf, 1, want, d->file);
        for (size_t i = 0; i < got && !d->differs; i++) {
            if (buf[i] != p[off + i]) {
                d->differs = true;
                d->first_diff = d->size + off + i;
            }
        }
        if (got < want && !d->differs) { /* the file ended first */
            d->differs = true;
            d->first_diff = d->size + off + got;
        }
        off += got;
    }
}

void fk_data_check_feed(void *arg, const unsigned char *p, size_t n)
{
    fk_data_check *d = arg;
    EVP_DigestUpdate(d->sha, p, n);
    if (!d->found)
        look_for_needle(d, p, n);
    if (d->file != NULL && !d->differs)
        compare_file(d, p, n);
    d->size += n;
}

void fk_sha256_hex(const unsigned char digest[32], char out[65])
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[64] = '\0';
}

bool fk_data_check_end(fk_data_check *d, char *why, size_t why_size)
{
    unsigned int len = 0;
    char got[65], want[65];
    EVP_DigestFinal_ex(d->sha, d->digest, &len);
    fk_sha256_hex(d->digest, got);
    if (d->e->has_sha256 && memcmp(d->digest, d->e->sha256, 32) != 0) {
        fk_sha256_hex(d->e->sha256, want);
        snprintf(why, why_size, "content with sha256 %s, got %" PRIu64 " bytes with sha256 %s",
                 want, d->size, got);
        return false;
    }
    if (!d->found) {
        snprintf(why, why_size,
                 "content containing '%.100s', got %" PRIu64 " bytes (sha256 %s) without it",
                 d->e->contains, d->size, got);
        return false;
    }
    if (d->file != NULL && !d->differs && fgetc(d->file) != EOF) {
        d->differs = true;
        d->first_diff = d->size;
    }
    if (d->differs) {
        snprintf(why, why_size,
                 "content equal to %s, got %" PRIu64 " bytes (sha256 %s) "
                 "that differ from byte %" PRIu64,
                 d->e->equals_file, d->size, got, d->first_diff);
        return false;
    }
    return true;
}

void fk_data_check_free(fk_data_check *d)
{
    EVP_MD_CTX_free(d->sha);
    d->sha = NULL;
    if (d->file != NULL)
        fclose(d->file);
    d->file = NULL;
}
