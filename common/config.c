/* config.c - the trial-configuration key table, validation, canonical form and identity. */
#include "common/config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dynbuf.h"
#include "common/parse.h"
#include "common/sha256.h"

static const char *const method_names[] = {"linear",    "full",      "adapter",
                                           "lora",      "loaa-time", "loaa-freq",
                                           "loaa-tf",   "convpass",  "noop", NULL};
static const char *const placement_names[] = {"mhsa", "mlp", "both", NULL};
static const char *const schedule_names[] = {"cosine", "step", NULL};
static const char *const loss_names[] = {"ce", "bce", NULL};
static const char *const pool_names[] = {"cls", "mean", NULL};
static const char *const precision_names[] = {"fp32", "bf16", NULL};
static const char *const select_names[] = {"val_acc", "val_loss", "val_map", "train_loss", NULL};

typedef struct model_preset {
    const char *name;
    int dim, depth, heads;
    double mlp_ratio;
} model_preset;

static const model_preset model_presets[] = {
    {"vit-micro", 64, 2, 2, 4.0},
    {"vit-tiny", 192, 12, 3, 4.0},
    {"vit-small", 384, 12, 6, 4.0},
    {"vit-base", 768, 12, 12, 4.0},
};
#define N_PRESETS (sizeof model_presets / sizeof model_presets[0])

#define BIG 1e18
/*
 * Documentation order. `offset` and `size` locate the field in loaa_config; its size says how it is stored:
 * LOAA_KEY_INT an int or (seed) an int64_t, LOAA_KEY_NAME an enum int or (select_on) the name itself,
 * LOAA_KEY_PATH a string of that capacity (fault is shorter than a path).
 */
typedef struct key_slot {
    loaa_key_info info;
    size_t offset, size;
    int null_value;      /* LOAA_KEY_INT_OR_NULL: what null is stored as; a stored value at or below it is null */
} key_slot;

/* Keys added after databases existed: absent from the canonical form at their default (0), so older identities hold. */
static const char *const omit_at_default[] = {"precision", NULL};

