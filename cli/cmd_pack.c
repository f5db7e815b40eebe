/*
 * cmd_pack.c - `loaa pack RECIPE SOURCE OUTDIR`: a dataset on disk into a
 * loaa dataset folder (worker/pack.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "common/status.h"
#include "worker/pack.h"

int cmd_pack(int argc, char **argv)
{
    loaa_pack_opts o;
    loaa_pack_opts_default(&o);
    const char *pos[3] = {NULL, NULL, NULL};
    int npos = 0;
    long v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--samples-per-shard")) {
            if (!loaa_cli_long(a, val, 1, 100000000, &v))
                return loaa_cli_report("pack", LOAA_ERR_USAGE);
            o.shard.samples_per_shard = (int)v;
            i++;
        } else if (!strcmp(a, "--bytes-per-shard")) {
            if (!loaa_cli_long(a, val, 4096, 1L << 40, &v))
                return loaa_cli_report("pack", LOAA_ERR_USAGE);
            o.shard.bytes_per_shard = (size_t)v;
            i++;
        } else if (!strcmp(a, "--compress")) {
            if (!val || (strcmp(val, "none") && strcmp(val, "gz") && strcmp(val, "zst")))
                return loaa_cli_report("pack", loaa_fail(LOAA_ERR_USAGE, "--compress must be none, gz or zst"));
            o.shard.compress = !strcmp(val, "gz") ? LOAA_COMPRESS_GZ : !strcmp(val, "zst") ? LOAA_COMPRESS_ZST : LOAA_COMPRESS_NONE;
            i++;
        } else if (!strcmp(a, "--resample")) {
            if (!loaa_cli_long(a, val, 1000, 768000, &v))
                return loaa_cli_report("pack", LOAA_ERR_USAGE);
            o.resample = (int)v;
            i++;
        } else if (!strcmp(a, "--keep-rate")) {
            o.keep_rate = 1;
        } else if (!strcmp(a, "--features")) {
            if (!val || strcmp(val, "fbank"))
                return loaa_cli_report("pack", loaa_fail(LOAA_ERR_USAGE, "--features takes 'fbank'"));
            o.features_fbank = 1;
            i++;
        } else if (!strcmp(a, "--stats")) {
            o.stats = 1;
        } else if (!strcmp(a, "--target-length")) {
            if (!loaa_cli_long(a, val, 1, 1000000, &v))
                return loaa_cli_report("pack", LOAA_ERR_USAGE);
            o.target_length = (int)v;
            i++;
        } else if (!strcmp(a, "--mel")) {
            if (!loaa_cli_long(a, val, 4, 1024, &v))
                return loaa_cli_report("pack", LOAA_ERR_USAGE);
            o.mel = (int)v;
            i++;
        } else if (!strcmp(a, "--audio-dir")) {
            if (!val)
                return loaa_cli_report("pack", loaa_fail(LOAA_ERR_USAGE, "--audio-dir needs a folder"));
            o.audio_dir = val;
            i++;
        } else if (!strcmp(a, "--name")) {
            if (!val)
                return loaa_cli_report("pack", loaa_fail(LOAA_ERR_USAGE, "--name needs a name"));
            o.name = val;
            i++;
        } else if (a[0] == '-' && a[1]) {
            return loaa_cli_report("pack", loaa_fail(LOAA_ERR_USAGE, "unknown option '%s' (see loaa help pack)", a));
        } else if (npos < 3) {
            pos[npos++] = a;
        } else {
            return loaa_cli_report("pack", loaa_fail(LOAA_ERR_USAGE, "too many arguments ('%s')", a));
        }
    }
    if (npos != 3)
        return loaa_cli_report("pack", loaa_fail(LOAA_ERR_USAGE, "usage: loaa pack RECIPE SOURCE OUTDIR [options] (see loaa help pack)"));
    loaa_status st = loaa_pack(pos[0], pos[1], pos[2], &o);
    if (st)
        return loaa_cli_report("pack", st);
    printf("packed %s from %s into %s\n", pos[0], pos[1], pos[2]);
    return 0;
}
