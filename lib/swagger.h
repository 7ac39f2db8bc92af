#ifndef SWAGGER_H
#define SWAGGER_H

#include <jansson.h>

/*
 * Checking JSON documents against a Swagger 2.0 specification, for the
 * subset Firecracker's API uses: type, required, properties,
 * additionalProperties, items, enum, minimum, maximum and local $ref
 * ("#/definitions/NAME"). Like Firecracker, which refuses fields it does
 * not know, an object may only have the properties its schema lists
 * unless the schema says additionalProperties.
 */

/* The definition called name, or NULL. */
json_t *swagger_definition(const json_t *spec, const char *name);

/*
 * 0 when value fits schema; -1 with the first reason in err, naming
 * where in value (".drives[0].is_root_device is required").
 */
int swagger_validate(const json_t *spec, const json_t *schema, const json_t *value,
		     struct strbuf *err);

struct swagger_op {
	const char *path;		/* the template: "/drives/{drive_id}" */
	json_t *op;			/* the operation object */
	json_t *body;			/* the schema of its body parameter, or NULL */
	bool body_required;
};

/*
 * The operation serving method (lower case, "put") on path: 0, or -1
 * when no path matches, -2 when one does but not with that method.
 */
int swagger_find(const json_t *spec, const char *method, const char *path, struct swagger_op *out);

#endif
