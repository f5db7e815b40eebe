/* test_config.c - the trial-config contract: validation, canonical form, identity. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "tests/tap.h"

static int fails_with(loaa_status st, loaa_status want, const char *needle)
{
    return st == want && strstr(loaa_error_detail(), needle) != NULL;
}

static void test_set_and_errors(void)
{
    loaa_config c;
    loaa_config_defaults(&c);
    TAP_OK(c.bottleneck == 32 && c.kernel == 3 && c.method == LOAA_METHOD_LOAA_TF && c.lr == 1e-3 &&
               c.fstride == 10 && c.fold == -1 && c.epochs == 10 && c.batch_size == 32 && c.scale == 0.1,
           "defaults follow the key table");
    TAP_OK(fails_with(loaa_config_set_text(&c, "lrr", "1"), LOAA_ERR_CONFIG, "unknown key 'lrr'"),
           "unknown key named");
    TAP_OK(fails_with(loaa_config_set_text(&c, "bottleneck", "0"), LOAA_ERR_CONFIG, "'bottleneck'"),
           "bottleneck 0 refused, key named: %s", loaa_error_detail());
    TAP_OK(c.bottleneck == 32, "a refused value leaves the config unchanged");
    TAP_OK(fails_with(loaa_config_set_text(&c, "bottleneck", "abc"), LOAA_ERR_CONFIG, "expected an integer"),
           "wrong type named: %s", loaa_error_detail());
    TAP_OK(fails_with(loaa_config_set_text(&c, "epochs", "2.5"), LOAA_ERR_CONFIG, "'epochs'"),
           "fractional integer refused");
    TAP_OK(fails_with(loaa_config_set_text(&c, "method", "loaa-diag"), LOAA_ERR_CONFIG, "loaa-tf"),
           "unknown method lists the allowed ones");
    TAP_OK(fails_with(loaa_config_set_text(&c, "select_on", "test_acc"), LOAA_ERR_CONFIG, "test metric"),
           "selecting on a test metric refused");
    TAP_OK(fails_with(loaa_config_set_text(&c, "lr", "-1"), LOAA_ERR_CONFIG, "'lr'"), "negative lr refused");
    TAP_OK(fails_with(loaa_config_set_text(&c, "grid", "2by2"), LOAA_ERR_CONFIG, "'grid'"), "bad grid refused");
    TAP_OK(loaa_config_set_text(&c, "grid", "2x3") == LOAA_OK && c.grid_p == 2 && c.grid_q == 3, "grid 2x3");
    TAP_OK(loaa_config_set_text(&c, "lr", "5e-3") == LOAA_OK && c.lr == 5e-3, "1e-3 style floats are numbers");
    TAP_OK(loaa_config_set_text(&c, "fold", "null") == LOAA_OK && c.fold == -1, "fold null");
    TAP_OK(loaa_config_set_text(&c, "fold", "3") == LOAA_OK && c.fold == 3, "fold 3");
    TAP_OK(loaa_config_set_text(&c, "blocks", "all") == LOAA_OK && c.blocks == 0, "blocks all");
    TAP_OK(loaa_config_set_text(&c, "blocks", "4") == LOAA_OK && c.blocks == 4, "blocks 4");
    TAP_OK(loaa_config_set_text(&c, "backbone", "{\"sweep\":\"pre\",\"best\":true}") == LOAA_OK &&
               c.backbone_kind == LOAA_BACKBONE_SWEEP && !strcmp(c.backbone, "pre"),
           "backbone from another sweep");
    TAP_OK(fails_with(loaa_config_set_text(&c, "backbone", "{\"sweep\":\"pre\",\"worst\":true}"),
                      LOAA_ERR_CONFIG, "'worst'"), "backbone object with a stray key refused");
    TAP_OK(loaa_config_set_text(&c, "backbone", "none") == LOAA_OK && c.backbone_kind == LOAA_BACKBONE_NONE,
           "backbone none");
    TAP_OK(loaa_config_set_text(&c, "dataset", "123") == LOAA_OK && !strcmp(c.dataset, "123"),
           "a path that looks like a number stays a path");

    TAP_OK(fails_with(loaa_config_parse(&c, "{\"lr\": 1e-3,\n \"lr\": 2}"), LOAA_ERR_PARSE, "line"),
           "duplicate JSON keys refused with a position: %s", loaa_error_detail());
    TAP_OK(fails_with(loaa_config_parse(&c, "[1,2]"), LOAA_ERR_CONFIG, "object"), "non-object refused");
    TAP_OK(fails_with(loaa_config_parse(&c, "{\"seed\": \"one\"}"), LOAA_ERR_CONFIG, "'seed'"), "string seed refused");
}

static void test_validate(void)
{
    loaa_config c;
    loaa_config_defaults(&c);
    TAP_OK(fails_with(loaa_config_validate(&c), LOAA_ERR_CONFIG, "'dataset'"), "dataset required");
    strcpy(c.dataset, "data/x");
    TAP_OK(loaa_config_validate(&c) == LOAA_OK && c.dim == 192 && c.depth == 12 && c.heads == 3,
           "vit-tiny resolves to 192/12/3");
    loaa_config_defaults(&c);
    strcpy(c.dataset, "d");
    loaa_config_set_text(&c, "model", "vit-micro");
    loaa_config_set_text(&c, "heads", "3");
    TAP_OK(fails_with(loaa_config_validate(&c), LOAA_ERR_CONFIG, "'heads'"), "heads must divide dim");
    loaa_config_defaults(&c);
    strcpy(c.dataset, "d");
    loaa_config_set_text(&c, "kernel", "4");
    TAP_OK(fails_with(loaa_config_validate(&c), LOAA_ERR_CONFIG, "'kernel'"), "even kernel refused");
    loaa_config_defaults(&c);
    strcpy(c.dataset, "d");
    loaa_config_set_text(&c, "model", "vit-micro");
    loaa_config_set_text(&c, "blocks", "5");
    TAP_OK(fails_with(loaa_config_validate(&c), LOAA_ERR_CONFIG, "'blocks'"), "blocks beyond depth refused");
    loaa_config_defaults(&c);
    strcpy(c.dataset, "d");
    loaa_config_set_text(&c, "model", "custom");
    TAP_OK(fails_with(loaa_config_validate(&c), LOAA_ERR_CONFIG, "'dim'"), "custom model needs dim");
    loaa_config_set_text(&c, "dim", "128");
    loaa_config_set_text(&c, "depth", "4");
    TAP_OK(loaa_config_validate(&c) == LOAA_OK && c.heads == 2 && c.mlp_ratio == 4, "custom heads = D/64");
}

static char *canonical_of(const char *json, const char *key, const char *text)
{
    loaa_config c;
    if (loaa_config_parse(&c, json))
        return NULL;
    if (key && loaa_config_set_text(&c, key, text))
        return NULL;
    if (loaa_config_validate(&c))
        return NULL;
    return loaa_config_canonical(&c);
}

static void test_canonical(void)
{
    char buf[32];
    loaa_format_double(0.001, buf);
    TAP_OK(!strcmp(buf, "0.001"), "0.001 -> %s", buf);
    loaa_format_double(1e-7, buf);
    TAP_OK(!strcmp(buf, "1e-7"), "1e-7 -> %s", buf);
    loaa_format_double(0.1, buf);
    TAP_OK(!strcmp(buf, "0.1"), "0.1 -> %s", buf);
    loaa_format_double(1.0 / 3.0, buf);
    TAP_OK(strtod(buf, NULL) == 1.0 / 3.0 && strlen(buf) == 18, "1/3 -> %s round-trips", buf);
    loaa_format_double(2.0, buf);
    TAP_OK(!strcmp(buf, "2"), "2.0 -> %s", buf);
    loaa_format_double(1e21, buf);
    TAP_OK(!strcmp(buf, "1e21"), "1e21 -> %s", buf);
    loaa_format_double(-0.0, buf);
    TAP_OK(!strcmp(buf, "0"), "-0 -> %s (\"-0\" would read back as the integer 0)", buf);
    char *z = canonical_of("{\"dataset\":\"d\",\"scale\":-0e3}", NULL, NULL);
    char *z2 = z ? canonical_of(z, NULL, NULL) : NULL;
    char *z3 = canonical_of("{\"dataset\":\"d\",\"scale\":0}", NULL, NULL);
    TAP_OK(z && z2 && z3 && !strcmp(z, z2) && !strcmp(z, z3), "scale -0 and 0 are one trial, and the canonical form is a fixed point");
    free(z);
    free(z2);
    free(z3);

    char *a = canonical_of("{\"dataset\":\"d\",\"lr\":0.001,\"method\":\"lora\"}", NULL, NULL);
    char *b = canonical_of("{\"method\":  \"lora\", \"lr\": 1e-3, \"dataset\": \"d\"}", NULL, NULL);
    char *c = canonical_of("{\"dataset\":\"d\"}", "method", "lora");
    char *d = canonical_of("{\"dataset\":\"d\",\"method\":\"lora\",\"lora_alpha\":32,\"model\":\"custom\","
                           "\"dim\":192,\"depth\":12}", NULL, NULL);
    char *e = canonical_of("{\"dataset\":\"d\",\"method\":\"lora\",\"lr\":0.002}", NULL, NULL);
    TAP_OK(a && b && c && d && e, "all parse");
    if (a && b && c && d && e) {
        TAP_OK(!strcmp(a, b), "key order and number spelling do not change the canonical form");
        TAP_OK(!strcmp(a, c), "JSON and flags give the same canonical form");
        TAP_OK(!strcmp(a, d), "explicit defaults (alpha = r, custom = vit-tiny's shape) change nothing");
        TAP_OK(strcmp(a, e) != 0, "a different lr is a different trial");
        TAP_OK(strstr(a, "\"lr\":0.001") && strstr(a, "\"backbone\":\"none\"") && !strstr(a, " ") &&
                   !strstr(a, "threads") && !strstr(a, "ranks_per_trial"),
               "canonical form: compact, shortest numbers, no execution settings");
        const char *p = a, *prev = "";
        int sorted = 1;
        while ((p = strstr(p, ",\"")) != NULL) {
            p += 2;
            sorted &= strncmp(prev, p, strcspn(p, "\"")) < 0 || !*prev;
            prev = p;
        }
        TAP_OK(sorted, "keys sorted");
        TAP_DIAG("canonical: %s", a);
    }
    free(a);
    free(b);
    free(c);
    free(d);
    free(e);
}

/* Changing this means every recorded sweep would re-run its trials: bump it only on purpose. */
#define IDENTITY_PIN "c623f497ce31bf1da0d17c0ad5c29119ec1fc9b6761ecefbc23b6dd61fa1717d"

