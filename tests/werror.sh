#!/bin/sh
# werror.sh - the sources whose gcc warnings were fixed for issue 18 #19
# (-Wuse-after-free, -Wshadow, -Wformat-truncation, -Wmaybe-uninitialized)
# compile with gcc -O2 and the build's warning flags as errors. scripts/check
# builds everything that way once (its 'werror' pass); this keeps the fixed
# files clean in every `make check` at the cost of a few compiles.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$PWD}
if ! command -v gcc > /dev/null 2>&1; then
    echo "1..0 # SKIP needs gcc: not installed"
    exit 0
fi
files="cli/cmd_bench_gemm.c common/config.c common/status.c coordinator/sweep.c worker/shard.c worker/pack.c worker/loader.c tests/test_worker_data.c tests/test_sweep.c"
# the flags automake compiles a file with: definitions, include folders, the project's warning flags
flags=$(printf 'loaa-print-flags:\n\t@echo $(DEFS) $(DEFAULT_INCLUDES) $(INCLUDES) $(AM_CPPFLAGS) $(CPPFLAGS) $(AM_CFLAGS) $(DEPS_CFLAGS)\n' |
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory -C "$top_builddir" -f Makefile -f - loaa-print-flags)
set -- $files
echo "1..$#"
n=0 failed=0
for f in $files; do
    n=$((n + 1))
    # shellcheck disable=SC2086
    if out=$(cd "$top_builddir" && gcc $flags -I"$top_srcdir" -O2 -Werror -c "$top_srcdir/$f" -o /dev/null 2>&1); then
        echo "ok $n - $f compiles with gcc -O2 $(echo "$flags" | grep -oE -- '-W[a-z-]+' | tr '\n' ' ')-Werror"
    else
        echo "not ok $n - $f has gcc warnings"
        printf '%s\n' "$out" | grep -E 'warning|error' | head -10 | sed 's/^/# /'
        failed=1
    fi
done
exit $failed
