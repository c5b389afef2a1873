from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VolumeRef(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class CreateRequest(_message.Message):
    __slots__ = ("name", "options", "host_filesystems", "frozen")
    class OptionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    HOST_FILESYSTEMS_FIELD_NUMBER: _ClassVar[int]
    FROZEN_FIELD_NUMBER: _ClassVar[int]
    name: str
    options: _containers.ScalarMap[str, str]
    host_filesystems: _containers.RepeatedScalarFieldContainer[str]
    frozen: bool
    def __init__(self, name: _Optional[str] = ..., options: _Optional[_Mapping[str, str]] = ..., host_filesystems: _Optional[_Iterable[str]] = ..., frozen: _Optional[bool] = ...) -> None: ...

class Volume(_message.Message):
    __slots__ = ("name", "datastore", "full_name", "status", "fstype", "access", "attach_as", "attached_to_vm", "capacity_mb", "created_at")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DATASTORE_FIELD_NUMBER: _ClassVar[int]
    FULL_NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FSTYPE_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    ATTACH_AS_FIELD_NUMBER: _ClassVar[int]
    ATTACHED_TO_VM_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_MB_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    datastore: str
    full_name: str
    status: _struct_pb2.Struct
    fstype: str
    access: str
    attach_as: str
    attached_to_vm: str
    capacity_mb: int
    created_at: str
    def __init__(self, name: _Optional[str] = ..., datastore: _Optional[str] = ..., full_name: _Optional[str] = ..., status: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., fstype: _Optional[str] = ..., access: _Optional[str] = ..., attach_as: _Optional[str] = ..., attached_to_vm: _Optional[str] = ..., capacity_mb: _Optional[int] = ..., created_at: _Optional[str] = ...) -> None: ...

class DeviceHint(_message.Message):
    __slots__ = ("kind", "path", "backing_file", "controller_pci_slot", "controller_pci_bus", "unit", "disk_uuid", "controller_bus", "controller_pci_function")
    KIND_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    BACKING_FILE_FIELD_NUMBER: _ClassVar[int]
    CONTROLLER_PCI_SLOT_FIELD_NUMBER: _ClassVar[int]
    CONTROLLER_PCI_BUS_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    DISK_UUID_FIELD_NUMBER: _ClassVar[int]
    CONTROLLER_BUS_FIELD_NUMBER: _ClassVar[int]
    CONTROLLER_PCI_FUNCTION_FIELD_NUMBER: _ClassVar[int]
    kind: str
    path: str
    backing_file: str
    controller_pci_slot: int
    controller_pci_bus: int
    unit: int
    disk_uuid: str
    controller_bus: int
    controller_pci_function: int
    def __init__(self, kind: _Optional[str] = ..., path: _Optional[str] = ..., backing_file: _Optional[str] = ..., controller_pci_slot: _Optional[int] = ..., controller_pci_bus: _Optional[int] = ..., unit: _Optional[int] = ..., disk_uuid: _Optional[str] = ..., controller_bus: _Optional[int] = ..., controller_pci_function: _Optional[int] = ...) -> None: ...

class AttachResponse(_message.Message):
    __slots__ = ("volume", "device", "reused")
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    REUSED_FIELD_NUMBER: _ClassVar[int]
    volume: Volume
    device: DeviceHint
    reused: bool
    def __init__(self, volume: _Optional[_Union[Volume, _Mapping]] = ..., device: _Optional[_Union[DeviceHint, _Mapping]] = ..., reused: _Optional[bool] = ...) -> None: ...

class RemoveResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DetachResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReleaseResponse(_message.Message):
    __slots__ = ("kept_attached",)
    KEPT_ATTACHED_FIELD_NUMBER: _ClassVar[int]
    kept_attached: bool
    def __init__(self, kept_attached: _Optional[bool] = ...) -> None: ...

class ListRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListResponse(_message.Message):
    __slots__ = ("names",)
    NAMES_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, names: _Optional[_Iterable[str]] = ...) -> None: ...

class CapabilitiesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CapabilitiesResponse(_message.Message):
    __slots__ = ("scope",)
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    scope: str
    def __init__(self, scope: _Optional[str] = ...) -> None: ...

class RenewCertificateRequest(_message.Message):
    __slots__ = ("csr_pem",)
    CSR_PEM_FIELD_NUMBER: _ClassVar[int]
    csr_pem: str
    def __init__(self, csr_pem: _Optional[str] = ...) -> None: ...

class RenewCertificateResponse(_message.Message):
    __slots__ = ("ca_pem", "cert_pem", "serial", "not_after", "old_serial", "old_revoked_at")
    CA_PEM_FIELD_NUMBER: _ClassVar[int]
    CERT_PEM_FIELD_NUMBER: _ClassVar[int]
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    OLD_SERIAL_FIELD_NUMBER: _ClassVar[int]
    OLD_REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    ca_pem: str
    cert_pem: str
    serial: str
    not_after: str
    old_serial: str
    old_revoked_at: str
    def __init__(self, ca_pem: _Optional[str] = ..., cert_pem: _Optional[str] = ..., serial: _Optional[str] = ..., not_after: _Optional[str] = ..., old_serial: _Optional[str] = ..., old_revoked_at: _Optional[str] = ...) -> None: ...

class ExtendRequest(_message.Message):
    __slots__ = ("name", "size")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    name: str
    size: str
    def __init__(self, name: _Optional[str] = ..., size: _Optional[str] = ...) -> None: ...
