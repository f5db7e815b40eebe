/* config.c - the trial-configuration key table, validation, canonical form and identity. */
#include "common/config.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
/* Documentation order; `offset` locates the field in loaa_config. */
typedef struct key_slot {
    loaa_key_info info;
    size_t offset;
    int omit_at_default; /* a key added after databases existed: absent from the canonical form at its default */
} key_slot;

#define OFF(f) offsetof(loaa_config, f)
static const key_slot key_table[] = {
    {{"dataset", LOAA_KEY_PATH, 1, "-", "loaa dataset folder (identity: SHA-256 of its dataset.json)", NULL, 0, 0}, OFF(dataset)},
    {{"fold", LOAA_KEY_INT_OR_NULL, 1, "null", "k-fold datasets: the test fold; validation is the next fold", NULL, 0, 1000}, OFF(fold)},
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
     OFF(precision), 1},
    {{"ranks_per_trial", LOAA_KEY_INT, 0, "1", "MPI ranks training one trial (ScaLAPACK when > 1)", NULL, 1, 4096}, OFF(ranks_per_trial)},
    {{"grid", LOAA_KEY_GRID, 0, "auto", "BLACS process grid PxQ", NULL, 0, 0}, OFF(grid_p)},
    {{"threads", LOAA_KEY_INT, 0, "0", "BLAS threads per trial (0 = library default)", NULL, 0, 1024}, OFF(threads)},
    {{"fault", LOAA_KEY_PATH, 0, "", "test-only fault injection (crash, abort, nan, fail, sleep)", NULL, 0, 0}, OFF(fault)},
};
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
    if (json_is_integer(v))
        x = (double)json_integer_value(v);
    else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)))
        x = json_real_value(v);
    else
        return wrong_type(k->name, k->type, v);
    if (x < k->min || x > k->max)
        return loaa_fail(LOAA_ERR_CONFIG, "key '%s': must be between %.0f and %.0f, got %.0f",
                         k->name, k->min, k->max, x);
    *out = json_is_integer(v) ? (int64_t)json_integer_value(v) : (int64_t)x;
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

