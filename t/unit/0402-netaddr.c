#include "tap.h"
#include "netaddr.h"

/* Parse s and format it back; "ERR" when it does not parse. */
static const char *roundtrip(const char *s)
{
	static struct strbuf out = STRBUF_INIT;
	struct strbuf err = STRBUF_INIT;
	struct sockaddr_storage ss;
	socklen_t len;

	strbuf_reset(&out);
	if (parse_host_port(s, &ss, &len, &err))
		strbuf_addstr(&out, "ERR");
	else
		format_sockaddr(&out, (struct sockaddr *)&ss, len, true);
	strbuf_release(&err);
	return out.buf;
}

static const char *reason(const char *s)
{
	static struct strbuf err = STRBUF_INIT;
	struct sockaddr_storage ss;
	socklen_t len;

	strbuf_reset(&err);
	parse_host_port(s, &ss, &len, &err);
	return err.buf;
}

int main(void)
{
	static const char *const good[][2] = {
		{ "127.0.0.1:8480", "127.0.0.1:8480" },
		{ "0.0.0.0:0", "0.0.0.0:0" },
		{ "[::1]:8480", "[::1]:8480" },
		{ "[::]:65535", "[::]:65535" },
		{ "[0:0::ffff:7f00:1]:1", "[::ffff:127.0.0.1]:1" },
		{ "10.1.2.3:080", "10.1.2.3:80" },
	};
	static const char *const bad[] = {
		"", ":8480", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
		"127.0.0.1:80x", "127.0.0.1: 80", "localhost:8480", "127.1:8480", "0177.0.0.1:80",
		"::1:8480", "[::1]8480", "[::1]", "[127.0.0.1]:80", "[::1:80", "[]:80",
		"1.2.3.4.5:80", " 127.0.0.1:80", "[fe80::1%eth0]:80",
		"[0000:0000:0000:0000:0000:0000:0000:0000:0000]:80",
	};

	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		is_str(roundtrip(good[i][0]), good[i][1], "'%s' parses", good[i][0]);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		is_str(roundtrip(bad[i]), "ERR", "'%s' is refused", bad[i]);

	is_str(reason("::1:8480"), "'::1:8480' has an IPv6 address without brackets, e.g. [::1]:8480",
	       "unbracketed IPv6 gets its own reason");
	is_str(reason("1.2.3.4:70000"), "'1.2.3.4:70000' has a port out of range (0-65535)",
	       "port range reason");
	is_str(reason("localhost:80"),
	       "'localhost:80' is not HOST:PORT with a numeric host, e.g. 127.0.0.1:8480 or [::1]:8480",
	       "names are refused with the hint");
	return done_testing();
}
