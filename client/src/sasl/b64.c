/*
 * b64.c: strict base64 (RFC 4648 §4, standard alphabet, padded) on top of
 * OpenSSL's EVP_EncodeBlock / EVP_DecodeBlock.
 *
 * EVP_DecodeBlock is lenient (it skips surrounding whitespace, counts '='
 * as zero bits and ignores the bits padding drops), so the input is
 * validated first: SASL challenges come from
 * the peer and RFC 4422 §5 asks for their base64 to be checked strictly.
 */
#include <limits.h>
#include <string.h>

#include <openssl/evp.h>

#include "sasl_internal.h"

static int b64_alphabet(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/* The 6-bit value of an alphabet character. */
static unsigned b64_value(unsigned char c)
{
    return c >= 'A' && c <= 'Z'   ? (unsigned)(c - 'A')
           : c >= 'a' && c <= 'z' ? (unsigned)(c - 'a' + 26)
           : c >= '0' && c <= '9' ? (unsigned)(c - '0' + 52)
           : c == '+'             ? 62u
                                  : 63u;
}

mj_outcome mj_b64_encode(const void *in, size_t len, char *out, size_t out_size, size_t *len_out,
                         mj_error *err)
{
    *len_out = 0;
    if (len > (size_t)INT_MAX / 2 || out_size < MJ_B64_ENCODED_LEN(len) + 1)
        return mj_error_set(err, MJ_INTERNAL, MJ_R_SYSTEM,
                            "base64: output buffer too small for %zu bytes", len);
    int n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    if (n < 0)
        return mj_error_set(err, MJ_INTERNAL, MJ_R_SYSTEM, "base64: encoding failed");
    *len_out = (size_t)n;
    return MJ_OK;
}

/* Number of '=' at the end, or -1 if the text is not canonical base64. */
static int check_b64(const char *in, size_t len)
{
    size_t pad = 0;

    if (len % 4 != 0)
        return -1;
    if (len >= 1 && in[len - 1] == '=')
        pad = (len >= 2 && in[len - 2] == '=') ? 2 : 1;
    for (size_t i = 0; i < len - pad; i++) {
        if (!b64_alphabet((unsigned char)in[i]))
            return -1;
    }
    /* Canonical only (RFC 4648 §3.5): the bits the padding drops are zero,
     * so one byte string has exactly one accepted encoding. */
    if (pad > 0 && (b64_value((unsigned char)in[len - pad - 1]) & (pad == 1 ? 0x03 : 0x0F)))
        return -1;
    return (int)pad;
}

mj_outcome mj_b64_decode(const char *in, size_t len, unsigned char *out, size_t out_size,
                         size_t *len_out, mj_error *err)
{
    *len_out = 0;
    if (len == 0)
        return MJ_OK;
    int pad = check_b64(in, len);
    if (pad < 0)
        return mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_MALFORMED,
                            "base64: invalid text (%zu characters)", len);
    if (len > (size_t)INT_MAX || out_size < len / 4 * 3)
        return mj_error_set(err, MJ_INTERNAL, MJ_R_SYSTEM,
                            "base64: output buffer too small for %zu characters", len);
    int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
    if (n < 0 || (size_t)n != len / 4 * 3)
        return mj_error_set(err, MJ_PROTOCOL_ERROR, MJ_R_MALFORMED,
                            "base64: invalid text (%zu characters)", len);
    *len_out = (size_t)n - (size_t)pad;
    return MJ_OK;
}
