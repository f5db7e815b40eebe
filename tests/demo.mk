# tests/demo.mk - the demo's chain on tiny sizes (issue 9; included by tests/local.mk):
# vision pretraining -> exported backbone -> chained audio sweep, under mpirun.
check_PROGRAMS += tests/demo_stcmp
tests_demo_stcmp_SOURCES = tests/demo_stcmp.c
tests_demo_stcmp_LDADD = $(TESTS_LDADD)
TESTS += tests/demo.sh
EXTRA_DIST += tests/demo.sh
