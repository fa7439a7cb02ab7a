#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# Host side of a guest's memory dumps (scripts/vm.sh runs it beside
# QEMU): a guest command that wants a vmcore of itself writes a file
# name into $UBLK_VM_OUT/dump.want; this script has QEMU write the
# guest's memory there (QMP dump-guest-memory, ELF, with the VMCOREINFO
# note the guest kernel handed QEMU through -device vmcoreinfo), then
# writes "ok NAME SECONDS s" or "error TEXT" into dump.done and removes
# dump.want.  The guest's vCPUs are stopped while QEMU writes, so the
# dump is of one moment.
#
# usage: scripts/vm-dump.py QMP_SOCKET OUT_DIR
#
# It runs until killed (or its parent is gone), looking for dump.want
# twice a second; it connects to QEMU only for a dump, so a QEMU started
# again (vm.sh's retry of a crashed boot) is found again.

import json
import os
import re
import socket
import sys
import time


def qmp(path, commands):
    """Run each (command, arguments) on QEMU's QMP socket; OSError on an error."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    f = s.makefile('rw')
    try:
        json.loads(f.readline())                    # the greeting
        for cmd, args in [('qmp_capabilities', {})] + commands:
            f.write(json.dumps({'execute': cmd, 'arguments': args}) + '\n')
            f.flush()
            while True:
                line = f.readline()
                if not line:
                    raise OSError('QEMU closed the QMP socket')
                msg = json.loads(line)
                if 'event' in msg:
                    continue
                if 'error' in msg:
                    raise OSError('%s: %s' % (cmd, msg['error'].get('desc', msg['error'])))
                break
    finally:
        f.close()
        s.close()


def serve(sock, out):
    want = os.path.join(out, 'dump.want')
    done = os.path.join(out, 'dump.done')
    parent = os.getppid()
    while True:
        time.sleep(0.5)
        # vm.sh kills it at the end; should vm.sh die, go with it
        if os.getppid() != parent:
            return
        try:
            with open(want) as f:
                name = f.read().strip()
        except FileNotFoundError:
            continue
        # a plain file name in the output directory, nothing else
        if not re.fullmatch(r'[A-Za-z0-9][A-Za-z0-9._-]{0,63}', name):
            answer = 'error bad file name %r' % name
        else:
            try:
                t0 = time.monotonic()
                qmp(sock, [('dump-guest-memory',
                            {'paging': False,
                             'protocol': 'file:' + os.path.join(out, name)})])
                answer = 'ok %s %.1f s' % (name, time.monotonic() - t0)
            except (OSError, ValueError) as e:
                answer = 'error %s' % e
        os.unlink(want)
        with open(done + '.tmp', 'w') as f:
            f.write(answer + '\n')
        os.rename(done + '.tmp', done)


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit('usage: %s QMP_SOCKET OUT_DIR' % sys.argv[0])
    serve(sys.argv[1], sys.argv[2])
