"""Local mode's NATS identities: a random password per service user, nats-server's authorization block with
each user's permissions (core/channel/identities.py), and each service's WF_NATS_USER / WF_NATS_PASSWORD."""

import json
import os
import secrets
from pathlib import Path

from ..core.channel import identities


def make_passwords(worker_types=identities.WORKER_TYPES) -> dict[str, str]:
    return {i.user: secrets.token_urlsafe(24) for i in identities.every_identity(worker_types)}


def authorization(passwords: dict[str, str]) -> dict:
    """nats-server's `authorization` block (its configuration syntax accepts JSON)."""
    users = []
    for user, password in sorted(passwords.items()):
        identity = identities.for_service(user)
        users.append({"user": user, "password": password, "permissions": identity.permissions()})
    return {"users": users}


def write_config(path: Path, passwords: dict[str, str], anonymous_admin: bool = False) -> Path:
    """A configuration file readable by its owner only (it holds the passwords). `anonymous_admin` (tests only):
    a connection without credentials is an unrestricted user, so test code can inspect the channel."""
    path = Path(path)
    config = {"authorization": authorization(passwords)}
    if anonymous_admin:
        config["authorization"]["users"].append({"user": "test-admin", "password": secrets.token_urlsafe(24)})
        config["no_auth_user"] = "test-admin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(config, handle, indent=2)
    return path


def service_env(service: str, passwords: dict[str, str]) -> dict[str, str]:
    """The WF_NATS_* variables of one service (none for services without NATS access)."""
    if service not in passwords:
        return {}
    return {"WF_NATS_USER": service, "WF_NATS_PASSWORD": passwords[service]}
