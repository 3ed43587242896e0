"""Where users run, simulated here: a non-root user (with or without sudo), and a Docker-like container.

- `container_command(cmd)`: root without CAP_SYS_ADMIN (Docker's default capabilities drop it) under
  Docker's default seccomp profile, which `python tests/support/platforms.py container -- CMD` loads through
  libseccomp exactly as runc does for a container without CAP_SYS_ADMIN on x86_64 (the rules Docker keeps
  for that capability set), then drops the capability from the bounding set and execs CMD.
  The profile is moby's `profiles/seccomp/default.json`, vendored unchanged as `moby-seccomp-default.json`
  (from moby/moby, vendor/github.com/moby/profiles/seccomp/default.json at b985e23, Apache-2.0).
- `user(name, sudo=...)`: a login user made with useradd, with passwordless sudo as GitHub's hosted runners
  have, or without it (a self-hosted runner, a student's laptop).
- `public_venv(folder)`: an environment another uid can run, as on GitHub (a world-readable tool cache) and
  in Gradescope's image: Debian's own Python of this X.Y and a copy of this environment's packages. This
  machine's Python lives under /root, which no other user may enter.
"""

from __future__ import annotations

import json
import os
import platform
import pwd
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

PROFILE = Path(__file__).with_name("moby-seccomp-default.json")
DROPPED_CAPABILITY = "CAP_SYS_ADMIN"
_ARCHES = {"x86_64": ("amd64", "x86_64", "SCMP_ARCH_X86_64"), "aarch64": ("arm64", "aarch64", "SCMP_ARCH_AARCH64")}


def _applies(rule: dict[str, Any], caps: set[str], arches: tuple[str, ...]) -> bool:
    """Docker's own test of a rule against the container's capabilities and architecture."""
    includes, excludes = rule.get("includes") or {}, rule.get("excludes") or {}
    if includes.get("caps") and not set(includes["caps"]) <= caps:
        return False
    if includes.get("arches") and not set(includes["arches"]) & set(arches):
        return False
    if excludes.get("caps") and set(excludes["caps"]) & caps:
        return False
    return not (excludes.get("arches") and set(excludes["arches"]) & set(arches))


def load_profile(profile: Path = PROFILE) -> int:
    """Load Docker's default profile on this process for a container without CAP_SYS_ADMIN; rules loaded."""
    import pyseccomp as sc

    ops = {"SCMP_CMP_" + name: getattr(sc, name) for name in ("EQ", "NE", "LT", "LE", "GT", "GE", "MASKED_EQ")}
    data = json.loads(profile.read_text())
    arches = _ARCHES.get(platform.machine(), (platform.machine(),))
    # Every capability Docker grants by default is irrelevant to the rules but CAP_SYS_ADMIN and the
    # few others the profile names; the container has Docker's default set, so none of those.
    caps = {"CAP_CHOWN", "CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_DAC_OVERRIDE", "CAP_FOWNER"}
    default = sc.ERRNO(int(data.get("defaultErrnoRet", 1)))
    f: Any = sc.SyscallFilter(default)
    loaded = 0
    for rule in data["syscalls"]:
        if not _applies(rule, caps, arches):
            continue
        action = sc.ALLOW if rule["action"] == "SCMP_ACT_ALLOW" else sc.ERRNO(int(rule.get("errnoRet", 1)))
        args = [sc.Arg(a["index"], ops[a["op"]], a["value"], a.get("valueTwo", 0)) for a in rule.get("args") or ()]
        if rule["action"] not in ("SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO"):
            raise ValueError(f"{profile}: action {rule['action']} is not simulated")
        for name in rule["names"]:
            try:
                f.add_rule(action, name, *args)
                loaded += 1
            except (OSError, RuntimeError, ValueError):
                pass  # a syscall this libseccomp or architecture does not know: Docker skips it too
    f.load()
    return loaded


