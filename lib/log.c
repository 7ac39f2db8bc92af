#include "common.h"
#include "escape.h"
#include "log.h"
#include "redact.h"
#include "timeutil.h"

static int level = LOG_INFO;
static enum log_format format = LOG_FORMAT_CLI;
static int log_fd = 2;

static const char *const level_names[] = {
	[LOG_ERROR] = "error",
	[LOG_WARNING] = "warning",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
	[LOG_TRACE] = "trace",
};

void log_set_level(int l)
{
	/* -q never silences errors */
	level = l < LOG_ERROR ? LOG_ERROR : l > LOG_TRACE ? LOG_TRACE : l;
}

int log_get_level(void)
{
	return level;
}

void log_set_format(enum log_format f)
{
	format = f;
}

int log_parse_format(const char *s, enum log_format *out)
{
	if (!strcmp(s, "text"))
		*out = LOG_FORMAT_TEXT;
	else if (!strcmp(s, "json"))
		*out = LOG_FORMAT_JSON;
	else if (!strcmp(s, "cli"))
		*out = LOG_FORMAT_CLI;
	else
		return -1;
	return 0;
}

void log_set_fd(int fd)
{
	log_fd = fd;
}

static bool needs_quotes(const char *v)
{
	if (!*v)
		return true;
	for (; *v; v++)
		if (*v == ' ' || *v == '"' || *v == '=' || (unsigned char)*v < 0x20)
			return true;
	return false;
}

/* Redact one piece into scratch, then append it escaped for the format. */
static void add_piece(struct strbuf *out, struct strbuf *scratch, const char *s, bool json, bool quote)
{
	strbuf_reset(scratch);
	strbuf_addstr(scratch, s);
	redact(scratch);
	if (json) {
		strbuf_add_json_string(out, scratch->buf, scratch->len);
	} else if (quote && needs_quotes(scratch->buf)) {
		strbuf_addch(out, '"');
		for (size_t i = 0; i < scratch->len; i++) {
			if (scratch->buf[i] == '"' || scratch->buf[i] == '\\')
				strbuf_addch(out, '\\');
			strbuf_add_printable(out, scratch->buf + i, 1);
		}
		strbuf_addch(out, '"');
	} else {
		strbuf_add_printable(out, scratch->buf, scratch->len);
	}
}

static void format_line(struct strbuf *out, int lvl, const char *msg, const struct log_field *fields)
{
	struct strbuf scratch = STRBUF_INIT;
	bool json = format == LOG_FORMAT_JSON;

	if (json) {
		strbuf_addstr(out, "{\"ts\":\"");
		fmt_rfc3339_ms(out, now_ms());
		strbuf_addf(out, "\",\"level\":\"%s\",\"prog\":", level_names[lvl]);
		strbuf_add_json_string(out, progname(), strlen(progname()));
		strbuf_addstr(out, ",\"msg\":");
		add_piece(out, &scratch, msg, true, false);
		for (; fields && fields->key; fields++) {
			strbuf_addch(out, ',');
			strbuf_add_json_string(out, fields->key, strlen(fields->key));
			strbuf_addch(out, ':');
			add_piece(out, &scratch, fields->value ? fields->value : "", true, false);
		}
		strbuf_addstr(out, "}\n");
		strbuf_release(&scratch);
		return;
	}
	if (format == LOG_FORMAT_TEXT) {
		fmt_rfc3339_ms(out, now_ms());
		strbuf_addf(out, " %s ", level_names[lvl]);
	}
	strbuf_addf(out, "%s: ", progname());
	if (format == LOG_FORMAT_CLI && lvl != LOG_ERROR && lvl != LOG_INFO)
		strbuf_addf(out, "%s: ", level_names[lvl]);
	add_piece(out, &scratch, msg, false, false);
	for (; fields && fields->key; fields++) {
		strbuf_addf(out, " %s=", fields->key);
		add_piece(out, &scratch, fields->value ? fields->value : "", false, true);
	}
	strbuf_addch(out, '\n');
	strbuf_release(&scratch);
}

void log_line(int lvl, const char *msg, const struct log_field *fields)
{
	struct strbuf line = STRBUF_INIT;
	int saved = errno;

	if (!log_enabled(lvl))
		return;
	format_line(&line, lvl, msg, fields);
	write_in_full(log_fd, line.buf, line.len); /* nowhere to report a failure */
	strbuf_release(&line);
	errno = saved;
}

void log_msg(int lvl, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	if (!log_enabled(lvl))
		return;
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	log_line(lvl, sb.buf, NULL);
	strbuf_release(&sb);
}

void log_kv(int lvl, const char *msg, ...)
{
	struct log_field fields[32];
	size_t n = 0;
	const char *key;
	va_list ap;

	if (!log_enabled(lvl))
		return;
	va_start(ap, msg);
	while ((key = va_arg(ap, const char *))) {
		if (n == ARRAY_SIZE(fields) - 1)
			BUG("log_kv: too many fields");
		fields[n].key = key;
		fields[n].value = va_arg(ap, const char *);
		n++;
	}
	va_end(ap);
	fields[n].key = fields[n].value = NULL;
	log_line(lvl, msg, fields);
}
