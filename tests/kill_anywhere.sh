#!/bin/sh
# kill_anywhere.sh - kill -9 of mpirun at random moments, then resume: a
# micro sweep (12 vit-micro trials on a tiny synthetic dataset, two or three
# seconds each, no early termination) is started and killed at a random moment
# at least KILLS times (default 6), each time after waiting for every old
# process to be gone and checking the database (integrity_check ok, no
# finished result lost or changed); then the same command finishes it. The
# final database must match an uninterrupted run: the same finished trials,
# each exactly once, the same per-epoch and final metrics (the trials are
# deterministic and resume from their epoch checkpoints), no attempt counted
# for the kills. LOAA_KILL_SEED repeats the kill moments of an earlier run.
. "$top_srcdir/tests/lib.sh"
test_begin kill-anywhere
seed=${LOAA_KILL_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
kills_wanted=${LOAA_KILLS:-6}
echo "# kill moments drawn with LOAA_KILL_SEED=$seed, stretched $time_factor times"

"$LOAA" synth --kind audio --seed 3 --clips 48 ds > synth.log 2>&1
result $? "a tiny synthetic dataset" synth.log
cat > ka.yaml <<'YAML'
name: kill-anywhere
datasets: [ds]
folds: [1]
seeds: [0, 1, 2, 3, 4, 5]
parameters:
  method: {values: [loaa-tf, linear]}
  model: {value: vit-micro}
  epochs: {value: 4}
  batch_size: {value: 8}
  fstride: {value: 16}
  tstride: {value: 16}
  fault: {value: "sleep:1"}
YAML
sweep() { "$MPIRUN" --oversubscribe -np 3 "$LOAA" sweep "$tmp/ka.yaml" --db "$tmp/$1.db" --artifacts "$tmp/art-$1"; }
sweep ref > outref 2>&1
[ "$(sq ref.db "select count(*) from trials where state = 'done'")" = 12 ]
result $? "the uninterrupted run finishes 12 trials" outref

# Every process of the sweep in this folder gone (ranks, launchers, trial processes)?
gone() {
    for i in $(seq 1 $((100 * time_factor))); do pgrep -f "loaa sweep $tmp/" > /dev/null || return 0; sleep 0.1; done
    return 1
}
done_results() { sq k.db "select t.config_hash, r.name, r.value from trials t join trial_results r using (trial_id) where t.state = 'done' order by 1, 2" 2>/dev/null; }
# Kill moments in [0.05, 2.6] s, reproducible from the seed; early ones hit start-up and the database set-up,
# later ones training, checkpoint writes and result records. (A trial sleeps 0.1 s a batch, which does not
# enter its identity or metrics: the sweep needs more than six runs of 2.6 s, however fast the machine.)
# Under valgrind every moment is time_factor times later (tests/lib.sh), so the kills land in the same phases.
delays=$(awk -v s="$seed" -v f="$time_factor" 'BEGIN { srand(s); for (i = 0; i < 40; i++) printf "%.2f ", (0.05 + rand() * 2.55) * f }')
kills=0 runs=0 lost=0 corrupt=0 strays=0
: > before.txt
for d in $delays; do
    [ $kills -ge "$kills_wanted" ] && break
    runs=$((runs + 1))
    "$MPIRUN" --oversubscribe -np 3 "$LOAA" sweep "$tmp/ka.yaml" --db "$tmp/k.db" --artifacts "$tmp/art-k" > "outk$runs" 2>&1 &
    pid=$! # mpirun itself
    pids="$pids $pid"
    sleep "$d"
    if kill -9 "$pid" 2>/dev/null; then
        kills=$((kills + 1))
        echo "# kill $kills: mpirun killed after ${d}s"
    fi
    wait "$pid" 2>/dev/null
    gone || { strays=$((strays + 1)); echo "# processes left after kill $kills:"; pgrep -af "loaa sweep $tmp/" | sed 's/^/#   /'; }
    [ "$(sq k.db "pragma integrity_check" 2>&1)" = ok ] || { corrupt=$((corrupt + 1)); echo "# integrity_check failed after kill $kills"; }
    done_results > after.txt
    # every result recorded before this run is still there, unchanged
    if [ -s before.txt ] && [ -n "$(comm -23 before.txt after.txt)" ]; then
        lost=$((lost + $(comm -23 before.txt after.txt | wc -l)))
        echo "# results lost or changed by kill $kills:"; comm -23 before.txt after.txt | sed 's/^/#   /'
    fi
    mv after.txt before.txt
    if [ "$(sq k.db "select count(*) from trials where state = 'done'" 2>/dev/null)" = 12 ]; then
        break # finished before it could be killed again
    fi
done
echo "# $kills kills in $runs runs; $(sq k.db "select count(*) from trials where state = 'done'" 2>/dev/null || echo 0) of 12 trials done before the final run"
[ $kills -ge 5 ]
result $? "mpirun killed with kill -9 at random moments $kills times (at least 5)"
[ $strays = 0 ]
result $? "after each kill every rank, launcher and trial process of the sweep is gone"
[ $corrupt = 0 ]
result $? "integrity_check ok after each kill"
[ $lost = 0 ]
result $? "no finished result lost or changed by a kill ($lost)"

sweep k > outk 2>&1; rc=$?
[ $rc -eq 0 ] && [ "$(sq k.db "select count(*) from trials where state = 'done'")" = 12 ]
result $? "the same command finishes the sweep" outk
[ "$(sq k.db "select count(*) from trials")" = 12 ] && [ "$(sq k.db "select count(distinct config_hash) from trials")" = 12 ] &&
    [ "$(sq k.db "pragma integrity_check")" = ok ]
result $? "every trial exactly once, integrity_check ok"
sq ref.db "select config_hash from trials where state = 'done' order by 1" > ref.hash
sq k.db "select config_hash from trials where state = 'done' order by 1" > k.hash
cmp -s ref.hash k.hash
result $? "the same set of finished trials as the uninterrupted run"
[ "$(sq k.db "select max(attempts) from trials")" = 0 ]
result $? "the kills cost no attempt"
q="select t.config_hash, r.name, r.value, r.best_epoch from trials t join trial_results r using (trial_id) order by 1, 2"
sq ref.db "$q" > ref.res
sq k.db "$q" > k.res
[ -s ref.res ] && cmp -s ref.res k.res
result $? "final metrics equal those of the uninterrupted run ($(wc -l < ref.res) values)"
# (wall-clock seconds per epoch differ from run to run; every other metric must not)
q="select t.config_hash, m.epoch, m.split, m.name, m.value from trials t join trial_metrics m using (trial_id) where m.name != 'seconds' order by 1, 2, 3, 4"
sq ref.db "$q" > ref.met
sq k.db "$q" > k.met
[ -s ref.met ] && cmp -s ref.met k.met
result $? "per-epoch metrics equal those of the uninterrupted run ($(wc -l < ref.met) values)"
[ $failed = 0 ] || diff ref.met k.met | head -10 | sed 's/^/# /'
echo "# figures: kills survived $kills, results lost $lost, corrupt databases $corrupt"
test_end