def container_command(command: list[str]) -> list[str]:
    """`command` run as root without CAP_SYS_ADMIN, under Docker's default seccomp profile."""
    return [sys.executable, str(Path(__file__).resolve()), "container", "--", *command]


def _container_main(command: list[str]) -> None:
    load_profile()
    # The filter is in force first, as runc loads it before the container's process starts; then the
    # capability leaves the bounding set, so no exec ever gets it back.
    setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
    os.execv(setpriv, [setpriv, "--bounding-set", "-sys_admin", "--inh-caps", "-sys_admin", "--", *command])


def user(name: str, *, sudo: bool) -> pwd.struct_passwd:
    """A login user `name` (created if missing), with passwordless sudo or, with `sudo=False`, none."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "-m", "-s", "/bin/bash", name], check=True, capture_output=True)
        entry = pwd.getpwnam(name)
    rule = Path(f"/etc/sudoers.d/grader-tests-{name}")
    if sudo:
        rule.parent.mkdir(parents=True, exist_ok=True)
        rule.write_text(f"{name} ALL=(ALL) NOPASSWD:ALL\n")
        rule.chmod(0o440)
    else:
        rule.unlink(missing_ok=True)
    return entry


def has_sudo() -> bool:
    return shutil.which("sudo") is not None


def as_user(name: str, command: list[str], env: dict[str, str]) -> list[str]:
    """`command` run as `name` with exactly `env` (runuser keeps no variable of root's)."""
    return ["runuser", "-u", name, "--", "env", "-i", *(f"{k}={v}" for k, v in env.items()), *command]


def system_python() -> Path | None:
    """Debian's own Python of this X.Y, which any user may run (None when it is not installed)."""
    found = Path(f"/usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}")
    return found if found.exists() else None


def public_folder(parent: Path, name: str) -> Path:
    """A folder any user may enter and read, under a parent they may enter (/tmp)."""
    folder = parent / name
    folder.mkdir(mode=0o755, exist_ok=True)
    folder.chmod(0o755)
    return folder


def public_venv(folder: Path, project: Path | None = None, *, owner: str | None = None) -> Path:
    """A venv of Debian's Python holding this environment's packages; its python.

    The project's editable install is pointed at `project` (a copy of the checkout) when given. A `nox`
    command is written as pip would write it, since pip finds nox installed and writes no script. With an
    `owner`, the files are copies that user owns (GitHub's tool cache belongs to the runner, whose `pip install`
    writes there); without, hard links to this environment's own, which nobody but root may change.
    """
    python = system_python()
    if python is None:
        raise FileNotFoundError(f"no /usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}")
    subprocess.run([str(python), "-m", "venv", "--without-pip", str(folder)], check=True, capture_output=True)
    ours = Path(sysconfig.get_paths()["purelib"])
    theirs = Path(
        subprocess.run(
            [str(folder / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
    )  # fmt: skip
    copy = shutil.copy2 if owner else _link_or_copy
    shutil.copytree(ours, theirs, dirs_exist_ok=True, symlinks=True, copy_function=copy)
    if project is not None:
        here = str(Path(__file__).resolve().parents[2])
        for finder in theirs.glob("__editable__*finder.py"):
            text = finder.read_text()
            finder.unlink()  # a hard link to this environment's own file: write a new one
            finder.write_text(text.replace(repr(here)[1:-1], str(project)))
    script = folder / "bin" / "nox"
    script.write_text(f"#!{folder / 'bin' / 'python'}\nimport sys\nfrom nox.__main__ import main\nsys.exit(main())\n")
    script.chmod(0o755)
    for path in (folder, *folder.rglob("*")):
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o555 if path.is_dir() else path.stat().st_mode | 0o444)
    if owner:
        subprocess.run(["chown", "-R", f"{owner}:{owner}", str(folder)], check=True)
    return folder / "bin" / "python"


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "container" and sys.argv[2] == "--":
        _container_main(sys.argv[3:])
    sys.exit("usage: python tests/support/platforms.py container -- COMMAND ...")
