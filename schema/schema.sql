-- loaa results store, schema version 1.
-- Tables in the spirit of Optuna's: sweeps, trials, trial_params, trial_metrics,
-- trial_results. Only the coordinator (rank 0) writes; readers may query any time (WAL).

CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER NOT NULL,
    applied     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE IF NOT EXISTS sweeps (
    sweep_id    INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    spec_yaml   TEXT    NOT NULL,
    metric      TEXT    NOT NULL DEFAULT 'val_acc',
    goal        TEXT    NOT NULL DEFAULT 'maximize' CHECK (goal IN ('maximize', 'minimize')),
    created     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE IF NOT EXISTS trials (
    trial_id        INTEGER PRIMARY KEY,
    sweep_id        INTEGER NOT NULL REFERENCES sweeps(sweep_id),
    number          INTEGER NOT NULL,            -- position in the sweep's expansion
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'running', 'done', 'failed', 'pruned', 'interrupted')),
    config_json     TEXT    NOT NULL,            -- canonical form, identity keys
    config_hash     TEXT    NOT NULL,            -- SHA-256 identity
    dataset         TEXT    NOT NULL,            -- path as written
    dataset_sha256  TEXT,
    backbone        TEXT,
    backbone_sha256 TEXT,
    method          TEXT    NOT NULL,
    seed            INTEGER NOT NULL,
    fold            INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,  -- deaths of the trial's own process
    host            TEXT,
    ranks           INTEGER,
    grid            TEXT,
    gemm_backend    TEXT,                        -- blas or scalapack
    loaa_version    TEXT,
    blas            TEXT,
    scalapack       TEXT,
    started         REAL,
    finished        REAL,
    seconds         REAL,
    trainable_params INTEGER,
    total_params    INTEGER,
    samples_per_s   REAL,
    peak_rss        INTEGER,
    last_epoch      INTEGER,
    error           TEXT,
    checkpoint_path TEXT,
    best_checkpoint_path TEXT,
    adapter_path    TEXT,
    log_path        TEXT,
    UNIQUE (sweep_id, config_hash)
);
CREATE INDEX IF NOT EXISTS trials_state ON trials (sweep_id, state);

CREATE TABLE IF NOT EXISTS trial_params (
    trial_id    INTEGER NOT NULL REFERENCES trials(trial_id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    value       TEXT,                             -- canonical JSON text of the value
    PRIMARY KEY (trial_id, name)
);

CREATE TABLE IF NOT EXISTS trial_metrics (
    trial_id    INTEGER NOT NULL REFERENCES trials(trial_id) ON DELETE CASCADE,
    epoch       INTEGER NOT NULL,
    split       TEXT    NOT NULL,                 -- train, val, test
    name        TEXT    NOT NULL,
    value       REAL,
    PRIMARY KEY (trial_id, epoch, split, name)
);

CREATE TABLE IF NOT EXISTS trial_results (
    trial_id    INTEGER NOT NULL REFERENCES trials(trial_id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,                 -- val_acc, test_acc, test_top5, test_map, test_mpca, ...
    value       REAL,
    best_epoch  INTEGER,
    PRIMARY KEY (trial_id, name)
);

-- One row per finished trial and metric, with the identifying columns beside it.
CREATE VIEW IF NOT EXISTS leaderboard AS
SELECT s.name AS sweep, t.trial_id, t.number, t.dataset, t.method, t.seed, t.fold,
       r.name AS metric, r.value, r.best_epoch,
       t.trainable_params, t.total_params,
       100.0 * t.trainable_params / NULLIF(t.total_params, 0) AS trainable_pct,
       t.backbone, t.config_json
FROM trials t
JOIN sweeps s ON s.sweep_id = t.sweep_id
JOIN trial_results r ON r.trial_id = t.trial_id
WHERE t.state = 'done';

-- Method configuration (config without seed, fold and dataset) x dataset, aggregated
-- over seeds and folds. `variance` is the population variance; reports take sqrt.
CREATE VIEW IF NOT EXISTS cross_dataset AS
SELECT sweep, metric, dataset, method,
       json_remove(config_json, '$.seed', '$.fold', '$.dataset') AS method_config,
       COUNT(*) AS n,
       AVG(value) AS mean,
       AVG(value * value) - AVG(value) * AVG(value) AS variance,
       AVG(trainable_pct) AS trainable_pct
FROM leaderboard
GROUP BY sweep, metric, dataset, method_config;
