#!/bin/sh
# The demo's chain on tiny sizes (issue 9), under mpirun: stage 1 pretrains
# vit-micro on synthetic images (`method: full`), its best trial's export is
# a timm-named backbone that re-imports exactly; stage 2 on synthetic audio
# names it as `{sweep: demo-pre, best: true}` beside `none`, records the
# file and its SHA-256, and really loads it (the step-0 outputs differ from
# random init and equal those of `loaa train --backbone FILE`); the image
# grid (7x7 tokens at stride 8) differs from the audio grid (8x6 at stride
# 16), so the import adapts the positional embedding. A stage 2 without a
# stage 1, or whose stage 1 has no finished trial, is refused with a clear
# message; the report shows which backbone each trial used; the demo's own
# sweep files parse.
. "$top_srcdir/tests/lib.sh"
test_begin demo
stcmp="$top_builddir/tests/demo_stcmp"
# A number from `loaa train --json` (one "key": value per line) or the store, to 10 decimals.
num() { awk -v x="$1" 'BEGIN { printf "%.10f", x }'; }
json_num() { sed -n "s/^ *\"$1\": \([-0-9.e+]*\),*$/\1/p" "$2" | head -1; }

"$LOAA" synth --kind audio --seed 1 --clips 48 audio > synth.log 2>&1 &&
    "$LOAA" synth --kind images --seed 1 --clips 48 images >> synth.log 2>&1
result $? "tiny synthetic audio (128 mel x 98 frames) and image (64 px) datasets" synth.log

cat > pre.yaml <<'YAML'
name: demo-pre
datasets: [images]
folds: [1]
seeds: [0, 1]
parameters:
  method: {value: full}
  model: {value: vit-micro}
  epochs: {value: 2}
  batch_size: {value: 8}
  fstride: {value: 8}
  tstride: {value: 8}
YAML
cat > audio.yaml <<'YAML'
name: demo-audio
datasets: [audio]
folds: [1]
parameters:
  method: {values: [loaa-tf, linear]}
  backbone: {values: [none, {sweep: demo-pre, best: true}]}
  lr: {values: [0, 1e-3]}
  model: {value: vit-micro}
  epochs: {value: 1}
  batch_size: {value: 8}
  fstride: {value: 16}
  tstride: {value: 16}
YAML

# Stage 2 first: refused before any trial is recorded.
mpirun -np 2 "$LOAA" sweep "$tmp/audio.yaml" --db "$tmp/c.db" > out1 2>&1; rc=$?
[ $rc -ne 0 ] && grep -q "no sweep 'demo-pre'; run it first" out1 &&
    [ "$(sq c.db "select count(*) from trials")" = 0 ]
result $? "stage 2 without stage 1 is refused, naming the missing sweep, and records nothing" out1

# A stage 1 whose only trial failed: refused too.
{ sed 's/seeds: \[0, 1\]/seeds: [0]/' pre.yaml; echo "  fault: {value: nan}"; } > prefail.yaml
mpirun -np 2 "$LOAA" sweep "$tmp/prefail.yaml" --db "$tmp/f.db" > out2 2>&1
mpirun -np 2 "$LOAA" sweep "$tmp/audio.yaml" --db "$tmp/f.db" >> out2 2>&1; rc=$?
[ $rc -ne 0 ] && [ "$(sq f.db "select count(*) from trials where state = 'failed'")" = 1 ] &&
    grep -q "sweep 'demo-pre' has no finished trial" out2
result $? "stage 2 after a stage 1 with no finished trial is refused" out2

mpirun -np 3 "$LOAA" sweep "$tmp/pre.yaml" --db "$tmp/c.db" > out3 2>&1 &&
    mpirun -np 3 "$LOAA" sweep "$tmp/audio.yaml" --db "$tmp/c.db" >> out3 2>&1 &&
    [ "$(sq c.db "select count(*) from trials where state = 'done'")" = 10 ]
