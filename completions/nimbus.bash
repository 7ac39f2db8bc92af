# bash completion for nimbus(1)
#
# Built on the program itself: `nimbus help --commands` lists the commands
# and `nimbus CMD [SUB]... --completion-helper` the words that may follow
# (subcommands, which may have subcommands of their own, or
# "--option<TAB>VALUE<TAB>-s" lines).

_nimbus_words() {
	"${COMP_WORDS[0]}" "$@" --completion-helper 2>/dev/null
}

# This host's VMs, for a VM argument.
_nimbus_vms() {
	"${COMP_WORDS[0]}" vm list 2>/dev/null | awk '$1 ~ /^nimbus-[0-9a-f]+$/ { print $1 }'
}

# Whether the usage of `nimbus WORDS...` has a VM argument first.
_nimbus_takes_vm() {
	"${COMP_WORDS[0]}" "$@" -h 2>/dev/null | grep -q "^usage: nimbus $* VM\b"
}

_nimbus() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=
	local cmd= i w helper subs= argh
	local -a sub=()
	[ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD-1]}
	COMPREPLY=()

	# the command, then as many subcommands as nest (registry quota set)
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if [ -z "$cmd" ]; then
			case $w in
			-c|--config) ((i++)) ;;
			-*) ;;
			*) cmd=$w ;;
			esac
		elif [[ $w != -* ]]; then
			subs=$(_nimbus_words "$cmd" "${sub[@]}" | grep -v '^-' || true)
			grep -qx -- "$w" <<< "$subs" || break
			sub+=("$w")
			subs=
		fi
	done

	if [ -z "$cmd" ]; then
		case $prev in
		--config)
			COMPREPLY=($(compgen -f -- "$cur"))
			return ;;
		-c)
			COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" config list 2>/dev/null |
				awk 'NR > 1 { print $1 "=" }')" -- "$cur"))
			compopt -o nospace 2>/dev/null
			return ;;
		esac
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-c $(_nimbus_words | cut -f1)" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" help --commands 2>/dev/null)" -- "$cur"))
		fi
		return
	fi

	helper=$(_nimbus_words "$cmd" "${sub[@]}")
	subs=$(grep -v '^-' <<< "$helper" || true)
	if [ -n "$subs" ]; then
		COMPREPLY=($(compgen -W "$subs" -- "$cur"))
		return
	fi

	if [[ $prev == --* ]]; then
		argh=$(awk -F '\t' -v o="$prev" '$1 == o { print $2 }' <<< "$helper")
		case $argh in
		# K, R and F: the kernel, rootfs and overlays of boot and fc config
		*FILE*|*DIR*|*PATH*|*IMAGE*|K|R|F)
			COMPREPLY=($(compgen -f -- "$cur"))
			return ;;
		VM)
			COMPREPLY=($(compgen -W "$(_nimbus_vms)" -- "$cur"))
			return ;;
		# a choice of words (Sync|Async), not of forms (N/s|N/m|N/h)
		*/*)
			return ;;
		*'|'*)
			COMPREPLY=($(compgen -W "${argh//|/ }" -- "$cur"))
			return ;;
		?*)
			return ;;
		esac
	fi
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(cut -f1 <<< "$helper")" -- "$cur"))
	elif _nimbus_takes_vm "$cmd" "${sub[@]}"; then
		COMPREPLY=($(compgen -W "$(_nimbus_vms)" -- "$cur"))
	else
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}

complete -F _nimbus nimbus
