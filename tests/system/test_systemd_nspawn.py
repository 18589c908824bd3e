"""The service under a real systemd: boot Debian in systemd-nspawn, install, use, uninstall.

Slow and root-only, so marked `systemd` (the default run skips it). Run it with

    sudo python -m pytest -m systemd tests/system/test_systemd_nspawn.py     # or .ci/systemd-nspawn.sh test

Needs: systemd-nspawn (apt: systemd-container), debootstrap, nsenter (util-linux),
and access to a Debian mirror and to PyPI from the host the first time. The root file
system (debootstrap bookworm + systemd + python3-venv, ~250 MB, ~1-2 minutes) is built
by `.ci/systemd-nspawn.sh rootfs` and cached under ~/.cache/hotfolder-nspawn; every run
boots a throwaway copy of it (--ephemeral). The container has no network
(--private-network): the host downloads the wheels of the dependencies for the
container's Python and install.sh installs them with PIP_NO_INDEX/PIP_FIND_LINKS.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from tests.harness import REPO, wait_for

pytestmark = pytest.mark.systemd

HELPER = REPO / ".ci" / "systemd-nspawn.sh"
CACHE = Path(os.environ.get("HOTFOLDER_NSPAWN_CACHE", Path.home() / ".cache" / "hotfolder-nspawn"))
CONFIG = "/etc/hotfolder/hotfolder.yaml"
VAR = "/var/lib/hotfolder"
HOTFOLDER = "/opt/hotfolder/venv/bin/hotfolder"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _missing_tools() -> list[str]:
    return [t for t in ("systemd-nspawn", "debootstrap", "nsenter") if shutil.which(t) is None]


if os.geteuid() != 0:
    pytest.skip("boots a container with systemd-nspawn: needs root", allow_module_level=True)
if _missing_tools():
    pytest.skip(f"missing {', '.join(_missing_tools())}: apt-get install -y systemd-container debootstrap util-linux",
                allow_module_level=True)


def wait_until(predicate, timeout: float, what: str, interval: float = 0.25):
    return wait_for(predicate, timeout, interval, what)


# --- what the container needs, built on the host -----------------------------------

@pytest.fixture(scope="session")
def rootfs() -> Path:
    r = subprocess.run(["bash", str(HELPER), "rootfs"], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"building the Debian root file system failed:\n{r.stderr[-4000:]}"
    path = Path(r.stdout.strip().splitlines()[-1])
    assert (path / "usr/lib/systemd/systemd").exists() or (path / "lib/systemd/systemd").exists()
    return path


def _container_python(rootfs: Path) -> str:
    """'3.11' for the rootfs' /usr/bin/python3 -> python3.11."""
    target = os.readlink(rootfs / "usr/bin/python3")
    m = re.fullmatch(r"python(\d+)\.(\d+)", Path(target).name)
    assert m, f"cannot tell the container's Python version from /usr/bin/python3 -> {target}"
    return f"{m.group(1)}.{m.group(2)}"


