from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EnrollVmRequest(_message.Message):
    __slots__ = ("name", "bios_uuid", "valid_days")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BIOS_UUID_FIELD_NUMBER: _ClassVar[int]
    VALID_DAYS_FIELD_NUMBER: _ClassVar[int]
    name: str
    bios_uuid: str
    valid_days: int
    def __init__(self, name: _Optional[str] = ..., bios_uuid: _Optional[str] = ..., valid_days: _Optional[int] = ...) -> None: ...

class EnrollVmResponse(_message.Message):
    __slots__ = ("ca_pem", "cert_pem", "key_pem", "serial", "not_after")
    CA_PEM_FIELD_NUMBER: _ClassVar[int]
    CERT_PEM_FIELD_NUMBER: _ClassVar[int]
    KEY_PEM_FIELD_NUMBER: _ClassVar[int]
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    ca_pem: str
    cert_pem: str
    key_pem: str
    serial: str
    not_after: str
    def __init__(self, ca_pem: _Optional[str] = ..., cert_pem: _Optional[str] = ..., key_pem: _Optional[str] = ..., serial: _Optional[str] = ..., not_after: _Optional[str] = ...) -> None: ...

class RevokeVmRequest(_message.Message):
    __slots__ = ("bios_uuid", "serial")
    BIOS_UUID_FIELD_NUMBER: _ClassVar[int]
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    bios_uuid: str
    serial: str
    def __init__(self, bios_uuid: _Optional[str] = ..., serial: _Optional[str] = ...) -> None: ...

class RevokeVmResponse(_message.Message):
    __slots__ = ("serials",)
    SERIALS_FIELD_NUMBER: _ClassVar[int]
    serials: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, serials: _Optional[_Iterable[str]] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StatusResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[KeyValue]
    def __init__(self, items: _Optional[_Iterable[_Union[KeyValue, _Mapping]]] = ...) -> None: ...

class KeyValue(_message.Message):
    __slots__ = ("key", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
