#ifndef AUDIT_H
#define AUDIT_H

#include <jansson.h>

/*
 * The checks of `nimbus audit`: a host's posture, nimbus' own services
 * and each VM, every check a pass, warn or fail with a one-line reason.
 *
 * /proc, /sys and /dev are read under a root ("" for the host's own;
 * another when the host's are mounted in a container, or a made-up
 * tree in the tests). nimbus' own files are where its configuration
 * says.
 */

enum audit_status {
	AUDIT_PASS,
	AUDIT_WARN,
	AUDIT_FAIL,
};

struct audit {
	const char *root;
	json_t *checks;		/* [{"subject", "check", "status", "reason"}] */
	size_t failed;
};

void audit_init(struct audit *a, const char *root);
void audit_release(struct audit *a);
void audit_report(struct audit *a, const char *subject, const char *check,
		  enum audit_status status, const char *fmt, ...) PRINTF(5, 6);

/*
 * The host: /dev/kvm, SMT, KSM, swap, the cgroup version, the kernel's
 * command line against Firecracker's production host setup and its
 * vulnerabilities, the modes and owners of the configuration file,
 * keys.dir and the files of secrets the configuration names.
 */
void audit_host(struct audit *a);

/*
 * Each running `nimbus serve` and `nimbus SERVICE serve`: its user, and
 * on every thread no capability, no_new_privs and seccomp filtering.
 */
void audit_services(struct audit *a);
/*
 * Whether a command line (/proc/PID/cmdline: NUL-separated, any process
 * may write anything there) runs a nimbus service: after the global
 * options, "serve" or "SERVICE serve".
 */
bool audit_is_serve(const char *cmdline, size_t len);

struct store;
struct vm_record;

/*
 * The VM's Firecracker: inside its jail, in its own pid and network
 * namespaces, as its own non-root uid and gid (shared with none of
 * others), seccomp on every thread, no capabilities, no_new_privs; its
 * cgroup limits; the names of the links in its namespace; the rootfs
 * attested for its job (st NULL: the store could not be opened).
 */
void audit_vm(struct audit *a, const struct vm_record *vm, const struct vm_record *others,
	      size_t nr, struct store *st);

#endif
