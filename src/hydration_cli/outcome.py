"""How a command ends: what it returns (a Result) and its exit code, the same scheme for every command.

- 0 success: a read (whatever it found), a change made, a dry run, a run that completed, `health` with
  warnings only;
- 1 failure: an AWS error, a missing stack or run, a followed run that did not COMPLETE, `health` critical, a
  declined prompt;
- 2 usage error: an unknown option, a bad value (a --query that is not JMESPath), an unknown profile;
- 3 found / pending, only when asked with --exit-code: a dry run with changes pending, `dlq peek`,
  `failures list` or `uploads list` found something;
- 130 interrupted: Ctrl-C (as aws-cli); `logs --follow` ends this way.
"""

from __future__ import annotations

from enum import IntEnum

from pydantic import BaseModel


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1
    USAGE = 2
    FOUND = 3
    INTERRUPTED = 130


EXIT_CODES_HELP = """\b
Exit codes, the same for every command:
  0    success (a read, whatever it found; a dry run)
  1    failure: AWS error, a run that did not COMPLETE, health critical, a 'no'
  2    usage error: bad option or value, unknown profile
  3    with --exit-code only: found/pending (a dry run with changes, DLQ
       messages, ledger entries, orphaned uploads)
  130  interrupted (Ctrl-C)"""


class Result(BaseModel):
    """What a command returns: rendered in the chosen --output format by hydration_cli.render, then the
    command exits with `exit_code` (FOUND becomes OK unless the command was given --exit-code)."""

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK
