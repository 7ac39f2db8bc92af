#ifndef OUTPUT_H
#define OUTPUT_H

#include <jansson.h>

/*
 * One printing path for text and --json (after iproute2): a command
 * builds its result once, as a JSON value, and this module prints it as
 * JSON or renders it as text:
 *   a scalar        alone on one line (so that x=$(nimbus ...) works)
 *   an object       aligned "key  value" lines
 *   an array of objects  an aligned table with a header
 *   an array of scalars  one per line
 * A command whose text form is special sets it with out_textf(). Nothing
 * reaches stdout until out_flush(), so a command that dies prints nothing.
 */

void out_set_json(bool on);
bool out_is_json(void);

/* Set the pending result (the reference is stolen). */
void out_result(json_t *doc);
/* Text to print instead of the rendering in text mode. */
void out_textf(const char *fmt, ...) PRINTF(1, 2);
/* Print what is pending; 0, or -1 with errno on a write error. */
int out_flush(void);
/* Streaming commands: print one object now (one JSON line in --json). */
int out_stream(json_t *obj);
void out_discard(void);

/* Render a JSON value as text, as out_flush() does (also for tests). */
void out_render_text(struct strbuf *sb, json_t *doc);

/* json_t helpers that die on allocation failure. */
json_t *xjson_string(const char *s);
json_t *xjson_time(int64_t secs);	/* RFC 3339 string, or null when secs < 0 */
json_t *xjson_time_ms(int64_t ms);	/* the same with milliseconds */

#endif
