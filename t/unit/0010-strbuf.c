#include "tap.h"

static void test_add(void)
{
	struct strbuf sb = STRBUF_INIT;

	is_int(sb.len, 0, "a new strbuf is empty");
	is_str(sb.buf, "", "and its buffer is an empty string");
	strbuf_addstr(&sb, "abc");
	strbuf_addch(&sb, 'd');
	strbuf_add(&sb, "ef\0gh", 5);
	is_int(sb.len, 9, "add keeps embedded NULs");
	ok(!memcmp(sb.buf, "abcdef\0gh", 10), "and terminates the buffer");
	strbuf_reset(&sb);
	strbuf_addf(&sb, "%s-%d", "x", 42);
	is_str(sb.buf, "x-42", "addf formats");
	strbuf_release(&sb);
	ok(sb.buf && !sb.len && !sb.alloc, "release leaves an empty, usable strbuf");
}

static void test_grow(void)
{
	struct strbuf sb = STRBUF_INIT;
	char *big = xmalloc(100000);

	memset(big, 'z', 100000);
	for (int i = 0; i < 10; i++)
		strbuf_add(&sb, big, 10000);
	is_int(sb.len, 100000, "many appends add up");
	ok(!memcmp(sb.buf, big, 100000) && sb.buf[100000] == '\0', "contents intact after growing");
	strbuf_reset(&sb);
	strbuf_addf(&sb, "%s%s", "", "");
	is_int(sb.len, 0, "an empty format adds nothing");
	strbuf_addf(&sb, "%0500d", 7);
	is_int(sb.len, 500, "a long format result is complete");
	free(big);
	strbuf_release(&sb);
}

static void test_edit(void)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addstr(&sb, "  hello world \n");
	strbuf_trim(&sb);
	is_str(sb.buf, "hello world", "trim removes blanks at both ends");
	strbuf_splice(&sb, 0, 5, "goodbye", 7);
	is_str(sb.buf, "goodbye world", "splice replaces");
	strbuf_insert(&sb, 7, ",", 1);
	is_str(sb.buf, "goodbye, world", "insert");
	strbuf_remove(&sb, 0, 9);
	is_str(sb.buf, "world", "remove");
	strbuf_addstr(&sb, "ABC");
	strbuf_tolower(&sb);
	is_str(sb.buf, "worldabc", "tolower");
	strbuf_release(&sb);
}

static void test_detach(void)
{
	struct strbuf sb = STRBUF_INIT;
	size_t len;
	char *s;

	s = strbuf_detach(&sb, &len);
	ok(s && !*s && len == 0, "detaching an empty strbuf gives an allocated empty string");
	free(s);
	strbuf_addstr(&sb, "secret");
	strbuf_release_secret(&sb);
	is_int(sb.len, 0, "release_secret empties");
}

static void test_strvec(void)
{
	struct strvec sv = STRVEC_INIT;

	ok(sv.v[0] == NULL, "an empty strvec is NULL-terminated");
	strvec_split(&sv, "a,,b,c,", ',');
	is_int(sv.nr, 3, "split drops empty fields");
	is_str(sv.v[2], "c", "split keeps order");
	ok(sv.v[3] == NULL, "and terminates");
	strvec_pushf(&sv, "%d", 5);
	is_str(sv.v[3], "5", "pushf");
	strvec_clear(&sv);
	is_int(sv.nr, 0, "clear");
}

static void test_read_fd(void)
{
	struct strbuf sb = STRBUF_INIT;
	int fds[2];

	if (pipe(fds))
		die_errno("pipe");
	if (write(fds[1], "0123456789", 10) != 10)
		die_errno("write");
	close(fds[1]);
	ok(strbuf_read_fd(&sb, fds[0], 5) < 0 && errno == E2BIG, "read_fd refuses more than max");
	is_int(sb.len, 0, "and leaves the buffer as it was");
	close(fds[0]);
	strbuf_release(&sb);
}

int main(void)
{
	test_add();
	test_grow();
	test_edit();
	test_detach();
	test_strvec();
	test_read_fd();
	return done_testing();
}
