/*
 * mj.c: main of `mj`, the mailjig client from the shell:
 *
 *     mj [options] URL OPERATION [ARGS...]
 *
 * Parse the command line (options.c), look the operation up in the table
 * (ops.c), open the protocol log, build the connection config, run the
 * operation, print the outcome (json_out.c).  The exit code is
 * mj_outcome_exit_code(outcome), the table in README.md.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "mj_cli.h"

static void print_version(FILE *fp)
{
    fprintf(fp, "mj %s (OpenSSL %u.%u.%u)\n", mj_version(), OPENSSL_version_major(),
            OPENSSL_version_minor(), OPENSSL_version_patch());
}

/* --log: "-" is stderr (borrowed), anything else a file the log owns. */
static mj_outcome open_log(const mj_cli_options *opts, mj_log **log_out, mj_error *err)
{
    *log_out = NULL;
    if (opts->log_path == NULL)
        return MJ_OK;
    if (opts->log_path[0] == '-' && opts->log_path[1] == '\0') {
        *log_out = mj_log_new(stderr);
        if (*log_out == NULL)
            return mj_error_set(err, MJ_INTERNAL, MJ_R_NO_MEMORY, "out of memory");
    } else {
        mj_outcome rc = mj_log_open(opts->log_path, log_out, err);
        if (rc != MJ_OK)
            return rc;
    }
    mj_log_set_timestamps(*log_out, opts->log_timestamps);
    return MJ_OK;
}

static mj_outcome run(const mj_cli_options *opts, json_t **result_out, mj_error *err)
{
    const mj_cli_op *op = mj_cli_find_op(opts->url.protocol, opts->op, err);
    if (op == NULL)
        return err->outcome;
    if (opts->n_args < op->min_args || opts->n_args > op->max_args) {
        if (op->max_args == 0)
            return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT, "%s takes no arguments (got %d)",
                                op->name, opts->n_args);
        return mj_error_set(err, MJ_USAGE, MJ_R_BAD_ARGUMENT,
                            "%s takes %d to %d arguments (got %d)", op->name, op->min_args,
                            op->max_args, opts->n_args);
    }
    mj_log *log = NULL;
    mj_conn_config cfg;
    mj_outcome rc = open_log(opts, &log, err);
    if (rc == MJ_OK)
        rc = mj_cli_conn_config(opts, log, &cfg, err);
    if (rc == MJ_OK)
        rc = op->fn(opts, &cfg, result_out, err);
    mj_log_free(log);
    return rc;
}

/* One command: `mj [options] URL OPERATION [ARGS...]`. */
static int mj_command(int argc, char **argv)
{
    mj_cli_options opts;
    mj_error err;
    json_t *result = NULL;

    mj_error_clear(&err);
    mj_outcome rc = mj_cli_parse(argc, argv, &opts, &err);
    if (rc == MJ_OK && (opts.help || opts.version)) {
        if (opts.help)
            mj_cli_print_help(stdout);
        else
            print_version(stdout);
        mj_cli_options_wipe(&opts);
        return 0;
    }
    if (rc == MJ_OK)
        rc = run(&opts, &result, &err);
    if (rc == MJ_OK)
        mj_error_clear(&err);
    int code = mj_cli_report(opts.json, &err, result, stdout, stderr);
    json_decref(result);
    mj_cli_options_wipe(&opts);
    return code;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--batch") == 0) {
        if (argc == 2)
            return mj_cli_batch(mj_command);
        fprintf(stderr, "mj: --batch takes no other arguments (requests come on stdin)\n");
        return mj_outcome_exit_code(MJ_USAGE);
    }
    return mj_command(argc, argv);
}