@pytest.fixture(scope="session")
def wheels(rootfs) -> Path:
    """Binary wheels of the project's dependencies (and the build backend) for the
    container's CPython, downloaded by the host's pip and cached by requirement set."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    reqs = sorted([*project["project"]["dependencies"], *project["build-system"]["requires"],
                   *project["project"]["optional-dependencies"]["heic-ffmpeg"]])  # install.sh's default EXTRAS
    pyver = _container_python(rootfs)
    key = hashlib.sha256("\n".join([pyver, *reqs]).encode()).hexdigest()[:16]
    out = CACHE / f"wheels-{key}"
    if (out / ".complete").exists():
        return out
    shutil.rmtree(out, ignore_errors=True)
    abi = "cp" + pyver.replace(".", "")
    out.mkdir(parents=True)
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--dest", str(out),
           "--find-links", str(out),
           "--python-version", pyver, "--implementation", "cp", "--abi", abi, "--abi", "abi3", "--abi", "none",
           "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_17_x86_64",
           "--platform", "manylinux2014_x86_64"]
    for req in reqs:
        # A pure-Python package published only as source (pyvips): built into a
        # py3-none-any wheel here, which the container installs as it is.
        if subprocess.run([*cmd, "--no-deps", req], capture_output=True, timeout=600).returncode != 0:
            built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                                    "--wheel-dir", str(out), req], capture_output=True, text=True, timeout=600)
            assert built.returncode == 0, f"no wheel of {req} for the container:\n{built.stderr[-4000:]}"
    r = subprocess.run([*cmd, *reqs], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"pip download for the container failed:\n{r.stderr[-4000:]}"
    (out / ".complete").touch()
    return out


@pytest.fixture
def source(tmp_path) -> Path:
    """A copy of the working tree as install.sh would see it in a checkout."""
    dst = tmp_path / "src"
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO, capture_output=True, timeout=60)
    if listed.returncode == 0:
        for name in listed.stdout.decode().split("\0"):
            if name and (REPO / name).is_file():
                (dst / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / name, dst / name)
    else:
        shutil.copytree(REPO, dst, ignore=shutil.ignore_patterns(".git", ".venv", "var", "*.egg-info", "__pycache__"))
    return dst


@pytest.fixture
def images(tmp_path) -> Path:
    from PIL import Image

    d = tmp_path / "images"
    d.mkdir()
    for i, name in enumerate(("one", "two", "three", "four")):
        Image.new("RGB", (1200 + 100 * i, 800), (40 * i, 120, 200)).save(d / f"{name}.jpg", quality=90)
    return d


# --- the container -----------------------------------------------------------------

class Machine:
    """A booted throwaway copy of the rootfs; commands run in it through nsenter."""

    def __init__(self, rootfs: Path, binds: dict[Path, str], log_path: Path):
        self.rootfs, self.binds, self.log_path = rootfs, binds, log_path
        self.name = f"hotfolder-test-{os.getpid()}"
        self.proc: subprocess.Popen | None = None
        self.leader: int | None = None

    def __enter__(self) -> Machine:
        cmd = ["systemd-nspawn", "--directory", str(self.rootfs), "--ephemeral", "--machine", self.name,
               # no machined/D-Bus on the host side: don't register, don't ask for a scope
               "--register=no", "--keep-unit",
               # no network inside: the install is offline, and the service's own
               # PrivateNetwork= works as on a real host (nspawn grants CAP_NET_ADMIN)
               "--private-network", "--console=passive"]
        cmd += [f"--bind-ro={host}:{inside}" for host, inside in self.binds.items()]
        cmd += ["--boot"]
        self._log = open(self.log_path, "wb")
        started = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        try:
            self.leader = wait_until(self._find_leader, 60, "the container's init to start")
            # the leader is nspawn's child until it execs systemd: retry until the
            # manager answers, then let --wait block until the boot has finished
            state = wait_until(self._boot_state, 120, f"the container to boot; console:\n{self.log()}")
            assert state in ("running", "degraded"), f"container booted into state {state!r}:\n{self.log()}"
            if state == "degraded":
                print(self.sh("systemctl --failed --no-pager", check=False).stdout)
            self.boot_seconds = time.monotonic() - started
            print(f"container {self.name} booted in {self.boot_seconds:.1f} s")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _find_leader(self) -> int | None:
        if self.proc.poll() is not None:
            raise AssertionError(f"systemd-nspawn exited with {self.proc.returncode}:\n{self.log()}")
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                status = Path(f"/proc/{entry}/status").read_text()
            except OSError:
                continue
            ppid = re.search(r"^PPid:\s*(\d+)", status, re.M)
            nspid = re.search(r"^NSpid:\s*(.*)$", status, re.M)
            if ppid and int(ppid.group(1)) == self.proc.pid and nspid and nspid.group(1).split()[-1] == "1":
                return int(entry)
        return None

    def _boot_state(self) -> str | None:
        if self.proc.poll() is not None:
            raise AssertionError(f"systemd-nspawn exited with {self.proc.returncode}:\n{self.log()}")
        r = self.sh("systemctl is-system-running --wait", check=False, timeout=120)
        state = r.stdout.strip()
        # "offline" (or nothing): the manager is not up yet to answer
        return state if state not in ("", "offline", "initializing", "starting") else None

    def log(self) -> str:
        return self.log_path.read_bytes().decode(errors="replace")[-6000:]

    def sh(self, script: str, check: bool = True, timeout: float = 120, env: dict | None = None):
        """Run a bash script as root inside the container."""
        assert self.leader is not None
        environment = ["PATH=" + PATH, "HOME=/root", "LANG=C.UTF-8", "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0"]
        environment += [f"{k}={v}" for k, v in (env or {}).items()]
        r = subprocess.run(["nsenter", "--target", str(self.leader), "--all", "--", "env", "-i", *environment,
                            "bash", "-c", script], capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"in the container, `{script}` exited with {r.returncode}:\n"
                                 f"{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
        return r

    def show(self, *props: str) -> dict[str, str]:
        out = self.sh(f"systemctl show hotfolder.service {' '.join('-p ' + p for p in props)}").stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def exists(self, path: str) -> bool:
        return self.sh(f"test -e {path}", check=False).returncode == 0

    def __exit__(self, *exc) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            # SIGTERM makes nspawn shut the container down cleanly (SIGRTMIN+3 to its init)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(30)
        self._log.close()


# --- the scenario ------------------------------------------------------------------

def _drop(m: Machine, name: str) -> None:
    """Copy an image into the inbox the way a careful client does: temp name, then rename."""
    m.sh(f"cp /images/{name} {VAR}/inbox/.{name}.part && mv {VAR}/inbox/.{name}.part {VAR}/inbox/{name}")


def _wait_outputs(m: Machine, names: list[str], timeout: float = 60) -> None:
    test = " && ".join(f"test -s {VAR}/output/{n}" for n in names)
    wait_until(lambda: m.sh(test, check=False).returncode == 0, timeout,
               f"outputs {names} (journal:\n"
               f"{m.sh('journalctl -u hotfolder --no-pager | tail -20', check=False).stdout})")


def _status_text(m: Machine) -> str:
    return m.show("StatusText")["StatusText"]


def _hotfolder_pids(m: Machine) -> list[int]:
    out = m.sh("pgrep -u hotfolder || true").stdout
    return [int(p) for p in out.split()]


@pytest.mark.timeout(1200)
def test_install_use_reload_stop_uninstall(rootfs, wheels, source, images, tmp_path):
    binds = {source: "/src", wheels: "/wheels", images: "/images"}
    with Machine(rootfs, binds, tmp_path / "console.log") as m:
        offline = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "/wheels"}

        # --- install, twice: the second run installs again (a venv of its own) and keeps the config
        r = m.sh("bash /src/systemd/install.sh", env=offline, timeout=600)
        assert "installing /etc/hotfolder/hotfolder.yaml" in r.stdout
        # with FFmpeg's HEVC decoder by default (the heic-ffmpeg extra): iPhone HEICs at its speed
        assert "installing hotfolder[heic-ffmpeg]" in r.stdout
        m.sh("/opt/hotfolder/venv/bin/python -c 'from hotfolder.engine.decoders import hevc; assert hevc.available()'")
        # an extra misspelled is refused before anything changes (pip only warns, and installs without it)
        r = m.sh("EXTRAS=heic_ffmpeg bash /src/systemd/install.sh", check=False, env=offline)
        assert r.returncode != 0 and "EXTRAS: no extra named heic_ffmpeg" in r.stderr, r.stderr
        m.sh(f"echo '# admin was here' >> {CONFIG}")
        r = m.sh("bash /src/systemd/install.sh", env=offline, timeout=600)
        assert "keeping your /etc/hotfolder/hotfolder.yaml" in r.stdout
        assert "admin was here" in m.sh(f"cat {CONFIG}").stdout

        wait_until(lambda: m.show("ActiveState")["ActiveState"] == "active", 60, "hotfolder.service to be active")
        wait_until(lambda: _status_text(m).startswith("processed "), 30, "the first STATUS= from the daemon")
        props = m.show("UnitFileState", "User", "NRestarts", "MainPID", "Type", "NotifyAccess")
        assert props["UnitFileState"] == "enabled"
        assert props["Type"] == "notify" and props["NotifyAccess"] == "main"
        main_pid = props["MainPID"]

        # the installed unit, with its real ExecStart, verifies without a word
        r = m.sh("systemd-analyze verify /etc/systemd/system/hotfolder.service 2>&1")
        assert r.stdout.strip() == "", f"systemd-analyze verify said:\n{r.stdout}"
        # the sandbox, measured by the running systemd (not only offline)
        r = m.sh("systemd-analyze security hotfolder.service --no-pager")
        exposure = float(re.search(r"Overall exposure level for hotfolder\.service:\s*([0-9.]+)", r.stdout).group(1))
        assert exposure <= 1.0, r.stdout

        # --- a dropped file becomes its renditions; the original is archived
        _drop(m, "one.jpg")
        _wait_outputs(m, ["one_web.jpg", "one_thumb.webp"])
        wait_until(lambda: m.exists(f"{VAR}/archive/one.jpg"), 30, "the original in archive/")
        assert m.sh(f"stat -c '%U:%G' {VAR}/output/one_web.jpg").stdout.strip() == "hotfolder:hotfolder"

        wait_until(lambda: _status_text(m).startswith("processed 1,"), 30, "STATUS= to count the file")
        status = m.sh("systemctl status hotfolder.service --no-pager --lines=0", check=False).stdout
        assert re.search(r'Status: "processed 1, failed 0', status), status
        r = m.sh(f"{HOTFOLDER} status --config {CONFIG}")
        assert re.search(r"processed\s+1\b", r.stdout), r.stdout

        # workers (and any other child) must not inherit NOTIFY_SOCKET or WATCHDOG_*
        for pid in _hotfolder_pids(m):
            if str(pid) == main_pid:
                continue
            env = m.sh(f"tr '\\0' '\\n' < /proc/{pid}/environ; echo; cat /proc/{pid}/cmdline | tr '\\0' ' '",
                       check=False).stdout
            assert "NOTIFY_SOCKET=" not in env and "WATCHDOG_USEC=" not in env, f"child {pid} inherited:\n{env}"

        # --- reload with a good config: a new rendition applies to the next file
        m.sh(f"""cat >> {CONFIG} <<'EOF'
      - name: small
        operation: fit
        size: 200x200
        format: png
