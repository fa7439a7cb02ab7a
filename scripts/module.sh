#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build our ublk_drv for a guest kernel and print the module's path.
#
# usage: scripts/module.sh KDIR [BUILD]
#   KDIR   the kernel (a scripts/kernel.sh or scripts/distro.sh directory)
#   BUILD  what to build against (default KDIR; for the distro kernel,
#          its linux-headers tree)
#
# One build directory per (checkout, kernel) under $UBLK_CACHE/modbuild,
# so that one checkout holds modules for several kernels side by side;
# scripts/vm.sh, bench.sh and profile.sh share them.

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${UBLK_CACHE:-$HOME/.cache/ublk-dev}
kdir=${1:?usage: scripts/module.sh KDIR [BUILD]}
build=${2:-$kdir}

moddir=$cache/modbuild/$(basename "$kdir")-$(echo "$top $kdir" | sha256sum | cut -c1-8)
make -s -C "$top" KDIR="$build" MODDIR="$moddir" module >&2
realpath "$(make -s -C "$top" MODDIR="$moddir" module-path)"
