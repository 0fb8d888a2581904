#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The real Debian guest with the pvmig package, under our QEMU (TCG).

    realguest.py --img DIR [--qemu PATH] [--workdir DIR] [--json FILE]

One boot (a systemd guest under TCG takes minutes), two phases:
ports:   booted without the org.pvmig.0 port: the module is loaded (DKMS
         built it, modules-load.d loaded it), the agent is not running and
         not restarted; a port with a socket chardev is hot-added: the agent
         starts, sends HELLO each time the host end connects, survives the
         host end closing and coming back (same PID); the port is unplugged:
         the agent stops; the pvmig device is hot-added: it starts again and
         says HELLO to the device (module present); `systemctl stop` is clean.
migrate: the agent started again, the guest frees memory it has written and
         holds a checksummed file in tmpfs; it live-migrates to a second
         QEMU (the device on its command line, same port number) and the
         test checks that hints were applied, that no page was lost (RAM
         comparison, differences only where the hint log excuses them) and
         that the file still matches its checksum on the destination.
Exit 0 on success, 1 on a failed check (message on stderr).
"""
import argparse
import os
import shutil
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvmigvm import (Fail, Guest, build_ramcmp, compare_ram, finish, log,  # noqa: E402
                     wait_for)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# The port number of the hot-added ports (qemu-ga has port 1).
PVMIG_NR = 2


def unit(g, prop="ActiveState,SubState,MainPID,NRestarts,Result,ExecMainStatus"):
    _, out, _ = g.qga.sh(f"systemctl show -p {prop} pvmig-agent.service")
    return dict(line.split("=", 1) for line in out.split("\n") if "=" in line)


def wait_unit(g, state, timeout=60):
    return wait_for(f"pvmig-agent {state}", timeout,
                    lambda: (lambda u: u if u["ActiveState"] == state else None)(unit(g)),
                    interval=0.5)


def read_hello(path, timeout=30):
    """Connects to the port's host end and returns the first bytes the agent
    sends (its HELLO), then closes the host end."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    data = b""
    try:
        while len(data) < 16:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    s.close()
    return data


