# tests/weights.mk - tests of the weights part (included by tests/local.mk).
