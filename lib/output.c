#include "common.h"
#include "escape.h"
#include "output.h"
#include "timeutil.h"

static bool json_mode;
static json_t *pending;
static struct strbuf pending_text = STRBUF_INIT;
static bool have_text;

void out_set_json(bool on)
{
	json_mode = on;
}

bool out_is_json(void)
{
	return json_mode;
}

void out_result(json_t *doc)
{
	if (!doc)
		die("out of memory building output");
	json_decref(pending);
	pending = doc;
}

void out_textf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&pending_text, fmt, ap);
	va_end(ap);
	have_text = true;
}

void out_discard(void)
{
	json_decref(pending);
	pending = NULL;
	strbuf_reset(&pending_text);
	have_text = false;
}

static void add_scalar(struct strbuf *sb, json_t *v)
{
	char *s;

	switch (json_typeof(v)) {
	case JSON_STRING:
		strbuf_add_printable(sb, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		strbuf_addf(sb, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		strbuf_addf(sb, "%.17g", json_real_value(v));
		break;
	case JSON_TRUE:
		strbuf_addstr(sb, "true");
		break;
	case JSON_FALSE:
		strbuf_addstr(sb, "false");
		break;
	case JSON_NULL:
		strbuf_addch(sb, '-');
		break;
	case JSON_ARRAY:
		if (!json_array_size(v)) {
			strbuf_addch(sb, '-');
			break;
		}
		/* fall through */
	default:
		s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!s)
			die("out of memory rendering output");
		strbuf_add_printable(sb, s, strlen(s));
		free(s);
		break;
	}
}

static bool is_scalar_array(json_t *a)
{
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v)
		if (json_is_object(v) || json_is_array(v))
			return false;
	return true;
}

static void render_object(struct strbuf *sb, json_t *obj)
{
	const char *key;
	json_t *v;
	size_t width = 0;

	json_object_foreach(obj, key, v)
		if (strlen(key) > width)
			width = strlen(key);
	json_object_foreach(obj, key, v) {
		strbuf_addstr(sb, key);
		strbuf_addchars(sb, ' ', width - strlen(key) + 2);
		add_scalar(sb, v);
		strbuf_addch(sb, '\n');
	}
}

static void render_table(struct strbuf *sb, json_t *rows)
{
	json_t *cols = json_array(), *row, *v;
	size_t i, c, ncols, *width;
	const char *key;
	struct strbuf cell = STRBUF_INIT;

	json_array_foreach(rows, i, row) {
		json_object_foreach(row, key, v) {
			bool seen = false;

			for (c = 0; c < json_array_size(cols) && !seen; c++)
				seen = !strcmp(json_string_value(json_array_get(cols, c)), key);
			if (!seen)
				json_array_append_new(cols, xjson_string(key));
		}
	}
	ncols = json_array_size(cols);
	width = xcalloc(ncols ? ncols : 1, sizeof(*width));
	for (c = 0; c < ncols; c++)
		width[c] = strlen(json_string_value(json_array_get(cols, c)));
	json_array_foreach(rows, i, row) {
		for (c = 0; c < ncols; c++) {
			v = json_object_get(row, json_string_value(json_array_get(cols, c)));
			strbuf_reset(&cell);
			add_scalar(&cell, v ? v : json_null());
			if (cell.len > width[c])
				width[c] = cell.len;
		}
	}
	for (c = 0; c < ncols; c++) {
		const char *name = json_string_value(json_array_get(cols, c));
		size_t start = sb->len;

		strbuf_addstr(sb, name);
		for (size_t k = start; k < sb->len; k++)
			if (sb->buf[k] >= 'a' && sb->buf[k] <= 'z')
				sb->buf[k] -= 'a' - 'A';
		if (c + 1 < ncols)
			strbuf_addchars(sb, ' ', width[c] - strlen(name) + 2);
	}
	strbuf_addch(sb, '\n');
	json_array_foreach(rows, i, row) {
		for (c = 0; c < ncols; c++) {
			v = json_object_get(row, json_string_value(json_array_get(cols, c)));
			strbuf_reset(&cell);
			add_scalar(&cell, v ? v : json_null());
			strbuf_addbuf(sb, &cell);
			if (c + 1 < ncols)
				strbuf_addchars(sb, ' ', width[c] - cell.len + 2);
		}
		strbuf_addch(sb, '\n');
	}
	free(width);
	strbuf_release(&cell);
	json_decref(cols);
}

void out_render_text(struct strbuf *sb, json_t *doc)
{
	size_t i;
	json_t *v;

	if (!doc)
		return;
	if (json_is_object(doc)) {
		render_object(sb, doc);
	} else if (json_is_array(doc)) {
		if (!json_array_size(doc))
			return;
		if (is_scalar_array(doc)) {
			json_array_foreach(doc, i, v) {
				add_scalar(sb, v);
				strbuf_addch(sb, '\n');
			}
		} else {
			render_table(sb, doc);
		}
	} else {
		add_scalar(sb, doc);
		strbuf_addch(sb, '\n');
	}
}

static int write_out(const struct strbuf *sb)
{
	if (!sb->len)
		return 0;
	return write_in_full(1, sb->buf, sb->len) < 0 ? -1 : 0;
}

int out_flush(void)
{
	struct strbuf sb = STRBUF_INIT;
	int rc;

	if (json_mode && pending) {
		char *s = json_dumps(pending, JSON_INDENT(2) | JSON_ENCODE_ANY);

		if (!s)
			die("out of memory rendering output");
		strbuf_addstr(&sb, s);
		strbuf_addch(&sb, '\n');
		free(s);
	} else if (!json_mode && have_text) {
		strbuf_addbuf(&sb, &pending_text);
	} else if (!json_mode) {
		out_render_text(&sb, pending);
	}
	out_discard();
	rc = write_out(&sb);
	strbuf_release(&sb);
	return rc;
}

int out_stream(json_t *obj)
{
	struct strbuf sb = STRBUF_INIT;
	int rc;

	if (!obj)
		die("out of memory building output");
	if (json_mode) {
		char *s = json_dumps(obj, JSON_COMPACT | JSON_ENCODE_ANY);

		if (!s)
			die("out of memory rendering output");
		strbuf_addstr(&sb, s);
		strbuf_addch(&sb, '\n');
		free(s);
	} else if (have_text) {
		strbuf_addbuf(&sb, &pending_text);
	} else {
		out_render_text(&sb, obj);
	}
	json_decref(obj);
	out_discard();
	rc = write_out(&sb);
	strbuf_release(&sb);
	return rc;
}

json_t *xjson_string(const char *s)
{
	json_t *v = json_stringn(s, strlen(s));

	if (!v) /* invalid UTF-8: keep the bytes visible, escaped */ {
		struct strbuf sb = STRBUF_INIT;

		strbuf_add_printable(&sb, s, strlen(s));
		v = json_string(sb.buf);
		strbuf_release(&sb);
	}
	if (!v)
		die("out of memory building output");
	return v;
}

static json_t *time_json(int64_t t, void (*fmt)(struct strbuf *, int64_t))
{
	struct strbuf sb = STRBUF_INIT;
	json_t *v;

	if (t < 0)
		return json_null();
	fmt(&sb, t);
	v = xjson_string(sb.buf);
	strbuf_release(&sb);
	return v;
}

json_t *xjson_time(int64_t secs)
{
	return time_json(secs, fmt_rfc3339);
}

json_t *xjson_time_ms(int64_t ms)
{
	return time_json(ms, fmt_rfc3339_ms);
}
