import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from workforce.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ApprovalVerdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    APPROVAL_VERDICT_UNSPECIFIED: _ClassVar[ApprovalVerdict]
    APPROVAL_VERDICT_APPROVE: _ClassVar[ApprovalVerdict]
    APPROVAL_VERDICT_REJECT: _ClassVar[ApprovalVerdict]
APPROVAL_VERDICT_UNSPECIFIED: ApprovalVerdict
APPROVAL_VERDICT_APPROVE: ApprovalVerdict
APPROVAL_VERDICT_REJECT: ApprovalVerdict

class Subtask(_message.Message):
    __slots__ = ("subtask_id", "content", "dependencies", "assignee", "status", "attempt_id", "attempts", "failures", "result", "failure_reason", "replaces", "dispatched_at", "finished_at", "worker_instance", "files")
    SUBTASK_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    DEPENDENCIES_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    REPLACES_FIELD_NUMBER: _ClassVar[int]
    DISPATCHED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    WORKER_INSTANCE_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    subtask_id: str
    content: str
    dependencies: _containers.RepeatedScalarFieldContainer[str]
    assignee: str
    status: _common_pb2.SubtaskStatus
    attempt_id: str
    attempts: int
    failures: int
    result: str
    failure_reason: str
    replaces: str
    dispatched_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    worker_instance: str
    files: _containers.RepeatedCompositeFieldContainer[_common_pb2.FileRef]
    def __init__(self, subtask_id: _Optional[str] = ..., content: _Optional[str] = ..., dependencies: _Optional[_Iterable[str]] = ..., assignee: _Optional[str] = ..., status: _Optional[_Union[_common_pb2.SubtaskStatus, str]] = ..., attempt_id: _Optional[str] = ..., attempts: _Optional[int] = ..., failures: _Optional[int] = ..., result: _Optional[str] = ..., failure_reason: _Optional[str] = ..., replaces: _Optional[str] = ..., dispatched_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., worker_instance: _Optional[str] = ..., files: _Optional[_Iterable[_Union[_common_pb2.FileRef, _Mapping]]] = ...) -> None: ...

class OutboxEntry(_message.Message):
    __slots__ = ("subject", "msg_id", "payload")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    MSG_ID_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    subject: str
    msg_id: str
    payload: bytes
    def __init__(self, subject: _Optional[str] = ..., msg_id: _Optional[str] = ..., payload: _Optional[bytes] = ...) -> None: ...

