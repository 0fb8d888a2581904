# SPDX-License-Identifier: MIT
"""The real test guest under our QEMU: start it, talk QMP and the guest
agent (qemu-ga) to it, migrate it and compare both sides' RAM.

Used by tests/realguest/realguest.py and the libvirt test.  Only the
standard library: the tests run on a bare Debian host.
"""
import json
import os
import shutil
import socket
import subprocess
import time

PAGE = 4096
RAM_BLOCK = "ram0"


class Fail(Exception):
    """A check failed: the test fails with this message."""


class Skip(Exception):
    """The machine cannot run the test (exit 77)."""


def log(msg):
    print(f"realguest: {msg}", flush=True)


def wait_for(what, timeout, fn, interval=0.2):
    """Calls fn until it returns something true; Fail after timeout s."""
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > end:
            raise Fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def finish(res, rc, json_path, workdir, keep):
    """A test's end: its result object to json_path (if any), and its work
    directory removed after a pass unless keep; a failed run keeps it (the
    consoles, command lines and logs).  Returns rc."""
    if json_path:
        with open(json_path, "w") as f:
            json.dump(res, f, indent=1)
    if rc == 0 and not keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return rc


class JsonSock:
    """Line-oriented JSON over a Unix stream socket (QMP and qemu-ga)."""

    def __init__(self, path, timeout=30):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, obj):
        self.sock.sendall(json.dumps(obj).encode() + b"\n")

    def recv(self, timeout=None):
        if timeout is not None:
            self.sock.settimeout(timeout)
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise Fail(f"{self.path}: connection closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line) if line.strip() else self.recv(timeout)


class Qmp(JsonSock):
    def __init__(self, path, timeout=30):
        super().__init__(path, timeout)
        self.events = []
        self.recv()  # greeting
        self.cmd("qmp_capabilities")

    def cmd(self, _cmd, **args):
        msg = {"execute": _cmd}
        if args:
            msg["arguments"] = args
        self.send(msg)
        while True:
            r = self.recv()
            if "event" in r:
                self.events.append(r)
                continue
            if "error" in r:
                raise Fail(f"QMP {_cmd} {args}: {r['error'].get('desc')}")
            return r.get("return")

    def wait_event(self, name, timeout):
        end = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e["event"] == name:
                    return self.events.pop(i)
            left = end - time.monotonic()
            if left <= 0:
                raise Fail(f"no QMP event {name} within {timeout} s")
            try:
                r = self.recv(timeout=left)
            except socket.timeout:
                continue
            if "event" in r:
                self.events.append(r)

    def counters(self, dev="/machine/peripheral/pvmig0"):
        names = ("epochs", "pages-hinted", "pages-cleared", "ranges",
                 "rejected-messages", "rejected-no-agent", "stale-messages")
        return {n: self.cmd("qom-get", path=dev, property="stat-" + n)
                for n in names}


class Qga:
    """qemu-guest-agent over its chardev socket."""

    def __init__(self, path, timeout=30):
        self.path = path
        self.timeout = timeout

    def call(self, name, timeout=None, **args):
        s = JsonSock(self.path, timeout or self.timeout)
        try:
            # guest-sync discards what an earlier, abandoned call left.
            key = int(time.monotonic() * 1000) & 0x7FFFFFFF
            s.sock.sendall(b"\xff")
            s.send({"execute": "guest-sync-delimited", "arguments": {"id": key}})
            while True:
                i = s.buf.find(b"\xff")
                if i >= 0:
                    s.buf = s.buf[i + 1:]
                    r = s.recv()
                    if r.get("return") == key:
                        break
                else:
                    s.buf += s.sock.recv(65536)
            msg = {"execute": name}
            if args:
                msg["arguments"] = args
            s.send(msg)
            r = s.recv()
        finally:
            s.close()
        if "error" in r:
            raise Fail(f"guest agent {name}: {r['error'].get('desc')}")
        return r.get("return")

    def alive(self):
        try:
            self.call("guest-ping", timeout=3)
            return True
        except (OSError, Fail, socket.timeout):
            return False

    def sh(self, script, timeout=120, check=True):
        """Runs a shell script in the guest; returns (status, out, err)."""
        import base64
        pid = self.call("guest-exec", path="/bin/sh", arg=["-c", script],
                        **{"capture-output": True})["pid"]
        end = time.monotonic() + timeout
        while True:
            st = self.call("guest-exec-status", pid=pid)
            if st.get("exited"):
                break
            if time.monotonic() > end:
                raise Fail(f"guest command timed out: {script}")
            time.sleep(0.2)
        out = base64.b64decode(st.get("out-data", "")).decode(errors="replace")
        err = base64.b64decode(st.get("err-data", "")).decode(errors="replace")
        code = st.get("exitcode", -1)
        if check and code != 0:
            raise Fail(f"guest command failed ({code}): {script}\n{out}{err}")
        return code, out, err


class Guest:
    """One QEMU running the real guest from a qcow2 overlay."""

    def __init__(self, qemu, img, workdir, tag, mem_mb=1024, disk=None,
                 pvmig_port=True, ram_file=None, incoming=None, extra=(),
                 env=None):
        self.tag = tag
        self.workdir = workdir
        self.qmp_path = f"{workdir}/{tag}.qmp"
        self.qga_path = f"{workdir}/{tag}.qga"
        self.console = f"{workdir}/{tag}.console"
        self.ram_file = ram_file
        self.disk = disk or f"{workdir}/{tag}.qcow2"
        if not os.path.exists(self.disk):
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F",
                            "raw", "-b", f"{img}/disk.raw", self.disk],
                           check=True)
        argv = [qemu, "-name", f"pvmig-real-{tag}", "-accel", "tcg",
                "-nodefaults", "-display", "none", "-nic", "none",
                "-L", "/usr/share/qemu", "-L", "/usr/share/seabios",
                "-m", f"{mem_mb}M", "-smp", "1",
                "-kernel", f"{img}/vmlinuz", "-initrd", f"{img}/initrd.img",
                "-append", "root=/dev/vda rw console=ttyS0 quiet",
                "-drive", f"file={self.disk},if=virtio,format=qcow2,cache=unsafe",
                "-chardev", f"file,id=con0,path={self.console}",
                "-serial", "chardev:con0",
                "-qmp", f"unix:{self.qmp_path},server=on,wait=off",
                "-device", "virtio-serial-pci,id=vser0",
                "-chardev", f"socket,id=qga0,path={self.qga_path},server=on,wait=off",
                "-device", "virtserialport,bus=vser0.0,chardev=qga0,name=org.qemu.guest_agent.0"]
        if ram_file:
            argv += ["-object", f"memory-backend-file,id={RAM_BLOCK},size={mem_mb}M,"
                     f"mem-path={ram_file},share=on",
                     "-machine", f"pc,memory-backend={RAM_BLOCK}"]
        if pvmig_port:
            argv += ["-device", "pvmig,id=pvmig0,bus=vser0.0,name=org.pvmig.0"]
        argv += list(extra)
        if incoming:
            argv += ["-incoming", incoming, "-S"]
        self.argv = argv
        with open(f"{workdir}/{tag}.cmdline", "w") as f:
            f.write(" ".join(argv) + "\n")
        self.stderr = open(f"{workdir}/{tag}.stderr", "w")
        self.t_start = time.monotonic()
        self.proc = subprocess.Popen(["nice"] + argv, stdin=subprocess.DEVNULL,
                                     stdout=self.stderr, stderr=self.stderr,
                                     env=dict(os.environ, **(env or {})))
        wait_for(f"{tag}: QMP socket", 30, lambda: self._qmp_up())
        self.qga = Qga(self.qga_path)

    def _qmp_up(self):
        if self.proc.poll() is not None:
            raise Fail(f"{self.tag}: QEMU exited ({self.proc.returncode}), "
                       f"see {self.workdir}/{self.tag}.stderr")
        try:
            self.qmp = Qmp(self.qmp_path)
            return True
        except OSError:
            return False

    def wait_boot(self, timeout=600):
        """Waits for the guest agent to answer: systemd is up (qemu-ga is
        started by udev when its port appears, like pvmig-agent)."""
        def up():
            if self.proc.poll() is not None:
                raise Fail(f"{self.tag}: QEMU exited during boot")
            return self.qga.alive()
        wait_for(f"{self.tag}: guest agent (boot)", timeout, up, interval=1)
        self.boot_s = time.monotonic() - self.t_start
        # systemd may still be starting units; wait until it is done.
        self.qga.sh("systemctl is-system-running --wait >/dev/null; true",
                    timeout=timeout)
        self.ready_s = time.monotonic() - self.t_start
        return self.boot_s

    def console_text(self):
        try:
            with open(self.console, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.qmp.cmd("quit")
            except (OSError, Fail):
                pass
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()


def build_ramcmp(root, build):
    """Compiles the RAM comparison (tests/realguest/ramcmp.c with the
    driver's hintlog.c and ramcmp.c: the same hash and log reader) into
    build/realguest/pvmig-ramcmp; returns its path."""
    out = f"{build}/realguest/pvmig-ramcmp"
    os.makedirs(os.path.dirname(out), exist_ok=True)
    m = f"{root}/tools/migrate"
    p = subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", "-O2", "-Wall", "-Wextra",
                        f"-I{m}", f"-I{root}/proto", "-o", out,
                        f"{root}/tests/realguest/ramcmp.c", f"{m}/hintlog.c",
                        f"{m}/ramcmp.c", f"{m}/util.c"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise Fail(f"building {out}: {p.stderr.strip()}")
    return out


def compare_ram(tool, src_path, dst_path, hint_log):
    """Compares the two RAM files page by page: a differing page is excused
    only if the hint log has it with the hash of the source's content,
    anything else is lost.  Returns the tool's counts and the first lost
    offsets of the RAM block."""
    p = subprocess.run([tool, src_path, dst_path, hint_log],
                       capture_output=True, text=True)
    if p.returncode not in (0, 1):
        raise Fail(f"RAM comparison: {p.stderr.strip()}")
    res = json.loads(p.stdout)
    return res, res.pop("lost_off")
