"""Attack classes 4-11 of issue 11, against the OS confinement of the process that runs student code.

Each attack runs at import of basic_call.py and raises "ESCAPED: ..." when any of its tries works,
so a working submission carrying it keeps exactly its honest score (10) only when every try fails,
and a stub copy carrying it scores 0. Each case is bounded: loopback only, tiny files, capped
processes, nothing left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from grader import course
from grader.parent import grading, report, warm_judges
from grader.sandbox.outside import confinement
from tests.conftest import REFERENCE, ROOT, STUBS, GradeRun

pytestmark = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="the full level needs root")

TAG = uuid.uuid4().hex[:12]


def _attack(tries: str) -> str:
    """Module code: run `tries` (each appends to `escaped` when it works), raise if any did."""
    body = "\n".join("    " + line for line in tries.strip().splitlines())
    return (
        "\ndef _attack():\n    import os, sys\n    escaped = []\n"
        f"{body}\n"
        "    if escaped:\n        raise RuntimeError('ESCAPED: ' + '; '.join(escaped))\n\n_attack()\n"
    )


def _grade_with(grade: Callable[..., GradeRun], tmp_path: Path, base: Path, code: str, *extra: str) -> GradeRun:
    submission = tmp_path / f"submission-{base.name}"
    shutil.copytree(REFERENCE, submission, ignore=shutil.ignore_patterns("__pycache__"))
    (submission / "basic_call.py").write_text((base / "basic_call.py").read_text() + "\n" + code)
    return grade(submission, "basic_call", "--check-timeout", "5", "--time-limit", "240", *extra)


def _assert_honest(run: GradeRun, expected: int) -> None:
    assert run.returncode == 0, run.output
    basic = run.exercise("basic_call")
    feedback = [t["feedback"] for t in basic["tests"] if t["status"] != "passed"]
    assert basic["score"] == expected, feedback[:2]
    assert run.report is not None and run.report["sandbox"]["level"] == "full", run.report


def _trusted_files() -> dict[Path, bytes]:
    import grader

    package = Path(grader.__file__).parent
    return {p: p.read_bytes() for p in sorted(package.rglob("*.py"))[:400]}


# Class 4: writing what the trusted side later reads or imports.
WRITE_TRUSTED = _attack(
    f"""
import grader, openai, site, sysconfig
targets = [
    os.path.join(os.path.dirname(grader.__file__), 'zz_{TAG}.py'),
    os.path.join(os.path.dirname(grader.__file__), '__pycache__', 'zz_{TAG}.cpython-311.pyc'),
    os.path.join(os.path.dirname(openai.__file__), 'zz_{TAG}.py'),
    os.path.join(sysconfig.get_paths()['purelib'], 'zz_{TAG}.pth'),
    os.path.join(sysconfig.get_paths()['purelib'], 'sitecustomize.py'),
    os.path.join(os.path.dirname(grader.__file__), 'suites', 'basic_call', 'zz_{TAG}.py'),
]
for target in targets:
    try:
        with open(target, 'x') as f:
            f.write('# planted')
        escaped.append('wrote ' + target)
        os.unlink(target)
    except OSError:
        pass
try:
    with open(grader.__file__, 'a'):
        escaped.append('opened grader for writing')
except OSError:
    pass
"""
)


def test_class4_cannot_write_grader_packages_bytecode_or_suites(grade, tmp_path: Path):
    before = _trusted_files()
    _assert_honest(_grade_with(grade, tmp_path, REFERENCE, WRITE_TRUSTED), 10)
    _assert_honest(_grade_with(grade, tmp_path, STUBS, WRITE_TRUSTED), 0)
    assert _trusted_files() == before


# Class 4 (reports): a symlink or FIFO put in place of the report, its temporary name or results.json.
REPORT_LINKS = _attack(
    """
cmdline = open(f'/proc/{os.getppid()}/cmdline', 'rb').read().split(b'\\0')
paths = [cmdline[i + 1].decode() for i, a in enumerate(cmdline) if a in (b'--json', b'--gradescope')]
for path in paths:
    for name in (path + '.tmp', path):
        try:
            os.symlink(os.path.join(os.path.dirname(path), 'victim.txt'), name)
            escaped.append('planted a link at ' + name)
        except OSError:
            pass
"""
)


def test_class4_report_files_cannot_be_redirected(grade, tmp_path: Path):
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched")
    run = _grade_with(grade, tmp_path, REFERENCE, REPORT_LINKS, "--gradescope", str(tmp_path / "results.json"))
    _assert_honest(run, 10)
    assert victim.read_text() == "untouched"
    assert not (tmp_path / "report.json").is_symlink() and not (tmp_path / "results.json").is_symlink()
    assert json.loads((tmp_path / "results.json").read_text())["tests"]


# Class 5: signalling, tracing or re-limiting the parent.
SIGNAL_PARENT = _attack(
    """
