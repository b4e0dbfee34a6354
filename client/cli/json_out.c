/*
 * json_out.c: what `mj` prints: the help text, and the outcome of a command
 * as one JSON object (with jansson) or as human text.
 *
 * JSON shape (the harness's adapter reads it):
 *   {"outcome": "ok", "reason": "none", "message": "", "exit_code": 0,
 *    "result": {...}}                      "result" only when ok
 * Text: the result as "key: value" lines on stdout (nested objects as
 * "tls.state: verified", empty strings left out); errors as
 * "mj: <outcome>: <message>" on stderr.
 * A result set as a stream (mj_cli_stream_set: long POP3 ranges) is printed
 * entry by entry in the same bytes, so memory stays flat in its length.
 */
#include <stdlib.h>
#include <string.h>

#include "mj_cli.h"

/* One line of the operations list: name, protocols, usage. */
static void print_op(FILE *fp, const mj_cli_op *op)
{
    char protos[32] = "";
    for (unsigned p = MJ_PROTO_IMAP; p <= MJ_PROTO_SMTP; p++) {
        size_t used = strlen(protos);
        if (op->protocols & MJ_CLI_PROTO_BIT(p))
            snprintf(protos + used, sizeof protos - used, "%s%s", used ? "," : "",
                     mj_protocol_name((mj_protocol)p));
    }
    fprintf(fp, "  %-12s (%s) %s\n", op->name, protos, op->usage);
}

void mj_cli_print_help(FILE *fp)
{
    fprintf(fp, "usage: mj [options] URL OPERATION [ARGS...]\n"
                "\n"
                "URL:  imap://, imaps://, pop3://, pop3s://, smtp://, smtps://"
                " [user@]host[:port][/path]\n"
                "      host: a name, an IPv4 address or [IPv6]; no password in the URL\n"
                "\n"
                "Options may come before or after the URL and the operation, up to the\n"
                "operation's own arguments; \"--\" ends them.\n"
                "\n"
                "options:\n");
    mj_cli_print_options(fp);
    fprintf(fp, "\noperations:\n");
    for (const mj_cli_op *const *table = mj_cli_ops(); *table != NULL; table++) {
        for (const mj_cli_op *op = *table; op->name != NULL; op++)
            print_op(fp, op);
    }
    fprintf(fp, "\nexit codes:\n");
    for (unsigned o = MJ_OK; o < MJ_OUTCOME_COUNT; o++)
        fprintf(fp, "  %3d  %s\n", mj_outcome_exit_code((mj_outcome)o),
                mj_outcome_name((mj_outcome)o));
}

/* One value of the text rendering; objects recurse with a dotted prefix. */
static void print_text(FILE *out, const char *prefix, json_t *v)
{
    const char *key;
    json_t *sub;
    char path[256];

    if (json_is_object(v)) {
        json_object_foreach(v, key, sub)
        {
            snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", key);
            print_text(out, path, sub);
        }
    } else if (json_is_string(v)) {
        /* Empty fields (TLS details of a plaintext session) are noise to a person. */
        if (json_string_length(v) > 0)
            fprintf(out, "%s: %s\n", prefix, json_string_value(v));
    } else {
        char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        fprintf(out, "%s: %s\n", prefix, s != NULL ? s : "?");
        free(s);
    }
}

/* The result stream set by the operation (mj_cli_stream_set), if any. */
static mj_cli_stream g_stream;
static bool g_have_stream;

void mj_cli_stream_discard(void)
{
    if (g_have_stream && g_stream.release != NULL)
        g_stream.release(g_stream.ctx);
    g_have_stream = false;
    memset(&g_stream, 0, sizeof g_stream);
}

void mj_cli_stream_set(const mj_cli_stream *s)
{
    mj_cli_stream_discard();
    g_stream = *s;
    g_have_stream = true;
}

/* The stream's array, "[e1,e2,...]", as JSON_COMPACT prints one. */
static void print_stream_array(FILE *out)
{
    fputc('[', out);
    for (size_t i = 0; i < g_stream.count; i++) {
        if (i > 0)
            fputc(',', out);
        g_stream.write_entry(g_stream.ctx, i, out);
    }
    fputc(']', out);
}

/*
 * head is the compact dump of the object without "result"; it ends with '}'.
 * The result goes in before that brace: the operation's other result keys
 * (result, may be NULL or empty) then the stream's array, written entry by
 * entry, so the document is the same bytes jansson would print with the
 * array as the result's last key.
 */
static void print_with_stream(const char *head, json_t *result, FILE *out)
{
    size_t n = strlen(head);
    fwrite(head, 1, n - 1, out);
    char *rest = result != NULL && json_object_size(result) > 0 ? json_dumps(result, JSON_COMPACT)
                                                               : NULL;
    if (rest != NULL) { /* "{...}": everything but the closing brace, then a comma */
        fputs(",\"result\":", out);
        fwrite(rest, 1, strlen(rest) - 1, out);
        fprintf(out, ",\"%s\":", g_stream.key);
        free(rest);
    } else {
        fprintf(out, ",\"result\":{\"%s\":", g_stream.key);
    }
    print_stream_array(out);
    fputs("}}\n", out);
}

static int print_json(const mj_error *e, json_t *result, FILE *out)
{
    int code = mj_outcome_exit_code(e->outcome);
    bool ok = e->outcome == MJ_OK;
    json_t *o = json_pack("{s:s, s:s, s:s, s:i}", "outcome", mj_outcome_name(e->outcome), "reason",
                          mj_reason_name(e->reason), "message", e->message, "exit_code", code);
    if (o != NULL && ok && result != NULL && !g_have_stream)
        json_object_set(o, "result", result);
    char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (s == NULL) {
        /* Out of memory: still one valid object, by hand. */
        fprintf(out,
                "{\"outcome\": \"internal\", \"reason\": \"no-memory\", "
                "\"message\": \"out of memory\", \"exit_code\": %d}\n",
                mj_outcome_exit_code(MJ_INTERNAL));
        return mj_outcome_exit_code(MJ_INTERNAL);
    }
    if (ok && g_have_stream)
        print_with_stream(s, result, out);
    else
        fprintf(out, "%s\n", s);
    free(s);
    return code;
}

/* Text mode: the stream as print_text prints an array ("key: [...]"). */
static void print_text_stream(FILE *out)
{
    fprintf(out, "%s: ", g_stream.key);
    print_stream_array(out);
    fputc('\n', out);
}

int mj_cli_report(bool json, const mj_error *e, json_t *result, FILE *out, FILE *errfp)
{
    int code = mj_outcome_exit_code(e->outcome);
    if (e->outcome != MJ_OK)
        fprintf(errfp, "mj: %s: %s\n", mj_outcome_name(e->outcome), e->message);
    if (json)
        code = print_json(e, result, out);
    else if (e->outcome == MJ_OK && g_have_stream) {
        if (result != NULL && json_object_size(result) > 0)
            print_text(out, "", result);
        print_text_stream(out);
    }
    else if (e->outcome == MJ_OK && result != NULL)
        print_text(out, "", result);
    fflush(out);
    mj_cli_stream_discard();
    return code;
}