class PlanState(_message.Message):
    __slots__ = ("task_id", "subtasks", "plan_version", "applied", "outbox", "synthesis_requested", "status", "answer", "failure_reason", "usage", "replans", "question", "answer_format", "files", "deadline", "replan_pending", "transitions", "review_plan", "review_replans", "proposals", "token_budget", "outbox_at_ms", "metadata")
    class UsageEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _common_pb2.Usage
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ...) -> None: ...
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    SUBTASKS_FIELD_NUMBER: _ClassVar[int]
    PLAN_VERSION_FIELD_NUMBER: _ClassVar[int]
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    OUTBOX_FIELD_NUMBER: _ClassVar[int]
    SYNTHESIS_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    REPLANS_FIELD_NUMBER: _ClassVar[int]
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FORMAT_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    REPLAN_PENDING_FIELD_NUMBER: _ClassVar[int]
    TRANSITIONS_FIELD_NUMBER: _ClassVar[int]
    REVIEW_PLAN_FIELD_NUMBER: _ClassVar[int]
    REVIEW_REPLANS_FIELD_NUMBER: _ClassVar[int]
    PROPOSALS_FIELD_NUMBER: _ClassVar[int]
    TOKEN_BUDGET_FIELD_NUMBER: _ClassVar[int]
    OUTBOX_AT_MS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    subtasks: _containers.RepeatedCompositeFieldContainer[Subtask]
    plan_version: int
    applied: _containers.RepeatedScalarFieldContainer[str]
    outbox: _containers.RepeatedCompositeFieldContainer[OutboxEntry]
    synthesis_requested: bool
    status: _common_pb2.TaskStatus
    answer: str
    failure_reason: str
    usage: _containers.MessageMap[str, _common_pb2.Usage]
    replans: int
    question: str
    answer_format: str
    files: _containers.RepeatedCompositeFieldContainer[_common_pb2.FileRef]
    deadline: _timestamp_pb2.Timestamp
    replan_pending: bool
    transitions: int
    review_plan: bool
    review_replans: bool
    proposals: _containers.RepeatedCompositeFieldContainer[PlanProposal]
    token_budget: int
    outbox_at_ms: int
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, task_id: _Optional[str] = ..., subtasks: _Optional[_Iterable[_Union[Subtask, _Mapping]]] = ..., plan_version: _Optional[int] = ..., applied: _Optional[_Iterable[str]] = ..., outbox: _Optional[_Iterable[_Union[OutboxEntry, _Mapping]]] = ..., synthesis_requested: _Optional[bool] = ..., status: _Optional[_Union[_common_pb2.TaskStatus, str]] = ..., answer: _Optional[str] = ..., failure_reason: _Optional[str] = ..., usage: _Optional[_Mapping[str, _common_pb2.Usage]] = ..., replans: _Optional[int] = ..., question: _Optional[str] = ..., answer_format: _Optional[str] = ..., files: _Optional[_Iterable[_Union[_common_pb2.FileRef, _Mapping]]] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., replan_pending: _Optional[bool] = ..., transitions: _Optional[int] = ..., review_plan: _Optional[bool] = ..., review_replans: _Optional[bool] = ..., proposals: _Optional[_Iterable[_Union[PlanProposal, _Mapping]]] = ..., token_budget: _Optional[int] = ..., outbox_at_ms: _Optional[int] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class PlanProposal(_message.Message):
    __slots__ = ("plan_version", "replaced_subtask_id", "subtasks", "proposed_at", "deadline")
    PLAN_VERSION_FIELD_NUMBER: _ClassVar[int]
    REPLACED_SUBTASK_ID_FIELD_NUMBER: _ClassVar[int]
    SUBTASKS_FIELD_NUMBER: _ClassVar[int]
    PROPOSED_AT_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    plan_version: int
    replaced_subtask_id: str
    subtasks: _containers.RepeatedCompositeFieldContainer[Subtask]
    proposed_at: _timestamp_pb2.Timestamp
    deadline: _timestamp_pb2.Timestamp
    def __init__(self, plan_version: _Optional[int] = ..., replaced_subtask_id: _Optional[str] = ..., subtasks: _Optional[_Iterable[_Union[Subtask, _Mapping]]] = ..., proposed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ApprovalDecision(_message.Message):
    __slots__ = ("plan_version", "verdict", "subtasks", "reason", "decided_by", "decided_at", "via", "call_id")
    PLAN_VERSION_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    SUBTASKS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    VIA_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    plan_version: int
    verdict: ApprovalVerdict
    subtasks: _containers.RepeatedCompositeFieldContainer[Subtask]
    reason: str
    decided_by: str
    decided_at: _timestamp_pb2.Timestamp
    via: str
    call_id: str
    def __init__(self, plan_version: _Optional[int] = ..., verdict: _Optional[_Union[ApprovalVerdict, str]] = ..., subtasks: _Optional[_Iterable[_Union[Subtask, _Mapping]]] = ..., reason: _Optional[str] = ..., decided_by: _Optional[str] = ..., decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., via: _Optional[str] = ..., call_id: _Optional[str] = ...) -> None: ...

class ToolCallRequest(_message.Message):
    __slots__ = ("task_id", "call_id", "subtask_id", "attempt_id", "worker_type", "tool", "arguments", "call_index", "asked_at", "deadline", "timeout_policy", "worker_instance")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    SUBTASK_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_TYPE_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    CALL_INDEX_FIELD_NUMBER: _ClassVar[int]
    ASKED_AT_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_POLICY_FIELD_NUMBER: _ClassVar[int]
    WORKER_INSTANCE_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    call_id: str
    subtask_id: str
    attempt_id: str
    worker_type: str
    tool: str
    arguments: str
    call_index: int
    asked_at: _timestamp_pb2.Timestamp
    deadline: _timestamp_pb2.Timestamp
    timeout_policy: str
    worker_instance: str
    def __init__(self, task_id: _Optional[str] = ..., call_id: _Optional[str] = ..., subtask_id: _Optional[str] = ..., attempt_id: _Optional[str] = ..., worker_type: _Optional[str] = ..., tool: _Optional[str] = ..., arguments: _Optional[str] = ..., call_index: _Optional[int] = ..., asked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., timeout_policy: _Optional[str] = ..., worker_instance: _Optional[str] = ...) -> None: ...

class PlannerRequest(_message.Message):
    __slots__ = ("task_id", "decompose", "replan", "synthesize", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    DECOMPOSE_FIELD_NUMBER: _ClassVar[int]
    REPLAN_FIELD_NUMBER: _ClassVar[int]
    SYNTHESIZE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    decompose: DecomposeRequest
    replan: ReplanRequest
    synthesize: SynthesizeRequest
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, task_id: _Optional[str] = ..., decompose: _Optional[_Union[DecomposeRequest, _Mapping]] = ..., replan: _Optional[_Union[ReplanRequest, _Mapping]] = ..., synthesize: _Optional[_Union[SynthesizeRequest, _Mapping]] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class DecomposeRequest(_message.Message):
    __slots__ = ("question", "answer_format", "files", "task", "task_revision")
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FORMAT_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    TASK_REVISION_FIELD_NUMBER: _ClassVar[int]
    question: str
    answer_format: str
    files: _containers.RepeatedCompositeFieldContainer[_common_pb2.FileRef]
    task: _common_pb2.TaskRecord
    task_revision: int
    def __init__(self, question: _Optional[str] = ..., answer_format: _Optional[str] = ..., files: _Optional[_Iterable[_Union[_common_pb2.FileRef, _Mapping]]] = ..., task: _Optional[_Union[_common_pb2.TaskRecord, _Mapping]] = ..., task_revision: _Optional[int] = ...) -> None: ...

class ReplanRequest(_message.Message):
    __slots__ = ("question", "subtasks", "failed_subtask_id", "failure_reason", "plan_version", "has_files")
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    SUBTASKS_FIELD_NUMBER: _ClassVar[int]
    FAILED_SUBTASK_ID_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    PLAN_VERSION_FIELD_NUMBER: _ClassVar[int]
    HAS_FILES_FIELD_NUMBER: _ClassVar[int]
    question: str
    subtasks: _containers.RepeatedCompositeFieldContainer[Subtask]
    failed_subtask_id: str
    failure_reason: str
    plan_version: int
    has_files: bool
    def __init__(self, question: _Optional[str] = ..., subtasks: _Optional[_Iterable[_Union[Subtask, _Mapping]]] = ..., failed_subtask_id: _Optional[str] = ..., failure_reason: _Optional[str] = ..., plan_version: _Optional[int] = ..., has_files: _Optional[bool] = ...) -> None: ...

class SynthesizeRequest(_message.Message):
    __slots__ = ("question", "answer_format", "subtasks")
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FORMAT_FIELD_NUMBER: _ClassVar[int]
    SUBTASKS_FIELD_NUMBER: _ClassVar[int]
    question: str
    answer_format: str
    subtasks: _containers.RepeatedCompositeFieldContainer[Subtask]
    def __init__(self, question: _Optional[str] = ..., answer_format: _Optional[str] = ..., subtasks: _Optional[_Iterable[_Union[Subtask, _Mapping]]] = ...) -> None: ...

class PlanReady(_message.Message):
    __slots__ = ("subtasks", "plan_version", "replaced_subtask_id", "planner_output", "usage", "task", "task_revision", "trace_json")
    class UsageEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _common_pb2.Usage
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ...) -> None: ...
    SUBTASKS_FIELD_NUMBER: _ClassVar[int]
    PLAN_VERSION_FIELD_NUMBER: _ClassVar[int]
    REPLACED_SUBTASK_ID_FIELD_NUMBER: _ClassVar[int]
    PLANNER_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    TASK_REVISION_FIELD_NUMBER: _ClassVar[int]
    TRACE_JSON_FIELD_NUMBER: _ClassVar[int]
    subtasks: _containers.RepeatedCompositeFieldContainer[Subtask]
    plan_version: int
    replaced_subtask_id: str
    planner_output: str
    usage: _containers.MessageMap[str, _common_pb2.Usage]
    task: _common_pb2.TaskRecord
    task_revision: int
    trace_json: str
    def __init__(self, subtasks: _Optional[_Iterable[_Union[Subtask, _Mapping]]] = ..., plan_version: _Optional[int] = ..., replaced_subtask_id: _Optional[str] = ..., planner_output: _Optional[str] = ..., usage: _Optional[_Mapping[str, _common_pb2.Usage]] = ..., task: _Optional[_Union[_common_pb2.TaskRecord, _Mapping]] = ..., task_revision: _Optional[int] = ..., trace_json: _Optional[str] = ...) -> None: ...

class FinalAnswer(_message.Message):
    __slots__ = ("answer", "planner_output", "usage", "trace_json")
    class UsageEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _common_pb2.Usage
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ...) -> None: ...
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    PLANNER_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    TRACE_JSON_FIELD_NUMBER: _ClassVar[int]
    answer: str
    planner_output: str
    usage: _containers.MessageMap[str, _common_pb2.Usage]
    trace_json: str
    def __init__(self, answer: _Optional[str] = ..., planner_output: _Optional[str] = ..., usage: _Optional[_Mapping[str, _common_pb2.Usage]] = ..., trace_json: _Optional[str] = ...) -> None: ...