def phase_ports(a, g, res):
    res["boot_s"] = round(g.wait_boot(), 1)
    res["boot_ready_s"] = round(g.ready_s, 1)
    log(f"booted without the pvmig port in {res['boot_s']} s "
        f"(systemd done at {res['boot_ready_s']} s)")
    _, kver, _ = g.qga.sh("uname -r")
    res["guest_kernel"] = kver.strip()
    _, st, _ = g.qga.sh("dkms status pvmig")
    if "installed" not in st:
        raise Fail(f"dkms status: {st.strip()!r}")
    _, mods, _ = g.qga.sh("cat /proc/modules")
    if not any(m.split()[0] == "pvmig" for m in mods.splitlines()):
        raise Fail("pvmig module not loaded after boot")
    g.qga.sh("test -c /dev/pvmig")
    log(f"module loaded ({st.strip()})")

    # No port: the unit must not run, and must not be retried.
    time.sleep(5)
    u = unit(g)
    if u["ActiveState"] != "inactive" or u["NRestarts"] != "0":
        raise Fail(f"without the port pvmig-agent is {u}")
    code, _, _ = g.qga.sh("test -e /dev/virtio-ports/org.pvmig.0", check=False)
    if code == 0:
        raise Fail("org.pvmig.0 exists without the port")
    log(f"no port: pvmig-agent {u['ActiveState']}, NRestarts={u['NRestarts']}")

    # A port whose host end is a socket the test opens and closes.
    sock = f"{a.workdir}/pvport.sock"
    g.qmp.cmd("chardev-add", id="pvc", backend={
        "type": "socket", "data": {
            "addr": {"type": "unix", "data": {"path": sock}},
            "server": True, "wait": False}})
    g.qmp.cmd("device_add", driver="virtserialport", id="pvport",
              bus="vser0.0", nr=PVMIG_NR, chardev="pvc", name="org.pvmig.0")
    u = wait_unit(g, "active")
    pid = u["MainPID"]
    log(f"port hot-added: pvmig-agent active (pid {pid})")
    for i in range(2):
        hello = read_hello(sock)
        # Header: magic "PVMG", version, type (PVMIG_MSG_HELLO = 1).
        if len(hello) < 16 or hello[:4] != b"PVMG" or hello[5] != 1:
            raise Fail(f"host end connection {i + 1}: no HELLO ({hello[:16]!r})")
        time.sleep(3)
        u = unit(g)
        if u["ActiveState"] != "active" or u["MainPID"] != pid:
            raise Fail(f"after the host end closed: {u} (was pid {pid})")
    res["host_end_reconnects"] = 2
    log("host end closed and reopened twice: HELLO each time, same agent")

    g.qmp.cmd("device_del", id="pvport")
    g.qmp.wait_event("DEVICE_DELETED", 30)
    u = wait_unit(g, "inactive")
    if u["Result"] != "success":
        raise Fail(f"unplug stopped the agent uncleanly: {u}")
    g.qmp.cmd("chardev-remove", id="pvc")
    log("port unplugged: pvmig-agent stopped (Result=success)")

    g.qmp.cmd("device_add", driver="pvmig", id="pvmig0", bus="vser0.0",
              nr=PVMIG_NR, name="org.pvmig.0")
    wait_unit(g, "active")
    caps = wait_for("HELLO at the pvmig device", 30, lambda: g.qmp.cmd(
        "qom-get", path="/machine/peripheral/pvmig0", property="guest-caps"))
    res["guest_caps"] = caps
    if not caps & 1:  # PVMIG_CAP_MODULE
        raise Fail(f"HELLO says there is no module (caps {caps})")
    log(f"pvmig device hot-added: pvmig-agent active, guest-caps={caps}")

    g.qga.sh("systemctl stop pvmig-agent.service")
    u = unit(g)
    if u["ActiveState"] != "inactive" or u["Result"] != "success" \
            or u["ExecMainStatus"] != "0":
        raise Fail(f"systemctl stop: {u}")
    _, jl, _ = g.qga.sh("journalctl -b -u pvmig-agent.service --no-pager -o cat")
    res["agent_journal_tail"] = jl.strip().splitlines()[-3:]
    log(f"systemctl stop: clean (status 0); journal: {res['agent_journal_tail']}")


