#ifndef COMMON_H
#define COMMON_H

/* Included first by every nimbus source file. */
#define _GNU_SOURCE 1

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "exit-codes.h"

#define NORETURN __attribute__((__noreturn__))
#define PRINTF(f, a) __attribute__((__format__(__printf__, f, a)))
#define UNUSED __attribute__((__unused__))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#ifndef NIMBUS_VERSION
#define NIMBUS_VERSION "0.0.0-dev"
#endif

#include "usage.h"
#include "wrapper.h"
#include "strbuf.h"

#include "banned.h"

#endif