EOF""")
        m.sh("systemctl reload hotfolder.service")
        _drop(m, "two.jpg")
        _wait_outputs(m, ["two_web.jpg", "two_thumb.webp", "two_small.png"])
        assert "refused" not in _status_text(m)

        # --- reload with a bad config: refused, the service stays up on the old one
        m.sh(f"cp {CONFIG} /root/good.yaml && echo 'bogus_key: 1' >> {CONFIG}")
        m.sh("systemctl reload hotfolder.service")
        wait_until(lambda: "reload refused" in _status_text(m), 30, "STATUS= to say the reload was refused")
        assert "bogus_key" in _status_text(m)
        props = m.show("ActiveState", "MainPID", "NRestarts")
        assert props == {"ActiveState": "active", "MainPID": main_pid, "NRestarts": "0"}, props
        _drop(m, "three.jpg")
        _wait_outputs(m, ["three_web.jpg", "three_small.png"])
        errors = m.sh("journalctl -u hotfolder.service -p err --no-pager -o cat").stdout
        assert "reload_refused" in errors, f"journalctl -p err shows no refused reload:\n{errors}"

        m.sh(f"cp /root/good.yaml {CONFIG} && systemctl reload hotfolder.service")
        wait_until(lambda: "refused" not in _status_text(m), 30, "the refusal note to clear after a good reload")

        # --- the documented way to watch a folder of one's own: a ReadWritePaths= drop-in
        m.sh("install -d -o root -g hotfolder -m 2775 /srv/photos "
             "/srv/photos/inbox /srv/photos/output /srv/photos/archive /srv/photos/failed /srv/photos/processing")
        m.sh(f"""cat >> {CONFIG} <<'EOF'
  - name: srv
    inbox: /srv/photos/inbox
    output: /srv/photos/output
    archive: /srv/photos/archive
    failed: /srv/photos/failed
    processing: /srv/photos/processing
    renditions:
      - name: web
        operation: fit
        size: 800x800
        format: jpeg