result $? "stage 1 (2 trials) then stage 2 (8 trials) in one database" out3

# The backbone stage 2 used: the export of stage 1's best trial by its metric (val_acc: the default, validation only).
bb=$(sq c.db "select distinct backbone from trials where backbone_ref = 'demo-pre'")
pre=$(sq c.db "select trial_id from trials where backbone_export_path = '$bb' and state = 'done'")
better=$(sq c.db "select count(*) from trials t join sweeps s using (sweep_id) join trial_results r using (trial_id)
                  where s.name = 'demo-pre' and r.name = 'val_acc'
                  and r.value > (select value from trial_results where trial_id = '$pre' and name = 'val_acc')")
[ -n "$bb" ] && [ -f "$bb" ] && [ -n "$pre" ] && [ "$better" = 0 ]
result $? "stage 2 names the export of stage 1's best trial ($bb)"
sha=$(sha256sum "$bb" 2>/dev/null | cut -d' ' -f1)
[ -n "$sha" ] && [ "$(sq c.db "select count(*) from trials where backbone_ref = 'demo-pre' and backbone = '$bb' and backbone_sha256 = '$sha'")" = 4 ] &&
    [ "$(sq c.db "select count(*) from trials where backbone_ref is null and backbone is null")" = 6 ]
result $? "the four chained trials record the file and its SHA-256; the others none"

# Exported backbone: timm names, re-imports exactly.
"$LOAA" export --db c.db --trial "$pre" --backbone --out vision.safetensors > out4 2>&1 && cmp -s vision.safetensors "$bb"
result $? "loaa export --backbone copies stage 1's backbone file" out4
ckpt=$(sq c.db "select best_checkpoint_path from trials where trial_id = $pre")
"$stcmp" vision.safetensors "$ckpt" > out5 2>&1
result $? "the backbone holds stage 1's best-epoch weights bit for bit" out5
for t in cls_token pos_embed patch_embed.proj.weight blocks.1.attn.qkv.weight blocks.1.mlp.fc2.bias norm.weight head.weight; do
    grep -aq "\"$t\"" vision.safetensors || echo "missing $t"
done > out6
[ ! -s out6 ] && grep -aq '"loaa.format":"backbone"' vision.safetensors
result $? "the backbone uses timm's tensor names" out6
# Import (a zero learning rate leaves every weight as loaded) and export again.
"$LOAA" train --dataset images --fold 1 --method full --model vit-micro --fstride 8 --tstride 8 --epochs 1 --batch_size 8 \
    --lr 0 --backbone vision.safetensors --out rt > out7 2>&1 &&
    "$stcmp" vision.safetensors rt/backbone.safetensors head. >> out7 2>&1
result $? "import then export gives the same tensors bit for bit (the head is never imported)" out7

# Stage 2 really loads the file: at lr 0 the metrics are those of the step-0 model.
for m in loaa-tf linear; do
    q="select printf('%.10f', r.value) from trials t join trial_results r using (trial_id)
       where t.method = '$m' and t.config_json like '%\"lr\":0,%' and r.name = 'val_loss' and t.backbone"
    a=$(sq c.db "$q is null"); b=$(sq c.db "$q = '$bb'")
    "$LOAA" train --dataset audio --fold 1 --method "$m" --model vit-micro --fstride 16 --tstride 16 --epochs 1 --batch_size 8 \
        --lr 0 --backbone "$bb" --json > "tr-$m.json" 2> "tr-$m.err"
    c=$(num "$(json_num val_loss "tr-$m.json")")
    [ -n "$a" ] && [ -n "$b" ] && [ "$a" != "$b" ] && [ "$b" = "$c" ]
    result $? "$m: step-0 outputs from the chained backbone differ from random init ($a vs $b) and equal loaa train --backbone FILE ($c)" "tr-$m.err"
done
h=$("$LOAA" config --dataset audio --fold 1 --method loaa-tf --model vit-micro --fstride 16 --tstride 16 --epochs 1 --batch_size 8 \
    --lr 0 --backbone "$bb" 2>/dev/null | sed -n 's/^identity //p')
[ -n "$h" ] && [ "$(sq c.db "select count(*) from trials where config_hash = '$h' and backbone_ref = 'demo-pre'")" = 1 ]
result $? "the chained trial's identity is that of the same trial naming the file"

"$LOAA" report --db c.db --sweep demo-audio > rep.txt 2>&1
grep -q "best of demo-pre" rep.txt && grep -q "none" rep.txt
result $? "the report shows which backbone each trial used" rep.txt

# The demo's own files parse and expand (stage 2's chained backbone unresolved in a dry run).
mkdir -p exp && ln -s "$tmp/audio" exp/audio && ln -s "$tmp/images" exp/images
ok=0
for f in "$top_srcdir/experiments/demo-pretrain.yaml" "$top_srcdir/experiments/demo.yaml"; do
    (cd exp && "$LOAA" sweep --dry-run "$f") > dry.out 2>&1 && grep -q "^[1-9][0-9]* trials" dry.out || { ok=1; cat dry.out >> dry.all; }
done
result $ok "experiments/demo-pretrain.yaml and experiments/demo.yaml parse and expand" dry.all

# scripts/demo picks the precision from `loaa version`'s bf16 level (>= 2: bf16, else fp32), writes it into its
# copies of the sweep files and says which; stand-in binaries report each level, the real one its own.
fake() { printf '#!/bin/sh\necho "loaa 0.1.0"\necho "gemm: oneDNN 2.6.3 on %s (bf16 level %s), OMP_WAIT_POLICY=passive"\n' "$1" "$2" > "v$2"
         chmod +x "v$2"; }
ok=0
for lv in 0:avx2:fp32 1:avx512_core:fp32 2:avx512_core_bf16:bf16 3:avx512_core_amx:bf16; do
    lvl=${lv%%:*}; isa=${lv#*:}; isa=${isa%:*}; want=${lv##*:}
    fake "$isa" "$lvl"
    LOAA_DEMO_SWEEPS_ONLY=1 LOAA="$tmp/v$lvl" LOAA_DEMO_OUT="$tmp/demo-$lvl" "$top_srcdir/scripts/demo" > "demo-$lvl.out" 2>&1 &&
        grep -q "^== precision: $want (gemm: oneDNN 2.6.3 on $isa" "demo-$lvl.out" &&
        [ "$(grep -c "^  precision: {value: $want}$" "demo-$lvl/demo.yaml" "demo-$lvl/demo-pretrain.yaml" | grep -c ':1$')" = 2 ] ||
        { ok=1; echo "level $lvl: want $want" >> demo-lv.all; cat "demo-$lvl.out" >> demo-lv.all; }
done
result $ok "scripts/demo writes precision bf16 into its sweep files at bf16 level >= 2 and fp32 below, and prints which" demo-lv.all
lv=$("$LOAA" version | sed -n 's/^gemm:.*(bf16 level \([0-9]*\)).*/\1/p')
[ "${lv:-0}" -ge 2 ] && want=bf16 || want=fp32
LOAA_DEMO_SWEEPS_ONLY=1 LOAA="$LOAA" LOAA_DEMO_OUT="$tmp/demo-real" "$top_srcdir/scripts/demo" > demo-real.out 2>&1 &&
    grep -q "^== precision: $want " demo-real.out && ok=0 || ok=1
for f in demo-pretrain demo; do
    (cd exp && "$LOAA" sweep --dry-run "$tmp/demo-real/$f.yaml") > dry.out 2>&1 && grep -q "^[1-9][0-9]* trials" dry.out ||
        { ok=1; cat dry.out >> demo-real.out; }
done
result $ok "on this CPU (bf16 level ${lv:-?}) scripts/demo picks $want, and its sweep files parse and expand" demo-real.out

test_end
