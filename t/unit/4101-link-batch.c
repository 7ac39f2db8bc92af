/*
 * link_delete_all(), as the teardown of many VMs uses it: the links named
 * go in one batch, those missing are said to be, and no other link of
 * the namespace goes with them. In a network namespace of the test's
 * own; root only.
 */
#include "tap.h"
#include "netns.h"

#include <net/if.h>
#include <sched.h>

static void join(struct strbuf *sb, const struct strvec *sv)
{
	strbuf_reset(sb);
	for (size_t i = 0; i < sv->nr; i++)
		strbuf_addf(sb, "%s%s", i ? " " : "", sv->v[i]);
}

int main(void)
{
	struct strvec names = STRVEC_INIT, left = STRVEC_INIT;
	struct strbuf sb = STRBUF_INIT;
	bool existed[5] = { false };
	int self;

	if (geteuid()) {
		printf("1..0 # SKIP needs root\n");
		return 0;
	}
	if (unshare(CLONE_NEWNET))
		die_errno("unshare");
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ok(!link_add_tap("nimbus-00000001", 0, 0) && !link_add_tap("nimbus-00000002", 0, 0) &&
	   !link_add_veth("nimbus00000001h", "nimbus00000001n", self) && !link_add_tap("tap0", 0, 0),
	   "two taps, a veth pair and another's tap");
	strvec_push(&names, "nimbus-00000001");
	strvec_push(&names, "nimbus00000001h");
	strvec_push(&names, "nimbus-0000ffff");
	strvec_push(&names, "nimbus-00000002");
	is_int(link_delete_all(&names, existed), 0, "deleted at once");
	ok(existed[0] && existed[1] && !existed[2] && existed[3], "the missing one is said to be");
	ok(!link_list(&left), "listed");
	join(&sb, &left);
	is_str(sb.buf, "tap0", "the veth's peer went with it; another's link stays");
	memset(existed, 1, sizeof(existed));
	is_int(link_delete_all(&names, existed), 0, "again: nothing to delete");
	ok(!existed[0] && !existed[1] && !existed[2] && !existed[3], "none was there");
	strvec_clear(&names);
	is_int(link_delete_all(&names, existed), 0, "no names, nothing done");
	ok(if_nametoindex("tap0"), "another's link stays");
	strvec_clear(&left);
	strbuf_release(&sb);
	close(self);
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
