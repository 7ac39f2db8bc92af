#include "common.h"
#include "swagger.h"

/* A $ref chain longer than this is a loop. */
#define MAX_REFS 32

json_t *swagger_definition(const json_t *spec, const char *name)
{
	return json_object_get(json_object_get(spec, "definitions"), name);
}

static const json_t *resolve(const json_t *spec, const json_t *schema, struct strbuf *err,
			     const char *where)
{
	for (int i = 0; i < MAX_REFS; i++) {
		const char *ref = json_string_value(json_object_get(schema, "$ref")), *name;

		if (!ref)
			return schema;
		if (!skip_prefix(ref, "#/definitions/", &name) ||
		    !(schema = swagger_definition(spec, name))) {
			strbuf_addf(err, "%s: the specification has no %s", where, ref);
			return NULL;
		}
	}
	strbuf_addf(err, "%s: $ref loop in the specification", where);
	return NULL;
}

static bool type_fits(const char *type, const json_t *v)
{
	if (!strcmp(type, "object"))
		return json_is_object(v);
	if (!strcmp(type, "array"))
		return json_is_array(v);
	if (!strcmp(type, "string"))
		return json_is_string(v);
	if (!strcmp(type, "integer"))
		return json_is_integer(v);
	if (!strcmp(type, "number"))
		return json_is_number(v);
	if (!strcmp(type, "boolean"))
		return json_is_boolean(v);
	return false;
}

static int validate(const json_t *spec, const json_t *schema, const json_t *v,
		    struct strbuf *where, struct strbuf *err);

static int check_object(const json_t *spec, const json_t *schema, const json_t *v,
			struct strbuf *where, struct strbuf *err)
{
	const json_t *props = json_object_get(schema, "properties");
	const json_t *extra = json_object_get(schema, "additionalProperties");
	const json_t *req = json_object_get(schema, "required"), *r, *pv;
	size_t len = where->len, i;
	const char *key;

	json_array_foreach(req, i, r) {
		if (json_is_string(r) && !json_object_get(v, json_string_value(r))) {
			strbuf_addf(err, "%s.%s is required", where->buf, json_string_value(r));
			return -1;
		}
	}
	json_object_foreach((json_t *)v, key, pv) {
		const json_t *ps = json_object_get(props, key);
		int rc;

		strbuf_addf(where, ".%s", key);
		if (!ps && json_is_object(extra))
			ps = extra;
		if (ps)
			rc = validate(spec, ps, pv, where, err);
		else if ((rc = json_is_true(extra) ? 0 : -1))
			strbuf_addf(err, "%s is not a known field", where->buf);
		strbuf_setlen(where, len);
		if (rc)
			return rc;
	}
	return 0;
}

static int check_number(const json_t *schema, const json_t *v, const char *where,
			struct strbuf *err)
{
	const json_t *min = json_object_get(schema, "minimum");
	const json_t *max = json_object_get(schema, "maximum");
	double n = json_number_value(v);

	if (json_is_number(min) && n < json_number_value(min)) {
		strbuf_addf(err, "%s is below its minimum, %g", where, json_number_value(min));
		return -1;
	}
	if (json_is_number(max) && n > json_number_value(max)) {
		strbuf_addf(err, "%s is above its maximum, %g", where, json_number_value(max));
		return -1;
	}
	return 0;
}

static int validate(const json_t *spec, const json_t *schema, const json_t *v,
		    struct strbuf *where, struct strbuf *err)
{
	const json_t *en, *e, *items;
	const char *type;
	size_t i, len = where->len;

	schema = resolve(spec, schema, err, where->len ? where->buf : ".");
	if (!schema)
		return -1;
	type = json_string_value(json_object_get(schema, "type"));
	if (type && !type_fits(type, v)) {
		strbuf_addf(err, "%s is not %s %s", where->len ? where->buf : "the document",
			    strchr("aeiou", *type) ? "an" : "a", type);
		return -1;
	}
	en = json_object_get(schema, "enum");
	if (json_is_array(en)) {
		bool found = false;

		json_array_foreach(en, i, e)
			found = found || json_equal((json_t *)e, (json_t *)v);
		if (!found) {
			strbuf_addf(err, "%s is not one of its allowed values", where->buf);
			return -1;
		}
	}
	if (json_is_number(v) && check_number(schema, v, where->buf, err))
		return -1;
	if (json_is_object(v) && (!type || !strcmp(type, "object")))
		return check_object(spec, schema, v, where, err);
	items = json_object_get(schema, "items");
	if (json_is_array(v) && items) {
		json_array_foreach(v, i, e) {
			int rc;

			strbuf_addf(where, "[%zu]", i);
			rc = validate(spec, items, e, where, err);
			strbuf_setlen(where, len);
			if (rc)
				return rc;
		}
	}
	return 0;
}

int swagger_validate(const json_t *spec, const json_t *schema, const json_t *value,
		     struct strbuf *err)
{
	struct strbuf where = STRBUF_INIT;
	int rc = validate(spec, schema, value, &where, err);

	strbuf_release(&where);
	return rc;
}

/* Whether path fits template, a {name} standing for one non-empty segment. */
static bool path_fits(const char *tmpl, const char *path)
{
	while (*tmpl && *path) {
		if (*tmpl == '{') {
			const char *close = strchr(tmpl, '}');
			size_t seg = strcspn(path, "/");

			if (!close || !seg)
				return false;
			tmpl = close + 1;
			path += seg;
		} else if (*tmpl++ != *path++) {
			return false;
		}
	}
	return !*tmpl && !*path;
}

int swagger_find(const json_t *spec, const char *method, const char *path, struct swagger_op *out)
{
	const char *tmpl;
	json_t *item;

	json_object_foreach(json_object_get(spec, "paths"), tmpl, item) {
		json_t *params, *p;
		size_t i;

		if (!path_fits(tmpl, path))
			continue;
		*out = (struct swagger_op){ .path = tmpl, .op = json_object_get(item, method) };
		if (!out->op)
			return -2;
		params = json_object_get(out->op, "parameters");
		json_array_foreach(params, i, p) {
			const char *in = json_string_value(json_object_get(p, "in"));

			if (in && !strcmp(in, "body")) {
				out->body = json_object_get(p, "schema");
				out->body_required = json_is_true(json_object_get(p, "required"));
			}
		}
		return 0;
	}
	return -1;
}
