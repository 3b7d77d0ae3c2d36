#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# spdx.sh check|fix: every source file names its licence in an SPDX-License-Identifier
# line, on its first line (its second after a #! line).
#
#   BPF C (*.bpf.c anywhere, *.c and *.h under bpf/)  (GPL-2.0-only OR BSD-2-Clause)
#   everything else (Go, C in Go packages, shell,     Apache-2.0
#   Makefile, any file starting with #!)
#   a file from another project                       its own (SPDX_UPSTREAM below)
#
# BPF C is dual-licensed because the kernel lets only programs whose licence string is
# GPL-compatible call GPL-only helpers (bpf_printk …): their string is "Dual BSD/GPL", the
# kernel's name for "GPL v2 or BSD", and the SPDX expression above says the same. The texts
# are LICENSE (Apache-2.0), bpf/LICENSE.GPL-2.0 and bpf/LICENSE.BSD-2-Clause.
#
# The files checked are those git knows of (tracked, or untracked and not ignored) with
# the extensions .go .c .h .sh, named Makefile, or starting with #!. Generated Go files
# ("// Code generated … DO NOT EDIT.") are skipped: bpfkit gen writes them, for its users.
#
# check  lists each file whose line is missing, misplaced or names another licence; exits 1
#        if there is one.
# fix    writes the expected line at the top of each such file: an SPDX line found in its
#        first ten lines is removed first (so a C file's line count, and the line numbers
#        BTF records for a BPF object, stay the same), and a new one is added otherwise
#        (followed by a blank line in Go, so that it never becomes the package's doc).
#        After adding a line to a *.bpf.c, run `make bpf`: its object's line info moved.
set -euo pipefail

# Directories neither checked nor fixed (none: every source file carries its line).
SPDX_PENDING_DIRS=(
)

# Files that came from another project keep its licence (and their copyright line).
# None today: bpf/minimal.bpf.c, once libbpf-bootstrap's, is now written by us.
declare -A SPDX_UPSTREAM=(
)

readonly APACHE='Apache-2.0'
readonly BPF_DUAL='(GPL-2.0-only OR BSD-2-Clause)'

usage() {
	echo "usage: $0 check|fix" >&2
	exit 2
}

[[ $# -eq 1 ]] || usage
mode=$1
[[ $mode == check || $mode == fix ]] || usage

cd "$(git rev-parse --show-toplevel)"

# licence_of FILE: the SPDX expression FILE must carry.
licence_of() {
	if [[ -n ${SPDX_UPSTREAM[$1]:-} ]]; then
		printf '%s' "${SPDX_UPSTREAM[$1]}"
		return
	fi
	case $1 in
	*.bpf.c | bpf/*.c | bpf/*.h) printf '%s' "$BPF_DUAL" ;;
	*) printf '%s' "$APACHE" ;;
	esac
}

# comment_of FILE EXPR: the SPDX line of FILE, in its language's comment.
comment_of() {
	case $1 in
	*.go | *.c) printf '// SPDX-License-Identifier: %s' "$2" ;;
	*.h) printf '/* SPDX-License-Identifier: %s */' "$2" ;;
	*) printf '# SPDX-License-Identifier: %s' "$2" ;;
	esac
}

pending() {
	local d
	for d in "${SPDX_PENDING_DIRS[@]}"; do
		[[ $1 == "$d"/* ]] && return 0
	done
	return 1
}

# is_source FILE: whether FILE must carry an SPDX line.
is_source() {
	case $1 in
	*.go) ! grep -qE '^// Code generated .* DO NOT EDIT\.$' -- "$1" ;;
	*.c | *.h | *.sh | Makefile | */Makefile | *.mk) return 0 ;;
	*) [[ $(head -c 2 -- "$1") == '#!' ]] ;;
	esac
}

# spdx_line FILE: the line number the SPDX line belongs on (2 after a #! line).
spdx_line() {
	if [[ $(head -c 2 -- "$1") == '#!' ]]; then echo 2; else echo 1; fi
}

bad=0
fixed=0
while IFS= read -r -d '' f; do
	[[ -f $f && ! -L $f ]] || continue
	pending "$f" && continue
	is_source "$f" || continue
	want_expr=$(licence_of "$f")
	want=$(comment_of "$f" "$want_expr")
	at=$(spdx_line "$f")
	got=$(sed -n "${at}p" -- "$f")
	[[ $got == "$want" ]] && continue

	# An SPDX line elsewhere in the header, or one naming another licence.
	old_at=$(awk 'NR > 10 { exit } /SPDX-License-Identifier/ { print NR; exit }' "$f")
	if [[ $mode == check ]]; then
		if [[ -z $old_at ]]; then
			echo "$f: no SPDX-License-Identifier line (want \"$want\" on line $at)"
		else
			echo "$f:$old_at: \"$(sed -n "${old_at}p" -- "$f")\", want \"$want\" on line $at"
		fi
		bad=$((bad + 1))
		continue
	fi

	tmp=$(mktemp "$f.spdx.XXXXXX")
	{
		head -n $((at - 1)) -- "$f"
		printf '%s\n' "$want"
		if [[ -z $old_at && $f == *.go ]]; then
			echo
		fi
		if [[ -n $old_at ]]; then
			tail -n +"$at" -- "$f" | sed "$((old_at - at + 1))d"
		else
			tail -n +"$at" -- "$f"
		fi
	} >"$tmp"
	chmod --reference="$f" "$tmp"
	mv -- "$tmp" "$f"
	if [[ -n $old_at ]]; then
		echo "fixed $f: moved or rewrote its SPDX line"
	else
		echo "fixed $f: added its SPDX line"
	fi
	fixed=$((fixed + 1))
done < <(git ls-files -z --cached --others --exclude-standard)

if [[ $mode == check && $bad -gt 0 ]]; then
	echo "$bad file(s) without the right SPDX line: run scripts/spdx.sh fix" >&2
	exit 1
fi
if [[ $mode == fix && $fixed -gt 0 ]]; then
	echo "$fixed file(s) fixed; a *.bpf.c that got a new line needs make bpf"
fi
