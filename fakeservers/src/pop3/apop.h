/*
 * apop.h: POP3 APOP (RFC 1939 section 7) on the server side, pure code: the
 * timestamp of the greeting, the digest MD5(timestamp || password) in lower
 * case hex, and the client's "APOP name digest" line.
 */
#ifndef FK_POP3_APOP_H
#define FK_POP3_APOP_H

#include <stddef.h>

/* Longest timestamp kept, "<" and ">" included, and its NUL. */
#define FK_APOP_TS_MAX 256
/* Longest user name accepted on the APOP line, and its NUL. */
#define FK_APOP_USER_MAX 256
/* The digest: 32 hex digits and a NUL. */
#define FK_APOP_DIGEST_SIZE 33

/*
 * The first "<...>" in text that holds an "@" and no "<", ">" or line end
 * inside (RFC 1939's msg-id shaped timestamp), copied into ts (size
 * FK_APOP_TS_MAX).  Returns 0, or -1 when there is none or it is too long.
 */
int fk_apop_timestamp(const unsigned char *text, size_t len, char *ts);

/* MD5(ts || password) as 32 lower-case hex digits.  Returns 0, or -1 (OpenSSL failed). */
int fk_apop_digest(const char *ts, const char *password, char hex[FK_APOP_DIGEST_SIZE]);

/*
 * Split "APOP name digest" (verb in any case, single spaces, the digest 32
 * hex digits in any case, stored lower-cased).  Returns 0, or -1 when the line
 * has another shape.
 */
int fk_apop_parse(const char *line, size_t len, char user[FK_APOP_USER_MAX],
                  char digest[FK_APOP_DIGEST_SIZE]);

#endif
