/*
 * imap/criteria.c: SEARCH criteria with non-ASCII strings, for SEARCH, SORT
 * and THREAD.
 *
 * RFC 3501 §6.4.4 and §4.3 (CHARSET; quoted strings are 7-bit, other text
 * goes as a literal), RFC 9051 §6.4.4 (CHARSET, UTF-8 quoted strings),
 * RFC 6855 §3 (UTF8=ACCEPT: UTF-8 quoted strings, no CHARSET needed),
 * RFC 7888 (the literal forms, through the engine of session.c), RFC 5530
 * / RFC 3501 §7.1 ([BADCHARSET (charsets)]), RFC 5256 §3 (SORT and THREAD
 * take the same criteria after their charset).
 *
 * The caller writes criteria as text; the ASCII parts go exactly as
 * written (they were always raw), and only the strings holding bytes >=
 * 0x80 become string arguments of their own, so the engine picks a UTF-8
 * quoted string or a literal for them and waits for '+' when it must.
 */
#include "imap/imap_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Escaped charset list of a [BADCHARSET (...)] quoted in a message. */
#define IMAP_CHARSETS_QUOTE_MAX 200

static mj_outcome usage(mj_imap *s, const char *why)
{
    return mj_error_set(mj_conn_error(s->conn), MJ_USAGE, MJ_R_BAD_ARGUMENT,
                        "the search criteria %s; nothing was sent", why);
}

static bool has_eight_bit(const char *p, const char *end)
{
    for (; p < end; p++) {
        if ((unsigned char)*p >= 0x80)
            return true;
    }
    return false;
}

/* Copy [p, end) NUL-terminated to *out; with unquote, the content of a quoted
 * string without its DQUOTEs and with "\\" / "\"" unescaped. */
static const char *copy_text(char **out, const char *p, const char *end, bool unquote)
{
    char *start = *out, *o = *out;
    if (unquote) {
        p++;   /* the opening DQUOTE */
        end--; /* the closing one */
    }
    for (; p < end; p++) {
        if (unquote && *p == '\\' && p + 1 < end)
            p++;
        *o++ = *p;
    }
    *o++ = '\0';
    *out = o;
    return start;
}

static mj_outcome add_part(mj_imap *s, imap_criteria *c, imap_part_kind kind, const char *text)
{
    if (c->n == IMAP_CRITERIA_PARTS_MAX)
        return usage(s, "hold more than MJ_IMAP_CRITERIA_STRINGS_MAX non-ASCII strings");
    c->parts[c->n] = (imap_part){kind, text, false,
                                 kind == IMAP_P_RAW ? "search criteria" : "search string",
                                 c->n > 0};
    c->n++;
    return MJ_OK;
}

/*
 * criteria = *(SP / "(" / ")" / quoted / word)       (the tokens mj splits)
 * quoted   = DQUOTE *(QUOTED-CHAR / "\" quoted-specials) DQUOTE
 * word     = 1*(any byte but SP, "(", ")" and DQUOTE)
 * imap_check_raw has made sure quotes close, parentheses balance and no
 * literal marker hides in the text.
 */
mj_outcome imap_criteria_build(mj_imap *s, const char *criteria, imap_criteria *c)
{
    memset(c, 0, sizeof *c);
    if (imap_check_raw(s, "search criteria", criteria) != MJ_OK)
        return MJ_USAGE;
    size_t len = strlen(criteria);
    if (!imap_utf8_valid(criteria, len))
        return usage(s, "are not valid UTF-8");
    /* every part is at most its source bytes plus a NUL */
    c->mem = malloc(len + IMAP_CRITERIA_PARTS_MAX + 1);
    if (c->mem == NULL)
        return mj_error_set(mj_conn_error(s->conn), MJ_INTERNAL, MJ_R_NO_MEMORY, "out of memory");
    char *out = c->mem;
    const char *raw = criteria; /* the ASCII text not yet made a part */
    const char *p = criteria;
    mj_outcome o = MJ_OK;
    while (*p != '\0' && o == MJ_OK) {
        if (*p == ' ' || *p == '(' || *p == ')') {
            p++;
            continue;
        }
        const char *tok = p;
        bool quoted = *p == '"';
        if (quoted) {
            for (p++; *p != '"'; p++) {
                if (*p == '\\' && p[1] != '\0')
                    p++;
            }
            p++; /* the closing DQUOTE */
        } else {
            p += strcspn(p, " ()\"");
        }
        if (!has_eight_bit(tok, p))
            continue;
        c->non_ascii = true;
        if (tok > raw)
            o = add_part(s, c, IMAP_P_RAW, copy_text(&out, raw, tok, false));
        if (o == MJ_OK)
            o = add_part(s, c, IMAP_P_STRING, copy_text(&out, tok, p, quoted));
        raw = p;
    }
    if (o == MJ_OK && (*raw != '\0' || c->n == 0))
        o = add_part(s, c, IMAP_P_RAW, copy_text(&out, raw, raw + strlen(raw), false));
    if (o != MJ_OK) {
        imap_criteria_free(c);
        return o;
    }
    c->charset = c->non_ascii && !s->utf8; /* UTF8=ACCEPT or IMAP4rev2: UTF-8 quoted strings */
    return MJ_OK;
}

void imap_criteria_free(imap_criteria *c)
{
    free(c->mem);
    c->mem = NULL;
    c->n = 0;
}

/* resp-text-code =/ "BADCHARSET" [SP "(" charset *(SP charset) ")"] (RFC 9051 §7.1) */
mj_outcome imap_criteria_refused(mj_imap *s, imap_cmd cmd, const imap_done *done, mj_outcome o)
{
    if (o == MJ_OK || done->status != MJ_IMAP_ST_NO || strcasecmp(done->code, "BADCHARSET") != 0)
        return o;
    char list[IMAP_CHARSETS_QUOTE_MAX];
    const char *a = done->code_args;
    size_t n = strlen(a);
    if (n >= 2 && a[0] == '(' && a[n - 1] == ')') {
        a++;
        n -= 2;
    }
    snprintf(list, sizeof list, "%.*s", (int)n, a); /* code_args is escaped already */
    return mj_error_set(mj_conn_error(s->conn), o, MJ_R_NONE,
                        "the server refused %s: it cannot search in the charset of the criteria "
                        "(NO [BADCHARSET] %s); %s%s",
                        imap_verb(cmd), done->text[0] ? done->text : "(no text)",
                        list[0] ? "the charsets it supports: " : "it did not say which charsets "
                                                                 "it supports",
                        list);
}