EOF""")
        m.sh("mkdir -p /etc/systemd/system/hotfolder.service.d && "
             "printf '[Service]\\nReadWritePaths=/srv/photos\\n' "
             "> /etc/systemd/system/hotfolder.service.d/paths.conf && "
             "systemctl daemon-reload && systemctl restart hotfolder.service")
        wait_until(lambda: _status_text(m).startswith("processed "), 30, "the restarted daemon's STATUS=")
        m.sh("cp /images/four.jpg /srv/photos/inbox/.four.part "
             "&& mv /srv/photos/inbox/.four.part /srv/photos/inbox/four.jpg")
        wait_until(lambda: m.exists("/srv/photos/output/four_web.jpg"), 60,
                   "the output in /srv/photos (journal:\n"
                   + m.sh("journalctl -u hotfolder --no-pager | tail -10", check=False).stdout + ")")
        assert m.sh("stat -c %G /srv/photos/output/four_web.jpg").stdout.strip() == "hotfolder"

        _upgrade_under_the_running_service_then_rollback(m, offline)

        # --- a burst's lines all reach the journal: journald's limit per service (10,000
        # lines in 30 s by default, scaled by free disk) tightened here to 10, which the
        # unit's own LogRateLimitBurst= overrides; without it journald drops lines
        m.sh("mkdir -p /etc/systemd/journald.conf.d && printf '[Journal]\\nRateLimitIntervalSec=30s\\n"
             "RateLimitBurst=10\\n' > /etc/systemd/journald.conf.d/tight.conf && systemctl restart systemd-journald")
        burst = [f"line{i:02d}.jpg" for i in range(40)]
        # each its own bytes (a byte after the picture), or all but the first would be skipped as duplicates
        m.sh(" && ".join(f"{{ cat /images/one.jpg; printf {i}; }} > {VAR}/inbox/.{n}.part "
                         f"&& mv {VAR}/inbox/.{n}.part {VAR}/inbox/{n}" for i, n in enumerate(burst)))
        wait_until(lambda: m.sh(" && ".join(f"test -e {VAR}/archive/{n}" for n in burst), check=False).returncode == 0,
                   120, "the burst archived (journal:\n"
                   + m.sh("journalctl -u hotfolder --no-pager | tail -10", check=False).stdout + ")")
        logged = _journal(m, "--since", "-5min")
        missing = [n for n in burst if f'"file": "{n}"' not in logged or logged.count(f'"file": "{n}"') < 3]
        assert not missing, f"the journal lacks lines of {missing[:5]}:\n{logged[-2000:]}"
        suppressed = m.sh("journalctl --no-pager -o cat -u systemd-journald --since -5min | grep -i suppressed",
                          check=False).stdout
        assert "hotfolder" not in suppressed, suppressed
        m.sh("rm /etc/systemd/journald.conf.d/tight.conf && systemctl restart systemd-journald")

        # --- stop with files arriving: drains and exits well within TimeoutStopSec,
        # nothing left running, every file either done or back in its inbox
        timeout_stop = m.show("TimeoutStopUSec")["TimeoutStopUSec"]
        batch = [f"burst{i}.jpg" for i in range(8)]
        m.sh(" && ".join(f"cp /images/one.jpg {VAR}/inbox/.{n}.part && mv {VAR}/inbox/.{n}.part {VAR}/inbox/{n}"
                         for n in batch))
        t0 = time.monotonic()
        m.sh("systemctl stop hotfolder.service", timeout=120)
        stop_seconds = time.monotonic() - t0
        print(f"systemctl stop took {stop_seconds:.1f} s (TimeoutStopSec={timeout_stop})")
        props = m.show("ActiveState", "Result", "ExecMainStatus", "NRestarts")
        assert props["ActiveState"] == "inactive" and props["Result"] == "success", props
        assert props["ExecMainStatus"] == "0" and props["NRestarts"] == "0", props
        assert stop_seconds < 45, f"stop took {stop_seconds:.1f} s"
        assert _hotfolder_pids(m) == []
        assert m.sh(f"ls -A {VAR}/processing").stdout.strip() == "", "claims left in processing/ after stop"
        for n in batch:
            stem = n.removesuffix(".jpg")
            done = m.exists(f"{VAR}/archive/{n}") and m.exists(f"{VAR}/output/{stem}_web.jpg")
            assert done or m.exists(f"{VAR}/inbox/{n}"), f"{n} is neither done nor back in the inbox"
        r = m.sh(f"{HOTFOLDER} status --config {CONFIG}", check=False)
        assert r.returncode == 1 and "not running" in r.stdout, r.stdout

        # --- uninstall: the service and code go, data and user stay (unless --purge)
        m.sh("systemctl start hotfolder.service")
        r = m.sh("bash /src/systemd/uninstall.sh")
        assert "Kept your data" in r.stdout
        assert m.show("LoadState")["LoadState"] == "not-found"
        assert _hotfolder_pids(m) == []
        assert not m.exists("/opt/hotfolder")
        assert not m.exists("/etc/systemd/system/multi-user.target.wants/hotfolder.service")
        assert m.exists(f"{VAR}/archive/one.jpg") and m.exists(CONFIG)
        assert m.sh("getent passwd hotfolder", check=False).returncode == 0

        m.sh("bash /src/systemd/uninstall.sh --purge")
        for path in ("/opt/hotfolder", VAR, "/etc/hotfolder", "/etc/systemd/system/hotfolder.service",
                     "/etc/systemd/system/hotfolder.service.d", "/etc/sysusers.d/hotfolder.conf",
                     "/etc/tmpfiles.d/hotfolder.conf", "/run/hotfolder"):
            assert not m.exists(path), f"{path} is left after uninstall --purge"
        assert m.sh("getent passwd hotfolder", check=False).returncode != 0, "user hotfolder is left"
        assert m.sh("getent group hotfolder", check=False).returncode != 0, "group hotfolder is left"
        # (list-unit-files exits 1 when nothing matches)
        assert m.sh("systemctl list-units --all --no-legend 'hotfolder*'", check=False).stdout.strip() == ""
        assert m.sh("systemctl list-unit-files --no-legend 'hotfolder*'", check=False).stdout.strip() == ""
        assert m.sh("ps -eo comm,args --no-headers | grep -i [h]otfolder || true").stdout.strip() == ""
        # and once more: uninstalling nothing is fine
        m.sh("bash /src/systemd/uninstall.sh --purge")


def _venv_of(m: Machine, pid: int | str) -> str:
    """The release (venvs/NAME) a process runs: its interpreter's path, as it was exec'd."""
    cmd = m.sh(f"tr '\\0' ' ' < /proc/{pid}/cmdline").stdout
    found = re.search(r"/opt/hotfolder/venvs/([^/]+)/bin/python", cmd)
    assert found, f"process {pid} runs no release under /opt/hotfolder/venvs: {cmd}"
    return found.group(1)


def _workers(m: Machine, main_pid: str) -> list[int]:
    """The service's workers: forked by its forkserver, so the main process's grandchildren."""
    rows = [line.split() for line in m.sh("ps -u hotfolder -o pid=,ppid=").stdout.splitlines()]
    children = {pid for pid, ppid in rows if ppid == main_pid}
    return sorted(int(pid) for pid, ppid in rows if ppid in children)


def _runs_from(m: Machine, venv: str, what: str) -> None:
    """The service's daemon is up (its STATUS=) and runs from the release `venv` (its main
    process's memory maps)."""
    wait_until(lambda: _status_text(m).startswith("processed "), 60, what)
    assert _venv_of(m, m.show("MainPID")["MainPID"]) == venv


