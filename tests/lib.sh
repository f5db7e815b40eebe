# tests/lib.sh - sourced by the MPI integration test scripts: TAP results,
# a private scratch folder cleaned up with every sweep process started from
# it, process look-ups from /proc (no procps needed), and sqlite3.
#   . "$top_srcdir/tests/lib.sh"; test_begin NAME
n=0; failed=0
pids=""

# time_factor: how many times longer the time limits and kill windows are. Under
# valgrind memcheck (LOAA_VALGRIND=1) every loaa process runs 20-50 times slower,
# so they stretch 30 times; a plain run keeps the bounds it always had (1).
# LOAA_TIME_FACTOR (a whole number) sets it by hand.
if [ "${LOAA_VALGRIND:-0}" = 1 ]; then time_factor=${LOAA_TIME_FACTOR:-30}; else time_factor=${LOAA_TIME_FACTOR:-1}; fi
# scaled SECONDS: SECONDS times time_factor (fractions kept, for sleep).
scaled() { awk -v s="$1" -v f="$time_factor" 'BEGIN { print s * f }'; }

# result STATUS NAME [FILE]: one TAP line; on failure FILE's tail is shown as diagnostics.
result() {
    n=$((n+1))
    [ -n "$LOAA_TEST_TIMES" ] && echo "# $(date +%T)"
    if [ "$1" = 0 ]; then
        echo "ok $n - $2"
    else
        echo "not ok $n - $2"
        failed=1
        [ -n "$3" ] && sed 's/^/# /' "$3" | tail -20
    fi
}

# Processes whose command line contains $1, and a process's parent.
procs() { for d in /proc/[0-9]*; do c=$(tr '\0' ' ' 2>/dev/null < "$d/cmdline") || continue; case "$c" in *"$1"*) echo "${d#/proc/}" ;; esac; done; }
ppid_of() { awk '/^PPid:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# Kills only what this test started: the pids it noted and sweeps run from its folder.
test_cleanup() {
    for p in $pids $(procs "loaa sweep $tmp/"); do kill -9 "$p" 2>/dev/null; done
    rm -rf "$tmp"
}

# test_begin NAME: makes and enters /tmp/loaa-NAME.XXXXXX as $tmp, removed at exit.
test_begin() {
    tmp=$(mktemp -d "/tmp/loaa-$1.XXXXXX") || exit 1
    trap test_cleanup EXIT
    cd "$tmp" || exit 1
}

mpirun() { "$MPIRUN" --oversubscribe "$@"; }

# sq DB SQL: rows as sqlite3 prints them, waiting up to 5 s for a writer's lock.
if command -v sqlite3 > /dev/null; then
    sq() { sqlite3 -cmd ".timeout 5000" "$1" "$2"; }
else
    sq() { python3 -c "import sqlite3,sys; print('\n'.join('|'.join('' if v is None else str(v) for v in r) for r in sqlite3.connect(sys.argv[1], timeout=5).execute(sys.argv[2])))" "$1" "$2"; }
fi

# test_end: the TAP plan and the exit status.
test_end() {
    echo "1..$n"
    exit $failed
}
