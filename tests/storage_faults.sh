#!/bin/sh
# storage_faults.sh - storage and process faults during `loaa sweep`, each
# giving a clear error or a clean retry, never a corrupt database or a lost
# finished result: a full disk (RLIMIT_FSIZE lowered on the running
# coordinator with prlimit; it binds root too), a path
# that cannot be created, another process holding the database lock (sqlite3
# with BEGIN EXCLUSIVE, shorter and longer than the busy timeout), epoch
# checkpoints truncated on disk, a trial process killed with kill -9 (the
# sweep goes on), and a worker rank killed with kill -9 (the job stops, the
# finished results stay, the next run completes).
. "$top_srcdir/tests/lib.sh"
test_begin storage-faults
faults=0; lost=0
gone() { for i in $(seq 1 $((100 * time_factor))); do pgrep -f "loaa sweep $tmp/.* --db $tmp/$1" > /dev/null || return 0; sleep 0.1; done; return 1; }
# Every finished trial of DB A is finished in DB B with the same final metrics.
kept() {
    sq "$1" "select t.config_hash, r.name, r.value from trials t join trial_results r using (trial_id) where t.state = 'done' order by 1, 2" > kept.a
    sq "$2" "select t.config_hash, r.name, r.value from trials t join trial_results r using (trial_id) where t.state = 'done' order by 1, 2" > kept.b
    lostn=$(comm -23 kept.a kept.b | wc -l)
    lost=$((lost + lostn))
    [ "$lostn" = 0 ]
}

mkdir ds && echo '{"name": "noop"}' > ds/dataset.json
# 20 seeds x 20 bottlenecks = 400 noop trials; under valgrind (every commit 20-50 times slower) 4 x 10 = 40,
# which still fills the disk mid-sweep and leaves trials for each lock holder to block.
if [ "${LOAA_VALGRIND:-0}" = 1 ]; then nseeds=4 nbn=10; else nseeds=20 nbn=20; fi
total=$((nseeds * nbn))
list() { seq -s ', ' "$@"; }
cat > many.yaml <<YAML
name: many
datasets: [ds]
seeds: [$(list 0 $((nseeds - 1)))]
parameters:
  method: {value: noop}
  epochs: {value: 3}
  bottleneck: {values: [$(list 1 "$nbn")]}
YAML
sweep() { y=$1 db=$2; shift 2; "$MPIRUN" --oversubscribe -np 3 "$LOAA" sweep "$tmp/$y" --db "$tmp/$db" "$@"; }

# --- a full disk: RLIMIT_FSIZE (binds root too) lowered on the running coordinator ---
sweep many.yaml ref.db --no-progress > outref 2>&1
[ "$(sq ref.db "select count(*) from trials where state = 'done'")" = $total ]
result $? "reference: $total noop trials" outref
sed 's/^  epochs: {value: 3}$/  epochs: {value: 3}\n  fault: {value: "sleep:0.005"}/' many.yaml > slowmany.yaml
"$MPIRUN" --oversubscribe -np 3 "$LOAA" sweep "$tmp/slowmany.yaml" --db "$tmp/full.db" --no-progress > outfull 2>&1 &
pid=$!
pids="$pids $pid"
for i in $(seq 1 $((200 * time_factor))); do
    [ "$(sq full.db "select count(*) from trials where state = 'done'" 2>/dev/null || echo 0)" -ge $((total / 20)) ] && break
    sleep 0.05
done
holder=$(tr -d '\n' < full.db.lock 2>/dev/null)
# the coordinator (the lock holder) may write only a few KiB more to any file: its next commits fail as on a full disk
lim=$(( $(wc -c < full.db) + $(wc -c < full.db-wal 2>/dev/null || echo 0) + 8192 ))
[ -n "$holder" ] && prlimit --pid "$holder" --fsize="$lim"
faults=$((faults + 1))
wait $pid; rc=$?
gone full.db
[ -n "$holder" ] && [ $rc -ne 0 ] && grep -qiE "disk|full|too large" outfull && [ "$(sq full.db "pragma integrity_check")" = ok ]
result $? "a full disk stops the sweep with a clear error, the database intact" outfull
grep -iE "loaa.*(disk|full)" outfull | head -2 | sed 's/^/# /'
done_full=$(sq full.db "select count(*) from trials where state = 'done'")
echo "# $done_full of $total trials recorded before the disk filled"
kept full.db ref.db
result $? "the $done_full trials recorded before the disk filled are intact"
sweep many.yaml full.db --no-progress > outfull2 2>&1; rc=$?
[ $rc -eq 0 ] && [ "$(sq full.db "select count(*) from trials where state = 'done'")" = $total ] &&
    [ "$(sq full.db "select count(*) from trials")" = $total ] && kept ref.db full.db && [ "$(sq full.db "pragma integrity_check")" = ok ]
