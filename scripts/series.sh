#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# "make series": this project as a patch series against Debian's
# linux-source-6.12, written to patches/series/ with git format-patch.
#
# usage: scripts/series.sh [build]   build the series and write it
#        scripts/series.sh base      prepare the scratch repository only;
#                                    print its path
#        scripts/series.sh worktree DIR
#                                    a worktree of the repository at DIR
#                                    (made at base, detached, if DIR has
#                                    none), for trees of their own
#                                    (series-guest.sh, plain-check.sh)
#
# The scratch repository, $UBLK_CACHE/series/linux (made once per package
# version), has Debian's linux-source-6.12 as it comes as its one commit,
# branch "base".  The series is built on branch "series" from base:
# patches/base/*.patch with git am, then our patches as
# patches/series.d/manifest cuts the project into them, each committed
# with the subject and message of patches/series.d/<name>.msg.  The tree
# after the last patch must hold exactly this checkout's files (the
# working tree's, tracked ones) or the build fails.  Then git
# format-patch --cover-letter --thread -v <manifest's version> writes
# the series, the cover letter (patches/series.d/cover.msg with the
# README's benchmark and test results filled in) and To/Cc from the
# 6.12 tree's scripts/get_maintainer.pl, and it replaces
# patches/series/*.patch.
#
# Deterministic: commit dates come from the last commit of this checkout
# that touched an input, Message-Ids from the commits, so an unchanged
# project regenerates the same files.
#
# environment: UBLK_CACHE (default ~/.cache/ublk-dev), SERIES_OUT
# (default patches/series)

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${UBLK_CACHE:-$HOME/.cache/ublk-dev}/series
tarball=/usr/src/linux-source-6.12.tar.xz
repo=$cache/linux
manifest=$top/patches/series.d/manifest
out=${SERIES_OUT:-$top/patches/series}
text=$top/scripts/series-text.pl
# the identity of our commits (the base patches keep their own)
ident_name="Seed 51a9ea17 maintainers"
ident_email="maintainers@users.noreply.r-seed-51a9ea17.example"
maint_section="UBLK USERSPACE BLOCK DRIVER"

log() { echo "series.sh: $*" >&2; }
die() { log "$*"; exit 1; }

pkg_version() {
	dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null ||
		die "linux-source-6.12 is not installed (scripts/deps.sh kernel)"
}

g() { git -C "$repo" "$@"; }

# The scratch repository: the tarball's tree as one commit, the same
# commit id on every machine with the same package (fixed identity, the
# date of the tarball's top Makefile).
prepare_base() {
	local ver tmp date
	ver=$(pkg_version)
	if [ -f "$repo/.git/ublk-base-ok" ] &&
	   [ "$(cat "$repo/.git/ublk-base-ok")" = "$ver" ]; then
		return
	fi
	[ -f "$tarball" ] || die "$tarball missing (scripts/deps.sh kernel)"
	log "unpacking $(basename "$tarball") ($ver) into a scratch repository $repo"
	tmp=$cache/linux.tmp
	rm -rf "$repo" "$tmp"
	mkdir -p "$tmp"
	tar -xJf "$tarball" -C "$tmp"
	mv "$tmp/linux-source-6.12" "$repo"
	rmdir "$tmp"
	date=$(stat -c %Y "$repo/Makefile")
	git init -q -b base "$repo"
	g config core.looseCompression 1
	g config gc.auto 0
	g config user.name "$ident_name"
	g config user.email "$ident_email"
	log "committing the base tree (a few minutes)"
	g add -A -f .
	GIT_AUTHOR_DATE="@$date +0000" GIT_COMMITTER_DATE="@$date +0000" \
		g commit -q -m "Linux $(kversion "$repo") as Debian's linux-source-6.12 $ver ships it" \
		-m "The tree of $(basename "$tarball") as it comes, unpatched."
	echo "$ver" > "$repo/.git/ublk-base-ok"
}

# VERSION.PATCHLEVEL.SUBLEVEL of the tree at $1
kversion() {
	awk '$1 == "VERSION" { v = $3 } $1 == "PATCHLEVEL" { p = $3 }
	     $1 == "SUBLEVEL" { s = $3 } END { print v "." p "." s }' "$1/Makefile"
}

