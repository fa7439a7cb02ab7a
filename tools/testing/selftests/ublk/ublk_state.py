#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# ublk_state.py: what every ublk device of our ublk_drv is doing, read
# from kernel memory with drgn (Debian's python3-drgn 0.0.22 and later).
#
#   ublk_state.py [--json | --json-file FILE] [-m UBLK_DRV_KO]
#                 [-c VMCORE {-k VMLINUX | --symbols DIR}]
#   ublk_state.py --save-symbols DIR
#
# Without -c it reads the running kernel (/proc/kcore, as root); with it,
# a vmcore (e.g. QEMU's dump-guest-memory of a guest with -device
# vmcoreinfo and CONFIG_FW_CFG_SYSFS).  Per device: id, state, flags,
# server, queues; per queue what it does without a server (nosrv) and,
# with UBLK_F_BATCH_IO, the FIFO of tags waiting for delivery and the
# fetch commands in their priority lists; per slot its state (idle,
# ACTIVE, OWNED_BY_SRV, CANCELED, and the modifiers of ublk.h), the task
# whose command it holds and the request it serves (op, sector, length);
# and the request buffers that sit in io_uring buffer tables (zero copy).
# A slot OWNED_BY_SRV holds a request the server has been given and has
# not committed.
#
# Debug info: DWARF for ublk_drv.ko only (-m; in a scripts/vm.sh guest,
# by default the module vm.sh loaded, $UBLK_VM_KO), which the project's
# Makefile always builds with -g.  drgn 0.0.22 cannot place a module in
# Linux 6.4 and later on its own (it predates struct module_memory), so
# the script puts the module's sections where /sys/module/ublk_drv/
# sections says they are, and takes the few kernel symbols it needs
# from /proc/kallsyms.  vmlinux with DWARF (-k) is optional on a live
# kernel (it adds the registered-buffer tables, whose io_uring types
# only vmlinux describes).  A vmcore needs it to find the module in the
# kernel's module list, unless --save-symbols wrote down, earlier in the
# boot the dump is of, where the module's sections and the kernel's
# symbols were (--symbols then reads that).
#
# The slot flags are preprocessor constants, which DWARF does not carry:
# SLOT_FLAGS below repeats them, and --check-flags compares it with the
# driver's sources (test_drgn_01.sh does).
#
# Exit status: 0, 1 on errors, 2 when drgn or the debug info is missing.

import argparse
import json
import os
import re
import struct
import sys
import tempfile

try:
    import drgn
    from drgn import cast, container_of
    from drgn.helpers.linux.idr import idr_for_each
    from drgn.helpers.linux.list import list_for_each_entry
except ImportError:
    drgn = None

# ublk.h's UBLK_IO_FLAG_* and batch.c's UBLK_IO_FLAG_COMMITTING
SLOT_FLAGS = [
    ('ACTIVE', 0x01),
    ('OWNED_BY_SRV', 0x02),
    ('NEED_GET_DATA', 0x04),
    ('CANCELED', 0x08),
    ('HELD', 0x10),
    ('AUTO_REG', 0x20),
    ('COMMITTING', 0x40),
]
FLAG = dict(SLOT_FLAGS)

# include/uapi/linux/ublk_cmd.h
DEV_STATES = {0: 'DEAD', 1: 'LIVE', 2: 'QUIESCED', 3: 'FAIL_IO'}
DEV_FLAGS = [
    'SUPPORT_ZERO_COPY', 'URING_CMD_COMP_IN_TASK', 'NEED_GET_DATA',
    'USER_RECOVERY', 'USER_RECOVERY_REISSUE', 'UNPRIVILEGED_DEV',
    'CMD_IOCTL_ENCODE', 'USER_COPY', 'ZONED', 'USER_RECOVERY_FAIL_IO',
    'UPDATE_SIZE', 'AUTO_BUF_REG', 'QUIESCE', 'PER_IO_DAEMON',
    'BUF_REG_OFF_DAEMON', 'BATCH_IO', 'INTEGRITY', 'SAFE_STOP_DEV',
    'NO_AUTO_PART_SCAN', 'SHMEM_ZC', 'IO_DESC_SIZE',
]
DEV_FLAG_BITS = {1 << i: n for i, n in enumerate(DEV_FLAGS)}
DEV_FLAG_BITS[1 << 63] = 'BATCH_PRIO'

