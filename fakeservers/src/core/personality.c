/*
 * personality.c: the protocol table of personality.h.  RFC 9051 (IMAP tags,
 * "BAD"), RFC 1939 ("-ERR"), RFC 5321/3463 ("500 5.5.2").
 */
#include "core/personality.h"

#include <stdio.h>

static const fk_personality personalities[] = {
    {FK_PROTO_IMAP, "imap", "{tag} BAD unexpected command", true, FK_READ_IMAP_LITERAL, false},
    {FK_PROTO_POP3, "pop3", "-ERR unexpected command", false, FK_READ_LINES, true},
    {FK_PROTO_SMTP, "smtp", "500 5.5.2 unexpected command", false, FK_READ_SMTP_DATA, false},
};

const fk_personality *fk_personality_get(fk_protocol p)
{
    for (size_t i = 0; i < sizeof personalities / sizeof personalities[0]; i++)
        if (personalities[i].protocol == p)
            return &personalities[i];
    return &personalities[0];
}

/* The expect kinds that need more than line mode, with what they wait for. */
static const struct {
    fk_expect_kind kind;
    const char *what;
} unimplemented[] = {
    {FK_EXPECT_SASL, "expect: {sasl: ...} (SASL decoding) is not implemented yet"},
    {FK_EXPECT_DATA, "expect: {data: ...} (SMTP DATA reading mode) is not implemented yet"},
};

int fk_personality_check(const fk_scenario *s, char *err, size_t err_size)
{
    for (size_t c = 0; c < s->server.n_connections; c++) {
        const fk_script *sc = &s->server.connections[c];
        for (size_t i = 0; i < sc->n_steps; i++) {
            const fk_step *st = &sc->steps[i];
            for (size_t k = 0; k < sizeof unimplemented / sizeof unimplemented[0]; k++) {
                if (st->expect.kind != unimplemented[k].kind)
                    continue;
                snprintf(err, err_size, "%s:%u:%u: %s", s->path ? s->path : "-", st->pos.line,
                         st->pos.col, unimplemented[k].what);
                return -1;
            }
        }
    }
    return 0;
}
