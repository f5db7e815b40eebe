#!/bin/sh
exec "$top_srcdir/tests/fuzz/run.sh" "$top_builddir/tests/fuzz/fuzz_shard" "${LOAA_FUZZ_RUNS:-5000}"
