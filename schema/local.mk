# schema/: schema.sql, embedded into the binary as a C string at build time.
EXTRA_DIST += schema/schema.sql schema/embed.sh
BUILT_SOURCES += schema/schema_sql.c
CLEANFILES += schema/schema_sql.c
common_libloaa_common_a_SOURCES += schema/schema.h
nodist_common_libloaa_common_a_SOURCES = schema/schema_sql.c
schema/schema_sql.c: $(srcdir)/schema/schema.sql $(srcdir)/schema/embed.sh
	$(AM_V_GEN)$(MKDIR_P) schema && $(SHELL) $(srcdir)/schema/embed.sh loaa_schema_sql $(srcdir)/schema/schema.sql > $@.tmp && mv $@.tmp $@
