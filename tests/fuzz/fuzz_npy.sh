#!/bin/sh
exec "$top_srcdir/tests/fuzz/run.sh" "$top_builddir/tests/fuzz/fuzz_npy" "${LOAA_FUZZ_RUNS:-20000}"