#define OFF(f) offsetof(loaa_config, f), sizeof(((loaa_config *)0)->f)
/* null_value is given only where it matters (the INT_OR_NULL keys); the others' 0 is unused, so gcc's warning is off here */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const key_slot key_table[] = {
    {{"dataset", LOAA_KEY_PATH, 1, "-", "loaa dataset folder (identity: SHA-256 of its dataset.json)", NULL, 0, 0}, OFF(dataset)},
    {{"fold", LOAA_KEY_INT_OR_NULL, 1, "null", "k-fold datasets: the test fold; validation is the next fold", NULL, 0, 1000}, OFF(fold), -1},
    {{"seed", LOAA_KEY_INT, 1, "0", "every random choice of the trial", NULL, 0, 9007199254740991.0}, OFF(seed)},
    {{"model", LOAA_KEY_MODEL, 1, "vit-tiny", "vit-micro, vit-tiny, vit-small, vit-base, or custom via dim/depth/heads/mlp_ratio", NULL, 0, 0}, OFF(model)},
    {{"dim", LOAA_KEY_INT, 1, "from model", "embedding width D", NULL, 8, 8192}, OFF(dim)},
    {{"depth", LOAA_KEY_INT, 1, "from model", "number of transformer blocks", NULL, 1, 96}, OFF(depth)},
    {{"heads", LOAA_KEY_INT, 1, "D/64", "attention heads (must divide dim)", NULL, 1, 256}, OFF(heads)},
    {{"mlp_ratio", LOAA_KEY_FLOAT, 1, "4", "MLP hidden width / D", NULL, 0.25, 64}, OFF(mlp_ratio)},
    {{"backbone", LOAA_KEY_BACKBONE, 1, "none", "none, a safetensors path, or {sweep, best}", NULL, 0, 0}, OFF(backbone)},
    {{"fstride", LOAA_KEY_INT, 1, "10", "patch stride over frequency (patch 16x16)", NULL, 1, 16}, OFF(fstride)},
    {{"tstride", LOAA_KEY_INT, 1, "10", "patch stride over time", NULL, 1, 16}, OFF(tstride)},
    {{"target_length", LOAA_KEY_INT_OR_NULL, 1, "from dataset", "frames after pad/cut", NULL, 16, 100000}, OFF(target_length)},
    {{"method", LOAA_KEY_NAME, 1, "loaa-tf", "fine-tuning method", method_names, 0, 0}, OFF(method)},
    {{"bottleneck", LOAA_KEY_INT, 1, "32", "adapter width r; also the LoRA rank", NULL, 1, 8192}, OFF(bottleneck)},
    {{"kernel", LOAA_KEY_INT, 1, "3", "LoAA kernel length k (odd; 1 = parallel adapter)", NULL, 1, 31}, OFF(kernel)},
    {{"placement", LOAA_KEY_NAME, 1, "both", "adapters beside mhsa, mlp or both", placement_names, 0, 0}, OFF(placement)},
    {{"blocks", LOAA_KEY_BLOCKS, 1, "all", "adapters in every block, or in the last n", NULL, 1, 96}, OFF(blocks)},
    {{"scale", LOAA_KEY_FLOAT, 1, "0.1", "adapter output scale s", NULL, -BIG, BIG}, OFF(scale)},
    {{"lora_alpha", LOAA_KEY_FLOAT, 1, "= r", "LoRA scaling alpha/r", NULL, 0, BIG}, OFF(lora_alpha)},
    {{"epochs", LOAA_KEY_INT, 1, "10", "training epochs", NULL, 1, 100000}, OFF(epochs)},
    {{"batch_size", LOAA_KEY_INT, 1, "32", "samples per step", NULL, 1, 65536}, OFF(batch_size)},
    {{"lr", LOAA_KEY_FLOAT, 1, "0.001", "AdamW learning rate", NULL, 0, 10}, OFF(lr)},
    {{"weight_decay", LOAA_KEY_FLOAT, 1, "0.01", "AdamW decoupled weight decay", NULL, 0, 10}, OFF(weight_decay)},
    {{"warmup_epochs", LOAA_KEY_FLOAT, 1, "1", "linear warm-up length in epochs", NULL, 0, 100000}, OFF(warmup_epochs)},
    {{"schedule", LOAA_KEY_NAME, 1, "cosine", "cosine, or step (x0.85 per epoch from epoch 5)", schedule_names, 0, 0}, OFF(schedule)},
    {{"loss", LOAA_KEY_NAME, 1, "ce", "ce (softmax) or bce (sigmoid)", loss_names, 0, 0}, OFF(loss)},
    {{"label_smoothing", LOAA_KEY_FLOAT, 1, "0", "label smoothing for ce", NULL, 0, 0.999}, OFF(label_smoothing)},
    {{"freqm", LOAA_KEY_INT, 1, "0", "SpecAugment frequency mask width (0 = off)", NULL, 0, 100000}, OFF(freqm)},
    {{"timem", LOAA_KEY_INT, 1, "0", "SpecAugment time mask width (0 = off)", NULL, 0, 100000}, OFF(timem)},
    {{"mixup", LOAA_KEY_FLOAT, 1, "0", "probability of mixup per sample (0 = off)", NULL, 0, 1}, OFF(mixup)},
    {{"noise", LOAA_KEY_FLOAT, 1, "0", "additive noise scale on the normalised fbank (0 = off)", NULL, 0, 100}, OFF(noise)},
    {{"timeroll", LOAA_KEY_INT, 1, "0", "random time roll of up to n frames (0 = off)", NULL, 0, 100000}, OFF(timeroll)},
    {{"select_on", LOAA_KEY_NAME, 1, "val_acc", "metric that chooses the best epoch (never a test metric)", select_names, 0, 0}, OFF(select_on)},
    {{"pool", LOAA_KEY_NAME, 1, "cls", "head input: cls token(s) or mean of patch tokens", pool_names, 0, 0}, OFF(pool)},
    {{"precision", LOAA_KEY_NAME, 1, "fp32", "matmul inputs: fp32, or bf16 with fp32 accumulation", precision_names, 0, 0},
     OFF(precision)},
    {{"ranks_per_trial", LOAA_KEY_INT, 0, "1", "MPI ranks training one trial (ScaLAPACK when > 1)", NULL, 1, 4096}, OFF(ranks_per_trial)},
    {{"grid", LOAA_KEY_GRID, 0, "auto", "BLACS process grid PxQ", NULL, 0, 0}, OFF(grid_p)},
    {{"threads", LOAA_KEY_INT, 0, "0", "BLAS threads per trial (0 = library default)", NULL, 0, 1024}, OFF(threads)},
    {{"fault", LOAA_KEY_PATH, 0, "", "test-only fault injection (crash, abort, nan, fail, sleep)", NULL, 0, 0}, OFF(fault)},
};
#pragma GCC diagnostic pop
#define N_KEYS (sizeof key_table / sizeof key_table[0])

static const loaa_key_info *key_infos(void)
{
    static loaa_key_info infos[N_KEYS];
    if (!infos[0].name)
        for (size_t i = 0; i < N_KEYS; i++)
            infos[i] = key_table[i].info;
    return infos;
}

