"""A task event's data travels as JSON on the channel and keeps its API shapes: an object over HTTP, a Struct over
gRPC; events stored with a Struct (before data_json) read the same."""

import json

from google.protobuf.json_format import MessageToDict

from workforce.core.channel.events import encode_data, event_data, event_dict, event_json, for_grpc
from workforce.v1 import channel_pb2

DATA = {"attempt_id": "a-1", "deliveries": 3, "ok": True, "nested": {"messages": [{"role": "user", "content": "é"}]},
        "nothing": None}


def _event(**kwargs) -> channel_pb2.TaskEvent:
    event = channel_pb2.TaskEvent(task_id="t1", seq=7, type="subtask.succeeded", subtask_id="1", message="done",
                                  **kwargs)
    event.time.FromSeconds(1_700_000_000)
    return event


def test_json_data_reads_back_as_written_in_every_form():
    event = _event(data_json=encode_data(DATA))
    assert event_data(event) == DATA
    shown = event_dict(event)
    assert shown["data"] == DATA and "data_json" not in shown and shown["seq"] == "7" and shown["task_id"] == "t1"
    assert json.loads(event_json(event)) == shown
    grpc = for_grpc(event)
    assert not grpc.data_json and MessageToDict(grpc.data)["nested"] == DATA["nested"]
    assert MessageToDict(grpc.data)["deliveries"] == 3
    assert event.data_json, "the shared event is not changed"


def test_events_stored_with_a_struct_read_the_same():
    old = _event()
    old.data.update({"attempt_id": "a-1", "deliveries": 3})
    assert event_data(old) == {"attempt_id": "a-1", "deliveries": 3}
    assert event_dict(old)["data"] == {"attempt_id": "a-1", "deliveries": 3}
    assert json.loads(event_json(old)) == event_dict(old)
    assert for_grpc(old) is old


def test_an_event_without_data_has_none():
    bare = _event()
    assert event_data(bare) == {} and "data" not in event_dict(bare) and "data" not in json.loads(event_json(bare))


def test_values_json_cannot_hold_are_written_as_text():
    assert json.loads(encode_data({"when": object, "tuple": (1, 2)})) == {"when": str(object), "tuple": [1, 2]}
