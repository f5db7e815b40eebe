#!/bin/sh
# MPI integration tests of `loaa sweep` with noop trials (fast): end to end on
# 3 and 4 ranks, worker groups, a crashing trial among good ones, crash-once
# retries, a second coordinator refused, resume after kill -9 of mpirun
# (every trial exactly once, integrity_check ok, metrics equal to an
# uninterrupted run), SIGTERM, early termination, malformed files refused
# before any rank works, values with quotes and semicolons stored verbatim,
# report/export/dry-run/train.
. "$top_srcdir/tests/lib.sh"
test_begin sweep-mpi

mkdir ds && echo '{"name": "noop"}' > ds/dataset.json
weird="ds ';\"DROP TABLE trials;--"
mkdir "$weird" && echo '{"name": "weird"}' > "$weird/dataset.json"
# The same path as an SQL string literal (quotes doubled) for the checks.
weird_sql="ds '';\"DROP TABLE trials;--"

cat > grid.yaml <<'YAML'
name: grid
datasets: [ds, "ds ';\"DROP TABLE trials;--"]
seeds: [0, 1, 2]
parameters:
  method: {value: noop}
  epochs: {value: 3}
  lr: {values: [1e-3, 1e-2]}
YAML
mpirun -np 3 "$LOAA" sweep "$tmp/grid.yaml" --db "$tmp/a.db" > out3 2>&1; rc=$?
[ $rc -eq 0 ] && [ "$(sq a.db "select count(*) from trials where state = 'done'")" = 12 ]
result $? "3 ranks: a 12-trial grid finishes" out3
[ "$(sq a.db "select count(*) from trial_results where name = 'test_acc'")" = 12 ] &&
    [ "$(sq a.db "select count(distinct epoch) from trial_metrics")" = 3 ]
result $? "every done trial has results and 3 epochs of metrics"
[ "$(sq a.db "select count(*) from trials where dataset = '$weird_sql'")" = 6 ]
result $? "a dataset path with quotes and semicolons is stored verbatim"
[ "$(sq a.db "select count(*) from trial_params where name = 'dataset' and json_extract(value, '\$') = '$weird_sql'")" = 6 ]
result $? "the parameter value round-trips verbatim in trial_params"
mpirun -np 3 "$LOAA" sweep "$tmp/grid.yaml" --db "$tmp/a.db" > again 2>&1
grep -q "(0 run now" again && [ "$(sq a.db "select count(*) from trials")" = 12 ]
result $? "running the same sweep again runs nothing" again
sed 's/lr: {values: \[1e-3, 1e-2\]}/lr: {values: [1e-3, 1e-2, 1e-1]}/' grid.yaml > grid2.yaml
mpirun -np 4 "$LOAA" sweep "$tmp/grid2.yaml" --db "$tmp/a.db" > out4 2>&1; rc=$?
[ $rc -eq 0 ] && grep -q "(6 run now" out4 && [ "$(sq a.db "select count(*) from trials where state = 'done'")" = 18 ]
result $? "4 ranks: adding a grid value runs only the 6 new trials" out4
"$LOAA" report --db a.db --sweep grid > report.txt 2>&1; rc=$?
[ $rc -eq 0 ] && grep -q "Cross-dataset comparison" report.txt && grep -q "Validation-selected configurations" report.txt &&
    grep -q "noop lr=0.1 .*3 configurations" report.txt && grep -q "(n=3)" report.txt
result $? "loaa report prints the leaderboard, the validation-selected configurations and the cross-dataset table" report.txt
"$LOAA" report --db a.db --sweep grid --per-config --cross > report-pc.txt 2>&1; rc=$?
[ $rc -eq 0 ] && grep -q "noop lr=0.1 " report-pc.txt && grep -q "noop lr=0.001 " report-pc.txt && grep -q "(n=3)" report-pc.txt
result $? "loaa report --per-config prints every configuration" report-pc.txt
"$LOAA" report --db a.db --format markdown --cross > report.md && "$LOAA" report --db a.db --json > report.json &&
    "$LOAA" report --db a.db --html report.html > /dev/null &&
    grep -q "^| configuration" report.md && [ "$(sq a.db "select json_valid(readfile('report.json'))")" = 1 ] && grep -q "<svg" report.html
result $? "markdown, json and html reports"
"$LOAA" sweep --dry-run grid2.yaml --db a.db > dry.txt 2>&1
grep -q "^18 trials" dry.txt && grep -q " done " dry.txt
result $? "--dry-run prints the trials, their state and the count" dry.txt