# --- the manifest ------------------------------------------------------

version=
step_kind=()	# base | patch
step_name=()	# patches/base file, or the .msg name
step_ops=()	# newline-separated ops of each step

read_manifest() {
	local line n=-1 word rest
	while IFS= read -r line || [ -n "$line" ]; do
		# comments are whole lines: a regex may hold a '#'
		[[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
		if [[ "$line" == [[:space:]]* ]]; then
			if [ "$n" -lt 0 ] || [ "${step_kind[n]}" != patch ]; then
				die "manifest: '$line' is not under a 'patch'"
			fi
			read -r word rest <<< "$line"
			step_ops[n]+="$word $rest"$'\n'
			continue
		fi
		read -r word rest <<< "$line"
		case "$word" in
		version) version=$rest ;;
		base|patch)
			n=$((n + 1))
			step_kind[n]=$word
			step_name[n]=$rest
			step_ops[n]=
			;;
		*) die "manifest: unknown line '$line'" ;;
		esac
	done < "$manifest"
	[[ "$version" =~ ^[1-9][0-9]*$ ]] || die "manifest: no 'version N'"
	[ "$n" -ge 0 ] || die "manifest: no patches"
}

# ops of step $1 named $2, one per line, without the name
ops() {
	local op rest
	while read -r op rest; do
		[ "$op" = "$2" ] && echo "$rest"
	done <<< "${step_ops[$1]}"
	return 0
}

# does step $1 have op $2
has_op() { grep -qE "^$2( |\$)" <<< "${step_ops[$1]}"; }

# --- which project file goes where ------------------------------------

scope=()		# the project files some patch carries
declare -A owner	# file -> step
declare -A stub_from	# file -> step from which it is a stub

# does glob $2 match file $1 (a glob ending in / matches a directory)
matches() {
	local f=$1 pat=$2
	# shellcheck disable=SC2053 # $pat is a glob
	if [[ "$pat" == */ ]]; then
		[[ "$f" == "$pat"* ]]
	else
		[[ "$f" == $pat ]]
	fi
}

assign_files() {
	local i f pat pats o files=() found line
	mapfile -t files < <(git -C "$top" ls-files)
	for i in "${!step_kind[@]}"; do
		while read -r line; do
			read -ra pats <<< "$line"
			for pat in "${pats[@]}"; do
				found=0
				for f in "${files[@]}"; do
					matches "$f" "$pat" || continue
					found=1
					owner[$f]=$i
				done
				[ "$found" = 1 ] || die "manifest: '$pat' (${step_name[i]}) matches no file"
			done
		done < <(ops "$i" files)
		while read -r f o; do
			[ -n "$f" ] || continue
			[ "$o" = tracepoints ] || die "manifest: unknown stub kind '$o'"
			stub_from[$f]=$i
		done < <(ops "$i" stub)
	done
	for f in "${files[@]}"; do
		[ -n "${owner[$f]:-}" ] && scope+=("$f")
	done
	for f in "${!stub_from[@]}"; do
		if [ -z "${owner[$f]:-}" ] || [ "${owner[$f]}" -le "${stub_from[$f]}" ]; then
			die "manifest: the stub $f must come before the file's own patch"
		fi
	done
	for f in "${scope[@]}"; do
		[ -f "$top/$f" ] || die "$f is tracked but missing from the working tree"
	done
}

# --- building the commits ------------------------------------------------

# the files of our directories and of scope that 6.12 has
declare -A base_has
base_files() {
	local f
	while IFS= read -r f; do
		base_has[$f]=1
	done < <(g ls-tree -r --name-only base -- drivers/block/ublk tools/testing/selftests/ublk \
		 "${scope[@]}")
}