const loaa_key_info *loaa_config_keys(size_t *count)
{
    *count = N_KEYS;
    return key_infos();
}

static const key_slot *find_slot(const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(key_table[i].info.name, name) == 0)
            return &key_table[i];
    return NULL;
}

const loaa_key_info *loaa_config_key(const char *name)
{
    const key_slot *s = find_slot(name);
    return s ? &key_infos()[s - key_table] : NULL;
}

void loaa_config_defaults(loaa_config *c)
{
    memset(c, 0, sizeof *c);
    c->fold = -1;
    strcpy(c->model, "vit-tiny");
    c->backbone_kind = LOAA_BACKBONE_NONE;
    c->fstride = c->tstride = 10;
    c->method = LOAA_METHOD_LOAA_TF;
    c->bottleneck = 32;
    c->kernel = 3;
    c->placement = LOAA_PLACE_BOTH;
    c->scale = 0.1;
    c->epochs = 10;
    c->batch_size = 32;
    c->lr = 1e-3;
    c->weight_decay = 0.01;
    c->warmup_epochs = 1;
    c->schedule = LOAA_SCHED_COSINE;
    c->loss = LOAA_LOSS_CE;
    strcpy(c->select_on, "val_acc");
    c->pool = LOAA_POOL_CLS;
    c->ranks_per_trial = 1;
}

static const char *type_words(loaa_key_type t)
{
    switch (t) {
    case LOAA_KEY_PATH: return "a string";
    case LOAA_KEY_INT: return "an integer";
    case LOAA_KEY_INT_OR_NULL: return "an integer or null";
    case LOAA_KEY_FLOAT: return "a number";
    case LOAA_KEY_NAME: return "a name";
    case LOAA_KEY_MODEL: return "a model name";
    case LOAA_KEY_BACKBONE: return "none, a path, or {sweep, best}";
    case LOAA_KEY_BLOCKS: return "all or an integer";
    case LOAA_KEY_GRID: return "PxQ";
    }
    return "?";
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

static loaa_status wrong_type(const char *key, loaa_key_type t, const json_t *v)
{
    return loaa_fail(LOAA_ERR_CONFIG, "key '%s': expected %s, got %s", key, type_words(t),
                     json_kind(v));
}

/* An integer from an integer or an integral real within range. */
static loaa_status get_int(const loaa_key_info *k, const json_t *v, int64_t *out)
{
    double x;
    int64_t i;
    if (!loaa_parse_json_int(v, &i, &x))
        return wrong_type(k->name, k->type, v);
    if (x < k->min || x > k->max)
        return loaa_fail(LOAA_ERR_CONFIG, "key '%s': must be between %.0f and %.0f, got %.0f",
                         k->name, k->min, k->max, x);
    *out = i;
    return LOAA_OK;
}

static loaa_status copy_string(const char *key, char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        return loaa_fail(LOAA_ERR_CONFIG, "key '%s': value longer than %zu characters", key,
                         cap - 1);
    memcpy(dst, src, n + 1);
    return LOAA_OK;
}

static int name_index(const char *const *names, const char *s)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

static loaa_status bad_name(const loaa_key_info *k, const char *s)
{
    char list[512] = "";
    for (int i = 0; k->names[i]; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, k->names[i], sizeof list - strlen(list) - 1);
    }
    if (strcmp(k->name, "select_on") == 0 && strncmp(s, "test_", 5) == 0)
        return loaa_fail(LOAA_ERR_CONFIG,
                         "key 'select_on': '%s' is a test metric; the best epoch is chosen on "
                         "validation or training metrics only (%s)", s, list);
    return loaa_fail(LOAA_ERR_CONFIG, "key '%s': unknown value '%s' (expected one of: %s)",
                     k->name, s, list);
}

/* ---- setting one key from JSON: one handler per key type (each: LOAA_OK, or LOAA_ERR_CONFIG naming the key) ---- */

typedef loaa_status (*slot_setter)(loaa_config *c, const key_slot *slot, const json_t *v);

static void *slot_field(loaa_config *c, const key_slot *slot) { return (char *)c + slot->offset; }

/* *s: the string v is; LOAA_ERR_CONFIG when v is not one. */
static loaa_status string_value(const key_slot *slot, const json_t *v, const char **s)
{
    if (!json_is_string(v))
        return wrong_type(slot->info.name, slot->info.type, v);
    *s = json_string_value(v);
    return LOAA_OK;
}

