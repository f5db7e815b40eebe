-- loaa results store: numbered migrations applied after schema.sql (version 1).
-- Each section starts with a line "-- migration N: what"; the store applies the
-- sections above the database's schema_version in order, each in one
-- transaction together with its schema_version row. Never edit a released
-- section: add a new one.

-- migration 2: orchestration columns (execution settings, chained backbones, exports) and views that show them
ALTER TABLE sweeps ADD COLUMN method TEXT NOT NULL DEFAULT 'grid';
ALTER TABLE sweeps ADD COLUMN ranks_per_trial INTEGER NOT NULL DEFAULT 1;
ALTER TABLE sweeps ADD COLUMN updated TEXT;
ALTER TABLE trials ADD COLUMN exec_json TEXT NOT NULL DEFAULT '{}';
ALTER TABLE trials ADD COLUMN backbone_ref TEXT;
ALTER TABLE trials ADD COLUMN backbone_export_path TEXT;
ALTER TABLE trials ADD COLUMN best_epoch INTEGER;
ALTER TABLE trials ADD COLUMN pruned_epoch INTEGER;
CREATE INDEX IF NOT EXISTS trial_metrics_name ON trial_metrics (name, epoch);
DROP VIEW IF EXISTS cross_dataset;
DROP VIEW IF EXISTS leaderboard;
CREATE VIEW leaderboard AS
SELECT s.name AS sweep, t.trial_id, t.number, t.dataset, t.method, t.seed, t.fold,
       r.name AS metric, r.value, r.best_epoch,
       t.trainable_params, t.total_params,
       100.0 * t.trainable_params / NULLIF(t.total_params, 0) AS trainable_pct,
       COALESCE(t.backbone_ref, t.backbone, 'none') AS backbone, t.backbone_sha256,
       t.config_json
FROM trials t
JOIN sweeps s ON s.sweep_id = t.sweep_id
JOIN trial_results r ON r.trial_id = t.trial_id
WHERE t.state = 'done';
CREATE VIEW cross_dataset AS
SELECT sweep, metric, dataset, method, backbone,
       json_remove(config_json, '$.seed', '$.fold', '$.dataset') AS method_config,
       COUNT(*) AS n,
       AVG(value) AS mean,
       AVG(value * value) - AVG(value) * AVG(value) AS variance,
       AVG(trainable_pct) AS trainable_pct
FROM leaderboard
GROUP BY sweep, metric, dataset, method_config;

-- migration 3: the oneDNN ISA a trial's matmuls ran on ("A,B" when it was resumed on another ISA; issue 13)
ALTER TABLE trials ADD COLUMN isa TEXT;
