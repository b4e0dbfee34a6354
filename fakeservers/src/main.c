/*
 * main.c: mjfake's command line.
 *
 *   mjfake --check FILE...          validate scenarios, serve nothing
 *   mjfake --scenario FILE [--port N] [--host H] [--certs DIR]
 *          [--transcript PATH] [--log PATH] [--repeat] [--line-max N]
 *          [--idle-timeout-ms N]     serve one scenario (core/server.h)
 *   mjfake --help | --version
 *
 * Exit codes are core/server.h's; any option or load error is FK_EXIT_LOAD
 * with one line on stderr.  --list-keys (undocumented) prints the loader's
 * keys for the documentation test.
 */
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/server.h"
#include "scenario/keys.h"
#include "scenario/scenario.h"

#define FK_VERSION          "0.1.0"
#define FK_IDLE_TIMEOUT_MS  10000u
#define FK_IDLE_TIMEOUT_MAX 3600000ull
#define FK_LINE_MAX_ARG_MAX (16ull * 1024 * 1024)

typedef enum fk_mode { FK_MODE_NONE = 0, FK_MODE_CHECK, FK_MODE_SERVE } fk_mode;

typedef struct fk_cli {
    fk_mode mode;
    const char *scenario;
    fk_options opt;
    size_t line_max; /* 0: the scenario's own */
    bool help, version, list_keys;
    int first_file; /* --check: argv index of the first FILE */
} fk_cli;

typedef bool (*fk_opt_fn)(fk_cli *cli, const char *arg);

static bool parse_uint(const char *arg, unsigned long long min, unsigned long long max,
                       unsigned long long *out)
{
    char *end = NULL;
    if (!arg[0] || arg[0] == '-' || arg[0] == '+')
        return false;
    unsigned long long v = strtoull(arg, &end, 10);
    if (*end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static bool o_scenario(fk_cli *cli, const char *a)
{
    cli->scenario = a;
    cli->mode = FK_MODE_SERVE;
    return true;
}

static bool o_port(fk_cli *cli, const char *a)
{
    unsigned long long v = 0;
    cli->opt.port = parse_uint(a, 0, 65535, &v) ? (unsigned)v : 0;
    cli->opt.port_set = true;
    return parse_uint(a, 0, 65535, &v);
}

static bool o_host(fk_cli *cli, const char *a)
{
    cli->opt.host = a;
    return a[0] != '\0';
}

static bool o_certs(fk_cli *cli, const char *a)
{
    cli->opt.certs_dir = a;
    return a[0] != '\0';
}

static bool o_transcript(fk_cli *cli, const char *a)
{
    cli->opt.transcript_path = a;
    return a[0] != '\0';
}

static bool o_log(fk_cli *cli, const char *a)
{
    cli->opt.log_path = a;
    return a[0] != '\0';
}

static bool o_line_max(fk_cli *cli, const char *a)
{
    unsigned long long v = 0;
    if (!parse_uint(a, 1, FK_LINE_MAX_ARG_MAX, &v))
        return false;
    cli->line_max = (size_t)v;
    return true;
}

static bool o_idle(fk_cli *cli, const char *a)
{
    unsigned long long v = 0;
    if (!parse_uint(a, 1, FK_IDLE_TIMEOUT_MAX, &v))
        return false;
    cli->opt.idle_timeout_ms = (unsigned)v;
    return true;
}

static bool o_repeat(fk_cli *cli, const char *a)
{
    (void)a;
    cli->opt.repeat = true;
    return true;
}

static bool o_help(fk_cli *cli, const char *a)
{
    (void)a;
    cli->help = true;
    return true;
}

static bool o_version(fk_cli *cli, const char *a)
{
    (void)a;
    cli->version = true;
    return true;
}

static bool o_list_keys(fk_cli *cli, const char *a)
{
    (void)a;
    cli->list_keys = true;
    return true;
}

static const struct {
    const char *name;
    bool has_arg;
    fk_opt_fn fn;
    const char *expects; /* for the message when fn refuses the argument */
} options[] = {
    {"--scenario", true, o_scenario, "a file"},
    {"--port", true, o_port, "a port number from 0 to 65535"},
    {"--host", true, o_host, "an address"},
    {"--certs", true, o_certs, "a directory"},
    {"--transcript", true, o_transcript, "a path"},
    {"--log", true, o_log, "a path"},
    {"--line-max", true, o_line_max, "a byte count from 1 to 16777216"},
    {"--idle-timeout-ms", true, o_idle, "milliseconds from 1 to 3600000"},
    {"--repeat", false, o_repeat, NULL},
    {"--help", false, o_help, NULL},
    {"--version", false, o_version, NULL},
    {"--list-keys", false, o_list_keys, NULL},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: mjfake --check FILE...\n"
               "       mjfake --scenario FILE [--port N] [--host H] [--certs DIR]\n"
               "              [--transcript PATH] [--log PATH] [--repeat] [--line-max N]\n"
               "              [--idle-timeout-ms N]\n"
               "       mjfake --help | --version\n"
               "Exit: 0 every step matched, 1 mismatch, 2 load or option error, 3 internal.\n"
               "The scenario format: scenarios/FORMAT.md.\n");
}

/* One option at argv[*i]; advances *i past its argument. */
static bool parse_one(fk_cli *cli, int argc, char **argv, int *i)
{
    const char *arg = argv[*i];
    for (size_t k = 0; k < sizeof options / sizeof options[0]; k++) {
        if (strcmp(arg, options[k].name) != 0)
            continue;
        if (options[k].has_arg && *i + 1 >= argc) {
            fprintf(stderr, "mjfake: %s needs %s\n", arg, options[k].expects);
            return false;
        }
        const char *val = options[k].has_arg ? argv[++*i] : NULL;
        if (!options[k].fn(cli, val)) {
            fprintf(stderr, "mjfake: %s: expected %s, found '%s'\n", arg, options[k].expects,
                    val);
            return false;
        }
        return true;
    }
    fprintf(stderr, "mjfake: unknown option '%s' (see mjfake --help)\n", arg);
    return false;
}

static bool parse_args(fk_cli *cli, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--check") == 0) {
            cli->mode = FK_MODE_CHECK;
            cli->first_file = i + 1;
            if (i + 1 >= argc) {
                fprintf(stderr, "mjfake: --check needs one file or more\n");
                return false;
            }
            return true; /* the rest are files */
        }
        if (!parse_one(cli, argc, argv, &i))
            return false;
    }
    if (cli->mode == FK_MODE_NONE && !cli->help && !cli->version && !cli->list_keys) {
        fprintf(stderr, "mjfake: nothing to do: give --scenario FILE or --check FILE...\n");
        return false;
    }
    return true;
}

