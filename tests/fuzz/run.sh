#!/bin/sh
# run.sh HARNESS RUNS - runs one libFuzzer harness for a fixed number of
# executions over its committed corpus (tests/fuzz/corpus/NAME); new inputs go
# to a scratch folder so the source tree is never written.
harness=$1
runs=${2:-20000}
name=$(basename "$harness" | sed 's/^fuzz_//')
corpus="$top_srcdir/tests/fuzz/corpus/$name"
scratch=$(mktemp -d)
# Leaks inside the libraries loaa links (named and explained in tests/lsan.supp).
: "${LSAN_OPTIONS:=suppressions=$top_srcdir/tests/lsan.supp:print_suppressions=0}"
export LSAN_OPTIONS
trap 'rm -rf "$scratch"' EXIT
if "$harness" -runs="$runs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 "$scratch" "$corpus" > "$scratch.log" 2>&1; then
    echo "ok 1 - fuzz_$name: $runs executions without a crash"
    rm -f "$scratch.log"
    echo "1..1"
else
    echo "not ok 1 - fuzz_$name crashed or failed"
    sed 's/^/# /' "$scratch.log" | tail -40
    rm -f "$scratch.log"
    echo "1..1"
    exit 1
fi
