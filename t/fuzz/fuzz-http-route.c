/*
 * libFuzzer: http_route_find() on any path and method. The route found
 * must match the path and take the method; no better-ranked route may be
 * passed over; 404 and 405 must agree with the table.
 *
 * Input: the method's bits in the first byte, then the path.
 */
#include "common.h"
#include "http-server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void nop(struct http_request *req)
{
}

static const struct http_route routes[] = {
	{ .path = "/healthz", .methods = HTTP_GET | HTTP_HEAD, .name = "a", .handler = nop },
	{ .path = "/v2/", .prefix = true, .methods = HTTP_GET | HTTP_HEAD, .name = "b", .handler = nop },
	{ .path = "/v2/", .prefix = true, .methods = HTTP_PUT | HTTP_PATCH | HTTP_POST, .name = "c", .handler = nop },
	{ .path = "/v2/", .methods = HTTP_GET, .name = "d", .handler = nop },
	{ .path = "/cache/", .prefix = true, .methods = HTTP_GET | HTTP_PUT | HTTP_DELETE, .name = "e", .handler = nop },
	{ .path = "/cache/x/", .prefix = true, .methods = HTTP_HEAD, .name = "f", .handler = nop },
	{ .path = "/", .prefix = true, .methods = HTTP_OPTIONS, .name = "g", .handler = nop },
	{ .path = "", .methods = HTTP_GET, .name = "h", .handler = nop },
};

static size_t rank(const struct http_route *r, const char *path)
{
	if (!r->prefix)
		return strcmp(path, r->path) ? 0 : SIZE_MAX;
	return starts_with(path, r->path) ? strlen(r->path) + 1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned method, allow, want_allow = 0;
	const struct http_route *r;
	size_t best = 0;
	char *path;

	if (!size)
		return 0;
	method = data[0] & 0x7f;
	path = xmemdup(data + 1, size - 1);
	r = http_route_find(routes, ARRAY_SIZE(routes), path, method, &allow);
	for (size_t i = 0; i < ARRAY_SIZE(routes); i++)
		if (rank(&routes[i], path) > best)
			best = rank(&routes[i], path);
	for (size_t i = 0; best && i < ARRAY_SIZE(routes); i++)
		if (rank(&routes[i], path) == best)
			want_allow |= routes[i].methods;
	if (allow != want_allow)
		abort();
	if (r && (rank(r, path) != best || !(r->methods & method)))
		abort();
	if (!r && (allow & method))
		abort();
	free(path);
	return 0;
}
