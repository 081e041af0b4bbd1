from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ToolDoc(_message.Message):
    __slots__ = ("name", "description", "parameters")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    parameters: _struct_pb2.Struct
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., parameters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class HistoryTurn(_message.Message):
    __slots__ = ("role", "content")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    role: str
    content: str
    def __init__(self, role: _Optional[str] = ..., content: _Optional[str] = ...) -> None: ...

class GenerateRequest(_message.Message):
    __slots__ = ("role", "instruction", "tools", "history", "thought", "prompt_family", "temperature", "task_id")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTION_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    THOUGHT_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FAMILY_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    role: str
    instruction: str
    tools: _containers.RepeatedCompositeFieldContainer[ToolDoc]
    history: _containers.RepeatedCompositeFieldContainer[HistoryTurn]
    thought: str
    prompt_family: str
    temperature: float
    task_id: str
    def __init__(self, role: _Optional[str] = ..., instruction: _Optional[str] = ..., tools: _Optional[_Iterable[_Union[ToolDoc, _Mapping]]] = ..., history: _Optional[_Iterable[_Union[HistoryTurn, _Mapping]]] = ..., thought: _Optional[str] = ..., prompt_family: _Optional[str] = ..., temperature: _Optional[float] = ..., task_id: _Optional[str] = ...) -> None: ...

class GenerateResponse(_message.Message):
    __slots__ = ("role", "raw_output", "prompt", "thought", "next", "action", "action_input", "answer", "verdict", "attempts", "prompt_tokens", "completion_tokens", "model")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    RAW_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    THOUGHT_FIELD_NUMBER: _ClassVar[int]
    NEXT_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTION_INPUT_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    role: str
    raw_output: str
    prompt: str
    thought: str
    next: str
    action: str
    action_input: _struct_pb2.Struct
    answer: str
    verdict: str
    attempts: int
    prompt_tokens: int
    completion_tokens: int
    model: str
    def __init__(self, role: _Optional[str] = ..., raw_output: _Optional[str] = ..., prompt: _Optional[str] = ..., thought: _Optional[str] = ..., next: _Optional[str] = ..., action: _Optional[str] = ..., action_input: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., answer: _Optional[str] = ..., verdict: _Optional[str] = ..., attempts: _Optional[int] = ..., prompt_tokens: _Optional[int] = ..., completion_tokens: _Optional[int] = ..., model: _Optional[str] = ...) -> None: ...
