#!/bin/sh
# The `precision` key at the edges: a node whose oneDNN has no bf16 matmul
# (DNNL_MAX_CPU_ISA=AVX2 makes any x86 CPU one) refuses a bf16 sweep before
# any trial starts, naming the key and the ISA; `loaa train` refuses before
# its first epoch; plain AVX-512 warns that bf16 is slower than fp32; a trial
# resumed on another ISA warns and records both; an
# unknown value names the key and the allowed values.
. "$top_srcdir/tests/lib.sh"
test_begin precision

"$LOAA" synth --kind audio --seed 1 --clips 48 audio > synth.log 2>&1
result $? "a tiny synthetic dataset" synth.log
cat > bf16.yaml <<'YAML'
name: bf16
datasets: [audio]
folds: [1]
seeds: [0, 1]
parameters:
  method: {value: loaa-tf}
  dim: {value: 16}
  depth: {value: 1}
  heads: {value: 2}
  epochs: {value: 1}
  batch_size: {value: 8}
  fstride: {value: 16}
  tstride: {value: 16}
  precision: {value: bf16}
YAML
DNNL_MAX_CPU_ISA=AVX2 mpirun -np 2 "$LOAA" sweep "$tmp/bf16.yaml" --db "$tmp/a.db" --artifacts "$tmp/art" > sweep.log 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q "key 'precision'" sweep.log && grep -q "'avx2'" sweep.log &&
    [ "$(sq a.db "select count(*) from trials where state <> 'pending'" 2>/dev/null || echo 0)" = 0 ] && [ ! -d art/bf16 ]
result $? "an AVX2-only node refuses a bf16 sweep before any trial starts, naming the key and the ISA" sweep.log

train() { "$LOAA" train --dataset audio --fold 1 --method loaa-tf --dim 16 --depth 1 --heads 2 --epochs 1 --batch_size 8 \
    --fstride 16 --tstride 16 "$@"; }
DNNL_MAX_CPU_ISA=AVX2 train --precision bf16 --out tr > train.log 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q "'avx2'" train.log && ! grep -q "^epoch" train.log
result $? "loaa train refuses bf16 on an AVX2-only node before its first epoch" train.log

DNNL_MAX_CPU_ISA=AVX512_CORE train --precision bf16 --out tr2 > warn.log 2>&1
grep -q "slower than fp32" warn.log
result $? "plain AVX-512 (no BF16 instructions) warns that bf16 is slower than fp32" warn.log

# A trial resumed on a node of another ISA warns and records both (bf16 results differ in their last bits).
DNNL_MAX_CPU_ISA=AVX2 train --epochs 2 --fault crash --out tr4 > crash.log 2>&1
train --epochs 2 --out tr4 --json > resume.log 2>&1
rc=$?
[ $rc -eq 0 ] && grep -q "warn: resumed on ISA" resume.log && grep -q '"isa": "avx2,' resume.log
result $? "a trial resumed on another ISA warns and records both in its provenance" resume.log

train --precision fp16 --out tr3 > fp16.log 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q "key 'precision': unknown value 'fp16' (expected one of: fp32, bf16)" fp16.log
result $? "precision fp16 is refused naming the key and the allowed values" fp16.log
test_end
