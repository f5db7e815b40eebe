# tests/coordinator.mk - tests of the coordinator part (included by tests/local.mk).
