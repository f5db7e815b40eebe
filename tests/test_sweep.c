/* test_sweep.c - sweep files: parsing, every error class with file:line:col, caps, grid/random expansion, dedup; early termination. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "coordinator/coordinator.h"
#include "coordinator/prune.h"
#include "coordinator/sweep.h"
#include "tests/tap.h"

static char tmpdir[256];

static loaa_status parse(const char *text, loaa_sweep **sw)
{
    return loaa_sweep_parse(sw, text, strlen(text), "t.yaml", 0);
}

/* The file must fail with `want` and a detail containing `needle`. */
static void fails(const char *text, loaa_status want, const char *needle, const char *what)
{
    loaa_sweep *sw = NULL;
    loaa_status st = parse(text, &sw);
    int ok = st == want && strstr(loaa_error_detail(), needle) != NULL;
    TAP_OK(ok, "%s: %s", what, loaa_error_detail());
    if (!ok)
        TAP_DIAG("status %d (%s), wanted %d with '%s'", st, loaa_strerror(st), want, needle);
    loaa_sweep_free(sw);
}

typedef struct collected {
    int n;
    char hashes[64][65];
    char params[64][512];
    double lr[64];
} collected;

static loaa_status collect(void *p, const loaa_sweep_trial *t)
{
    collected *c = p;
    if (c->n < 64) {
        snprintf(c->hashes[c->n], 65, "%s", t->hash);
        char *text = json_dumps(t->params, JSON_COMPACT | JSON_SORT_KEYS);
        snprintf(c->params[c->n], 512, "%s", text ? text : "");
        free(text);
        c->lr[c->n] = t->cfg->lr;
    }
    c->n++;
    return LOAA_OK;
}

