# tests/kernels.mk - tests of the kernels part (included by tests/local.mk).
check_PROGRAMS += tests/test_kernels_layers
tests_test_kernels_layers_SOURCES = tests/test_kernels_layers.c
tests_test_kernels_layers_LDADD = $(TESTS_LDADD)
TESTS += tests/test_kernels_layers
check_PROGRAMS += tests/test_kernels_model
tests_test_kernels_model_SOURCES = tests/test_kernels_model.c
tests_test_kernels_model_LDADD = $(TESTS_LDADD)
TESTS += tests/test_kernels_model
check_PROGRAMS += tests/test_kernels_train
tests_test_kernels_train_SOURCES = tests/test_kernels_train.c
tests_test_kernels_train_LDADD = $(TESTS_LDADD)
TESTS += tests/test_kernels_train
TESTS += tests/kernels_bench.sh
EXTRA_DIST += tests/kernels_bench.sh
