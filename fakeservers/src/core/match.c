/*
 * match.c: the line matcher of match.h, a backtracking glob with captures.
 * Backtracking happens only at "*" and "{name}", so its depth is bounded by
 * the pattern; its work is bounded by FK_MATCH_BUDGET.
 */
#include "core/match.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* One capture made along the current match path. */
typedef struct pending {
    const char *name;
    size_t name_len;
    size_t at, len; /* in the line */
} pending;

typedef struct mctx {
    const char *pat;
    size_t plen;
    const char *line;
    size_t llen;
    bool icase;
    long budget;
    pending caps[FK_CAPTURES_MAX];
    size_t n_caps;
} mctx;

static bool is_atom_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && strchr("(){%*\"\\]", c) == NULL;
}

size_t fk_atom_len(const char *line, size_t len)
{
    size_t n = 0;
    while (n < len && is_atom_char((unsigned char)line[n]))
        n++;
    return n;
}

size_t fk_placeholder_len(const char *p, size_t len)
{
    if (len < 3 || p[0] != '{' || !(isalpha((unsigned char)p[1]) || p[1] == '_'))
        return 0;
    for (size_t i = 2; i < len && i < FK_CAPTURE_NAME_MAX + 1; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '}')
            return i + 1;
        if (!isalnum(c) && c != '_' && c != '-')
            return 0;
    }
    return 0;
}

static bool same(const mctx *m, char a, char b)
{
    if (m->icase)
        return tolower((unsigned char)a) == tolower((unsigned char)b);
    return a == b;
}

static fk_match_result match_from(mctx *m, size_t pi, size_t li);

/* "*": try the longest run first, as a glob does. */
static fk_match_result match_star(mctx *m, size_t pi, size_t li)
{
    for (size_t k = m->llen + 1; k-- > li;) {
        fk_match_result r = match_from(m, pi + 1, k);
        if (r != FK_MATCH_NO)
            return r;
    }
    return FK_MATCH_NO;
}

/* "{name}": one atom, longest first, captured on the way. */
static fk_match_result match_capture(mctx *m, size_t pi, size_t ph, size_t li)
{
    size_t a = fk_atom_len(m->line + li, m->llen - li);
    if (m->n_caps == FK_CAPTURES_MAX)
        return FK_MATCH_ERROR;
    for (size_t k = a; k > 0; k--) {
        if (k >= FK_CAPTURE_VALUE_MAX)
            continue;
        m->caps[m->n_caps++] = (pending){m->pat + pi + 1, ph - 2, li, k};
        fk_match_result r = match_from(m, pi + ph, li + k);
        if (r == FK_MATCH_YES)
            return r;
        m->n_caps--;
        if (r == FK_MATCH_ERROR)
            return r;
    }
    return FK_MATCH_NO;
}

static fk_match_result match_from(mctx *m, size_t pi, size_t li)
{
    for (;;) {
        if (--m->budget < 0)
            return FK_MATCH_ERROR;
        if (pi == m->plen)
            return li == m->llen ? FK_MATCH_YES : FK_MATCH_NO;
        char c = m->pat[pi];
        if (c == '*')
            return match_star(m, pi, li);
        size_t ph = c == '{' ? fk_placeholder_len(m->pat + pi, m->plen - pi) : 0;
        if (ph > 0)
            return match_capture(m, pi, ph, li);
        if (li == m->llen || !same(m, c, m->line[li]))
            return FK_MATCH_NO;
        pi++;
        li++;
    }
}

static fk_match_result match_regex(const fk_pattern *p, const char *line, size_t len)
{
    if (memchr(line, '\0', len) != NULL)
        return FK_MATCH_NO;
    char *s = malloc(len + 1);
    if (s == NULL)
        return FK_MATCH_ERROR;
    memcpy(s, line, len);
    s[len] = '\0';
    int rc = regexec(&p->re, s, 0, NULL, 0);
    free(s);
    return rc == 0 ? FK_MATCH_YES : FK_MATCH_NO;
}

fk_match_result fk_match_line(const fk_pattern *p, const char *line, size_t len,
                              fk_captures *caps)
{
    if (p->kind == FK_PAT_REGEX)
        return match_regex(p, line, len);
    mctx m = {.pat = p->source, .plen = strlen(p->source), .line = line, .llen = len,
              .icase = p->icase, .budget = FK_MATCH_BUDGET};
    fk_match_result r = match_from(&m, 0, 0);
    if (r != FK_MATCH_YES || caps == NULL)
        return r;
    for (size_t i = 0; i < m.n_caps; i++) {
        const pending *c = &m.caps[i];
        if (fk_captures_set(caps, c->name, c->name_len, line + c->at, c->len) != 0)
            return FK_MATCH_ERROR;
    }
    return r;
}

/* Index of name in caps, caps->n when absent. */
static size_t capture_index(const fk_captures *caps, const char *name, size_t name_len)
{
    size_t i = 0;
    while (i < caps->n &&
           !(strlen(caps->v[i].name) == name_len && memcmp(caps->v[i].name, name, name_len) == 0))
        i++;
    return i;
}

const char *fk_captures_get(const fk_captures *caps, const char *name, size_t name_len)
{
    size_t i = capture_index(caps, name, name_len);
    return i < caps->n ? caps->v[i].value : NULL;
}

int fk_captures_set(fk_captures *caps, const char *name, size_t name_len, const char *value,
                    size_t value_len)
{
    if (name_len >= FK_CAPTURE_NAME_MAX || value_len >= FK_CAPTURE_VALUE_MAX)
        return -1;
    size_t i = capture_index(caps, name, name_len);
    if (i == caps->n) {
        if (caps->n == FK_CAPTURES_MAX)
            return -1;
        caps->n++;
        memcpy(caps->v[i].name, name, name_len);
        caps->v[i].name[name_len] = '\0';
    }
    memcpy(caps->v[i].value, value, value_len);
    caps->v[i].value[value_len] = '\0';
    return 0;
}
