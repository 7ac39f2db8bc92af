#!/usr/bin/env bats
# make install puts every piece where PREFIX and DESTDIR say.

load lib/common

@test "make install with PREFIX and DESTDIR" {
	local d=$BATS_TEST_TMPDIR/dest
	run make -C "$NIMBUS_SRC" --no-print-directory install DESTDIR="$d" PREFIX=/opt/nb
	assert_success
	[ -x "$d/opt/nb/bin/nimbus" ]
	"$d/opt/nb/bin/nimbus" --version
	for page in "$NIMBUS_SRC"/man/*.1; do
		[ -f "$d/opt/nb/share/man/man1/$(basename "$page")" ] || fail "$page not installed"
	done
	[ -f "$d/opt/nb/share/man/man5/nimbus.conf.5" ]
	[ -f "$d/opt/nb/share/bash-completion/completions/nimbus" ]
	[ -f "$d/opt/nb/share/zsh/vendor-completions/_nimbus" ]
	for unit in "$NIMBUS_SRC"/contrib/systemd/*; do
		[ -f "$d/opt/nb/lib/systemd/system/$(basename "$unit")" ] || fail "$unit not installed"
	done
}