static loaa_status set_path(loaa_config *c, const key_slot *slot, const json_t *v)
{
    const char *s = NULL;
    loaa_status st = string_value(slot, v, &s);
    return st ? st : copy_string(slot->info.name, slot_field(c, slot), slot->size, s);
}

/* Stores an integer in a field of slot->size bytes (int or int64_t). */
static void store_int(loaa_config *c, const key_slot *slot, int64_t x)
{
    assert(slot->size == sizeof(int) || slot->size == sizeof(int64_t));
    if (slot->size == sizeof(int64_t))
        *(int64_t *)slot_field(c, slot) = x;
    else
        *(int *)slot_field(c, slot) = (int)x;
}

static loaa_status set_int(loaa_config *c, const key_slot *slot, const json_t *v)
{
    int64_t x = 0;
    loaa_status st = get_int(&slot->info, v, &x);
    if (!st)
        store_int(c, slot, x);
    return st;
}

static loaa_status set_int_or_null(loaa_config *c, const key_slot *slot, const json_t *v)
{
    if (json_is_null(v)) {
        store_int(c, slot, slot->null_value);
        return LOAA_OK;
    }
    return set_int(c, slot, v);
}

static loaa_status set_float(loaa_config *c, const key_slot *slot, const json_t *v)
{
    const loaa_key_info *k = &slot->info;
    if (!json_is_number(v))
        return wrong_type(k->name, k->type, v);
    double x = json_number_value(v);
    if (!isfinite(x))
        return loaa_fail(LOAA_ERR_CONFIG, "key '%s': must be finite", k->name);
    if (x < k->min || x > k->max)
        return loaa_fail(LOAA_ERR_CONFIG, "key '%s': must be between %g and %g, got %g",
                         k->name, k->min, k->max, x);
    *(double *)slot_field(c, slot) = x;
    return LOAA_OK;
}

static loaa_status set_name(loaa_config *c, const key_slot *slot, const json_t *v)
{
    const loaa_key_info *k = &slot->info;
    const char *s = NULL;
    loaa_status st = string_value(slot, v, &s);
    if (st)
        return st;
    int i = name_index(k->names, s);
    if (i < 0)
        return bad_name(k, s);
    if (slot->size != sizeof(int)) /* kept as the name itself */
        return copy_string(k->name, slot_field(c, slot), slot->size, s);
    *(int *)slot_field(c, slot) = i;
    return LOAA_OK;
}

static loaa_status set_model(loaa_config *c, const key_slot *slot, const json_t *v)
{
    const loaa_key_info *k = &slot->info;
    const char *s = NULL;
    loaa_status st = string_value(slot, v, &s);
    if (st)
        return st;
    for (size_t i = 0; i < N_PRESETS; i++)
        if (strcmp(model_presets[i].name, s) == 0)
            return copy_string(k->name, c->model, sizeof c->model, s);
    if (strcmp(s, "custom") == 0)
        return copy_string(k->name, c->model, sizeof c->model, s);
    return loaa_fail(LOAA_ERR_CONFIG,
                     "key 'model': unknown model '%s' (expected vit-micro, vit-tiny, "
                     "vit-small, vit-base, or custom with dim/depth/heads)", s);
}

/* backbone: {sweep: NAME, best: true} */
static loaa_status set_backbone_sweep(loaa_config *c, const key_slot *slot, const json_t *v)
{
    const char *key;
    json_t *member;
    const char *sweep = NULL;
    json_object_foreach((json_t *)v, key, member) {
        if (strcmp(key, "sweep") == 0 && json_is_string(member))
            sweep = json_string_value(member);
        else if (strcmp(key, "best") == 0 && json_is_true(member))
            ;
        else
            return loaa_fail(LOAA_ERR_CONFIG,
                             "key 'backbone': object takes {sweep: NAME, best: true}, "
                             "not '%s'", key);
    }
    if (!sweep || !sweep[0])
        return loaa_fail(LOAA_ERR_CONFIG, "key 'backbone': {sweep, best} needs a sweep name");
    loaa_status st = copy_string(slot->info.name, c->backbone, sizeof c->backbone, sweep);
    if (!st)
        c->backbone_kind = LOAA_BACKBONE_SWEEP;
    return st;
}

static loaa_status set_backbone(loaa_config *c, const key_slot *slot, const json_t *v)
{
    if (json_is_null(v) || (json_is_string(v) && strcmp(json_string_value(v), "none") == 0)) {
        c->backbone_kind = LOAA_BACKBONE_NONE;
        c->backbone[0] = '\0';
        return LOAA_OK;
    }
    if (json_is_object(v))
        return set_backbone_sweep(c, slot, v);
    if (!json_is_string(v))
        return wrong_type(slot->info.name, slot->info.type, v);
    if (!json_string_value(v)[0])
        return loaa_fail(LOAA_ERR_CONFIG, "key 'backbone': empty path");
    loaa_status st = copy_string(slot->info.name, c->backbone, sizeof c->backbone, json_string_value(v));
    if (!st)
        c->backbone_kind = LOAA_BACKBONE_PATH;
    return st;
}

