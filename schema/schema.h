/* schema.h - the results-store schema, embedded from schema/schema.sql at build time. */
#ifndef LOAA_SCHEMA_H
#define LOAA_SCHEMA_H

/* NUL-terminated SQL text of schema/schema.sql. */
extern const char loaa_schema_sql[];

#endif
