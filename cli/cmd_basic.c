/* cmd_basic.c - `loaa help`, `loaa version`, `loaa config`. */
#include "config.h"

#include <cblas.h>
#include <jansson.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "kernels/gemm.h"
#include "common/config.h"
#include "common/status.h"

int cmd_help(int argc, char **argv)
{
    if (argc < 2) {
        printf("usage: loaa [-q|-v] COMMAND [ARGS]\n\ncommands:\n");
        for (const loaa_command *c = loaa_commands; c->name; c++)
            printf("  %-10s %s\n", c->name, c->help);
        printf("\n'loaa help COMMAND' shows one command in full; 'loaa help keys' the trial keys.\n");
        return 0;
    }
    if (!strcmp(argv[1], "keys")) {
        size_t n;
        const loaa_key_info *keys = loaa_config_keys(&n);
        printf("%-16s %-10s %-14s %s\n", "key", "kind", "default", "meaning");
        for (size_t i = 0; i < n; i++)
            printf("%-16s %-10s %-14s %s\n", keys[i].name, keys[i].identity ? "identity" : "execution",
                   keys[i].default_text, keys[i].meaning);
        return 0;
    }
    for (const loaa_command *c = loaa_commands; c->name; c++)
        if (!strcmp(c->name, argv[1])) {
            printf("loaa %s - %s\n\n%s", c->name, c->help, c->usage);
            return 0;
        }
    fprintf(stderr, "loaa help: no command '%s' (try 'loaa help')\n", argv[1]);
    return 2;
}

int cmd_version(int argc, char **argv)
{
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

int cmd_config(int argc, char **argv)
{
    loaa_config cfg;
    loaa_status st;
    int no_hash = 0, i = 1;
    loaa_config_defaults(&cfg);
    if ((st = loaa_cli_config_file(&cfg, argc, argv, &i)))
        return loaa_cli_report("config", st);
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--no-hash")) {
            no_hash = 1;
            continue;
        }
        if (strncmp(argv[i], "--", 2) != 0 || i + 1 >= argc)
            return loaa_cli_report("config", loaa_fail(LOAA_ERR_USAGE, "expected --KEY VALUE, got '%s'", argv[i]));
        if ((st = loaa_config_set_text(&cfg, argv[i] + 2, argv[i + 1])))
            return loaa_cli_report("config", st);
        i++;
    }
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
