"""values.schema.json rejects bad values, naming the value; the templates refuse contradictions."""

import json

import pytest
import yaml

from tests.chart.helm import CHART, render, render_error


@pytest.mark.parametrize(
    "bad, message",
    [
        ("workers.web.replicas=-1", "workers.web.replicas: Must be greater than or equal to 0"),
        ("workers.web.autoscaling.minReplicas=0", "workers.web.autoscaling.minReplicas"),
        ("workers.gpu.enabled=true", 'Property name of "gpu" does not match'),
        ("services.frontend.enabled=true", "Additional property frontend is not allowed"),
        ("autoscaling.mode=always", "autoscaling.mode must be one of the following"),
        ("channel.backoffSeconds=soon", "channel.backoffSeconds: Does not match pattern"),
        ("channel.streamReplicas=7", "channel.streamReplicas: Must be less than or equal to 5"),
        ("nats.external.url=http://nats:4222", "nats.external.url: Does not match pattern"),
        ("llm.baseUrl=vllm:8000", "llm.baseUrl: Does not match pattern"),
        ("defaults.logLevel=LOUD", "defaults.logLevel must be one of the following"),
        ("replicaCount=3", "Additional property replicaCount is not allowed"),
        ("tenancy.quotaOverrides=batch", "tenancy.quotaOverrides: Does not match pattern"),
        ("retention.taskTtlSeconds=-1", "retention.taskTtlSeconds: Must be greater than or equal to 0"),
    ],
)
def test_the_schema_rejects_bad_values(bad, message):
    assert message in render_error(["minimal"], [bad])


SERVER = {"name": "qwen", "model": "Qwen/Qwen2.5-7B-Instruct", "tensorParallelSize": 1}


@pytest.mark.parametrize(
    "values, message",
    [
        (
            {"vllm": {"servers": [SERVER | {"tensorParallelSize": 0}]}},
            "vllm.servers.0.tensorParallelSize: Must be greater than or equal to 1",
        ),
        (
            {"vllm": {"servers": [SERVER | {"gpuMemoryUtilization": 1.5}]}},
            "vllm.servers.0.gpuMemoryUtilization: Must be less than or equal to 1",
        ),
        (
            {"vllm": {"servers": [SERVER | {"lora": {"enabled": True, "modules": [{"name": "planner"}]}}]}},
            "vllm.servers.0.lora.modules.0: path is required",
        ),
        ({"vllm": {"servers": [{"name": "qwen"}]}}, "vllm.servers.0: model is required"),
        (
            {"training": {"jobs": [{"name": "Bad_Name", "command": ["workforce-train", "sft"]}]}},
            "training.jobs.0.name: Does not match pattern",
        ),
        (
            {"training": {"jobs": [{"name": "sft-1", "command": []}]}},
            "training.jobs.0.command: Array must have at least 1 items",
        ),
        (
            {"training": {"jobs": [{"name": "sft-1", "command": ["x"], "nodes": 0}]}},
            "training.jobs.0.nodes: Must be greater than or equal to 1",
        ),
    ],
)
def test_the_schema_rejects_bad_structured_values(values, message):
    assert message in render_error(["minimal"], values=values)


def test_nats_disabled_needs_an_external_url():
    error = render_error(["minimal"], ["nats.enabled=false"])
    assert "nats.enabled=false needs nats.external.url" in error and "Must validate" not in error


@pytest.mark.parametrize(
    "sets, message",
    [
        (
            ["nats.external.url=nats://elsewhere:4222"],
            "set either nats.enabled (the bundled official chart) or nats.external.url",
        ),
        (["auth.apiKeys="], "set auth.apiKeys or auth.existingSecret"),
        (
            ["llm.baseUrl="],
            "set llm.baseUrl (an OpenAI-compatible endpoint), vllm.enabled with a server, or modelServer.enabled",
        ),
        (
            ["llm.baseUrl=", "vllm.enabled=true", "llm.server=nope"],
            'llm.server "nope" is not one of vllm.servers',
        ),
        (
            [
                "nats.enabled=false",
                "nats.external.url=nats://n:4222",
                "workers.web.autoscaling.enabled=true",
                "autoscaling.mode=keda",
            ],
            "nats.external.monitoringEndpoint is required",
        ),
        (
            ["channel.streamReplicas=3"],
            "channel.streamReplicas is 3, but the bundled NATS runs 1 server(s): "
            "set nats.config.cluster: {enabled: true, replicas: 3}",
        ),
        (
            [
                "channel.streamReplicas=3",
                "nats.config.cluster.enabled=true",
                "nats.config.cluster.replicas=2",
            ],
            "channel.streamReplicas is 3, but the bundled NATS runs 2 server(s)",
        ),
        (
            ["natsAuth.secretName=other"],
            'natsAuth.secretName is "other", but nats.container.env.WF_NATS_PASSWORD_COORDINATOR '
            'reads Secret "workforce-nats-users"',
        ),
    ],
)
def test_contradictions_fail_with_a_clear_message(sets, message):
    assert message in render_error(["minimal"], sets)


