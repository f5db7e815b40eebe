#!/bin/sh
# The data commands from the command line: loaa synth (audio, images; same seed, same
# bytes), loaa pack (csv recipe; usage errors exit 2; a missing input exits 1 naming it),
# empty folds and splits refused by synth, pack and train (before the first epoch),
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
"$LOAA" synth --kind images --clips 48 --size 32 --splits 0.5,0.25,0.25 "$tmp/i" > /dev/null 2>&1
check "synth images writes an image dataset with splits" 'grep -q "\"image\"" "$tmp/i/dataset.json" && grep -q "\"splits\"" "$tmp/i/dataset.json"'
# issue 18 #4: a fold or split left empty is refused when the dataset is made, naming it (12 classes: 24 clips
# give each class 2, which --splits' default 0.8,0.1,0.1 puts in train)
"$LOAA" synth --clips 24 --seconds 0.3 --mel 32 --splits "$tmp/e1" > "$tmp/out" 2>&1; rc=$?
check "synth --clips 24 --splits: refused naming the empty split, no dataset written" \
    '[ $rc -eq 2 ] && grep -q "split .val. would be empty" "$tmp/out" && [ ! -f "$tmp/e1/dataset.json" ]'
"$LOAA" synth --clips 48 --seconds 0.3 --mel 32 --splits 1,0,0 "$tmp/e2" > "$tmp/out" 2>&1; rc=$?
check "synth --splits 1,0,0: refused naming the empty split" '[ $rc -eq 2 ] && grep -q "split .val. would be empty" "$tmp/out"'
"$LOAA" synth --clips 24 --seconds 0.3 --mel 32 --folds 3 "$tmp/e3" > "$tmp/out" 2>&1; rc=$?
check "synth --clips 24 --folds 3 warns naming the empty fold (dataset.json's counts record it)" \
    '[ $rc -eq 0 ] && grep -q "fold 3 would be empty" "$tmp/out" && grep -q "\"fold3\": 0" "$tmp/e3/dataset.json"'
"$LOAA" synth --clips 0 "$tmp/x" > "$tmp/out" 2>&1; rc=$?
check "synth --clips 0 is a usage error" '[ $rc -eq 2 ] && grep -q "clips" "$tmp/out"'
"$LOAA" synth --kind video "$tmp/x" > /dev/null 2>&1; rc=$?
check "synth --kind video is a usage error" '[ $rc -eq 2 ]'

mkdir "$tmp/src"
tar xf "$tmp/a/fold1-000000.tar" -C "$tmp/src"
{ echo "path,label,fold"; i=0; for f in $(ls "$tmp/src" | grep wav | head -9); do echo "$f,c$((i % 3)),$((i % 3 + 1))"; i=$((i+1)); done; } > "$tmp/src/m.csv"
"$LOAA" pack csv "$tmp/src/m.csv" "$tmp/p" --compress zst --resample 8000 --stats > "$tmp/out" 2>&1; rc=$?
check "pack csv with folds, zst, resample, stats" '[ $rc -eq 0 ] && grep -q "\"folds\"" "$tmp/p/dataset.json" && [ -f "$tmp/p/fold3-000000.tar.zst" ] && grep -q "\"sample_rate\": 8000" "$tmp/p/dataset.json"'
{ echo "path,label,fold"; i=0; for f in $(ls "$tmp/src" | grep wav | head -9); do echo "$f,c$((i % 3)),$((i % 3 * 2 + 1))"; i=$((i+1)); done; } > "$tmp/src/m135.csv"
"$LOAA" pack csv "$tmp/src/m135.csv" "$tmp/p135" > "$tmp/out" 2>&1; rc=$?
check "pack csv with folds {1,3,5}: refused naming fold 2, nothing written" \
    '[ $rc -eq 2 ] && grep -q "fold 2 would be empty" "$tmp/out" && [ ! -f "$tmp/p135/dataset.json" ]'
"$LOAA" pack csv "$tmp/nope.csv" "$tmp/q" > "$tmp/out" 2>&1; rc=$?
check "pack: a missing manifest exits 1 naming it" '[ $rc -eq 1 ] && grep -q "nope.csv" "$tmp/out"'
"$LOAA" pack csv "$tmp/src/m.csv" > /dev/null 2>&1; rc=$?
check "pack without OUTDIR exits 2" '[ $rc -eq 2 ]'
"$LOAA" pack csv "$tmp/src/m.csv" "$tmp/q" --compress lzma > /dev/null 2>&1; rc=$?
check "pack --compress lzma exits 2" '[ $rc -eq 2 ]'
check "loaa help pack names the recipes" '"$LOAA" help pack | grep -q "epic-sounds"'

# a dataset whose validation list is empty (written by hand) is refused before the first epoch, not after it
"$LOAA" synth --clips 48 --seconds 0.3 --mel 32 --splits 0.5,0.25,0.25 "$tmp/s" > /dev/null 2>&1 && cp -r "$tmp/s" "$tmp/nv" &&
    python3 -c 'import json,sys; p=sys.argv[1]; d=json.load(open(p)); d["splits"]["val"]=[]; d.pop("counts"); json.dump(d, open(p, "w"))' \
    "$tmp/nv/dataset.json"
"$LOAA" train --dataset "$tmp/nv" --model vit-micro --epochs 1 --batch_size 8 --fstride 16 --tstride 16 --out "$tmp/tr" > "$tmp/out" 2>&1; rc=$?
check "train on a dataset with an empty validation split: refused before the first epoch" \
    '[ $rc -ne 0 ] && grep -q "validation split has no samples.*before the first epoch" "$tmp/out" && ! grep -q "^epoch 1" "$tmp/out"'
# issue 18 #17: counts that disagree with the shards (they set the schedule's epoch length) fail the trial at its first epoch
cp -r "$tmp/s" "$tmp/wc" && python3 -c 'import json,sys; p=sys.argv[1]; d=json.load(open(p)); d["counts"]["train"]+=5; json.dump(d, open(p, "w"))' \
    "$tmp/wc/dataset.json"
"$LOAA" train --dataset "$tmp/wc" --model vit-micro --epochs 2 --batch_size 8 --fstride 16 --tstride 16 --out "$tmp/tw" > "$tmp/out" 2>&1; rc=$?
check "train with dataset.json counts that disagree with the shards: refused naming both numbers" \
    '[ $rc -ne 0 ] && grep -q "counts give the training split [0-9]* samples, its shards held [0-9]*" "$tmp/out" && ! grep -q "^epoch 2" "$tmp/out"'
"$LOAA" train --dataset "$tmp/s" --model vit-micro --epochs 1 --batch_size 8 --fstride 16 --tstride 16 --out "$tmp/ts" > "$tmp/out" 2>&1; rc=$?
check "train with counts that match the shards runs" '[ $rc -eq 0 ] && grep -q "^epoch 1/1" "$tmp/out"'
"$LOAA" bench data --clips 4 --seconds 1 --repeat 1 > "$tmp/out" 2>&1
check "bench data prints clips/s" 'grep -q "^result: clips_per_s=" "$tmp/out"'
echo "1..$n"
exit $failed
