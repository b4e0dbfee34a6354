/*
 * personality.c: the protocol table of personality.h.  RFC 9051 (IMAP tags,
 * "BAD", literals, AUTHENTICATE and its response codes from RFC 5530),
 * RFC 1939 ("-ERR", APOP) and RFC 5034 (POP3 AUTH, RFC 3206 codes),
 * RFC 5321 / 3463 / 4954 / 3030 ("500 5.5.2", AUTH, DATA, BDAT).
 */
#include "core/personality.h"

#include <stdio.h>

static const fk_personality personalities[] = {
    {FK_PROTO_IMAP, "imap", "{tag} BAD unexpected command", true, FK_READ_IMAP_LITERAL,
     "+ Ready",
     {"AUTHENTICATE", true, "+ ", "{tag} OK AUTHENTICATE completed",
      "{tag} NO [AUTHENTICATIONFAILED] Authentication failed",
      "{tag} NO [UNAVAILABLE] Authentication temporarily unavailable",
      "{tag} NO [CANNOT] Unsupported authentication mechanism",
      "{tag} BAD Invalid SASL response", "{tag} BAD AUTHENTICATE cancelled"},
     NULL, NULL},
    {FK_PROTO_POP3, "pop3", "-ERR unexpected command", false, FK_READ_LINES, NULL,
     {"AUTH", false, "+ ", "+OK Authentication successful", "-ERR [AUTH] Authentication failed",
      "-ERR [SYS/TEMP] Authentication temporarily unavailable",
      "-ERR Unsupported authentication mechanism", "-ERR Invalid SASL response",
      "-ERR AUTH cancelled"},
     "+OK maildrop ready", "-ERR [AUTH] Authentication failed"},
    {FK_PROTO_SMTP, "smtp", "500 5.5.2 unexpected command", false, FK_READ_SMTP_DATA, NULL,
     {"AUTH", false, "334 ", "235 2.7.0 Authentication successful",
      "535 5.7.8 Authentication credentials invalid", "454 4.7.0 Temporary authentication failure",
      "504 5.5.4 Unrecognized authentication type", "501 5.5.2 Cannot decode response",
      "501 5.7.0 Authentication cancelled"},
     NULL, NULL},
};

const fk_personality *fk_personality_get(fk_protocol p)
{
    for (size_t i = 0; i < sizeof personalities / sizeof personalities[0]; i++)
        if (personalities[i].protocol == p)
            return &personalities[i];
    return &personalities[0];
}

/* The expect kinds that belong to one protocol, with what to say elsewhere. */
static const struct {
    fk_expect_kind kind;
    fk_protocol protocol;
    const char *what;
} owned[] = {
    {FK_EXPECT_DATA, FK_PROTO_SMTP, "expect: {data: ...} is SMTP DATA or BDAT content"},
    {FK_EXPECT_APOP, FK_PROTO_POP3, "expect: {apop: ...} is POP3's APOP"},
};

int fk_personality_check(const fk_scenario *s, char *err, size_t err_size)
{
    for (size_t c = 0; c < s->server.n_connections; c++) {
        const fk_script *sc = &s->server.connections[c];
        for (size_t i = 0; i < sc->n_steps; i++) {
            const fk_step *st = &sc->steps[i];
            for (size_t k = 0; k < sizeof owned / sizeof owned[0]; k++) {
                if (st->expect.kind != owned[k].kind || s->protocol == owned[k].protocol)
                    continue;
                snprintf(err, err_size, "%s:%u:%u: %s; this scenario's protocol is %s",
                         s->path ? s->path : "-", st->pos.line, st->pos.col, owned[k].what,
                         fk_personality_get(s->protocol)->name);
                return -1;
            }
        }
    }
    return 0;
}
