from workforce.v1 import common_pb2 as _common_pb2
from workforce.v1 import channel_pb2 as _channel_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InputFile(_message.Message):
    __slots__ = ("name", "data", "media_type")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    data: bytes
    media_type: str
    def __init__(self, name: _Optional[str] = ..., data: _Optional[bytes] = ..., media_type: _Optional[str] = ...) -> None: ...

class SubmitTaskRequest(_message.Message):
    __slots__ = ("question", "answer_format", "idempotency_key", "files", "metadata", "timeout_s", "review_plan", "review_replans", "token_budget")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FORMAT_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    REVIEW_PLAN_FIELD_NUMBER: _ClassVar[int]
    REVIEW_REPLANS_FIELD_NUMBER: _ClassVar[int]
    TOKEN_BUDGET_FIELD_NUMBER: _ClassVar[int]
    question: str
    answer_format: str
    idempotency_key: str
    files: _containers.RepeatedCompositeFieldContainer[InputFile]
    metadata: _containers.ScalarMap[str, str]
    timeout_s: int
    review_plan: bool
    review_replans: bool
    token_budget: int
    def __init__(self, question: _Optional[str] = ..., answer_format: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., files: _Optional[_Iterable[_Union[InputFile, _Mapping]]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., timeout_s: _Optional[int] = ..., review_plan: _Optional[bool] = ..., review_replans: _Optional[bool] = ..., token_budget: _Optional[int] = ...) -> None: ...

class SubmitTaskResponse(_message.Message):
    __slots__ = ("task_id", "created", "task")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    created: bool
    task: _common_pb2.TaskRecord
    def __init__(self, task_id: _Optional[str] = ..., created: _Optional[bool] = ..., task: _Optional[_Union[_common_pb2.TaskRecord, _Mapping]] = ...) -> None: ...

class GetTaskRequest(_message.Message):
    __slots__ = ("task_id",)
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    def __init__(self, task_id: _Optional[str] = ...) -> None: ...

class ListTasksRequest(_message.Message):
    __slots__ = ("limit", "status", "page_token")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    limit: int
    status: _common_pb2.TaskStatus
    page_token: str
    def __init__(self, limit: _Optional[int] = ..., status: _Optional[_Union[_common_pb2.TaskStatus, str]] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTasksResponse(_message.Message):
    __slots__ = ("tasks", "next_page_token")
    TASKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[_common_pb2.TaskRecord]
    next_page_token: str
    def __init__(self, tasks: _Optional[_Iterable[_Union[_common_pb2.TaskRecord, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class WatchTaskRequest(_message.Message):
    __slots__ = ("task_id", "from_seq")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_SEQ_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    from_seq: int
    def __init__(self, task_id: _Optional[str] = ..., from_seq: _Optional[int] = ...) -> None: ...

class CancelTaskRequest(_message.Message):
    __slots__ = ("task_id", "reason")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    reason: str
    def __init__(self, task_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ListWorkersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListWorkersResponse(_message.Message):
    __slots__ = ("pools", "instances")
    POOLS_FIELD_NUMBER: _ClassVar[int]
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    pools: _containers.RepeatedCompositeFieldContainer[_common_pb2.WorkerPool]
    instances: _containers.RepeatedCompositeFieldContainer[_common_pb2.WorkerInfo]
    def __init__(self, pools: _Optional[_Iterable[_Union[_common_pb2.WorkerPool, _Mapping]]] = ..., instances: _Optional[_Iterable[_Union[_common_pb2.WorkerInfo, _Mapping]]] = ...) -> None: ...

class PlanEditSubtask(_message.Message):
    __slots__ = ("subtask_id", "content", "worker_type", "dependencies")
    SUBTASK_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    WORKER_TYPE_FIELD_NUMBER: _ClassVar[int]
    DEPENDENCIES_FIELD_NUMBER: _ClassVar[int]
    subtask_id: str
    content: str
    worker_type: str
    dependencies: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, subtask_id: _Optional[str] = ..., content: _Optional[str] = ..., worker_type: _Optional[str] = ..., dependencies: _Optional[_Iterable[str]] = ...) -> None: ...

class ApprovePlanRequest(_message.Message):
    __slots__ = ("task_id", "plan_version", "subtasks", "comment")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_VERSION_FIELD_NUMBER: _ClassVar[int]
    SUBTASKS_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    plan_version: int
    subtasks: _containers.RepeatedCompositeFieldContainer[PlanEditSubtask]
    comment: str
    def __init__(self, task_id: _Optional[str] = ..., plan_version: _Optional[int] = ..., subtasks: _Optional[_Iterable[_Union[PlanEditSubtask, _Mapping]]] = ..., comment: _Optional[str] = ...) -> None: ...

class RejectPlanRequest(_message.Message):
    __slots__ = ("task_id", "plan_version", "reason")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_VERSION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    plan_version: int
    reason: str
    def __init__(self, task_id: _Optional[str] = ..., plan_version: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class ToolCallApproval(_message.Message):
    __slots__ = ("request", "decision")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    request: _channel_pb2.ToolCallRequest
    decision: _channel_pb2.ApprovalDecision
    def __init__(self, request: _Optional[_Union[_channel_pb2.ToolCallRequest, _Mapping]] = ..., decision: _Optional[_Union[_channel_pb2.ApprovalDecision, _Mapping]] = ...) -> None: ...

class ListToolCallsResponse(_message.Message):
    __slots__ = ("calls",)
    CALLS_FIELD_NUMBER: _ClassVar[int]
    calls: _containers.RepeatedCompositeFieldContainer[ToolCallApproval]
    def __init__(self, calls: _Optional[_Iterable[_Union[ToolCallApproval, _Mapping]]] = ...) -> None: ...

class DecideToolCallRequest(_message.Message):
    __slots__ = ("task_id", "call_id", "approve", "reason")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    call_id: str
    approve: bool
    reason: str
    def __init__(self, task_id: _Optional[str] = ..., call_id: _Optional[str] = ..., approve: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...
