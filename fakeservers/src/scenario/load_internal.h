/*
 * load_internal.h: what the loader's files (load.c, load_top.c, load_step.c,
 * keys.c) share: the load context, the key-table machinery and the value
 * helpers.  Not for the server: it reads only scenario.h's model.
 */
#ifndef FK_LOAD_INTERNAL_H
#define FK_LOAD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/match.h"
#include "scenario/node.h"
#include "scenario/scenario.h"

/* Longest key table (the step's). */
#define FK_SECTION_KEYS_MAX 24
/* Longest quoted excerpt of a file's text in a message. */
#define FK_QUOTE_MAX 80
/* "*" and "{name}" in one text pattern: bounds the matcher's recursion depth. */
#define FK_PATTERN_WILDCARDS_MAX 32

typedef struct fk_ld {
    const char *path;
    const char *certs_dir;
    char *err;
    size_t err_size;
    fk_scenario *s;
    bool uses_tls;            /* implicit TLS or a starttls step: a certificate is needed */
    /* Names captured by the expects read so far in the current script
       (core/match.h's caps: a connection keeps FK_CAPTURES_MAX names). */
    char names[FK_CAPTURES_MAX][FK_CAPTURE_NAME_MAX];
    size_t n_names;
} fk_ld;

typedef enum fk_vtype { FK_T_STR = 0, FK_T_INT, FK_T_BOOL, FK_T_SEQ, FK_T_MAP, FK_T_ANY } fk_vtype;

typedef struct fk_key fk_key;
/* A key's handler: store value v into target (the section's struct). */
typedef bool (*fk_key_fn)(fk_ld *c, const fk_key *k, const fk_node *v, void *target);

struct fk_key {
    const char *name;
    fk_vtype type;    /* checked before the handler runs */
    bool required;
    fk_key_fn fn;     /* NULL: the section's code reads it from seen[] afterwards */
};

typedef struct fk_section {
    const char *name;  /* for fk_loader_keys and FORMAT.md: "server" */
    const char *where; /* for messages: "server" , "a step" */
    const fk_key *keys;
    size_t n;
} fk_section;

typedef struct fk_enum {
    const char *word;
    int value;
} fk_enum; /* tables end with {NULL, 0} */

typedef struct fk_quote_buf {
    char text[FK_QUOTE_MAX + 16];
} fk_quote_buf;

/* The sections, in FORMAT.md's order (keys.c lists them). */
extern const fk_section fk_sec_top, fk_sec_server, fk_sec_forbid, fk_sec_connection,
    fk_sec_step, fk_sec_pattern, fk_sec_expect, fk_sec_data, fk_sec_starttls, fk_sec_drip,
    fk_sec_close, fk_sec_client, fk_sec_expect_top;

/* Write "PATH:LINE:COL: message" (at's position) into c->err; returns false. */
bool fk_fail(fk_ld *c, const fk_node *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* s (len bytes) printable and cut to FK_QUOTE_MAX, for messages; points into q. */
const char *fk_quote(fk_quote_buf *q, const char *s, size_t len);

/*
 * Check map against sec (unknown keys, types, required keys), fill
 * seen[table index] with each key's value node (NULL when absent; seen has
 * sec->n entries), then run the handlers in file order.
 */
bool fk_apply_table(fk_ld *c, const fk_section *sec, const fk_node *map, void *target,
                    const fk_node **seen);

bool fk_get_uint(fk_ld *c, const fk_node *v, const char *what, unsigned long long min,
                 unsigned long long max, unsigned long long *out);
bool fk_get_enum(fk_ld *c, const fk_node *v, const char *what, const fk_enum *e, int *out);
/* Owned copies; an earlier *out is freed. */
bool fk_get_str(fk_ld *c, const fk_node *v, const char *what, char **out);
bool fk_get_bytes(fk_ld *c, const fk_node *v, const char *what, fk_bytes *out);
/* A readable regular file, resolved against the scenario's directory. */
bool fk_get_path(fk_ld *c, const fk_node *v, const char *what, char **out);

/* The mapping forms of expect: seen[] indexes of fk_sec_expect (load_step.c). */
enum {
    FK_EXP_RE, FK_EXP_TEXT, FK_EXP_ICASE, FK_EXP_SASL, FK_EXP_APOP, FK_EXP_DATA, FK_EXP_USER,
    FK_EXP_PASSWORD, FK_EXP_TOKEN, FK_EXP_FAIL, FK_EXP_OVERSIZED_LEN, FK_EXP_SCRAM_ERROR,
    FK_EXP_SCRAM_ITERATIONS, FK_EXP_SCRAM_SALT, FK_EXP_COUNT
};

/* The protocol expects (load_proto.c), from the mapping's seen[] keys. */
bool fk_load_sasl(fk_ld *c, const fk_node *map, const fk_node **seen, fk_expect *e);
bool fk_load_apop(fk_ld *c, const fk_node *map, const fk_node **seen, fk_expect *e);
bool fk_load_data(fk_ld *c, const fk_node *v, fk_expect *e);
/*
 * Across the steps of one script (load_proto.c): how each expect: data reads
 * (a DATA body after a 354, else BDAT), a DATA answered 354 followed by the
 * data step, APOP after a greeting with a timestamp.
 */
bool fk_check_protocol_steps(fk_ld *c, const fk_node *list, fk_script *sc);

/* The whole document (load_top.c). */
bool fk_load_top(fk_ld *c, const fk_node *root);
/* One script: a list of steps (load_step.c). */
bool fk_load_script(fk_ld *c, const fk_node *list, fk_script *out);
/* One pattern: a string or {re|text, icase} (load_step.c); captures recorded in c when record. */
bool fk_load_pattern(fk_ld *c, const fk_node *v, const char *what, bool record, fk_pattern *out);

#endif
