/*
 * cmd_train.c - `loaa train [CONFIG.json] [--KEY VALUE ...] [--out DIR]`:
 * one trial in this process through the sweep's trial runner, for
 * debugging and for users without MPI. Prints a line per epoch and the
 * final metrics (--json: the RESULT payload of common/protocol.h).
 */
#include "config.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/config.h"
#include "common/status.h"
#include "worker/trial.h"

static const char train_usage[] =
    "usage: loaa train [CONFIG.json] [--KEY VALUE ...] [--out DIR] [--json]\n"
    "Runs one trial through the sweep's trial runner and prints a line per epoch and the\n"
    "final metrics (--json: the result as JSON). --out DIR keeps checkpoints and the\n"
    "adapter file there (and resumes from DIR/last.ckpt).\n";

int cmd_train(int argc, char **argv)
{
    loaa_config cfg;
    loaa_status st;
    const char *out_dir = NULL;
    int as_json = 0, rc;
    loaa_config_defaults(&cfg);
    const loaa_option options[] = {
        OPT_PATH("out", &out_dir, "DIR", "keep checkpoints and the adapter file in DIR (resumes from DIR/last.ckpt)"),
        OPT_FLAG("json", &as_json, "print the result as JSON instead of lines"),
        OPT_CONFIG_KEYS(&cfg, "any trial key (loaa help keys); later flags win"),
        OPT_END(),
    };
    const loaa_cli_spec spec = {.command = "train", .usage = train_usage, .options = options};
    if ((st = loaa_cli_config_file(&cfg, &argc, argv)))
        return loaa_cli_report("train", st);
    if (loaa_cli_parse(&spec, argc, argv, &rc) < 0)
        return rc;
    if ((st = loaa_config_validate(&cfg)))
        return loaa_cli_report("train", st);
    if (cfg.backbone_kind == LOAA_BACKBONE_SWEEP)
        return loaa_cli_report("train", loaa_fail(LOAA_ERR_CONFIG, "key 'backbone': {sweep, best} is resolved by `loaa sweep`; "
                                                                   "give the file (see `loaa export --best`)"));
    loaa_trial_opts opts = {.dir = out_dir, .resume = 1, .group = MPI_COMM_NULL, .print_epochs = !as_json};
    loaa_trial_result r;
    if ((st = loaa_trial_run(&cfg, &opts, NULL, &r)))
        return loaa_cli_report("train", st);
    if (as_json) {
        json_t *obj = loaa_trial_result_json(&r);
        char *text = obj ? json_dumps(obj, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
        json_decref(obj);
        if (!text)
            return loaa_cli_report("train", loaa_fail(LOAA_ERR_NOMEM, "out of memory"));
        printf("%s\n", text);
        free(text);
        return 0;
    }
    printf("best epoch %d of %d (select_on %s)%s\n", r.best_epoch + 1, r.epochs_run, cfg.select_on, r.pruned ? ", stopped early" : "");
    printf("val_acc %.4f  val_loss %.4f  val_map %.4f\n", r.val_acc, r.val_loss, r.val_map);
    printf("test_acc %.4f  test_top5 %.4f  test_map %.4f  test_mpca %.4f\n", r.test_acc, r.test_top5, r.test_map, r.test_mpca);
    printf("trainable %lld of %lld parameters (%.2f%%), %.1f samples/s, %.1f s, peak RSS %.1f MiB\n", r.trainable_params,
           r.total_params, r.total_params ? 100.0 * (double)r.trainable_params / (double)r.total_params : 0.0, r.samples_per_s,
           r.seconds, r.peak_rss / 1048576.0);
    if (r.adapter[0])
        printf("adapter %s\n", r.adapter);
    return 0;
}
