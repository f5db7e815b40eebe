# coordinator/: sweep files, grid expansion, scheduling, results store, reports.
noinst_LIBRARIES += coordinator/libloaa_coordinator.a
coordinator_lib = coordinator/libloaa_coordinator.a
coordinator_libloaa_coordinator_a_SOURCES = \
	coordinator/sweep.c coordinator/sweep.h \
	coordinator/store.c coordinator/store.h coordinator/store_private.h \
	coordinator/query.c coordinator/query.h \
	common/protocol.h
coordinator_libloaa_coordinator_a_SOURCES += \
	coordinator/prune.c coordinator/prune.h \
	coordinator/stats.c coordinator/stats.h \
	coordinator/coordinator.c coordinator/coordinator.h \
	coordinator/report.c coordinator/report.h
