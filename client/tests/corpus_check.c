/*
 * corpus_check.c: every real server response of the shared corpus through
 * mailjig's parsers, as they run against real servers (IMAP: the tolerant
 * parser and the ENVELOPE / BODYSTRUCTURE decoder with every tolerance on,
 * then, for a file that answers one command its name says (list, status,
 * select, examine, namespace, search, sort, fetch, noop, expunge, store,
 * copy, move), the session running that command against it over the memory
 * transport: a tagged OK must give MJ_OK, anything else an error; SMTP: the
 * reply parser; POP3: the status line and the LIST / UIDL / CAPA / STAT
 * listings).  A response that fails is a real server mailjig cannot read:
 * the run prints FILE: what failed, and exits 1.
 *
 *   corpus_check CORPUS_DIR        (the directory holding imap/, pop3/, smtp/)
 *
 * The corpus files end lines in LF; they are read with CRLF, as servers send.
 * Files the corpus keeps as deliberate errors (POP3 "*-error*": a wrong
 * message number, a listing that skips one, or bad numbers) are parsed (for
 * crashes under the sanitizers) without a verdict, since some are errors
 * only for the command sent.  The known-broken files in `expected_broken`
 * (test-data artifacts, with why) must fail, so that the list cannot go
 * stale.  Run by `make test` through ci/corpus-check.sh when the corpus is
 * there.
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/bodystructure.h"
#include "imap/parser.h"
#include "mailjig/imap.h"
#include "support/imap_fixture.h"
#include "pop3/pop3_parse.h"
#include "smtp/reply.h"

/* Largest corpus file read (the biggest is under 200 KB). */
#define CORPUS_FILE_MAX ((size_t)4 << 20)
/* Longest path under the corpus directory. */
#define CORPUS_PATH_MAX 1024
/* What is said of one failing file: a parser's message (mj_error's) and where. */
#define CORPUS_WHY_MAX (sizeof(((mj_error *)0)->message) + 128)

/* Files that cannot parse for reasons of the test data, not of a server. */
static const struct {
    const char *path;
    const char *why;
} expected_broken[] = {
    {"imap/gmail/headers.1+unsolicited-info.txt",
     "its literal's size does not match the file's bytes with CRLF line ends"},
};

static unsigned char raw[CORPUS_FILE_MAX], crlf[2 * CORPUS_FILE_MAX];

/* The file with every bare LF made CRLF; its length, or -1. */
static long load(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    size_t n = fread(raw, 1, sizeof raw, f);
    bool whole = feof(f) != 0;
    fclose(f);
    if (!whole)
        return -1;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r'))
            crlf[m++] = '\r';
        crlf[m++] = raw[i];
    }
    return (long)m;
}

/* A FETCH's ENVELOPE and BODY / BODYSTRUCTURE items decoded; false (and why) on failure. */
static bool decode_fetch(const mj_imap_response *r, char *why, size_t why_size)
{
    if (r->kind != MJ_IMAP_UNTAGGED || r->name == NULL || strcasecmp(r->name, "FETCH") != 0 ||
        r->data == NULL || r->data->kind != MJ_IMAP_LIST)
        return true;
    bool ok = true;
    for (const mj_imap_node *k = r->data->first; ok && k != NULL && k->next != NULL;
         k = k->next->next) {
        if (k->str == NULL)
            continue;
        imap_decoder d;
        imap_decoder_init(&d, (unsigned)IMAP_TOL_ALL);
        mj_error err;
        memset(&err, 0, sizeof err);
        if (strcasecmp(k->str, "ENVELOPE") == 0) {
            const mj_imap_envelope *env = NULL;
            ok = imap_decode_envelope(&d, k->next, r->number, &env, &err) == MJ_OK;
        } else if ((strcasecmp(k->str, "BODYSTRUCTURE") == 0 || strcasecmp(k->str, "BODY") == 0) &&
                   k->next->kind == MJ_IMAP_LIST) {
            const mj_imap_body *body = NULL;
            ok = imap_decode_body(&d, k->next, k->str, r->number, &body, &err) == MJ_OK;
        }
        if (!ok)
            snprintf(why, why_size, "%s: %s", k->str, err.message);
        imap_decoder_free(&d);
    }
    return ok;
}