/* `precision` came after databases existed: fp32 keeps the old text (and hash), bf16 is another trial. */
static void test_precision_identity(const loaa_config *base)
{
    loaa_config c = *base;
    char *fp32_text = loaa_config_canonical(&c);
    TAP_OK(fp32_text && !strstr(fp32_text, "precision"), "precision fp32 is absent from the canonical form");
    TAP_OK(loaa_config_set_text(&c, "precision", "bf16") == LOAA_OK && c.precision == LOAA_PRECISION_BF16,
           "precision bf16 is accepted");
    char *bf16_text = loaa_config_canonical(&c);
    TAP_OK(bf16_text && strstr(bf16_text, "\"precision\":\"bf16\""), "precision bf16 enters the canonical form");
    char h[65];
    loaa_config_identity(&c, "0000", NULL, h);
    TAP_OK(strcmp(h, IDENTITY_PIN) != 0, "bf16 is another identity");
    loaa_config back;
    TAP_OK(bf16_text && loaa_config_parse(&back, bf16_text) == LOAA_OK && back.precision == LOAA_PRECISION_BF16,
           "the bf16 canonical text reads back as bf16");
    TAP_OK(fails_with(loaa_config_set_text(&c, "precision", "fp16"), LOAA_ERR_CONFIG, "precision") &&
               strstr(loaa_error_detail(), "fp32, bf16"),
           "precision fp16 refused naming the key and the allowed values: %s", loaa_error_detail());
    TAP_OK(fails_with(loaa_config_set_text(&c, "precision", "auto"), LOAA_ERR_CONFIG, "precision"),
           "no auto precision: identity must not depend on the node");
    free(fp32_text);
    free(bf16_text);
}

