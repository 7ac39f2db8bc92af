#include "common.h"
#include "fc-api.h"
#include "http-client.h"
#include "sandbox.h"
#include "timeutil.h"

#include <linux/capability.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

int fc_api_open(struct fc_api *api, const char *socket, int timeout)
{
	struct sockaddr_un un;
	const char *slash = strrchr(socket, '/');

	*api = (struct fc_api){ .dirfd = -1, .timeout = timeout };
	api->socket = xstrdup(socket);
	if (strlen(socket) < sizeof(un.sun_path)) {
		api->path = xstrdup(socket);
	} else {
		char *dir = xstrndup(socket, slash ? slash - socket : 0);

		api->dirfd = open(*dir ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
		free(dir);
		if (api->dirfd < 0) {
			int rc = fail_errno(EXIT_FAIL, "cannot open the directory of %s", socket);

			fc_api_close(api);
			return rc;
		}
		api->path = xstrfmt("/proc/self/fd/%d/%s", api->dirfd, slash + 1);
	}
	api->http = http_client_new();
	return 0;
}

void fc_api_close(struct fc_api *api)
{
	http_client_free(api->http);
	if (api->dirfd >= 0)
		close(api->dirfd);
	free(api->path);
	free(api->socket);
	*api = (struct fc_api){ .dirfd = -1 };
}

static bool connects(const char *path)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	memcpy(un.sun_path, path, strlen(path));
	caps_raise(CAP_DAC_OVERRIDE);
	ok = fd >= 0 && !connect(fd, (struct sockaddr *)&un, sizeof(un));
	caps_lower(CAP_DAC_OVERRIDE);
	if (fd >= 0)
		close(fd);
	return ok;
}

static bool exited(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return pidfd >= 0 && poll(&p, 1, 0) > 0;
}

int fc_api_wait(struct fc_api *api, int pidfd, int64_t deadline_ms)
{
	/* Firecracker binds its socket within milliseconds: poll often, a failed connect is cheap */
	while (!connects(api->path)) {
		if (exited(pidfd))
			return fail(EXIT_FAIL, "Firecracker exited before it opened %s", api->socket);
		if (mono_ms() >= deadline_ms)
			return fail(EXIT_UNAVAILABLE, "Firecracker's socket %s did not open in time",
				    api->socket);
		sleep_ms(1);
	}
	return 0;
}

int fc_api_call(struct fc_api *api, const char *method, const char *path, json_t *body,
		json_t **out)
{
	static const char *const headers[] = {
		"Content-Type: application/json", "Accept: application/json", NULL,
	};
	struct http_client_response resp = HTTP_CLIENT_RESPONSE_INIT;
	struct strbuf url = STRBUF_INIT;
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	struct http_client_request rq = {
		.method = method, .headers = headers, .body = text,
		.body_len = text ? strlen(text) : 0, .timeout = api->timeout,
		.unix_socket = api->path,
	};
	json_t *doc = NULL;
	int rc;

	if (body && !text)
		die("out of memory");
	strbuf_addf(&url, "http://localhost%s", path);
	rq.url = url.buf;
	/* connecting to the socket, which is the VM's uid's (the rest needs nothing) */
	caps_raise(CAP_DAC_OVERRIDE);
	rc = http_client_do(api->http, &rq, &resp);
	caps_lower(CAP_DAC_OVERRIDE);
	if (!rc && resp.body.len)
		doc = json_loadb(resp.body.buf, resp.body.len, 0, NULL);
	if (!rc && (resp.status < 200 || resp.status > 299)) {
		const char *msg = json_string_value(json_object_get(doc, "fault_message"));

		rc = fail(EXIT_FAIL, "Firecracker answered %s %s with %ld: %s", method, path,
			  resp.status, msg ? msg : "no reason given");
	}
	if (!rc && out)
		*out = json_incref(doc);
	json_decref(doc);
	free(text);
	strbuf_release(&url);
	http_client_response_release(&resp);
	return rc;
}
