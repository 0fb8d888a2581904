#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The real Debian guest with the pvmig package under libvirt.

    libvirt.py --img DIR [--qemu PATH] [--workdir DIR] [--json FILE]

Starts two private libvirtd instances (tools/libvirt/instance.sh, each its
own host UUID), defines the guest on the first from
tools/libvirt/pvmig-domain.xml.in with our QEMU as <emulator>, and checks:
  - the guest boots, pvmig-agent runs and says HELLO to the device;
  - `virsh migrate --live` to the second instance: the source device's
    summary of the migration (its pvmig_migration_end trace event, in the
    source's libvirt domain log) shows hints, and the guest's checksummed
    tmpfs data is intact on the destination;
  - `virsh save` / `virsh restore` with the agent running and with it
    stopped: the file sizes, and the data intact after each restore.
Exit 0 on success, 1 on a failed check.
"""
import argparse
import base64
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvmigvm import Fail, finish, log, wait_for  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOOLS = f"{ROOT}/tools/libvirt"
NAME = "pvmig-real"
COUNTERS = ("epochs", "pages-hinted", "pages-cleared", "ranges",
            "rejected-messages", "rejected-no-agent")
# The device's own account of each migration, written to QEMU's stderr
# (the "log" trace backend), which libvirt keeps in the domain's log file.
# The source QEMU is gone once `virsh migrate` returns, and polling its
# counters while it runs can miss the second or so between the hints and
# its end; its CLEANUP trace is written before libvirt stops it.
TRACE_EVENTS = ("pvmig_migration_begin", "pvmig_migration_end",
                "pvmig_setup_wait", "pvmig_rejected", "pvmig_invalid")
MIGRATION_END = re.compile(r"pvmig_migration_end epochs (\d+) ranges (\d+) "
                           r"pages hinted (\d+) cleared (\d+)")


def run(argv, check=True, timeout=900):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise Fail(f"{' '.join(argv)}: exit {p.returncode}: {p.stderr.strip()}")
    return p


class Virsh:
    def __init__(self, uri):
        self.uri = uri

    def __call__(self, *args, check=True, timeout=900):
        return run(["virsh", "-q", "-c", self.uri] + list(args), check, timeout).stdout

    def qmp(self, cmd, **args):
        msg = {"execute": cmd}
        if args:
            msg["arguments"] = args
        out = self("qemu-monitor-command", NAME, json.dumps(msg))
        r = json.loads(out)
        if "error" in r:
            raise Fail(f"QMP {cmd}: {r['error']}")
        return r["return"]

    def counters(self):
        return {n: self.qmp("qom-get", path="/machine/peripheral/pvmig0",
                            property="stat-" + n) for n in COUNTERS}

    def agent(self, cmd, timeout=10, **args):
        msg = {"execute": cmd}
        if args:
            msg["arguments"] = args
        out = self("qemu-agent-command", "--timeout", str(timeout), NAME,
                   json.dumps(msg), timeout=timeout + 30)
        return json.loads(out)["return"]

    def agent_up(self):
        try:
            self.agent("guest-ping", timeout=3)
            return True
        except Fail:
            return False

    def sh(self, script, timeout=300, check=True):
        pid = self.agent("guest-exec", path="/bin/sh", arg=["-c", script],
                         **{"capture-output": True})["pid"]
        end = time.monotonic() + timeout
        while True:
            st = self.agent("guest-exec-status", pid=pid)
            if st.get("exited"):
                break
            if time.monotonic() > end:
                raise Fail(f"guest command timed out: {script}")
            time.sleep(0.3)
        out = base64.b64decode(st.get("out-data", "")).decode(errors="replace")
        err = base64.b64decode(st.get("err-data", "")).decode(errors="replace")
        if check and st.get("exitcode") != 0:
            raise Fail(f"guest command failed ({st.get('exitcode')}): {script}\n{out}{err}")
        return st.get("exitcode"), out


def with_traces(xml):
    """The domain XML with the device's migration trace events enabled."""
    args = "".join(f"    <qemu:arg value='-trace'/>\n    <qemu:arg value='{e}'/>\n"
                   for e in TRACE_EVENTS)
    if xml.count("</qemu:commandline>") != 1:
        raise Fail("domain XML: expected one <qemu:commandline>")
    return xml.replace("</qemu:commandline>", args + "  </qemu:commandline>")


def migration_summaries(domain_log):
    """Each migration's summary in a QEMU domain log, in order, as dicts
    of the counters pvmig_migration_end carries."""
    try:
        with open(domain_log, errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        return []
    keys = ("epochs", "ranges", "pages-hinted", "pages-cleared")
    return [dict(zip(keys, map(int, m.groups())))
            for m in MIGRATION_END.finditer(text)]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def polled(v, fn):
    """Runs fn() while reading the device counters of v's domain (a query
    job, allowed while libvirt runs a migration or save); returns fn's
    result and the last counters seen before the source QEMU went away."""
    seen = {}
    stop = threading.Event()

    def poll():
        while not stop.is_set():
            try:
                c = v.counters()
            except Fail:
                c = None  # the source QEMU is gone, or not yet there
            # Each read is one qom-get per counter, and the counters reset
            # when the migration starts: keep the read that saw the most
            # cleared pages, whole.
            if c and c["pages-cleared"] >= seen.get("pages-cleared", 0):
                seen.clear()
                seen.update(c)
            time.sleep(0.3)
    th = threading.Thread(target=poll, daemon=True)
    th.start()
    try:
        return fn(), seen
    finally:
        stop.set()
        th.join()


def dirty_and_free(v, free_mb):
    """Writes free_mb MiB the guest then frees: what hints let migration skip."""
    v.sh(f"yes pvmig-freed-page | head -c {free_mb}M >/dev/shm/junk && "
         "rm /dev/shm/junk && sync && echo 1 >/proc/sys/vm/drop_caches")


def agent_active(v):
    _, out = v.sh("systemctl is-active pvmig-agent.service", check=False)
    return out.strip() == "active"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--img", required=True)
    p.add_argument("--qemu", default=os.environ.get(
        "PVMIG_QEMU", f"{ROOT}/build/qemu/qemu-system-x86_64"))
    p.add_argument("--workdir")
    p.add_argument("--keep", action="store_true",
                   help="keep the work directory after a passing run")
    p.add_argument("--json")
    p.add_argument("--mem", type=int, default=1024)
    p.add_argument("--free-mb", type=int, default=400)
    p.add_argument("--data-mb", type=int, default=64)
    a = p.parse_args()
    a.qemu = os.path.abspath(a.qemu)
    a.workdir = os.path.abspath(a.workdir or tempfile.mkdtemp(
        prefix="libvirt-", dir=f"{ROOT}/build/run"))
    os.makedirs(a.workdir, exist_ok=True)
    log(f"workdir {a.workdir}")
    res = {"mem_mb": a.mem, "free_mb": a.free_mb}
    started = []
    rc = 0
    try:
        uris = []
        for tag, uuid in (("A", "5eed0000-0000-4000-8000-00000000000a"),
                          ("B", "5eed0000-0000-4000-8000-00000000000b")):
            d = f"{a.workdir}/libvirt-{tag}"
            started.append(d)
            uris.append(run([f"{TOOLS}/instance.sh", "start", d, uuid]).stdout.strip())
        A, B = Virsh(uris[0]), Virsh(uris[1])
        log(f"libvirtd A: {A.uri}\nrealguest: libvirtd B: {B.uri}")

        disk = f"{a.workdir}/disk.qcow2"
        run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b",
             f"{a.img}/disk.raw", disk])
        xml = f"{a.workdir}/{NAME}.xml"
        with open(xml, "w") as f:
            f.write(with_traces(run(
                [f"{TOOLS}/mkdomain.sh", NAME, a.qemu, str(a.mem), disk,
                 f"{a.img}/vmlinuz", f"{a.img}/initrd.img",
                 f"{a.workdir}/console.log"]).stdout))
        A("define", xml)
        t0 = time.monotonic()
        A("start", NAME)
        wait_for("guest agent (boot under libvirt)", 600, A.agent_up, interval=2)
        res["boot_s"] = round(time.monotonic() - t0, 1)
        A.sh("systemctl is-system-running --wait >/dev/null; true")
        wait_for("pvmig-agent active", 60, lambda: agent_active(A), interval=1)
        caps = wait_for("HELLO at the device", 30, lambda: A.qmp(
            "qom-get", path="/machine/peripheral/pvmig0", property="guest-caps"))
        log(f"booted under libvirt in {res['boot_s']} s; pvmig-agent active, "
            f"guest-caps={caps}")

        A.sh(f"head -c {a.data_mb}M /dev/urandom >/dev/shm/data && "
             "sha256sum /dev/shm/data >/root/data.sha256")
        dirty_and_free(A, a.free_mb)

        # virsh migrate --live.  The source QEMU is gone when it returns: the
        # source device's summary is read from its domain log.  --unsafe:
        # the disk is one local file both "hosts" open, which libvirt
        # cannot tell from unshared storage.
        port = free_port()
        src_log = f"{a.workdir}/libvirt-A/log/qemu/{NAME}.log"
        before = len(migration_summaries(src_log))
        t0 = time.monotonic()
        run(["virsh", "-c", A.uri, "migrate", "--live", "--unsafe", "--verbose",
             NAME, B.uri, f"tcp://127.0.0.1:{port}"], timeout=900)
        res["migrate_s"] = round(time.monotonic() - t0, 1)
        summaries = migration_summaries(src_log)[before:]
        if len(summaries) != 1:
            raise Fail(f"{len(summaries)} pvmig_migration_end lines for one "
                       f"migration in {src_log}")
        seen = res["migrate_counters"] = summaries[0]
        log(f"virsh migrate --live: {res['migrate_s']} s; the source device's "
            f"summary: {seen}")
        if seen["pages-cleared"] == 0:
            begin = [ln.strip() for ln in open(src_log, errors="replace")
                     if "pvmig_migration_begin" in ln or "pvmig_rejected" in ln]
            raise Fail(f"no hints in the source device's summary: {seen}; "
                       f"its decisions: {begin[-3:]}")
        if A("list", "--name").strip():
            raise Fail("domain still running on A after the migration")
        wait_for("guest agent on B", 120, B.agent_up, interval=1)
        B.sh("sha256sum -c /root/data.sha256")
        wait_for("pvmig-agent active on B", 60, lambda: agent_active(B), interval=1)
        log("on B: data checksum ok, pvmig-agent active")

        # virsh save / restore, with the agent running and stopped, and a
        # live external snapshot's memory file restored the same way.
        sizes = {}
        for mode in ("pvmig", "pvmig-live-snapshot", "no-agent"):
            if mode == "no-agent":
                B.sh("systemctl stop pvmig-agent.service")
            dirty_and_free(B, a.free_mb)
            f = f"{a.workdir}/save-{mode}.img"
            t0 = time.monotonic()
            if mode == "pvmig-live-snapshot":
                B("snapshot-create-as", NAME, "live", "--live", "--no-metadata",
                      "--atomic", "--memspec", f"file={f},snapshot=external",
                      "--diskspec", f"vda,snapshot=external,file={a.workdir}/after-snap.qcow2")
                cnt = B.counters()
                B("destroy", NAME)
            else:
                _, cnt = polled(B, lambda: B("save", NAME, f))
            save_s = time.monotonic() - t0
            sizes[mode] = os.path.getsize(f)
            t0 = time.monotonic()
            B("restore", f)
            restore_s = time.monotonic() - t0
            wait_for("guest agent after restore", 120, B.agent_up, interval=1)
            B.sh("sha256sum -c /root/data.sha256")
            res[f"save_{mode}"] = {"bytes": sizes[mode], "save_s": round(save_s, 1),
                                   "restore_s": round(restore_s, 1),
                                   "counters_during_save": cnt}
            log(f"save/restore ({mode}): file {sizes[mode] >> 20} MiB, save "
                f"{save_s:.1f} s, restore {restore_s:.1f} s, data ok; counters {cnt}")
            os.unlink(f)
        res["save_size_ratio"] = round(sizes["pvmig"] / sizes["no-agent"], 3)
        res["live_snapshot_size_ratio"] = round(sizes["pvmig-live-snapshot"] / sizes["no-agent"], 3)
        # virsh save stops the vCPUs before it writes the file, so the agent
        # cannot answer and the file holds every page (recorded, not
        # required); the live snapshot writes the file while the guest runs.
        live = res["save_pvmig-live-snapshot"]
        if live["counters_during_save"].get("pages-cleared", 0) == 0:
            raise Fail(f"live snapshot: no hints: {live['counters_during_save']}")
        if sizes["pvmig-live-snapshot"] >= sizes["no-agent"]:
            raise Fail(f"live snapshot with hints is not smaller: {sizes}")
        B("destroy", NAME)
        res["verified"] = True
    except (Fail, subprocess.TimeoutExpired) as e:
        print(f"libvirt: FAIL: {e}", file=sys.stderr)
        res["error"] = str(e)
        rc = 1
    finally:
        for d in started:
            run([f"{TOOLS}/instance.sh", "stop", d], check=False)
    return finish(res, rc, a.json, a.workdir, a.keep)


if __name__ == "__main__":
    sys.exit(main())
