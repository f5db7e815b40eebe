/*
 * cmd_predict.c - `loaa predict`: classify audio files with a trained
 * adapter file on its backbone (or a from-scratch adapter file alone).
 *
 * The adapter records its trial config, class names, the front end
 * (fbank settings, statistics, target length) and the SHA-256 of the
 * backbone it was trained on; a backbone whose hash differs is refused,
 * since the adapter's weights mean nothing on another network.
 */
#include "config.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/config.h"
#include "common/dataset.h"
#include "common/jsontext.h"
#include "common/sha256.h"
#include "common/status.h"
#include "kernels/checkpoint.h"
#include "kernels/model.h"
#include "kernels/weights.h"
#include "worker/features.h"
#include "worker/spec.h"

typedef struct predict_opts {
    const char *backbone; /* NULL = not given */
    const char *adapter;
    int top, json;
    char **files;
    int n_files;
} predict_opts;

static const char predict_usage[] =
    "usage: loaa predict --adapter A.safetensors [--backbone B.safetensors|none] [--top K] [--json] FILE...\n"
    "Rebuilds the trial's model from the adapter file (its config, classes and front end) on the\n"
    "backbone it was trained on, and prints the top K (default 5) classes of each file with their\n"
    "probabilities (softmax; sigmoid for bce trials). FILE is audio (WAV, FLAC, ...) or a precomputed\n"
    "fbank .npy float32 [frames, mel]. The backbone's SHA-256 must match the one the adapter records;\n"
    "--backbone none (the default) is for adapters of trials trained from scratch, which hold every\n"
    "weight. --json prints one document with the top classes and the logits of every file.\n";

/* Reads the arguments into o (o->files point into argv); 0, or -1 with *rc the exit code (help or usage error printed). */
static int parse_args(int argc, char **argv, predict_opts *o, int *rc)
{
    memset(o, 0, sizeof *o);
    o->top = 5;
    const loaa_option opts[] = {
        OPT_PATH("adapter", &o->adapter, "A.safetensors", "the trained adapter file (required)"),
        OPT_STRING("backbone", &o->backbone, "B.safetensors|none", "the backbone it was trained on (default none)"),
        OPT_INT("top", &o->top, 1, 100000, "K", "classes printed per file (default 5)"),
        OPT_FLAG("json", &o->json, "one JSON document with the top classes and all logits"),
        OPT_END(),
    };
    const loaa_cli_spec spec = {.command = "predict", .usage = predict_usage, .options = opts, .max_args = LOAA_CLI_ANY_ARGS};
    int nargs = loaa_cli_parse(&spec, argc, argv, rc);
    if (nargs < 0)
        return -1;
    o->files = argv + 1;
    o->n_files = nargs;
    loaa_status st = LOAA_OK;
    if (!o->adapter)
        st = loaa_fail(LOAA_ERR_USAGE, "--adapter A.safetensors is required");
    else if (!o->n_files)
        st = loaa_fail(LOAA_ERR_USAGE, "no input files");
    *rc = loaa_cli_report("predict", st);
    return st ? -1 : 0;
}

