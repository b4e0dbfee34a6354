/*
 * apop.c: RFC 1939 section 7 (APOP) for mjfake's POP3 personality; MD5 from
 * OpenSSL's EVP (the fake server shares no code with the client library).
 */
#include "pop3/apop.h"

#include <ctype.h>
#include <stdbool.h>
#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

int fk_apop_timestamp(const unsigned char *text, size_t len, char *ts)
{
    for (size_t i = 0; i < len; i++) {
        if (text[i] != '<')
            continue;
        bool at = false;
        size_t j = i + 1;
        while (j < len && text[j] != '>' && text[j] != '<' && text[j] != '\r' && text[j] != '\n') {
            at = at || text[j] == '@';
            j++;
        }
        if (j < len && text[j] == '>' && at) {
            size_t n = j - i + 1;
            if (n >= FK_APOP_TS_MAX)
                return -1;
            memcpy(ts, text + i, n);
            ts[n] = '\0';
            return 0;
        }
    }
    return -1;
}

int fk_apop_digest(const char *ts, const char *password, char hex[FK_APOP_DIGEST_SIZE])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, ts, strlen(ts)) == 1 &&
             EVP_DigestUpdate(ctx, password, strlen(password)) == 1 &&
             EVP_DigestFinal_ex(ctx, md, &n) == 1 && n == 16;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return -1;
    for (unsigned i = 0; i < 16; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[32] = '\0';
    return 0;
}

int fk_apop_parse(const char *line, size_t len, char user[FK_APOP_USER_MAX],
                  char digest[FK_APOP_DIGEST_SIZE])
{
    if (len < 5 || strncasecmp(line, "APOP ", 5) != 0)
        return -1;
    const char *name = line + 5, *end = line + len;
    const char *sp = memchr(name, ' ', (size_t)(end - name));
    if (sp == NULL || sp == name || (size_t)(sp - name) >= FK_APOP_USER_MAX || end - (sp + 1) != 32)
        return -1;
    for (const char *p = name; p < sp; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return -1;
    for (size_t i = 0; i < 32; i++) {
        unsigned char h = (unsigned char)sp[1 + i];
        if (!isxdigit(h))
            return -1;
        digest[i] = (char)tolower(h);
    }
    digest[32] = '\0';
    memcpy(user, name, (size_t)(sp - name));
    user[sp - name] = '\0';
    return 0;
}