def _renders(m: Machine, name: str) -> None:
    """A new file dropped as `name`.jpg comes out as its web rendition."""
    _drop_new(m, name)
    _wait_outputs(m, [f"{name}_web.jpg"])


def _drop_new(m: Machine, name: str) -> None:
    """one.jpg's picture with bytes of its own after it (the same bytes would be a duplicate)."""
    m.sh(f"{{ cat /images/one.jpg; printf {name}; }} > {VAR}/inbox/.{name}.part && "
         f"mv {VAR}/inbox/.{name}.part {VAR}/inbox/{name}.jpg")


def _upgrade_under_the_running_service_then_rollback(m: Machine, offline: dict) -> None:
    """install.sh of a changed release while the service runs (--no-start): the running
    daemon and a worker started after the switch keep the old release; a restart loads the
    new one; --rollback goes back, and again forward."""
    old = m.sh("readlink /opt/hotfolder/venv").stdout.strip()
    assert old.startswith("venvs/"), f"/opt/hotfolder/venv is not a link to a release: {old!r}"
    old = old.removeprefix("venvs/")
    main_pid = m.show("MainPID")["MainPID"]
    assert _venv_of(m, main_pid) == old
    # a config the new release refuses: the script stops before the switch, removes the
    # new venv, and the running service is not touched
    venvs = m.sh("ls /opt/hotfolder/venvs").stdout.split()
    m.sh(f"cp {CONFIG} /root/before-upgrade.yaml && echo 'bogus_key: 1' >> {CONFIG}")
    r = m.sh("bash /src/systemd/install.sh", env=offline, timeout=600, check=False)
    assert r.returncode != 0 and "the service runs on as it was" in r.stderr and "bogus_key" in r.stdout + r.stderr, \
        r.stdout[-2000:] + r.stderr[-2000:]
    assert m.sh("readlink /opt/hotfolder/venv").stdout.strip() == f"venvs/{old}"
    assert m.sh("ls -A /opt/hotfolder/venvs").stdout.split() == venvs
    assert m.show("MainPID", "ActiveState") == {"MainPID": main_pid, "ActiveState": "active"}
    m.sh(f"cp /root/before-upgrade.yaml {CONFIG}")

    # a release of its own: another version, so each side can be told
    m.sh("cp -a /src /root/src2 && sed -i 's/^version = \"\\(.*\\)\"/version = \"\\1+two\"/' "
         "/root/src2/pyproject.toml && grep -q '+two' /root/src2/pyproject.toml")
    r = m.sh("bash /root/src2/systemd/install.sh --no-start", env=offline, timeout=600)
    new = m.sh("readlink /opt/hotfolder/venv").stdout.strip().removeprefix("venvs/")
    assert new != old and f"switched /opt/hotfolder/venv to {new} (was {old})" in r.stdout, r.stdout
    assert "--rollback" in r.stdout, r.stdout
    # the one in use and the previous one are kept; the first install's is pruned
    assert m.sh("ls /opt/hotfolder/venvs").stdout.split() == sorted([old, new]), r.stdout
    assert "removing /opt/hotfolder/venvs/" in r.stdout, r.stdout
    assert "+two" in m.sh(f"{HOTFOLDER} --version").stdout

    # the running daemon: untouched, and a worker it starts now is of its own release
    assert m.show("MainPID")["MainPID"] == main_pid
    since = m.sh("date '+%Y-%m-%d %H:%M:%S'").stdout.strip()
    workers = wait_until(lambda: _workers(m, main_pid) or None, 30, "the service's workers")
    m.sh(f"kill -KILL {workers[0]}")
    replaced = wait_until(lambda: [w for w in _workers(m, main_pid) if w not in workers] or None, 30,
                          "a worker to replace the one killed")
    assert _venv_of(m, replaced[0]) == old
    maps = m.sh(f"cat /proc/{replaced[0]}/maps").stdout
    assert f"/venvs/{new}/" not in maps, f"the new worker mapped the new release:\n{maps[-2000:]}"
    _renders(m, "upgraded1")
    journal = _journal(m, f"--since '{since}'")
    assert "worker_died" in journal and "ImportError" not in journal, journal[-3000:]
    assert "workers_fail_at_boot" not in journal and m.show("ActiveState")["ActiveState"] == "active"

    # a restart: the new release runs
    m.sh("systemctl restart hotfolder.service")
    _runs_from(m, new, "the restarted daemon's STATUS=")
    _renders(m, "upgraded2")

    # --rollback: back to the previous release (checked with the config first), restarted
    r = m.sh("bash /src/systemd/install.sh --rollback", timeout=180)
    assert f"switched /opt/hotfolder/venv from {new} to {old}" in r.stdout, r.stdout
    _runs_from(m, old, "the rolled back daemon's STATUS=")
    assert "+two" not in m.sh(f"{HOTFOLDER} --version").stdout
    _renders(m, "rolledback")
    # and again: forward to the newer one
    r = m.sh("bash /src/systemd/install.sh --rollback", timeout=180)
    assert f"switched /opt/hotfolder/venv from {old} to {new}" in r.stdout, r.stdout
    _runs_from(m, new, "the daemon's STATUS= after going forward")


