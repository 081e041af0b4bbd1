from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SandboxFile(_message.Message):
    __slots__ = ("path", "data")
    PATH_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    path: str
    data: bytes
    def __init__(self, path: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class SandboxRunRequest(_message.Message):
    __slots__ = ("language", "source", "timeout_s", "files", "run_id")
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    language: str
    source: str
    timeout_s: float
    files: _containers.RepeatedCompositeFieldContainer[SandboxFile]
    run_id: str
    def __init__(self, language: _Optional[str] = ..., source: _Optional[str] = ..., timeout_s: _Optional[float] = ..., files: _Optional[_Iterable[_Union[SandboxFile, _Mapping]]] = ..., run_id: _Optional[str] = ...) -> None: ...

class SandboxRunResult(_message.Message):
    __slots__ = ("exit_code", "signal", "stdout", "stderr", "duration_s", "first_output_s", "isolation", "errors", "files", "skipped", "deleted")
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    STDOUT_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    FIRST_OUTPUT_S_FIELD_NUMBER: _ClassVar[int]
    ISOLATION_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    exit_code: int
    signal: int
    stdout: bytes
    stderr: bytes
    duration_s: float
    first_output_s: float
    isolation: str
    errors: _containers.RepeatedScalarFieldContainer[str]
    files: _containers.RepeatedCompositeFieldContainer[SandboxFile]
    skipped: _containers.RepeatedScalarFieldContainer[str]
    deleted: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, exit_code: _Optional[int] = ..., signal: _Optional[int] = ..., stdout: _Optional[bytes] = ..., stderr: _Optional[bytes] = ..., duration_s: _Optional[float] = ..., first_output_s: _Optional[float] = ..., isolation: _Optional[str] = ..., errors: _Optional[_Iterable[str]] = ..., files: _Optional[_Iterable[_Union[SandboxFile, _Mapping]]] = ..., skipped: _Optional[_Iterable[str]] = ..., deleted: _Optional[_Iterable[str]] = ...) -> None: ...

class SandboxDescribeRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SandboxInfo(_message.Message):
    __slots__ = ("isolation", "network", "syscall_filter", "own_uid", "concurrency", "wall_s", "cpu_s", "memory_mb")
    ISOLATION_FIELD_NUMBER: _ClassVar[int]
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    SYSCALL_FILTER_FIELD_NUMBER: _ClassVar[int]
    OWN_UID_FIELD_NUMBER: _ClassVar[int]
    CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    WALL_S_FIELD_NUMBER: _ClassVar[int]
    CPU_S_FIELD_NUMBER: _ClassVar[int]
    MEMORY_MB_FIELD_NUMBER: _ClassVar[int]
    isolation: str
    network: bool
    syscall_filter: bool
    own_uid: bool
    concurrency: int
    wall_s: float
    cpu_s: int
    memory_mb: int
    def __init__(self, isolation: _Optional[str] = ..., network: _Optional[bool] = ..., syscall_filter: _Optional[bool] = ..., own_uid: _Optional[bool] = ..., concurrency: _Optional[int] = ..., wall_s: _Optional[float] = ..., cpu_s: _Optional[int] = ..., memory_mb: _Optional[int] = ...) -> None: ...
