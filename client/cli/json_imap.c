/*
 * json_imap.c: the IMAP structures of mailjig/imap.h as JSON for `mj fetch
 * --json` (RFC 9051 §7.5.2: ENVELOPE, BODYSTRUCTURE).
 *
 * envelope:      {date, subject, from, sender, reply_to, to, cc, bcc,
 *                 in_reply_to, message_id}; NIL is null, a NIL address
 *                 list is [].
 * address:       {name, mailbox, host} (+ "adl" when sent, + "group":
 *                 "start" / "end" for RFC 5322 group markers).
 * bodystructure: {part, type, subtype, params: {name: value}, ...}; leaves
 *                 add id, description, encoding, size (and lines for TEXT
 *                 and MESSAGE, envelope + body for MESSAGE); multiparts add
 *                 parts: [...]; extension data when the server sent it:
 *                 md5, disposition ({type, params} or null), language
 *                 ([...] or null), location.
 * Strings are as the server sent them (no RFC 2047 decoding); a string that
 * is not UTF-8 is null, a parameter whose name is not UTF-8 is left out, and
 * of two parameters with the same name the last is kept.  Written with the
 * streaming writer (json_write.c): 100,000 of them cost no tree in memory.
 */
#include <stddef.h>
#include <string.h>

#include "mj_cli.h"

static void address(mj_jw *w, const mj_imap_address *a)
{
    mj_jw_open(w, '{');
    mj_jw_key(w, "name");
    mj_jw_str(w, a->name);
    if (a->adl != NULL) {
        mj_jw_key(w, "adl");
        mj_jw_str(w, a->adl);
    }
    mj_jw_key(w, "mailbox");
    mj_jw_str(w, a->mailbox);
    mj_jw_key(w, "host");
    mj_jw_str(w, a->host);
    if (a->kind != MJ_IMAP_ADDR_MAILBOX) {
        mj_jw_key(w, "group");
        mj_jw_str(w, a->kind == MJ_IMAP_ADDR_GROUP_START ? "start" : "end");
    }
    mj_jw_close(w, '}');
}

void mj_cli_jw_envelope(mj_jw *w, const mj_imap_envelope *env)
{
    static const struct {
        const char *key;
        size_t offset;
    } strs[] = {{"date", offsetof(mj_imap_envelope, date)},
                {"subject", offsetof(mj_imap_envelope, subject)},
                {"in_reply_to", offsetof(mj_imap_envelope, in_reply_to)},
                {"message_id", offsetof(mj_imap_envelope, message_id)}},
      addrs[] = {{"from", offsetof(mj_imap_envelope, from)},       {"sender", offsetof(mj_imap_envelope, sender)},
                 {"reply_to", offsetof(mj_imap_envelope, reply_to)}, {"to", offsetof(mj_imap_envelope, to)},
                 {"cc", offsetof(mj_imap_envelope, cc)},           {"bcc", offsetof(mj_imap_envelope, bcc)}};
    const unsigned char *base = (const unsigned char *)env;
    mj_jw_open(w, '{');
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        mj_jw_key(w, strs[i].key);
        mj_jw_str(w, *(const char *const *)(base + strs[i].offset));
    }
    for (size_t i = 0; i < sizeof addrs / sizeof addrs[0]; i++) {
        const mj_imap_addresses *list = (const mj_imap_addresses *)(base + addrs[i].offset);
        mj_jw_key(w, addrs[i].key);
        mj_jw_open(w, '[');
        for (size_t k = 0; k < list->count; k++)
            address(w, &list->items[k]);
        mj_jw_close(w, ']');
    }
    mj_jw_close(w, '}');
}

/* {name: value}: of two same names the last is kept (servers do not send them). */
static void params(mj_jw *w, const mj_imap_param *p, size_t n)
{
    mj_jw_open(w, '{');
    for (size_t i = 0; i < n; i++) {
        if (p[i].name == NULL)
            continue;
        bool later = false;
        for (size_t k = i + 1; k < n && !later; k++)
            later = p[k].name != NULL && strcmp(p[k].name, p[i].name) == 0;
        if (!later && mj_jw_key(w, p[i].name))
            mj_jw_str(w, p[i].value);
    }
    mj_jw_close(w, '}');
}

static void disposition(mj_jw *w, const mj_imap_body *b)
{
    if (b->disposition == NULL) {
        mj_jw_null(w);
        return;
    }
    mj_jw_open(w, '{');
    mj_jw_key(w, "type");
    mj_jw_str(w, b->disposition);
    mj_jw_key(w, "params");
    params(w, b->disposition_params, b->n_disposition_params);
    mj_jw_close(w, '}');
}

static void languages(mj_jw *w, const mj_imap_body *b)
{
    if (b->languages == NULL) {
        mj_jw_null(w);
        return;
    }
    mj_jw_open(w, '[');
    for (size_t i = 0; i < b->n_languages; i++)
        mj_jw_str(w, b->languages[i]);
    mj_jw_close(w, ']');
}

/* The fields of a leaf: body-fields, lines, the message's envelope and body. */
static void leaf(mj_jw *w, const mj_imap_body *b)
{
    mj_jw_key(w, "id");
    mj_jw_str(w, b->id);
    mj_jw_key(w, "description");
    mj_jw_str(w, b->description);
    mj_jw_key(w, "encoding");
    mj_jw_str(w, b->encoding);
    mj_jw_key(w, "size");
    if (b->has_size)
        mj_jw_uint(w, b->size);
    else
        mj_jw_null(w);
    if (b->has_lines) {
        mj_jw_key(w, "lines");
        mj_jw_uint(w, b->lines);
    }
    if (b->envelope != NULL) {
        mj_jw_key(w, "envelope");
        mj_cli_jw_envelope(w, b->envelope);
    }
    if (b->message != NULL) {
        mj_jw_key(w, "body");
        mj_cli_jw_body(w, b->message);
    }
}

void mj_cli_jw_body(mj_jw *w, const mj_imap_body *b)
{
    mj_jw_open(w, '{');
    mj_jw_key(w, "part");
    mj_jw_str(w, b->part);
    mj_jw_key(w, "type");
    mj_jw_str(w, b->type);
    mj_jw_key(w, "subtype");
    mj_jw_str(w, b->subtype);
    mj_jw_key(w, "params");
    params(w, b->params, b->n_params);
    if (b->kind == MJ_IMAP_BODY_MULTIPART) {
        mj_jw_key(w, "parts");
        mj_jw_open(w, '[');
        for (size_t i = 0; i < b->n_parts; i++)
            mj_cli_jw_body(w, &b->parts[i]);
        mj_jw_close(w, ']');
    } else {
        leaf(w, b);
    }
    if (b->has_md5) {
        mj_jw_key(w, "md5");
        mj_jw_str(w, b->md5);
    }
    if (b->has_disposition) {
        mj_jw_key(w, "disposition");
        disposition(w, b);
    }
    if (b->has_language) {
        mj_jw_key(w, "language");
        languages(w, b);
    }
    if (b->has_location) {
        mj_jw_key(w, "location");
        mj_jw_str(w, b->location);
    }
    mj_jw_close(w, '}');
}
