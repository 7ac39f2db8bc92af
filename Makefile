# nimbus: `make` builds ./nimbus; see README.md for the rest.
# Quiet by default; V=1 shows the commands. SANITIZE=1 builds with
# AddressSanitizer and UBSan into build-san/.

VERSION = 0.1.0
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/vendor-completions
SYSTEMDDIR ?= $(PREFIX)/lib/systemd/system
DOCDIR ?= $(PREFIX)/share/doc/nimbus
DESTDIR ?=

CC ?= cc
PKGS = libcurl libpq hiredis jansson libcrypto libseccomp libarchive sqlite3 \
       libmicrohttpd inih libmnl libcap-ng zlib
PKG_CONFIG ?= pkg-config

ifeq ($(SANITIZE),1)
BUILD = build-san
NIMBUS = $(BUILD)/nimbus
OPT_CFLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	     -fno-sanitize-recover=undefined
OPT_LDFLAGS = -fsanitize=address,undefined
else
BUILD = build
NIMBUS = nimbus
OPT_CFLAGS = -O2 -g -D_FORTIFY_SOURCE=2
OPT_LDFLAGS =
endif

WARN_CFLAGS = -std=c11 -Wall -Wextra -Werror -Wno-unused-parameter \
	      -Wmissing-prototypes -Wstrict-prototypes -Wshadow -Wvla
HARDEN_CFLAGS = -fstack-protector-strong -fPIE
HARDEN_LDFLAGS = -pie -Wl,-z,relro,-z,now
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = $(WARN_CFLAGS) $(OPT_CFLAGS) $(HARDEN_CFLAGS) -Ilib -I$(BUILD)/gen \
	     -DNIMBUS_VERSION='"$(VERSION)"' $(PKG_CFLAGS) -MMD -MP $(CFLAGS)
ALL_LDFLAGS = $(OPT_LDFLAGS) $(HARDEN_LDFLAGS) $(LDFLAGS)
LIBS = $(PKG_LIBS) -lpthread -lm

ifneq ($(V),1)
Q = @
quiet = @printf '  %-7s %s\n' $(1) $(2);
endif

