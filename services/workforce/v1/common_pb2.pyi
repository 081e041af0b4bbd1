import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaskStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_STATUS_UNSPECIFIED: _ClassVar[TaskStatus]
    TASK_STATUS_QUEUED: _ClassVar[TaskStatus]
    TASK_STATUS_PLANNING: _ClassVar[TaskStatus]
    TASK_STATUS_RUNNING: _ClassVar[TaskStatus]
    TASK_STATUS_SYNTHESIZING: _ClassVar[TaskStatus]
    TASK_STATUS_SUCCEEDED: _ClassVar[TaskStatus]
    TASK_STATUS_FAILED: _ClassVar[TaskStatus]
    TASK_STATUS_CANCELLED: _ClassVar[TaskStatus]
    TASK_STATUS_AWAITING_APPROVAL: _ClassVar[TaskStatus]

class SubtaskStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUBTASK_STATUS_UNSPECIFIED: _ClassVar[SubtaskStatus]
    SUBTASK_STATUS_PENDING: _ClassVar[SubtaskStatus]
    SUBTASK_STATUS_DISPATCHED: _ClassVar[SubtaskStatus]
    SUBTASK_STATUS_DONE: _ClassVar[SubtaskStatus]
    SUBTASK_STATUS_FAILED: _ClassVar[SubtaskStatus]
    SUBTASK_STATUS_REPLACED: _ClassVar[SubtaskStatus]
    SUBTASK_STATUS_CANCELLED: _ClassVar[SubtaskStatus]
TASK_STATUS_UNSPECIFIED: TaskStatus
TASK_STATUS_QUEUED: TaskStatus
TASK_STATUS_PLANNING: TaskStatus
TASK_STATUS_RUNNING: TaskStatus
TASK_STATUS_SYNTHESIZING: TaskStatus
TASK_STATUS_SUCCEEDED: TaskStatus
TASK_STATUS_FAILED: TaskStatus
TASK_STATUS_CANCELLED: TaskStatus
TASK_STATUS_AWAITING_APPROVAL: TaskStatus
SUBTASK_STATUS_UNSPECIFIED: SubtaskStatus
SUBTASK_STATUS_PENDING: SubtaskStatus
SUBTASK_STATUS_DISPATCHED: SubtaskStatus
SUBTASK_STATUS_DONE: SubtaskStatus
SUBTASK_STATUS_FAILED: SubtaskStatus
SUBTASK_STATUS_REPLACED: SubtaskStatus
SUBTASK_STATUS_CANCELLED: SubtaskStatus

class FileRef(_message.Message):
    __slots__ = ("name", "object_key", "size", "media_type", "sha256")
    NAME_FIELD_NUMBER: _ClassVar[int]
    OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    name: str
    object_key: str
    size: int
    media_type: str
    sha256: str
    def __init__(self, name: _Optional[str] = ..., object_key: _Optional[str] = ..., size: _Optional[int] = ..., media_type: _Optional[str] = ..., sha256: _Optional[str] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ("prompt_tokens", "completion_tokens", "requests")
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    prompt_tokens: int
    completion_tokens: int
    requests: int
    def __init__(self, prompt_tokens: _Optional[int] = ..., completion_tokens: _Optional[int] = ..., requests: _Optional[int] = ...) -> None: ...

class TaskRecord(_message.Message):
    __slots__ = ("task_id", "status", "question", "answer_format", "files", "answer", "failure_reason", "created_at", "updated_at", "deadline", "idempotency_key", "usage", "metadata", "replans", "subtasks_total", "subtasks_done", "owner", "review_plan", "review_replans", "token_budget", "quota_reserved")
    class UsageEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Usage
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Usage, _Mapping]] = ...) -> None: ...
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FORMAT_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    REPLANS_FIELD_NUMBER: _ClassVar[int]
    SUBTASKS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    SUBTASKS_DONE_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    REVIEW_PLAN_FIELD_NUMBER: _ClassVar[int]
    REVIEW_REPLANS_FIELD_NUMBER: _ClassVar[int]
    TOKEN_BUDGET_FIELD_NUMBER: _ClassVar[int]
    QUOTA_RESERVED_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    status: TaskStatus
    question: str
    answer_format: str
    files: _containers.RepeatedCompositeFieldContainer[FileRef]
    answer: str
    failure_reason: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    deadline: _timestamp_pb2.Timestamp
    idempotency_key: str
    usage: _containers.MessageMap[str, Usage]
    metadata: _containers.ScalarMap[str, str]
    replans: int
    subtasks_total: int
    subtasks_done: int
    owner: str
    review_plan: bool
    review_replans: bool
    token_budget: int
    quota_reserved: bool
    def __init__(self, task_id: _Optional[str] = ..., status: _Optional[_Union[TaskStatus, str]] = ..., question: _Optional[str] = ..., answer_format: _Optional[str] = ..., files: _Optional[_Iterable[_Union[FileRef, _Mapping]]] = ..., answer: _Optional[str] = ..., failure_reason: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., idempotency_key: _Optional[str] = ..., usage: _Optional[_Mapping[str, Usage]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., replans: _Optional[int] = ..., subtasks_total: _Optional[int] = ..., subtasks_done: _Optional[int] = ..., owner: _Optional[str] = ..., review_plan: _Optional[bool] = ..., review_replans: _Optional[bool] = ..., token_budget: _Optional[int] = ..., quota_reserved: _Optional[bool] = ...) -> None: ...

class WorkerInfo(_message.Message):
    __slots__ = ("worker_type", "instance_id", "description", "tools", "concurrency", "heartbeat_at", "busy", "needs_documents")
    WORKER_TYPE_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_AT_FIELD_NUMBER: _ClassVar[int]
    BUSY_FIELD_NUMBER: _ClassVar[int]
    NEEDS_DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    worker_type: str
    instance_id: str
    description: str
    tools: _containers.RepeatedScalarFieldContainer[str]
    concurrency: int
    heartbeat_at: _timestamp_pb2.Timestamp
    busy: int
    needs_documents: bool
    def __init__(self, worker_type: _Optional[str] = ..., instance_id: _Optional[str] = ..., description: _Optional[str] = ..., tools: _Optional[_Iterable[str]] = ..., concurrency: _Optional[int] = ..., heartbeat_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., busy: _Optional[int] = ..., needs_documents: _Optional[bool] = ...) -> None: ...

class WorkerPool(_message.Message):
    __slots__ = ("worker_type", "description", "tools", "replicas", "capacity", "queue_depth", "needs_documents")
    WORKER_TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    QUEUE_DEPTH_FIELD_NUMBER: _ClassVar[int]
    NEEDS_DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    worker_type: str
    description: str
    tools: _containers.RepeatedScalarFieldContainer[str]
    replicas: int
    capacity: int
    queue_depth: int
    needs_documents: bool
    def __init__(self, worker_type: _Optional[str] = ..., description: _Optional[str] = ..., tools: _Optional[_Iterable[str]] = ..., replicas: _Optional[int] = ..., capacity: _Optional[int] = ..., queue_depth: _Optional[int] = ..., needs_documents: _Optional[bool] = ...) -> None: ...
