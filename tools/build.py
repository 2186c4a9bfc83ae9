"""Build the Lambda deployment zip reproducibly: ``dist/s3-hydration-lambda.zip``.

The zip holds the contents of ``src/`` (every package except the operator CLI) at its root, plus the runtime
dependencies exactly as ``uv.lock`` pins them (``uv export --no-dev``: pyproject's ``[project] dependencies``
and what they need, hashes checked), installed for the Lambda platform (manylinux2014 x86_64, CPython 3.13,
wheels only). boto3 and botocore included: the functions never rely on the runtime's own boto3.

Reproducible per commit: the lock fixes every dependency's file (by hash), and the zip is written with its files
in sorted order, every timestamp 1980-01-01 00:00, fixed permissions, no ``__pycache__``/``*.pyc``, no installer
bookkeeping (``RECORD``, ``INSTALLER``, ``REQUESTED``, ``direct_url.json``). Building twice from the same commit,
in one clone or two, gives the same sha256, which is printed.

Usage: python tools/build.py [--output dist/s3-hydration-lambda.zip] [--src src] [--uv PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "dist" / "s3-hydration-lambda.zip"
# Where `make dev` bootstraps the pinned uv (Makefile: UV_VERSION).
BOOTSTRAPPED_UV = ROOT / ".tools" / "bin" / "uv"

# src/ entries that are not part of the functions' code.
EXCLUDED_SRC_TOP_LEVEL = frozenset({"hydration_cli"})
EXCLUDED_DIR_NAMES = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".egg-info")
# Installer bookkeeping: differs between installs (or says nothing the runtime needs).
EXCLUDED_DIST_INFO_FILES = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})
# Top-level files an installer leaves in a --target directory that are not part of any package.
EXCLUDED_TARGET_FILES = frozenset({".lock"})

ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644
# The Lambda runtime (infra/consumer.yaml: Runtime python3.13, Architectures x86_64).
LAMBDA_PLATFORM_ARGS = ("--python-platform", "x86_64-manylinux2014", "--python-version", "3.13")


def find_uv(explicit: str | None = None) -> str:
    """The uv to use: ``--uv``, else ``$UV``, else the one `make dev` bootstrapped, else uv on PATH."""
    for candidate in (explicit, os.environ.get("UV"), str(BOOTSTRAPPED_UV), shutil.which("uv")):
        if candidate and Path(candidate).is_file():
            return candidate
        if candidate and shutil.which(candidate):
            return str(shutil.which(candidate))
    raise SystemExit("uv not found: run `make dev` (it installs the pinned uv into .tools/) or pass --uv PATH")


def locked_runtime_requirements(uv: str, project: Path = ROOT) -> str:
    """The runtime dependencies pinned by uv.lock, with their hashes, as a requirements file's text.

    ``--locked`` fails when uv.lock no longer matches pyproject.toml (run `make lock`), so the zip never ships
    versions the lock does not name.
    """
    cmd = [uv, "export", "--locked", "--no-dev", "--no-emit-project", "--no-header", "--format", "requirements.txt"]
    cmd += ["--project", str(project), "--python", sys.executable, "--quiet"]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout  # noqa: S603 - fixed argv


def install_dependencies(uv: str, requirements: str, target: Path) -> None:
    """Install the locked requirements (hashes required, no resolution) for the Lambda platform into ``target``."""
    with tempfile.TemporaryDirectory() as tmp:
        req = Path(tmp) / "requirements.txt"
        req.write_text(requirements)
        cmd = [uv, "pip", "install", "--quiet", "--target", str(target), *LAMBDA_PLATFORM_ARGS]
        cmd += ["--python", sys.executable, "--only-binary", ":all:", "--no-deps", "--require-hashes"]
        cmd += ["--requirements", str(req)]
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
        if rel.parts[0] in skip or _excluded(rel) or (len(rel.parts) == 1 and rel.name in EXCLUDED_TARGET_FILES):
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


def build(output: Path = DEFAULT_OUTPUT, *, src: Path = ROOT / "src", uv: str | None = None) -> str:
    """Build the zip at ``output`` from uv.lock; return its sha256."""
    uv_path = find_uv(uv)
    requirements = locked_runtime_requirements(uv_path)
    with tempfile.TemporaryDirectory(prefix="s3-hydration-build-") as tmp:
        deps = Path(tmp) / "deps"
        deps.mkdir()
        install_dependencies(uv_path, requirements, deps)
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
    parser.add_argument("--uv", help="the uv executable (default: $UV, .tools/bin/uv, uv on PATH)")
    args = parser.parse_args(argv)
    digest = build(args.output.resolve(), src=args.src.resolve(), uv=args.uv)
    args.output.with_name(args.output.name + ".sha256").write_text(f"{digest}  {args.output.name}\n")
    print(f"{args.output} sha256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