static loaa_status set_blocks(loaa_config *c, const key_slot *slot, const json_t *v)
{
    if (json_is_string(v) && strcmp(json_string_value(v), "all") == 0) {
        c->blocks = 0;
        return LOAA_OK;
    }
    return set_int(c, slot, v);
}

static loaa_status set_grid(loaa_config *c, const key_slot *slot, const json_t *v)
{
    const char *s = NULL;
    loaa_status st = string_value(slot, v, &s);
    if (st)
        return st;
    int p, q;
    char tail;
    if (strcmp(s, "auto") == 0) {
        c->grid_p = c->grid_q = 0;
        return LOAA_OK;
    }
    if (sscanf(s, "%dx%d%c", &p, &q, &tail) != 2 || p < 1 || q < 1 || p > 4096 || q > 4096)
        return loaa_fail(LOAA_ERR_CONFIG, "key 'grid': expected PxQ such as 2x2, got '%s'", s);
    c->grid_p = p;
    c->grid_q = q;
    return LOAA_OK;
}

static const slot_setter setters[] = {
    [LOAA_KEY_PATH] = set_path,         [LOAA_KEY_INT] = set_int,         [LOAA_KEY_INT_OR_NULL] = set_int_or_null,
    [LOAA_KEY_FLOAT] = set_float,       [LOAA_KEY_NAME] = set_name,       [LOAA_KEY_MODEL] = set_model,
    [LOAA_KEY_BACKBONE] = set_backbone, [LOAA_KEY_BLOCKS] = set_blocks,   [LOAA_KEY_GRID] = set_grid,
};

static loaa_status set_slot(loaa_config *c, const key_slot *slot, const json_t *v)
{
    assert(c && slot && v);
    unsigned t = (unsigned)slot->info.type;
    if (t >= sizeof setters / sizeof setters[0] || !setters[t])
        return loaa_fail(LOAA_ERR_INTERNAL, "key '%s': unhandled type", slot->info.name);
    return setters[t](c, slot, v);
}

loaa_status loaa_config_set_json(loaa_config *c, const char *key, const json_t *value)
{
    const key_slot *slot = find_slot(key);
    if (!slot)
        return loaa_fail(LOAA_ERR_CONFIG, "unknown key '%s' (see 'loaa help keys')", key);
    loaa_config copy = *c;
    loaa_status st = set_slot(&copy, slot, value);
    if (st == LOAA_OK)
        *c = copy;
    return st;
}

loaa_status loaa_config_set_text(loaa_config *c, const char *key, const char *text)
{
    const key_slot *slot = find_slot(key);
    if (!slot)
        return loaa_fail(LOAA_ERR_CONFIG, "unknown key '%s' (see 'loaa help keys')", key);
    json_t *v;
    /* Paths and names stay text even when they look like numbers ("123" as a folder). */
    if (slot->info.type == LOAA_KEY_PATH || slot->info.type == LOAA_KEY_NAME ||
        slot->info.type == LOAA_KEY_MODEL || slot->info.type == LOAA_KEY_GRID)
        v = json_string(text);
    else if (slot->info.type == LOAA_KEY_BACKBONE && text[0] == '{')
        v = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    else if (slot->info.type == LOAA_KEY_BACKBONE)
        v = json_string(text);
    else
        v = loaa_core_scalar(text);
    if (!v)
        return loaa_fail(LOAA_ERR_PARSE, "key '%s': cannot read '%s'", key, text);
    loaa_status st = loaa_config_set_json(c, key, v);
    json_decref(v);
    return st;
}

loaa_status loaa_config_from_json(loaa_config *c, const json_t *object)
{
    if (!json_is_object(object))
        return loaa_fail(LOAA_ERR_CONFIG, "trial config must be a JSON object, got %s",
                         json_kind(object));
    loaa_config_defaults(c);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)object, key, v) {
        loaa_status st = loaa_config_set_json(c, key, v);
        if (st)
            return st;
    }
    return LOAA_OK;
}

loaa_status loaa_config_parse(loaa_config *c, const char *text)
{
    json_error_t err;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        return loaa_fail(LOAA_ERR_PARSE, "line %d, column %d: %s", err.line, err.column, err.text);
    loaa_status st = loaa_config_from_json(c, root);
    json_decref(root);
    return st;
}

