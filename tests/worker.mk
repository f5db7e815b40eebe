# tests/worker.mk - tests of the worker part (included by tests/local.mk).
