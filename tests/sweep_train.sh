#!/bin/sh
# MPI integration tests of `loaa sweep` with real training on tiny synthetic
# data (vit-micro, a few seconds in all): a sweep end to end on 3 and 4
# ranks, a trial crashing once after its first epoch resumes from its
# checkpoint with metrics equal to an uninterrupted run, a group of two ranks
# trains one trial, a chained two-stage sweep (vision pretraining -> audio
# with {sweep, best}) really loads the stage-1 export and records its
# SHA-256, and loaa export / loaa train.
. "$top_srcdir/tests/lib.sh"
test_begin sweep-train

"$LOAA" synth --kind audio --seed 1 --clips 48 audio > synth.log 2>&1 &&
    "$LOAA" synth --kind images --seed 1 --clips 48 images >> synth.log 2>&1
result $? "tiny synthetic audio and image datasets" synth.log

cat > base.yaml <<'YAML'
datasets: [audio]
folds: [1]
seeds: [0, 1]
parameters:
  method: {values: [loaa-tf, lora, linear]}
  model: {value: vit-micro}
  epochs: {value: 3}
  batch_size: {value: 8}
  fstride: {value: 16}
  tstride: {value: 16}
YAML
{ echo "name: micro"; cat base.yaml; } > a.yaml
{ echo "name: micro"; cat base.yaml; echo '  fault: {value: "crash-once@seed=1"}'; } > b.yaml
mpirun -np 3 "$LOAA" sweep "$tmp/a.yaml" --db "$tmp/a.db" > outa 2>&1; rc=$?
[ $rc -eq 0 ] && [ "$(sq a.db "select count(*) from trials where state = 'done' and adapter_path is not null")" = 6 ]
result $? "3 ranks: six vit-micro trials train and export adapters" outa
[ "$(sq a.db "select count(*) from trials where trainable_params > 0 and total_params > trainable_params and samples_per_s > 0 and peak_rss > 0 and gemm_backend = 'blas' and loaa_version is not null and isa is not null")" = 6 ]
result $? "parameter counts, samples/s, peak RSS and provenance recorded"
[ "$(sq a.db "select count(*) from trial_metrics where name = 'val_acc'")" = 18 ] &&
    [ "$(sq a.db "select count(*) from trial_results where name in ('test_acc', 'test_top5', 'test_map', 'test_mpca')")" = 24 ]
result $? "per-epoch validation metrics and best-epoch test metrics"
f=$(sq a.db "select best_checkpoint_path from trials limit 1"); g=$(sq a.db "select checkpoint_path from trials limit 1")
[ -f "$f" ] && [ -f "$g" ]
result $? "best and last checkpoints kept"
mpirun -np 4 "$LOAA" sweep "$tmp/b.yaml" --db "$tmp/b.db" --artifacts "$tmp/art-b" > outb 2>&1; rc=$?
[ $rc -eq 0 ] && [ "$(sq b.db "select count(*) from trials where state = 'done'")" = 6 ] &&
    [ "$(sq b.db "select sum(attempts) from trials")" = 3 ]
result $? "4 ranks: three trials crash after their first epoch and finish on their second attempt" outb
grep -q "resumed from" art-b/micro/*/trial.log
result $? "the retried trials resume from their epoch checkpoint"
sq a.db "select config_hash, name, value from trials join trial_results using (trial_id) order by 1, 2" > a.txt
sq b.db "select config_hash, name, value from trials join trial_results using (trial_id) order by 1, 2" > b.txt
[ -s a.txt ] && cmp -s a.txt b.txt
result $? "resumed trials end with exactly the metrics of uninterrupted ones"

# kill -9 of mpirun in the middle of real training, twice; the rerun continues the interrupted trials
# from their epoch checkpoints and ends with the metrics of the uninterrupted run (a.db).
{ echo "name: micro"; cat base.yaml; echo '  fault: {value: "sleep:0.5"}'; } > k.yaml
gone() { for i in $(seq 1 $((50 * time_factor))); do [ -z "$(procs "loaa sweep $tmp/k.yaml")" ] && return 0; sleep 0.1; done; return 1; }
for k in 1 2; do
    "$MPIRUN" --oversubscribe -np 3 "$LOAA" sweep "$tmp/k.yaml" --db "$tmp/k.db" --artifacts "$tmp/art-k" > outk$k 2>&1 &
    pid=$!
    # kill once a trial has written an epoch checkpoint, so the kill lands mid-trial
    for i in $(seq 1 $((200 * time_factor))); do ls art-k/micro/*/last.ckpt > /dev/null 2>&1 && break; sleep 0.05; done
    sleep 0.1
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    gone
    result $? "kill -9 of mpirun during training ($k): nothing left running"