LIB_SRC = $(sort $(wildcard lib/*.c))
CMD_SRC = $(sort $(wildcard cmd/*.c))
SQL_SRC = $(sort $(wildcard lib/sql/*/*.sql))
GEN_SRC = $(BUILD)/gen/migrations.c
LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/%.o) $(GEN_SRC:.c=.o)
CMD_OBJ = $(CMD_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC = $(sort $(wildcard t/unit/[0-9]*.c))
UNIT_BIN = $(UNIT_SRC:%.c=$(BUILD)/%.t)
HELPER_SRC = $(sort $(wildcard t/helpers/*.c))
HELPER_BIN = $(HELPER_SRC:%.c=$(BUILD)/%)
MAN = $(sort $(wildcard man/*.[15]))

.PHONY: all install check test run fuzz perf clean deps deps-build FORCE
.DELETE_ON_ERROR:

all: $(NIMBUS)

ifeq ($(PKG_CFLAGS)$(PKG_LIBS),)
$(LIB_OBJ) $(CMD_OBJ): deps-missing
.PHONY: deps-missing
deps-missing:
	@echo "missing libraries ($(PKGS)); run contrib/deps as root" >&2; exit 1
endif

$(NIMBUS): $(CMD_OBJ) $(BUILD)/libnimbus.a
	$(call quiet,LINK,$@)$(CC) $(ALL_LDFLAGS) -o $@ $(CMD_OBJ) $(BUILD)/libnimbus.a $(LIBS)

$(BUILD)/libnimbus.a: $(LIB_OBJ)
	$(call quiet,AR,$@)rm -f $@ && ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(call quiet,CC,$@)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(call quiet,CC,$@)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(GEN_SRC): lib/sql/embed.sh $(SQL_SRC)
	@mkdir -p $(dir $@)
	$(call quiet,GEN,$@)sh lib/sql/embed.sh $(SQL_SRC) > $@

$(BUILD)/t/unit/%.t: t/unit/%.c t/unit/tap.h $(BUILD)/libnimbus.a
	@mkdir -p $(dir $@)
	$(call quiet,CC,$@)$(CC) $(ALL_CFLAGS) -It/unit $(ALL_LDFLAGS) -o $@ $< $(BUILD)/libnimbus.a $(LIBS)

$(BUILD)/t/helpers/%: t/helpers/%.c $(BUILD)/libnimbus.a
	@mkdir -p $(dir $@)
	$(call quiet,CC,$@)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(BUILD)/libnimbus.a $(LIBS)

# `make check` and `make run` first make sure the dependencies are there
# (installing them on Debian and Ubuntu when root), then build.
check: deps
	$(Q)$(MAKE) --no-print-directory test

# As root, the service becomes the user nimbus once bound (serve.user):
# made here when missing, as a package would.
run: deps-build
	$(Q)$(MAKE) --no-print-directory all
	$(Q)if [ "$$(id -u)" = 0 ] && ! getent passwd nimbus >/dev/null; then \
		useradd --system --user-group --home-dir /nonexistent --shell /usr/sbin/nologin nimbus; \
	fi
	./$(NIMBUS) serve

deps:
	$(Q)contrib/deps --ensure

deps-build:
	$(Q)contrib/deps --ensure --build

PROVE ?= prove
PROVE_FLAGS ?= -j2 --failures --comments
TESTS ?= $(UNIT_BIN) $(sort $(wildcard t/[0-9]*.bats))

test: $(NIMBUS) $(UNIT_BIN) $(HELPER_BIN)
	$(Q)NIMBUS_BIN=$(abspath $(NIMBUS)) NIMBUS_BUILD=$(abspath $(BUILD)) \
		NIMBUS_SRC=$(CURDIR) $(PROVE) $(PROVE_FLAGS) --exec '' $(TESTS)

# libFuzzer harnesses: clang builds the library again with the fuzzer's
# instrumentation; each harness runs FUZZ_TIME seconds on its corpus.
FUZZ_TIME ?= 10
FUZZ_SRC = $(sort $(wildcard t/fuzz/fuzz-*.c))
FUZZ_BIN = $(FUZZ_SRC:t/fuzz/%.c=build-fuzz/%)
FUZZ_CFLAGS = -std=c11 -g -O1 -fsanitize=fuzzer-no-link,address,undefined -Ilib -Ibuild-fuzz/gen \
	      $(PKG_CFLAGS) -DNIMBUS_VERSION='"$(VERSION)"'
FUZZ_LIB_OBJ = $(LIB_SRC:%.c=build-fuzz/%.o) build-fuzz/gen/migrations.o

build-fuzz/lib/%.o: lib/%.c
	@mkdir -p $(dir $@)
	$(call quiet,CLANG,$@)clang $(FUZZ_CFLAGS) -c -o $@ $<

build-fuzz/gen/migrations.c: lib/sql/embed.sh $(SQL_SRC)
	@mkdir -p $(dir $@)
	$(Q)sh lib/sql/embed.sh $(SQL_SRC) > $@

build-fuzz/gen/migrations.o: build-fuzz/gen/migrations.c
	$(Q)clang $(FUZZ_CFLAGS) -c -o $@ $<

build-fuzz/fuzz-%: t/fuzz/fuzz-%.c $(FUZZ_LIB_OBJ)
	$(call quiet,CLANG,$@)clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< \
		$(FUZZ_LIB_OBJ) $(PKG_LIBS) -lpthread -lm

fuzz: deps
	$(Q)$(MAKE) --no-print-directory $(FUZZ_BIN)
	$(Q)for f in $(FUZZ_BIN); do \
		name=$${f#build-fuzz/}; mkdir -p build-fuzz/corpus/$$name; \
		echo "fuzzing $$name for $(FUZZ_TIME)s"; \
		$$f -max_total_time=$(FUZZ_TIME) -print_final_stats=0 \
			build-fuzz/corpus/$$name t/fuzz/corpus/$$name 2>build-fuzz/$$name.log \
			|| { tail -40 build-fuzz/$$name.log; exit 1; }; \
	done

perf: deps
	$(Q)$(MAKE) --no-print-directory all $(HELPER_BIN)
	$(Q)for p in t/perf/*.sh; do NIMBUS_BIN=$(abspath $(NIMBUS)) \
		NIMBUS_BUILD=$(abspath $(BUILD)) NIMBUS_SRC=$(CURDIR) bash $$p || exit 1; done

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(SYSTEMDDIR)
	install -m 755 $(NIMBUS) $(DESTDIR)$(BINDIR)/nimbus
	install -m 644 $(filter %.1,$(MAN)) $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(filter %.5,$(MAN)) $(DESTDIR)$(MANDIR)/man5
	install -m 644 completions/nimbus.bash $(DESTDIR)$(BASHCOMPDIR)/nimbus
	install -m 644 completions/_nimbus $(DESTDIR)$(ZSHCOMPDIR)/_nimbus
	install -m 644 contrib/systemd/* $(DESTDIR)$(SYSTEMDDIR)

clean:
	rm -rf build build-san build-fuzz nimbus

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
