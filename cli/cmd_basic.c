/* cmd_basic.c - `loaa help`, `loaa version`, `loaa config`. */
#include "config.h"

#include <cblas.h>
#include <jansson.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "kernels/gemm.h"
#include "common/config.h"
#include "common/status.h"

static const char help_usage[] =
    "usage: loaa help [COMMAND [SUBCOMMAND] | keys]\n"
    "Lists the commands, shows one in full (the same text as 'loaa COMMAND --help'), or lists\n"
    "the trial-configuration keys.\n";

static void print_keys(void)
{
    size_t n;
    const loaa_key_info *keys = loaa_config_keys(&n);
    printf("%-16s %-10s %-14s %s\n", "key", "kind", "default", "meaning");
    for (size_t i = 0; i < n; i++)
        printf("%-16s %-10s %-14s %s\n", keys[i].name, keys[i].identity ? "identity" : "execution", keys[i].default_text,
               keys[i].meaning);
}

int cmd_help(int argc, char **argv)
{
    const loaa_option opts[] = {OPT_END()};
    const loaa_cli_spec spec = {.command = "help", .usage = help_usage, .options = opts, .max_args = 2};
    int rc, nargs = loaa_cli_parse(&spec, argc, argv, &rc);
    if (nargs < 0)
        return rc;
    if (nargs == 0) {
        loaa_cli_print_usage(stdout);
        return 0;
    }
    if (nargs == 1 && !strcmp(argv[1], "keys")) {
        print_keys();
        return 0;
    }
    for (const loaa_command *c = loaa_commands; c->name; c++)
        if (!strcmp(c->name, argv[1])) {
            /* The command prints its own help from its option table: `loaa help bench step` = `loaa bench step --help`. */
            char *help_argv[4] = {argv[1], argv[2], NULL, NULL};
            help_argv[nargs] = "--help";
            return c->fn(nargs + 1, help_argv);
        }
    fprintf(stderr, "loaa help: no command '%s' (try 'loaa help')\n", argv[1]);
    return 2;
}

static const char version_usage[] = "usage: loaa version   (also: loaa --version)\n";

int cmd_version(int argc, char **argv)
{
    const loaa_option opts[] = {OPT_END()};
    const loaa_cli_spec spec = {.command = "version", .usage = version_usage, .options = opts};
    int rc;
    if (argc > 1 && loaa_cli_parse(&spec, argc, argv, &rc) < 0)
        return rc;
    char mpi_version[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(mpi_version, &len);
    char *nl = strchr(mpi_version, ',');
    if (nl)
        *nl = '\0';
    printf("loaa %s\n", PACKAGE_VERSION);
    printf("blas: %s\n", openblas_get_config());
    printf("mpi: %s\n", mpi_version);
    printf("jansson: %s\n", JANSSON_VERSION);
    char gemm_info[160];
    loaa_gemm_engine_info(gemm_info, sizeof gemm_info);
    printf("gemm: %s\n", gemm_info);
    return 0;
}

static const char config_usage[] =
    "usage: loaa config [CONFIG.json] [--KEY VALUE ...] [--no-hash]\n"
    "Reads a trial config (JSON file and/or --key value flags, flags last wins),\n"
    "validates it, and prints the canonical JSON of its identity keys and the\n"
    "identity hash (SHA-256, with dataset and backbone replaced by their file\n"
    "hashes; --no-hash skips reading those files).\n";

int cmd_config(int argc, char **argv)
{
    loaa_config cfg;
    loaa_status st;
    int no_hash = 0, rc;
    loaa_config_defaults(&cfg);
    const loaa_option opts[] = {
        OPT_FLAG("no-hash", &no_hash, "print no identity (reads neither the dataset nor the backbone file)"),
        OPT_CONFIG_KEYS(&cfg, "any trial key (loaa help keys); later flags win"),
        OPT_END(),
    };
    const loaa_cli_spec spec = {.command = "config", .usage = config_usage, .options = opts};
    if ((st = loaa_cli_config_file(&cfg, &argc, argv)))
        return loaa_cli_report("config", st);
    if (loaa_cli_parse(&spec, argc, argv, &rc) < 0)
        return rc;
    if ((st = loaa_config_validate(&cfg)))
        return loaa_cli_report("config", st);
    char *canon = loaa_config_canonical(&cfg);
    if (!canon)
        return loaa_cli_report("config", loaa_fail(LOAA_ERR_NOMEM, "canonical form"));
    printf("%s\n", canon);
    free(canon);
    if (!no_hash) {
        char hex[65];
        if ((st = loaa_config_identity_files(&cfg, hex)))
            return loaa_cli_report("config", st);
        printf("identity %s\n", hex);
    }
    return 0;
}
