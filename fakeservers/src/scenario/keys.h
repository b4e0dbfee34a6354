/*
 * keys.h: the loader's key tables seen from outside, for the documentation
 * test (`mjfake --list-keys`, fakeservers/tests/test_format_doc.py) that keeps
 * scenarios/FORMAT.md and load.c in step.
 */
#ifndef FK_KEYS_H
#define FK_KEYS_H

#include <stddef.h>

/*
 * Every key the loader accepts, as "section.key" (sections: top, server,
 * forbid, connection, step, pattern, expect, data, starttls, drip, close,
 * client, expect_top).  The array and its strings are static; *n_out gets the
 * count.
 */
const char *const *fk_loader_keys(size_t *n_out);

#endif
