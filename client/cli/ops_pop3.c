/*
 * ops_pop3.c: the POP3 operations of `mj` (rows of mj_cli_pop3_ops).
 * The POP3 client lands with its issue; until then the table is empty and
 * `mj pop3://... OP` answers "unknown operation" (usage).
 */
#include "mj_cli.h"

const mj_cli_op mj_cli_pop3_ops[] = {
    {0, NULL, NULL, 0, 0, NULL},
};
