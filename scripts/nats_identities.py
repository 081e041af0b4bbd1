"""Print the bundled NATS's values for the channel's identities (services/workforce/core/channel/identities.py):
nats.config.merge.authorization (users, permissions, passwords as NATS variables) and nats.container.env (the
variables, from the chart's Secret). Paste into charts/workforce/values.yaml; tests/chart/test_nats_identities.py
checks that the chart and identities.py agree."""

import re
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "services"))

from workforce.core.channel import identities  # noqa: E402

SECRET = "workforce-nats-users"


def password_variable(user: str) -> str:
    return "WF_NATS_PASSWORD_" + user.upper().replace("-", "_")


def values() -> dict:
    users, env = [], {}
    for identity in identities.every_identity():
        users.append({"user": identity.user, "password": f"<< ${password_variable(identity.user)} >>",
                      "permissions": identity.permissions()})
        env[password_variable(identity.user)] = {
            "valueFrom": {"secretKeyRef": {"name": SECRET, "key": identity.user}}}
    return {"config": {"merge": {"authorization": {"users": users}}}, "container": {"env": env}}


if __name__ == "__main__":
    text = yaml.safe_dump(values(), sort_keys=False, width=110, default_flow_style=None)
    print(re.sub(r"password: (<< \$\w+ >>)", r"password: '\1'", text))
