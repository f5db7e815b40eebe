# tests/: TAP unit tests per module, MPI integration tests, fuzz harnesses.
EXTRA_DIST += tests/lib.sh tests/configure_deps.sh tests/check_tally.sh tests/werror.sh tests/lsan.supp tests/tap.h tests/plant.h tests/mpi_smoke.sh tests/style.sh tests/cli.sh \
	tests/fuzz/run.sh tests/fuzz/corpus

TESTS_LDADD = $(LOAA_LIBS) $(DEPS_LIBS)

check_PROGRAMS += tests/test_common tests/test_config tests/test_mpi_smoke
tests_test_common_SOURCES = tests/test_common.c
tests_test_common_LDADD = $(TESTS_LDADD)
tests_test_config_SOURCES = tests/test_config.c
tests_test_config_LDADD = $(TESTS_LDADD)
tests_test_mpi_smoke_SOURCES = tests/test_mpi_smoke.c
tests_test_mpi_smoke_LDADD = $(TESTS_LDADD)

TESTS += tests/style.sh tests/test_common tests/test_config tests/cli.sh tests/mpi_smoke.sh tests/configure_deps.sh tests/check_tally.sh tests/werror.sh

# Fuzz harnesses: built with clang's libFuzzer + ASan + UBSan from the sources
# they exercise, and run for a fixed number of executions by tests/fuzz/run.sh.
FUZZ_LDADD = $(DEPS_LIBS)
# common/ helpers that config.c, dataset.c and the worker sources call (buffers, files, integers).
FUZZ_COMMON_HELPERS = common/dynbuf.c common/fs.c common/parse.c
if FUZZERS
check_PROGRAMS += tests/fuzz/fuzz_config
tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz_config.c common/config.c common/status.c common/sha256.c $(FUZZ_COMMON_HELPERS)
tests_fuzz_fuzz_config_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_config_LDFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_config_LDADD = $(FUZZ_LDADD)
TESTS += tests/fuzz/fuzz_config.sh
endif
EXTRA_DIST += tests/fuzz/fuzz_config.sh

# Each part keeps its tests in a fragment of its own.
include tests/kernels.mk
include tests/worker.mk
include tests/coordinator.mk
include tests/weights.mk
include tests/pgemm.mk
include tests/reliability.mk
include tests/demo.mk