def phase_migrate(a, src, shm, hint_log, res):
    """Migrates the guest of phase_ports (its pvmig device hot-added there,
    at port PVMIG_NR, which the destination's command line repeats)."""
    port = free_port()
    dst = None
    try:
        src.qga.sh("systemctl start pvmig-agent.service")
        wait_unit(src, "active")
        # Memory the guest wrote and freed (what hints skip), and data it
        # keeps in RAM (tmpfs) with its checksum, checked after the switch.
        src.qga.sh(f"yes pvmig-freed-page | head -c {a.free_mb}M >/dev/shm/junk && "
                   "rm /dev/shm/junk && "
                   f"head -c {a.data_mb}M /dev/urandom >/dev/shm/data && "
                   "sha256sum /dev/shm/data >/root/data.sha256 && sync && "
                   "echo 1 >/proc/sys/vm/drop_caches", timeout=300)
        _, free, _ = src.qga.sh("grep MemFree /proc/meminfo")
        log(f"guest freed {a.free_mb} MiB it had written, holds {a.data_mb} MiB "
            f"of checked data; {free.strip()}")

        dst = Guest(a.qemu, a.img, a.workdir, "dst", mem_mb=a.mem, disk=src.disk,
                    ram_file=f"{shm}/dst", incoming=f"tcp:127.0.0.1:{port}",
                    pvmig_port=False, extra=["-device", "pvmig,id=pvmig0,bus=vser0.0,"
                                             f"nr={PVMIG_NR},name=org.pvmig.0"])
        src.qmp.cmd("migrate-set-parameters", **{"max-bandwidth": 4 << 30,
                                                 "downtime-limit": 300})
        t0 = time.monotonic()
        src.qmp.cmd("migrate", uri=f"tcp:127.0.0.1:{port}")

        def done():
            st = src.qmp.cmd("query-migrate")
            if st.get("status") in ("failed", "cancelled"):
                raise Fail(f"migration {st.get('status')}: {st.get('error-desc')}")
            return st if st.get("status") == "completed" else None
        st = wait_for("migration to complete", a.timeout, done, interval=0.5)
        res["migration_s"] = round(time.monotonic() - t0, 1)
        wait_for("destination paused", 60, lambda: dst.qmp.cmd("query-status")["status"] == "paused")
        wait_for("source postmigrate", 60, lambda: src.qmp.cmd("query-status")["status"] == "postmigrate")
        ram = st.get("ram", {})
        res["migration"] = {k: ram.get(k) for k in ("transferred", "normal", "duplicate")}
        res["downtime_ms"] = st.get("downtime")
        cnt = src.qmp.counters()
        res["counters"] = cnt
        log(f"migrated in {res['migration_s']} s: {res['migration']}, counters {cnt}")
        src.stop()  # QEMU flushes the hint log at exit
        cmp, lost = compare_ram(a.ramcmp, f"{shm}/src", f"{shm}/dst", hint_log)
        res["ram_compare"] = cmp
        log(f"RAM comparison: {cmp}")
        if cmp["lost"]:
            raise Fail(f"{cmp['lost']} pages lost, first at "
                       + ", ".join(hex(x) for x in lost[:8]))
        if cnt["pages-cleared"] == 0 or cnt["epochs"] == 0:
            raise Fail(f"the migration was not hinted: {cnt}")
        if cmp["hint_log_pages"] == 0:
            raise Fail("the source wrote no hint log")
        dst.qmp.cmd("cont")
        dst.qga.sh("sha256sum -c /root/data.sha256")
        wait_unit(dst, "active")
        log("destination: data checksum ok, pvmig-agent active")
        res["verified"] = True
    finally:
        if dst:
            dst.stop()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--img", required=True, help="image dir from mkimage.sh")
    p.add_argument("--qemu", default=os.environ.get(
        "PVMIG_QEMU", f"{ROOT}/build/qemu/qemu-system-x86_64"))
    p.add_argument("--workdir")
    p.add_argument("--keep", action="store_true",
                   help="keep the work directory after a passing run")
    p.add_argument("--json", help="write the results object here")
    p.add_argument("--mem", type=int, default=1024, help="guest RAM, MiB")
    p.add_argument("--free-mb", type=int, default=400)
    p.add_argument("--data-mb", type=int, default=64)
    p.add_argument("--timeout", type=int, default=600)
    a = p.parse_args()
    a.workdir = a.workdir or tempfile.mkdtemp(prefix="realguest-",
                                              dir=f"{ROOT}/build/run")
    os.makedirs(a.workdir, exist_ok=True)
    log(f"workdir {a.workdir}")
    res = {"img": a.img, "mem_mb": a.mem, "ports": {}, "migrate": {}}
    shm = tempfile.mkdtemp(prefix="pvmig-real-", dir="/dev/shm")
    hint_log = f"{a.workdir}/src.hintlog"
    g = None
    rc = 0
    try:
        a.ramcmp = build_ramcmp(ROOT, os.environ.get("BUILD", f"{ROOT}/build"))
        # One boot for both phases: TCG boots of a systemd guest are slow.
        g = Guest(a.qemu, a.img, a.workdir, "src", mem_mb=a.mem, pvmig_port=False,
                  ram_file=f"{shm}/src", env={"PVMIG_HINT_LOG": hint_log})
        phase_ports(a, g, res["ports"])
        phase_migrate(a, g, shm, hint_log, res["migrate"])
    except Fail as e:
        print(f"realguest: FAIL: {e}", file=sys.stderr)
        res["error"] = str(e)
        rc = 1
    finally:
        if g:
            g.stop()
        shutil.rmtree(shm, ignore_errors=True)
    return finish(res, rc, a.json, a.workdir, a.keep)


if __name__ == "__main__":
    sys.exit(main())
