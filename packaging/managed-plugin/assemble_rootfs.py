"""Assemble a self-contained rootfs for the vdvs Docker managed plugin.

Usage: python assemble_rootfs.py ROOTFS   (run with the Python of the environment vdvs is installed in)

Into ROOTFS go:
- this interpreter (binary, libpython, the standard library without tests/GUI/IDE, and only the
  plain ``.pyc`` files), at the same absolute path it has here, so it finds its prefix unaided;
- a venv at /opt/vdvs holding vdvs (copied from the sources named in pyproject.toml) and every
  runtime dependency from pyproject.toml, transitively, copied file by file from this
  environment's installed distributions (RECORD), minus the broker-only ones (``--exclude``);
- the commands the plugin runs: mount, umount, blkid, mkfs.ext2/3/4, mkfs.xfs (and mkfs.btrfs if
  installed), /etc/mke2fs.conf;
- every shared library those ELF files need (``ldd`` closure), at the host's paths, plus
  libgcc_s (glibc loads it on thread exit);
- /opt/vdvs/bin/vdvs, the entrypoint, and the empty mount points config.json names.

Nothing is downloaded: the rootfs is exactly what runs here, so the plugin behaves as
``vdvs plugin`` on this host does. It needs only a Linux kernel from the Docker host.
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from importlib import metadata
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
TOOLS = ("mount", "umount", "blkid", "mkfs.ext2", "mkfs.ext3", "mkfs.ext4", "mkfs.xfs", "mkfs.btrfs")
REQUIRED_TOOLS = ("mount", "umount", "blkid", "mkfs.ext4")
TOOL_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
STDLIB_SKIP = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "site-packages", "dist-packages"}
DYNLOAD_SKIP = re.compile(r"^(_tkinter|_test|_ctypes_test|_xxtest|xxlimited|_curses|readline|nis|spwd|ossaudiodev)")
EXTRA_LIBS = ("libgcc_s.so.1",)
EMPTY_DIRS = ("dev", "proc", "sys", "tmp", "run/docker/plugins", "mnt/vmdk", "etc/vdvs/bundle", "var/lib/vdvs/plugin")
VENV = Path("/opt/vdvs")
VERSION_LINE = re.compile(r'^(VERSION\s*=\s*)"([^"]*)"', re.MULTILINE)
VERSION_FORMAT = re.compile(r"^[0-9][0-9A-Za-z.+-]{0,63}$")


def inside(rootfs: Path, path: str | Path) -> Path:
    return rootfs / str(path).lstrip("/")


def copy_file(src: Path, dst: Path) -> None:
    """Copy the content (symlinks followed) keeping mode and mtime (so .pyc files stay valid)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.is_symlink() or dst.exists():
        dst.unlink()
    shutil.copy2(src, dst, follow_symlinks=True)


def usrmerge(rootfs: Path) -> None:
    """bin, sbin, lib, lib64 as links into usr/, as on Debian 12: one path for every file."""
    for name in ("bin", "sbin", "lib", "lib64"):
        (rootfs / "usr" / name).mkdir(parents=True, exist_ok=True)
        link = rootfs / name
        if not link.is_symlink():
            link.symlink_to(f"usr/{name}")


def copy_python(rootfs: Path) -> list[Path]:
    """The interpreter and its standard library (libpython comes with the ldd closure); returns the ELF files."""
    exe = Path(os.path.realpath(sys.executable))
    elves = [exe]
    copy_file(exe, inside(rootfs, exe))
    stdlib = Path(sysconfig.get_path("stdlib"))
    tag = sys.implementation.cache_tag
    for src_dir, dirs, files in os.walk(stdlib):
        here = Path(src_dir)
        rel = here.relative_to(stdlib)
        if rel == Path("."):
            dirs[:] = [d for d in dirs if d not in STDLIB_SKIP and not d.startswith("config-")]
        for name in files:
            src = here / name
            if here.name == "__pycache__":
                if not name.endswith(f".{tag}.pyc"):
                    continue  # the optimized variants (opt-1, opt-2) are never used
            elif here.name == "lib-dynload":
                if DYNLOAD_SKIP.match(name):
                    continue
                elves.append(src)
            elif not name.endswith(".py"):
                continue
            copy_file(src, inside(rootfs, src))
    return elves


def _requirement_parser() -> type:
    try:
        from packaging.requirements import Requirement
    except ImportError:  # pip always carries a copy
        from pip._vendor.packaging.requirements import Requirement  # type: ignore[no-redef]
    return Requirement


def runtime_distributions(exclude: set[str]) -> list[metadata.Distribution]:
    """pyproject.toml's dependencies and theirs, as installed in this environment."""
    requirement = _requirement_parser()
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pending = [(req, "") for req in project["dependencies"]]
    found: dict[str, metadata.Distribution] = {}
    while pending:
        text, extra = pending.pop()
        req = requirement(text)
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        key = re.sub(r"[-_.]+", "-", req.name).lower()
        if key in exclude:
            continue
        if key not in found:
            try:
                found[key] = metadata.distribution(req.name)
            except metadata.PackageNotFoundError:
                raise SystemExit(f"{req.name} (needed by vdvs) is not installed in {sys.prefix}") from None
            pending += [(sub, "") for sub in found[key].requires or []]
        for wanted in req.extras:
            pending += [(sub, wanted) for sub in found[key].requires or []]
    return list(found.values())


