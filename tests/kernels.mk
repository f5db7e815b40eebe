# tests/kernels.mk - tests of the kernels part (included by tests/local.mk).
