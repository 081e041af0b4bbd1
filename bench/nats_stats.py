"""nats-server's message counters from its monitoring endpoint (/varz on the `-m` port)."""

import httpx


def message_counts(monitor_port: int) -> dict[str, int]:
    """Messages the server has received (in) and delivered (out) since it started."""
    varz = httpx.get(f"http://127.0.0.1:{monitor_port}/varz", timeout=10).json()
    return {"in": int(varz["in_msgs"]), "out": int(varz["out_msgs"])}


def per_task(before: dict[str, int], after: dict[str, int], tasks: int) -> dict[str, float]:
    """Messages per task over a case: received, and received + delivered."""
    received, delivered = after["in"] - before["in"], after["out"] - before["out"]
    return {"in": round(received / tasks, 1), "in_out": round((received + delivered) / tasks, 1)}
