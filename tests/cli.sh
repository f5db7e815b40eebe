#!/bin/sh
# The loaa command table: help, version, unknown commands, usage exit codes, config.
n=0; failed=0
check() { n=$((n+1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; failed=1; fi; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

check "loaa help lists commands" '"$LOAA" help | grep -q "^  config"'
check "loaa help config shows usage" '"$LOAA" help config | grep -q "usage: loaa config"'
check "loaa help keys lists the key table" '"$LOAA" help keys | grep -q "^bottleneck"'
check "loaa --version" '"$LOAA" --version | grep -q "^loaa [0-9]"'
"$LOAA" frobnicate >"$tmp/out" 2>&1; rc=$?
check "unknown command exits 2" '[ $rc -eq 2 ]'
check "unknown command lists the commands" 'grep -q "not a loaa command" "$tmp/out" && grep -q "  help" "$tmp/out"'
"$LOAA" help nosuch >/dev/null 2>&1; rc=$?
check "help for an unknown command exits 2" '[ $rc -eq 2 ]'
mkdir "$tmp/ds" && echo '{"name":"t"}' > "$tmp/ds/dataset.json"
"$LOAA" config --dataset "$tmp/ds" --lr 1e-3 --method lora > "$tmp/a" 2>&1
printf '{"method": "lora", "dataset": "%s", "lr": 0.001}\n' "$tmp/ds" > "$tmp/c.json"
"$LOAA" config "$tmp/c.json" > "$tmp/b" 2>&1
check "flags and JSON give one identity" 'cmp -s "$tmp/a" "$tmp/b" && grep -q "^identity [0-9a-f]\{64\}$" "$tmp/a"'
"$LOAA" config --dataset "$tmp/ds" --bottleneck 0 > "$tmp/out" 2>&1; rc=$?
check "bad value exits 1 naming the key" '[ $rc -eq 1 ] && grep -q "bottleneck" "$tmp/out"'
echo '{"lr": 1e-3,' > "$tmp/bad.json"
"$LOAA" config "$tmp/bad.json" > "$tmp/out" 2>&1; rc=$?
check "malformed JSON names the file and line" '[ $rc -eq 1 ] && grep -q "bad.json: line" "$tmp/out"'
"$LOAA" config --dataset > "$tmp/out" 2>&1; rc=$?
check "a flag without value is a usage error" '[ $rc -eq 2 ]'
echo "1..$n"
exit $failed
