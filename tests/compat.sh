#!/bin/sh
# Databases and checkpoints made before the `precision` key existed (main at
# 02a6b22, tests/fixtures/compat/README) keep working: the sweep finds its
# finished trials under the same config_hash and runs nothing again, and
# `loaa train` resumes the old last.ckpt.
. "$top_srcdir/tests/lib.sh"
test_begin compat
fx=$top_srcdir/tests/fixtures/compat

"$LOAA" synth --kind audio --seed 1 --clips 48 audio > synth.log 2>&1
result $? "the fixtures' synthetic dataset, made again" synth.log
cp "$fx/compat.yaml" "$fx/compat.db" . && chmod u+w compat.db && mkdir tr && cp "$fx/last.ckpt" "$fx/best.ckpt" "$fx/epochs.txt" tr/ &&
    chmod u+w tr/*
sq compat.db "select config_hash, state, attempts from trials order by 1" > before.txt
mpirun -np 2 "$LOAA" sweep "$tmp/compat.yaml" --db "$tmp/compat.db" --artifacts "$tmp/art" > sweep.log 2>&1
rc=$?
sq compat.db "select config_hash, state, attempts from trials order by 1" > after.txt
[ $rc -eq 0 ] && [ "$(wc -l < before.txt)" = 4 ] && cmp -s before.txt after.txt && grep -q "0 run now" sweep.log
result $? "an old database's four finished trials keep their config_hash and none runs again" sweep.log

"$LOAA" train --dataset audio --fold 1 --method loaa-tf --dim 16 --depth 1 --heads 2 --epochs 2 --batch_size 8 \
    --fstride 16 --tstride 16 --out tr > train.log 2>&1
rc=$?
[ $rc -eq 0 ] && grep -q "resumed from" train.log && grep -q "epoch 2/2" train.log && ! grep -q "epoch 1/2" train.log
result $? "an old last.ckpt resumes at epoch 2 under the same config" train.log
test_end
