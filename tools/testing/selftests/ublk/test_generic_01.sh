#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The control device: /dev/ublk-control is the misc device that sysfs
# describes, and the loaded module is ublk_drv.

. "$(dirname "$0")"/test_common.sh
_prep_test

grep -qw '^ublk_drv' /proc/modules || _fail "ublk_drv is not in /proc/modules"
want=$(</sys/class/misc/ublk-control/dev) || _fail "no ublk-control in /sys/class/misc"
got=$(printf '%d:%d' "0x$(stat -c %t /dev/ublk-control)" "0x$(stat -c %T /dev/ublk-control)")
[ "$want" = "$got" ] || _fail "/dev/ublk-control is $got, sysfs says $want"
_log "/dev/ublk-control is $got"
exit 0
