# tests/coordinator.mk - tests of the coordinator part (included by tests/local.mk).
check_PROGRAMS += tests/test_sweep tests/test_store tests/test_stats
tests_test_sweep_SOURCES = tests/test_sweep.c
tests_test_sweep_LDADD = $(TESTS_LDADD)
tests_test_store_SOURCES = tests/test_store.c
tests_test_store_LDADD = $(TESTS_LDADD)
tests_test_stats_SOURCES = tests/test_stats.c
tests_test_stats_LDADD = $(TESTS_LDADD)
TESTS += tests/test_sweep tests/test_store tests/test_stats tests/sweep_mpi.sh tests/sweep_train.sh tests/compat.sh tests/precision.sh
EXTRA_DIST += tests/sweep_mpi.sh tests/sweep_train.sh tests/compat.sh tests/precision.sh tests/fixtures/compat tests/fuzz/fuzz_sweep.sh \
	tests/fixtures/stats/make_fixtures.py tests/fixtures/stats/stats_fixtures.h

if FUZZERS
check_PROGRAMS += tests/fuzz/fuzz_sweep
tests_fuzz_fuzz_sweep_SOURCES = tests/fuzz/fuzz_sweep.c coordinator/sweep.c coordinator/stats.c common/config.c common/status.c \
	common/sha256.c common/rng.c $(FUZZ_COMMON_HELPERS)
tests_fuzz_fuzz_sweep_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_sweep_LDFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_sweep_LDADD = $(FUZZ_LDADD)
TESTS += tests/fuzz/fuzz_sweep.sh
endif
