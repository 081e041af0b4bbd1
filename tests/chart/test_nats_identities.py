"""The chart's NATS identities: the bundled NATS's users and permissions are identities.py's, each service
connects as its own user with its password from the chart's Secret, and the users block the chart hands to the
official NATS chart works in a real nats-server (passwords as NATS variables from the environment)."""

import asyncio
import json
import os
import re

import nats
import pytest
import yaml

from tests.chart.helm import CHART, RELEASE, by_kind, container_env, render, render_error
from workforce.core.channel import identities
from workforce.local.nats_server import NatsServer

PREFIX = f"{RELEASE}-workforce"
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
SECRET = VALUES["natsAuth"]["secretName"]


def _users() -> list[dict]:
    return VALUES["nats"]["config"]["merge"]["authorization"]["users"]


def test_the_bundled_nats_gets_identities_py_users():
    expected = {i.user: i.permissions() for i in identities.every_identity()}
    assert {u["user"]: u["permissions"] for u in _users()} == expected, "run scripts/nats_identities.py"
    env = VALUES["nats"]["container"]["env"]
    for user in _users():
        variable = re.fullmatch(r"<< \$(\w+) >>", user["password"]).group(1)
        assert env[variable] == {"valueFrom": {"secretKeyRef": {"name": SECRET, "key": user["user"]}}}


def test_each_service_connects_as_itself():
    docs = render(["production"])
    secret = by_kind(docs, "Secret")[SECRET]
    users = {i.user for i in identities.every_identity()}
    assert set(secret["data"]) == users and len(set(secret["data"].values())) == len(users)
    seen = set()
    for name, dep in by_kind(docs, "Deployment").items():
        service = name.removeprefix(f"{PREFIX}-")
        env = container_env(dep["spec"]["template"]["spec"]["containers"][0])
        if service in users:
            assert env["WF_NATS_USER"] == service
            assert env["WF_NATS_PASSWORD"] == {"secretKeyRef": {"name": SECRET, "key": service}}
            seen.add(service)
        else:  # role services, the sandbox executor, the browser server, vLLM: no NATS identity
            assert "WF_NATS_USER" not in env and "WF_NATS_PASSWORD" not in env, name
    assert {"gateway", "planner", "coordinator", "worker-web", "worker-code"} <= seen


def test_tls_is_an_option():
    docs = render(["minimal"], sets=["natsAuth.tls.enabled=true", "natsAuth.tls.caSecret=nats-ca",
                                     "natsAuth.tls.clientSecret=nats-client"])
    pod = by_kind(docs, "Deployment")[f"{PREFIX}-worker-web"]["spec"]["template"]["spec"]
    env = container_env(pod["containers"][0])
    assert env["WF_NATS_URL"] == f"tls://{RELEASE}-nats:4222"
    assert env["WF_NATS_TLS_CA"] == "/etc/nats-tls/ca/ca.crt" and env["WF_NATS_TLS_CERT"].endswith("tls.crt")
    assert {"name": "nats-tls-ca", "secret": {"secretName": "nats-ca"}} in pod["volumes"]


def test_an_external_nats_keeps_its_creds_file_unless_users_are_brought():
    docs = render(["external-nats"])
    assert SECRET not in by_kind(docs, "Secret")
    env = container_env(by_kind(docs, "Deployment")[f"{PREFIX}-gateway"]["spec"]["template"]["spec"]["containers"][0])
    assert "WF_NATS_USER" not in env and env["WF_NATS_CREDS"]
    docs = render(["external-nats"], sets=["natsAuth.create=false"])
    env = container_env(by_kind(docs, "Deployment")[f"{PREFIX}-gateway"]["spec"]["template"]["spec"]["containers"][0])
    assert env["WF_NATS_USER"] == "gateway" and SECRET not in by_kind(docs, "Secret")


def test_turning_identities_off_needs_the_users_off_too():
    message = "natsAuth.enabled=false: also set nats.config.merge: null and nats.container.env: null"
    assert message in render_error(["minimal"], sets=["natsAuth.enabled=false"])
    # The server would still read the passwords from the Secret the chart no longer creates.
    assert message in render_error(["minimal"], sets=["natsAuth.enabled=false", "nats.config.merge=null"])
    off = ["natsAuth.enabled=false", "nats.config.merge=null", "nats.container.env=null"]
    docs = render(["minimal"], sets=off)
    assert SECRET not in by_kind(docs, "Secret")


async def test_the_users_block_works_in_a_real_nats_server(tmp_path):
    """As the official chart renders it: `password: $VARIABLE`, the variables in the server's environment."""
    block = {"authorization": VALUES["nats"]["config"]["merge"]["authorization"]}
    text = re.sub(r'"<< (\$\w+) >>"', r"\1", json.dumps(block, indent=2))
    config = tmp_path / "nats.conf"
    config.write_text(text)
    passwords = {re.fullmatch(r"<< \$(\w+) >>", u["password"]).group(1): f"pw-{u['user']}" for u in _users()}
    saved = {k: os.environ.get(k) for k in passwords}
    os.environ.update(passwords)
    try:
        server = NatsServer(store_dir=str(tmp_path / "store"), config=str(config)).start()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    try:
        errors = []

        async def on_error(exc):
            errors.append(str(exc).lower())

        nc = await nats.connect(server.url, user="worker-code", password="pw-worker-code", error_cb=on_error,
                                inbox_prefix=identities.inbox_prefix("worker-code"), max_reconnect_attempts=0)
        await nc.publish("wf.events.t1", b"allowed")
        await nc.publish("$JS.API.STREAM.PURGE.WF_WORK", b"")
        await nc.flush()
        await asyncio.sleep(0.2)
        assert any("permissions violation" in e and "purge" in e for e in errors), errors
        assert not any("wf.events.t1" in e for e in errors)
        await nc.close()
        with pytest.raises(Exception):
            await nats.connect(server.url, user="worker-code", password="pw-gateway", max_reconnect_attempts=0,
                               allow_reconnect=False, connect_timeout=2)
    finally:
        server.stop()


def test_gitops_brings_its_own_secret():
    """`lookup` finds nothing under `helm template`: with natsAuth.create=false nothing random is rendered."""
    docs = render(["minimal"], sets=["natsAuth.create=false"])
    assert SECRET not in by_kind(docs, "Secret")
    planner = by_kind(docs, "Deployment")[f"{PREFIX}-planner"]["spec"]["template"]["spec"]["containers"][0]
    assert container_env(planner)["WF_NATS_PASSWORD"] == {"secretKeyRef": {"name": SECRET, "key": "planner"}}
