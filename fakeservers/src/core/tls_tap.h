/*
 * tls_tap.h: the raw layer under mjfake's TLS, for the transport faults that
 * OpenSSL will not produce on request (SECURITY-CASES 0.3 item 9): a BIO on
 * the socket that follows the TLS record framing of what OpenSSL writes, so
 * the next application-data record can be cut short (a truncated record) or
 * have one bit flipped (a corrupted record), and that can feed OpenSSL
 * crafted bytes before the socket's, so OpenSSL itself raises a fatal alert
 * (encrypted with the live keys) in the middle of the stream.
 *
 * Ownership: fk_tap_new returns a BIO owned by whoever it is given to
 * (SSL_set_bio: the SSL); the fd stays the caller's.  The tap state is
 * inside the BIO and dies with it.
 */
#ifndef FK_TLS_TAP_H
#define FK_TLS_TAP_H

#include <openssl/bio.h>
#include <stdbool.h>
#include <stddef.h>

#include "scenario/scenario.h"

/* Largest crafted input the tap holds for fk_tap_inject. */
#define FK_TAP_INJECT_MAX 96

typedef enum fk_tap_fault {
    FK_TAP_NONE = 0,
    FK_TAP_CORRUPT,  /* flip the low bit of the record's last byte (inside the AEAD tag or MAC) */
    FK_TAP_TRUNCATE  /* send the header and half the body, drop everything after */
} fk_tap_fault;

/* A BIO reading and writing fd (non-blocking); NULL out of memory. */
BIO *fk_tap_new(int fd);

/* Apply fault to the next application-data record that starts after this call. */
void fk_tap_arm(BIO *tap, fk_tap_fault fault);

/* True once a truncated record went out (nothing more will be sent). */
bool fk_tap_cut(BIO *tap);

/* Bytes the next reads return before the socket's; -1 when they do not fit. */
int fk_tap_inject(BIO *tap, const unsigned char *p, size_t len);

/*
 * The record fed to OpenSSL so that it answers with the fatal alert a
 * (scenario.h): a garbage application-data record (bad_record_mac), a header
 * announcing 65535 bytes (record_overflow), a plaintext handshake record
 * where only protected records may come (unexpected_message, TLS 1.3).
 * The alert actually sent is what OpenSSL decides for that input on the
 * negotiated version; the transcript records it.  NULL for FK_ALERT_NONE.
 */
const unsigned char *fk_tap_alert_record(fk_alert a, size_t *len_out);

#endif
