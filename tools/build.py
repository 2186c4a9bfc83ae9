"""Build the Lambda deployment zip reproducibly: ``dist/s3-hydration-lambda.zip``.

The zip holds the contents of ``src/`` (every package except the operator CLI) at its root, plus the runtime
dependencies from pyproject's ``[project] dependencies`` installed for the Lambda platform (manylinux2014
x86_64, CPython 3.13, wheels only). Each dependency is pinned to the version installed in the environment
running this script (the dev venv the tests run in), so the zip ships exactly what was tested, boto3 and
botocore included: the functions never rely on the runtime's own boto3.

Reproducible: files in sorted order, every timestamp 1980-01-01 00:00, fixed permissions, no
``__pycache__``/``*.pyc``, no pip bookkeeping (``RECORD``, ``INSTALLER``, ``REQUESTED``, ``direct_url.json``).
Building twice from the same tree gives the same sha256, which is printed.

Usage: python tools/build.py [--output dist/s3-hydration-lambda.zip] [--src src] [--no-pin]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "dist" / "s3-hydration-lambda.zip"

# src/ entries that are not part of the functions' code.
EXCLUDED_SRC_TOP_LEVEL = frozenset({"hydration_cli"})
EXCLUDED_DIR_NAMES = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".egg-info")
# pip's install bookkeeping: differs between installs (or says nothing the runtime needs).
EXCLUDED_DIST_INFO_FILES = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})

ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644
PIP_PLATFORM_ARGS = (
    "--platform",
    "manylinux2014_x86_64",
    "--implementation",
    "cp",
    "--python-version",
    "3.13",
    "--only-binary=:all:",
)


def runtime_requirements(pyproject: Path) -> list[str]:
    """The ``[project] dependencies`` of pyproject.toml."""
    with pyproject.open("rb") as fh:
        return list(tomllib.load(fh)["project"]["dependencies"])


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_pins() -> list[str]:
    """``name==version`` for every distribution installed here: pip constraints for the Lambda install.

    Constraints only limit versions, they never add packages, so pinning the whole environment pins exactly
    the runtime dependencies and their transitive dependencies to what the tests ran with.
    """
    pins: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name and dist.version:
            pins.setdefault(_normalise(name), f"{_normalise(name)}=={dist.version}")
    return sorted(pins.values())


def install_dependencies(requirements: list[str], target: Path, pins: list[str] | None) -> None:
    """pip-install the requirements for the Lambda platform into ``target``."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--target",
        str(target),
        *PIP_PLATFORM_ARGS,
    ]
    with tempfile.TemporaryDirectory() as tmp:
        if pins:
            constraints = Path(tmp) / "constraints.txt"
            constraints.write_text("\n".join(pins) + "\n")
            cmd += ["--constraint", str(constraints)]
        cmd += requirements
        subprocess.run(cmd, check=True)  # noqa: S603 - fixed argv, no shell


def _excluded(rel: Path) -> bool:
    parts = rel.parts
    if any(part in EXCLUDED_DIR_NAMES or part.endswith(".egg-info") for part in parts):
        return True
    if rel.name.endswith(EXCLUDED_SUFFIXES):
        return True
    return len(parts) >= 2 and parts[-2].endswith(".dist-info") and rel.name in EXCLUDED_DIST_INFO_FILES


def iter_files(base: Path, skip_top_level: Iterable[str] = ()) -> Iterator[tuple[str, Path]]:
    """(archive name, path) for every regular file under ``base`` that belongs in the zip."""
    skip = set(skip_top_level)
    for path in base.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        rel = path.relative_to(base)
        if rel.parts[0] in skip or _excluded(rel):
            continue
        yield rel.as_posix(), path


def write_zip(entries: dict[str, Path], output: Path) -> str:
    """Write the entries in sorted order with fixed metadata; return the zip's sha256."""
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_suffix(output.suffix + ".tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        for arcname in sorted(entries):
            info = zipfile.ZipInfo(arcname, date_time=ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so external_attr carries the permissions
            info.external_attr = (0o100000 | FILE_MODE) << 16
            zf.writestr(info, entries[arcname].read_bytes(), compresslevel=9)
    tmp.replace(output)
    return hashlib.sha256(output.read_bytes()).hexdigest()


def build(output: Path = DEFAULT_OUTPUT, *, src: Path = ROOT / "src", pin: bool = True) -> str:
    """Build the zip at ``output``; return its sha256."""
    requirements = runtime_requirements(ROOT / "pyproject.toml")
    with tempfile.TemporaryDirectory(prefix="s3-hydration-build-") as tmp:
        deps = Path(tmp) / "deps"
        deps.mkdir()
        install_dependencies(requirements, deps, installed_pins() if pin else None)
        shutil.rmtree(deps / "bin", ignore_errors=True)  # console scripts: not importable, not needed
        entries = dict(iter_files(deps))
        code = dict(iter_files(src, skip_top_level=EXCLUDED_SRC_TOP_LEVEL))
        clashes = sorted(set(entries) & set(code))
        if clashes:
            raise SystemExit(f"src/ files clash with dependency files: {clashes[:5]}")
        entries.update(code)
        return write_zip(entries, output)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="zip path (%(default)s)")
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="code tree to package (%(default)s)")
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="resolve the newest allowed dependency versions instead of the ones installed here",
    )
    args = parser.parse_args(argv)
    digest = build(args.output.resolve(), src=args.src.resolve(), pin=not args.no_pin)
    args.output.with_name(args.output.name + ".sha256").write_text(f"{digest}  {args.output.name}\n")
    print(f"{args.output} sha256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