static bool check_imap(long len, char *why, size_t why_size)
{
    mj_imap_limits lim;
    mj_imap_limits_init(&lim);
    mj_imap_limits_tolerant(&lim);
    mj_imap_parser *p = mj_imap_parser_new(&lim);
    if (p == NULL) {
        snprintf(why, why_size, "out of memory");
        return false;
    }
    bool ok = true;
    size_t off = 0;
    for (int n = 1; ok && off < (size_t)len; n++) {
        size_t used = 0;
        const mj_imap_response *r = NULL;
        mj_error err;
        memset(&err, 0, sizeof err);
        mj_parse_result pr = mj_imap_parse(p, crlf + off, (size_t)len - off, &used, &r, &err);
        off += used;
        if (pr == MJ_PARSE_ERROR) {
            snprintf(why, why_size, "response %d: %s", n, err.message);
            ok = false;
        } else if (pr == MJ_PARSE_NEED_MORE) {
            snprintf(why, why_size, "response %d is cut off at the end of the file", n);
            ok = false;
        } else if (!decode_fetch(r, why, why_size)) {
            ok = false;
        }
    }
    mj_imap_parser_free(p);
    return ok;
}

/* ---- IMAP: one command of the session against the file ---- */

typedef enum session_cmd {
    CMD_NONE = 0, CMD_LIST, CMD_STATUS, CMD_SELECT, CMD_EXAMINE, CMD_NAMESPACE, CMD_SEARCH,
    CMD_SORT, CMD_FETCH, CMD_NOOP, CMD_EXPUNGE, CMD_STORE, CMD_COPY, CMD_MOVE
} session_cmd;

/* The command a file answers, by its name's start; in the selected state or not. */
static session_cmd command_of(const char *name, bool *selected)
{
    static const struct {
        const char *prefix;
        session_cmd cmd;
        bool selected;
    } table[] = {
        {"list", CMD_LIST, false},          {"xlist", CMD_LIST, false},
        {"status", CMD_STATUS, false},      {"select", CMD_SELECT, false},
        {"examine", CMD_EXAMINE, false},    {"namespace", CMD_NAMESPACE, false},
        {"search", CMD_SEARCH, true},       {"optimized-search", CMD_SEARCH, true},
        {"sort", CMD_SORT, true},           {"fetch", CMD_FETCH, true},
        {"getbody", CMD_FETCH, true},       {"getstream", CMD_FETCH, true},
        {"getmessage", CMD_FETCH, true},    {"noop", CMD_NOOP, true},
        {"expunge", CMD_EXPUNGE, true},     {"store", CMD_STORE, true},
        {"set-flags", CMD_STORE, true},     {"add-flags", CMD_STORE, true},
        {"copy", CMD_COPY, true},           {"move", CMD_MOVE, true},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strncmp(name, table[i].prefix, strlen(table[i].prefix)) == 0) {
            *selected = table[i].selected;
            return table[i].cmd;
        }
    return CMD_NONE;
}

/* Everything a server may offer, so no command is refused for a missing capability. */
#define SESSION_CAPS                                                                                  \
    "IMAP4rev1 LITERAL+ ID ENABLE IDLE SORT ESORT THREAD=REFERENCES MULTIAPPEND UNSELECT CHILDREN " \
    "NAMESPACE UIDPLUS LIST-EXTENDED CONDSTORE QRESYNC ESEARCH LIST-STATUS BINARY MOVE SPECIAL-USE "    \
    "QUOTA"

static mj_outcome no_entry(void *ctx, const mj_imap_list_entry *e)
{
    (void)ctx, (void)e;
    return MJ_OK;
}

static mj_outcome no_number(void *ctx, uint32_t n)
{
    (void)ctx, (void)n;
    return MJ_OK;
}

static char script[3 * CORPUS_FILE_MAX];

/* The file's bytes (CRLF) after a PREAUTH greeting (and a SELECT reply), "A########" made the
   command's tag; the session runs cmd; true when it ends as the tagged reply says. */