class WorkItem(_message.Message):
    __slots__ = ("task_id", "subtask_id", "attempt_id", "worker_type", "overall_task", "subtask", "dependencies", "files", "deadline", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    SUBTASK_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_TYPE_FIELD_NUMBER: _ClassVar[int]
    OVERALL_TASK_FIELD_NUMBER: _ClassVar[int]
    SUBTASK_FIELD_NUMBER: _ClassVar[int]
    DEPENDENCIES_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    subtask_id: str
    attempt_id: str
    worker_type: str
    overall_task: str
    subtask: str
    dependencies: _containers.RepeatedCompositeFieldContainer[DependencyResult]
    files: _containers.RepeatedCompositeFieldContainer[_common_pb2.FileRef]
    deadline: _timestamp_pb2.Timestamp
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, task_id: _Optional[str] = ..., subtask_id: _Optional[str] = ..., attempt_id: _Optional[str] = ..., worker_type: _Optional[str] = ..., overall_task: _Optional[str] = ..., subtask: _Optional[str] = ..., dependencies: _Optional[_Iterable[_Union[DependencyResult, _Mapping]]] = ..., files: _Optional[_Iterable[_Union[_common_pb2.FileRef, _Mapping]]] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class DependencyResult(_message.Message):
    __slots__ = ("subtask_id", "content", "result")
    SUBTASK_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    subtask_id: str
    content: str
    result: str
    def __init__(self, subtask_id: _Optional[str] = ..., content: _Optional[str] = ..., result: _Optional[str] = ...) -> None: ...

class SubtaskResult(_message.Message):
    __slots__ = ("task_id", "subtask_id", "attempt_id", "content", "failed", "worker_type", "worker_instance", "tool_calls", "files", "usage", "duration_s", "trajectory_json")
    class UsageEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _common_pb2.Usage
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ...) -> None: ...
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    SUBTASK_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    WORKER_TYPE_FIELD_NUMBER: _ClassVar[int]
    WORKER_INSTANCE_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    TRAJECTORY_JSON_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    subtask_id: str
    attempt_id: str
    content: str
    failed: bool
    worker_type: str
    worker_instance: str
    tool_calls: int
    files: _containers.RepeatedCompositeFieldContainer[_common_pb2.FileRef]
    usage: _containers.MessageMap[str, _common_pb2.Usage]
    duration_s: float
    trajectory_json: str
    def __init__(self, task_id: _Optional[str] = ..., subtask_id: _Optional[str] = ..., attempt_id: _Optional[str] = ..., content: _Optional[str] = ..., failed: _Optional[bool] = ..., worker_type: _Optional[str] = ..., worker_instance: _Optional[str] = ..., tool_calls: _Optional[int] = ..., files: _Optional[_Iterable[_Union[_common_pb2.FileRef, _Mapping]]] = ..., usage: _Optional[_Mapping[str, _common_pb2.Usage]] = ..., duration_s: _Optional[float] = ..., trajectory_json: _Optional[str] = ...) -> None: ...

