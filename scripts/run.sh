#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# "make run": boot the test kernel with our ublk_drv (MODULE=stock for
# 6.12's), serve a ublk device with kublk (TARGET=null, or TARGET=loop
# over a file), run a short fio job with verification on it, print what
# was done.  All the guest-side work is in scripts/guest-run.sh.
#
# environment: FLAVOUR (test), MODULE (ours), TARGET (null), QUEUES (1),
# DEPTH (128), FIO_SIZE (64M), UBLK_CACHE.

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
flavour=${FLAVOUR:-test}
module=${MODULE:-ours}

scripts/deps.sh all
make -s selftests
exec scripts/vm.sh -k "$flavour" -m "$module" -t "${TIMEOUT:-900}" \
	-e "TARGET=${TARGET:-null}" -e "QUEUES=${QUEUES:-1}" \
	-e "DEPTH=${DEPTH:-128}" -e "FIO_SIZE=${FIO_SIZE:-64M}" \
	-- scripts/guest-run.sh
