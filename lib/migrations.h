#ifndef MIGRATIONS_H
#define MIGRATIONS_H

/*
 * Schema migrations, generated from lib/sql/<driver>/NNNN-name.sql by
 * lib/sql/embed.sh. Versions are shared by the drivers: version N means
 * the same schema, written in each driver's SQL.
 */
struct migration {
	const char *driver;	/* "sqlite" or "postgres" */
	int version;
	const char *name;
	const char *sql;
};

extern const struct migration migrations[];

#endif
