"""A task event's data: a JSON object on the channel (`TaskEvent.data_json`: written with json.dumps and relayed
to HTTP watchers as it is, where a protobuf Struct cost tens of microseconds each way), a Struct in the gRPC API.
Events stored before data_json existed carry a Struct; the readers here take either."""

import json

from google.protobuf.json_format import MessageToDict

from ...v1 import channel_pb2


def encode_data(data: dict) -> bytes:
    return json.dumps(_jsonable(data), ensure_ascii=False, separators=(",", ":")).encode()


def event_data(event: channel_pb2.TaskEvent) -> dict:
    """The event's data as a dict ({} when it has none)."""
    if event.data_json:
        return json.loads(event.data_json)
    return MessageToDict(event.data) if event.HasField("data") else {}


def event_dict(event: channel_pb2.TaskEvent) -> dict:
    """The event as the HTTP API shows it: its fields by their proto names, `data` an object."""
    out = _fields(event)
    if event.data_json:
        out["data"] = json.loads(event.data_json)
    return out


def event_json(event: channel_pb2.TaskEvent) -> str:
    """event_dict as JSON text, the data spliced in as stored (not parsed and written again)."""
    text = json.dumps(_fields(event), ensure_ascii=False)
    return f'{text[:-1]}, "data": {event.data_json.decode()}}}' if event.data_json else text


def _fields(event: channel_pb2.TaskEvent) -> dict:
    """Every field but data_json, by proto name (a Struct `data` of an older event included)."""
    if not event.data_json:
        return MessageToDict(event, preserving_proto_field_name=True)
    bare = channel_pb2.TaskEvent()
    bare.CopyFrom(event)
    bare.ClearField("data_json")
    return MessageToDict(bare, preserving_proto_field_name=True)


def for_grpc(event: channel_pb2.TaskEvent) -> channel_pb2.TaskEvent:
    """The event as the gRPC API sends it: the data as a Struct (`data`), as before data_json existed (a copy: the
    event may be shared with other watchers)."""
    if not event.data_json:
        return event
    out = channel_pb2.TaskEvent()
    out.CopyFrom(event)
    out.ClearField("data_json")
    data = json.loads(event.data_json)
    if data:
        out.data.update(data)
    return out


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, bool, int, float)) or value is None:
        return value
    return str(value)