# Worker groups of two ranks.
cat > group.yaml <<'YAML'
name: group
datasets: [ds]
seeds: [0, 1, 2, 3]
ranks_per_trial: 2
parameters:
  method: {value: noop}
  epochs: {value: 2}
YAML
mpirun -np 3 "$LOAA" sweep "$tmp/group.yaml" --db "$tmp/g.db" > outg 2>&1; rc=$?
[ $rc -eq 0 ] && [ "$(sq g.db "select count(*) from trials where state = 'done' and ranks = 2")" = 4 ]
result $? "ranks_per_trial 2: one group of two ranks runs every trial" outg

# A crashing trial among good ones; a trial that crashes once and then succeeds.
cat > crash.yaml <<'YAML'
name: crash
datasets: [ds]
seeds: [0, 1, 2, 3, 4, 5]
max_attempts: 2
parameters:
  method: {value: noop}
  epochs: {value: 2}
  fault: {value: "crash@seed=1,crash-once@seed=2,fail@seed=3,abort@seed=4"}
YAML
mpirun -np 3 "$LOAA" sweep "$tmp/crash.yaml" --db "$tmp/c.db" > outc 2>&1; rc=$?
result $rc "the sweep survives crashing trials" outc
one() { sq c.db "select $1 from trials where seed = $2"; }
[ "$(one "state || attempts" 1 crash)" = failed2 ] && one error 1 crash | grep -q "signal 11"
result $? "a segfaulting trial is failed with its signal after max_attempts"
one error 4 abort | grep -q "signal 6"
result $? "an aborting trial is failed with SIGABRT"
[ "$(one "state || attempts" 2 crash-once)" = done1 ]
result $? "a trial that crashes once succeeds on its second attempt"
[ "$(one "state || attempts" 3 fail)" = failed0 ] && one error 3 fail | grep -q "on purpose"
result $? "an ordinary failure is final at once, with its message"
[ "$(sq c.db "select count(*) from trials where state = 'done'")" = 3 ]
result $? "the other trials finished"
f=$(one log_path 1 crash); [ -f "$f" ] && grep -q "attempt 2" "$f"
result $? "a failed trial keeps its log under the artifacts folder"
mpirun -np 3 "$LOAA" sweep "$tmp/crash.yaml" --db "$tmp/c.db" --retry-failed > outr 2>&1
grep -q "(3 run now" outr && [ "$(one attempts 1 crash)" = 2 ]
result $? "--retry-failed runs the failed trials again" outr

# Early termination: eight configurations (lr) of one group (dataset, fold, method, backbone).
cat > early.yaml <<'YAML'
name: early
datasets: [ds]
seeds: [0]
early_terminate: {type: median, min_epochs: 1}
parameters:
  method: {value: noop}
  lr: {values: [1e-3, 2e-3, 3e-3, 4e-3, 5e-3, 6e-3, 7e-3, 8e-3]}
  epochs: {value: 4}
YAML
mpirun -np 3 "$LOAA" sweep "$tmp/early.yaml" --db "$tmp/e.db" > oute 2>&1; rc=$?
[ $rc -eq 0 ] && [ "$(sq e.db "select count(*) from trials where state = 'pruned'")" -ge 1 ] &&
    [ "$(sq e.db "select count(*) from trials where state in ('done', 'pruned')")" = 8 ]
result $? "median stopping prunes trials below the median" oute
# Eight seeds of one configuration: never ranked against each other, so none is pruned.
sed -e 's/name: early/name: early-seeds/' -e 's/seeds: \[0\]/seeds: [0, 1, 2, 3, 4, 5, 6, 7]/' -e '/  lr: /d' early.yaml > early-seeds.yaml
mpirun -np 3 "$LOAA" sweep "$tmp/early-seeds.yaml" --db "$tmp/e.db" > outes 2>&1; rc=$?
[ $rc -eq 0 ] && [ "$(sq e.db "select count(*) from trials t join sweeps s using (sweep_id) where s.name = 'early-seeds' and state = 'done'")" = 8 ]
result $? "seeds of one configuration are not pruned against each other (8 of 8 done)" outes
sed -e 's/name: early/name: early-isolated/' -e 's/  epochs: {value: 4}/  epochs: {value: 4}\n  fault: {value: "sleep:0"}/' early.yaml > early2.yaml
mpirun -np 3 "$LOAA" sweep "$tmp/early2.yaml" --db "$tmp/e.db" > oute2 2>&1; rc=$?
[ $rc -eq 0 ] && [ "$(sq e.db "select count(*) from trials t join sweeps s using (sweep_id) where s.name = 'early-isolated' and state = 'pruned'")" -ge 1 ] &&
    [ "$(sq e.db "select count(*) from trials t join sweeps s using (sweep_id) where s.name = 'early-isolated' and state in ('done', 'pruned')")" = 8 ]
