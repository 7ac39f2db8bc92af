#ifndef NETADDR_H
#define NETADDR_H

#include <sys/socket.h>

/*
 * Listening addresses: HOST:PORT with a numeric host, an IPv4 dotted quad
 * or an IPv6 address in brackets (127.0.0.1:8480, [::1]:8480,
 * [::]:8480). Names are refused: a listener must not depend on DNS, and
 * inet_aton's forms ("127.1", octal) read differently to different people.
 * Port 0 asks the system for a free port.
 */

/* Returns 0, or -1 with the reason in err. */
int parse_host_port(const char *s, struct sockaddr_storage *ss, socklen_t *len, struct strbuf *err);

/*
 * 127.0.0.1:8480, [::1]:8480 or a socket's path; without port, the host
 * alone. len bounds the path of a socket (0: unknown, print "unix").
 */
void format_sockaddr(struct strbuf *sb, const struct sockaddr *sa, socklen_t len, bool port);

#endif
