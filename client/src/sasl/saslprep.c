/*
 * saslprep.c: a documented subset of SASLprep (RFC 4013, the stringprep
 * profile of RFC 3454) for SCRAM usernames and passwords.
 *
 * Mapping (B.1, C.1.2), prohibited output (C.2-C.9) and an approximate bidi
 * check are done from the tables below; NFKC normalization and the
 * unassigned-code-point check are not (see mj_saslprep in mailjig/sasl.h
 * for the exact contract and its limits).
 */
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sasl_internal.h"

enum prep_action { PREP_SPACE, PREP_NOTHING, PREP_PROHIBIT };

struct prep_range {
    uint32_t lo, hi;
    enum prep_action action;
    const char *what; /* the class named in an error */
};

/* First match wins: U+200B is in C.1.2 and B.1; as a space it stays visible. */
static const struct prep_range prep_table[] = {
    {0x00A0, 0x00A0, PREP_SPACE, NULL},
    {0x1680, 0x1680, PREP_SPACE, NULL},
    {0x2000, 0x200B, PREP_SPACE, NULL},
    {0x202F, 0x202F, PREP_SPACE, NULL},
    {0x205F, 0x205F, PREP_SPACE, NULL},
    {0x3000, 0x3000, PREP_SPACE, NULL},
    {0x00AD, 0x00AD, PREP_NOTHING, NULL},
    {0x034F, 0x034F, PREP_NOTHING, NULL},
    {0x1806, 0x1806, PREP_NOTHING, NULL},
    {0x180B, 0x180D, PREP_NOTHING, NULL},
    {0x200C, 0x200D, PREP_NOTHING, NULL},
    {0x2060, 0x2060, PREP_NOTHING, NULL},
    {0xFE00, 0xFE0F, PREP_NOTHING, NULL},
    {0xFEFF, 0xFEFF, PREP_NOTHING, NULL},
    {0x0000, 0x001F, PREP_PROHIBIT, "control character"},
    {0x007F, 0x009F, PREP_PROHIBIT, "control character"},
    {0x06DD, 0x06DD, PREP_PROHIBIT, "control character"},
    {0x070F, 0x070F, PREP_PROHIBIT, "control character"},
    {0x180E, 0x180E, PREP_PROHIBIT, "control character"},
    {0x2028, 0x2029, PREP_PROHIBIT, "control character"},
    {0x2061, 0x2063, PREP_PROHIBIT, "control character"},
    {0x1D173, 0x1D17A, PREP_PROHIBIT, "control character"},
    {0xE000, 0xF8FF, PREP_PROHIBIT, "private-use character"},
    {0xF0000, 0xFFFFD, PREP_PROHIBIT, "private-use character"},
    {0x100000, 0x10FFFD, PREP_PROHIBIT, "private-use character"},
    {0xFDD0, 0xFDEF, PREP_PROHIBIT, "non-character"},
    {0xFFF9, 0xFFFD, PREP_PROHIBIT, "special or replacement character"},
    {0x2FF0, 0x2FFB, PREP_PROHIBIT, "ideographic description character"},
    {0x0340, 0x0341, PREP_PROHIBIT, "display-changing character"},
    {0x200E, 0x200F, PREP_PROHIBIT, "display-changing character"},
    {0x202A, 0x202E, PREP_PROHIBIT, "display-changing character"},
    {0x206A, 0x206F, PREP_PROHIBIT, "display-changing character"},
    {0xE0001, 0xE0001, PREP_PROHIBIT, "tagging character"},
    {0xE0020, 0xE007F, PREP_PROHIBIT, "tagging character"},
};

/* Blocks counted as RandALCat (the approximation documented in sasl.h). */
static const struct {
    uint32_t lo, hi;
} randal_table[] = {{0x0590, 0x08FF}, {0xFB1D, 0xFDFF}, {0xFE70, 0xFEFC}};

static const struct prep_range *prep_lookup(uint32_t cp)
{
    static const struct prep_range noncharacter = {0, 0, PREP_PROHIBIT, "non-character"};
    for (size_t i = 0; i < sizeof prep_table / sizeof prep_table[0]; i++) {
        if (cp >= prep_table[i].lo && cp <= prep_table[i].hi)
            return &prep_table[i];
    }
    /* C.4: U+xFFFE and U+xFFFF in every plane. */
    return (cp & 0xFFFEu) == 0xFFFEu ? &noncharacter : NULL;
}

static int is_randal(uint32_t cp)
{
    for (size_t i = 0; i < sizeof randal_table / sizeof randal_table[0]; i++) {
        if (cp >= randal_table[i].lo && cp <= randal_table[i].hi)
            return 1;
    }
    return 0;
}

/* Decode one UTF-8 sequence at s[0..len): its length, or 0 if invalid
 * (truncated, overlong, surrogate, beyond U+10FFFF). */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp_out)
{
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    size_t n = s[0] < 0x80             ? 1
               : (s[0] & 0xE0) == 0xC0 ? 2
               : (s[0] & 0xF0) == 0xE0 ? 3
               : (s[0] & 0xF8) == 0xF0 ? 4
                                       : 0;
    if (n == 0 || n > len)
        return 0;
    uint32_t cp = n == 1 ? s[0] : (uint32_t)(s[0] & (0x7F >> n));
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (uint32_t)(s[i] & 0x3F);
    }
    if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    *cp_out = cp;
    return n;
}

/* Bidi state of the output so far (RFC 3454 §6, approximated). */
struct bidi {
    int any_randal, any_l, first_randal, last_randal, count;
};

static void bidi_note(struct bidi *b, uint32_t cp)
{
    int r = is_randal(cp);
    int l = !r && ((cp < 0x80 && ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z')) || cp >= 0x80);
    if (b->count == 0)
        b->first_randal = r;
    b->last_randal = r;
    b->any_randal |= r;
    b->any_l |= l;
    b->count++;
}

static mj_outcome bad(mj_error *err, const char *what)
{
    return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT, "SASLprep: the credential holds %s",
                        what);
}

static mj_outcome prep_run(const char *in, size_t len, char *out, mj_error *err)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t o = 0;
    struct bidi b = {0, 0, 0, 0, 0};

    for (size_t i = 0; i < len;) {
        uint32_t cp = 0;
        size_t n = utf8_decode(p + i, len - i, &cp);
        if (n == 0)
            return bad(err, "invalid UTF-8");
        const struct prep_range *r = prep_lookup(cp);
        if (r != NULL && r->action == PREP_PROHIBIT)
            return bad(err, r->what);
        if (r != NULL && r->action == PREP_SPACE) {
            out[o++] = ' ';
            bidi_note(&b, ' ');
        } else if (r == NULL) {
            memcpy(out + o, p + i, n);
            o += n;
            bidi_note(&b, cp);
        }
        i += n;
    }
    out[o] = '\0';
    if (b.any_randal && (b.any_l || !b.first_randal || !b.last_randal))
        return bad(err, "a right-to-left mix that the bidi rule forbids");
    return MJ_OK;
}

mj_outcome mj_saslprep(const char *in, char *out, size_t out_size, mj_error *err)
{
    size_t len = strlen(in);

    if (out_size < len + 1)
        return mj_error_set(err, MJ_INTERNAL, MJ_R_SYSTEM, "SASLprep: output too small");
    mj_outcome o = prep_run(in, len, out, err);
    if (o != MJ_OK)
        OPENSSL_cleanse(out, len + 1); /* a partial password must not linger */
    return o;
}