# the events of trace.h whose trace_<event>_enabled() the driver calls
enabled_events() {
	local d
	d=$(dirname "$1")
	grep -ohE 'trace_[a-z0-9_]+_enabled\(' "$top/$d"/*.c 2>/dev/null |
		sed -E 's/^trace_//; s/_enabled\($//' | sort -u
}

# the project's files as they stand after step $1
place_files() {
	local k=$1 f o j file kind arg ev d restore=()
	for f in "${scope[@]}"; do
		o=${owner[$f]}
		if [ "$o" -le "$k" ]; then
			mkdir -p "$repo/$(dirname "$f")"
			cp "$top/$f" "$repo/$f"
		elif [ -n "${stub_from[$f]:-}" ] && [ "${stub_from[$f]}" -le "$k" ]; then
			mapfile -t ev < <(enabled_events "$f")
			"$text" stub-tracepoints "$top/$f" "${ev[@]}" > "$repo/$f"
		elif [ -n "${base_has[$f]:-}" ]; then
			restore+=("$f")
		else
			rm -f "$repo/$f"
		fi
	done
	[ ${#restore[@]} -eq 0 ] || g checkout -q base -- "${restore[@]}"
	# the lines later patches add to files of this one or earlier ones
	for ((j = k + 1; j < ${#step_kind[@]}; j++)); do
		while read -r file kind arg; do
			[ -n "$file" ] || continue
			o=${owner[$file]:-}
			[ -n "$o" ] || die "manifest: trim of $file, which no patch carries"
			[ "$o" -le "$k" ] || continue
			"$text" trim "$repo/$file" "$kind" "$arg" > "$repo/$file.trim"
			mv "$repo/$file.trim" "$repo/$file"
		done < <(ops "$j" trim)
	done
	# nothing else in our directories (intree.sh copies what it finds)
	for d in drivers/block/ublk tools/testing/selftests/ublk; do
		[ -d "$repo/$d" ] || continue
		while IFS= read -r f; do
			f=${f#"$repo"/}
			[ -n "${owner[$f]:-}" ] || [ -n "${base_has[$f]:-}" ] || rm -f "$repo/$f"
		done < <(find "$repo/$d" -type f)
	done
}

# the one-off edits of step $1
wire() {
	local k=$1 a
	if has_op "$k" intree; then
		"$top/scripts/intree.sh" install "$repo" >/dev/null 2>&1 ||
			die "scripts/intree.sh install failed"
	fi
	while read -r a; do
		[ -n "$a" ] || continue
		"$text" maintainers "$repo/MAINTAINERS" "$maint_section" "$a" > "$repo/MAINTAINERS.new"
		mv "$repo/MAINTAINERS.new" "$repo/MAINTAINERS"
	done < <(ops "$k" maintainers)
	while read -r a; do
		[ -n "$a" ] || continue
		"$text" kselftest-target "$repo/tools/testing/selftests/Makefile" "$a" \
			> "$repo/tools/testing/selftests/Makefile.new"
		mv "$repo/tools/testing/selftests/Makefile.new" "$repo/tools/testing/selftests/Makefile"
	done < <(ops "$k" kselftest-target)
}

# What the patches are made from: the last commit that touched it dates
# them and is named in the cover letter (which also quotes the README
# and scripts/test-times).
inputs=(drivers include tools Documentation patches/base patches/series.d)
series_date() {
	git -C "$top" log -1 --format=%ct -- "${inputs[@]}"
}

build_commits() {
	local k name msg date f present
	date=$(series_date)
	g checkout -q -f -B series base
	g clean -q -fdx
	base_files
	for k in "${!step_kind[@]}"; do
		name=${step_name[k]}
		if [ "${step_kind[k]}" = base ]; then
			[ -f "$top/patches/base/$name" ] || die "no patches/base/$name"
			GIT_COMMITTER_NAME="$ident_name" GIT_COMMITTER_EMAIL="$ident_email" \
				g am -q --committer-date-is-author-date "$top/patches/base/$name" ||
				{ g am --abort 2>/dev/null; die "patches/base/$name does not apply with git am"; }
			continue
		fi
		msg=$top/patches/series.d/$name.msg
		[ -f "$msg" ] || die "no $msg"
		wire "$k"
		place_files "$k"
		g add -A .
		present=()
		for f in "${scope[@]}"; do
			[ -e "$repo/$f" ] && present+=("$f")
		done
		[ ${#present[@]} -eq 0 ] || g add -f -- "${present[@]}"
		if ! g diff --quiet || [ -n "$(g ls-files --others --exclude-standard)" ]; then
			die "changes left out of the commit of $name"
		fi
		g diff --cached --quiet && die "patch $name is empty"
		date=$((date + 1))
		GIT_AUTHOR_NAME="$ident_name" GIT_AUTHOR_EMAIL="$ident_email" \
		GIT_COMMITTER_NAME="$ident_name" GIT_COMMITTER_EMAIL="$ident_email" \
		GIT_AUTHOR_DATE="@$date +0000" GIT_COMMITTER_DATE="@$date +0000" \
			g commit -q -s --cleanup=strip -F "$msg"
	done
}

# The tree after the last patch against this checkout: every file of ours
# the same (content and mode), nothing else in our directories, 6.12's
# ublk_drv.c gone, and nothing changed outside what we or the base
# patches touch.
verify_tree() {
	local f bad=0 p mode hashes
	local -A series_has=()
	while read -r mode _ hash f; do
		series_has[$f]="$mode $hash"
	done < <(g ls-tree -r HEAD -- "${scope[@]}")
	mapfile -t hashes < <(cd "$top" && printf '%s\n' "${scope[@]}" | git hash-object --stdin-paths)
	for p in "${!scope[@]}"; do
		f=${scope[p]}
		mode=100644
		[ -x "$top/$f" ] && mode=100755
		if [ "${series_has[$f]:-}" != "$mode ${hashes[p]}" ]; then
			log "differs after the last patch: $f (ours: $mode ${hashes[p]}; series: ${series_has[$f]:-missing})"
			bad=1
		fi
	done
	while IFS= read -r f; do
		[ -n "${owner[$f]:-}" ] && continue
		log "in the series, not in this checkout: $f"
		bad=1
	done < <(g ls-tree -r --name-only HEAD -- drivers/block/ublk tools/testing/selftests/ublk)
	if g cat-file -e HEAD:drivers/block/ublk_drv.c 2>/dev/null; then
		log "drivers/block/ublk_drv.c is still there"
		bad=1
	fi
	# what may change: our files, the wiring, the base patches' files
	local -A allowed=()
	for f in "${scope[@]}" drivers/block/ublk_drv.c drivers/block/Kconfig \
		 drivers/block/Makefile MAINTAINERS tools/testing/selftests/Makefile; do
		allowed[$f]=1
	done
	for p in "$top"/patches/base/*.patch; do
		while IFS= read -r f; do
			allowed[$f]=1
		done < <(sed -n 's|^+++ b/||p; s|^--- a/||p' "$p")
	done
	while IFS= read -r f; do
		[ -n "${allowed[$f]:-}" ] && continue
		log "the series changes $f, which it should not"
		bad=1
	done < <(g diff --name-only base HEAD)
	[ "$bad" = 0 ] || die "the series does not end in this checkout's tree"
}

# --- writing the series ------------------------------------------------

# get_maintainer.pl of the tree after the series, on one patch, as two
# lines: "to" (maintainers), then "cc" (reviewers and lists), each
# comma-separated
maintainers_of() {
	(cd "$repo" && perl scripts/get_maintainer.pl --no-git --no-git-fallback \
		--rolestats --no-tree "$1" 2>/dev/null) |
	awk '{
		who = $0
		sub(/ \(.*$/, "", who)
		if ($0 ~ /\((maintainer|supporter|odd fixer|chief penguin):/)
			to = to (to == "" ? "" : ", ") who
		else
			cc = cc (cc == "" ? "" : ", ") who
	} END { print to; print cc }'
}

# the cover letter's text: cover.msg with @BENCH@, @TESTS@ and @BASE@
cover_text() {
	local bench tests base line
	bench=$("$text" readme-bench "$top/README")
	tests=$("$text" readme-tests "$top/README" "$top/scripts/test-times")
	base=$(fmt -w 72 <<-EOF
	Debian's linux-source-6.12 $(pkg_version) (Linux $(kversion "$repo")), the
	tree of $tarball as it comes; "base-commit" below is that tree committed
	alone in scripts/series.sh's scratch repository (the same id wherever
	that package is unpacked so), not a linux.git commit.  Made from this
	project's commit $(git -C "$top" log -1 --format=%h -- "${inputs[@]}").
	EOF
	)
	while IFS= read -r line; do
		case "$line" in
		@BENCH@) echo "$bench" ;;
		@TESTS@) echo "$tests" ;;
		@BASE@) echo "$base" ;;
		*) echo "$line" ;;
		esac
	done < "$top/patches/series.d/cover.msg"
}

write_series() {
	local tmp f n total parent id to cc all_to="" all_cc="" sha domain
	tmp=$cache/format.tmp
	rm -rf "$tmp"
	mkdir -p "$tmp"
	g config branch.series.description "$(cover_text)"
	# the cover letter is dated by the committer date
	GIT_COMMITTER_DATE="@$(g log -1 --format=%ct series) +0000" \
	g -c user.name="$ident_name" -c user.email="$ident_email" \
		format-patch -q --cover-letter --cover-from-description=subject \
		--thread --base=base -v "$version" -o "$tmp" base..series
	total=$(find "$tmp" -name '*.patch' | wc -l)
	[ "$total" -eq $(( ${#step_kind[@]} + 1 )) ] || die "format-patch wrote $total files"
	domain=${ident_email#*@}
	# Message-Ids from the commits: the same series, the same ids
	sha=$(g rev-parse --short=12 series)
	parent="v$version-0-$sha@$domain"
	for f in "$tmp"/*.patch; do
		n=$(basename "$f" | sed -E 's/^v[0-9]+-0*([0-9]+)-.*/\1/')
		[ -n "$n" ] || n=0
		if [ "$n" = 0 ]; then
			continue
		fi
		sha=$(sed -n '1s/^From \([0-9a-f]*\) .*/\1/p' "$f" | cut -c1-12)
		{ read -r to; read -r cc; } < <(maintainers_of "$f")
		all_to+="$to, "
		all_cc+="$cc, "
		id="v$version-$n-$sha@$domain"
		"$text" headers "$f" "$to" "$cc" "$id" "$parent" > "$f.new"
		mv "$f.new" "$f"
	done
	# the cover letter goes to everyone any patch goes to
	to=$(tr ',' '\n' <<< "$all_to" | sed 's/^ *//; /^$/d' | awk '!seen[$0]++' | paste -sd, - | sed 's/,/, /g')
	cc=$(tr ',' '\n' <<< "$all_cc" | sed 's/^ *//; /^$/d' | awk '!seen[$0]++' |
		grep -vxF -f <(tr ',' '\n' <<< "$to" | sed 's/^ *//; /^$/d') | paste -sd, - | sed 's/,/, /g')
	f=$(find "$tmp" -name '*-0000-cover-letter.patch')
	"$text" headers "$f" "$to" "$cc" "$parent" > "$f.new"
	mv "$f.new" "$f"
	grep -q '\*\*\* \(SUBJECT\|BLURB\) HERE \*\*\*' "$f" && die "the cover letter kept its template"
	mkdir -p "$out"
	rm -f "$out"/*.patch
	cp "$tmp"/*.patch "$out/"
	rm -rf "$tmp"
	log "wrote $total files to ${out#"$top"/}/:"
	awk '/^Subject: / { s = substr($0, 10); getline
			      while ($0 ~ /^ /) { s = s $0; getline }
			      print s; nextfile }' "$out"/*.patch >&2
}

cmd=${1:-build}
mkdir -p "$cache"
exec 8>"$cache/lock"
flock 8
case "$cmd" in
base)
	prepare_base
	echo "$repo"
	;;
worktree)
	[ $# -eq 2 ] || die "usage: $0 worktree DIR"
	prepare_base
	if [ ! -e "$2/.git" ]; then
		rm -rf "$2"
		g worktree prune
		g worktree add -q --detach "$2" base
	fi
	;;
build)
	t0=$SECONDS
	prepare_base
	read_manifest
	assign_files
	build_commits
	log "$(( ${#step_kind[@]} )) commits in $((SECONDS - t0)) s"
	verify_tree
	log "the tree after the last patch is this checkout's"
	write_series
	log "done in $((SECONDS - t0)) s"
	;;
*)
	sed -n '/^# usage/,/^$/p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
