# bench/: benchmark scripts and their recorded results.
EXTRA_DIST += bench/RESULTS.md
EXTRA_DIST += bench/bench_step.sh bench/bench_step_torch.py
EXTRA_DIST += bench/bench_pgemm.sh
EXTRA_DIST += bench/bench_data.sh bench/bench_data_torch.py
EXTRA_DIST += bench/bench_sweep.sh
EXTRA_DIST += bench/check_dist.sh
