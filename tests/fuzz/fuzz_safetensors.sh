#!/bin/sh
exec "$top_srcdir/tests/fuzz/run.sh" "$top_builddir/tests/fuzz/fuzz_safetensors" "${LOAA_FUZZ_RUNS:-20000}"