def _journal(m: Machine, *args: str) -> str:
    return m.sh(f"journalctl -u hotfolder.service --no-pager -o cat {' '.join(args)}", check=False).stdout


@pytest.mark.timeout(900)
def test_an_admin_of_umask_077_adds_the_status_page_with_a_token(rootfs, wheels, source, tmp_path):
    """The README's way, in a root shell of umask 077 (a hardened server's): install, then
    `http:` with its token from an EnvironmentFile= drop-in, then install.sh again, as
    "Upgrading" says, which is to enable hotfolder.socket for it."""
    token = "Tk-4c9e1f0b7d2a83f6e"
    with Machine(rootfs, {source: "/src", wheels: "/wheels"}, tmp_path / "console.log") as m:
        offline = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "/wheels"}
        r = m.sh("umask 077 && bash /src/systemd/install.sh 2>&1", env=offline, timeout=600, check=False)
        assert r.returncode == 0, f"install.sh under umask 077:\n{r.stdout[-3000:]}\n{_journal(m, '-n 20')}"
        wait_until(lambda: _status_text(m).startswith("processed "), 60, "the daemon's first STATUS=")

        m.sh(f"""cat >> {CONFIG} <<'EOF'
http:
  listen: "127.0.0.1:9464"
  token: "${{HOTFOLDER_TOKEN}}"
EOF""")
        m.sh(f"umask 077 && printf 'HOTFOLDER_TOKEN={token}\\n' > /etc/hotfolder/secrets.env && "
             "mkdir -p /etc/systemd/system/hotfolder.service.d && "
             "printf '[Service]\\nEnvironmentFile=/etc/hotfolder/secrets.env\\n' "
             "> /etc/systemd/system/hotfolder.service.d/secrets.conf && "
             "systemctl daemon-reload")
        r = m.sh("systemctl restart hotfolder.service", check=False)
        assert r.returncode == 0, _journal(m, "-n 30")
        # the sandbox has no Internet socket: the line says how to get the listener, once
        wait_until(lambda: "http_unavailable" in _journal(m), 30, "the daemon to say it has no listener")
        time.sleep(12)  # past the 10 s between its tries
        lines = [line for line in _journal(m).splitlines() if "http_unavailable" in line]
        assert len(lines) == 1, "\n".join(lines)
        assert "hotfolder.socket" in lines[0] and "systemctl stop hotfolder" in lines[0], lines[0]

        # install.sh again: the config's http: (its token not set in root's shell) enables the socket
        r = m.sh("umask 077 && bash /src/systemd/install.sh 2>&1", env=offline, timeout=600, check=False)
        assert r.returncode == 0 and "Traceback" not in r.stdout, r.stdout[-4000:]
        assert "enabling hotfolder.socket" in r.stdout, r.stdout[-4000:]
        assert m.sh("systemctl is-active hotfolder.socket", check=False).stdout.strip() == "active"
        wait_until(lambda: m.show("ActiveState")["ActiveState"] == "active", 60, "hotfolder.service to be active")
        probe = ("python3 -c 'import urllib.request as u; "
                 "print(u.urlopen(\"http://127.0.0.1:9464/healthz\", timeout=5).status)'")
        wait_until(lambda: m.sh(probe, check=False).stdout.strip() == "200", 30, "/healthz through hotfolder.socket")
        assert token not in m.sh("journalctl --no-pager -o verbose").stdout


