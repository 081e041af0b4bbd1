"""The JSON Schemas derived from the protobuf descriptors accept exactly what the API renders of a message with every
field set (64-bit integers as strings, enums by name, maps, timestamps, bytes), and the public JSON leaves the
internal fields out without touching the message. No I/O."""

import jsonschema
import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.json_format import MessageToDict

from workforce.gateway.openapi_doc import COMPONENTS
from workforce.gateway.proto_json import INTERNAL, public_json, schemas
from workforce.v1 import channel_pb2, common_pb2, gateway_pb2

T = FieldDescriptor
SAMPLES = {T.TYPE_STRING: "text", T.TYPE_BYTES: b"\x00\xff", T.TYPE_BOOL: True, T.TYPE_INT32: -7, T.TYPE_UINT32: 7,
           T.TYPE_INT64: -(2**40), T.TYPE_UINT64: 2**63, T.TYPE_DOUBLE: 0.5, T.TYPE_FLOAT: 0.25}


def filled(message, depth: int = 0):
    """The message with every field set to a value other than its default (nested messages three levels deep)."""
    for field in message.DESCRIPTOR.fields:
        sub = field.message_type
        if sub is not None and sub.GetOptions().map_entry:
            key, value = sub.fields_by_name["key"], sub.fields_by_name["value"]
            target = getattr(message, field.name)
            if value.message_type is not None:
                filled(target[SAMPLES[key.type]], depth + 1)
            else:
                target[SAMPLES[key.type]] = SAMPLES[value.type]
        elif sub is not None:
            if sub.full_name == "google.protobuf.Timestamp":
                stamp = getattr(message, field.name).add() if field.is_repeated else getattr(message, field.name)
                stamp.FromJsonString("2025-01-02T03:04:05.678Z")
            elif sub.full_name == "google.protobuf.Struct":
                getattr(message, field.name).update({"a": [1, "b", None, {"c": True}]})
            elif depth < 3:
                filled(getattr(message, field.name).add() if field.is_repeated else getattr(message, field.name),
                       depth + 1)
        elif field.enum_type is not None:
            value = field.enum_type.values[-1].number
            getattr(message, field.name).append(value) if field.is_repeated else setattr(message, field.name, value)
        elif field.is_repeated:
            getattr(message, field.name).append(SAMPLES[field.type])
        else:
            setattr(message, field.name, SAMPLES[field.type])
    return message


def validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({"$ref": f"#/components/schemas/{name}",
                                            "components": {"schemas": COMPONENTS}})


MESSAGES = [common_pb2.TaskRecord, channel_pb2.PlanState, channel_pb2.TaskEvent, channel_pb2.ApprovalDecision,
            gateway_pb2.SubmitTaskResponse, gateway_pb2.ListTasksResponse, gateway_pb2.ListWorkersResponse,
            gateway_pb2.ListToolCallsResponse]


@pytest.mark.parametrize("message_type", MESSAGES, ids=lambda m: m.DESCRIPTOR.name)
def test_the_schema_accepts_the_public_json_of_a_full_message(message_type):
    message = filled(message_type())
    before = message.SerializeToString()
    body = public_json(message)
    validator(message_type.DESCRIPTOR.name).validate(body)
    assert message.SerializeToString() == before          # a copy was stripped, not the message


def test_the_schema_refuses_what_the_api_never_sends():
    record = validator("TaskRecord")
    full = MessageToDict(filled(common_pb2.TaskRecord()), preserving_proto_field_name=True)
    assert "quota_reserved" in full and not record.is_valid(full)              # an internal field
    assert not record.is_valid({"token_budget": 5})                              # int64 is a string
    assert not record.is_valid({"status": 5}) and record.is_valid({"status": "TASK_STATUS_RUNNING"})
    assert not record.is_valid({"created_at": 1700000000})
    assert record.is_valid({})                                                  # defaults are left out


def test_internal_fields_are_left_out_at_every_depth():
    plan = filled(channel_pb2.PlanState())
    body = public_json(gateway_pb2.SubmitTaskResponse(task=filled(common_pb2.TaskRecord())))
    assert "quota_reserved" not in body["task"] and all("object_key" not in f for f in body["task"]["files"])
    assert not INTERNAL["workforce.v1.PlanState"] & set(public_json(plan))
    assert "data_json" not in public_json(filled(channel_pb2.TaskEvent()))
    assert public_json(common_pb2.Usage(prompt_tokens=3)) == {"prompt_tokens": "3"}   # nothing to strip: as is


def test_components_are_derived_once_per_message_and_enum():
    found = schemas(common_pb2.TaskRecord.DESCRIPTOR, common_pb2.WorkerPool.DESCRIPTOR)
    assert set(found) == {"TaskRecord", "FileRef", "Usage", "TaskStatus", "WorkerPool"}
    usage = found["TaskRecord"]["properties"]["usage"]
    assert usage == {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/Usage"}}