static void test_errors(void)
{
    fails("name: x\nmethod: grid\ndatasets: [d]\nparamters: {}\n", LOAA_ERR_CONFIG, "t.yaml:4:1: sweep: unknown key 'paramters'",
          "unknown top-level key cites line and column");
    fails("name: x\ndatasets: [d]\nparameters:\n  lrr: {value: 1}\n", LOAA_ERR_CONFIG, "t.yaml:4:3: parameters: unknown key 'lrr'",
          "unknown parameter key");
    fails("name: x\ndatasets: [d]\nparameters:\n  bottleneck: {value: abc}\n", LOAA_ERR_CONFIG, "t.yaml:4:23: key 'bottleneck'",
          "wrong type cites the value");
    fails("name: x\ndatasets: [d]\nparameters:\n  bottleneck: {values: [8, 0]}\n", LOAA_ERR_CONFIG, "t.yaml:4:28: key 'bottleneck'",
          "out-of-range list item cites that item");
    fails("name: x\ndatasets: []\n", LOAA_ERR_CONFIG, "t.yaml:2:11: datasets is empty", "empty axis");
    fails("name: x\ndatasets: [d]\nseeds: []\n", LOAA_ERR_CONFIG, "t.yaml:3:8: seeds is empty", "empty seeds axis");
    fails("name: x\nmethod: bayes\ndatasets: [d]\n", LOAA_ERR_CONFIG, "t.yaml:2:9: unknown method 'bayes'", "unknown sweep method");
    fails("name: x\ndatasets: [d]\nparameters:\n  method: {values: [lora, loaa-diag]}\n", LOAA_ERR_CONFIG,
          "t.yaml:4:27: key 'method': unknown value 'loaa-diag'", "unknown training method");
    fails("datasets: [d]\n", LOAA_ERR_CONFIG, "t.yaml:1:1: 'name' is required", "missing name");
    fails("name: x\n", LOAA_ERR_CONFIG, "'datasets' is required", "missing datasets");
    fails("name: x\ndatasets: [d]\nparameters:\n  lr: {distribution: uniform, min: 0.1, max: 0.2}\n", LOAA_ERR_CONFIG,
          "t.yaml:4:22: parameter 'lr': a distribution needs 'method: random'", "distribution in a grid");
    fails("name: x\nmethod: random\ndatasets: [d]\n", LOAA_ERR_CONFIG, "run_cap", "random without run_cap");
    fails("name: x\nmethod: random\nrun_cap: 3\ndatasets: [d]\nparameters:\n  lr: {distribution: log_uniform_values, min: 0, max: 1}\n",
          LOAA_ERR_CONFIG, "t.yaml:6:47: parameter 'lr': log_uniform_values needs min > 0", "log-uniform from zero");
    fails("name: x\ndatasets: [d]\nparameters:\n  lr: {value: 1, values: [2]}\n", LOAA_ERR_CONFIG, "exactly one of", "two forms");
    fails("name: x\ndatasets: [d]\nparameters:\n  lr: 0.1\n", LOAA_ERR_CONFIG, "t.yaml:4:7: parameter 'lr': expected {value",
          "bare value instead of {value}");
    fails("name: x\nname: y\ndatasets: [d]\n", LOAA_ERR_CONFIG, "t.yaml:2:1: sweep: duplicate key 'name'", "duplicate key");
    fails("name: x\ndatasets: [d]\nparameters:\n  dataset: {value: d}\n", LOAA_ERR_CONFIG, "datasets are an axis", "dataset parameter");
    fails("name: x\ndatasets: [d]\nparameters:\n  ranks_per_trial: {value: 2}\n", LOAA_ERR_CONFIG, "one value per sweep",
          "ranks_per_trial as a parameter");
    fails("name: x\ndatasets: [d]\nranks_per_trial: 0\n", LOAA_ERR_CONFIG, "t.yaml:3:18: ranks_per_trial must be between",
          "ranks_per_trial 0");
    fails("name: x\ndatasets: [d]\nearly_terminate: {type: hyperbandit}\n", LOAA_ERR_CONFIG, "t.yaml:3:25: early_terminate: unknown type",
          "unknown early_terminate type");
    fails("name: x\ndatasets: [d]\nmetric: {name: accuracy}\n", LOAA_ERR_CONFIG, "t.yaml:3:16: metric: unknown name 'accuracy'",
          "unknown metric");
    fails("name: x\ndatasets: [d]\nmetric: {name: test_acc, goal: maximize}\n", LOAA_ERR_CONFIG,
          "t.yaml:3:16: metric: 'test_acc' is a test metric; a sweep selects (best seed, configuration, {best: true}, export --best) on "
          "validation only: use {name: val_acc}", "a test metric is refused, naming the validation metric");
    fails("name: x\ndatasets: [d]\nmetric: {name: test_map}\n", LOAA_ERR_CONFIG, "use {name: val_map}", "test_map: select on val_map");
    fails("name: x\ndatasets: [d]\nmetric: {name: test_top5}\n", LOAA_ERR_CONFIG,
          "An existing chained sweep keeps the backbone it resolved (trials.backbone_sha256)", "the refusal speaks of chained sweeps");
    fails("name: x\ndatasets: [d\n", LOAA_ERR_PARSE, "t.yaml:3:1: YAML syntax", "YAML syntax error cites the position");
    fails("name: x\ndatasets: [d]\nparameters:\n  lr: {value: *nope}\n", LOAA_ERR_PARSE, "t.yaml:4:15: alias *nope",
          "alias to no anchor");
    fails("name: x\ndatasets: [d]\nparameters:\n  backbone: &a {value: *a}\n", LOAA_ERR_PARSE, "names no finished anchor",
          "self-referencing alias refused (no cycles)");
    fails("- a\n- b\n", LOAA_ERR_CONFIG, "t.yaml:1:1: a sweep file is a mapping", "not a mapping");
    fails("", LOAA_ERR_PARSE, "empty sweep file", "empty file");
    fails("name: x\ndatasets: [d]\n---\nname: y\n", LOAA_ERR_PARSE, "one YAML document", "two documents");
    fails("name: x\ndatasets: [d]\nparameters:\n  select_on: {values: [val_acc, val_loss]}\nearly_terminate: {type: median}\n",
          LOAA_ERR_CONFIG, "one select_on metric", "early termination over two select_on metrics");

    fails("name: x\ndatasets: [d]\nearly_terminate: {type: asha, group_by: [dataset, seed]}\n", LOAA_ERR_CONFIG,
          "t.yaml:3:51: early_terminate group_by: seeds are never compared", "group_by seed refused (seeds are averaged)");
    fails("name: x\ndatasets: [d]\nearly_terminate: {type: asha, group_by: [datset]}\n", LOAA_ERR_CONFIG,
          "t.yaml:3:42: early_terminate group_by: 'datset' is no identity key", "group_by names an unknown key");
    fails("name: x\ndatasets: [d]\nearly_terminate: {type: asha, group_by: [threads]}\n", LOAA_ERR_CONFIG, "'threads' is no identity key",
          "group_by names an execution setting");
    fails("name: x\ndatasets: [d]\nearly_terminate: {type: asha, group_by: [fold, fold]}\n", LOAA_ERR_CONFIG, "'fold' is named twice",
          "group_by names a key twice");
    fails("name: x\ndatasets: [d]\nearly_terminate: {type: asha, group_by: dataset}\n", LOAA_ERR_CONFIG, "expected a list of trial keys",
          "group_by is a list");

    /* Non-finite numbers (issue 18 #7): named as such at the value, not as bad UTF-8. */
    fails("name: x\ndatasets: [d]\nparameters:\n  lr: {values: [1e-3, .nan]}\n", LOAA_ERR_CONFIG,
          "t.yaml:4:23: value '.nan' must be a finite number", ".nan is refused as a non-finite number");
    fails("name: x\ndatasets: [d]\nparameters:\n  lr: {value: -.inf}\n", LOAA_ERR_CONFIG, "t.yaml:4:15: value '-.inf' must be a finite number",
          "-.inf is refused as a non-finite number");
    fails("name: x\nmethod: random\nrun_cap: 2\ndatasets: [d]\nparameters:\n  lr: {distribution: uniform, min: 0, max: 1e999}\n",
          LOAA_ERR_CONFIG, "t.yaml:6:44: value '1e999' must be a finite number", "1e999 (overflows to inf) is refused as non-finite");

    /* Duplicate keys inside a value (issue 18 #8) are refused like duplicate keys elsewhere, not last-wins. */
    fails("name: x\ndatasets: [d]\nparameters:\n  backbone: {value: {sweep: a, sweep: b, best: true}}\n", LOAA_ERR_CONFIG,
          "t.yaml:4:32: duplicate key 'sweep' in a value (first at line 4)", "a duplicate key inside a parameter's value is refused");
    fails("name: x\ndatasets: [d]\nparameters:\n  backbone:\n    values:\n      - {sweep: a, best: true}\n      - sweep: b\n"
          "        best: true\n        sweep: c\n",
          LOAA_ERR_CONFIG, "t.yaml:9:9: duplicate key 'sweep' in a value (first at line 7)", "a duplicate key in a block mapping value");

    /* The W&B forms users paste (issue 14). */
    fails("name: x\ndatasets: [d]\nrun_cap: 4\n", LOAA_ERR_CONFIG, "t.yaml:3:10: run_cap belongs to method random",
          "run_cap on a grid is an error, not silently ignored");
    fails("name: x\nmethod: random\nrun_cap: 2\ndatasets: [d]\nparameters:\n  lr: {distribution: beta, min: 0, max: 1}\n", LOAA_ERR_CONFIG,
          "t.yaml:6:22: parameter 'lr': unknown distribution 'beta' (supported: categorical (with values), constant",
          "unknown distribution names the supported ones");
    fails("name: x\nmethod: random\nrun_cap: 2\ndatasets: [d]\nparameters:\n  lr: {distribution: normal, mu: 0.001, sigma: 0.001}\n",
          LOAA_ERR_CONFIG, "(the range of normal, mu -/+ 8 sigma unless min/max bound it) t.yaml:6:7: key 'lr'",
          "a normal whose range reaches values the key refuses asks for min/max");
    fails("name: x\nmethod: random\nrun_cap: 2\ndatasets: [d]\nparameters:\n  lr: {distribution: uniform, min: 0.1, max: 0.2, q: 0.01}\n",
          LOAA_ERR_CONFIG, "t.yaml:6:54: parameter 'lr': q belongs to the q_ distributions", "q on a non-q distribution");
    fails("name: x\nmethod: random\nrun_cap: 2\ndatasets: [d]\nparameters:\n  bottleneck: {distribution: q_uniform, min: 3, max: 5, q: 8}\n",
          LOAA_ERR_CONFIG, "no multiple of q 8 lies in [3, 5]", "a q grid with no point in the range");
    fails("name: x\nmethod: random\nrun_cap: 2\ndatasets: [d]\nparameters:\n  bottleneck: {distribution: uniform, min: 3, max: 5}\n",
          LOAA_ERR_CONFIG, "t.yaml:6:30: parameter 'bottleneck' takes integers: use int_uniform", "a continuous distribution on an integer key");
    fails("name: x\ndatasets: [d]\nparameters:\n  method: {distribution: categorical, value: lora}\n", LOAA_ERR_CONFIG,
          "distribution categorical takes values: [...]", "categorical with value");

    /* Conditional parameters: errors at the condition or the case. */
    fails("name: x\ndatasets: [d]\nparameters:\n  lr: {by: methd, cases: {full: [5e-5]}}\n", LOAA_ERR_CONFIG,
          "t.yaml:4:12: parameter 'lr': by 'methd' is no trial key", "a condition on an unknown key");
    fails("name: x\ndatasets: [d]\nparameters:\n  lr: {by: method, cases: {full: [5e-5]}}\n", LOAA_ERR_CONFIG,
          "t.yaml:4:12: parameter 'lr': by 'method': the sweep does not set 'method'", "a condition on a key the sweep does not set");
    fails("name: x\ndatasets: [d]\nparameters:\n  method: {values: [full, lora]}\n  lr: {by: method, cases: {full: [5e-5], ful: [1]}}\n",
          LOAA_ERR_CONFIG, "t.yaml:5:42: parameter 'lr': case is not a value of 'method' (its values: [\"full\",\"lora\"])",
          "a case on an unknown value of the condition");
    fails("name: x\ndatasets: [d]\nparameters:\n  method: {values: [full, lora]}\n  lr: {by: method, cases: {full: [-1]}}\n",
          LOAA_ERR_CONFIG, "t.yaml:5:35: key 'lr'", "a case's value is checked against the key at its own position");
    fails("name: x\nmethod: random\nrun_cap: 2\ndatasets: [d]\nparameters:\n  bottleneck: {distribution: int_uniform, min: 4, max: 8}\n"
          "  lr: {by: bottleneck, cases: {4: [1e-3]}}\n", LOAA_ERR_CONFIG, "t.yaml:7:12: parameter 'lr': by 'bottleneck': a condition must be listed",
          "a condition on a distribution");
    fails("name: x\ndatasets: [d]\nseeds: [1]\nparameters:\n  method: {values: [full, lora]}\n  lr: {by: method, cases: {full: {by: seed, cases: {1: 1}}}}\n",
          LOAA_ERR_CONFIG, "t.yaml:6:34: parameter 'lr': a case cannot itself be conditional", "nested conditions");
    fails("name: x\ndatasets: [d]\nparameters:\n  method: {values: [full]}\n  lr: {by: method, cases: {full: [1e-3]}, min: 1}\n",
          LOAA_ERR_CONFIG, "t.yaml:5:43: lr: unknown key 'min' (expected by, cases, default)", "a conditional takes by, cases, default");

    /* Resource bombs. */
    char deep[4096] = "name: x\ndatasets: [d]\nparameters:\n  lr: {value: ";
    for (int i = 0; i < 100; i++)
        strcat(deep, "[");
    fails(deep, LOAA_ERR_LIMIT, "nested deeper than", "nesting bomb refused");
    char bomb[8192];
    snprintf(bomb, sizeof bomb,
             "name: x\ndatasets: [d]\n"
             "description: [&a [1,1,1,1,1,1,1,1,1,1], &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a], &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b],\n"
             "    &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c], &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d], &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e],\n"
             "    &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f], &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]]\n"
             "parameters:\n  backbone: {value: *h}\n");
    fails(bomb, LOAA_ERR_LIMIT, "alias bomb", "alias expansion bomb refused");
}

