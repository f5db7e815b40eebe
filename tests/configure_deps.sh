#!/bin/sh
# configure stops with the Debian package to install when a dependency is
# missing: hide one pkg-config module at a time and read the message. oneDNN
# has no pkg-config file (configure checks dnnl.h and -ldnnl directly), so
# its absence is simulated with autoconf's cache variables for those checks.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0; failed=0
pcdirs=$(pkg-config --variable pc_path pkg-config)
mkdir "$tmp/pc"
# Every .pc file the real search path offers, except the hidden one.
expose() {
    rm -f "$tmp/pc"/*.pc
    for d in $(echo "$pcdirs" | tr ':' ' '); do
        for f in "$d"/*.pc; do
            [ -e "$f" ] || continue
            b=$(basename "$f")
            [ "$b" = "$1.pc" ] || [ -e "$tmp/pc/$b" ] || ln -s "$f" "$tmp/pc/$b"
        done
    done
}
# expect_stop NAME PACKAGE WHAT [VAR=VALUE...]: configure (in $tmp/b-NAME, with those variables in its
# environment) fails naming PACKAGE.
expect_stop() {
    name=$1; pkg=$2; what=$3; shift 3
    mkdir -p "$tmp/b-$name"
    (cd "$tmp/b-$name" && env "$@" "$top_srcdir/configure" -q > out 2>&1)
    rc=$?
    n=$((n+1))
    if [ $rc -ne 0 ] && grep -q "install the Debian package.*$pkg" "$tmp/b-$name/out"; then
        echo "ok $n - $what configure stops naming $pkg"
    else
        echo "not ok $n - $what configure stops naming $pkg (rc $rc)"
        sed 's/^/# /' "$tmp/b-$name/out" | tail -5
        failed=1
    fi
}
for pair in sqlite3:libsqlite3-dev jansson:libjansson-dev fftw3f:libfftw3-dev yaml-0.1:libyaml-dev; do
    mod=${pair%%:*}; pkg=${pair#*:}
    expose "$mod"
    expect_stop "$mod" "$pkg" "without $mod.pc" PKG_CONFIG_LIBDIR="$tmp/pc" PKG_CONFIG_PATH=
done
for cache in ac_cv_header_dnnl_h ac_cv_search_dnnl_matmul_desc_init; do
    expect_stop "$cache" libdnnl-dev "with $cache=no" "$cache=no"
done
echo "1..$n"
exit $failed