import resource, signal
parent = os.getppid()
try:
    resource.prlimit(parent, resource.RLIMIT_NOFILE, (8, 8))
    escaped.append('re-limited the parent')
except OSError:
    pass
for sig in (signal.SIGSTOP, signal.SIGCONT, signal.SIGTERM):
    try:
        os.kill(parent, sig)
        escaped.append(f'sent {sig!r} to the parent')
    except OSError:
        pass
try:
    os.kill(1, 0)
    escaped.append('can signal init')
except OSError:
    pass
"""
)


def test_class5_cannot_signal_or_relimit_the_parent(grade, tmp_path: Path):
    _assert_honest(_grade_with(grade, tmp_path, REFERENCE, SIGNAL_PARENT), 10)
    _assert_honest(_grade_with(grade, tmp_path, STUBS, SIGNAL_PARENT), 0)


# Class 6: a process that hops pids (fork, parent exits) outruns a scan by parent id.
HOPPER = f"""
import subprocess, sys
hop = '''
import os, sys, time
end = time.monotonic() + 20
while time.monotonic() < end:  # a new pid every fork: a scan by parent id keeps missing it
    if os.fork():
        os._exit(0)
'''
subprocess.Popen([sys.executable, '-c', hop, 'grader-hopper-{TAG}'], start_new_session=True)
"""


def test_class6_no_process_outlives_grading(grade, tmp_path: Path):
    from tests.test_adversarial import processes_with

    try:
        run = _grade_with(grade, tmp_path, REFERENCE, HOPPER)
        _assert_honest(run, 10)
        # Scanned for a second: a hopping process can be between two pids at any one scan.
        survivors: set[int] = set()
        for _ in range(20):
            survivors |= set(processes_with(f"grader-hopper-{TAG}"))
            time.sleep(0.05)
        assert not survivors, f"{len(survivors)} process(es) outlived grading"
    finally:
        for pid in processes_with(f"grader-hopper-{TAG}"):
            os.kill(pid, 9)


# Class 7: memory outside RLIMIT_AS, disk filled with small files, a process flood (capped here).
RESOURCES = _attack(
    """
import subprocess
try:
    fd = os.memfd_create('hoard')
    os.ftruncate(fd, 2**31)  # no page is touched: nothing is really used
    escaped.append('memfd_create')
except OSError:
    pass
for shm in ('/dev/shm', '/tmp'):
    try:
        with open(f'{shm}/hoard-' + str(os.getpid()), 'w') as f:
            f.write('x')
        os.unlink(f.name)
        # Writing is an escape only outside the box's capped tmpfs: the box's own /dev/shm (issue 20 class 14,
        # for multiprocessing) is a folder of that tmpfs, on the same device as its home, counted in its cap.
        if os.stat(shm).st_dev != os.stat(os.path.expanduser('~')).st_dev:
            escaped.append('wrote to ' + shm)
    except OSError:
        pass
import shutil, tempfile
scratch = tempfile.mkdtemp()  # in the sandbox's home; never the grader user's own
try:
    for i in range(6000):
        open(os.path.join(scratch, f'f{i}'), 'w').close()
    escaped.append('made 6000 files')
except OSError:
    pass
finally:
    shutil.rmtree(scratch, ignore_errors=True)
children = []
try:
    for _ in range(300):
        children.append(subprocess.Popen(['sleep', '30']))
    escaped.append(f'started {len(children)} processes')
except OSError:
    pass
finally:
    for child in children:
        child.kill()
        child.wait()
"""
)


def test_class7_resource_limits_hold(grade, tmp_path: Path):
    _assert_honest(_grade_with(grade, tmp_path, REFERENCE, RESOURCES), 10)


# Class 8: the network, by ctypes, a subprocess or a new interpreter (to a listener on loopback).
def _network_attack(port: int) -> str:
    return _attack(
        f"""
import ctypes, subprocess, struct
libc = ctypes.CDLL(None)
fd = libc.socket(2, 1, 0)
if fd >= 0:
    address = struct.pack('!HH4s8x', 2, {port}, bytes([127, 0, 0, 1]))
    address = struct.pack('H', 2) + address[2:]
    if libc.connect(fd, address, len(address)) == 0:
        escaped.append('ctypes connect')
code = 'import socket; socket.create_connection(("127.0.0.1", {port}), timeout=2)'
if subprocess.run([sys.executable, '-c', code], capture_output=True).returncode == 0:
    escaped.append('new interpreter connected')