done
[ "$(sq k.db "pragma integrity_check")" = ok ]
result $? "the killed sweep's database is intact"
mpirun -np 3 "$LOAA" sweep "$tmp/k.yaml" --db "$tmp/k.db" --artifacts "$tmp/art-k" > outk 2>&1; rc=$?
sq k.db "select config_hash, name, value from trials join trial_results using (trial_id) order by 1, 2" > k.txt
[ $rc -eq 0 ] && [ "$(sq k.db "select count(*) from trials where state = 'done'")" = 6 ] && [ "$(sq k.db "select max(attempts) from trials")" = 0 ] &&
    cmp -s a.txt k.txt
result $? "the rerun finishes every trial once, with the metrics of an uninterrupted run" outk
grep -q "resumed from" art-k/micro/*/trial.log
result $? "interrupted trials continued from their epoch checkpoints"

{ echo "name: pair"; echo "ranks_per_trial: 2"; sed 's/seeds: \[0, 1\]/seeds: [0]/; s/values: \[loaa-tf, lora, linear\]/values: [loaa-tf]/' base.yaml; } > g.yaml
mpirun -np 3 "$LOAA" sweep "$tmp/g.yaml" --db "$tmp/g.db" > outg 2>&1; rc=$?
[ $rc -eq 0 ] && [ "$(sq g.db "select count(*) from trials where state = 'done' and ranks = 2")" = 1 ]
result $? "a group of two ranks trains one trial" outg
h=$(sq g.db "select config_hash from trials")
sq g.db "select name, printf('%.4f', value) from trial_results order by 1" > g.txt
sq a.db "select name, printf('%.4f', value) from trial_results join trials using (trial_id) where config_hash = '$h' order by 1" > g1.txt
[ -s g.txt ] && cmp -s g.txt g1.txt && [ "$(sq g.db "select gemm_backend from trials")" = scalapack ]
result $? "the two-rank group (ScaLAPACK, each rank decoding half of every batch) matches the one-rank trial"
log=$(sq g.db "select log_path from trials")
[ -f "$log" ] && grep -q "rank 0 of a group of 2" "$log" && grep -q "^epoch" "$log" && [ -f "$(dirname "$log")/trial.rank-1.log" ] &&
    ! grep -q "^epoch" outg
result $? "the group's output goes to the trial's own log files, not mpirun's (log: $log)" outg

# The same pair in bf16. A bf16 group runs no ScaLAPACK product (doc/distributed.md): each rank's bf16 products
# run locally on its own samples' rows, and the gradients are summed over the group in fp32. The group therefore
# differs from one rank only in the fp32 summation order of the weight gradients (and oneDNN's blocking for fewer
# rows), ~1e-7 relative per step, which reaches the bf16 weight copies only where it flips one rounding (2^-9
# relative). Tolerance: every test/val/train metric within 0.5 % (|a - b| <= 0.005 max(1, |a|)) and the per-epoch
# training loss within 0.5 % relative, about two bf16 roundings: far below what a wrong share of the batch, a
# missing gradient sum or a rank training on the other's samples does (the loss moves by whole percents).
if "$LOAA" version | grep -q "bf16 level [1-9]"; then
    { echo "name: pair16"; sed 's/seeds: \[0, 1\]/seeds: [0]/; s/values: \[loaa-tf, lora, linear\]/values: [loaa-tf]/' base.yaml
      echo "  precision: {value: bf16}"; } > p1.yaml
    { echo "ranks_per_trial: 2"; cat p1.yaml; } > p2.yaml
    mpirun -np 2 "$LOAA" sweep "$tmp/p1.yaml" --db "$tmp/p1.db" > outp1 2>&1 &&
        mpirun -np 3 "$LOAA" sweep "$tmp/p2.yaml" --db "$tmp/p2.db" > outp2 2>&1 &&
        [ "$(sq p2.db "select count(*) from trials where state = 'done' and ranks = 2 and config_json like '%\"precision\":\"bf16\"%'")" = 1 ]
    result $? "bf16: a group of two ranks trains one trial" outp2
    for d in p1 p2; do
        sq $d.db "select config_hash, 'r', name, value from trials join trial_results using (trial_id)
                  union all select config_hash, 'e' || epoch, name, value from trials join trial_metrics using (trial_id)
                  order by 1, 2, 3" > $d.txt
    done
    [ -s p1.txt ] && [ "$(wc -l < p1.txt)" = "$(wc -l < p2.txt)" ] &&
        paste -d'|' p1.txt p2.txt | awk -F'|' '$1 != $5 || $2 != $6 || $3 != $7 { bad = 1 }
            { d = $4 - $8; if (d < 0) d = -d; a = $4 < 0 ? -$4 : $4; if (d > 0.005 * (a > 1 ? a : 1)) bad = 1 }
            END { exit bad }'
    result $? "bf16: the two-rank group matches the one-rank trial within 0.5 % (same config_hash)" p2.txt
else
    result 0 "bf16 group check skipped: this CPU's oneDNN has no bf16 ($("$LOAA" version | grep gemm))"
fi

cat > pre.yaml <<'YAML'
name: vision-pretrain
datasets: [images]
folds: [1]
parameters:
  method: {value: full}
  model: {value: vit-micro}
  epochs: {value: 2}
  batch_size: {value: 8}
  fstride: {value: 16}
  tstride: {value: 16}
YAML
cat > audio.yaml <<'YAML'
name: audio-from-vision
datasets: [audio]
folds: [1]
parameters:
  method: {values: [loaa-tf, linear]}
  backbone: {values: [none, {sweep: vision-pretrain, best: true}]}
  model: {value: vit-micro}
  epochs: {value: 2}
  batch_size: {value: 8}
  fstride: {value: 16}
  tstride: {value: 16}
YAML
mpirun -np 3 "$LOAA" sweep "$tmp/audio.yaml" --db "$tmp/c.db" > outc1 2>&1; rc=$?
[ $rc -ne 0 ] && grep -q "no sweep 'vision-pretrain'" outc1
result $? "stage 2 before stage 1 is refused" outc1
mpirun -np 3 "$LOAA" sweep "$tmp/pre.yaml" --db "$tmp/c.db" > outc2 2>&1 &&
    mpirun -np 3 "$LOAA" sweep "$tmp/audio.yaml" --db "$tmp/c.db" > outc3 2>&1
result $? "stage 1 then stage 2 run" outc3
bb=$(sq c.db "select backbone_export_path from trials where method = 'full'")
sha=$(sha256sum "$bb" 2>/dev/null | cut -d' ' -f1)
[ -n "$sha" ] && [ "$(sq c.db "select count(*) from trials where backbone_ref = 'vision-pretrain' and backbone_sha256 = '$sha' and backbone = '$bb' and state = 'done'")" = 2 ]
result $? "stage 2 trials record the stage-1 export and its SHA-256"
# Existing databases: when stage 1's best trial changes (here: its export replaced by another file), stage 2
# keeps the backbone its trials resolved, so they keep their identities; --reselect-backbones chooses again.
cp "$bb" bb2.safetensors && printf 'x' | dd of=bb2.safetensors bs=1 seek=$(($(stat -c %s bb2.safetensors) - 4)) conv=notrunc 2> /dev/null
sq c.db "update trials set backbone_export_path = '$tmp/bb2.safetensors' where method = 'full'" > /dev/null
mpirun -np 3 "$LOAA" sweep "$tmp/audio.yaml" --db "$tmp/c.db" > outc4 2>&1; rc=$?
[ $rc -eq 0 ] && grep -q "(0 run now" outc4 && grep -q "as this sweep's trials resolved it" outc4 && [ "$(sq c.db "select count(*) from trials")" = 5 ]
result $? "a chained sweep rerun keeps the backbone its trials resolved: nothing runs again" outc4
mpirun -np 3 "$LOAA" sweep "$tmp/audio.yaml" --db "$tmp/c.db" --reselect-backbones > outc5 2>&1; rc=$?
[ $rc -eq 0 ] && grep -q "(2 run now" outc5 && [ "$(sq c.db "select count(*) from trials where backbone = '$tmp/bb2.safetensors' and state = 'done'")" = 2 ]
result $? "--reselect-backbones chooses stage 1's best again: two new trials" outc5
mpirun -np 3 "$LOAA" sweep "$tmp/audio.yaml" --db "$tmp/c.db" > outc6 2>&1; rc=$?
[ $rc -eq 0 ] && grep -q "(0 run now" outc6 && grep -q "bb2.safetensors, as this sweep" outc6
result $? "after a reselection, the latest resolved backbone is kept" outc6
"$LOAA" report --db c.db --sweep audio-from-vision --cross > rep.txt 2>&1
grep -q "best of vision-pretrain" rep.txt && grep -q "none" rep.txt
result $? "the report shows which backbone each trial used" rep.txt
# issue 18 #6: a link planted at the copy's old temporary name (OUT.tmp) is not followed
echo "the victim's file" > victim.txt && ln -s "$tmp/victim.txt" best.safetensors.tmp
"$LOAA" export --db c.db --best --dataset audio --sweep audio-from-vision --out best.safetensors > outx 2>&1; rc=$?
[ -L best.safetensors.tmp ] && [ "$(cat victim.txt)" = "the victim's file" ] && [ -z "$(find . -maxdepth 1 -type f -name 'best.safetensors.tmp*')" ]
result $? "loaa export copies beside a link planted at its old temporary name, which is not followed"
card="select json_extract(c, '\$.kind') || ' ' || (json_extract(c, '\$.results.test_acc') is not null) || ' ' || length(json_extract(c, '\$.sha256')) from (select readfile('best.safetensors.json') as c)"
[ $rc -eq 0 ] && [ -s best.safetensors ] && [ "$(sq c.db "$card")" = "adapter 1 64" ]
result $? "loaa export --best copies the adapter with its card" outx
"$LOAA" export --db c.db --trial 1 --backbone --out bb.safetensors > outx2 2>&1
result $? "loaa export --backbone copies the stage-1 backbone" outx2
"$LOAA" train --dataset audio --fold 1 --method loaa-tf --model vit-micro --epochs 2 --batch_size 8 --fstride 16 --tstride 16 --out tr > tr.txt 2>&1; rc=$?
[ $rc -eq 0 ] && grep -q "^epoch 2/2" tr.txt && grep -q "^test_acc" tr.txt && [ -f tr/adapter.safetensors ]
result $? "loaa train trains one trial through the same runner" tr.txt
# issue 18 #2: the same --out with another config is refused naming the key; the earlier results stay as they were
sum_before=$(cat tr/last.ckpt tr/best.ckpt tr/adapter.safetensors | cksum)
"$LOAA" train --dataset audio --fold 1 --method loaa-tf --model vit-micro --epochs 2 --batch_size 8 --fstride 16 --tstride 16 \
    --lr 0.005 --out tr > tr2.txt 2>&1; rc=$?
[ $rc -ne 0 ] && grep -q "holds another trial" tr2.txt && grep -q "key 'lr'" tr2.txt && ! ls tr/*.bad > /dev/null 2>&1 &&
    [ "$(cat tr/last.ckpt tr/best.ckpt tr/adapter.safetensors | cksum)" = "$sum_before" ]
result $? "loaa train --out with another config is refused naming the key, nothing moved or replaced" tr2.txt
# issue 18 #1: a ~1,100-byte --out is refused naming it, not truncated (best and last checkpoints would collide)
long=$tmp/$(printf 'd%.0s' $(seq 1 100))/$(printf 'e%.0s' $(seq 1 1000))
"$LOAA" train --dataset audio --fold 1 --method linear --model vit-micro --epochs 1 --batch_size 8 --fstride 16 --tstride 16 \
    --out "$long" > long.txt 2>&1; rc=$?
[ $rc -ne 0 ] && grep -q "trial folder of [0-9]* bytes" long.txt && grep -qF "$long" long.txt && [ ! -e "$tmp/$(printf 'd%.0s' $(seq 1 100))" ]
result $? "a trial folder too long for its file names is refused naming it, nothing made" long.txt

# Issue 14's "done when": methods x lr x 3 seeds x 3 folds on synthetic data with ASHA under mpirun; the report's
# validation-selected table with pruned counts; the paired comparison; export --best by validation.
"$LOAA" synth --kind audio --seed 2 --clips 48 --folds 4 audio4 > synth4.log 2>&1
{ echo "name: cmp"; echo "early_terminate: {type: asha, min_epochs: 1, eta: 2}"
  sed -e 's/\[audio\]/[audio4]/' -e 's/folds: \[1\]/folds: [1, 2, 3]/' -e 's/seeds: \[0, 1\]/seeds: [0, 1, 2]/' \
      -e 's/\[loaa-tf, lora, linear\]/[loaa-tf, lora]/' -e 's/epochs: {value: 3}/epochs: {value: 2}/' base.yaml
  echo "  lr: {values: [1e-3, 1e-2]}"; } > cmp.yaml
mpirun -np 3 "$LOAA" sweep "$tmp/cmp.yaml" --db "$tmp/cmp.db" > outcmp 2>&1; rc=$?
[ $rc -eq 0 ] && [ "$(sq cmp.db "select count(*) from trials where state in ('done', 'pruned')")" = 36 ]
result $? "ASHA over methods x lr x 3 seeds x 3 folds: 36 trials done or pruned" outcmp
np=$(sq cmp.db "select count(*) from trials where state = 'pruned'")
"$LOAA" report --db cmp.db > repcmp.txt 2>&1; rc=$?
if [ "$np" -gt 0 ]; then counted="(n=$((36 - np)) of 36, $np pruned)"; else counted="(n=36)"; fi
[ $rc -eq 0 ] && grep -q "Validation-selected configurations" repcmp.txt && grep -q "^audio4  *loaa-tf  *none  *loaa-tf lr=" repcmp.txt &&
    grep -q "^lora  .*(n=[0-9]" repcmp.txt && grep -qF "$counted" repcmp.txt
result $? "loaa report: the validation-selected table, every trial counted $counted" repcmp.txt
"$LOAA" report --db cmp.db --compare loaa-tf,lora > repc.txt 2>&1; rc=$?
"$LOAA" report --db cmp.db --compare loaa-tf,lora --json > repc.json 2>&1
[ $rc -eq 0 ] && grep -q "^loaa-tf - lora  *audio4  *none  *3 " repc.txt && grep -q "(manifest counts)" repc.txt &&
    [ "$(sq cmp.db "select json_extract(readfile('repc.json'), '\$.compare[0].n') || ' ' || json_extract(readfile('repc.json'), '\$.compare[0].test_train_ratio')")" = "3 0.5" ]
result $? "loaa report --compare loaa-tf,lora pairs 3 folds (test/train 12:24 from the manifest), also in JSON" repc.txt
hi=$(sq cmp.db "select t.trial_id from trials t join trial_results r using (trial_id) where t.state = 'done' and r.name = 'val_acc'
                order by r.value desc, t.trial_id limit 1")
"$LOAA" export --db cmp.db --best --dataset audio4 --out cmp.safetensors > outcx 2>&1
grep -q "^trial $hi -> cmp.safetensors" outcx
result $? "loaa export --best picks by validation accuracy (trial $hi)" outcx

test_end