class CoordinatorMessage(_message.Message):
    __slots__ = ("task_id", "plan", "result", "final_answer", "cancel", "dead_letter", "planner_failure", "started", "approval", "deadlines")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    FINAL_ANSWER_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    DEAD_LETTER_FIELD_NUMBER: _ClassVar[int]
    PLANNER_FAILURE_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_FIELD_NUMBER: _ClassVar[int]
    DEADLINES_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    plan: PlanReady
    result: SubtaskResult
    final_answer: FinalAnswer
    cancel: CancelTask
    dead_letter: DeadLetter
    planner_failure: PlannerFailure
    started: TaskStarted
    approval: ApprovalDecision
    deadlines: DeadlineCheck
    def __init__(self, task_id: _Optional[str] = ..., plan: _Optional[_Union[PlanReady, _Mapping]] = ..., result: _Optional[_Union[SubtaskResult, _Mapping]] = ..., final_answer: _Optional[_Union[FinalAnswer, _Mapping]] = ..., cancel: _Optional[_Union[CancelTask, _Mapping]] = ..., dead_letter: _Optional[_Union[DeadLetter, _Mapping]] = ..., planner_failure: _Optional[_Union[PlannerFailure, _Mapping]] = ..., started: _Optional[_Union[TaskStarted, _Mapping]] = ..., approval: _Optional[_Union[ApprovalDecision, _Mapping]] = ..., deadlines: _Optional[_Union[DeadlineCheck, _Mapping]] = ...) -> None: ...