static void test_expansion(void)
{
    loaa_sweep *sw;
    const char *text = "name: grid1\n"
                       "metric: {name: val_loss}\n"
                       "datasets: [d1, d2]\n"
                       "seeds: [0, 1]\n"
                       "parameters:\n"
                       "  method: {values: [lora, adapter]}\n"
                       "  lr: {values: [1e-3, 0.001, 5e-3]}   # 1e-3 is a number (YAML 1.2 core schema) and equals 0.001\n"
                       "  model: {value: vit-micro}\n"
                       "  backbone: {value: {sweep: pre, best: true}}\n";
    loaa_status st = parse(text, &sw);
    TAP_OK(st == LOAA_OK, "a grid with axes parses: %s", loaa_error_detail());
    if (st)
        return;
    TAP_OK(!strcmp(loaa_sweep_goal(sw), "minimize"), "a loss metric defaults to minimize");
    int64_t count = 0, unique = 0, dups = 0;
    TAP_OK(loaa_sweep_count(sw, 1000, &count) == LOAA_OK && count == 2 * 3 * 2 * 2, "count before dedup: %lld", (long long)count);
    TAP_OK(loaa_sweep_count(sw, 10, &count) == LOAA_ERR_LIMIT && strstr(loaa_error_detail(), "--max-trials"),
           "over the trial cap refused: %s", loaa_error_detail());
    collected c = {0};
    st = loaa_sweep_expand(sw, 1000, 0, collect, &c, &unique, &dups);
    TAP_OK(st == LOAA_ERR_CONFIG && strstr(loaa_error_detail(), "not resolved"), "unresolved chained backbone refused");
    st = loaa_sweep_resolve_backbone(sw, "pre", "runs/pre/backbone.safetensors");
    TAP_OK(st == LOAA_OK, "chained backbone resolves");
    memset(&c, 0, sizeof c);
    st = loaa_sweep_expand(sw, 1000, 0, collect, &c, &unique, &dups);
    TAP_OK(st == LOAA_OK && unique == 16 && dups == 8 && c.n == 16, "1e-3 and 0.001 are one trial: %lld unique, %lld dropped",
           (long long)unique, (long long)dups);
    TAP_OK(strstr(c.params[0], "\"seed\":0") && strstr(c.params[1], "\"seed\":1") && strstr(c.params[0], "\"dataset\":\"d1\"") &&
               strstr(c.params[2], "\"dataset\":\"d2\""),
           "seeds vary fastest, then datasets: %s | %s", c.params[0], c.params[2]);
    int distinct = 1;
    for (int i = 0; i < c.n; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(c.hashes[i], c.hashes[j]))
                distinct = 0;
    TAP_OK(distinct, "identities are distinct");
    collected again = {0};
    loaa_sweep_expand(sw, 1000, 0, collect, &again, NULL, NULL);
    TAP_OK(again.n == c.n && !memcmp(again.hashes, c.hashes, sizeof c.hashes), "expansion is deterministic");
    loaa_sweep_free(sw);

    text = "name: rnd\nmethod: random\nrun_cap: 5\ndatasets: [d]\nseeds: [0, 1]\nparameters:\n"
           "  lr: {distribution: log_uniform_values, min: 1e-4, max: 1e-2}\n"
           "  bottleneck: {distribution: int_uniform, min: 4, max: 64}\n"
           "  method: {values: [lora, adapter, loaa-tf]}\n";
    st = parse(text, &sw);
    TAP_OK(st == LOAA_OK, "a random sweep parses: %s", loaa_error_detail());
    if (st)
        return;
    memset(&c, 0, sizeof c);
    st = loaa_sweep_expand(sw, 1000, 0, collect, &c, &unique, &dups);
    int in_range = 1;
    for (int i = 0; i < c.n; i++)
        in_range &= c.lr[i] >= 1e-4 && c.lr[i] <= 1e-2;
    TAP_OK(st == LOAA_OK && c.n == 10 && in_range, "run_cap points x seeds, lr within its range (%d trials)", c.n);
    TAP_OK(c.lr[0] == c.lr[1] && c.lr[0] != c.lr[2], "each sampled point runs with every seed");
    loaa_sweep_free(sw);
    st = parse("name: rnd\nmethod: random\nrun_cap: 7\ndatasets: [d]\nseeds: [0, 1]\nparameters:\n"
               "  lr: {distribution: log_uniform_values, min: 1e-4, max: 1e-2}\n"
               "  bottleneck: {distribution: int_uniform, min: 4, max: 64}\n"
               "  method: {values: [lora, adapter, loaa-tf]}\n",
               &sw);
    collected more = {0};
    if (!st)
        loaa_sweep_expand(sw, 1000, 0, collect, &more, NULL, NULL);
    TAP_OK(!st && more.n == 14 && !memcmp(more.hashes, c.hashes, 10 * sizeof c.hashes[0]),
           "a larger run_cap keeps the earlier samples (only new trials run)");
    loaa_sweep_free(sw);

    /* log_uniform_values over an empty or ulp-wide range (issue 18 #9): the bound exactly, so the key accepts it and a grid's
       0.001 is the same identity. */
    st = parse("name: r\nmethod: random\nrun_cap: 3\ndatasets: [d]\nparameters:\n"
               "  lr: {distribution: log_uniform_values, min: 10, max: 10}\n", &sw);
    memset(&c, 0, sizeof c);
    if (!st)
        st = loaa_sweep_expand(sw, 1000, 0, collect, &c, &unique, &dups);
    TAP_OK(!st && c.n == 1 && c.lr[0] == 10.0, "log_uniform_values min = max = 10 (lr's upper bound) samples 10 exactly: %s",
           st ? loaa_error_detail() : "ok");
    loaa_sweep_free(sw);
    st = parse("name: r\nmethod: random\nrun_cap: 4\ndatasets: [d]\nparameters:\n"
               "  lr: {distribution: log_uniform_values, min: 9.999999999999998, max: 10}\n", &sw);
    memset(&c, 0, sizeof c);
    if (!st)
        st = loaa_sweep_expand(sw, 1000, 0, collect, &c, &unique, &dups);
    in_range = c.n > 0;
    for (int i = 0; i < c.n; i++)
        in_range &= c.lr[i] >= 9.999999999999998 && c.lr[i] <= 10.0;
    TAP_OK(!st && in_range, "log_uniform_values over an ulp-wide range stays within [min, max]: %s", st ? loaa_error_detail() : "ok");
    loaa_sweep_free(sw);
    collected grid = {0};
    st = parse("name: r\nmethod: random\nrun_cap: 2\ndatasets: [d]\nparameters:\n"
               "  lr: {distribution: log_uniform_values, min: 0.001, max: 0.001}\n", &sw);
    memset(&c, 0, sizeof c);
    if (!st)
        st = loaa_sweep_expand(sw, 1000, 0, collect, &c, &unique, &dups);
    loaa_sweep_free(sw);
    if (!st && !(st = parse("name: r\ndatasets: [d]\nparameters:\n  lr: {value: 0.001}\n", &sw)))
        st = loaa_sweep_expand(sw, 1000, 0, collect, &grid, NULL, NULL);
    TAP_OK(!st && c.n == 1 && grid.n == 1 && c.lr[0] == 0.001 && !strcmp(c.hashes[0], grid.hashes[0]),
           "log_uniform_values min = max = 0.001 samples 0.001 exactly: the grid's identity (%.17g)", c.lr[0]);
    loaa_sweep_free(sw);

    /* Every W&B distribution samples within its range, on its q grid, as the key's type (issue 14). */
    st = parse("name: w\nmethod: random\nrun_cap: 40\ndatasets: [d]\nparameters:\n"
               "  method: {distribution: categorical, values: [lora, adapter]}\n"
               "  model: {distribution: constant, value: vit-micro}\n"
               "  lr: {distribution: q_log_uniform_values, min: 1e-4, max: 1e-2, q: 1e-4}\n"
               "  bottleneck: {distribution: q_uniform, min: 4, max: 64, q: 8}\n"
               "  weight_decay: {distribution: inv_log_uniform_values, min: 0.01, max: 0.1}\n"
               "  scale: {distribution: normal, mu: 0.1, sigma: 0.05}\n"
               "  mixup: {distribution: log_normal, mu: -2, sigma: 0.5, max: 1}\n"
               "  noise: {distribution: q_normal, mu: 1, sigma: 0.5, min: 0, max: 3, q: 0.5}\n"
               "  warmup_epochs: {distribution: log_uniform, min: 0, max: 1.5}\n", &sw);
    TAP_OK(st == LOAA_OK, "categorical with values, constant, q_uniform, q_log_uniform_values, inv_log_uniform_values, normal, "
           "log_normal, q_normal and log_uniform parse: %s", loaa_error_detail());
    int all_in = 1, lora = 0, adapter = 0;
    if (!st) {
        memset(&c, 0, sizeof c);
        st = loaa_sweep_expand(sw, 1000, 0, collect, &c, &unique, &dups);
        for (int i = 0; i < c.n && i < 64; i++) {
            json_t *pj = json_loads(c.params[i], 0, NULL);
            double lr = json_number_value(json_object_get(pj, "lr")), wd = json_number_value(json_object_get(pj, "weight_decay"));
            double mix = json_number_value(json_object_get(pj, "mixup")), noise = json_number_value(json_object_get(pj, "noise"));
            double warm = json_number_value(json_object_get(pj, "warmup_epochs"));
            json_t *b = json_object_get(pj, "bottleneck");
            all_in &= lr >= 1e-4 - 1e-12 && lr <= 1e-2 + 1e-12 && fabs(lr / 1e-4 - round(lr / 1e-4)) < 1e-6;
            all_in &= json_is_integer(b) && json_integer_value(b) % 8 == 0 && json_integer_value(b) >= 8 && json_integer_value(b) <= 64;
            all_in &= wd >= 0.01 && wd <= 0.1 && mix > 0 && mix <= 1 && noise >= 0 && noise <= 3 && fmod(noise, 0.5) == 0;
            all_in &= warm >= 1 && warm <= exp(1.5);
            lora += !strcmp(json_string_value(json_object_get(pj, "method")), "lora");
            adapter += !strcmp(json_string_value(json_object_get(pj, "method")), "adapter");
            json_decref(pj);
        }
    }
    TAP_OK(!st && c.n == 40 && all_in && lora > 0 && adapter > 0 && lora + adapter == 40,
           "40 samples: each within its range and q grid, bottleneck an integer multiple of 8, both methods drawn (%d lora, %d adapter): %s",
           lora, adapter, st ? loaa_error_detail() : "ok");
    loaa_sweep_free(sw);
    st = parse("name: x\ndatasets: [d]\nparameters:\n  method: {distribution: categorical, values: [lora, adapter]}\n", &sw);
    TAP_OK(st == LOAA_OK, "{distribution: categorical, values: [...]} is a grid's values list too (it was refused): %s",
           loaa_error_detail());
    loaa_sweep_free(sw);

    /* Conditional parameters (issue 14): lr by method in a grid; a value of the condition without a case and no default leaves
       the key at its default. */
    st = parse("name: cond\ndatasets: [d]\nseeds: [0, 1]\nparameters:\n"
               "  lr:\n    by: method\n    cases: {full: [5e-5], loaa-tf: [5e-3, 1e-2]}\n    default: {value: 1e-3}\n"
               "  method: {values: [full, loaa-tf, lora]}\n"
               "  bottleneck: {by: method, cases: {loaa-tf: 16}}\n", &sw);
    TAP_OK(st == LOAA_OK, "lr: {by: method, cases: {...}, default} parses (the condition named after it): %s", loaa_error_detail());
    if (!st) {
        int64_t n = 0;
        memset(&c, 0, sizeof c);
        st = loaa_sweep_count(sw, 1000, &n);
        TAP_OK(!st && n == (1 + 2 + 1) * 2, "count: (full 1 + loaa-tf 2 + lora default 1) lr values x 2 seeds = %lld", (long long)n);
        st = loaa_sweep_expand(sw, 1000, 0, collect, &c, &unique, &dups);
        int by_method = c.n == 8;
        for (int i = 0; by_method && i < c.n; i++) {
            json_t *pj = json_loads(c.params[i], 0, NULL);
            const char *m = json_string_value(json_object_get(pj, "method"));
            double lr = json_number_value(json_object_get(pj, "lr"));
            json_t *b = json_object_get(pj, "bottleneck");
            if (!strcmp(m, "full"))
                by_method &= lr == 5e-5 && !b;
            else if (!strcmp(m, "loaa-tf"))
                by_method &= (lr == 5e-3 || lr == 1e-2) && json_integer_value(b) == 16;
            else
                by_method &= lr == 1e-3 && !b;
            json_decref(pj);
        }
        TAP_OK(!st && by_method && strstr(c.params[0], "\"method\":\"full\",\"seed\":0}") && c.lr[0] == 5e-5,
               "grid: full at 5e-5, loaa-tf at 5e-3 and 1e-2 with bottleneck 16, lora at the default 1e-3, bottleneck unset outside "
               "loaa-tf (%d trials; first %s)", c.n, c.params[0]);
        loaa_sweep_free(sw);
    }
    st = parse("name: crnd\nmethod: random\nrun_cap: 30\ndatasets: [d1, d2]\nparameters:\n"
               "  method: {values: [full, lora]}\n"
               "  lr: {by: method, cases: {full: {distribution: log_uniform_values, min: 1e-5, max: 1e-4}}, "
               "default: {distribution: log_uniform_values, min: 1e-3, max: 1e-2}}\n"
               "  epochs: {by: dataset, cases: {d1: 3, d2: [5]}}\n", &sw);
    TAP_OK(st == LOAA_OK, "a random sweep with conditional distributions (and a condition on the datasets axis) parses: %s",
           loaa_error_detail());
    if (!st) {
        memset(&c, 0, sizeof c);
        st = loaa_sweep_expand(sw, 1000, 0, collect, &c, &unique, &dups);
        int ok = c.n == 60, full = 0;
        for (int i = 0; ok && i < 64 && i < c.n; i++) {
            json_t *pj = json_loads(c.params[i], 0, NULL);
            int is_full = !strcmp(json_string_value(json_object_get(pj, "method")), "full");
            double lr = json_number_value(json_object_get(pj, "lr"));
            int epochs = (int)json_integer_value(json_object_get(pj, "epochs"));
            const char *d = json_string_value(json_object_get(pj, "dataset"));
            full += is_full;
            ok &= is_full ? lr >= 1e-5 && lr <= 1e-4 : lr >= 1e-3 && lr <= 1e-2;
            ok &= epochs == (!strcmp(d, "d1") ? 3 : 5);
            json_decref(pj);
        }
        TAP_OK(!st && ok && full > 0 && full < 60, "random: lr drawn from the method's case, epochs by dataset (%d trials, %d full): %s",
               c.n, full, st ? loaa_error_detail() : "ok");
        loaa_sweep_free(sw);
    }

    /* Files: a missing dataset is refused with the position of its name. */
    snprintf(tmpdir, sizeof tmpdir, "/tmp/loaa-test-sweep-%ld", (long)getpid());
    mkdir(tmpdir, 0755);
    char path[512], yaml[1024];
    snprintf(path, sizeof path, "%s/s.yaml", tmpdir);
    FILE *f = fopen(path, "w");
    fprintf(f, "name: files\ndatasets:\n  - %s/nope\n", tmpdir);
    fclose(f);
    st = loaa_sweep_load(&sw, path);
    snprintf(yaml, sizeof yaml, "%s:3:5: dataset", path);
    TAP_OK(st == LOAA_ERR_NOTFOUND && strstr(loaa_error_detail(), yaml), "missing dataset cites file:line:col: %s",
           loaa_error_detail());
    snprintf(yaml, sizeof yaml, "%s/ds", tmpdir);
    mkdir(yaml, 0755);
    snprintf(yaml, sizeof yaml, "%s/ds/dataset.json", tmpdir);
    f = fopen(yaml, "w");
    fprintf(f, "{\"name\": \"t\"}\n");
    fclose(f);
    f = fopen(path, "w");
    fprintf(f, "name: files\ndatasets: [%s/ds]\nparameters:\n  backbone: {value: %s/missing.safetensors}\n", tmpdir, tmpdir);
    fclose(f);
    st = loaa_sweep_load(&sw, path);
    TAP_OK(st == LOAA_ERR_NOTFOUND && strstr(loaa_error_detail(), ":4:21: backbone"), "missing backbone file cites its position: %s",
           loaa_error_detail());
    unlink(yaml);
    snprintf(yaml, sizeof yaml, "%s/ds", tmpdir);
    rmdir(yaml);
    unlink(path);
    rmdir(tmpdir);
}

