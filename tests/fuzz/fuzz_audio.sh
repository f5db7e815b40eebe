#!/bin/sh
exec "$top_srcdir/tests/fuzz/run.sh" "$top_builddir/tests/fuzz/fuzz_audio" "${LOAA_FUZZ_RUNS:-2000}"
