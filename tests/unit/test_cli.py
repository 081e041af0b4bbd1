"""The `workforce` CLI (a real process) says the usual mishaps in one line, never with a traceback: no gateway
there, a URL without its scheme, a file that cannot be read, an edited plan that is not one, an option out of range.
With a gateway: tests/e2e/test_local_mode.py."""

import subprocess
import sys
from pathlib import Path

import pytest

from workforce.local.nats_server import free_port

CLI = str(Path(sys.executable).parent / "workforce")


@pytest.mark.parametrize("argv, says", [
    (["--url", "http://127.0.0.1:{port}", "list"], "workforce: cannot reach the gateway at http://127.0.0.1:{port}"),
    (["--url", "127.0.0.1:{port}", "list"], "workforce: --url '127.0.0.1:{port}' is not an HTTP URL"),
    # the global options after the command work too; given twice, the later one holds
    (["show", "t1", "--url", "http://127.0.0.1:{port}"],
     "workforce: cannot reach the gateway at http://127.0.0.1:{port}"),
    (["--url", "http://elsewhere:1", "list", "--url", "127.0.0.1:{port}"],
     "workforce: --url '127.0.0.1:{port}' is not an HTTP URL"),
    (["--url", "http://127.0.0.1:{port}", "submit", "--file", "{missing}", "What is in it?"],
     "workforce: cannot read {missing}: No such file or directory"),
    (["--url", "http://127.0.0.1:{port}", "submit", "--file", "{folder}", "What is in it?"],
     "workforce: cannot read {folder}: Is a directory"),
    # an edited plan that cannot be used is said before anything is sent
    (["--url", "http://127.0.0.1:{port}", "approve", "t1", "--plan", "{missing}"],
     "workforce: cannot read {missing}: No such file or directory"),
    (["--url", "http://127.0.0.1:{port}", "approve", "t1", "--plan", "{junk}"], "workforce: {junk} is not JSON ("),
    (["--url", "http://127.0.0.1:{port}", "approve", "t1", "--plan", "{empty_object}"],
     "workforce: {empty_object} has no list of subtasks"),
    (["--url", "http://127.0.0.1:{port}", "approve", "t1", "--plan", "{empty_list}"],
     "workforce: {empty_list} has no subtasks; to approve the plan as proposed, leave out --plan"),
])
def test_mishaps_are_one_line(tmp_path, argv, says):
    (tmp_path / "junk.json").write_text("not json")
    (tmp_path / "empty.json").write_text("{}")
    (tmp_path / "none.json").write_text("[]")
    values = {"port": free_port(), "missing": str(tmp_path / "nope.csv"), "folder": str(tmp_path),
              "junk": str(tmp_path / "junk.json"), "empty_object": str(tmp_path / "empty.json"),
              "empty_list": str(tmp_path / "none.json")}
    done = subprocess.run([CLI, *(a.format(**values) for a in argv)], capture_output=True, text=True, timeout=30,
                          cwd=tmp_path)
    assert done.returncode != 0 and done.stdout == ""
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