static void test_prune(void)
{
    loaa_early_terminate med = {.type = LOAA_EARLY_MEDIAN, .min_epochs = 2, .eta = 3};
    loaa_pruner *p = loaa_pruner_new(&med, 1);
    /* Trials 1..3 reach two epochs with best-so-far 0.5, 0.6, 0.7. */
    for (int t = 1; t <= 3; t++) {
        TAP_OK(!loaa_pruner_report(p, t, 0, 0.1 * t), "median: nothing stops before min_epochs (trial %d)", t);
        loaa_pruner_report(p, t, 1, 0.4 + 0.1 * t);
    }
    TAP_OK(loaa_pruner_report(p, 4, 0, 0.05) == 0, "median: epoch 1 is below min_epochs 2");
    TAP_OK(loaa_pruner_report(p, 4, 1, 0.55) == 1, "median: below the others' median (0.6) stops");
    TAP_OK(loaa_pruner_report(p, 5, 1, 0.65) == 0, "median: above the median continues");
    TAP_OK(loaa_pruner_report(p, 6, 1, NAN) == 1, "a NaN metric stops");
    loaa_pruner_free(p);

    loaa_early_terminate asha = {.type = LOAA_EARLY_ASHA, .min_epochs = 1, .eta = 2};
    p = loaa_pruner_new(&asha, 0); /* minimize a loss */
    TAP_OK(loaa_pruner_report(p, 1, 0, 1.0) == 0, "asha: the first trial at a rung continues");
    TAP_OK(loaa_pruner_report(p, 2, 0, 2.0) == 1, "asha: a worse second trial stops (keep 1 of 2)");
    TAP_OK(loaa_pruner_report(p, 3, 0, 0.5) == 0, "asha: a better one continues");
    TAP_OK(loaa_pruner_report(p, 1, 1, 0.9) == 0, "asha: rung 2 (epoch 2) first arrival continues");
    TAP_OK(loaa_pruner_report(p, 1, 2, 0.8) == 0, "asha: epoch 3 is no rung (1, 2, 4, ...)");
    loaa_pruner_free(p);
}

