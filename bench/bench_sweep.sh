#!/bin/sh
# bench/bench_sweep.sh LOAA [TRIALS] [RANKS] - the coordinator's dispatch-and-record
# rate: a grid of `method: noop` trials (no model, no data; they run in place
# in the worker ranks) under mpirun, recorded in SQLite, and the same with a
# fork per trial through the launcher (a no-op fault routes noop trials there).
# Prints the expansion time, trials/s for both, and the database size.
set -e
loaa=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
trials=${2:-100000}
ranks=${3:-5}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
tmp=$(mktemp -d /tmp/loaa-bench-sweep.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
mkdir ds && echo '{"name": "noop"}' > ds/dataset.json
seeds=$((trials / 100))
cat > grid.yaml <<YAML
name: bench-dispatch
datasets: [ds]
seeds: [$(seq -s ', ' 0 $((seeds - 1)))]
parameters:
  method: {value: noop}
  epochs: {value: 1}
  lr: {values: [0.0001, 0.0002, 0.0003, 0.0004, 0.0005, 0.0006, 0.0007, 0.0008, 0.0009, 0.001]}
  bottleneck: {values: [8, 16, 24, 32, 40, 48, 56, 64, 72, 80]}
YAML
t0=$(date +%s%N)
"$loaa" sweep --dry-run grid.yaml --max-trials "$trials" | tail -1
t1=$(date +%s%N)
echo "expansion (parse, validate, identity hashes): $(( (t1 - t0) / 1000000 )) ms"
t0=$(date +%s%N)
mpirun --oversubscribe -np "$ranks" "$loaa" sweep "$tmp/grid.yaml" --db "$tmp/r.db" --max-trials "$trials" --no-progress 2>/dev/null | tail -1
t1=$(date +%s%N)
echo "whole command (expand + record + dispatch + record results): $(( (t1 - t0) / 1000000 )) ms; database $(du -h r.db | cut -f1)"
cat > fork.yaml <<YAML
name: bench-fork
datasets: [ds]
seeds: [$(seq -s ', ' 0 $((trials / 50 - 1)))]
parameters:
  method: {value: noop}
  epochs: {value: 1}
  fault: {value: "sleep:0"}
YAML
mpirun --oversubscribe -np "$ranks" "$loaa" sweep "$tmp/fork.yaml" --db "$tmp/f.db" --artifacts "$tmp/art" --no-progress 2>/dev/null | tail -1
