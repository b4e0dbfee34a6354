/*
 * ops_smtp.c: the SMTP operations of `mj` (rows of mj_cli_smtp_ops).
 * The SMTP client lands with its issue; until then the table is empty and
 * `mj smtp://... OP` answers "unknown operation" (usage).
 */
#include "mj_cli.h"

const mj_cli_op mj_cli_smtp_ops[] = {
    {0, NULL, NULL, 0, 0, NULL},
};