# install.sh as it was before releases side by side: it filled /opt/hotfolder/venv in place
BEFORE_SIDE_BY_SIDE = "61a075f"


@pytest.mark.timeout(900)
def test_an_install_from_before_side_by_side_is_moved_aside_and_can_be_rolled_back_to(
        rootfs, wheels, source, images, tmp_path):
    old_script = subprocess.run(["git", "show", f"{BEFORE_SIDE_BY_SIDE}:systemd/install.sh"], cwd=REPO,
                                capture_output=True, timeout=30)
    if old_script.returncode != 0:
        pytest.skip(f"no git history with {BEFORE_SIDE_BY_SIDE} here")
    (source / "systemd" / "install-before.sh").write_bytes(old_script.stdout)
    with Machine(rootfs, {source: "/src", wheels: "/wheels", images: "/images"}, tmp_path / "console.log") as m:
        offline = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "/wheels"}
        m.sh("bash /src/systemd/install-before.sh", env=offline, timeout=600)
        assert m.sh("test -d /opt/hotfolder/venv && test ! -L /opt/hotfolder/venv", check=False).returncode == 0
        wait_until(lambda: _status_text(m).startswith("processed "), 60, "the first STATUS= from the daemon")

        r = m.sh("bash /src/systemd/install.sh", env=offline, timeout=600)
        moved = re.search(r"moving the venv of the earlier install aside: /opt/hotfolder/venvs/(\S+-moved)", r.stdout)
        assert moved and "stopping hotfolder.service" in r.stdout, r.stdout
        new = m.sh("readlink /opt/hotfolder/venv").stdout.strip().removeprefix("venvs/")
        assert m.sh("ls /opt/hotfolder/venvs").stdout.split() == sorted([moved.group(1), new]), r.stdout
        _runs_from(m, new, "the new release's STATUS=")
        _renders(m, "first")

        # the moved venv runs as itself (its scripts' #! lines name where it is now)
        r = m.sh("bash /src/systemd/install.sh --rollback", timeout=180)
        assert f"from {new} to {moved.group(1)}" in r.stdout, r.stdout
        _runs_from(m, moved.group(1), "the rolled back daemon's STATUS=")
        _renders(m, "second")
