# tests/weights.mk - tests of the weights part (included by tests/local.mk).
check_PROGRAMS += tests/test_safetensors tests/test_metrics
tests_test_safetensors_SOURCES = tests/test_safetensors.c
tests_test_safetensors_LDADD = $(TESTS_LDADD)
tests_test_metrics_SOURCES = tests/test_metrics.c
tests_test_metrics_LDADD = $(TESTS_LDADD)
TESTS += tests/test_safetensors tests/test_metrics
