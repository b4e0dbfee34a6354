/*
 * error.c: the outcome classes, their names and exit codes, and mj_error.
 * The tables here are the single source of the strings and exit codes that
 * SCENARIOS.md, the harness and README.md use.
 */
#include "mailjig/error.h"

#include <stdio.h>
#include <string.h>

#include "mailjig/mailjig.h"

struct outcome_row {
    const char *name;
    int exit_code;
};

/* Indexed by mj_outcome.  Exit codes are grouped by layer (see README.md). */
static const struct outcome_row outcome_table[MJ_OUTCOME_COUNT] = {
    [MJ_OK] = {"ok", 0},
    [MJ_USAGE] = {"usage", 2},
    [MJ_CONNECT_FAILED] = {"connect-failed", 10},
    [MJ_TIMEOUT] = {"timeout", 11},
    [MJ_CONNECTION_LOST] = {"connection-lost", 12},
    [MJ_TLS_FAILED] = {"tls-failed", 20},
    [MJ_CERTIFICATE_INVALID] = {"certificate-invalid", 21},
    [MJ_STARTTLS_UNAVAILABLE] = {"starttls-unavailable", 22},
    [MJ_CLEARTEXT_REFUSED] = {"cleartext-refused", 23},
    [MJ_AUTH_FAILED] = {"auth-failed", 30},
    [MJ_AUTH_UNSUPPORTED] = {"auth-unsupported", 31},
    [MJ_PROTOCOL_ERROR] = {"protocol-error", 40},
    [MJ_SERVER_REFUSED] = {"server-refused", 50},
    [MJ_SERVER_BUSY] = {"server-busy", 51},
    [MJ_MESSAGE_REJECTED] = {"message-rejected", 52},
    [MJ_INTERNAL] = {"internal", 70},
};

static const char *const reason_table[MJ_REASON_COUNT] = {
    [MJ_R_NONE] = "none",
    [MJ_R_BAD_ARGUMENT] = "bad-argument",
    [MJ_R_RESOLVE] = "resolve",
    [MJ_R_REFUSED] = "refused",
    [MJ_R_UNREACHABLE] = "unreachable",
    [MJ_R_CONNECT_TIMEOUT] = "connect-timeout",
    [MJ_R_IO_TIMEOUT] = "io-timeout",
    [MJ_R_DEADLINE] = "deadline",
    [MJ_R_EOF] = "eof",
    [MJ_R_RESET] = "reset",
    [MJ_R_TLS_TRUNCATED] = "tls-truncated",
    [MJ_R_TLS_HANDSHAKE] = "handshake",
    [MJ_R_TLS_PLAINTEXT] = "plaintext",
    [MJ_R_TLS_VERSION] = "version",
    [MJ_R_TLS_ALERT] = "alert",
    [MJ_R_CERT_EXPIRED] = "expired",
    [MJ_R_CERT_NOT_YET_VALID] = "not-yet-valid",
    [MJ_R_CERT_UNTRUSTED] = "untrusted",
    [MJ_R_CERT_HOSTNAME] = "hostname",
    [MJ_R_CERT_PURPOSE] = "purpose",
    [MJ_R_CERT_CHAIN] = "chain",
    [MJ_R_CERT_WEAK] = "weak",
    [MJ_R_CERT_PIN] = "pin",
    [MJ_R_CERT_OTHER] = "other",
    [MJ_R_MALFORMED] = "malformed",
    [MJ_R_DATA_AFTER_STARTTLS] = "data-after-starttls",
    [MJ_R_LINE_TOO_LONG] = "line-too-long",
    [MJ_R_REPLY_TOO_LARGE] = "reply-too-large",
    [MJ_R_STREAM_TOO_LARGE] = "stream-too-large",
    [MJ_R_BARE_LF] = "bare-lf",
    [MJ_R_NESTING_TOO_DEEP] = "nesting-too-deep",
    [MJ_R_TOO_MANY_TOKENS] = "too-many-tokens",
    [MJ_R_NUMBER_OVERFLOW] = "number-overflow",
    [MJ_R_COMPRESS_CORRUPT] = "compressed-data-corrupt",
    [MJ_R_COMPRESS_RATIO] = "decompression-ratio",
    [MJ_R_NO_MEMORY] = "no-memory",
    [MJ_R_LOCAL_IO] = "local-io",
    [MJ_R_SYSTEM] = "system",
};

const char *mj_outcome_name(mj_outcome outcome)
{
    if ((unsigned)outcome >= MJ_OUTCOME_COUNT)
        return "internal";
    return outcome_table[outcome].name;
}

int mj_outcome_from_name(const char *name, mj_outcome *outcome_out)
{
    for (unsigned i = 0; i < MJ_OUTCOME_COUNT; i++) {
        if (strcmp(outcome_table[i].name, name) == 0) {
            *outcome_out = (mj_outcome)i;
            return 0;
        }
    }
    return -1;
}

int mj_outcome_exit_code(mj_outcome outcome)
{
    if ((unsigned)outcome >= MJ_OUTCOME_COUNT)
        return outcome_table[MJ_INTERNAL].exit_code;
    return outcome_table[outcome].exit_code;
}

const char *mj_reason_name(mj_reason reason)
{
    if ((unsigned)reason >= MJ_REASON_COUNT || reason_table[reason] == NULL)
        return "none";
    return reason_table[reason];
}

void mj_error_clear(mj_error *err)
{
    if (err == NULL)
        return;
    err->outcome = MJ_OK;
    err->reason = MJ_R_NONE;
    err->message[0] = '\0';
}

mj_outcome mj_error_setv(mj_error *err, mj_outcome outcome, mj_reason reason, const char *fmt,
                         va_list ap)
{
    if (err == NULL)
        return outcome;
    err->outcome = outcome;
    err->reason = reason;
    int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
    if (n < 0)
        err->message[0] = '\0';
    else if ((size_t)n >= sizeof err->message)
        memcpy(err->message + sizeof err->message - 4, "...", 4);
    return outcome;
}

mj_outcome mj_error_set(mj_error *err, mj_outcome outcome, mj_reason reason, const char *fmt,
                        ...)
{
    va_list ap;
    va_start(ap, fmt);
    mj_outcome o = mj_error_setv(err, outcome, reason, fmt, ap);
    va_end(ap);
    return o;
}

char *mj_escape(const void *data, size_t len, char *out, size_t out_size)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = data;
    size_t o = 0;

    if (out_size == 0)
        return out;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];
        size_t need = (c >= 0x20 && c < 0x7f) ? 1 : 4;
        /* Keep room for "..." and the NUL if more input follows. */
        size_t reserve = (i + 1 < len) ? 4 : 1;
        if (o + need + reserve > out_size) {
            if (out_size >= 4) {
                while (o + 4 > out_size)
                    o--;
                memcpy(out + o, "...", 3);
                o += 3;
            }
            break;
        }
        if (need == 1) {
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 0xf];
        }
    }
    out[o] = '\0';
    return out;
}

const char *mj_version(void)
{
    return MJ_VERSION;
}
