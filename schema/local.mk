# schema/: schema.sql and its numbered migrations, embedded into the binary as C strings at build time.
EXTRA_DIST += schema/schema.sql schema/migrations.sql schema/embed.sh
BUILT_SOURCES += schema/schema_sql.c schema/migrations_sql.c
CLEANFILES += schema/schema_sql.c schema/migrations_sql.c
common_libloaa_common_a_SOURCES += schema/schema.h
nodist_common_libloaa_common_a_SOURCES = schema/schema_sql.c schema/migrations_sql.c
schema/schema_sql.c: $(srcdir)/schema/schema.sql $(srcdir)/schema/embed.sh
	$(AM_V_GEN)$(MKDIR_P) schema && $(SHELL) $(srcdir)/schema/embed.sh loaa_schema_sql $(srcdir)/schema/schema.sql > $@.tmp && mv $@.tmp $@
schema/migrations_sql.c: $(srcdir)/schema/migrations.sql $(srcdir)/schema/embed.sh
	$(AM_V_GEN)$(MKDIR_P) schema && $(SHELL) $(srcdir)/schema/embed.sh loaa_schema_migrations_sql $(srcdir)/schema/migrations.sql > $@.tmp && mv $@.tmp $@