class DeadlineCheck(_message.Message):
    __slots__ = ("now",)
    NOW_FIELD_NUMBER: _ClassVar[int]
    now: float
    def __init__(self, now: _Optional[float] = ...) -> None: ...

class CancelTask(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class DeadLetter(_message.Message):
    __slots__ = ("subtask_id", "attempt_id", "stream_seq", "deliveries")
    SUBTASK_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    STREAM_SEQ_FIELD_NUMBER: _ClassVar[int]
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    subtask_id: str
    attempt_id: str
    stream_seq: int
    deliveries: int
    def __init__(self, subtask_id: _Optional[str] = ..., attempt_id: _Optional[str] = ..., stream_seq: _Optional[int] = ..., deliveries: _Optional[int] = ...) -> None: ...

class PlannerFailure(_message.Message):
    __slots__ = ("stage", "reason", "plan_version", "usage")
    class UsageEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _common_pb2.Usage
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ...) -> None: ...
    STAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    PLAN_VERSION_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    stage: str
    reason: str
    plan_version: int
    usage: _containers.MessageMap[str, _common_pb2.Usage]
    def __init__(self, stage: _Optional[str] = ..., reason: _Optional[str] = ..., plan_version: _Optional[int] = ..., usage: _Optional[_Mapping[str, _common_pb2.Usage]] = ...) -> None: ...

class TaskStarted(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TaskEvent(_message.Message):
    __slots__ = ("task_id", "seq", "time", "type", "source", "subtask_id", "message", "data", "status", "data_json")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SUBTASK_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DATA_JSON_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    seq: int
    time: _timestamp_pb2.Timestamp
    type: str
    source: str
    subtask_id: str
    message: str
    data: _struct_pb2.Struct
    status: _common_pb2.TaskStatus
    data_json: bytes
    def __init__(self, task_id: _Optional[str] = ..., seq: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., type: _Optional[str] = ..., source: _Optional[str] = ..., subtask_id: _Optional[str] = ..., message: _Optional[str] = ..., data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., status: _Optional[_Union[_common_pb2.TaskStatus, str]] = ..., data_json: _Optional[bytes] = ...) -> None: ...
