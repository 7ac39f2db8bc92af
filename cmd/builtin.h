#ifndef BUILTIN_H
#define BUILTIN_H

/* One entry point per top-level command, cmd/<name>.c. */
int cmd_config(int argc, const char **argv);
int cmd_db(int argc, const char **argv);
int cmd_help(int argc, const char **argv);
int cmd_job(int argc, const char **argv);
int cmd_lease(int argc, const char **argv);
int cmd_redact(int argc, const char **argv);
int cmd_serve(int argc, const char **argv);

#endif