"""
    )


def test_class8_no_network_by_any_route(grade, tmp_path: Path):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    accepted: list[object] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(listener.accept())
            except OSError:
                continue

    thread = threading.Thread(target=accept)
    thread.start()
    try:
        run = _grade_with(grade, tmp_path, REFERENCE, _network_attack(listener.getsockname()[1]))
    finally:
        stop.set()
        thread.join()
        listener.close()
    _assert_honest(run, 10)
    assert not accepted


# Class 9 (and part of 3): secrets a deny-list misses, the parent's /proc, the reference solutions.
SECRETS = {"PGPASSWORD": "pg-test-4711", "DATABASE_URL": "postgres://u:p@db/x-4711", "AZURE_OPENAI_KEY": "az-test-4711"}
READ_SECRETS = _attack(
    f"""
for name in {sorted(SECRETS)!r}:
    if name in os.environ:
        escaped.append('saw ' + name)
try:
    if b'4711' in open(f'/proc/{{os.getppid()}}/environ', 'rb').read():
        escaped.append('read the parent environment')
except OSError:
    pass
for path in ({str(ROOT / "tests" / "reference" / "basic_call.py")!r}, '/root/.bash_history'):
    try:
        open(path).read(1)
        escaped.append('read ' + path)
    except OSError:
        pass
"""
)


def test_class9_no_secrets_parent_proc_or_reference(grade, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    run = _grade_with(grade, tmp_path, REFERENCE, READ_SECRETS)
    _assert_honest(run, 10)
    assert not any(v in run.output for v in SECRETS.values())


# Class 4 (claims): parallel judges claim exercises in a folder named on their command lines. A sandbox that
# could write there would take, free or block another exercise's claim, and so unsettle grading.
# The attack finds the claims folder on a judge's command line (`--grader-claims`), as a judge started as an
# interpreter shows it to every process. A judge forked from a warm judge shows the zygote's command line, which
# names no claims folder: there the attack finds nothing and would prove nothing. Where the folder is stays a
# hint, not a defence, so these tests start their judges as interpreters and hand the attack the path.
CLAIMS = _attack(
    """
folders = set()
for pid in os.listdir('/proc'):
    try:
        cmdline = open(f'/proc/{pid}/cmdline', 'rb').read().split(b'\\0')
    except OSError:
        continue
    folders.update(cmdline[i + 1].decode() for i, a in enumerate(cmdline[:-1]) if a == b'--grader-claims')
import glob, tempfile
folders.update(glob.glob('/tmp/grader-claims-*') + glob.glob(os.path.join(tempfile.gettempdir(), 'grader-claims-*')))
if not folders and not os.environ.get('GRADER_ATTACK_BLIND'):
    escaped.append('found no claims folder to attack: the attack would prove nothing')
for folder in folders:
    try:
        names = os.listdir(folder)
        escaped.append('listed ' + folder)
    except OSError:
        names = []
    for name in ['exercise-temperature', 'lane-9', *names]:
        target = os.path.join(folder, name)
        try:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o600))
            escaped.append('made ' + target)
        except OSError:
            pass
        try:
            os.unlink(target)
            escaped.append('removed ' + target)
        except OSError:
            pass
"""
)


def test_class4_no_sandbox_can_take_or_free_a_parallel_judges_claim(
    grade, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("GRADER_JUDGES", "2")  # two judges share the exercises through a claims folder
    monkeypatch.setenv(warm_judges.SWITCH, "0")  # the attack must find the folder: see CLAIMS
    submission = tmp_path / "submission"
    shutil.copytree(REFERENCE, submission, ignore=shutil.ignore_patterns("__pycache__"))
    (submission / "basic_call.py").write_text((REFERENCE / "basic_call.py").read_text() + "\n" + CLAIMS)
    run = grade(submission, "basic_call", "temperature", "--check-timeout", "5", "--time-limit", "240")
    _assert_honest(run, 10)
    assert run.exercise("temperature")["score"] == 10


def test_class4_claims_hold_where_the_sandbox_shares_the_judges_uid(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """A non-root runner or laptop: no uid of the sandbox's own, so Landlock alone keeps the folder out of reach."""
    layers = ("seccomp", "landlock", "rlimits", "session", "env-allowlist")
    monkeypatch.setattr(confinement, "probe", lambda: confinement.Capabilities(layers, {"uid": "masked by the test"}))
    monkeypatch.setenv(warm_judges.SWITCH, "0")  # the attack must find the folder: see CLAIMS
    submission = tmp_path / "submission"
    shutil.copytree(REFERENCE, submission, ignore=shutil.ignore_patterns("__pycache__"))
    (submission / "basic_call.py").write_text((REFERENCE / "basic_call.py").read_text() + "\n" + CLAIMS)
    chosen = [course.exercise(e) for e in ("basic_call", "temperature")]
    result = grading.grade_submission(chosen, submission, time_limit=240, judges=2, check_timeout=5)
    data = report.as_json(result)
    failed = [t["feedback"] for e in data["exercises"] for t in e["tests"] if t["status"] != "passed"]
    assert data["score"] == data["max_score"], failed[:1]
    assert data["sandbox"]["layers"] == list(layers)


