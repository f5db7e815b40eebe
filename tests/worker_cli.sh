#!/bin/sh
# The data commands from the command line: loaa synth (audio, images; same seed, same
# bytes), loaa pack (csv recipe; usage errors exit 2; a missing input exits 1 naming it),
# loaa bench data (a tiny run prints clips/s).
n=0; failed=0
check() { n=$((n+1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; failed=1; fi; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

"$LOAA" synth --seed 5 --clips 36 --seconds 0.3 --mel 32 "$tmp/a" > "$tmp/out" 2>&1
check "synth audio writes a dataset" '[ -f "$tmp/a/dataset.json" ] && grep -q "wrote 36" "$tmp/out"'
"$LOAA" synth --seed 5 --clips 36 --seconds 0.3 --mel 32 "$tmp/b" > /dev/null 2>&1
check "same seed, same shards (byte for byte)" 'cmp -s "$tmp/a/fold1-000000.tar" "$tmp/b/fold1-000000.tar" && cmp -s "$tmp/a/dataset.json" "$tmp/b/dataset.json"'
"$LOAA" synth --seed 6 --clips 36 --seconds 0.3 --mel 32 "$tmp/c" > /dev/null 2>&1
check "another seed, other clips" '! cmp -s "$tmp/a/fold1-000000.tar" "$tmp/c/fold1-000000.tar"'
"$LOAA" synth --kind images --clips 24 --size 32 --splits 0.5,0.25,0.25 "$tmp/i" > /dev/null 2>&1
check "synth images writes an image dataset with splits" 'grep -q "\"image\"" "$tmp/i/dataset.json" && grep -q "\"splits\"" "$tmp/i/dataset.json"'
"$LOAA" synth --clips 0 "$tmp/x" > "$tmp/out" 2>&1; rc=$?
check "synth --clips 0 is a usage error" '[ $rc -eq 2 ] && grep -q "clips" "$tmp/out"'
"$LOAA" synth --kind video "$tmp/x" > /dev/null 2>&1; rc=$?
check "synth --kind video is a usage error" '[ $rc -eq 2 ]'

mkdir "$tmp/src"
tar xf "$tmp/a/fold1-000000.tar" -C "$tmp/src"
{ echo "path,label,fold"; i=0; for f in $(ls "$tmp/src" | grep wav | head -9); do echo "$f,c$((i % 3)),$((i % 3 + 1))"; i=$((i+1)); done; } > "$tmp/src/m.csv"
"$LOAA" pack csv "$tmp/src/m.csv" "$tmp/p" --compress zst --resample 8000 --stats > "$tmp/out" 2>&1; rc=$?
check "pack csv with folds, zst, resample, stats" '[ $rc -eq 0 ] && grep -q "\"folds\"" "$tmp/p/dataset.json" && [ -f "$tmp/p/fold3-000000.tar.zst" ] && grep -q "\"sample_rate\": 8000" "$tmp/p/dataset.json"'
"$LOAA" pack csv "$tmp/nope.csv" "$tmp/q" > "$tmp/out" 2>&1; rc=$?
check "pack: a missing manifest exits 1 naming it" '[ $rc -eq 1 ] && grep -q "nope.csv" "$tmp/out"'
"$LOAA" pack csv "$tmp/src/m.csv" > /dev/null 2>&1; rc=$?
check "pack without OUTDIR exits 2" '[ $rc -eq 2 ]'
"$LOAA" pack csv "$tmp/src/m.csv" "$tmp/q" --compress lzma > /dev/null 2>&1; rc=$?
check "pack --compress lzma exits 2" '[ $rc -eq 2 ]'
check "loaa help pack names the recipes" '"$LOAA" help pack | grep -q "epic-sounds"'

"$LOAA" bench data --clips 4 --seconds 1 --repeat 1 > "$tmp/out" 2>&1
check "bench data prints clips/s" 'grep -q "^result: clips_per_s=" "$tmp/out"'
echo "1..$n"
exit $failed
