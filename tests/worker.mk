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
