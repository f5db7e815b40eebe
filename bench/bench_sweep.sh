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
python3 - "$seeds" > grid.yaml <<'PY'
import sys
n = int(sys.argv[1])
print("name: bench-dispatch")
print("datasets: [ds]")
print("seeds: [" + ", ".join(str(i) for i in range(n)) + "]")
print("parameters:")
print("  method: {value: noop}")
print("  epochs: {value: 1}")
print("  lr: {values: [" + ", ".join("%g" % (1e-4 * (i + 1)) for i in range(10)) + "]}")
print("  bottleneck: {values: [" + ", ".join(str(8 * (i + 1)) for i in range(10)) + "]}")
PY
t0=$(date +%s%N)
"$loaa" sweep --dry-run grid.yaml --max-trials "$trials" | tail -1
t1=$(date +%s%N)
echo "expansion (parse, validate, identity hashes): $(( (t1 - t0) / 1000000 )) ms"
t0=$(date +%s%N)
mpirun --oversubscribe -np "$ranks" "$loaa" sweep "$tmp/grid.yaml" --db "$tmp/r.db" --max-trials "$trials" --no-progress 2>/dev/null | tail -1
t1=$(date +%s%N)
echo "whole command (expand + record + dispatch + record results): $(( (t1 - t0) / 1000000 )) ms; database $(du -h r.db | cut -f1)"
python3 - "$((trials / 50))" > fork.yaml <<'PY'
import sys
n = int(sys.argv[1])
print("name: bench-fork")
print("datasets: [ds]")
print("seeds: [" + ", ".join(str(i) for i in range(n)) + "]")
print("parameters:")
print("  method: {value: noop}")
print("  epochs: {value: 1}")
print('  fault: {value: "sleep:0"}')
PY
mpirun --oversubscribe -np "$ranks" "$loaa" sweep "$tmp/fork.yaml" --db "$tmp/f.db" --artifacts "$tmp/art" --no-progress 2>/dev/null | tail -1