static void test_group_by(void)
{
    loaa_sweep *sw;
    loaa_status st = parse("name: x\ndatasets: [d]\n", &sw);
    TAP_OK(!st && !strcmp(loaa_sweep_metric(sw), "val_acc") && !strcmp(loaa_sweep_goal(sw), "maximize"),
           "a sweep selects on val_acc (maximize) by default, never on a test metric");
    loaa_sweep_free(sw);
    st = parse("name: x\ndatasets: [d]\nearly_terminate: {type: asha}\n", &sw);
    const loaa_early_terminate *et = st ? NULL : loaa_sweep_early(sw);
    TAP_OK(et && et->n_group_by == 4 && !strcmp(et->group_by[0], "dataset") && !strcmp(et->group_by[1], "fold") &&
               !strcmp(et->group_by[2], "method") && !strcmp(et->group_by[3], "backbone"),
           "early_terminate groups by dataset, fold, method, backbone by default");
    loaa_sweep_free(sw);
    st = parse("name: x\ndatasets: [d]\nearly_terminate: {type: median, group_by: []}\n", &sw);
    TAP_OK(!st && loaa_sweep_early(sw)->n_group_by == 0, "group_by: [] compares the whole sweep");
    loaa_sweep_free(sw);
    st = parse("name: x\ndatasets: [d]\nearly_terminate: {type: median, group_by: [dataset, lr]}\n", &sw);
    TAP_OK(!st && loaa_sweep_early(sw)->n_group_by == 2 && !strcmp(loaa_sweep_early(sw)->group_by[1], "lr"), "group_by names its keys");
    loaa_sweep_free(sw);
}

