/*
 * ops_imap.c: the IMAP operations of `mj` (rows of mj_cli_imap_ops).
 * The IMAP client lands with its issue; until then the table is empty and
 * `mj imap://... OP` answers "unknown operation" (usage).
 */
#include "mj_cli.h"

const mj_cli_op mj_cli_imap_ops[] = {
    {0, NULL, NULL, 0, 0, NULL},
};
