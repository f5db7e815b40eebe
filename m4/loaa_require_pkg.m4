# LOAA_REQUIRE_PKG(VARIABLE-PREFIX, PKG-CONFIG-NAME, DEBIAN-PACKAGES)
# Finds a dependency with pkg-config and stops configure with the Debian
# package to install when it is missing: users should never have to guess.
AC_DEFUN([LOAA_REQUIRE_PKG], [
  PKG_CHECK_MODULES([$1], [$2], [],
    [AC_MSG_ERROR([$2 not found by pkg-config: install the Debian package(s) $3 (scripts/deps does this)])])
])