/* Identity keys of a trial for loaa_pruner_assign. */
static void assign(loaa_pruner *p, int64_t id, const char *dataset, const char *method, double lr, int seed)
{
    char json[256];
    snprintf(json, sizeof json, "{\"dataset\":\"%s\",\"fold\":0,\"method\":\"%s\",\"lr\":%g,\"seed\":%d}", dataset, method, lr, seed);
    if (loaa_pruner_assign(p, id, json) != LOAA_OK)
        TAP_DIAG("assign %lld: %s", (long long)id, loaa_error_detail());
}

static void test_prune_groups(void)
{
    /* A slow method on a hard dataset is not pruned because an easy dataset scores high (ASHA, keep 1 of 2). */
    loaa_early_terminate asha = {LOAA_EARLY_ASHA, 1, 2, 4, {"dataset", "fold", "method", "backbone"}};
    loaa_early_terminate whole = {.type = LOAA_EARLY_ASHA, .min_epochs = 1, .eta = 2};
    for (int grouped = 1; grouped >= 0; grouped--) {
        loaa_pruner *p = loaa_pruner_new(grouped ? &asha : &whole, 1);
        assign(p, 1, "easy", "lora", 1e-3, 0);
        assign(p, 2, "hard", "full", 5e-5, 0);
        loaa_pruner_report(p, 1, 0, 0.9);
        int stop = loaa_pruner_report(p, 2, 0, 0.3);
        if (grouped)
            TAP_OK(!stop, "asha: full fine-tuning on a hard dataset (0.3) is not ranked against lora on an easy one (0.9)");
        else
            TAP_OK(stop, "asha with group_by [] ranks them together and stops the slow one (the old behaviour)");
        loaa_pruner_free(p);
    }
    /* The median rule likewise: three configurations on the easy dataset do not stop the hard one. */
    loaa_early_terminate med = {LOAA_EARLY_MEDIAN, 1, 3, 1, {"dataset"}};
    loaa_pruner *p = loaa_pruner_new(&med, 1);
    for (int t = 1; t <= 3; t++) {
        assign(p, t, "easy", "lora", 1e-3 * t, 0);
        loaa_pruner_report(p, t, 0, 0.8 + 0.05 * t);
    }
    assign(p, 4, "hard", "lora", 1e-3, 0);
    TAP_OK(!loaa_pruner_report(p, 4, 0, 0.2), "median: a hard dataset's trial is not judged by the easy dataset's median");
    assign(p, 5, "easy", "lora", 9e-3, 0);
    TAP_OK(loaa_pruner_report(p, 5, 0, 0.7), "median: within the easy dataset, below the median still stops");
    loaa_pruner_free(p);

    /* Seeds of one configuration are never ranked against each other. */
    p = loaa_pruner_new(&asha, 1);
    assign(p, 1, "d", "lora", 1e-3, 0);
    assign(p, 2, "d", "lora", 1e-3, 1);
    loaa_pruner_report(p, 1, 0, 0.9);
    TAP_OK(!loaa_pruner_report(p, 2, 0, 0.5), "asha: a configuration's worse seed is not stopped by its better seed");
    /* A configuration is judged on the mean of its seeds at the rung: A = (0.9 + 0.5) / 2 = 0.7. */
    assign(p, 3, "d", "lora", 5e-3, 0);
    assign(p, 4, "d", "lora", 5e-3, 1);
    TAP_OK(!loaa_pruner_report(p, 3, 0, 0.75), "asha: B's first seed (0.75) leads A's mean (0.7), though not A's best seed (0.9): B continues");
    TAP_OK(loaa_pruner_report(p, 4, 0, 0.6), "asha: B's second seed brings B's mean to 0.675 < 0.7: it stops");
    loaa_pruner_free(p);
    p = loaa_pruner_new(&asha, 1);
    TAP_OK(loaa_pruner_assign(p, 1, "[1]") == LOAA_ERR_PARSE, "assign needs a JSON object");
    loaa_pruner_free(p);
}

