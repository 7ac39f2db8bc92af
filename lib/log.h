#ifndef LOG_H
#define LOG_H

/*
 * The one logging module. Each message becomes one line written with one
 * write(2) to stderr, after redaction and with control characters
 * replaced. Formats: "cli" (nimbus CMD: message), "text" (timestamped,
 * for daemons) and "json" (one object per line).
 */

enum log_level {
	LOG_ERROR,
	LOG_WARNING,
	LOG_INFO,
	LOG_DEBUG,
	LOG_TRACE,
};

enum log_format {
	LOG_FORMAT_CLI,
	LOG_FORMAT_TEXT,
	LOG_FORMAT_JSON,
};

struct log_field {
	const char *key;
	const char *value;
};

void log_set_level(int level);
int log_get_level(void);
void log_set_format(enum log_format format);
int log_parse_format(const char *s, enum log_format *out);
void log_set_fd(int fd);

static inline bool log_enabled(int level)
{
	return level <= log_get_level();
}

/* fields: an array ended by { NULL, NULL }, or NULL. */
void log_line(int level, const char *msg, const struct log_field *fields);
void log_msg(int level, const char *fmt, ...) PRINTF(2, 3);
/* msg, then key/value string pairs, ended by NULL. */
void log_kv(int level, const char *msg, ...);

#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) \
	do { if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)
#define log_trace(...) \
	do { if (log_enabled(LOG_TRACE)) log_msg(LOG_TRACE, __VA_ARGS__); } while (0)

#endif
