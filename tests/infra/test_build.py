"""tools/build.py: the Lambda zip is reproducible and ships exactly the runtime dependencies uv.lock pins.

Needs uv (`make dev` bootstraps it into .tools/) and a package index or uv's cache for the Lambda wheels.
"""

from __future__ import annotations

import email.parser
import hashlib
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.utils import canonicalize_name
from tools import build as build_tool

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "tools" / "build.py"
# The Lambda runtime's environment (infra/consumer.yaml: python3.13, x86_64): the markers the zip's install obeys.
LAMBDA_ENVIRONMENT = {
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "platform_machine": "x86_64",
    "platform_system": "Linux",
    "sys_platform": "linux",
    "os_name": "posix",
    "python_version": "3.13",
    "python_full_version": "3.13.0",
}


def locked_runtime_closure(lock: dict) -> dict[str, str]:
    """name -> version of every package uv.lock says the project needs at run time (no extras, no dev group)."""
    packages = {p["name"]: p for p in lock["package"]}
    root = next(p for p in lock["package"] if p.get("source", {}).get("editable") == ".")
    needed: dict[str, str] = {}
    todo: list[dict] = list(root.get("dependencies", []))
    while todo:
        dep = todo.pop()
        if "marker" in dep and not Marker(dep["marker"]).evaluate(LAMBDA_ENVIRONMENT):
            continue
        package = packages[dep["name"]]
        for extra in dep.get("extra", []):
            todo.extend(package.get("optional-dependencies", {}).get(extra, []))
        if dep["name"] not in needed:
            needed[dep["name"]] = package["version"]
            todo.extend(package.get("dependencies", []))
    return needed


def zipped_distributions(zf: zipfile.ZipFile) -> dict[str, str]:
    """name -> version of every distribution installed in the zip (from each dist-info's METADATA)."""
    found = {}
    for name in zf.namelist():
        if name.count("/") == 1 and name.endswith(".dist-info/METADATA"):
            metadata = email.parser.BytesHeaderParser().parsebytes(zf.read(name))
            found[canonicalize_name(metadata["Name"])] = metadata["Version"]
    return found


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    # Given one snapshot of src/ (other work may change the tree while the test runs)
    work = tmp_path_factory.mktemp("build")
    src = work / "src"
    shutil.copytree(ROOT / "src", src, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (src / "hydration_cli").mkdir(exist_ok=True)
    (src / "hydration_cli" / "__init__.py").write_text("# the CLI stays out of the Lambda zip\n")
    zips = []
    # When it is built twice
    for name in ("first", "second"):
        output = work / name / "s3-hydration-lambda.zip"
        subprocess.run(  # noqa: S603
            [sys.executable, str(BUILD), "--src", str(src), "--output", str(output)],
            check=True,
            capture_output=True,
            timeout=600,
        )
        zips.append(output)
    return zips[0], zips[1]


def test_building_twice_gives_the_same_bytes(two_builds: tuple[Path, Path]) -> None:
    first, second = two_builds
    digest = hashlib.sha256(first.read_bytes()).hexdigest()
    assert digest == hashlib.sha256(second.read_bytes()).hexdigest()
    assert first.with_name(first.name + ".sha256").read_text().split()[0] == digest


def test_zip_holds_the_functions_and_their_dependencies(two_builds: tuple[Path, Path]) -> None:
    with zipfile.ZipFile(two_builds[0]) as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    top = {n.split("/", 1)[0] for n in names}
    for handler in ("planner/handler.py", "copier/handler.py", "finalizer/handler.py"):
        if (ROOT / "src" / handler).exists():
            assert handler in names
    assert {"hydration", "boto3", "botocore", "aws_lambda_powertools", "pydantic", "pydantic_settings"} <= top
    assert "hydration_cli" not in top
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo"))]
    assert not [n for n in names if ".egg-info" in n or n.startswith("bin/")]
    assert not [n for n in names if n.endswith(".dist-info/RECORD") or n.endswith(".dist-info/INSTALLER")]
    assert not [n for n in names if "/" not in n and n.startswith(".")], "installer files at the zip's root"
    assert names == sorted(names)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert any(n.endswith("cpython-313-x86_64-linux-gnu.so") for n in names), "pydantic-core for the Lambda platform"


def test_the_zips_dependency_versions_are_the_locks(two_builds: tuple[Path, Path]) -> None:
    # Given the runtime closure uv.lock pins (walked from the lock itself, not from the build's own export)
    locked = locked_runtime_closure(tomllib.loads((ROOT / "uv.lock").read_text()))
    assert {"boto3", "botocore", "awscrt", "aws-lambda-powertools", "aws-xray-sdk", "pydantic"} <= set(locked)
    # Then the zip holds exactly those distributions, each at the locked version
    with zipfile.ZipFile(two_builds[0]) as zf:
        assert zipped_distributions(zf) == locked


def test_a_lock_that_no_longer_matches_pyproject_stops_the_build(tmp_path: Path) -> None:
    # Given a project whose pyproject.toml asks for something uv.lock does not pin
    shutil.copy(ROOT / "uv.lock", tmp_path / "uv.lock")
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '    "pydantic>=2.7",\n' in pyproject
    stale = pyproject.replace('    "pydantic>=2.7",\n', '    "pydantic>=2.7",\n    "attrs>=23",\n', 1)
    (tmp_path / "pyproject.toml").write_text(stale)
    # When the build asks for the locked requirements, Then it refuses (run `make lock`), and builds nothing
    with pytest.raises(subprocess.CalledProcessError) as failure:
        build_tool.locked_runtime_requirements(build_tool.find_uv(), project=tmp_path)
    assert "lock" in failure.value.stderr.lower()


def test_the_unchanged_lock_exports_every_runtime_pin_with_its_hashes(tmp_path: Path) -> None:
    # Given the project as it is, When the build exports its requirements
    shutil.copy(ROOT / "uv.lock", tmp_path / "uv.lock")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    text = build_tool.locked_runtime_requirements(build_tool.find_uv(), project=tmp_path)
    # Then every requirement is pinned (==) and carries a hash, so the install resolves nothing
    requirements = [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    assert requirements
    assert all("==" in line and line.endswith("\\") for line in requirements), requirements
