"""tools/build.py: the Lambda zip is reproducible and holds the code plus pinned runtime dependencies.

Needs pip to reach a package index (or its cache): skipped when it cannot.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "tools" / "build.py"


@pytest.fixture(scope="module")
def pip_reaches_index(tmp_path_factory: pytest.TempPathFactory) -> None:
    target = tmp_path_factory.mktemp("pip-probe")
    probe = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
    probe += ["--dest", str(target), f"jmespath=={importlib.metadata.version('jmespath')}"]
    try:
        subprocess.run(probe, check=True, capture_output=True, timeout=120)  # noqa: S603
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        pytest.skip("pip cannot reach a package index")


@pytest.fixture(scope="module")
def two_builds(pip_reaches_index: None, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
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
    assert names == sorted(names)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert any(n.endswith("cpython-313-x86_64-linux-gnu.so") for n in names), "pydantic-core for the Lambda platform"


def test_dependencies_are_pinned_to_the_tested_versions(two_builds: tuple[Path, Path]) -> None:
    with zipfile.ZipFile(two_builds[0]) as zf:
        names = set(zf.namelist())
    for dist in ("boto3", "botocore", "pydantic", "aws_lambda_powertools"):
        version = importlib.metadata.version(dist)
        assert f"{dist}-{version}.dist-info/METADATA" in names, (dist, version)