static int run_check(int argc, char **argv, int first)
{
    int rc = FK_EXIT_OK;
    for (int i = first; i < argc; i++) {
        char err[FK_LOAD_ERROR_MAX];
        fk_scenario *s = fk_scenario_load(argv[i], NULL, err, sizeof err);
        if (s) {
            printf("%s: ok\n", argv[i]);
        } else {
            printf("%s\n", err);
            rc = FK_EXIT_LOAD;
        }
        fk_scenario_free(s);
    }
    return rc;
}

static int run_serve(fk_cli *cli)
{
    char err[FK_LOAD_ERROR_MAX];
    fk_scenario *s = fk_scenario_load(cli->scenario, cli->opt.certs_dir, err, sizeof err);
    if (!s) {
        fprintf(stderr, "%s\n", err);
        return FK_EXIT_LOAD;
    }
    if (cli->line_max)
        s->server.line_max = cli->line_max; /* the command line wins: a run-time knob */
    int rc = fk_serve(s, &cli->opt);
    fk_scenario_free(s);
    return rc;
}

static int list_keys(void)
{
    size_t n = 0;
    const char *const *keys = fk_loader_keys(&n);
    for (size_t i = 0; i < n; i++)
        printf("%s\n", keys[i]);
    return FK_EXIT_OK;
}

int main(int argc, char **argv)
{
    /* The scenario alone decides mjfake's TLS: no openssl.cnf, whose system
       policy (e.g. MinProtocol = TLSv1.2) would defeat tls_max: 1.0, and
       whose parsing costs ~0.6 ms of start-up.  First, before any fetch;
       libcrypto only (30 us): libssl's own init costs 0.25 ms, which a
       plaintext scenario never needs. */
    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
    fk_cli cli = {.opt = {.host = "127.0.0.1",
                          .idle_timeout_ms = FK_IDLE_TIMEOUT_MS,
                          .ready_out = stdout,
                          .diag_out = stderr}};
    if (!parse_args(&cli, argc, argv))
        return FK_EXIT_LOAD;
    if (cli.help) {
        usage(stdout);
        return FK_EXIT_OK;
    }
    if (cli.version) {
        printf("mjfake %s\n", FK_VERSION);
        return FK_EXIT_OK;
    }
    if (cli.list_keys)
        return list_keys();
    if (cli.mode == FK_MODE_CHECK)
        return run_check(argc, argv, cli.first_file);
    return run_serve(&cli);
}