def test_the_defaults_and_profiles_are_valid_and_every_value_is_described():
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["additionalProperties"] is False and len(schema["properties"]) >= 18
    assert render(["minimal"])  # values.yaml + the minimal profile pass the schema


@pytest.mark.parametrize(
    "sets",
    [
        ["channel.streamReplicas=3", "nats.config.cluster.enabled=true"],  # the official chart's 3 servers
        ["channel.streamReplicas=3", "nats.enabled=false", "nats.external.url=nats://nats:4222"],  # not ours
        # identities off: nothing reads the passwords
        [
            "natsAuth.enabled=false",
            "nats.config.merge=null",
            "nats.container.env=null",
            "natsAuth.secretName=other",
        ],
    ],
)
def test_what_the_checks_allow_renders(sets):
    assert render(["minimal"], sets=sets)


def test_a_matching_secret_name_renders():
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())["nats"]["container"]["env"]
    env = {
        var: {"valueFrom": {"secretKeyRef": ref["valueFrom"]["secretKeyRef"] | {"name": "wf-nats-users"}}}
        for var, ref in defaults.items()
    }
    values = {"natsAuth": {"secretName": "wf-nats-users"}, "nats": {"container": {"env": env}}}
    secrets = [d["metadata"]["name"] for d in render(["minimal"], values=[values]) if d["kind"] == "Secret"]
    assert "wf-nats-users" in secrets


@pytest.mark.parametrize(
    "bad, message",
    [
        # read by the worker pools only (templates/workers/, WF_WORKER_CONCURRENCY)
        ("services.gateway.autoscaling.enabled=true", "services.gateway: Additional property autoscaling"),
        ("services.coordinator.concurrency=9", "services.coordinator: Additional property concurrency"),
        ("services.role-caller.autoscaling.enabled=true", "services.role-caller: Additional property autoscaling"),
        # read for the gateway only (templates/service.yaml, ingress.yaml)
        ("services.planner.ingress.enabled=true", "services.planner: Additional property ingress"),
        ("services.planner.service.type=LoadBalancer", "services.planner: Additional property service"),
        ("workers.web.service.type=LoadBalancer", "workers.web: Additional property service"),
        ("workers.code.ingress.enabled=true", "workers.code: Additional property ingress"),
        ("defaults.ingress.enabled=true", "defaults: Additional property ingress"),
        ("defaults.enabled=false", "defaults: Additional property enabled"),
        ("services.gateway.service.tls=true", "services.gateway.service: Additional property tls"),
    ],
)
def test_keys_a_component_does_not_read_are_rejected(bad, message):
    assert message in render_error(["minimal"], [bad])


@pytest.mark.parametrize(
    "sets",
    [
        ["defaults.concurrency=3", "defaults.autoscaling.lagThreshold=4"],  # for the pools, through defaults
        ["services.gateway.service.grpc=false", "services.gateway.ingress.enabled=true"],
        ["services.planner.internetEgress=true", "workers.tool.concurrency=8"],
        # the official NATS chart's values are handed over unchecked (docs/deploy.md says so)
        ["nats.config.notAKey=1"],
    ],
)
def test_keys_a_component_reads_are_accepted(sets):
    assert render(["minimal"], sets=sets)


def test_worker_keys_in_defaults_reach_the_pools_only():
    docs = render(["minimal"], sets=["defaults.concurrency=3", "workers.echo.enabled=true"])
    env = {
        d["metadata"]["name"].removeprefix("wf-workforce-"): {
            e["name"]: e.get("value") for e in d["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        for d in docs
        if d["kind"] == "Deployment"
    }
    assert env["worker-echo"]["WF_WORKER_CONCURRENCY"] == "3"  # sets none of its own
    assert env["worker-tool"]["WF_WORKER_CONCURRENCY"] == "4"  # its own value wins
    assert "WF_WORKER_CONCURRENCY" not in env["planner"]