# ublk.h's anonymous enums; DWARF has them, these are the fallback
UB_STATE_BITS = ['OPEN', 'DELETED', 'UNPRIV_SERVER', 'NO_OPEN']
NOSRV = ['NONE', 'REQUEUE', 'FAIL']


class NoDebugInfo(Exception):
    pass


def slot_state(flags):
    """The state name of ublk.h's comment: the main state, then modifiers."""
    if flags & FLAG['CANCELED']:
        main = 'CANCELED'
    elif flags & FLAG['OWNED_BY_SRV']:
        main = 'OWNED_BY_SRV'
    elif flags & FLAG['ACTIVE']:
        main = 'ACTIVE'
    else:
        main = 'idle'
    known = FLAG['CANCELED'] | FLAG['OWNED_BY_SRV'] | FLAG['ACTIVE']
    mods = [n for n, bit in SLOT_FLAGS if flags & bit and not bit & known]
    rest = flags & ~sum(bit for _, bit in SLOT_FLAGS)
    if rest:
        mods.append(hex(rest))
    return '|'.join([main] + mods)


def check_flags(srcdir):
    """Compare SLOT_FLAGS with the #defines of the driver's sources."""
    found = {}
    for name in ('ublk.h', 'batch.c'):
        with open(os.path.join(srcdir, name)) as f:
            for m in re.finditer(r'^#define\s+UBLK_IO_FLAG_(\w+)\s+(0x[0-9a-fA-F]+)',
                                 f.read(), re.M):
                found[m.group(1)] = int(m.group(2), 16)
    if found != FLAG:
        print('ublk_state.py: slot flags differ from %s: sources %s, script %s' %
              (srcdir, sorted(found.items()), sorted(FLAG.items())), file=sys.stderr)
        return 1
    print('slot flags match %s: %s' % (srcdir, ', '.join(
        '%s=%#x' % (n, v) for n, v in SLOT_FLAGS)), file=sys.stderr)
    return 0


def sections_live(name):
    """Section addresses of a loaded module, from sysfs."""
    d = '/sys/module/%s/sections' % name
    if not os.path.isdir(d):
        raise NoDebugInfo('module %s is not loaded (no %s)' % (name, d))
    addrs = {}
    for sec in os.listdir(d):
        with open(os.path.join(d, sec)) as f:
            addrs[sec] = int(f.read(), 16)
    return addrs


def save_symbols(d, name):
    """
    Write where @name's sections and the kernel's symbols are now into
    directory @d (its "sections" and "kallsyms"), for a vmcore taken
    later in this boot: with them (--symbols) the dump needs no vmlinux
    DWARF.
    """
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'sections'), 'w') as f:
        for sec, addr in sorted(sections_live(name).items()):
            print('%s %#x' % (sec, addr), file=f)
    with open('/proc/kallsyms') as src, open(os.path.join(d, 'kallsyms'), 'w') as f:
        f.write(src.read())


def sections_saved(d):
    """Section addresses written by save_symbols() into directory @d."""
    try:
        with open(os.path.join(d, 'sections')) as f:
            return {sec: int(addr, 16) for sec, addr in (line.split() for line in f)}
    except (OSError, ValueError) as e:
        raise NoDebugInfo('no sections in %s (ublk_state.py --save-symbols): %s' % (d, e))


def sections_core(prog, name):
    """Section addresses of a loaded module, from its struct module."""
    try:
        head = prog['modules'].address_of_()
    except KeyError:
        raise NoDebugInfo('a vmcore needs vmlinux with DWARF (-k) to find %s' % name)
    for mod in list_for_each_entry('struct module', head, 'list'):
        if mod.name.string_().decode() != name:
            continue
        attrs = mod.sect_attrs
        return {attrs.attrs[i].battr.attr.name.string_().decode():
                attrs.attrs[i].address.value_() for i in range(attrs.nsections.value_())}
    raise NoDebugInfo('module %s is not in the dump' % name)


