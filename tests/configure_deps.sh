#!/bin/sh
# configure stops with the Debian package to install when a dependency is
# missing: hide one pkg-config module at a time and read the message.
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
for pair in sqlite3:libsqlite3-dev jansson:libjansson-dev fftw3f:libfftw3-dev yaml-0.1:libyaml-dev; do
    mod=${pair%%:*}; pkg=${pair#*:}
    expose "$mod"
    mkdir -p "$tmp/b-$mod"
    (cd "$tmp/b-$mod" && PKG_CONFIG_LIBDIR="$tmp/pc" PKG_CONFIG_PATH= "$top_srcdir/configure" -q > out 2>&1)
    rc=$?
    n=$((n+1))
    if [ $rc -ne 0 ] && grep -q "install the Debian package.*$pkg" "$tmp/b-$mod/out"; then
        echo "ok $n - without $mod.pc configure stops naming $pkg"
    else
        echo "not ok $n - without $mod.pc configure stops naming $pkg (rc $rc)"
        sed 's/^/# /' "$tmp/b-$mod/out" | tail -5
        failed=1
    fi
done
echo "1..$n"
exit $failed
