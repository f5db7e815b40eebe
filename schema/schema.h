/* schema.h - the results-store schema, embedded from schema/schema.sql and schema/migrations.sql at build time. */
#ifndef LOAA_SCHEMA_H
#define LOAA_SCHEMA_H

/* NUL-terminated SQL text of schema/schema.sql: the tables of schema version 1. */
extern const char loaa_schema_sql[];

/*
 * NUL-terminated SQL text of schema/migrations.sql: sections that each start
 * with a line "-- migration N: ..." and bring a version N-1 database to N.
 */
extern const char loaa_schema_migrations_sql[];

#endif