static bool check_session(session_cmd cmd, bool selected, long len, char *why, size_t why_size)
{
    size_t m = (size_t)snprintf(script, sizeof script, "* PREAUTH [CAPABILITY " SESSION_CAPS "] x\r\n%s",
                                selected ? "* 100 EXISTS\r\nA0001 OK [READ-WRITE] selected\r\n" : "");
    const char *tag = selected ? "A0002" : "A0001";
    const char *tagged = NULL;
    for (size_t i = 0; i < (size_t)len; i++) {
        if (i + 9 <= (size_t)len && memcmp(crlf + i, "A########", 9) == 0) {
            tagged = script + m;
            memcpy(script + m, tag, 5);
            m += 5;
            i += 8;
        } else {
            script[m++] = (char)crlf[i];
        }
    }
    bool want_ok = tagged != NULL && strncmp(tagged + 6, "OK", 2) == 0;
    imap_fixture f;
    imap_fixture_args args = {.server = script, .server_len = m};
    imap_fixture_open(&f, &args);
    mj_outcome o = f.start;
    const char *message = f.err.message;
    if (o == MJ_OK) {
        mj_imap_mailbox_info info;
        mj_imap_namespaces ns;
        mj_imap_uidplus cu;
        if (selected)
            o = mj_imap_select(f.s, "INBOX", false, NULL);
        if (o == MJ_OK) {
            switch (cmd) {
            case CMD_LIST: o = mj_imap_list(f.s, "", "*", false, no_entry, NULL); break;
            case CMD_STATUS: o = mj_imap_mailbox_status(f.s, "INBOX", &info); break;
            case CMD_SELECT: o = mj_imap_select(f.s, "INBOX", false, &info); break;
            case CMD_EXAMINE: o = mj_imap_select(f.s, "INBOX", true, &info); break;
            case CMD_NAMESPACE: o = mj_imap_namespace(f.s, &ns); break;
            case CMD_SEARCH: o = mj_imap_search(f.s, false, "ALL", no_number, NULL); break;
            case CMD_SORT: o = mj_imap_sort(f.s, false, "DATE", NULL, NULL, no_number, NULL); break;
            case CMD_FETCH: o = mj_imap_fetch(f.s, false, "1:*", "(FLAGS)", NULL); break;
            case CMD_NOOP: o = mj_imap_noop(f.s); break;
            case CMD_EXPUNGE: o = mj_imap_selected_command(f.s, MJ_IMAP_EXPUNGE); break;
            case CMD_STORE:
                o = mj_imap_store(f.s, false, "1:*", MJ_IMAP_STORE_ADD, "\\Seen", false, NULL);
                break;
            case CMD_COPY: o = mj_imap_copy(f.s, false, false, "1", "X", &cu); break;
            case CMD_MOVE: o = mj_imap_copy(f.s, false, true, "1", "X", &cu); break;
            case CMD_NONE: break;
            }
        }
        message = mj_imap_error(f.s)->message;
    }
    bool ok = (o == MJ_OK) == want_ok;
    if (!ok)
        snprintf(why, why_size, "the session: %s%s", mj_outcome_name(o),
                 o == MJ_OK ? " where the tagged reply is not OK" : "");
    if (!ok && o != MJ_OK)
        snprintf(why + strlen(why), why_size - strlen(why), ": %s", message);
    imap_fixture_close(&f);
    return ok;
}

static bool check_smtp(long len, char *why, size_t why_size)
{
    static mj_smtp_parser p;
    size_t off = 0;
    for (int n = 1; off < (size_t)len; n++) {
        mj_smtp_parser_init(&p);
        size_t used = 0;
        mj_error err;
        memset(&err, 0, sizeof err);
        mj_parse_result r = mj_smtp_parse(&p, crlf + off, (size_t)len - off, &used, &err);
        off += used;
        if (r != MJ_PARSE_OK) {
            snprintf(why, why_size, "reply %d: %s", n, r == MJ_PARSE_ERROR ? err.message : "cut off");
            return false;
        }
    }
    return true;
}

/* POP3: which listing the file's name says its lines hold. */
static bool check_pop3(const char *name, long len, char *why, size_t why_size)
{
    bool sasl = strncmp(name, "auth", 4) == 0 || strncmp(name, "plus", 4) == 0;
    bool multi_list = strncmp(name, "list", 4) == 0 && strncmp(name, "list1", 5) != 0;
    bool multi_uidl = strncmp(name, "uidl", 4) == 0 && strncmp(name, "uidl1", 5) != 0;
    bool capa = strncmp(name, "capa", 4) == 0;
    static mj_pop3_caps caps;
    memset(&caps, 0, sizeof caps);
    bool positive = false;
    int lineno = 0;
    for (size_t off = 0; off < (size_t)len; lineno++) {
        const char *line = (const char *)crlf + off;
        const unsigned char *end = memchr(crlf + off, '\n', (size_t)len - off);
        size_t n = end != NULL ? (size_t)(end - (crlf + off)) - 1 : (size_t)len - off;
        off += end != NULL ? n + 2 : n;
        mj_error err;
        memset(&err, 0, sizeof err);
        mj_parse_result r = MJ_PARSE_OK;
        uint32_t number = 0;
        uint64_t size = 0;
        char uid[MJ_POP3_UID_MAX + 1];
        if (lineno == 0) {
            mj_pop3_status st;
            r = mj_pop3_parse_status(line, n, sasl, &st, &err);
            positive = r == MJ_PARSE_OK && n >= 3 && memcmp(line, "+OK", 3) == 0;
            const char *arg = line + 4; /* after "+OK " */
            size_t arg_len = n > 4 ? n - 4 : 0;
            if (r == MJ_PARSE_OK && positive && strncmp(name, "stat", 4) == 0)
                r = mj_pop3_parse_scan(arg, arg_len, true, &number, &size, &err);
            else if (r == MJ_PARSE_OK && positive && strncmp(name, "list1", 5) == 0)
                r = mj_pop3_parse_scan(arg, arg_len, false, &number, &size, &err);
            else if (r == MJ_PARSE_OK && positive && strncmp(name, "uidl1", 5) == 0)
                r = mj_pop3_parse_uid(arg, arg_len, &number, uid, &err);
        } else if (!positive || (n == 1 && line[0] == '.')) {
            continue;
        } else if (multi_list) {
            r = mj_pop3_parse_scan(line, n, false, &number, &size, &err);
        } else if (multi_uidl) {
            r = mj_pop3_parse_uid(line, n, &number, uid, &err);
        } else if (capa) {
            r = mj_pop3_parse_capa_line(line, n, &caps, &err);
        }
        if (r != MJ_PARSE_OK) {
            snprintf(why, why_size, "line %d: %s", lineno + 1, err.message);
            return false;
        }
    }
    return true;
}

