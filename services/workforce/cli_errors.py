"""How every `workforce` command reports an HTTP error from the gateway: one line, and for a 401 where the key is."""

import sys

KEY_HINT = ("the key `make run` wrote is in .local/api-key of its checkout: pass --data-dir DIR/.local, "
            "--api-key KEY or set WF_API_KEY")


def fail(response) -> None:
    """Exit with the gateway's error message (its JSON `error.message`, else the body) and the status code."""
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = response.text
    if response.status_code == 401:
        message += f" ({KEY_HINT})"
    sys.exit(f"workforce: {response.status_code}: {message}")
