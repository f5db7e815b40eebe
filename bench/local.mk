# bench/: benchmark scripts and their recorded results.
EXTRA_DIST += bench/RESULTS.md
