/*
 * keys.c: fk_loader_keys (keys.h), the loader's key tables flattened to
 * "section.key" strings for the documentation test.
 */
#include "scenario/keys.h"

#include <stdio.h>

#include "scenario/load_internal.h"

/* Sum of the tables' sizes, with room to grow; a test checks it is enough. */
#define FK_ALL_KEYS_MAX 128
#define FK_KEY_TEXT_MAX 48

const char *const *fk_loader_keys(size_t *n_out)
{
    static const fk_section *const sections[] = {
        &fk_sec_top,    &fk_sec_server, &fk_sec_forbid,   &fk_sec_connection, &fk_sec_step,
        &fk_sec_pattern, &fk_sec_expect, &fk_sec_data,    &fk_sec_starttls,   &fk_sec_drip,
        &fk_sec_close,  &fk_sec_client, &fk_sec_expect_top};
    static char text[FK_ALL_KEYS_MAX][FK_KEY_TEXT_MAX];
    static const char *list[FK_ALL_KEYS_MAX];
    static size_t n;
    if (n == 0) {
        for (size_t s = 0; s < sizeof sections / sizeof sections[0]; s++) {
            for (size_t k = 0; k < sections[s]->n && n < FK_ALL_KEYS_MAX; k++) {
                snprintf(text[n], FK_KEY_TEXT_MAX, "%s.%s", sections[s]->name,
                         sections[s]->keys[k].name);
                list[n] = text[n];
                n++;
            }
        }
    }
    *n_out = n;
    return list;
}
