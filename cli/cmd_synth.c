/*
 * cmd_synth.c - `loaa synth`: writes a deterministic synthetic audio or
 * image dataset (worker/synth.h) in the loaa dataset layout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "common/status.h"
#include "worker/synth.h"

int cmd_synth(int argc, char **argv)
{
    loaa_synth_opts o;
    loaa_synth_opts_default(&o);
    const char *outdir = NULL;
    long v;
    double d;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--kind")) {
            if (!val || (strcmp(val, "audio") && strcmp(val, "images") && strcmp(val, "image")))
                return loaa_cli_report("synth", loaa_fail(LOAA_ERR_USAGE, "--kind must be audio or images"));
            o.images = strcmp(val, "audio") != 0;
            i++;
        } else if (!strcmp(a, "--seed")) {
            if (!loaa_cli_long(a, val, 0, 9007199254740991L, &v))
                return loaa_cli_report("synth", LOAA_ERR_USAGE);
            o.seed = (uint64_t)v;
            i++;
        } else if (!strcmp(a, "--clips")) {
            if (!loaa_cli_long(a, val, 1, 10000000, &v))
                return loaa_cli_report("synth", LOAA_ERR_USAGE);
            o.clips = (int)v;
            i++;
        } else if (!strcmp(a, "--folds")) {
            if (!loaa_cli_long(a, val, 3, 100, &v))
                return loaa_cli_report("synth", LOAA_ERR_USAGE);
            o.folds = (int)v;
            i++;
        } else if (!strcmp(a, "--splits")) {
            o.folds = 0;
            if (val && val[0] >= '0' && val[0] <= '9') {
                double f[3];
                if (sscanf(val, "%lf,%lf,%lf", &f[0], &f[1], &f[2]) != 3 || f[0] <= 0 || f[1] < 0 || f[2] < 0)
                    return loaa_cli_report("synth", loaa_fail(LOAA_ERR_USAGE, "--splits takes TRAIN,VAL,TEST fractions, e.g. 0.8,0.1,0.1"));
                memcpy(o.split_frac, f, sizeof f);
                i++;
            }
        } else if (!strcmp(a, "--seconds")) {
            if (!loaa_cli_double(a, val, 0.1, 60, &d))
                return loaa_cli_report("synth", LOAA_ERR_USAGE);
            o.seconds = d;
            i++;
        } else if (!strcmp(a, "--mel")) {
            if (!loaa_cli_long(a, val, 8, 512, &v))
                return loaa_cli_report("synth", LOAA_ERR_USAGE);
            o.mel = (int)v;
            i++;
        } else if (!strcmp(a, "--target-length")) {
            if (!loaa_cli_long(a, val, 1, 100000, &v))
                return loaa_cli_report("synth", LOAA_ERR_USAGE);
            o.target_length = (int)v;
            i++;
        } else if (!strcmp(a, "--size")) {
            if (!loaa_cli_long(a, val, 16, 512, &v))
                return loaa_cli_report("synth", LOAA_ERR_USAGE);
            o.size = (int)v;
            i++;
        } else if (!strcmp(a, "--samples-per-shard")) {
            if (!loaa_cli_long(a, val, 1, 100000000, &v))
                return loaa_cli_report("synth", LOAA_ERR_USAGE);
            o.shard.samples_per_shard = (int)v;
            i++;
        } else if (!strcmp(a, "--compress")) {
            if (!val || (strcmp(val, "none") && strcmp(val, "gz") && strcmp(val, "zst")))
                return loaa_cli_report("synth", loaa_fail(LOAA_ERR_USAGE, "--compress must be none, gz or zst"));
            o.shard.compress = !strcmp(val, "gz") ? LOAA_COMPRESS_GZ : !strcmp(val, "zst") ? LOAA_COMPRESS_ZST : LOAA_COMPRESS_NONE;
            i++;
        } else if (a[0] == '-' && a[1]) {
            return loaa_cli_report("synth", loaa_fail(LOAA_ERR_USAGE, "unknown option '%s' (see loaa help synth)", a));
        } else if (!outdir) {
            outdir = a;
        } else {
            return loaa_cli_report("synth", loaa_fail(LOAA_ERR_USAGE, "one OUTDIR only, got '%s' too", a));
        }
    }
    if (!outdir)
        return loaa_cli_report("synth", loaa_fail(LOAA_ERR_USAGE, "OUTDIR missing (see loaa help synth)"));
    loaa_status st = loaa_synth(outdir, &o);
    if (st)
        return loaa_cli_report("synth", st);
    printf("wrote %d synthetic %s clips (%d classes) to %s\n", o.clips, o.images ? "image" : "audio",
           loaa_synth_num_classes(o.images), outdir);
    return 0;
}
