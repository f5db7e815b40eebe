# tests/pgemm.mk - distributed GEMM (kernels/pgemm.h) and distributed training under mpirun (included by tests/local.mk).
check_PROGRAMS += tests/test_pgemm tests/test_model_dist
tests_test_pgemm_SOURCES = tests/test_pgemm.c
tests_test_pgemm_LDADD = $(TESTS_LDADD)
tests_test_model_dist_SOURCES = tests/test_model_dist.c
tests_test_model_dist_LDADD = $(TESTS_LDADD)
TESTS += tests/pgemm.sh tests/model_dist.sh tests/bench_pgemm.sh
EXTRA_DIST += tests/pgemm.sh tests/model_dist.sh tests/mpi_ranks.sh tests/bench_pgemm.sh
