#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# "make series-send-dry-run": git send-email --dry-run over
# patches/series/, to show the mails the series would be sent as: their
# From, To, Cc (from the files, which scripts/series.sh filled in with
# get_maintainer.pl), Subject, Message-Id and threading headers.
#
# Nothing is mailed.  --dry-run stops git send-email before it talks to
# any server, and the server it is given is /bin/true, a "sendmail" that
# swallows its input, should --dry-run ever be lost.  Recipients come
# only from the files (no prompt, no cc-cmd or to-cmd of the user's git
# configuration).  To really send the series, see the README ("The
# patch series").
#
# usage: scripts/series-send.sh [patch directory]   (default patches/series)

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
dir=$(cd "${1:-$top/patches/series}" && pwd)
from="Seed 51a9ea17 maintainers <maintainers@users.noreply.r-seed-51a9ea17.example>"

git send-email --help >/dev/null 2>&1 ||
	{ echo "series-send.sh: git send-email missing (scripts/deps.sh series)" >&2; exit 1; }
mapfile -t files < <(find "$dir" -maxdepth 1 -name '*.patch' | LC_ALL=C sort)
[ ${#files[@]} -gt 0 ] || { echo "series-send.sh: no patches in $dir (make series)" >&2; exit 1; }

# No git configuration but git's own (no user's sendemail.* settings:
# server, identity, to-cmd, cc-cmd), run outside any repository.  The
# files carry their own Message-Id and In-Reply-To: --no-thread keeps
# git send-email from adding another In-Reply-To.  Its "(mbox) Adding
# to: ..." lines, one per address, are left out: the headers show them.
cd /
GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null \
git send-email --dry-run --smtp-server=/bin/true --confirm=never \
	--no-thread --no-signed-off-by-cc --suppress-cc=self --8bit-encoding=UTF-8 \
	--from="$from" --no-format-patch "${files[@]}" < /dev/null 2>&1 |
	grep -v '^(mbox) Adding '