/*
 * The TRIAL payload is built with jansson; the workers read from it exactly
 * what they read from the text the coordinator used to splice together with
 * snprintf (same members and values; the config re-canonicalises to the
 * stored text, so the trial's identity is unchanged), and a folder with
 * quotes, backslashes and non-ASCII text arrives verbatim.
 */
static void test_trial_payload(void)
{
    const char *config = "{\"dataset\":\"/d/a\\\"b\",\"lr\":0.001,\"method\":\"loaa-tf\",\"scale\":1e-7,\"seed\":3,\"warmup_epochs\":1}";
    const char *exec = "{\"fault\":\"\",\"grid\":null,\"ranks_per_trial\":1,\"threads\":2}";
    const char *dir = "/runs/sw \"q\" \\ \xc3\xa9/0123456789abcdef";
    char old[2048];
    /* the former snprintf form, with dir escaped the way the coordinator escaped it (json_dumps, quotes stripped) */
    snprintf(old, sizeof old, "{\"trial_id\":%lld,\"attempt\":%d,\"config\":%s,\"exec\":%s,\"dir\":\"%s\",\"early\":%s}", 42LL, 2, config,
             exec, "/runs/sw \\\"q\\\" \\\\ \xc3\xa9/0123456789abcdef", "true");
    char *text = loaa_coordinator_trial_payload(42, 2, config, exec, dir, 1);
    json_t *now = text ? json_loads(text, 0, NULL) : NULL, *before = json_loads(old, 0, NULL);
    TAP_OK(now && before && json_equal(now, before), "TRIAL payload: the same members and values as the spliced text (%s)",
           text ? text : "NULL");
    char *canon = now ? loaa_json_canonical(json_object_get(now, "config")) : NULL;
    TAP_OK(canon && !strcmp(canon, config), "TRIAL payload: its config re-canonicalises to the stored text");
    TAP_OK(now && !strcmp(json_string_value(json_object_get(now, "dir")), dir), "TRIAL payload: the folder arrives verbatim");
    TAP_OK(text && !strncmp(text, "{\"trial_id\":42,\"attempt\":2,\"config\":{", 36) && strstr(text, "\"early\":true}"),
           "TRIAL payload: members in the protocol's order, compact");
    TAP_OK(!loaa_coordinator_trial_payload(1, 0, "[1]", exec, dir, 0) && !loaa_coordinator_trial_payload(1, 0, config, "{", dir, 0),
           "TRIAL payload: a stored text that is not a JSON object is refused");
    free(canon);
    free(text);
    json_decref(now);
    json_decref(before);
}

int main(void)
{
    test_errors();
    test_expansion();
    test_group_by();
    test_prune();
    test_prune_groups();
    test_trial_payload();
    return tap_done();
}
