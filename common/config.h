/*
 * config.h - the trial configuration: the one contract between sweep files,
 * `loaa train` flags, the results store, the worker and the reports.
 *
 * A trial is a set of keys (the table in doc/architecture.md, mirrored by
 * loaa_config_keys()). Identity keys define what is computed; execution
 * settings (ranks_per_trial, grid, threads, fault) only how, and never enter
 * the identity hash.
 *
 * Typical use:
 *
 *     loaa_config cfg;
 *     loaa_config_defaults(&cfg);
 *     st = loaa_config_set_text(&cfg, "lr", "5e-3");     // a CLI flag
 *     st = loaa_config_set_json(&cfg, "bottleneck", v);  // a sweep value
 *     st = loaa_config_validate(&cfg);                   // cross-key checks
 *     char *canon = loaa_config_canonical(&cfg);         // sorted, shortest numbers
 *     st = loaa_config_identity_files(&cfg, hex);        // SHA-256 identity
 *
 * Every failure returns LOAA_ERR_CONFIG (or PARSE for malformed text) with
 * a detail that names the key, e.g. "key 'bottleneck': must be >= 1, got 0".
 */
#ifndef LOAA_CONFIG_H
#define LOAA_CONFIG_H

#include <jansson.h>
#include <stdint.h>

#include "common/canonical.h"
#include "common/choices.h"
#include "common/status.h"

#define LOAA_PATH_MAX 1024
#define LOAA_NAME_MAX 64

typedef enum loaa_backbone_kind {
    LOAA_BACKBONE_NONE,  /* random initialisation */
    LOAA_BACKBONE_PATH,  /* a safetensors file */
    LOAA_BACKBONE_SWEEP  /* the best finished trial of another sweep, resolved by the coordinator */
} loaa_backbone_kind;

typedef struct loaa_config {
    /* identity keys */
    char dataset[LOAA_PATH_MAX];
    int fold;                      /* -1 = null (split datasets) */
    int64_t seed;
    char model[LOAA_NAME_MAX];     /* preset name, or "custom" */
    int dim, depth, heads;         /* resolved by validate; 0 = from model */
    double mlp_ratio;              /* 0 = from model */
    loaa_backbone_kind backbone_kind;
    char backbone[LOAA_PATH_MAX];  /* path, or sweep name for LOAA_BACKBONE_SWEEP */
    int fstride, tstride;
    int target_length;             /* 0 = the dataset's */
    loaa_method method;
    int bottleneck, kernel;
    loaa_placement placement;
    int blocks;                    /* 0 = all, else the last n blocks */
    double scale;
    double lora_alpha;             /* 0 = bottleneck (alpha/r = 1) */
    int epochs, batch_size;
    double lr, weight_decay, warmup_epochs;
    loaa_schedule schedule;
    loaa_loss loss;
    double label_smoothing;
    int freqm, timem, timeroll;
    double mixup, noise;
    char select_on[LOAA_NAME_MAX];
    loaa_pool pool;
    loaa_precision precision;      /* in the canonical form only when not fp32 */
    /* execution settings: not identity */
    int ranks_per_trial;
    int grid_p, grid_q;            /* 0x0 = choose automatically */
    int threads;                   /* BLAS threads per trial, 0 = default */
    char fault[LOAA_NAME_MAX];     /* test-only fault injection, "" = none */
} loaa_config;

typedef enum loaa_key_type {
    LOAA_KEY_PATH,
    LOAA_KEY_INT,
    LOAA_KEY_INT_OR_NULL,
    LOAA_KEY_FLOAT,
    LOAA_KEY_NAME,
    LOAA_KEY_MODEL,
    LOAA_KEY_BACKBONE,
    LOAA_KEY_BLOCKS,
    LOAA_KEY_GRID
} loaa_key_type;

typedef struct loaa_key_info {
    const char *name;
    loaa_key_type type;
    int identity;              /* 1: part of the trial identity */
    const char *default_text;  /* as shown in help and docs */
    const char *meaning;
    const char *const *names;  /* LOAA_KEY_NAME: allowed values, NULL-terminated */
    double min, max;           /* numeric range (inclusive) */
} loaa_key_info;

