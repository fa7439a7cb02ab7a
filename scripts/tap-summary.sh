#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Count the top-level results of one or more TAP streams and print
# "N passed, N failed, N skipped".  Lines the kselftest runner indents
# ("# ok 1 ...", a test's own sub-results) are not counted.  Exits 1 when
# anything failed or nothing ran at all.
#
# usage: scripts/tap-summary.sh file...

set -euo pipefail

awk '
	/^not ok [0-9]+/ { failed++; next }
	/^ok [0-9]+.*# *[Ss][Kk][Ii][Pp]/ { skipped++; next }
	/^ok [0-9]+/ { passed++ }
	END {
		printf "%d passed, %d failed, %d skipped\n", passed, failed, skipped
		exit (failed > 0 || passed + failed + skipped == 0)
	}' "$@"
