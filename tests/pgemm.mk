# tests/pgemm.mk - distributed GEMM (kernels/pgemm.h) under mpirun (included by tests/local.mk).
check_PROGRAMS += tests/test_pgemm
tests_test_pgemm_SOURCES = tests/test_pgemm.c
tests_test_pgemm_LDADD = $(TESTS_LDADD)
TESTS += tests/pgemm.sh
EXTRA_DIST += tests/pgemm.sh
