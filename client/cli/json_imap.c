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
 * Strings are as the server sent them (no RFC 2047 decoding); bytes that
 * are not UTF-8 make jansson refuse the string and the value is null.
 */
#include "mj_cli.h"

/* A string or null (NIL, or not UTF-8). */
static json_t *str_or_null(const char *s)
{
    json_t *j = s != NULL ? json_string(s) : NULL;
    return j != NULL ? j : json_null();
}

static json_t *address(const mj_imap_address *a)
{
    json_t *j = json_object();
    if (j == NULL)
        return NULL;
    json_object_set_new(j, "name", str_or_null(a->name));
    if (a->adl != NULL)
        json_object_set_new(j, "adl", str_or_null(a->adl));
    json_object_set_new(j, "mailbox", str_or_null(a->mailbox));
    json_object_set_new(j, "host", str_or_null(a->host));
    if (a->kind != MJ_IMAP_ADDR_MAILBOX)
        json_object_set_new(j, "group", json_string(a->kind == MJ_IMAP_ADDR_GROUP_START ? "start" : "end"));
    return j;
}

static json_t *addresses(const mj_imap_addresses *list)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < list->count; i++)
        if (json_array_append_new(a, address(&list->items[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

json_t *mj_cli_json_envelope(const mj_imap_envelope *env)
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
    json_t *j = json_object();
    if (j == NULL)
        return NULL;
    const unsigned char *base = (const unsigned char *)env;
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        json_object_set_new(j, strs[i].key, str_or_null(*(const char *const *)(base + strs[i].offset)));
    for (size_t i = 0; i < sizeof addrs / sizeof addrs[0]; i++) {
        json_t *a = addresses((const mj_imap_addresses *)(base + addrs[i].offset));
        if (a == NULL || json_object_set_new(j, addrs[i].key, a) != 0) {
            json_decref(j);
            return NULL;
        }
    }
    return j;
}

/* {name: value}: the last of two same names wins (servers do not send them). */
static json_t *params(const mj_imap_param *p, size_t n)
{
    json_t *j = json_object();
    for (size_t i = 0; j != NULL && i < n; i++)
        if (p[i].name != NULL)
            json_object_set_new(j, p[i].name, str_or_null(p[i].value));
    return j;
}

static json_t *disposition(const mj_imap_body *b)
{
    if (b->disposition == NULL)
        return json_null();
    json_t *j = json_object();
    if (j != NULL) {
        json_object_set_new(j, "type", str_or_null(b->disposition));
        json_object_set_new(j, "params", params(b->disposition_params, b->n_disposition_params));
    }
    return j;
}

static json_t *languages(const mj_imap_body *b)
{
    if (b->languages == NULL)
        return json_null();
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < b->n_languages; i++)
        json_array_append_new(a, str_or_null(b->languages[i]));
    return a;
}

/* The fields of a leaf: body-fields, lines, the message's envelope and body. */
static int leaf(json_t *j, const mj_imap_body *b)
{
    json_object_set_new(j, "id", str_or_null(b->id));
    json_object_set_new(j, "description", str_or_null(b->description));
    json_object_set_new(j, "encoding", str_or_null(b->encoding));
    json_object_set_new(j, "size", b->has_size ? json_integer((json_int_t)b->size) : json_null());
    if (b->has_lines)
        json_object_set_new(j, "lines", json_integer((json_int_t)b->lines));
    if (b->envelope != NULL) {
        json_t *e = mj_cli_json_envelope(b->envelope);
        if (e == NULL || json_object_set_new(j, "envelope", e) != 0)
            return -1;
    }
    if (b->message != NULL) {
        json_t *inner = mj_cli_json_body(b->message);
        if (inner == NULL || json_object_set_new(j, "body", inner) != 0)
            return -1;
    }
    return 0;
}

json_t *mj_cli_json_body(const mj_imap_body *b)
{
    json_t *j = json_object();
    if (j == NULL)
        return NULL;
    json_object_set_new(j, "part", str_or_null(b->part));
    json_object_set_new(j, "type", str_or_null(b->type));
    json_object_set_new(j, "subtype", str_or_null(b->subtype));
    json_object_set_new(j, "params", params(b->params, b->n_params));
    int rc = 0;
    if (b->kind == MJ_IMAP_BODY_MULTIPART) {
        json_t *parts = json_array();
        rc = parts != NULL ? json_object_set_new(j, "parts", parts) : -1;
        for (size_t i = 0; rc == 0 && i < b->n_parts; i++) {
            json_t *p = mj_cli_json_body(&b->parts[i]);
            rc = p != NULL ? json_array_append_new(parts, p) : -1;
        }
    } else {
        rc = leaf(j, b);
    }
    if (b->has_md5)
        json_object_set_new(j, "md5", str_or_null(b->md5));
    if (b->has_disposition)
        json_object_set_new(j, "disposition", disposition(b));
    if (b->has_language)
        json_object_set_new(j, "language", languages(b));
    if (b->has_location)
        json_object_set_new(j, "location", str_or_null(b->location));
    if (rc != 0) {
        json_decref(j);
        return NULL;
    }
    return j;
}
