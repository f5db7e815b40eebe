# common/: status codes, logging, timers, RNG, SHA-256, the trial config.
noinst_LIBRARIES += common/libloaa_common.a
common_libloaa_common_a_SOURCES = \
	common/status.c common/status.h \
	common/log.c common/log.h \
	common/timer.c common/timer.h \
	common/rng.c common/rng.h \
	common/sha256.c common/sha256.h \
	common/canonical.h common/choices.h common/config.c common/config.h \
	common/dataset.c common/dataset.h
# one place for growable buffers, mkdir -p and whole-file reads, integer parsing (issue 19)
common_libloaa_common_a_SOURCES += common/dynbuf.c common/dynbuf.h common/fs.c common/fs.h common/parse.c common/parse.h
# JSON strings for file names that are not UTF-8 (issue 18 #11)
common_libloaa_common_a_SOURCES += common/jsontext.c common/jsontext.h
