# cli/: the loaa binary; each command file joins loaa_SOURCES.
bin_PROGRAMS += loaa
loaa_SOURCES = cli/loaa.c cli/commands.h cli/options.h cli/options.c cli/args.c cli/cmd_basic.c
# Each capability adds its command file below: loaa_SOURCES += cli/cmd_NAME.c
loaa_LDADD = $(LOAA_LIBS) $(DEPS_LIBS)
loaa_SOURCES += cli/cmd_bench.c
loaa_SOURCES += cli/cmd_sweep.c cli/cmd_train.c cli/cmd_report.c cli/cmd_export.c
loaa_SOURCES += cli/cmd_synth.c
loaa_SOURCES += cli/cmd_predict.c
loaa_SOURCES += cli/cmd_bench_gemm.c cli/bench_group.h
loaa_SOURCES += cli/cmd_pack.c
loaa_SOURCES += cli/cmd_bench_data.c
