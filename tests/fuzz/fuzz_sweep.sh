#!/bin/sh
# Runs the sweep-file fuzzer for a fixed number of executions over its corpus.
exec "$top_srcdir/tests/fuzz/run.sh" "$top_builddir/tests/fuzz/fuzz_sweep" "${LOAA_FUZZ_RUNS:-20000}"