/* Builds the model the adapter was trained as: backbone (hash checked) or the adapter's own full weights. */
static loaa_status build_model(const predict_opts *o, const loaa_checkpoint_adapter *ad, const loaa_config *trained,
                               loaa_model **out)
{
    *out = NULL;
    loaa_config cfg = *trained;
    loaa_model_shape shape = loaa_checkpoint_adapter_shape(ad);
    int use_backbone = o->backbone && strcmp(o->backbone, "none") != 0;
    loaa_status st;
    if (!use_backbone && !loaa_checkpoint_adapter_is_full(ad))
        return loaa_fail(LOAA_ERR_USAGE, "%s: the adapter holds only the trained tensors; give its backbone with"
                         " --backbone (it was trained on '%s', SHA-256 %s)", o->adapter, loaa_checkpoint_adapter_backbone_name(ad),
                         loaa_checkpoint_adapter_backbone_sha256(ad));
    if (use_backbone) {
        if (loaa_checkpoint_adapter_is_full(ad))
            return loaa_fail(LOAA_ERR_CONFIG, "%s: the adapter was trained from scratch and holds every weight;"
                             " use --backbone none", o->adapter);
        char hex[65];
        if ((st = loaa_sha256_file(o->backbone, hex)))
            return st;
        if (strcmp(hex, loaa_checkpoint_adapter_backbone_sha256(ad)))
            return loaa_fail(LOAA_ERR_CONFIG, "%s: SHA-256 %s does not match the backbone the adapter was trained on"
                             " ('%s', %s)", o->backbone, hex, loaa_checkpoint_adapter_backbone_name(ad),
                             loaa_checkpoint_adapter_backbone_sha256(ad));
        loaa_backbone_info bi;
        if ((st = loaa_weights_inspect(o->backbone, &bi)) || (st = loaa_spec_apply_backbone(&bi, &cfg, &shape)) ||
            (st = loaa_config_validate(&cfg)))
            return st;
    }
    cfg.threads = 0;
    loaa_model *m;
    if ((st = loaa_spec_create_model(&m, &cfg, &shape)))
        return st;
    if ((st = loaa_model_init(m, (uint64_t)cfg.seed)) || (use_backbone && (st = loaa_weights_load_backbone(m, o->backbone))) ||
        (st = loaa_checkpoint_adapter_apply(ad, m))) {
        loaa_model_free(m);
        return st;
    }
    *out = m;
    return LOAA_OK;
}

/* The trial's front end as a dataset: its dataset.json members plus the adapter's class names. */
static loaa_status frontend(const loaa_checkpoint_adapter *ad, const char *adapter_path, loaa_dataset **out)
{
    json_t *root = json_loads(loaa_checkpoint_adapter_fbank_json(ad), 0, NULL);
    json_t *classes = json_array();
    for (int i = 0; classes && i < loaa_checkpoint_adapter_num_classes(ad); i++)
        json_array_append_new(classes, json_string(loaa_checkpoint_adapter_class_name(ad, i)));
    if (!json_is_object(root) || !classes) {
        json_decref(root);
        json_decref(classes);
        return loaa_fail(LOAA_ERR_FORMAT, "%s: metadata 'loaa.fbank' is not a JSON object", adapter_path);
    }
    json_object_set_new(root, "format", json_string("loaa-dataset"));
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "name", json_string("predict"));
    json_object_set_new(root, "classes", classes);
    json_object_set_new(root, "splits", json_pack("{s:[], s:[], s:[]}", "train", "val", "test"));
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!text)
        return loaa_fail(LOAA_ERR_NOMEM, "front end");
    loaa_status st = loaa_dataset_parse(text, ".", 0, out);
    free(text);
    if (st)
        return loaa_fail_prefix(st, "%s: metadata 'loaa.fbank': ", adapter_path);
    return LOAA_OK;
}

typedef struct ranked {
    float p;
    int k;
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->p != y->p)
        return x->p > y->p ? -1 : 1;
    return x->k - y->k;
}

/* Probabilities as the trial's loss defines them: softmax for ce, per-class sigmoid for bce. */
static void probabilities(float *p, const float *logits, int c, int sigmoid)
{
    if (sigmoid) {
        for (int k = 0; k < c; k++)
            p[k] = 1.0f / (1.0f + expf(-logits[k]));
        return;
    }
    float mx = logits[0];
    for (int k = 1; k < c; k++)
        mx = fmaxf(mx, logits[k]);
    double sum = 0;
    for (int k = 0; k < c; k++)
        sum += exp((double)logits[k] - mx);
    for (int k = 0; k < c; k++)
        p[k] = (float)(exp((double)logits[k] - mx) / sum);
}