result $? "with space again the same command finishes: $total trials once each, the same results" outfull2

# --- paths that cannot be created ---
echo file > afile
sweep many.yaml afile/results.db > outpath 2>&1; rc=$?
faults=$((faults + 1))
[ $rc -ne 0 ] && grep -q "cannot create $tmp/afile/" outpath
result $? "a database path under a regular file: a clear error naming it" outpath
sweep many.yaml art.db --artifacts "$tmp/afile/art" > outart 2>&1; rc=$?
faults=$((faults + 1))
[ $rc -ne 0 ] && grep -q "afile/art" outart && [ "$(sq art.db "select count(*) from trials where state = 'done'" 2>/dev/null || echo 0)" = 0 ]
result $? "an artifacts folder that cannot be created: a clear error naming it, no trial run" outart

# --- another process holds the database lock ---
# hold_lock SECONDS: sqlite3 holds lock.db with BEGIN EXCLUSIVE until SECONDS after the next coordinator took
# lock.db.lock (written just before it opens the database), so however slow its start-up the sweep meets the lock.
hold_lock() {
    rm -f lock.db.lock
    (echo "BEGIN EXCLUSIVE; SELECT count(*) FROM trials;"
     for i in $(seq 1 $((200 * time_factor))); do [ -s lock.db.lock ] && break; sleep 0.1; done
     sleep "$1"; echo "COMMIT;") | sqlite3 lock.db > /dev/null
}
cp ref.db lock.db
sq lock.db "update trials set state = 'pending' where trial_id % 10 = 0" > /dev/null
# sweep_under_lock SECONDS OUT: the sweep on lock.db while sqlite3 holds its lock for SECONDS; rc is the sweep's status
sweep_under_lock() {
    hold_lock "$1" &
    holder=$!
    pids="$pids $holder"
    sleep 0.5
    sweep many.yaml lock.db --no-progress > "$2" 2>&1; rc=$?
    wait $holder
    faults=$((faults + 1))
}
# held for 2 s, below the 10 s busy timeout: the sweep waits and goes on
sweep_under_lock 2 outlock
[ $rc -eq 0 ] && [ "$(sq lock.db "select count(*) from trials where state = 'done'")" = $total ] && kept ref.db lock.db
result $? "a lock held for 2 s by sqlite3 (BEGIN EXCLUSIVE): the sweep waits, then finishes" outlock
sq lock.db "update trials set state = 'pending' where trial_id % 10 = 1" > /dev/null
# held past the busy timeout: a clear error, nothing lost
sweep_under_lock 14 outlock2
gone lock.db
[ $rc -ne 0 ] && grep -qi "locked\|busy" outlock2 && [ "$(sq lock.db "pragma integrity_check")" = ok ] &&
    [ "$(sq lock.db "select count(*) from trials where state = 'done'")" = $((total - total / 10)) ]
result $? "a lock held past the busy timeout: a clear error, the $((total - total / 10)) finished trials kept" outlock2
sweep many.yaml lock.db --no-progress > outlock3 2>&1
[ "$(sq lock.db "select count(*) from trials where state = 'done'")" = $total ] && kept ref.db lock.db
result $? "once the lock is gone the same command finishes" outlock3

# --- epoch checkpoints truncated on disk (vit-micro trials) ---
"$LOAA" synth --kind audio --seed 4 --clips 48 audio > synth.log 2>&1
cat > micro.yaml <<'YAML'
name: micro
datasets: [audio]
folds: [1]
seeds: [0, 1]
parameters:
  method: {value: loaa-tf}
  model: {value: vit-micro}
  epochs: {value: 4}
  batch_size: {value: 8}
  fstride: {value: 16}
  tstride: {value: 16}