static void test_identity(void)
{
    char dir[] = "/tmp/loaa-test-config-XXXXXX";
    TAP_OK(mkdtemp(dir) != NULL, "temp dir");
    char path[256];
    snprintf(path, sizeof path, "%s/dataset.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"name\":\"x\"}\n", f);
    fclose(f);

    loaa_config c1, c2, c3;
    loaa_config_defaults(&c1);
    snprintf(c1.dataset, sizeof c1.dataset, "%s", dir);
    loaa_config_validate(&c1);
    c2 = c1;
    snprintf(c2.dataset, sizeof c2.dataset, "%s/.", dir);
    c2.threads = 7;
    c2.ranks_per_trial = 2;
    char h1[65], h2[65], h3[65];
    TAP_OK(loaa_config_identity_files(&c1, h1) == LOAA_OK, "identity from files");
    TAP_OK(loaa_config_identity_files(&c2, h2) == LOAA_OK && !strcmp(h1, h2),
           "the dataset is identified by content, not path; execution settings are not identity");
    c3 = c1;
    c3.seed = 1;
    loaa_config_identity_files(&c3, h3);
    TAP_OK(strcmp(h1, h3) != 0, "another seed, another identity");
    TAP_OK(strlen(h1) == 64, "identity is a SHA-256 hex digest");
    /* Fixed text -> fixed hash: a change in the canonical form would silently re-run every sweep. */
    loaa_config_identity(&c1, "0000", NULL, h3);
    TAP_DIAG("identity of defaults with dataset sha '0000': %s", h3);
    TAP_OK(!strcmp(h3, IDENTITY_PIN), "identity of the defaults is pinned");
    test_precision_identity(&c1);
    c3 = c1;
    c3.backbone_kind = LOAA_BACKBONE_PATH;
    snprintf(c3.backbone, sizeof c3.backbone, "%s/missing.safetensors", dir);
    TAP_OK(fails_with(loaa_config_identity_files(&c3, h3), LOAA_ERR_NOTFOUND, "backbone"),
           "missing backbone named: %s", loaa_error_detail());
    c3.backbone_kind = LOAA_BACKBONE_PATH;
    snprintf(c3.backbone, sizeof c3.backbone, "%s", path);
    char h4[65];
    loaa_config_identity_files(&c3, h3);
    snprintf(c3.backbone, sizeof c3.backbone, "%s/./dataset.json", dir);
    loaa_config_identity_files(&c3, h4);
    TAP_OK(!strcmp(h3, h4) && strcmp(h3, h1), "backbone identified by content");
    unlink(path);
    rmdir(dir);
}

