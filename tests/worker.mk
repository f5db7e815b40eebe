# tests/worker.mk - tests of the worker part (included by tests/local.mk).
check_PROGRAMS += tests/test_worker_fbank
tests_test_worker_fbank_SOURCES = tests/test_worker_fbank.c
tests_test_worker_fbank_LDADD = $(TESTS_LDADD)
TESTS += tests/test_worker_fbank
EXTRA_DIST += tests/fixtures/make_fbank_fixtures.py tests/fixtures/fbank_cases.txt tests/fixtures/fbank_ast.f32 \
	tests/fixtures/fbank_povey_energy.f32 tests/fixtures/fbank_hamming_noedges.f32 tests/fixtures/fbank_blackman_plain.f32 \
	tests/fixtures/fbank_rect_8k.f32 tests/fixtures/fbank_ast_nolog_8k.f32 tests/fixtures/fbank_wave_16000.f32 \
	tests/fixtures/fbank_wave_8000.f32 tests/fixtures/resample_in.wav tests/fixtures/resample_sox16k.f32
check_PROGRAMS += tests/test_worker_data
tests_test_worker_data_SOURCES = tests/test_worker_data.c
tests_test_worker_data_LDADD = $(TESTS_LDADD)
TESTS += tests/test_worker_data
check_PROGRAMS += tests/test_worker_pack
tests_test_worker_pack_SOURCES = tests/test_worker_pack.c
tests_test_worker_pack_LDADD = $(TESTS_LDADD)
TESTS += tests/test_worker_pack
# libFuzzer harnesses for the shard reader (+ labels, decoding, features) and dataset.json.
if FUZZERS
check_PROGRAMS += tests/fuzz/fuzz_shard tests/fuzz/fuzz_dataset
FUZZ_WORKER_SOURCES = worker/shard.c worker/audio.c worker/npy.c worker/fbank.c worker/features.c worker/loader.c \
	common/dataset.c common/status.c common/rng.c $(FUZZ_COMMON_HELPERS)
tests_fuzz_fuzz_shard_SOURCES = tests/fuzz/fuzz_shard.c $(FUZZ_WORKER_SOURCES)
tests_fuzz_fuzz_shard_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_shard_LDFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_shard_LDADD = $(FUZZ_LDADD)
tests_fuzz_fuzz_dataset_SOURCES = tests/fuzz/fuzz_dataset.c common/dataset.c common/status.c common/rng.c worker/fbank.c $(FUZZ_COMMON_HELPERS)
tests_fuzz_fuzz_dataset_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_dataset_LDFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_dataset_LDADD = $(FUZZ_LDADD)
TESTS += tests/fuzz/fuzz_shard.sh tests/fuzz/fuzz_dataset.sh
endif
EXTRA_DIST += tests/fuzz/fuzz_shard.sh tests/fuzz/fuzz_dataset.sh
TESTS += tests/worker_cli.sh
EXTRA_DIST += tests/worker_cli.sh