def placed_copy(ko, addrs, tmpdir):
    """
    A copy of the module file whose allocated sections carry their load
    addresses, as drgn itself would set them: drgn 0.0.22 does not know
    the module layout of Linux 6.4 and later (struct module_memory), so
    it cannot place the module on its own.  Sections the kernel did not
    keep (.init.*, once freed) are made non-allocated, so that nothing
    is laid out over the others.
    """
    with open(ko, 'rb') as f:
        elf = bytearray(f.read())
    if elf[:4] != b'\x7fELF' or elf[4] != 2 or elf[5] != 1:
        raise NoDebugInfo('%s is not a 64-bit little-endian ELF file' % ko)
    shoff, = struct.unpack_from('<Q', elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from('<HHH', elf, 0x3a)
    stroff, = struct.unpack_from('<Q', elf, shoff + shstrndx * shentsize + 24)
    for i in range(shnum):
        sh = shoff + i * shentsize
        name_off, _, flags = struct.unpack_from('<IIQ', elf, sh)
        if not flags & 0x2:             # SHF_ALLOC
            continue
        name = elf[stroff + name_off:elf.index(b'\0', stroff + name_off)].decode()
        if name in addrs:
            struct.pack_into('<Q', elf, sh + 16, addrs[name])
        else:
            struct.pack_into('<Q', elf, sh + 8, flags & ~0x2)
    path = os.path.join(tmpdir, os.path.basename(ko))
    with open(path, 'wb') as f:
        f.write(elf)
    return path


START_KERNEL_MAP = 0xffffffff80000000       # x86-64's kernel image mapping
PT_LOAD, PT_NOTE = 1, 4


def core_layout(f):
    """
    The memory segments of ELF core @f as (file offset, virtual address,
    physical address, size), and its VMCOREINFO note as a dict (None if
    it has none).
    """
    eh = f.read(64)
    if eh[:4] != b'\x7fELF' or eh[4] != 2 or eh[5] != 1 or \
       struct.unpack_from('<H', eh, 18)[0] != 62:
        return [], None
    phoff, = struct.unpack_from('<Q', eh, 0x20)
    phentsize, phnum = struct.unpack_from('<HH', eh, 0x36)
    f.seek(phoff)
    raw = f.read(phentsize * phnum)
    loads, info = [], None
    for i in range(phnum):
        p_type, _, off, va, pa, size = struct.unpack_from('<IIQQQQ', raw, i * phentsize)
        if p_type == PT_LOAD:
            loads.append((off, va, pa, size))
        elif p_type == PT_NOTE and info is None:
            f.seek(off)
            notes = f.read(size)
            o = 0
            while o + 12 <= len(notes):
                namesz, descsz, _ = struct.unpack_from('<III', notes, o)
                d = o + 12 + ((namesz + 3) & ~3)
                if notes[o + 12:o + 12 + namesz].rstrip(b'\0') == b'VMCOREINFO':
                    text = notes[d:d + descsz].decode(errors='replace')
                    info = dict(line.split('=', 1) for line in text.splitlines()
                                if '=' in line)
                    break
                o = d + ((descsz + 3) & ~3)
    return loads, info


def map_kernel(prog, core):
    """
    QEMU's dump-guest-memory without paging gives its memory segments
    physical addresses only.  drgn 0.0.22 reads the kernel's page tables
    through the kernel's own virtual addresses, so in such a dump it can
    translate nothing ("recursive address translation").  Give drgn the
    two mappings a kdump vmcore has: all memory in the direct map, and
    the kernel image (from phys_base) at __START_KERNEL_map, both from
    the dump's VMCOREINFO (x86-64).  Anything else (vmalloc, modules)
    drgn then finds through the page tables.
    """
    # left open when segments are added: their read callbacks use it
    f = open(core, 'rb')
    loads, info = core_layout(f)
    if not info or any(va >= 1 << 63 for _, va, _, _ in loads):
        f.close()
        return                          # not x86-64, or mapped already

    def phys(paddr, size):
        for off, _, pa, n in loads:
            if pa <= paddr and paddr + size <= pa + n:
                f.seek(off + paddr - pa)
                return f.read(size)
        return None

    phys_base = int(info.get('NUMBER(phys_base)', '0'), 0)
    image_size = int(info.get('NUMBER(KERNEL_IMAGE_SIZE)', str(512 << 20)), 0)
    page_offset = 0xffff888000000000
    if info.get('NUMBER(pgtable_l5_enabled)') == '1':
        page_offset = 0xff11000000000000
    if 'SYMBOL(page_offset_base)' in info:      # the direct map's KASLR
        val = phys(int(info['SYMBOL(page_offset_base)'], 16) - START_KERNEL_MAP + phys_base, 8)
        if val:
            page_offset, = struct.unpack('<Q', val)

    def segment(va, off, size):
        def read(address, count, offset, physical):
            f.seek(off + offset)
            return f.read(count)
        prog.add_memory_segment(va, size, read)

    for off, _, pa, size in loads:
        segment(page_offset + pa, off, size)
        lo, hi = max(pa, phys_base), min(pa + size, phys_base + image_size)
        if lo < hi:
            segment(START_KERNEL_MAP + lo - phys_base, off + lo - pa, hi - lo)


def open_program(core, vmlinux, ko, symdir, tmpdir):
    """
    The program to dump, with the module placed, and the kallsyms file
    to take kernel symbols from (None: DWARF only): the running kernel's
    sections and /proc/kallsyms, or for a vmcore those --save-symbols
    wrote (@symdir), else the kernel's module list (vmlinux DWARF).
    """
    prog = drgn.Program()
    if core:
        prog.set_core_dump(core)
        map_kernel(prog, core)
    else:
        prog.set_kernel()
    if ko is None and (symdir or not core):
        ko = os.environ.get('UBLK_VM_KO')
    if ko is None:
        raise NoDebugInfo('which ublk_drv.ko? (-m)')
    if vmlinux:
        try:
            prog.load_debug_info([vmlinux])
        except drgn.MissingDebugInfoError:
            pass
    if not core:
        addrs, kallsyms = sections_live('ublk_drv'), '/proc/kallsyms'
    elif symdir:
        addrs, kallsyms = sections_saved(symdir), os.path.join(symdir, 'kallsyms')
    else:
        addrs, kallsyms = sections_core(prog, 'ublk_drv'), None
    try:
        prog.load_debug_info([placed_copy(ko, addrs, tmpdir)])
    except drgn.MissingDebugInfoError:
        # drgn 0.0.22 complains that it cannot walk the module list
        pass
    try:
        prog.type('struct ublk_device')
        prog.object('ublk_idr')
    except LookupError:
        raise NoDebugInfo('no DWARF for ublk_drv in %s (built without -g?)' % ko)
    return prog, kallsyms


class Symbols:
    """
    Kernel symbols: from DWARF if drgn has it, else from @kallsyms (the
    running kernel's /proc/kallsyms, or the copy --save-symbols made in
    the boot a vmcore is of).
    """

    def __init__(self, prog, kallsyms):
        self.prog = prog
        self.kallsyms = None
        if kallsyms:
            with open(kallsyms) as f:
                self.kallsyms = f.read()

    def address(self, name):
        try:
            return self.prog[name].address_
        except KeyError:
            pass
        m = self.kallsyms and re.search(r'^([0-9a-f]+) \S %s$' % re.escape(name),
                                        self.kallsyms, re.M)
        return int(m.group(1), 16) if m else None



def constant(prog, name, default):
    try:
        return prog.constant(name).value_()
    except LookupError:
        return default


def enum_names(prog, typename):
    try:
        return {v: n for n, v in prog.type(typename).enumerators}
    except LookupError:
        return {}


def task_info(task):
    if not task:
        return None
    return {'pid': task.pid.value_(), 'comm': task.comm.string_().decode(errors='replace')}


def pid_nr(pid):
    return pid.numbers[0].nr.value_() if pid else None


class Dumper:
    def __init__(self, prog, kallsyms):
        self.prog = prog
        self.req_ops = enum_names(prog, 'enum req_op')
        self.rq_states = enum_names(prog, 'enum mq_rq_state')
        syms = Symbols(prog, kallsyms)
        self.dummy_ubuf = syms.address('dummy_ubuf')
        try:
            self.io_release = prog['ublk_io_release'].address_of_().value_()
        except (KeyError, LookupError, ValueError):
            self.io_release = None      # no zero copy in this build
        self.ub_state_bits = [constant(prog, 'UB_STATE_' + n, i)
                              for i, n in enumerate(UB_STATE_BITS)]
        self.nosrv = {constant(prog, 'UBLK_NOSRV_' + n, i): n for i, n in enumerate(NOSRV)}
        self.rings = set()

    def request(self, rq):
        if not rq:
            return None
        op = (rq.cmd_flags.value_() & 0xff)
        d = {
            'tag': rq.tag.value_(),
            'op': self.req_ops.get(op, str(op)).replace('REQ_OP_', ''),
            'sector': rq.member_('__sector').value_(),
            'bytes': rq.member_('__data_len').value_(),
            'rq_state': self.rq_states.get(rq.state.value_(),
                                           str(rq.state.value_())).replace('MQ_RQ_', ''),
            'address': hex(rq.value_()),
        }
        return d

    def cmd_info(self, cmd):
        """An io_uring_cmd: its SQE's user_data and the task that sent it."""
        if not cmd:
            return None
        # cmd_to_io_kiocb(): the command is the start of its io_kiocb
        req = cast('struct io_kiocb *', cmd)
        d = {'user_data': hex(req.cqe.user_data.value_())}
        self.rings.add(req.ctx.value_())
        try:
            d['task'] = task_info(req.task)
        except AttributeError:
            pass
        return d

    def slot(self, ubq, tag):
        io = ubq.ios[tag]
        flags = io.flags.value_()
        d = {
            'tag': tag,
            'state': slot_state(flags),
            'flags': flags,
            'task': task_info(io.task),
            'cmd': self.cmd_info(io.cmd),
            'request': self.request(io.req),
            'res': io.res.value_(),
            'refs': io.ref.refs.counter.value_(),
        }
        if flags & FLAG['AUTO_REG']:
            d['auto_buf_index'] = io.buf_index.value_()
            d['buf_ring'] = io.buf_ctx.value_()
        return d

    def batch(self, bq):
        fifo = bq.tags.kfifo
        first, end = fifo.out.value_(), fifo.member_('in').value_()
        mask = fifo.mask.value_()
        data = cast('u16 *', fifo.data)
        n = (end - first) & 0xffffffff
        tags = [data[(first + i) & mask].value_() for i in range(min(n, mask + 1))]
        fcmds = []
        for prio in range(len(bq.fcmds)):
            for f in list_for_each_entry('struct ublk_fcmd', bq.fcmds[prio].address_of_(),
                                         'node'):
                cmd = container_of(f, 'struct io_uring_cmd', 'pdu')
                c = self.cmd_info(cmd)
                c.update({'prio': f.prio.value_(), 'buf_group': f.buf_group.value_(),
                          'active': cmd.value_() == bq.active.value_()})
                fcmds.append(c)
        return {'fifo': tags, 'fifo_len': n, 'closed': bool(bq.closed),
                'active': bool(bq.active), 'fetch_cmds': fcmds}

    def queue(self, ubq):
        d = {
            'q_id': ubq.q_id.value_(),
            'depth': ubq.q_depth.value_(),
            'nosrv': self.nosrv.get(ubq.nosrv.value_(), str(ubq.nosrv.value_())),
            'slots': [self.slot(ubq, t) for t in range(ubq.q_depth.value_())],
        }
        if ubq.batch:
            d['batch'] = self.batch(ubq.batch)
        return d

    def ring_buffers(self, rings):
        """
        Request buffers of ours in these rings' buffer tables; None when
        the types are not known (io_uring's own, in vmlinux's DWARF).
        """
        prog = self.prog
        if self.io_release is None:
            return []
        try:
            prog.type('struct io_mapped_ubuf')
        except LookupError:
            return None
        bufs = []
        for ring in rings:
            ctx = drgn.Object(prog, 'struct io_ring_ctx *', ring)
            nr = ctx.nr_user_bufs.value_()
            if not nr or not ctx.user_bufs:
                continue
            raw = prog.read(ctx.user_bufs.value_(), nr * 8)
            for index, imu in enumerate(struct.unpack('<%dQ' % nr, raw)):
                if not imu or imu == self.dummy_ubuf:
                    continue
                ubuf = drgn.Object(prog, 'struct io_mapped_ubuf *', imu)
                if ubuf.release.value_() != self.io_release:
                    continue
                rq = cast('struct request *', ubuf.priv)
                ubq = cast('struct ublk_queue *', rq.mq_hctx.driver_data)
                bufs.append({'ring': hex(ring), 'index': index,
                             'dev_id': ubq.dev.ub_number.value_(),
                             'q_id': ubq.q_id.value_(), 'tag': rq.tag.value_(),
                             'bytes': ubuf.len.value_()})
        return bufs

    def device(self, ub):
        info = ub.dev_info
        flags = info.flags.value_()
        state_bits = ub.state.value_()
        srv = pid_nr(ub.srv_tgid)
        d = {
            'id': ub.ub_number.value_(),
            'state': DEV_STATES.get(info.state.value_(), str(info.state.value_())),
            'flags': flags,
            'flag_names': [n for b, n in sorted(DEV_FLAG_BITS.items()) if flags & b],
            'ublksrv_pid': info.ublksrv_pid.value_(),
            'server_tgid': srv,
            'nr_hw_queues': info.nr_hw_queues.value_(),
            'queue_depth': info.queue_depth.value_(),
            'disk': ub.ub_disk.disk_name.string_().decode() if ub.ub_disk else None,
            'dev_state': [n for n, b in zip(UB_STATE_BITS, self.ub_state_bits)
                          if state_bits & (1 << b)],
            'canceling': bool(ub.canceling),
            'stopping': bool(ub.stopping),
            'srv_aborted': bool(ub.srv_aborted),
            'nr_io_ready': ub.nr_io_ready.counter.value_(),
            'nr_ios': ub.nr_ios.value_(),
            'nr_kbufs': ub.nr_kbufs.counter.value_(),
            # ADD_DEV's until DEL_DEV, the disk's, one per command, work
            # item or release under way: what keeps the id from DEL_DEV
            'refs': ub.cdev_dev.kobj.kref.refcount.refs.counter.value_(),
            # stage 2 of the server's exit queued, or waiting for buffers
            'release_pending': bool(ub.release_work.work.data.counter.value_() & 1),
            'queues': [self.queue(ub.queues[q]) for q in range(info.nr_hw_queues.value_())
                       if ub.queues[q]],
        }
        return d

    def dump(self):
        self.rings = set()
        devs = []
        for _, entry in idr_for_each(self.prog['ublk_idr'].address_of_()):
            if entry:       # not an id that ADD_DEV reserved for a device to be
                devs.append(self.device(cast('struct ublk_device *', entry)))
        # the rings the server's commands came from, and those that
        # AUTO_BUF_REG put buffers into
        rings = set(self.rings)
        for d in devs:
            for q in d['queues']:
                rings.update(s['buf_ring'] for s in q['slots'] if 'buf_ring' in s)
        bufs = self.ring_buffers(sorted(rings))
        for d in devs:
            d['registered_buffers'] = (None if bufs is None else
                                       [b for b in bufs if b['dev_id'] == d['id']])
        return {'devices': devs}


def fmt_task(t):
    return '%d %s' % (t['pid'], t['comm']) if t else '-'


def fmt_request(r):
    if not r:
        return '-'
    s = '%s sector %d, %d bytes, %s' % (r['op'], r['sector'], r['bytes'], r['rq_state'])
    return s


def print_text(state, out):
    if not state['devices']:
        print('no ublk devices', file=out)
    for d in state['devices']:
        print('ublk device %d: %s, server %s, %d queue(s) of depth %d, disk %s' % (
            d['id'], d['state'], d['server_tgid'] or 'none', d['nr_hw_queues'],
            d['queue_depth'], d['disk'] or 'none'), file=out)
        print('  flags %#x: %s' % (d['flags'], ' '.join(d['flag_names']) or '-'), file=out)
        print('  %s; ready %d of %d slots; canceling %d, stopping %d, srv_aborted %d;'
              ' %d buffers in io_uring tables' % (
                  ' '.join(d['dev_state']) or 'closed', d['nr_io_ready'], d['nr_ios'],
                  d['canceling'], d['stopping'], d['srv_aborted'], d['nr_kbufs']),
              file=out)
        print('  %d reference(s)%s' % (d['refs'], ', server exit stage 2 pending'
                                        if d['release_pending'] else ''), file=out)
        for q in d['queues']:
            count = {}
            for s in q['slots']:
                count[s['state']] = count.get(s['state'], 0) + 1
            print('  queue %d: nosrv %s; slots: %s' % (
                q['q_id'], q['nosrv'],
                ', '.join('%d %s' % (n, st) for st, n in sorted(count.items()))), file=out)
            if 'batch' in q:
                b = q['batch']
                print('    fifo (%d tags waiting): %s; %s, %s' % (
                    b['fifo_len'], ' '.join(map(str, b['fifo'])) or '-',
                    'delivering' if b['active'] else 'not delivering',
                    'closed' if b['closed'] else 'open'), file=out)
                for c in b['fetch_cmds']:
                    print('    fetch command prio %d, buf_group %d, user_data %s, task %s%s' % (
                        c['prio'], c['buf_group'], c['user_data'], fmt_task(c.get('task')),
                        ', delivering' if c['active'] else ''), file=out)
            print('    %-4s %-22s %-18s %s' % ('tag', 'state', 'task', 'request'), file=out)
            for s in q['slots']:
                extra = ''
                if 'auto_buf_index' in s:
                    extra = ', buffer at index %d' % s['auto_buf_index']
                if s['refs']:
                    extra += ', %d refs' % s['refs']
                print('    %-4d %-22s %-18s %s%s' % (
                    s['tag'], s['state'], fmt_task(s['task']), fmt_request(s['request']),
                    extra), file=out)
        if d['registered_buffers'] is None:
            print('  registered buffers: not known without vmlinux DWARF (-k)', file=out)
        for b in d['registered_buffers'] or ():
            print('  registered buffer: ring %s index %d: queue %d tag %d, %d bytes' % (
                b['ring'], b['index'], b['q_id'], b['tag'], b['bytes']), file=out)


def main():
    ap = argparse.ArgumentParser(description='Dump the state of every ublk device (drgn).')
    ap.add_argument('--json', action='store_true', help='JSON instead of text')
    ap.add_argument('--json-file', metavar='FILE', help='the text, and JSON into FILE')
    ap.add_argument('-c', '--core', help='a vmcore instead of the running kernel')
    ap.add_argument('-k', '--vmlinux',
                    help='vmlinux with DWARF (needed with -c, unless --symbols)')
    ap.add_argument('--symbols', metavar='DIR',
                    help='with -c: where the module and the kernel symbols were in the'
                    ' boot the vmcore is of, as --save-symbols wrote them')
    ap.add_argument('--save-symbols', metavar='DIR',
                    help='write where the module and the kernel symbols are now into DIR,'
                    ' for a vmcore taken later in this boot, and exit')
    ap.add_argument('-m', '--module', help='ublk_drv.ko with debug info')
    ap.add_argument('--check-flags', metavar='DIR',
                    help="first compare the script's slot flags with DIR/ublk.h and"
                    " DIR/batch.c")
    ap.add_argument('--serve', action='store_true',
                    help='for each path read from stdin, write the text to PATH and the'
                    ' JSON to PATH.json, then print "done PATH" (repeated dumps for the'
                    " cost of one drgn start)")
    args = ap.parse_args()
    if args.check_flags and check_flags(args.check_flags):
        return 1
    if args.check_flags and not args.serve and not args.json and not args.json_file:
        return 0
    if args.save_symbols:
        try:
            save_symbols(args.save_symbols, 'ublk_drv')
        except NoDebugInfo as e:
            print('ublk_state.py: %s' % e, file=sys.stderr)
            return 2
        return 0
    if drgn is None:
        print('ublk_state.py: drgn is not installed (apt install python3-drgn)',
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix='ublk_state.') as tmpdir:
        try:
            prog, kallsyms = open_program(args.core, args.vmlinux, args.module,
                                          args.symbols, tmpdir)
        except NoDebugInfo as e:
            print('ublk_state.py: %s' % e, file=sys.stderr)
            return 2
        except (OSError, ValueError) as e:
            # no /proc/kcore, or no VMCOREINFO in it
            print('ublk_state.py: cannot read the kernel: %s' % e, file=sys.stderr)
            return 2
        dumper = Dumper(prog, kallsyms)
        if args.serve:
            for line in sys.stdin:
                path = line.strip()
                state = dumper.dump()
                with open(path, 'w') as f:
                    print_text(state, f)
                with open(path + '.json', 'w') as f:
                    json.dump(state, f, indent=1)
                print('done', path, flush=True)
            return 0
        state = dumper.dump()
    if args.json_file:
        with open(args.json_file, 'w') as f:
            json.dump(state, f, indent=1)
    if args.json:
        json.dump(state, sys.stdout, indent=1)
        print()
    else:
        print_text(state, sys.stdout)
    return 0


if __name__ == '__main__':
    sys.exit(main())
