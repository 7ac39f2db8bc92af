/*
 * http-get [-v]... [-H 'Name: value']... [--unix-socket PATH] URL
 *
 * GET through lib/http-client: prints the status on one line, then the
 * body. Exits 0 when a response came, else with the client's exit code.
 * With -v -v, libcurl's trace goes to stderr through the logger, so that
 * tests can check what it masks.
 */
#include "common.h"
#include "http-client.h"
#include "log.h"
#include "parse-options.h"

static const char *const usage[] = {
	"http-get [-v]... [-H 'Name: value']... [--unix-socket PATH] URL",
	NULL,
};

int main(int argc, const char **argv)
{
	struct strvec headers = STRVEC_INIT;
	const char *unix_socket = NULL;
	int verbose = 0, rc;
	const struct option options[] = {
		OPT_COUNT('v', "verbose", &verbose, "log more (repeatable)"),
		OPT_STRVEC('H', "header", &headers, "NAME: VALUE", "send this header"),
		OPT_STRING(0, "unix-socket", &unix_socket, "PATH", "connect to this socket"),
		OPT_END(),
	};
	struct http_client_response resp = HTTP_CLIENT_RESPONSE_INIT;
	struct http_client_request req = { 0 };
	struct http_client *c;

	set_progname("http-get");
	argc = parse_options(argc, argv, options, usage, 0);
	if (argc != 1)
		usage_with_options(usage, options);
	log_set_level(LOG_INFO + verbose);
	req.url = argv[0];
	req.headers = headers.v;
	req.unix_socket = unix_socket;
	c = http_client_new();
	rc = http_client_do(c, &req, &resp);
	if (!rc)
		printf("%ld\n%s", resp.status, resp.body.buf);
	http_client_response_release(&resp);
	http_client_free(c);
	strvec_clear(&headers);
	if (rc)
		return report_fail(rc);
	return fflush(stdout) ? EXIT_FAIL : EXIT_OK;
}
