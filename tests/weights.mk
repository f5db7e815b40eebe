# tests/weights.mk - tests of the weights part (included by tests/local.mk).
check_PROGRAMS += tests/test_safetensors tests/test_metrics
tests_test_safetensors_SOURCES = tests/test_safetensors.c
tests_test_safetensors_LDADD = $(TESTS_LDADD)
tests_test_metrics_SOURCES = tests/test_metrics.c
tests_test_metrics_LDADD = $(TESTS_LDADD)
TESTS += tests/test_safetensors tests/test_metrics
check_PROGRAMS += tests/test_weights tests/test_checkpoint
tests_test_weights_SOURCES = tests/test_weights.c
tests_test_weights_LDADD = $(TESTS_LDADD)
tests_test_checkpoint_SOURCES = tests/test_checkpoint.c
tests_test_checkpoint_LDADD = $(TESTS_LDADD)
TESTS += tests/test_weights tests/test_checkpoint
check_PROGRAMS += tests/test_predict
tests_test_predict_SOURCES = tests/test_predict.c
tests_test_predict_LDADD = $(TESTS_LDADD)
TESTS += tests/test_predict
EXTRA_DIST += tests/fixtures/make_weights_fixtures.py tests/fixtures/vit_tiny_timm.safetensors \
	tests/fixtures/vit_tiny_hf.safetensors tests/fixtures/vit_tiny_expected.safetensors

if FUZZERS
check_PROGRAMS += tests/fuzz/fuzz_safetensors
tests_fuzz_fuzz_safetensors_SOURCES = tests/fuzz/fuzz_safetensors.c kernels/safetensors.c common/status.c $(FUZZ_COMMON_HELPERS)
tests_fuzz_fuzz_safetensors_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_safetensors_LDFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_safetensors_LDADD = $(FUZZ_LDADD)
TESTS += tests/fuzz/fuzz_safetensors.sh
# The importer is instrumented; the model it fills comes from the ordinary libraries.
check_PROGRAMS += tests/fuzz/fuzz_weights
tests_fuzz_fuzz_weights_SOURCES = tests/fuzz/fuzz_weights.c kernels/safetensors.c kernels/weights.c kernels/checkpoint.c
tests_fuzz_fuzz_weights_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_weights_LDFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_weights_LDADD = $(LOAA_LIBS) $(FUZZ_LDADD)
TESTS += tests/fuzz/fuzz_weights.sh
endif
EXTRA_DIST += tests/fuzz/fuzz_safetensors.sh tests/fuzz/fuzz_weights.sh