typedef struct tally {
    unsigned files, failed, unjudged;
} tally;

static void check_file(const char *root, const char *rel, tally *t)
{
    char path[CORPUS_PATH_MAX], why[CORPUS_WHY_MAX] = "";
    long len = snprintf(path, sizeof path, "%s/%s", root, rel) < (int)sizeof path ? load(path) : -1;
    const char *name = strrchr(rel, '/') != NULL ? strrchr(rel, '/') + 1 : rel;
    bool ok;
    if (len < 0) {
        snprintf(why, sizeof why, "cannot read it whole");
        ok = false;
    } else if (strncmp(rel, "imap/", 5) == 0) {
        ok = check_imap(len, why, sizeof why);
        bool selected = false;
        session_cmd cmd = command_of(name, &selected);
        unsigned tags = 0;
        for (long i = 0; i + 9 <= len; i++)
            tags += memcmp(crlf + i, "A########", 9) == 0;
        if (ok && cmd != CMD_NONE && tags == 1)
            ok = check_session(cmd, selected, len, why, sizeof why);
    } else if (strncmp(rel, "smtp/", 5) == 0) {
        ok = check_smtp(len, why, sizeof why);
    } else {
        ok = check_pop3(name, len, why, sizeof why);
    }
    t->files++;
    if (strncmp(rel, "pop3/", 5) == 0 && strstr(name, "-error") != NULL) {
        t->unjudged++;
        return;
    }
    bool want_fail = false;
    for (size_t i = 0; i < sizeof expected_broken / sizeof expected_broken[0]; i++)
        want_fail |= strcmp(rel, expected_broken[i].path) == 0;
    if (ok == !want_fail)
        return;
    t->failed++;
    if (ok)
        printf("%s: parses, but is listed in expected_broken (corpus_check.c)\n", rel);
    else
        printf("%s: %s\n", rel, why);
}

/* Every *.txt under root/sub, recursively, in name order. */
static void walk(const char *root, const char *sub, tally *t)
{
    char dir[CORPUS_PATH_MAX];
    struct dirent **names = NULL;
    int n = snprintf(dir, sizeof dir, "%s/%s", root, sub) < (int)sizeof dir
                ? scandir(dir, &names, NULL, alphasort)
                : -1;
    for (int i = 0; i < n; i++) {
        const char *e = names[i]->d_name;
        char rel[CORPUS_PATH_MAX];
        size_t len = strlen(e);
        if (snprintf(rel, sizeof rel, "%s/%s", sub, e) >= (int)sizeof rel)
            printf("%s/%s: path too long, not checked\n", sub, e);
        else if (e[0] != '.' && names[i]->d_type == DT_DIR)
            walk(root, rel, t);
        else if (len > 4 && strcmp(e + len - 4, ".txt") == 0)
            check_file(root, rel, t);
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: corpus_check CORPUS_DIR (holding imap/, pop3/, smtp/)\n");
        return 2;
    }
    tally t = {0, 0, 0};
    static const char *const protocols[] = {"imap", "pop3", "smtp"};
    for (size_t i = 0; i < 3; i++)
        walk(argv[1], protocols[i], &t);
    printf("corpus check: %u files, %u failed (%u deliberate POP3 errors parsed, not judged)\n",
           t.files, t.failed, t.unjudged);
    return t.files == 0 || t.failed > 0 ? 1 : 0;
}
