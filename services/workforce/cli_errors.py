"""How every `workforce` command ends: its exit status (the same meaning in every command, listed in `--help`), and
an HTTP error from the gateway said in one line (for a 401, where the key is)."""

import sys
from typing import NoReturn

EXIT_OK = 0           # done; a task: it succeeded
EXIT_FAILED = 1       # the task failed or was cancelled
EXIT_USAGE = 2        # what argparse exits with too
EXIT_RUNNING = 3      # the task has not ended
EXIT_GATEWAY = 4      # the gateway could not be reached or refused the request
EXIT_INTERRUPTED = 130
EXIT_PIPE_CLOSED = 141   # 128 + SIGPIPE, as a shell reports a tool the pipe's reader left

EXIT_STATUS = """exit status (every command):
  0    done; a task (submit, show): it succeeded
  1    the task failed or was cancelled (plan: no plan is waiting; workers: no worker pool is registered)
  2    usage: a bad option or argument, a file that cannot be read or is not what it should be, a --url that
       is not an HTTP URL
  3    the task has not ended: a snapshot of a running task (show --json, show --no-follow), or its event
       stream ended before it did
  4    the gateway could not be reached or refused the request (its message on stderr: 401 wrong key, 404 no
       such task, 409, 429 quota, ...)
  130  interrupted (Ctrl-C): a task being followed keeps running
  141  the output's reader closed the pipe early (`| head`)"""

KEY_HINT = ("the key `make run` wrote is in .local/api-key of its checkout: pass --data-dir DIR/.local, "
            "--api-key KEY or set WF_API_KEY")


def exit_with(message: str, code: int) -> NoReturn:
    """One line on stderr, `workforce: ` first, and the exit status."""
    print(f"workforce: {message}", file=sys.stderr)
    sys.exit(code)


def usage(message: str) -> NoReturn:
    exit_with(message, EXIT_USAGE)


def fail(response) -> NoReturn:
    """Exit with the gateway's error message (its JSON `error.message`, else the body) and the status code."""
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = response.text
    if response.status_code == 401:
        message += f" ({KEY_HINT})"
    exit_with(f"{response.status_code}: {message}", EXIT_GATEWAY)
