#!/bin/sh
# The loaa command table: help, version, unknown commands, usage exit codes, config; the option tables.
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
# The option tables (cli/options.h): one help text from either spelling, listing every option;
# errors name the option and the bad value; positional arguments are counted.
"$LOAA" help train > "$tmp/h1" 2>&1; "$LOAA" train --help > "$tmp/h2" 2>&1; rc=$?
check "loaa help train = loaa train --help, listing its options" \
    '[ $rc -eq 0 ] && cmp -s "$tmp/h1" "$tmp/h2" && grep -q "^  --out DIR " "$tmp/h1" && grep -q "^  --KEY VALUE " "$tmp/h1"'
"$LOAA" help bench step > "$tmp/h1" 2>&1; "$LOAA" bench step -h > "$tmp/h2" 2>&1; rc=$?
check "loaa help bench step = loaa bench step -h" '[ $rc -eq 0 ] && cmp -s "$tmp/h1" "$tmp/h2" && grep -q "^  --peak-seconds S " "$tmp/h1"'
check "every command answers --help with its usage" \
    'for c in help version config synth predict sweep train report export pack; do "$LOAA" $c --help | grep -q "^usage: .*loaa $c" || exit 1; done'
"$LOAA" synth --clips many "$tmp/x" > "$tmp/out" 2>&1; rc=$?
check "a bad integer names the option and the value" '[ $rc -eq 2 ] && grep -q "\-\-clips needs an integer in 1\.\.10000000, got .many." "$tmp/out"'
"$LOAA" synth --compress lzma "$tmp/x" > "$tmp/out" 2>&1; rc=$?
check "a bad choice lists the choices and names the value" '[ $rc -eq 2 ] && grep -q "\-\-compress must be none, gz or zst, got .lzma." "$tmp/out"'
"$LOAA" report --db "$tmp/r.db" --frobnicate > "$tmp/out" 2>&1; rc=$?
check "an unknown option is named, with where to look" '[ $rc -eq 2 ] && grep -q "unknown option .--frobnicate. (see .loaa report --help.)" "$tmp/out"'
"$LOAA" sweep a.yaml b.yaml > "$tmp/out" 2>&1; rc=$?
check "a second sweep file is refused" '[ $rc -eq 2 ] && grep -q "unexpected argument .b.yaml." "$tmp/out"'
"$LOAA" config --dataset "$tmp/ds" --frobnicate 1 > "$tmp/out" 2>&1; rc=$?
check "an unknown trial key exits 1 naming it" '[ $rc -eq 1 ] && grep -q "unknown key .frobnicate." "$tmp/out"'
"$LOAA" config "$tmp/c.json" --method full --no-hash > "$tmp/out" 2>&1; rc=$?
check "flags after the config file win; --no-hash" '[ $rc -eq 0 ] && grep -q "\"method\":\"full\"" "$tmp/out" && ! grep -q "^identity" "$tmp/out"'
"$LOAA" -q --version > "$tmp/out" 2>&1; rc=$?
check "global options before the command" '[ $rc -eq 0 ] && grep -q "^loaa [0-9]" "$tmp/out"'
: > "$tmp/empty.db"
"$LOAA" report --db "$tmp/empty.db" > "$tmp/out" 2>&1; rc=$?
check "a 0-byte --db says it is empty and which command creates one (issue 18 #12)" \
    '[ $rc -ne 0 ] && grep -q "empty, not a loaa results database yet" "$tmp/out" && grep -q "loaa sweep" "$tmp/out" && [ ! -s "$tmp/empty.db" ]'
echo "1..$n"
exit $failed
