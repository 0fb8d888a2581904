#!/usr/bin/env python3
"""Checks that the pvmig device refuses hints when postcopy is possible.

pvmig-migrate has no postcopy option, so this boots a source and a paused
destination QEMU itself, enables the postcopy-ram capability on both (the
migration stays precopy: migrate-start-postcopy is never sent), migrates
over loopback and reads the device's counters.  Pass: the migration
completes, stat-rejected-postcopy is 1 and no page was hinted.

Usage: qemu/tests/postcopy-refusal.py [--qemu PATH] [--mem MB] [--no-postcopy]
Exit status 0 on pass, 1 on failure.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


class Qmp:
    def __init__(self, path, timeout=60):
        deadline = time.time() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        self.f = self.sock.makefile('rw')
        self.f.readline()                       # greeting
        self.cmd('qmp_capabilities')

    def cmd(self, name, **args):
        self.f.write(json.dumps({'execute': name, 'arguments': args}) + '\n')
        self.f.flush()
        while True:
            msg = json.loads(self.f.readline())
            if 'return' in msg:
                return msg['return']
            if 'error' in msg:
                raise RuntimeError(f'{name}: {msg["error"]}')


def qemu_argv(qemu, mem, work, tag, incoming=None):
    argv = [qemu, '-accel', 'tcg', '-nic', 'none', '-display', 'none',
            '-nodefaults', '-L', '/usr/share/qemu', '-L', '/usr/share/seabios',
            '-m', f'{mem}M',
            '-kernel', f'{TOP}/build/guest/vmlinuz',
            '-initrd', f'{TOP}/build/guest/initramfs.cpio.gz',
            '-append', 'console=ttyS0 quiet pvmig.module=1 pvmig.agent=1',
            '-chardev', f'file,id=con0,path={work}/{tag}.console',
            '-serial', 'chardev:con0',
            '-qmp', f'unix:{work}/{tag}.qmp,server=on,wait=off',
            '-device', 'virtio-serial-pci,id=vser0',
            '-device', 'pvmig,id=pvmig0,bus=vser0.0']
    if incoming:
        argv += ['-incoming', incoming, '-S']
    return argv


def wait_console(path, text, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open(path, errors='replace') as f:
                if text in f.read():
                    return True
        except FileNotFoundError:
            pass
        time.sleep(0.2)
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--qemu', default=f'{TOP}/build/qemu/qemu-system-x86_64')
    ap.add_argument('--mem', type=int, default=512)
    ap.add_argument('--no-postcopy', action='store_true',
                    help='control run: leave postcopy off (must FAIL)')
    o = ap.parse_args()

    work = tempfile.mkdtemp(prefix='pvmig-postcopy-')
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    procs = []
    try:
        for tag, inc in (('dst', f'tcp:127.0.0.1:{port}'), ('src', None)):
            procs.append(subprocess.Popen(
                qemu_argv(o.qemu, o.mem, work, tag, inc),
                stderr=open(f'{work}/{tag}.stderr', 'w')))
        dst, src = Qmp(f'{work}/dst.qmp'), Qmp(f'{work}/src.qmp')
        if not wait_console(f'{work}/src.console', 'PVMIG-READY', 300):
            print('FAIL: guest never printed PVMIG-READY')
            return 1
        time.sleep(2)           # let the agent open the port and say HELLO
        for q in (src, dst):
            q.cmd('migrate-set-capabilities', capabilities=[
                {'capability': 'postcopy-ram', 'state': not o.no_postcopy}])
        src.cmd('migrate-set-parameters', **{'max-bandwidth': 4 << 30,
                                             'downtime-limit': 300})
        src.cmd('migrate', uri=f'tcp:127.0.0.1:{port}')
        deadline = time.time() + 300
        while True:
            st = src.cmd('query-migrate').get('status')
            if st in ('completed', 'failed', 'cancelled'):
                break
            if time.time() > deadline:
                print('FAIL: migration did not finish')
                return 1
            time.sleep(0.2)
        stats = {p: src.cmd('qom-get', path='/machine/peripheral/pvmig0',
                            property=p)
                 for p in ('stat-rejected-postcopy', 'stat-pages-hinted',
                           'stat-epochs', 'stat-rejected-messages')}
        print(f'migration {st}; counters {stats}')
        ok = (st == 'completed' and stats['stat-rejected-postcopy'] == 1 and
              stats['stat-pages-hinted'] == 0 and stats['stat-epochs'] == 0)
        print('PASS' if ok else 'FAIL')
        return 0 if ok else 1
    finally:
        for p in procs:
            p.kill()
            p.wait()


if __name__ == '__main__':
    sys.exit(main())