YAML
sweep micro.yaml mref.db --artifacts "$tmp/mref" --no-progress > outmref 2>&1
[ "$(sq mref.db "select count(*) from trials where state = 'done'")" = 2 ]
result $? "reference: two vit-micro trials" outmref
"$MPIRUN" --oversubscribe -np 3 "$LOAA" sweep "$tmp/micro.yaml" --db "$tmp/m.db" --artifacts "$tmp/mart" --no-progress > outm1 2>&1 &
pid=$!
pids="$pids $pid"
for i in $(seq 1 $((200 * time_factor))); do [ "$(ls mart/micro/*/last.ckpt 2>/dev/null | wc -l)" -ge 2 ] && break; sleep 0.05; done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
gone m.db
cut=0
for f in mart/micro/*/last.ckpt mart/micro/*/best.ckpt; do
    [ -f "$f" ] || continue
    sz=$(wc -c < "$f")
    head -c $((sz / 3)) "$f" > "$f.tmp" && mv "$f.tmp" "$f"
    cut=$((cut + 1))
done
faults=$((faults + cut))
sweep micro.yaml m.db --artifacts "$tmp/mart" --no-progress > outm2 2>&1; rc=$?
q="select t.config_hash, r.name, r.value from trials t join trial_results r using (trial_id) order by 1, 2"
[ $cut -ge 2 ] && [ $rc -eq 0 ] && [ "$(sq m.db "select count(*) from trials where state = 'done'")" = 2 ] &&
    [ "$(sq m.db "$q")" = "$(sq mref.db "$q")" ]
result $? "$cut checkpoints truncated to a third: the trials start over and end with the reference metrics" outm2
ls mart/micro/*/*.bad > /dev/null 2>&1
result $? "the damaged checkpoints are kept aside as .bad"

# --- a trial process killed with kill -9: the sweep goes on (ranks_per_trial 1) ---
cat > slow.yaml <<'YAML'
name: slow
datasets: [ds]
seeds: [0, 1, 2, 3, 4, 5]
parameters:
  method: {value: noop}
  epochs: {value: 3}
  fault: {value: "sleep:0.3"}
YAML
"$MPIRUN" --oversubscribe -np 3 "$LOAA" sweep "$tmp/slow.yaml" --db "$tmp/s.db" --no-progress > outs 2>&1 &
pid=$!
pids="$pids $pid"
# mpirun -> ranks (orted-less, children of mpirun) -> launchers -> trial processes
children() { for p in "$@"; do pgrep -P "$p"; done; }
victim=
for i in $(seq 1 $((100 * time_factor))); do
    victim=$(children $(children $(children $pid)) | head -1)
    [ -n "$victim" ] && break
    sleep 0.05
done
[ -n "$victim" ] && kill -9 "$victim"
faults=$((faults + 1))
wait $pid; rc=$?
[ -n "$victim" ] && [ $rc -eq 0 ] && [ "$(sq s.db "select count(*) from trials where state = 'done'")" = 6 ] &&
    [ "$(sq s.db "select sum(attempts) from trials")" = 1 ]
result $? "a trial process killed with kill -9: counted as one attempt, retried, the sweep finishes" outs

# --- a worker rank killed with kill -9: the job stops, the finished results stay, the next run completes ---
"$MPIRUN" --oversubscribe -np 3 "$LOAA" sweep "$tmp/slow.yaml" --db "$tmp/w.db" --no-progress > outw 2>&1 &
pid=$!
pids="$pids $pid"
for i in $(seq 1 $((100 * time_factor))); do
    [ "$(sq w.db "select count(*) from trials where state = 'done'" 2>/dev/null || echo 0)" -ge 1 ] && break; sleep 0.1
done
ranks=$(children $pid)
worker=$(echo $ranks | awk '{print $2}') # rank 1 (rank 0, the coordinator, is started first)
[ -n "$worker" ] && kill -9 "$worker"
faults=$((faults + 1))
wait $pid
gone w.db
before=$(sq w.db "select count(*) from trials where state = 'done'")
[ "$(sq w.db "pragma integrity_check")" = ok ] && [ "$before" -ge 1 ]
result $? "a worker rank killed: the job ends, the database intact with $before finished trials" outw
sweep slow.yaml w.db --no-progress > outw2 2>&1; rc=$?
[ $rc -eq 0 ] && [ "$(sq w.db "select count(*) from trials where state = 'done'")" = 6 ] && [ "$(sq w.db "select count(*) from trials")" = 6 ] &&
    kept s.db w.db
result $? "the next run finishes every trial once, with the same results" outw2

echo "# figures: $faults faults injected, finished results lost: $lost"
test_end