result $? "early termination answers reach trials in their own process (pipe)" oute2

# Reports count pruned trials (never silently averaged) and rank by the metric's own direction.
np=$(sq e.db "select count(*) from trials t join sweeps s using (sweep_id) where s.name = 'early' and state = 'pruned'")
"$LOAA" report --db e.db --sweep early > rep-e.txt 2>&1; rc=$?
[ $rc -eq 0 ] && grep -q "^Leaderboard: ds .*(n=$((8 - np)) of 8, $np pruned)" rep-e.txt && [ "$(grep -c " pruned  early " rep-e.txt)" = "$np" ] &&
    grep -q "pruned, failed and unfinished trials counted, not averaged" rep-e.txt
result $? "the leaderboard shows the $np pruned trials with their state and counts them (n=$((8 - np)) of 8)" rep-e.txt
"$LOAA" report --db e.db --sweep early --per-config --cross > rep-e2.txt 2>&1
grep -q "of 1, 1 pruned)" rep-e2.txt
result $? "the per-configuration table counts a pruned trial in its cell" rep-e2.txt
low=$(sq e.db "select t.trial_id from trials t join trial_results r using (trial_id) join sweeps s using (sweep_id) where s.name = 'early'
               and t.state = 'done' and r.name = 'train_loss' order by r.value, t.trial_id limit 1")
"$LOAA" report --db e.db --sweep early --metric train_loss --leaderboard --top 1 > rep-e3.txt 2>&1
[ -n "$low" ] && grep -q "^1  *$low  *done" rep-e3.txt
result $? "--metric train_loss ranks the lowest loss first (trial $low)" rep-e3.txt
"$LOAA" export --db e.db --best --dataset ds --sweep early --metric train_loss > outx-e 2>&1
grep -q "trial $low recorded no adapter" outx-e
result $? "export --best --metric train_loss chooses the lowest loss (trial $low)" outx-e
hi=$(sq e.db "select t.trial_id from trials t join trial_results r using (trial_id) join sweeps s using (sweep_id) where s.name = 'early'
              and t.state = 'done' and r.name = 'val_acc' order by r.value desc, t.trial_id limit 1")
"$LOAA" export --db e.db --best --dataset ds --sweep early > outx-e2 2>&1
grep -q "trial $hi recorded no adapter" outx-e2
result $? "export --best chooses by validation accuracy (trial $hi)" outx-e2
"$LOAA" export --db e.db --best --dataset ds --metric test_acc > outx-e3 2>&1; rc=$?
"$LOAA" report --db e.db --metric nosuch > rep-e4.txt 2>&1; rc2=$?
[ $rc -ne 0 ] && grep -q "val_acc" outx-e3 && [ $rc2 -ne 0 ] && grep -q "unknown metric 'nosuch'" rep-e4.txt
result $? "a test metric cannot choose in export --best; an unknown --metric is refused" outx-e3
"$LOAA" report --db e.db --sweep early --json --top 2 > rep-e.json
[ "$(sq e.db "select json_array_length(readfile('rep-e.json'), '\$.leaderboard')")" = 2 ]
result $? "--format json keeps --top" rep-e.json
"$LOAA" report --db e.db --sweep early --leaderboard --where 'lr<>0.001' > rep-e5.txt 2>&1 &&
    "$LOAA" report --db e.db --sweep early --leaderboard --where 'fold=null' --where 'lr!=0.002' > rep-e6.txt 2>&1
! grep -q '"lr":0.001}' rep-e5.txt && grep -q "7 of 7 trials shown" rep-e5.txt && grep -q "7 of 7 trials shown" rep-e6.txt
result $? "--where lr<>V excludes V; fold=null matches trials without a fold" rep-e5.txt

# Malformed sweeps are refused before any rank works, citing file:line:col.
printf 'name: bad\ndatasets: [ds]\nparameters:\n  bottleneck: {value: 0}\n' > bad.yaml
mpirun -np 3 "$LOAA" sweep "$tmp/bad.yaml" --db "$tmp/b.db" > outb 2>&1; rc=$?
[ $rc -ne 0 ] && grep -q "bad.yaml:4:23: key 'bottleneck'" outb
result $? "a malformed sweep exits non-zero citing file:line:col" outb
printf 'name: bad2\ndatasets: [nowhere]\n' > bad2.yaml
mpirun -np 3 "$LOAA" sweep "$tmp/bad2.yaml" --db "$tmp/b.db" > outb2 2>&1; rc=$?
[ $rc -ne 0 ] && grep -q "bad2.yaml:2:12: dataset 'nowhere'" outb2
result $? "a missing dataset is refused citing its position" outb2
[ ! -f b.db ]
result $? "no database was even created"
mpirun -np 2 "$LOAA" sweep "$tmp/grid.yaml" --db "$tmp/p.db" --artifacts /proc/loaa-cannot-exist/x > outp 2>&1; rc=$?
[ $rc -ne 0 ] && grep -q "artifacts: cannot create /proc/loaa-cannot-exist" outp && [ ! -f p.db ]
result $? "an artifacts folder that cannot be created is refused before any trial runs" outp
printf 'name: chained\ndatasets: [ds]\nparameters:\n  backbone: {value: {sweep: grid, best: true}}\n' > chained.yaml
mpirun -np 2 "$LOAA" sweep "$tmp/chained.yaml" --db "$tmp/a.db" > outch 2>&1; rc=$?
[ $rc -ne 0 ] && grep -q "exported no backbone" outch
result $? "a chained backbone whose best trial exported no backbone is refused" outch
printf 'name: chained2\ndatasets: [ds]\nparameters:\n  backbone: {value: {sweep: pretrain, best: true}}\n' > chained2.yaml
mpirun -np 2 "$LOAA" sweep "$tmp/chained2.yaml" --db "$tmp/a.db" > outch2 2>&1; rc=$?
[ $rc -ne 0 ] && grep -q "no sweep 'pretrain'" outch2
result $? "a chained backbone from a sweep not run yet is refused" outch2

# Resume: kill -9 of mpirun in the middle, twice, then finish; compare with an uninterrupted run.
cat > resume.yaml <<'YAML'
name: resume
datasets: [ds]
seeds: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
parameters:
  method: {value: noop}
  epochs: {value: 3}
  fault: {value: "sleep:0.2"}
YAML
mpirun -np 3 "$LOAA" sweep "$tmp/resume.yaml" --db "$tmp/ref.db" --artifacts "$tmp/ref-art" > outref 2>&1
gone() { for i in $(seq 1 50); do [ -z "$(procs "loaa sweep $tmp/resume.yaml")" ] && return 0; sleep 0.1; done; return 1; }
for k in 1 2; do
    "$MPIRUN" --oversubscribe -np 3 "$LOAA" sweep "$tmp/resume.yaml" --db "$tmp/k.db" > outk$k 2>&1 &
    pid=$! # mpirun itself, not a subshell
    # kill once trials are being recorded (mpirun's start-up time varies with the machine's load)
    for i in $(seq 1 200); do [ "$(sq k.db "select count(*) from trials where state = 'done'" 2>/dev/null)" -ge $k ] 2>/dev/null && break; sleep 0.05; done
    sleep 0.2
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    gone
    result $? "kill -9 of mpirun ($k): no process of the sweep is left"
done
[ "$(sq k.db "pragma integrity_check")" = ok ] && [ "$(sq k.db "select count(*) from trials where state = 'done'")" -lt 12 ]
result $? "the interrupted database is consistent and unfinished"
mpirun -np 3 "$LOAA" sweep "$tmp/resume.yaml" --db "$tmp/k.db" > outk 2>&1; rc=$?
[ $rc -eq 0 ] && [ "$(sq k.db "select count(*) from trials where state = 'done'")" = 12 ]
result $? "rerunning the command finishes the sweep" outk
[ "$(sq k.db "select count(*) from trials")" = 12 ] && [ "$(sq k.db "select count(distinct config_hash) from trials")" = 12 ] &&
    [ "$(sq k.db "pragma integrity_check")" = ok ] && [ "$(sq k.db "select max(attempts) from trials")" = 0 ]
result $? "every trial exactly once, no attempt counted for the kills, integrity_check ok"
sq ref.db "select t.config_hash, r.name, r.value from trials t join trial_results r using (trial_id) order by 1, 2" > ref.txt
sq k.db "select t.config_hash, r.name, r.value from trials t join trial_results r using (trial_id) order by 1, 2" > k.txt
[ -s ref.txt ] && cmp -s ref.txt k.txt
result $? "metrics equal those of an uninterrupted run"

# A second coordinator on the same database is refused with the holder's pid; SIGTERM marks trials interrupted.
"$MPIRUN" --oversubscribe -np 2 "$LOAA" sweep "$tmp/resume.yaml" --db "$tmp/l.db" > outl 2>&1 &
pid=$!
for i in $(seq 1 50); do [ -s l.db.lock ] && break; sleep 0.1; done
sleep 0.5
mpirun -np 2 "$LOAA" sweep "$tmp/resume.yaml" --db "$tmp/l.db" > out2nd 2>&1; rc=$?
holder=$(tr -d '\n' < l.db.lock 2>/dev/null)
[ $rc -ne 0 ] && grep -q "in use by another coordinator (pid $holder)" out2nd
result $? "a second coordinator is refused, naming the holder's pid" out2nd
kill -TERM "$holder" 2>/dev/null
wait $pid 2>/dev/null
gone
[ "$(sq l.db "select count(*) from trials where state = 'interrupted'")" -ge 1 ] && [ "$(sq l.db "pragma integrity_check")" = ok ]
result $? "SIGTERM: running trials are marked interrupted, finished ones kept" outl
mpirun -np 3 "$LOAA" sweep "$tmp/resume.yaml" --db "$tmp/l.db" > outl2 2>&1
[ "$(sq l.db "select count(*) from trials where state = 'done'")" = 12 ]
result $? "the interrupted sweep resumes to the end" outl2

# A trial process stopped from outside (SIGTERM) runs again without costing an attempt.
cat > term.yaml <<'YAML'
name: term
datasets: [ds]
seeds: [0, 1]
parameters:
  method: {value: noop}
  epochs: {value: 4}
  fault: {value: "sleep:1"}
YAML
# Trials of 4 s, so the /proc scan below finds one alive even on a loaded machine.
"$MPIRUN" --oversubscribe -np 2 "$LOAA" sweep "$tmp/term.yaml" --db "$tmp/t.db" > outt 2>&1 &
pid=$!
trialpid=
for i in $(seq 1 100); do
    for p in $(procs "loaa sweep $tmp/term.yaml"); do
        # a trial process: its parent is a launcher, whose parent is a worker rank, whose parent is mpirun
        l=$(ppid_of "$p"); w=$(ppid_of "$l")
        [ -n "$w" ] && [ "$(ppid_of "$w")" = "$pid" ] && trialpid=$p
    done
    [ -n "$trialpid" ] && break
    sleep 0.05
done
sleep 0.4
[ -n "$trialpid" ] && kill -TERM "$trialpid"
wait $pid; rc=$?
[ -n "$trialpid" ] && [ $rc -eq 0 ] && [ "$(sq t.db "select count(*) from trials where state = 'done' and attempts = 0")" = 2 ] &&
    grep -q "signal 15 (SIGTERM); it runs again" outt
result $? "a trial process stopped with SIGTERM runs again, no attempt counted" outt

# loaa export needs an adapter file (noop trials write none: a clear refusal); loaa train runs one trial.
"$LOAA" export --db a.db --best --dataset ds > outx 2>&1; rc=$?
[ $rc -eq 1 ] && grep -q "recorded no adapter file" outx
result $? "export of a trial without an adapter file is refused clearly" outx
"$LOAA" train --dataset ds --method noop --epochs 2 > train.txt 2>&1; rc=$?
[ $rc -eq 0 ] && grep -q "^epoch 2/2" train.txt && grep -q "^test_acc" train.txt
result $? "loaa train runs one trial and prints epochs and final metrics" train.txt

# The shipped sweep files parse and expand (datasets and weights faked: only their hashes are read).
mkdir -p exp/data/esc50 exp/data/spc2 exp/data/epic-sounds exp/audio exp/images exp/weights
for d in data/esc50 data/spc2 data/epic-sounds audio images; do echo "{\"name\": \"$d\"}" > "exp/$d/dataset.json"; done
echo fake > exp/weights/deit_base_distilled_patch16_384.safetensors
ok=0
for f in "$top_srcdir"/experiments/*.yaml; do
    (cd exp && "$LOAA" sweep --dry-run "$f") > exp.out 2>&1 && grep -q "^[1-9][0-9]* trials" exp.out || { ok=1; cat exp.out >> exp.all; }
done
result $ok "every sweep file under experiments/ parses and expands" exp.all
(cd exp && "$LOAA" sweep --dry-run "$top_srcdir/experiments/conditional.yaml") > cond.out 2>&1
grep -q "^15 trials" cond.out && [ "$(grep -c '"lr":5.0000000000000002e-5,"method":"full"' cond.out)" -eq 3 ] &&
    [ "$(grep -c '"method":"full"' cond.out)" -eq 6 ] && ! grep '"method":"full"' cond.out | grep -q bottleneck &&
    [ "$(grep -c '"bottleneck":8,.*"method":"lora"' cond.out)" -eq 3 ]
result $? "--dry-run expands conditional parameters: lr by method (full 2 x 3 seeds, loaa-tf 2 x 3, lora 1 x 3), bottleneck unset for full" cond.out

test_end
