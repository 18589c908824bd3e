"""The unit file, sysusers and tmpfiles snippets, checked by systemd's own tools.

Needs systemd-analyze (Debian: apt-get install systemd). `systemd-analyze verify`
exits 0 on many mistakes, so these tests fail on any text it prints.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.harness import REPO

UNIT = REPO / "systemd" / "hotfolder.service"
SYSUSERS = REPO / "systemd" / "hotfolder.sysusers"
TMPFILES = REPO / "systemd" / "hotfolder.tmpfiles"
SOCKET = REPO / "systemd" / "hotfolder.socket"
NOTIFY_DROPIN = REPO / "systemd" / "hotfolder-notify.conf"
MAX_EXPOSURE = 0.5  # with the status page and /metrics on: their socket comes from hotfolder.socket
MAX_EXPOSURE_WITH_NOTIFY = 1.0  # the drop-in notifications need (documented in it and in README)

ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(
    ANALYZE is None, reason="systemd-analyze is not installed (Debian: apt-get install systemd)"
)


def run(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, **kw)


def unit_directives(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        found.setdefault(key.strip(), []).append(value.strip())
    return found


def verifiable_copy(tmp_path: Path) -> Path:
    """The unit, with ExecStart's program pointed at one that exists on this machine.

    verify warns when the binary is missing, and the venv exists only after
    install.sh; only the program path changes, arguments and the rest stay.
    """
    text = UNIT.read_text()
    program = "/opt/hotfolder/venv/bin/hotfolder"
    if not os.access(program, os.X_OK):
        stand_in = shutil.which("hotfolder") or shutil.which("true")
        assert stand_in, "need some executable to stand in for the hotfolder console script"
        text = text.replace(f"ExecStart={program} ", f"ExecStart={stand_in} ")
    if not os.access("/bin/kill", os.X_OK):  # procps; present on any real Debian system
        text = text.replace("ExecReload=/bin/kill ", f"ExecReload={shutil.which('kill') or '/bin/true'} ")
    copy = tmp_path / "hotfolder.service"  # verify takes the unit name from the file name
    copy.write_text(text)
    return copy


@needs_analyze
def test_verify_prints_nothing(tmp_path):
    result = run(ANALYZE, "verify", "--man=no", str(verifiable_copy(tmp_path)))
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and output == "", f"systemd-analyze verify said:\n{output}"


@needs_analyze
def test_verify_would_catch_a_typo(tmp_path):
    """Guards the test above: verify does print warnings for a broken copy."""
    copy = verifiable_copy(tmp_path)
    copy.write_text(copy.read_text().replace("ProtectSystem=strict", "ProtectSytem=strict"))
    result = run(ANALYZE, "verify", "--man=no", str(copy))
    assert "ProtectSytem" in result.stdout + result.stderr


def exposure(unit: Path) -> tuple[float, str]:
    result = run(ANALYZE, "security", "--offline=true", "--no-pager", str(unit))
    text = result.stdout + result.stderr
    m = re.search(r"Overall exposure level for hotfolder\.service:\s*([0-9.]+)", text)
    assert m, f"no 'Overall exposure level' line in:\n{text}"
    return float(m.group(1)), "\n".join(line for line in text.splitlines() if line.startswith("✗"))


@needs_analyze
def test_security_exposure_is_at_most_half():
    score, bad = exposure(UNIT)
    assert score <= MAX_EXPOSURE, f"exposure {score} > {MAX_EXPOSURE}:\n{bad}"


@needs_analyze
def test_security_exposure_with_the_notify_drop_in(tmp_path):
    """The unit with hotfolder-notify.conf applied (its lines appended to [Service], as a
    drop-in's override the unit's): the score README states."""
    unit = UNIT.read_text()
    head, _, install = unit.partition("[Install]")
    dropin = "\n".join(line for line in NOTIFY_DROPIN.read_text().splitlines()
                       if line.strip() and not line.startswith(("#", "[")))
    combined = tmp_path / "hotfolder.service"
    combined.write_text(f"{head}\n{dropin}\n\n[Install]{install}")
    score, bad = exposure(combined)
    assert MAX_EXPOSURE < score <= MAX_EXPOSURE_WITH_NOTIFY, f"exposure {score}:\n{bad}"
    assert "PrivateNetwork=no" in dropin and "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" in dropin


def test_the_service_has_no_network_and_the_listener_comes_from_its_socket():
    service = {k: v[-1] for k, v in unit_directives(UNIT.read_text()).items()}
    assert service["PrivateNetwork"] == "yes" and service["RestrictAddressFamilies"] == "AF_UNIX"
    socket_unit = unit_directives(SOCKET.read_text())
    assert socket_unit["ListenStream"] == ["127.0.0.1:9464"], "one socket, loopback by default"
    assert socket_unit["Service"] == ["hotfolder.service"]


@needs_analyze
def test_the_socket_unit_verifies(tmp_path):
    copy = verifiable_copy(tmp_path)
    (tmp_path / "hotfolder.socket").write_text(SOCKET.read_text())
    result = run(ANALYZE, "verify", "--man=no", str(tmp_path / "hotfolder.socket"), str(copy))
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and output == "", f"systemd-analyze verify said:\n{output}"


@needs_analyze
def test_security_threshold_option_agrees():
    """--threshold makes systemd-analyze itself fail above the limit (exit 1)."""
    result = run(ANALYZE, "security", "--offline=true", "--no-pager", f"--threshold={int(MAX_EXPOSURE * 10)}",
                 str(UNIT))
    assert result.returncode == 0, result.stdout + result.stderr


def test_unit_has_what_the_daemon_relies_on():
    d = unit_directives(UNIT.read_text())
    one = {k: v[-1] for k, v in d.items()}
    assert one["Type"] == "notify"
    assert one["NotifyAccess"] == "main"
    assert one["ExecStart"] == "/opt/hotfolder/venv/bin/hotfolder run --config /etc/hotfolder/hotfolder.yaml"
    assert one["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert one["KillMode"] == "mixed"
    assert one["Restart"] == "on-failure"
    assert one["User"] == one["Group"] == "hotfolder"
    assert one["StateDirectory"] == "hotfolder"
    assert one["ConfigurationDirectory"] == "hotfolder"
    assert "RuntimeDirectory" in one
    assert one["WatchdogSec"]
    assert one["ProtectSystem"] == "strict"


def test_the_descriptor_limit_leaves_room_above_the_listeners_cap():
    """systemd's default soft limit is 1,024; idle HTTP clients once took all of them.
    The listener holds at most http.max_connections and keeps a reserve (web/connections.py);
    the limit is raised in the unit, as the daemon may not raise it itself (@resources)."""
    from hotfolder.ops.web.connections import FD_RESERVE

    limit = unit_directives(UNIT.read_text())["LimitNOFILE"][-1]
    soft = int(limit.split(":")[0])
    assert soft >= 8192 and soft >= 1000 + FD_RESERVE, limit


def _seconds(value: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|sec|min|m)?", value)
    assert m, f"cannot read the time span {value!r}"
    return float(m.group(1)) * (60 if m.group(2) in ("min", "m") else 1)


def test_stop_timeout_leaves_room_for_the_drain():
    from hotfolder.config import load, model

    d = unit_directives(UNIT.read_text())
    stop = _seconds(d["TimeoutStopSec"][-1])
    system = load(REPO / "config" / "hotfolder.system.yaml")
    default_drain = model.Config.__dataclass_fields__["drain_timeout"].default
    for drain in (system.drain_timeout, default_drain):
        assert stop >= drain + 10, f"TimeoutStopSec={stop}s leaves no room after a {drain}s drain"


def _bytes(value: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGT]?)", value)
    assert m, f"cannot read the size {value!r}"
    return int(float(m.group(1)) * 1024 ** " KMGT".index(m.group(2) or " "))


def test_memory_max_holds_four_workers_at_the_pixel_limit():
    # A worker's documented peak at max_image_pixels (engine/memory, measured by
    # `python -m bench.memory`), for the 4 workers the unit's comment promises, and the
    # main process (status, watchers, the forkserver: ~100 MiB measured).
    from hotfolder.config import load
    from hotfolder.engine.memory import worker_peak

    system = load(REPO / "config" / "hotfolder.system.yaml")
    memory_max = _bytes(unit_directives(UNIT.read_text())["MemoryMax"][-1])
    assert memory_max >= 4 * worker_peak(system.max_image_pixels) + 256 * 2**20
    assert memory_max < 5 * worker_peak(system.max_image_pixels), "sized for 4 workers, as its comment says"


def test_system_config_uses_the_state_directory():
    from hotfolder.config import load

    cfg = load(REPO / "config" / "hotfolder.system.yaml")
    assert cfg.state_dir == Path("/var/lib/hotfolder/state")
    for folder in cfg.folders:
        for d in folder.all_dirs():
            assert d.is_relative_to("/var/lib/hotfolder"), f"{d} is outside the sandbox's writable paths"
    tmpfiles_dirs = {line.split()[1] for line in TMPFILES.read_text().splitlines()
                     if line.strip() and not line.startswith("#")}
    for folder in cfg.folders:
        # duplicates/ too: made by the daemon, it had no setgid bit as the others (an admin's audit)
        for d in [*folder.all_dirs(), folder.duplicates, cfg.state_dir]:
            assert str(d) in tmpfiles_dirs, f"{d} is not created by hotfolder.tmpfiles"


@pytest.mark.skipif(shutil.which("systemd-sysusers") is None or shutil.which("systemd-tmpfiles") is None,
                    reason="systemd-sysusers/systemd-tmpfiles are not installed (Debian: apt-get install systemd)")
def test_sysusers_and_tmpfiles_apply_to_an_empty_root(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    for name in ("passwd", "group"):
        (root / "etc" / name).write_text("root:x:0:0:root:/root:/bin/sh\n" if name == "passwd" else "root:x:0:\n")
    r = run("systemd-sysusers", f"--root={root}", str(SYSUSERS))
    assert r.returncode == 0, r.stderr
    passwd = (root / "etc" / "passwd").read_text()
    group = (root / "etc" / "group").read_text()
    user = next(line.split(":") for line in passwd.splitlines() if line.startswith("hotfolder:"))
    assert user[5] == "/var/lib/hotfolder" and user[6].endswith("nologin")
    gid = int(next(line.split(":") for line in group.splitlines() if line.startswith("hotfolder:"))[2])
    assert int(user[3]) == gid
    if os.geteuid() != 0:
        pytest.skip("creating folders owned by another user needs root")
    r = run("systemd-tmpfiles", "--create", f"--root={root}", str(TMPFILES))
    assert r.returncode == 0, r.stderr
    base = root / "var/lib/hotfolder"
    for name in ("inbox", "output", "archive", "failed", "processing"):
        st = (base / name).stat()
        assert st.st_mode & 0o7777 == 0o2775, f"{name}: mode {st.st_mode & 0o7777:o}"
        assert st.st_gid == gid and st.st_uid == int(user[2])
