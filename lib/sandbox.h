#ifndef SANDBOX_H
#define SANDBOX_H

/*
 * Least privilege for nimbus' own processes.
 *
 * A service (`nimbus serve`) binds, then gives up for good what it will
 * not need: the user (root becomes serve.user), every capability, the
 * bounding set included, and the right to gain any (no_new_privs); it
 * opens its store, spools and keys as that user, and once initialised
 * installs a seccomp allowlist on every thread, which kills the process
 * at the first system call outside it. Nothing of this can be undone
 * from inside.
 *
 * A host command that needs root (boot, vm stop, reap) keeps in its
 * bounding and permitted sets only the capabilities its work needs,
 * with none effective, and raises one only around the operations that
 * need it. Capabilities are per thread: call these before starting any.
 */

struct sandbox_user {
	char *name;
	uid_t uid;
	gid_t gid;
};
#define SANDBOX_USER_INIT { NULL, 0, 0 }

/* Look up a user by name: 0, -EXIT_NOTFOUND when there is none. */
int sandbox_user_lookup(const char *name, struct sandbox_user *u);
void sandbox_user_release(struct sandbox_user *u);

/*
 * Make dir a directory that u may write, before becoming u: the parts
 * of it that are missing are created 0700 and given to u. An existing
 * one that root keeps to itself (no access for group or others: as
 * nimbus makes them, when run as root) is handed to u with everything
 * root owns in it, as systemd's StateDirectory= does; one that belongs
 * to anyone else, or is open to others, is refused (-EXIT_PERM, saying
 * how to mend it).
 */
int sandbox_give_dir(const char *dir, const struct sandbox_user *u);
/* The same for a file that u will write, when it exists. */
int sandbox_give_file(const char *path, const struct sandbox_user *u);

/*
 * Become u for good (its groups, gid and uid; u NULL: stay who we are),
 * with no capability in any set and no_new_privs. Root may only become
 * someone else from a single thread. 0, or a fail() code.
 */
int sandbox_drop(const struct sandbox_user *u);

/*
 * The services' seccomp allowlist, on every thread of the process:
 * anything else kills it (the kernel logs the system call). 0, or a
 * fail() code.
 */
int sandbox_seccomp_serve(void);

/*
 * Host commands: keep only caps (CAP_* numbers), as far as they are
 * held, in the permitted set and, with CAP_SETPCAP, the bounding set;
 * none effective, inheritable or ambient.
 */
int caps_limit(const int *caps, size_t nr);
/*
 * Make cap effective (it must be permitted), and not any more; errno is
 * kept for the caller's report of what it did meanwhile. In a process
 * that did not call caps_limit() (a test's tool, a command run without
 * limits) both do nothing: what it holds is effective.
 */
int caps_raise(int cap);
int caps_lower(int cap);

enum sandbox_host {
	SANDBOX_BOOT,		/* nimbus boot */
	SANDBOX_BOOT_PLAN,	/* nimbus boot --dry-run, which changes nothing */
	SANDBOX_VM_STOP,	/* nimbus vm stop */
	SANDBOX_SNAPSHOT,	/* nimbus snapshot create */
	SANDBOX_REAP,		/* nimbus reap */
	SANDBOX_REAP_PLAN,	/* nimbus reap --dry-run, which changes nothing */
};

/*
 * A host command, once its options and configuration are read: keep
 * only its capabilities (caps_limit()), then install its seccomp
 * allowlist, which kills the process at any other system call. boot's
 * is inherited by the jailer and by Firecracker, and allows what they
 * do too. 0, or a fail() code.
 */
int sandbox_host(enum sandbox_host cmd);

/*
 * How many seccomp filters this thread has (its children inherit them),
 * or -1 when the kernel does not say (before Linux 5.9).
 */
int sandbox_seccomp_filters(void);

#endif