# Class 10: flooding the result channel (its inherited descriptor) and the output.
FLOOD = """
import os, sys
for fd in range(3, 64):
    try:
        target = os.readlink(f'/proc/self/fd/{fd}')
    except OSError:
        continue
    if target.endswith('.jsonl'):
        try:
            for _ in range(64):
                os.write(fd, b'{"payload": "x"}\\n' * 60000)
        except OSError:
            pass
sys.stdout.write('y' * 2**20)
"""


# Class 4 (results): the result channel's file replaced by a FIFO, which would hang a parent reading it.
CHANNEL_FIFO = _attack(
    """
for fd in range(3, 64):
    try:
        target = os.readlink(f'/proc/self/fd/{fd}')
    except OSError:
        continue
    if target.endswith('.jsonl'):
        try:
            os.unlink(target)
            os.mkfifo(target)
            escaped.append('replaced the result channel with a FIFO')
        except OSError:
            pass
"""
)


def test_class4_result_channel_cannot_be_replaced(grade, tmp_path: Path):
    _assert_honest(_grade_with(grade, tmp_path, REFERENCE, CHANNEL_FIFO), 10)


def test_class10_channel_flood_costs_only_the_flooder(grade, tmp_path: Path):
    run = _grade_with(grade, tmp_path, REFERENCE, FLOOD)
    # The result channel belongs to the judge alone: the sandbox holds no descriptor of it, and what it
    # prints stays in the sandbox (capped), so the flood changes nothing.
    assert run.returncode == 0 and run.report is not None, run.output
    assert run.report["sandbox"]["level"] == "full"
    assert run.exercise("basic_call")["score"] == 10
    assert not any("forged or corrupt" in n for n in run.report["notes"]), run.report["notes"]
    assert len(run.output) < 200_000


# Class 11: in batch, one submission reading, changing or deleting another's files.
def _batch_attack() -> str:
    return _attack(
        f"""
import glob, time
# Where to look: the grader's temporary folders, and every folder named on the parent's command line.
cmdline = open(f'/proc/{{os.getppid()}}/cmdline', 'rb').read().decode().split('\\0')
roots = ['/tmp/grader-*'] + [glob.escape(a) for a in cmdline if a.startswith('/') and os.path.isdir(a)]
end = time.monotonic() + 8
while time.monotonic() < end and not escaped:
    for path in [p for root in roots for p in glob.glob(root + '/**/*.py', recursive=True)]:
        try:
            text = open(path).read()
        except OSError:
            continue
        if 'victim-{TAG}' in text:
            escaped.append('read ' + path)
            try:
                open(path, 'w').write('')
                escaped.append('emptied ' + path)
            except OSError:
                pass
    time.sleep(0.05)
"""
    )


def test_class11_batch_submissions_cannot_see_each_other(tmp_path: Path):
    import subprocess
    import sys

    batch = tmp_path / "class"
    for name, base, code in (
        ("attacker", STUBS, _batch_attack()),
        ("victim", REFERENCE, f"\n# victim-{TAG}\n"),
    ):
        target = batch / name
        shutil.copytree(REFERENCE, target, ignore=shutil.ignore_patterns("__pycache__"))
        (target / "basic_call.py").write_text((base / "basic_call.py").read_text() + "\n" + code)
    csv_path = tmp_path / "grades.csv"
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
    result = subprocess.run(
        [sys.executable, "-m", "grader", "batch", str(batch), "--csv", str(csv_path), "-j", "2", "-e", "basic_call",
         "--json-dir", str(tmp_path / "json")],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    victim = json.loads((tmp_path / "json" / "victim.json").read_text())
    attacker = json.loads((tmp_path / "json" / "attacker.json").read_text())
    assert victim["score"] == 10
    assert attacker["score"] == 0
    feedback = " ".join(t["feedback"] for e in attacker["exercises"] for t in e["tests"])
    assert "ESCAPED" not in feedback, feedback[:500]
    assert course.CASSETTES_DIR.is_dir()