static int run(const predict_opts *o)
{
    loaa_checkpoint_adapter *ad = NULL;
    loaa_model *m = NULL;
    loaa_dataset *ds = NULL;
    float *x = NULL, *logits = NULL, *p = NULL;
    ranked *rk = NULL;
    json_t *results = NULL;
    loaa_config trained; /* the config the adapter was trained with */
    loaa_status st = loaa_checkpoint_adapter_open(o->adapter, &ad);
    if (!st)
        st = loaa_spec_adapter_config(ad, &trained);
    if (!st)
        st = build_model(o, ad, &trained, &m);
    if (!st)
        st = frontend(ad, o->adapter, &ds);
    loaa_model_shape shape = st ? (loaa_model_shape){0} : loaa_checkpoint_adapter_shape(ad);
    if (!st && loaa_dataset_num_mel(ds) != shape.n_mel)
        st = loaa_fail(LOAA_ERR_FORMAT, "%s: the front end gives %d mel bins, the model was trained on %d", o->adapter,
                       loaa_dataset_num_mel(ds), shape.n_mel);
    int C = shape.n_classes, sigmoid = !st && trained.loss == LOAA_LOSS_BCE;
    if (!st) {
        x = malloc((size_t)shape.n_mel * shape.n_frames * sizeof *x);
        logits = malloc((size_t)C * sizeof *logits);
        p = malloc((size_t)C * sizeof *p);
        rk = malloc((size_t)C * sizeof *rk);
        results = json_array();
        if (!x || !logits || !p || !rk || !results)
            st = loaa_fail(LOAA_ERR_NOMEM, "predict buffers");
    }
    int top = o->top < C ? o->top : C;
    for (int f = 0; !st && f < o->n_files; f++) {
        if ((st = loaa_features_from_file(o->files[f], ds, shape.n_frames, x)) || (st = loaa_model_predict(m, x, 1, logits)))
            break;
        probabilities(p, logits, C, sigmoid);
        for (int k = 0; k < C; k++)
            rk[k] = (ranked){p[k], k};
        qsort(rk, (size_t)C, sizeof *rk, cmp_ranked);
        if (!o->json) {
            printf("%s\n", o->files[f]);
            for (int i = 0; i < top; i++)
                printf("  %8.4f  %s\n", rk[i].p, loaa_checkpoint_adapter_class_name(ad, rk[i].k));
            continue;
        }
        json_t *tops = json_array(), *lg = json_array();
        for (int i = 0; i < top; i++)
            json_array_append_new(tops, json_pack("{s:s, s:i, s:f}", "class", loaa_checkpoint_adapter_class_name(ad, rk[i].k), "index",
                                                  rk[i].k, "probability", (double)rk[i].p));
        for (int k = 0; k < C; k++)
            json_array_append_new(lg, json_real(logits[k]));
        int escaped;
        json_t *res = json_pack("{s:o, s:o, s:o}", "file", loaa_json_bytes(o->files[f], &escaped), "top", tops, "logits", lg);
        if (res && escaped)
            json_object_set_new(res, "file_escaped", json_true());
        if (!res || json_array_append_new(results, res))
            st = loaa_fail(LOAA_ERR_NOMEM, "%s: JSON result", o->files[f]); /* never a result silently dropped */
    }
    if (!st && o->json) {
        json_t *doc = json_pack("{s:o, s:o, s:s, s:O}", "adapter", loaa_json_bytes(o->adapter, NULL), "backbone",
                                loaa_json_bytes(o->backbone ? o->backbone : "none", NULL), "method",
                                loaa_method_name(trained.method), "results", results);
        char *text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(9)) : NULL;
        json_decref(doc);
        if (text)
            printf("%s\n", text);
        else
            st = loaa_fail(LOAA_ERR_NOMEM, "JSON output");
        free(text);
    }
    json_decref(results);
    free(x);
    free(logits);
    free(p);
    free(rk);
    loaa_dataset_free(ds);
    loaa_model_free(m);
    loaa_checkpoint_adapter_close(ad);
    return loaa_cli_report("predict", st);
}

int cmd_predict(int argc, char **argv)
{
    predict_opts o;
    int rc;
    return parse_args(argc, argv, &o, &rc) ? rc : run(&o);
}
