#include "common.h"
#include "netaddr.h"
#include "parse-num.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

static int bad(struct strbuf *err, const char *s, const char *why)
{
	strbuf_addf(err, "'%s' %s", s, why);
	return -1;
}

#define NOT_HOST_PORT "is not HOST:PORT with a numeric host, e.g. 127.0.0.1:8480 or [::1]:8480"

int parse_host_port(const char *s, struct sockaddr_storage *ss, socklen_t *len, struct strbuf *err)
{
	char host[INET6_ADDRSTRLEN];
	const char *port_at, *host_at = s, *host_end;
	uint64_t port;

	if (*s == '[') {
		host_at = s + 1;
		host_end = strchr(host_at, ']');
		if (!host_end || host_end[1] != ':')
			return bad(err, s, NOT_HOST_PORT);
		port_at = host_end + 2;
	} else {
		host_end = strrchr(s, ':');
		if (!host_end)
			return bad(err, s, NOT_HOST_PORT);
		if (memchr(s, ':', host_end - s))
			return bad(err, s, "has an IPv6 address without brackets, e.g. [::1]:8480");
		port_at = host_end + 1;
	}
	if (host_end == host_at || (size_t)(host_end - host_at) >= sizeof(host))
		return bad(err, s, NOT_HOST_PORT);
	memcpy(host, host_at, host_end - host_at);
	host[host_end - host_at] = '\0';
	if (parse_u64(port_at, 65535, &port))
		return bad(err, s, errno == ERANGE ? "has a port out of range (0-65535)" :
				   "has a port that is not a number");

	memset(ss, 0, sizeof(*ss));
	if (*s == '[') {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1)
			return 0;
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		*len = sizeof(*in);
		if (inet_pton(AF_INET, host, &in->sin_addr) == 1)
			return 0;
	}
	return bad(err, s, NOT_HOST_PORT);
}

void format_sockaddr(struct strbuf *sb, const struct sockaddr *sa, socklen_t len, bool port)
{
	char host[INET6_ADDRSTRLEN];

	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		strbuf_addstr(sb, host);
		if (port)
			strbuf_addf(sb, ":%u", ntohs(in->sin_port));
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		if (port)
			strbuf_addf(sb, "[%s]:%u", host, ntohs(in6->sin6_port));
		else
			strbuf_addstr(sb, host);
		break;
	}
	case AF_UNIX: {
		const struct sockaddr_un *un = (const struct sockaddr_un *)sa;

		size_t off = offsetof(struct sockaddr_un, sun_path);

		/* a client's end usually has no name; a full sun_path has no NUL */
		if (len > off && un->sun_path[0])
			strbuf_add(sb, un->sun_path, strnlen(un->sun_path, len - off));
		else
			strbuf_addstr(sb, "unix");
		break;
	}
	default:
		strbuf_addf(sb, "family-%d", sa->sa_family);
	}
}
