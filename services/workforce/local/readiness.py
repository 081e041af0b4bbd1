"""When is the local system ready: the model server answers, the gateway answers and every worker pool has
registered (what `make run` waits for before it says "ready")."""

import time

import httpx


def _tail(path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])[-600:]


def wait_for_model(url: str, fleet, label: str, timeout_s: float) -> str | None:
    """None once GET /health answers 200; otherwise why not."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        code = fleet.exited(label)
        if code is not None:
            return f"it exited with {code}: {_tail(fleet.log_path(label))}"
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return None
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return f"no answer from {url}/health in {timeout_s:.0f} s; see {fleet.log_path(label)}"


def wait_ready(api: str, key: str, pools: dict[str, int], fleet, timeout_s: float, stopping) -> str | None:
    """None once the gateway lists every pool with its replicas; otherwise why not."""
    deadline = time.monotonic() + timeout_s
    missing = dict(pools)
    headers = {"Authorization": f"Bearer {key}"}
    while time.monotonic() < deadline and not stopping():
        crashed = fleet.crashed()
        if crashed:
            name, code = crashed
            return f"{name} exited with {code}: {_tail(fleet.log_path(name))}"
        try:
            response = httpx.get(f"{api}/v1/workers", headers=headers, timeout=2)
            if response.status_code == 200:
                seen = {p["worker_type"]: int(p.get("replicas", 0)) for p in response.json().get("pools", [])}
                missing = {t: n for t, n in pools.items() if seen.get(t, 0) < n}
                if not missing:
                    return None
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.25)
    if stopping():
        return "stopped"
    return ("worker pools not registered after "
            f"{timeout_s:.0f} s: {', '.join(f'{t} ({n} replicas)' for t, n in missing.items()) or 'gateway not answering'}")