static void test_core_scalar(void)
{
    struct { const char *text; json_type type; } cases[] = {
        {"null", JSON_NULL}, {"~", JSON_NULL}, {"true", JSON_TRUE}, {"False", JSON_FALSE},
        {"42", JSON_INTEGER}, {"-7", JSON_INTEGER}, {"0x1F", JSON_INTEGER}, {"0o17", JSON_INTEGER},
        {"1e-3", JSON_REAL}, {"3.", JSON_REAL}, {".5", JSON_REAL},
        {"yes", JSON_STRING}, {"1e", JSON_STRING}, {"vit-tiny", JSON_STRING}, {"1_000", JSON_STRING},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *v = loaa_core_scalar(cases[i].text);
        TAP_OK(v && json_typeof(v) == cases[i].type, "core schema: '%s'", cases[i].text);
        json_decref(v);
    }
    json_t *v = loaa_core_scalar("-.inf");
    TAP_OK(v == NULL, "-.inf is a float the config cannot hold (NULL, reported as unreadable)");
    TAP_OK(loaa_config_set_text(&(loaa_config){0}, "lr", ".nan") == LOAA_ERR_PARSE, "lr .nan refused");
    v = loaa_core_scalar("0x1F");
    TAP_OK(json_integer_value(v) == 31, "0x1F = 31");
    json_decref(v);
}

int main(void)
{
    test_set_and_errors();
    test_validate();
    test_canonical();
    test_identity();
    test_core_scalar();
    return tap_done();
}