def copy_distributions(dists: list[metadata.Distribution], site: Path) -> list[Path]:
    """Every file each distribution installed under site-packages; returns the ELF files."""
    elves = []
    for dist in dists:
        base = Path(str(dist.locate_file(""))).resolve()
        for entry in dist.files or []:
            src = Path(str(dist.locate_file(entry))).resolve()
            if not src.is_relative_to(base) or not src.is_file():
                continue  # console scripts in bin/, files removed since install
            copy_file(src, site / src.relative_to(base))
            if ".so" in src.suffixes:
                elves.append(src)
    return elves


def tree_version() -> str:
    """VERSION as proto/version.py (the one place it lives) says, read as text: no import of the tree."""
    found = VERSION_LINE.search((PROJECT / "proto" / "version.py").read_text(encoding="utf-8"))
    if found is None:
        raise SystemExit(f'no VERSION = "..." line in {PROJECT / "proto" / "version.py"}')
    return found.group(2)


def copy_vdvs(site: Path, version: str) -> None:
    """vdvs itself from the sources, per [tool.setuptools] (works for editable installs too). ``version``
    other than the tree's is written into the copied ``vdvs/proto/version.py`` only: a test build of
    another version never edits the tree."""
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))
    setup = project["tool"]["setuptools"]
    mapping: dict[str, str] = setup["package-dir"]
    for package in setup["packages"]:
        top = next(p for p in sorted(mapping, key=len, reverse=True) if package == p or package.startswith(p + "."))
        src = PROJECT / mapping[top] / Path(*package[len(top) :].split(".")[1:])
        dst = site / Path(*package.split("."))
        for path in sorted(src.iterdir()):
            if path.is_file() and (path.suffix in (".py", ".pyi", ".proto") or path.name == "py.typed"):
                copy_file(path, dst / path.name)
    copied = site / "vdvs" / "proto" / "version.py"
    copied.write_text(VERSION_LINE.sub(lambda m: f'{m.group(1)}"{version}"', copied.read_text(encoding="utf-8")))
    info = site / f"vdvs-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: vdvs\nVersion: {version}\n")
    (info / "INSTALLER").write_text("vdvs packaging/build-managed-plugin.sh\n")


def make_venv(rootfs: Path) -> Path:
    """/opt/vdvs: pyvenv.cfg + bin/python (link to the interpreter) + bin/vdvs; returns site-packages."""
    exe = Path(os.path.realpath(sys.executable))
    venv = inside(rootfs, VENV)
    (venv / "bin").mkdir(parents=True, exist_ok=True)
    version = ".".join(map(str, sys.version_info[:3]))
    cfg = f"home = {exe.parent}\ninclude-system-site-packages = false\nversion = {version}\n"
    (venv / "pyvenv.cfg").write_text(cfg)
    python = venv / "bin" / "python"
    if python.is_symlink():
        python.unlink()
    python.symlink_to(exe)
    launcher = venv / "bin" / "vdvs"
    launcher.write_text(f"#!{VENV}/bin/python\nimport sys\n\nfrom vdvs.cli.main import main\n\nsys.exit(main())\n")
    launcher.chmod(0o755)
    return venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


def copy_tools(rootfs: Path) -> list[Path]:
    elves = []
    for tool in TOOLS:
        found = shutil.which(tool, path=TOOL_PATH)
        if found is None:
            if tool in REQUIRED_TOOLS:
                raise SystemExit(f"{tool} is not installed here (apt-get install util-linux mount e2fsprogs)")
            continue
        path = Path(found)
        copy_file(path, inside(rootfs, path))
        elves.append(path)
    for conf in (Path("/etc/mke2fs.conf"),):
        if conf.exists():
            copy_file(conf, inside(rootfs, conf))
    return elves


def shared_libraries(elves: list[Path]) -> set[Path]:
    """The ``ldd`` closure of the given ELF files (ldd already resolves transitively)."""
    libs: set[Path] = set()
    for elf in elves:
        done = subprocess.run(["ldd", str(elf)], capture_output=True, text=True, timeout=60, check=False)
        for raw in done.stdout.splitlines():
            line = raw.strip()
            if "not found" in line:
                raise SystemExit(f"{elf}: {line}")
            target = line.split("=>", 1)[1] if "=>" in line else line
            path = target.strip().split(" (", 1)[0].strip()
            if path.startswith("/"):
                libs.add(Path(path))
    return libs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rootfs", type=Path)
    parser.add_argument("--exclude", default="pyvmomi,psycopg", help="broker-only distributions to leave out")
    parser.add_argument("--version", default="", help="the VERSION the plugin reports [default: the tree's]")
    args = parser.parse_args()
    version = args.version or tree_version()
    if not VERSION_FORMAT.match(version):
        raise SystemExit(f"--version {version!r}: give a version such as 0.2.0 or 0.2.0.dev1")
    rootfs: Path = args.rootfs.resolve()
    rootfs.mkdir(parents=True, exist_ok=True)
    usrmerge(rootfs)
    for name in EMPTY_DIRS:
        inside(rootfs, name).mkdir(parents=True, exist_ok=True)
    elves = copy_python(rootfs)
    site = make_venv(rootfs)
    exclude = {re.sub(r"[-_.]+", "-", n).lower() for n in args.exclude.split(",") if n}
    elves += copy_distributions(runtime_distributions(exclude), site)
    copy_vdvs(site, version)
    elves += copy_tools(rootfs)
    libs = shared_libraries(elves)
    for libdir in {lib.parent for lib in libs}:
        libs |= {libdir / name for name in EXTRA_LIBS if (libdir / name).exists()}
    for lib in libs:
        copy_file(lib, inside(rootfs, lib))
    compileall.compile_dir(site, quiet=1, workers=0, stripdir=str(rootfs), prependdir="/")
    print(f"rootfs assembled in {rootfs}")


if __name__ == "__main__":
    main()
