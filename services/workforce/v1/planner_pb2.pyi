from workforce.v1 import channel_pb2 as _channel_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DecomposeCall(_message.Message):
    __slots__ = ("task_id", "request")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    request: _channel_pb2.DecomposeRequest
    def __init__(self, task_id: _Optional[str] = ..., request: _Optional[_Union[_channel_pb2.DecomposeRequest, _Mapping]] = ...) -> None: ...

class ReplanCall(_message.Message):
    __slots__ = ("task_id", "request")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    request: _channel_pb2.ReplanRequest
    def __init__(self, task_id: _Optional[str] = ..., request: _Optional[_Union[_channel_pb2.ReplanRequest, _Mapping]] = ...) -> None: ...

class SynthesizeCall(_message.Message):
    __slots__ = ("task_id", "request")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    request: _channel_pb2.SynthesizeRequest
    def __init__(self, task_id: _Optional[str] = ..., request: _Optional[_Union[_channel_pb2.SynthesizeRequest, _Mapping]] = ...) -> None: ...