loaa_status loaa_config_validate(loaa_config *c)
{
    const model_preset *preset = NULL;
    for (size_t i = 0; i < N_PRESETS; i++)
        if (strcmp(model_presets[i].name, c->model) == 0)
            preset = &model_presets[i];
    if (preset) {
        if (!c->dim) c->dim = preset->dim;
        if (!c->depth) c->depth = preset->depth;
        if (!c->heads) c->heads = c->dim == preset->dim ? preset->heads : (c->dim >= 64 ? c->dim / 64 : 1);
        if (!c->mlp_ratio) c->mlp_ratio = preset->mlp_ratio;
    } else {
        if (!c->dim || !c->depth)
            return loaa_fail(LOAA_ERR_CONFIG, "key 'model': custom models need 'dim' and 'depth'");
        if (!c->heads) c->heads = c->dim >= 64 ? c->dim / 64 : 1;
        if (!c->mlp_ratio) c->mlp_ratio = 4.0;
    }
    /* The canonical name follows the architecture, so one model never has two identities. */
    const char *resolved = "custom";
    for (size_t i = 0; i < N_PRESETS; i++)
        if (model_presets[i].dim == c->dim && model_presets[i].depth == c->depth &&
            model_presets[i].heads == c->heads && model_presets[i].mlp_ratio == c->mlp_ratio)
            resolved = model_presets[i].name;
    strcpy(c->model, resolved);

    if (c->dim % c->heads)
        return loaa_fail(LOAA_ERR_CONFIG, "key 'heads': %d heads do not divide dim %d", c->heads,
                         c->dim);
    if (c->kernel % 2 == 0)
        return loaa_fail(LOAA_ERR_CONFIG, "key 'kernel': must be odd (centred), got %d", c->kernel);
    if (c->blocks > c->depth)
        return loaa_fail(LOAA_ERR_CONFIG, "key 'blocks': %d exceeds the model depth %d", c->blocks,
                         c->depth);
    if (!c->dataset[0])
        return loaa_fail(LOAA_ERR_CONFIG, "key 'dataset': required (a loaa dataset folder)");
    if (c->method == LOAA_METHOD_LORA && c->placement == LOAA_PLACE_MLP)
        return loaa_fail(LOAA_ERR_CONFIG, "key 'placement': lora adapts W_q and W_v, so it needs mhsa or both");
    if ((int)(c->mlp_ratio * c->dim) < 1)
        return loaa_fail(LOAA_ERR_CONFIG, "key 'mlp_ratio': hidden width %g*%d is below 1",
                         c->mlp_ratio, c->dim);
    return LOAA_OK;
}

const char *loaa_method_name(loaa_method m)
{
    return (unsigned)m < LOAA_METHOD_COUNT ? method_names[m] : "?";
}

const char *loaa_placement_name(loaa_placement p)
{
    return (unsigned)p <= LOAA_PLACE_BOTH ? placement_names[p] : "?";
}

const char *loaa_precision_name(loaa_precision p)
{
    return (unsigned)p <= LOAA_PRECISION_BF16 ? precision_names[p] : "?";
}

static json_t *slot_to_json(const loaa_config *c, const key_slot *slot)
{
    const loaa_key_info *k = &slot->info;
    const char *base = (const char *)c + slot->offset;
    switch (k->type) {
    case LOAA_KEY_PATH: return json_string(base);
    case LOAA_KEY_INT:
        return json_integer(slot->size == sizeof(int64_t) ? (json_int_t) * (const int64_t *)base : *(const int *)base);
    case LOAA_KEY_INT_OR_NULL: {
        int x = *(const int *)base;
        return x <= slot->null_value ? json_null() : json_integer(x);
    }
    case LOAA_KEY_FLOAT:
        if (strcmp(k->name, "lora_alpha") == 0 && c->lora_alpha == 0)
            return json_real((double)c->bottleneck); /* "= r", made explicit */
        return json_real(*(const double *)base);
    case LOAA_KEY_NAME:
        if (slot->size != sizeof(int)) /* kept as the name itself */
            return json_string(base);
        return json_string(k->names[*(const int *)base]);
    case LOAA_KEY_MODEL: return json_string(c->model);
    case LOAA_KEY_BACKBONE:
        if (c->backbone_kind == LOAA_BACKBONE_NONE)
            return json_string("none");
        if (c->backbone_kind == LOAA_BACKBONE_PATH)
            return json_string(c->backbone);
        return json_pack("{s:s,s:b}", "sweep", c->backbone, "best", 1);
    case LOAA_KEY_BLOCKS: return c->blocks ? json_integer(c->blocks) : json_string("all");
    case LOAA_KEY_GRID: {
        char text[32];
        if (!c->grid_p)
            return json_string("auto");
        snprintf(text, sizeof text, "%dx%d", c->grid_p, c->grid_q);
        return json_string(text);
    }
    }
    return NULL;
}