/* The key table, in documentation order. */
const loaa_key_info *loaa_config_keys(size_t *count);

/* The table entry for a key, or NULL when the name is unknown. */
const loaa_key_info *loaa_config_key(const char *name);

/* Fills every key with its default. Never fails. */
void loaa_config_defaults(loaa_config *c);

/*
 * Sets one key from a JSON value (the type the table says; integers are
 * accepted for floats, integral floats for ints). On failure the config is
 * unchanged and the detail names the key.
 */
loaa_status loaa_config_set_json(loaa_config *c, const char *key, const json_t *value);

/*
 * Sets one key from command-line text, read with the YAML 1.2 core schema
 * (so "1e-3" is a number, "null" is null) and then as for set_json; a bare
 * word that is no number is taken as a string (paths, names).
 */
loaa_status loaa_config_set_text(loaa_config *c, const char *key, const char *text);

/*
 * Defaults, then every member of the object. Unknown keys are refused
 * ("unknown key 'lrr'"). Does not validate; call loaa_config_validate.
 */
loaa_status loaa_config_from_json(loaa_config *c, const json_t *object);

/* loaa_config_from_json on JSON text; a syntax error names line and column. */
loaa_status loaa_config_parse(loaa_config *c, const char *text);

/*
 * Cross-key checks and resolution: the model preset fills dim/depth/heads/
 * mlp_ratio not given; heads must divide dim; blocks <= depth; dataset set.
 */
loaa_status loaa_config_validate(loaa_config *c);

/*
 * The config as a JSON object (new reference): identity keys, plus the
 * execution settings when with_execution is non-zero. NULL on no memory.
 */
json_t *loaa_config_to_json(const loaa_config *c, int with_execution);

/*
 * The canonical text of the identity keys: sorted keys, no spaces, numbers
 * as the shortest text that round-trips a double. Caller frees. NULL on no memory.
 */
char *loaa_config_canonical(const loaa_config *c);

/*
 * The trial identity: SHA-256 (hex) of the canonical form in which
 * `dataset` is replaced by dataset_sha and `backbone` (unless none) by
 * backbone_sha. Either hash may be NULL to keep the value as written.
 */
loaa_status loaa_config_identity(const loaa_config *c, const char *dataset_sha,
                                 const char *backbone_sha, char hex[65]);

/*
 * loaa_config_identity with the hashes read from disk: SHA-256 of
 * DATASET/dataset.json and of the backbone file. A sweep-named backbone
 * must be resolved to a path first (LOAA_ERR_CONFIG otherwise).
 */
loaa_status loaa_config_identity_files(const loaa_config *c, char hex[65]);

/* Names for enum values, as written in configs: loaa_method_name, loaa_placement_name, loaa_precision_name (common/choices.h). */

/* Canonical JSON text of any value, shortest numbers: loaa_json_canonical, loaa_format_double (common/canonical.h). */

/*
 * A plain YAML scalar under the YAML 1.2 core schema: null, true/false,
 * integers (decimal, 0o, 0x), floats (incl. .inf/.nan), otherwise a string.
 * New reference; NULL on no memory.
 */
json_t *loaa_core_scalar(const char *text);

/*
 * Whether this node can run the trial's precision. bf16_level is the
 * kernels' loaa_gemm_bf16_level() (0: no bf16 matmul, 1: plain AVX-512,
 * slower than fp32; 2: AVX512-BF16; 3: AMX) and isa oneDNN's ISA name; the
 * caller passes them so that common/ needs no kernels. LOAA_ERR_CONFIG naming
 * the key and the ISA when bf16 cannot run; *slow (may be NULL) is set when
 * it runs but slower than fp32. fp32 always passes.
 */
loaa_status loaa_config_check_precision(const loaa_config *c, int bf16_level, const char *isa, int *slow);

#endif
