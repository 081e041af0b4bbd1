"""The `workforce` CLI (a real process) says the usual mishaps in one line, never with a traceback: no gateway
there, a URL without its scheme, a file that cannot be read, an edited plan that is not one, an option out of range.
With a gateway: tests/e2e/test_local_mode.py."""

import subprocess
import sys
from pathlib import Path

import pytest

from workforce.local.nats_server import free_port

CLI = str(Path(sys.executable).parent / "workforce")


@pytest.mark.parametrize("argv, code, says", [
    (["--url", "http://127.0.0.1:{port}", "list"], 4, "workforce: cannot reach the gateway at http://127.0.0.1:{port}"),
    (["--url", "127.0.0.1:{port}", "list"], 2, "workforce: --url '127.0.0.1:{port}' is not an HTTP URL"),
    # the global options after the command work too; given twice, the later one holds
    (["show", "t1", "--url", "http://127.0.0.1:{port}"], 4,
     "workforce: cannot reach the gateway at http://127.0.0.1:{port}"),
    (["--url", "http://elsewhere:1", "list", "--url", "127.0.0.1:{port}"], 2,
     "workforce: --url '127.0.0.1:{port}' is not an HTTP URL"),
    (["--url", "http://127.0.0.1:{port}", "submit", "--file", "{missing}", "What is in it?"], 2,
     "workforce: cannot read {missing}: No such file or directory"),
    (["--url", "http://127.0.0.1:{port}", "submit", "--file", "{folder}", "What is in it?"], 2,
     "workforce: cannot read {folder}: Is a directory"),
    # an edited plan that cannot be used is said before anything is sent
    (["--url", "http://127.0.0.1:{port}", "approve", "t1", "--plan", "{missing}"], 2,
     "workforce: cannot read {missing}: No such file or directory"),
    (["--url", "http://127.0.0.1:{port}", "approve", "t1", "--plan", "{junk}"], 2, "workforce: {junk} is not JSON ("),
    (["--url", "http://127.0.0.1:{port}", "approve", "t1", "--plan", "{empty_object}"], 2,
     "workforce: {empty_object} has no list of subtasks"),
    (["--url", "http://127.0.0.1:{port}", "approve", "t1", "--plan", "{empty_list}"], 2,
     "workforce: {empty_list} has no subtasks; to approve the plan as proposed, leave out --plan"),
])
def test_mishaps_are_one_line_with_their_exit_status(tmp_path, argv, code, says):
    (tmp_path / "junk.json").write_text("not json")
    (tmp_path / "empty.json").write_text("{}")
    (tmp_path / "none.json").write_text("[]")
    values = {"port": free_port(), "missing": str(tmp_path / "nope.csv"), "folder": str(tmp_path),
              "junk": str(tmp_path / "junk.json"), "empty_object": str(tmp_path / "empty.json"),
              "empty_list": str(tmp_path / "none.json")}
    done = subprocess.run([CLI, *(a.format(**values) for a in argv)], capture_output=True, text=True, timeout=30,
                          cwd=tmp_path)
    assert done.returncode == code and done.stdout == "", done   # 2: usage, 4: the gateway (`workforce --help`)
    assert done.stderr.strip().splitlines() == [done.stderr.strip()], done.stderr   # one line, no traceback
    assert done.stderr.startswith(says.format(**values)), done.stderr


@pytest.mark.parametrize("argv, says", [
    (["list", "--limit", "0"], "argument --limit: must be 1 or more, not 0"),
    (["submit", "--timeout", "-5", "q"], "argument --timeout: must be 0 or more, not -5"),
    (["submit", "--token-budget", "lots", "q"], "argument --token-budget: 'lots' is not a whole number"),
])
def test_options_out_of_range_are_said_by_their_own_names(argv, says):
    done = subprocess.run([CLI, *argv], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and says in done.stderr and "Traceback" not in done.stderr, done.stderr


@pytest.mark.parametrize("argv, says", [
    (["submit", "--metadata", "team", "q"], "argument --metadata: 'team' is not KEY=VALUE"),
    (["submit", "--metadata", "=a", "q"], "argument --metadata: '=a' is not KEY=VALUE"),
    (["show", "t1", "--follow=yes"], "argument -f/--follow/--no-follow: ignored explicit argument 'yes'"),
    # a path would leave the API's routes (the gateway's answer was a bare 404)
    (["show", "../../etc"], "workforce show: error: '../../etc' is not a task id (letters and digits"),
    (["cancel", "t1?x=1"], "workforce cancel: error: 't1?x=1' is not a task id"),
    (["approve", "a/b"], "workforce approve: error: 'a/b' is not a task id"),
])
def test_scripting_options_are_checked_before_anything_is_sent(argv, says):
    done = subprocess.run([CLI, "--url", f"http://127.0.0.1:{free_port()}", *argv], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 2 and says in done.stderr and "Traceback" not in done.stderr, done.stderr


@pytest.mark.parametrize("command", [[], ["submit"], ["show"], ["logs"]])
def test_help_lists_the_exit_statuses(command):
    done = subprocess.run([CLI, *command, "--help"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    codes = done.stdout.split("exit status (every command):")[1]
    for line in ("0    done; a task (submit, show): it succeeded", "1    the task failed or was cancelled",
                 "2    usage:", "3    the task has not ended", "4    the gateway could not be reached",
                 "130  interrupted", "141  the output's reader closed the pipe early"):
        assert "\n  " + line in codes, (line, codes)


def test_help_says_what_show_follows_and_what_submit_offers_scripts():
    shown = subprocess.run([CLI, "show", "--help"], capture_output=True, text=True, timeout=30).stdout
    assert "-f, --follow, --no-follow" in shown and "With --json: a snapshot" in shown, shown
    assert "then each event\nas it comes until it ends" in shown, shown
    submitted = subprocess.run([CLI, "submit", "--help"], capture_output=True, text=True, timeout=30).stdout
    for option in ("--no-wait, --detach", "--idempotency-key KEY", "--metadata KEY=VALUE", "--json"):
        assert option in submitted, (option, submitted)
    for command in ("list", "workers"):
        assert "--json" in subprocess.run([CLI, command, "--help"], capture_output=True, text=True, timeout=30).stdout