json_t *loaa_config_to_json(const loaa_config *c, int with_execution)
{
    json_t *obj = json_object();
    if (!obj)
        return NULL;
    for (size_t i = 0; i < N_KEYS; i++) {
        if (!key_table[i].info.identity && !with_execution)
            continue;
        /* Method-specific keys stay in the identity even when unused: simple and stable. */
        if (name_index(omit_at_default, key_table[i].info.name) >= 0 &&
            *(const int *)((const char *)c + key_table[i].offset) == 0)
            continue; /* older identities and checkpoints stay valid */
        json_t *v = slot_to_json(c, &key_table[i]);
        if (!v || json_object_set_new(obj, key_table[i].info.name, v)) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

void loaa_format_double(double x, char buf[32])
{
    if (isnan(x)) {
        strcpy(buf, "NaN");
        return;
    }
    if (isinf(x)) {
        strcpy(buf, x > 0 ? "Infinity" : "-Infinity");
        return;
    }
    if (x == 0)
        x = 0; /* -0 is written "0": "-0" would read back as the integer 0 and change the canonical text */
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, 32, "%.*g", prec, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    /* "1e-07" -> "1e-7": one spelling for every exponent. */
    char *e = strchr(buf, 'e');
    if (e) {
        char *p = e + 1;
        if (*p == '+')
            memmove(p, p + 1, strlen(p));
        if (*p == '-')
            p++;
        while (p[0] == '0' && p[1])
            memmove(p, p + 1, strlen(p));
    }
}

/* Canonical text has no natural bound; this one only stops a runaway value from eating memory. */
#define CANONICAL_MAX ((size_t)1 << 30)

static void add_json_string(loaa_dyn *b, const char *s, size_t n)
{
    loaa_dyn_add(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        char esc[8];
        if (ch == '"' || ch == '\\') {
            esc[0] = '\\';
            esc[1] = (char)ch;
            loaa_dyn_add(b, esc, 2);
        } else if (ch < 0x20) {
            loaa_dyn_addf(b, "\\u%04x", ch);
        } else {
            loaa_dyn_add(b, &s[i], 1);
        }
    }
    loaa_dyn_add(b, "\"", 1);
}

static int compare_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void canonical_value(loaa_dyn *b, const json_t *v)
{
    char num[32];
    switch (json_typeof(v)) {
    case JSON_NULL: loaa_dyn_adds(b, "null"); break;
    case JSON_TRUE: loaa_dyn_adds(b, "true"); break;
    case JSON_FALSE: loaa_dyn_adds(b, "false"); break;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        loaa_dyn_adds(b, num);
        break;
    case JSON_REAL:
        loaa_format_double(json_real_value(v), num);
        loaa_dyn_adds(b, num);
        break;
    case JSON_STRING: add_json_string(b, json_string_value(v), json_string_length(v)); break;
    case JSON_ARRAY:
        loaa_dyn_add(b, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                loaa_dyn_add(b, ",", 1);
            canonical_value(b, json_array_get(v, i));
        }
        loaa_dyn_add(b, "]", 1);
        break;
    case JSON_OBJECT: {
        size_t n = json_object_size(v), i = 0;
        const char **keys = malloc((n ? n : 1) * sizeof *keys);
        if (!keys) {
            loaa_dyn_fail(b, LOAA_ERR_NOMEM);
            return;
        }
        const char *key;
        json_t *member;
        json_object_foreach((json_t *)v, key, member) keys[i++] = key;
        qsort(keys, n, sizeof *keys, compare_keys);
        loaa_dyn_add(b, "{", 1);
        for (i = 0; i < n; i++) {
            if (i)
                loaa_dyn_add(b, ",", 1);
            add_json_string(b, keys[i], strlen(keys[i]));
            loaa_dyn_add(b, ":", 1);
            canonical_value(b, json_object_get(v, keys[i]));
        }
        loaa_dyn_add(b, "}", 1);
        free(keys);
        break;
    }
    }
}

char *loaa_json_canonical(const json_t *value)
{
    loaa_dyn b;
    loaa_dyn_init(&b, CANONICAL_MAX);
    canonical_value(&b, value);
    return loaa_dyn_take(&b, NULL); /* NULL when it failed */
}

char *loaa_config_canonical(const loaa_config *c)
{
    json_t *obj = loaa_config_to_json(c, 0);
    if (!obj)
        return NULL;
    char *text = loaa_json_canonical(obj);
    json_decref(obj);
    return text;
}

loaa_status loaa_config_identity(const loaa_config *c, const char *dataset_sha,
                                 const char *backbone_sha, char hex[65])
{
    json_t *obj = loaa_config_to_json(c, 0);
    if (!obj)
        return loaa_fail(LOAA_ERR_NOMEM, "config identity: out of memory");
    if (dataset_sha)
        json_object_set_new(obj, "dataset", json_string(dataset_sha));
    if (backbone_sha && c->backbone_kind != LOAA_BACKBONE_NONE)
        json_object_set_new(obj, "backbone", json_string(backbone_sha));
    char *text = loaa_json_canonical(obj);
    json_decref(obj);
    if (!text)
        return loaa_fail(LOAA_ERR_NOMEM, "config identity: out of memory");
    loaa_sha256_hex(text, strlen(text), hex);
    free(text);
    return LOAA_OK;
}

loaa_status loaa_config_identity_files(const loaa_config *c, char hex[65])
{
    char dataset_sha[65], backbone_sha[65], path[LOAA_PATH_MAX + 32];
    loaa_status st;
    snprintf(path, sizeof path, "%s/dataset.json", c->dataset);
    if ((st = loaa_sha256_file(path, dataset_sha)))
        return loaa_fail_prefix(st, "key 'dataset': ");
    if (c->backbone_kind == LOAA_BACKBONE_SWEEP)
        return loaa_fail(LOAA_ERR_CONFIG,
                         "key 'backbone': sweep '%s' must be resolved to a file before hashing",
                         c->backbone);
    if (c->backbone_kind == LOAA_BACKBONE_PATH && (st = loaa_sha256_file(c->backbone, backbone_sha)))
        return loaa_fail_prefix(st, "key 'backbone': ");
    return loaa_config_identity(c, dataset_sha,
                                c->backbone_kind == LOAA_BACKBONE_PATH ? backbone_sha : NULL, hex);
}

/* YAML 1.2 core schema, section 10.3.2. */
static int matches_int(const char *s)
{
    if (*s == '-' || *s == '+')
        s++;
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

static int matches_float(const char *s)
{
    int digits = 0;
    if (*s == '-' || *s == '+')
        s++;
    while (isdigit((unsigned char)*s))
        s++, digits++;
    if (*s == '.') {
        s++;
        while (isdigit((unsigned char)*s))
            s++, digits++;
    }
    if (!digits)
        return 0;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+')
            s++;
        if (!isdigit((unsigned char)*s))
            return 0;
        while (isdigit((unsigned char)*s))
            s++;
    }
    return *s == '\0';
}

json_t *loaa_core_scalar(const char *s)
{
    if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"))
        return json_null();
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
        return json_true();
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        return json_false();
    if (matches_int(s)) {
        errno = 0;
        long long v = strtoll(s, NULL, 10);
        if (errno == 0)
            return json_integer(v);
        return json_real(strtod(s, NULL));
    }
    if ((s[0] == '0' && s[1] == 'o') || (s[0] == '0' && s[1] == 'x')) {
        const char *p = s + 2;
        int base = s[1] == 'o' ? 8 : 16;
        char *end;
        if (*p) {
            errno = 0;
            long long v = strtoll(p, &end, base);
            if (!*end && errno == 0)
                return json_integer(v);
        }
    }
    if (matches_float(s))
        return json_real(strtod(s, NULL));
    const char *t = (*s == '+' || *s == '-') ? s + 1 : s;
    if (!strcmp(t, ".inf") || !strcmp(t, ".Inf") || !strcmp(t, ".INF"))
        return json_real(*s == '-' ? -INFINITY : INFINITY);
    if (!strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN"))
        return json_real(NAN);
    return json_string(s);
}

loaa_status loaa_config_check_precision(const loaa_config *c, int bf16_level, const char *isa, int *slow)
{
    assert(c && isa);
    if (slow)
        *slow = 0;
    if (c->precision != LOAA_PRECISION_BF16)
        return LOAA_OK;
    if (bf16_level <= 0)
        return loaa_fail(LOAA_ERR_CONFIG,
                         "key 'precision': bf16 needs a CPU with AVX512-BF16 or AMX, and oneDNN runs on '%s' here, "
                         "which has no bf16 matmul (use precision: fp32 on this node)", isa);
    if (slow)
        *slow = bf16_level == 1;
    return LOAA_OK;
}
