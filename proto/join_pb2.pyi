from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class JoinRequest(_message.Message):
    __slots__ = ("token", "bios_uuid", "name", "csr_pem", "nonce")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    BIOS_UUID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CSR_PEM_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    token: str
    bios_uuid: str
    name: str
    csr_pem: str
    nonce: str
    def __init__(self, token: _Optional[str] = ..., bios_uuid: _Optional[str] = ..., name: _Optional[str] = ..., csr_pem: _Optional[str] = ..., nonce: _Optional[str] = ...) -> None: ...

class JoinResponse(_message.Message):
    __slots__ = ("nonce_required", "ca_pem", "cert_pem", "serial", "not_after", "vm_name", "vmgroup")
    NONCE_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    CA_PEM_FIELD_NUMBER: _ClassVar[int]
    CERT_PEM_FIELD_NUMBER: _ClassVar[int]
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    VM_NAME_FIELD_NUMBER: _ClassVar[int]
    VMGROUP_FIELD_NUMBER: _ClassVar[int]
    nonce_required: bool
    ca_pem: str
    cert_pem: str
    serial: str
    not_after: str
    vm_name: str
    vmgroup: str
    def __init__(self, nonce_required: _Optional[bool] = ..., ca_pem: _Optional[str] = ..., cert_pem: _Optional[str] = ..., serial: _Optional[str] = ..., not_after: _Optional[str] = ..., vm_name: _Optional[str] = ..., vmgroup: _Optional[str] = ...) -> None: ...
