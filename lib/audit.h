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

/*
 * A VM, as its record (<core.run_dir>/vms/<id>.json, written by boot)
 * describes it: the fields of boot's struct vm_record that the checks
 * need, read here until lib/vm.h lands.
 */
struct audit_vm {
	json_t *doc;
	const char *id;
	pid_t pid;			/* Firecracker's, on the host; 0 before it runs */
	int64_t uid, gid;
	const char *jail;		/* <chroot_base>/<exec>/<id>, holding root/ */
	const char *netns;		/* its path, or NULL */
	struct strvec cgroups;		/* its cgroup directories */
	const char *job;
};
#define AUDIT_VM_INIT { .cgroups = STRVEC_INIT }

/* The record of VM id: 0, -EXIT_NOTFOUND, or -EXIT_FAIL when malformed. */
int audit_vm_load(const char *id, struct audit_vm *vm);
/* Every record; malformed ones are skipped with a warning. */
void audit_vm_list(struct audit_vm **out, size_t *nr);
void audit_vm_release(struct audit_vm *vm);

struct store;

/*
 * The VM's Firecracker: inside its jail, in its own pid and network
 * namespaces, as its own non-root uid and gid (shared with none of
 * others), seccomp on every thread, no capabilities, no_new_privs; its
 * cgroup limits; the names of the links in its namespace; the rootfs
 * attested for its job (st NULL: the store could not be opened).
 */
void audit_vm(struct audit *a, const struct audit_vm *vm, const struct audit_vm *others,
	      size_t nr, struct store *st);

#endif
