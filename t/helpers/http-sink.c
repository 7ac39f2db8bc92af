/*
 * http-sink [-H 'Name: value']... http://HOST:PORT/PATH
 *
 * A client for benchmarks that is not itself the bottleneck: one GET
 * over plain HTTP/1.1, the body spliced from the socket to /dev/null
 * through a pipe, so that no byte of it is copied to user space.
 * Prints the seconds from connect to the last byte. Fails unless the
 * status is 200 and exactly Content-Length bytes arrive.
 */
#include "common.h"
#include "netaddr.h"
#include "parse-options.h"

#include <sys/socket.h>
#include <time.h>

#define PIPE_BYTES (1 << 20)
#define HEAD_MAX 16384

static const char *const usage[] = {
	"http-sink [-H 'Name: value']... http://HOST:PORT/PATH",
	NULL,
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int connect_to(const char *hostport)
{
	struct sockaddr_storage ss;
	struct strbuf err = STRBUF_INIT;
	socklen_t len;
	int fd;

	if (parse_host_port(hostport, &ss, &len, &err))
		die("%s", err.buf);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len))
		die_errno("connect to %s", hostport);
	return fd;
}

/* Consumes the response head, and returns its Content-Length. */
static uint64_t read_head(int fd)
{
	char head[HEAD_MAX + 1], *end, *p;
	unsigned long long length;
	ssize_t n;

	do {
		n = recv(fd, head, HEAD_MAX, MSG_PEEK);
		if (n <= 0)
			die("the response ends before its head");
		head[n] = '\0';
		end = strstr(head, "\r\n\r\n");
	} while (!end && n < HEAD_MAX);
	if (!end)
		die("a response head of over %d bytes", HEAD_MAX);
	if (read_in_full(fd, head, end + 4 - head) != end + 4 - head)
		die_errno("read the response head");
	end[2] = '\0';
	if (!starts_with(head, "HTTP/1.1 200 "))
		die("the response is not 200: %.*s", (int)strcspn(head, "\r"), head);
	p = strcasestr(head, "\r\nContent-Length:");
	if (!p || sscanf(p + 17, " %llu", &length) != 1)
		die("the response has no Content-Length");
	return length;
}

/* Moves up to n bytes from fd to /dev/null without copying them. */
static uint64_t discard(int fd, uint64_t want)
{
	int pipefd[2], null;
	uint64_t got = 0;
	ssize_t n, m;

	if (pipe2(pipefd, O_CLOEXEC))
		die_errno("pipe");
	fcntl(pipefd[1], F_SETPIPE_SZ, PIPE_BYTES);
	null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null < 0)
		die_errno("open /dev/null");
	while (got < want) {
		n = splice(fd, NULL, pipefd[1], NULL, PIPE_BYTES, SPLICE_F_MOVE);
		if (n < 0)
			die_errno("splice from the socket");
		if (!n)
			break;
		got += n;
		for (; n > 0; n -= m) {
			m = splice(pipefd[0], NULL, null, NULL, n, SPLICE_F_MOVE);
			if (m <= 0)
				die_errno("splice to /dev/null");
		}
	}
	close(null);
	close(pipefd[0]);
	close(pipefd[1]);
	return got;
}

int main(int argc, const char **argv)
{
	struct strvec headers = STRVEC_INIT;
	const struct option options[] = {
		OPT_STRVEC('H', "header", &headers, "NAME: VALUE", "send this header"),
		OPT_END(),
	};
	struct strbuf req = STRBUF_INIT;
	const char *rest, *path;
	uint64_t want, got;
	double start;
	char *hostport;
	int fd;

	set_progname("http-sink");
	argc = parse_options(argc, argv, options, usage, 0);
	if (argc != 1 || !skip_prefix(argv[0], "http://", &rest))
		usage_with_options(usage, options);
	path = rest + strcspn(rest, "/");
	hostport = xstrndup(rest, path - rest);
	strbuf_addf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n",
		    *path ? path : "/", hostport);
	for (size_t i = 0; i < headers.nr; i++)
		strbuf_addf(&req, "%s\r\n", headers.v[i]);
	strbuf_addstr(&req, "\r\n");

	start = now();
	fd = connect_to(hostport);
	if (write_in_full(fd, req.buf, req.len) < 0)
		die_errno("send the request");
	want = read_head(fd);
	got = discard(fd, want);
	if (got != want)
		die("%" PRIu64 " bytes of a body of %" PRIu64, got, want);
	printf("%.6f\n", now() - start);
	close(fd);
	free(hostport);
	strbuf_release(&req);
	strvec_clear(&headers);
	return fflush(stdout) ? EXIT_FAIL : EXIT_OK;
}