static loaa_status set_slot(loaa_config *c, const key_slot *slot, const json_t *v)
{
    const loaa_key_info *k = &slot->info;
    char *base = (char *)c + slot->offset;
    int64_t iv;
    loaa_status st;

    switch (k->type) {
    case LOAA_KEY_PATH:
        if (!json_is_string(v))
            return wrong_type(k->name, k->type, v);
        return copy_string(k->name, base, strcmp(k->name, "fault") == 0 ? LOAA_NAME_MAX : LOAA_PATH_MAX,
                           json_string_value(v));
    case LOAA_KEY_INT:
        if ((st = get_int(k, v, &iv)))
            return st;
        if (strcmp(k->name, "seed") == 0)
            c->seed = iv;
        else
            *(int *)base = (int)iv;
        return LOAA_OK;
    case LOAA_KEY_INT_OR_NULL:
        if (json_is_null(v)) {
            *(int *)base = strcmp(k->name, "fold") == 0 ? -1 : 0;
            return LOAA_OK;
        }
        if ((st = get_int(k, v, &iv)))
            return st;
        *(int *)base = (int)iv;
        return LOAA_OK;
    case LOAA_KEY_FLOAT: {
        if (!json_is_number(v))
            return wrong_type(k->name, k->type, v);
        double x = json_number_value(v);
        if (!isfinite(x))
            return loaa_fail(LOAA_ERR_CONFIG, "key '%s': must be finite", k->name);
        if (x < k->min || x > k->max)
            return loaa_fail(LOAA_ERR_CONFIG, "key '%s': must be between %g and %g, got %g",
                             k->name, k->min, k->max, x);
        *(double *)base = x;
        return LOAA_OK;
    }
    case LOAA_KEY_NAME: {
        if (!json_is_string(v))
            return wrong_type(k->name, k->type, v);
        const char *s = json_string_value(v);
        int i = name_index(k->names, s);
        if (i < 0)
            return bad_name(k, s);
        if (k->names == select_names)
            return copy_string(k->name, c->select_on, sizeof c->select_on, s);
        *(int *)base = i;
        return LOAA_OK;
    }
    case LOAA_KEY_MODEL: {
        if (!json_is_string(v))
            return wrong_type(k->name, k->type, v);
        const char *s = json_string_value(v);
        for (size_t i = 0; i < N_PRESETS; i++)
            if (strcmp(model_presets[i].name, s) == 0)
                return copy_string(k->name, c->model, sizeof c->model, s);
        if (strcmp(s, "custom") == 0)
            return copy_string(k->name, c->model, sizeof c->model, s);
        return loaa_fail(LOAA_ERR_CONFIG,
                         "key 'model': unknown model '%s' (expected vit-micro, vit-tiny, "
                         "vit-small, vit-base, or custom with dim/depth/heads)", s);
    }
    case LOAA_KEY_BACKBONE:
        if (json_is_null(v) || (json_is_string(v) && strcmp(json_string_value(v), "none") == 0)) {
            c->backbone_kind = LOAA_BACKBONE_NONE;
            c->backbone[0] = '\0';
            return LOAA_OK;
        }
        if (json_is_string(v)) {
            if (!json_string_value(v)[0])
                return loaa_fail(LOAA_ERR_CONFIG, "key 'backbone': empty path");
            if ((st = copy_string(k->name, c->backbone, sizeof c->backbone, json_string_value(v))))
                return st;
            c->backbone_kind = LOAA_BACKBONE_PATH;
            return LOAA_OK;
        }
        if (json_is_object(v)) {
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
            if ((st = copy_string(k->name, c->backbone, sizeof c->backbone, sweep)))
                return st;
            c->backbone_kind = LOAA_BACKBONE_SWEEP;
            return LOAA_OK;
        }
        return wrong_type(k->name, k->type, v);
    case LOAA_KEY_BLOCKS:
        if (json_is_string(v) && strcmp(json_string_value(v), "all") == 0) {
            c->blocks = 0;
            return LOAA_OK;
        }
        if ((st = get_int(k, v, &iv)))
            return st;
        c->blocks = (int)iv;
        return LOAA_OK;
    case LOAA_KEY_GRID: {
        if (!json_is_string(v))
            return wrong_type(k->name, k->type, v);
        const char *s = json_string_value(v);
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
    }
    return loaa_fail(LOAA_ERR_INTERNAL, "key '%s': unhandled type", k->name);
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

loaa_status loaa_method_parse(const char *name, loaa_method *out)
{
    int i = name_index(method_names, name);
    if (i < 0)
        return loaa_fail(LOAA_ERR_CONFIG, "key 'method': unknown value '%s'", name);
    *out = (loaa_method)i;
    return LOAA_OK;
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
        return json_integer(strcmp(k->name, "seed") == 0 ? (json_int_t)c->seed : *(const int *)base);
    case LOAA_KEY_INT_OR_NULL: {
        int x = *(const int *)base;
        int is_null = strcmp(k->name, "fold") == 0 ? x < 0 : x == 0;
        return is_null ? json_null() : json_integer(x);
    }
    case LOAA_KEY_FLOAT:
        if (strcmp(k->name, "lora_alpha") == 0 && c->lora_alpha == 0)
            return json_real((double)c->bottleneck); /* "= r", made explicit */
        return json_real(*(const double *)base);
    case LOAA_KEY_NAME:
        if (k->names == select_names)
            return json_string(c->select_on);
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
        if (key_table[i].omit_at_default && *(const int *)((const char *)c + key_table[i].offset) == 0)
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

typedef struct text_buf {
    char *data;
    size_t len, cap;
    int failed;
} text_buf;

static void tb_put(text_buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void tb_str(text_buf *b, const char *s) { tb_put(b, s, strlen(s)); }

static void tb_json_string(text_buf *b, const char *s, size_t n)
{
    tb_put(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        char esc[8];
        if (ch == '"' || ch == '\\') {
            esc[0] = '\\';
            esc[1] = (char)ch;
            tb_put(b, esc, 2);
        } else if (ch < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", ch);
            tb_str(b, esc);
        } else {
            tb_put(b, (const char *)&s[i], 1);
        }
    }
    tb_put(b, "\"", 1);
}

static int compare_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void canonical_value(text_buf *b, const json_t *v)
{
    char num[32];
    switch (json_typeof(v)) {
    case JSON_NULL: tb_str(b, "null"); break;
    case JSON_TRUE: tb_str(b, "true"); break;
    case JSON_FALSE: tb_str(b, "false"); break;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        tb_str(b, num);
        break;
    case JSON_REAL:
        loaa_format_double(json_real_value(v), num);
        tb_str(b, num);
        break;
    case JSON_STRING: tb_json_string(b, json_string_value(v), json_string_length(v)); break;
    case JSON_ARRAY:
        tb_put(b, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                tb_put(b, ",", 1);
            canonical_value(b, json_array_get(v, i));
        }
        tb_put(b, "]", 1);
        break;
    case JSON_OBJECT: {
        size_t n = json_object_size(v), i = 0;
        const char **keys = malloc((n ? n : 1) * sizeof *keys);
        if (!keys) {
            b->failed = 1;
            return;
        }
        const char *key;
        json_t *member;
        json_object_foreach((json_t *)v, key, member) keys[i++] = key;
        qsort(keys, n, sizeof *keys, compare_keys);
        tb_put(b, "{", 1);
        for (i = 0; i < n; i++) {
            if (i)
                tb_put(b, ",", 1);
            tb_json_string(b, keys[i], strlen(keys[i]));
            tb_put(b, ":", 1);
            canonical_value(b, json_object_get(v, keys[i]));
        }
        tb_put(b, "}", 1);
        free(keys);
        break;
    }
    }
}

char *loaa_json_canonical(const json_t *value)
{
    text_buf b = {0};
    canonical_value(&b, value);
    if (b.failed) {
        free(b.data);
        return NULL;
    }
    return b.data;
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
