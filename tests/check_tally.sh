#!/bin/sh
# check_tally.sh - scripts/check's last line counts skips ("N passed, N failed,
# N skipped"), and run as root a skip of a requirement scripts/deps installs
# ("needs PACKAGE" or "needs root" in the skip reason) counts as a failure while
# other skips (PyTorch) stay skips. Reads made-up automake outputs through
# `scripts/check --tally DIR`, so nothing is built.
n=0; failed=0
tmp=$(mktemp -d /tmp/loaa-check-tally.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
check() {
    n=$((n+1))
    if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=1; sed 's/^/# /' "$tmp/out"; fi
}
# summary LINES...: a check.out with automake's summary for the given counts and SKIP lines.
summary() {
    pass=$1 skip=$2 fail=$3; shift 3
    for l in "$@"; do printf '%s\n' "$l"; done
    printf '# TOTAL: %d\n# PASS:  %d\n# SKIP:  %d\n# XFAIL: 0\n# FAIL:  %d\n# XPASS: 0\n# ERROR: 0\n' \
        $((pass + skip + fail)) "$pass" "$skip" "$fail"
}
torch='SKIP: tests/kernels_torch.sh - /usr/bin/python3 has no torch/numpy'
sqlite='SKIP: tests/x.sh - needs sqlite3: the sqlite3 shell is not installed'
netns='SKIP: tests/y.sh 3 - isolated run # SKIP needs root (network namespaces)'

mkdir "$tmp/a" && summary 7 1 0 "$torch" > "$tmp/a/check.out"
LOAA_CHECK_ROOT=1 "$top_srcdir/scripts/check" --tally "$tmp/a" > "$tmp/out" 2>&1
rc=$?
[ $rc = 0 ] && [ "$(tail -1 "$tmp/out")" = "7 passed, 0 failed, 1 skipped" ]
check $? "a torch skip stays a skip, even as root, and the last line counts it (rc $rc)"

mkdir "$tmp/b" && summary 5 3 0 "$torch" "$sqlite" "$netns" > "$tmp/b/check.out"
LOAA_CHECK_ROOT=1 "$top_srcdir/scripts/check" --tally "$tmp/b" > "$tmp/out" 2>&1
rc=$?
[ $rc != 0 ] && [ "$(tail -1 "$tmp/out")" = "5 passed, 2 failed, 1 skipped" ] &&
    grep -q 'needs sqlite3' "$tmp/out" && grep -q 'needs root' "$tmp/out"
check $? "as root, skips needing sqlite3 (a scripts/deps package) and root fail and are named (rc $rc)"

LOAA_CHECK_ROOT=0 "$top_srcdir/scripts/check" --tally "$tmp/b" > "$tmp/out" 2>&1
rc=$?
[ $rc = 0 ] && [ "$(tail -1 "$tmp/out")" = "5 passed, 0 failed, 3 skipped" ]
check $? "not as root, the same skips stay skips (rc $rc)"

mkdir "$tmp/c" && summary 4 0 2 > "$tmp/c/check.out"
LOAA_CHECK_ROOT=0 "$top_srcdir/scripts/check" --tally "$tmp/c" > "$tmp/out" 2>&1
rc=$?
[ $rc != 0 ] && [ "$(tail -1 "$tmp/out")" = "4 passed, 2 failed, 0 skipped" ]
check $? "failures are counted and fail the run (rc $rc)"

"$top_srcdir/scripts/deps" --list > "$tmp/out" 2>&1 && grep -qx sqlite3 "$tmp/out" && grep -qx gcc "$tmp/out"
check $? "scripts/deps --list names its packages one a line"
echo "1..$n"
exit $failed
