# tests/reliability.mk - reliability and security tests (issue 8): resource
# bombs, hostile archive entries, kill-anywhere resume, storage faults, and
# the libFuzzer harnesses for audio and .npy entries.
check_PROGRAMS += tests/test_bombs
tests_test_bombs_SOURCES = tests/test_bombs.c
tests_test_bombs_LDADD = $(TESTS_LDADD)
check_PROGRAMS += tests/test_store_faults
tests_test_store_faults_SOURCES = tests/test_store_faults.c
tests_test_store_faults_LDADD = $(TESTS_LDADD)
TESTS += tests/test_bombs tests/test_store_faults tests/kill_anywhere.sh tests/storage_faults.sh
EXTRA_DIST += tests/fuzz/fuzz_audio.sh tests/fuzz/fuzz_npy.sh tests/valgrind.sh tests/valgrind.supp tests/kill_anywhere.sh tests/storage_faults.sh

if FUZZERS
check_PROGRAMS += tests/fuzz/fuzz_audio tests/fuzz/fuzz_npy
FUZZ_FRONTEND_SOURCES = worker/audio.c worker/npy.c worker/fbank.c worker/features.c common/dataset.c common/status.c \
	common/rng.c $(FUZZ_COMMON_HELPERS)
tests_fuzz_fuzz_audio_SOURCES = tests/fuzz/fuzz_audio.c $(FUZZ_FRONTEND_SOURCES)
tests_fuzz_fuzz_audio_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_audio_LDFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_audio_LDADD = $(FUZZ_LDADD)
tests_fuzz_fuzz_npy_SOURCES = tests/fuzz/fuzz_npy.c $(FUZZ_FRONTEND_SOURCES)
tests_fuzz_fuzz_npy_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_npy_LDFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_npy_LDADD = $(FUZZ_LDADD)
TESTS += tests/fuzz/fuzz_audio.sh tests/fuzz/fuzz_npy.sh
endif
