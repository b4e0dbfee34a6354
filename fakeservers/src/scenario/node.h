/*
 * node.h: a YAML document as a tree of nodes, built from libyaml's event API
 * (node.c), each node carrying the 1-based position where it starts.  The
 * loader (load.c) validates the tree; nothing else reads it.
 *
 * Aliases share the anchored node (copy by reference, counted); what a
 * reference-sharing tree could still do to a reader -- grow without bound when
 * expanded (the "billion laughs") or nest without bound -- is refused while
 * building, so every walk of a tree that fk_yaml_parse returned is bounded by
 * FK_YAML_EXPANDED_MAX nodes and FK_YAML_DEPTH_MAX levels.
 */
#ifndef FK_NODE_H
#define FK_NODE_H

#include <stdbool.h>
#include <stddef.h>

#include "scenario/scenario.h"

/* Largest scenario file read (bytes). */
#define FK_YAML_FILE_MAX ((size_t)4 * 1024 * 1024)
/* Most nodes the document may expand to, counting every alias expansion. */
#define FK_YAML_EXPANDED_MAX 100000u
/* Deepest nesting, counting nesting through aliases. */
#define FK_YAML_DEPTH_MAX 64u

typedef enum fk_node_kind { FK_NODE_SCALAR = 0, FK_NODE_SEQ, FK_NODE_MAP } fk_node_kind;

typedef struct fk_node fk_node;
struct fk_node {
    fk_node_kind kind;
    fk_pos pos;
    unsigned refs;     /* the tree's parents (and the root) that hold it */
    unsigned height;   /* 1 for a scalar, 1 + the tallest child otherwise */
    size_t weight;     /* nodes when fully expanded, saturated above the cap */
    bool plain;        /* scalar written plain and untagged: true, 12, ~ resolve */
    char *value;       /* scalar: the decoded bytes plus a NUL (may hold NULs) */
    size_t len;        /* scalar: bytes in value */
    fk_node **items;   /* seq: the items; map: key, value, key, value, ... */
    size_t n;          /* seq: items; map: 2 * pairs */
    size_t cap;
};

/*
 * Parse buf (len bytes, the content of path) as one YAML document.  On success
 * *root_out is the root node, owned by the caller (fk_node_unref).  On failure
 * returns false with "PATH:LINE:COL: message" in err (err_size bytes).  An
 * empty document, several documents, non-scalar or duplicate mapping keys,
 * unknown or unfinished anchors, and the caps above are errors.
 */
bool fk_yaml_parse(const char *path, const char *buf, size_t len, fk_node **root_out,
                   char *err, size_t err_size);

/* Drop one reference to n (NULL is fine); frees it when it was the last. */
void fk_node_unref(fk_node *n);

/* The value of key in mapping map, or NULL. */
const fk_node *fk_node_get(const fk_node *map, const char *key);

/* Scalar type resolution of YAML 1.2's core schema, for plain scalars. */
bool fk_node_is_null(const fk_node *n);
bool fk_node_is_bool(const fk_node *n, bool *value_out);
bool fk_node_is_uint(const fk_node *n, unsigned long long *value_out);

/* "a mapping", "a list", "null", "a boolean", "a number", "a string". */
const char *fk_node_describe(const fk_node *n);

#endif
