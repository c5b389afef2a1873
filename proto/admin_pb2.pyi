from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EnrollVmRequest(_message.Message):
    __slots__ = ("name", "bios_uuid", "valid_days", "labels", "valid_seconds")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BIOS_UUID_FIELD_NUMBER: _ClassVar[int]
    VALID_DAYS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    VALID_SECONDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    bios_uuid: str
    valid_days: int
    labels: _containers.RepeatedScalarFieldContainer[str]
    valid_seconds: int
    def __init__(self, name: _Optional[str] = ..., bios_uuid: _Optional[str] = ..., valid_days: _Optional[int] = ..., labels: _Optional[_Iterable[str]] = ..., valid_seconds: _Optional[int] = ...) -> None: ...

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
    __slots__ = ("items", "plugins")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    PLUGINS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[KeyValue]
    plugins: _containers.RepeatedCompositeFieldContainer[PluginSeen]
    def __init__(self, items: _Optional[_Iterable[_Union[KeyValue, _Mapping]]] = ..., plugins: _Optional[_Iterable[_Union[PluginSeen, _Mapping]]] = ...) -> None: ...

class KeyValue(_message.Message):
    __slots__ = ("key", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class VmEntry(_message.Message):
    __slots__ = ("uuid", "name")
    UUID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    uuid: str
    name: str
    def __init__(self, uuid: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class Vmgroup(_message.Message):
    __slots__ = ("id", "name", "description", "default_datastore", "vms", "labels", "max_volumes_limit", "max_volumes", "cascade_delete")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_DATASTORE_FIELD_NUMBER: _ClassVar[int]
    VMS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    MAX_VOLUMES_LIMIT_FIELD_NUMBER: _ClassVar[int]
    MAX_VOLUMES_FIELD_NUMBER: _ClassVar[int]
    CASCADE_DELETE_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    description: str
    default_datastore: str
    vms: _containers.RepeatedCompositeFieldContainer[VmEntry]
    labels: _containers.ScalarMap[str, str]
    max_volumes_limit: int
    max_volumes: str
    cascade_delete: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., default_datastore: _Optional[str] = ..., vms: _Optional[_Iterable[_Union[VmEntry, _Mapping]]] = ..., labels: _Optional[_Mapping[str, str]] = ..., max_volumes_limit: _Optional[int] = ..., max_volumes: _Optional[str] = ..., cascade_delete: _Optional[str] = ...) -> None: ...

class VmgroupCreateRequest(_message.Message):
    __slots__ = ("name", "default_datastore", "description", "vm_list", "labels", "max_volumes")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_DATASTORE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    VM_LIST_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    MAX_VOLUMES_FIELD_NUMBER: _ClassVar[int]
    name: str
    default_datastore: str
    description: str
    vm_list: _containers.RepeatedScalarFieldContainer[str]
    labels: _containers.RepeatedScalarFieldContainer[str]
    max_volumes: str
    def __init__(self, name: _Optional[str] = ..., default_datastore: _Optional[str] = ..., description: _Optional[str] = ..., vm_list: _Optional[_Iterable[str]] = ..., labels: _Optional[_Iterable[str]] = ..., max_volumes: _Optional[str] = ...) -> None: ...

class VmgroupListRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VmgroupListResponse(_message.Message):
    __slots__ = ("vmgroups",)
    VMGROUPS_FIELD_NUMBER: _ClassVar[int]
    vmgroups: _containers.RepeatedCompositeFieldContainer[Vmgroup]
    def __init__(self, vmgroups: _Optional[_Iterable[_Union[Vmgroup, _Mapping]]] = ...) -> None: ...

class VmgroupUpdateRequest(_message.Message):
    __slots__ = ("name", "new_name", "description", "default_datastore", "labels", "max_volumes", "cascade_delete")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NEW_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_DATASTORE_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    MAX_VOLUMES_FIELD_NUMBER: _ClassVar[int]
    CASCADE_DELETE_FIELD_NUMBER: _ClassVar[int]
    name: str
    new_name: str
    description: str
    default_datastore: str
    labels: _containers.RepeatedScalarFieldContainer[str]
    max_volumes: str
    cascade_delete: str
    def __init__(self, name: _Optional[str] = ..., new_name: _Optional[str] = ..., description: _Optional[str] = ..., default_datastore: _Optional[str] = ..., labels: _Optional[_Iterable[str]] = ..., max_volumes: _Optional[str] = ..., cascade_delete: _Optional[str] = ...) -> None: ...

class VmgroupRemoveRequest(_message.Message):
    __slots__ = ("name", "remove_volumes", "force")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REMOVE_VOLUMES_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    remove_volumes: bool
    force: bool
    def __init__(self, name: _Optional[str] = ..., remove_volumes: _Optional[bool] = ..., force: _Optional[bool] = ...) -> None: ...

class VmgroupRemoveResponse(_message.Message):
    __slots__ = ("removed_volumes",)
    REMOVED_VOLUMES_FIELD_NUMBER: _ClassVar[int]
    removed_volumes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, removed_volumes: _Optional[_Iterable[str]] = ...) -> None: ...

class VmgroupRef(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class VmgroupVmsRequest(_message.Message):
    __slots__ = ("name", "vm_list")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VM_LIST_FIELD_NUMBER: _ClassVar[int]
    name: str
    vm_list: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., vm_list: _Optional[_Iterable[str]] = ...) -> None: ...

class VmList(_message.Message):
    __slots__ = ("vms",)
    VMS_FIELD_NUMBER: _ClassVar[int]
    vms: _containers.RepeatedCompositeFieldContainer[VmEntry]
    def __init__(self, vms: _Optional[_Iterable[_Union[VmEntry, _Mapping]]] = ...) -> None: ...

class Access(_message.Message):
    __slots__ = ("datastore", "allow_create", "max_volume_size_mb", "usage_quota_mb", "max_volume_size", "usage_quota", "volume_count_limit", "volume_count", "alert_at_percent", "alert_at", "storage_policy", "allowed_policies")
    DATASTORE_FIELD_NUMBER: _ClassVar[int]
    ALLOW_CREATE_FIELD_NUMBER: _ClassVar[int]
    MAX_VOLUME_SIZE_MB_FIELD_NUMBER: _ClassVar[int]
    USAGE_QUOTA_MB_FIELD_NUMBER: _ClassVar[int]
    MAX_VOLUME_SIZE_FIELD_NUMBER: _ClassVar[int]
    USAGE_QUOTA_FIELD_NUMBER: _ClassVar[int]
    VOLUME_COUNT_LIMIT_FIELD_NUMBER: _ClassVar[int]
    VOLUME_COUNT_FIELD_NUMBER: _ClassVar[int]
    ALERT_AT_PERCENT_FIELD_NUMBER: _ClassVar[int]
    ALERT_AT_FIELD_NUMBER: _ClassVar[int]
    STORAGE_POLICY_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_POLICIES_FIELD_NUMBER: _ClassVar[int]
    datastore: str
    allow_create: bool
    max_volume_size_mb: int
    usage_quota_mb: int
    max_volume_size: str
    usage_quota: str
    volume_count_limit: int
    volume_count: str
    alert_at_percent: int
    alert_at: str
    storage_policy: str
    allowed_policies: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, datastore: _Optional[str] = ..., allow_create: _Optional[bool] = ..., max_volume_size_mb: _Optional[int] = ..., usage_quota_mb: _Optional[int] = ..., max_volume_size: _Optional[str] = ..., usage_quota: _Optional[str] = ..., volume_count_limit: _Optional[int] = ..., volume_count: _Optional[str] = ..., alert_at_percent: _Optional[int] = ..., alert_at: _Optional[str] = ..., storage_policy: _Optional[str] = ..., allowed_policies: _Optional[_Iterable[str]] = ...) -> None: ...

class AccessAddRequest(_message.Message):
    __slots__ = ("name", "datastore", "allow_create", "volume_maxsize", "volume_totalsize", "volume_count", "alert_at", "storage_policy", "allowed_policies")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DATASTORE_FIELD_NUMBER: _ClassVar[int]
    ALLOW_CREATE_FIELD_NUMBER: _ClassVar[int]
    VOLUME_MAXSIZE_FIELD_NUMBER: _ClassVar[int]
    VOLUME_TOTALSIZE_FIELD_NUMBER: _ClassVar[int]
    VOLUME_COUNT_FIELD_NUMBER: _ClassVar[int]
    ALERT_AT_FIELD_NUMBER: _ClassVar[int]
    STORAGE_POLICY_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_POLICIES_FIELD_NUMBER: _ClassVar[int]
    name: str
    datastore: str
    allow_create: bool
    volume_maxsize: str
    volume_totalsize: str
    volume_count: str
    alert_at: str
    storage_policy: str
    allowed_policies: str
    def __init__(self, name: _Optional[str] = ..., datastore: _Optional[str] = ..., allow_create: _Optional[bool] = ..., volume_maxsize: _Optional[str] = ..., volume_totalsize: _Optional[str] = ..., volume_count: _Optional[str] = ..., alert_at: _Optional[str] = ..., storage_policy: _Optional[str] = ..., allowed_policies: _Optional[str] = ...) -> None: ...

class AccessSetRequest(_message.Message):
    __slots__ = ("name", "datastore", "allow_create", "volume_maxsize", "volume_totalsize", "volume_count", "alert_at", "storage_policy", "allowed_policies")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DATASTORE_FIELD_NUMBER: _ClassVar[int]
    ALLOW_CREATE_FIELD_NUMBER: _ClassVar[int]
    VOLUME_MAXSIZE_FIELD_NUMBER: _ClassVar[int]
    VOLUME_TOTALSIZE_FIELD_NUMBER: _ClassVar[int]
    VOLUME_COUNT_FIELD_NUMBER: _ClassVar[int]
    ALERT_AT_FIELD_NUMBER: _ClassVar[int]
    STORAGE_POLICY_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_POLICIES_FIELD_NUMBER: _ClassVar[int]
    name: str
    datastore: str
    allow_create: str
    volume_maxsize: str
    volume_totalsize: str
    volume_count: str
    alert_at: str
    storage_policy: str
    allowed_policies: str
    def __init__(self, name: _Optional[str] = ..., datastore: _Optional[str] = ..., allow_create: _Optional[str] = ..., volume_maxsize: _Optional[str] = ..., volume_totalsize: _Optional[str] = ..., volume_count: _Optional[str] = ..., alert_at: _Optional[str] = ..., storage_policy: _Optional[str] = ..., allowed_policies: _Optional[str] = ...) -> None: ...

class AccessRef(_message.Message):
    __slots__ = ("name", "datastore")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DATASTORE_FIELD_NUMBER: _ClassVar[int]
    name: str
    datastore: str
    def __init__(self, name: _Optional[str] = ..., datastore: _Optional[str] = ...) -> None: ...

class AccessRows(_message.Message):
    __slots__ = ("rows",)
    ROWS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[Access]
    def __init__(self, rows: _Optional[_Iterable[_Union[Access, _Mapping]]] = ...) -> None: ...

class VolumeListRequest(_message.Message):
    __slots__ = ("vmgroup",)
    VMGROUP_FIELD_NUMBER: _ClassVar[int]
    vmgroup: str
    def __init__(self, vmgroup: _Optional[str] = ...) -> None: ...

class VolumeColumn(_message.Message):
    __slots__ = ("id", "header", "values", "index")
    ID_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    id: str
    header: str
    values: _containers.RepeatedScalarFieldContainer[str]
    index: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, id: _Optional[str] = ..., header: _Optional[str] = ..., values: _Optional[_Iterable[str]] = ..., index: _Optional[_Iterable[int]] = ...) -> None: ...

class VolumeListResponse(_message.Message):
    __slots__ = ("columns",)
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    columns: _containers.RepeatedCompositeFieldContainer[VolumeColumn]
    def __init__(self, columns: _Optional[_Iterable[_Union[VolumeColumn, _Mapping]]] = ...) -> None: ...

class VolumeSetRequest(_message.Message):
    __slots__ = ("volume", "vmgroup", "options")
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    VMGROUP_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    volume: str
    vmgroup: str
    options: str
    def __init__(self, volume: _Optional[str] = ..., vmgroup: _Optional[str] = ..., options: _Optional[str] = ...) -> None: ...

class AdminEnrollRequest(_message.Message):
    __slots__ = ("name", "valid_days")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALID_DAYS_FIELD_NUMBER: _ClassVar[int]
    name: str
    valid_days: int
    def __init__(self, name: _Optional[str] = ..., valid_days: _Optional[int] = ...) -> None: ...

class AdminEnrollResponse(_message.Message):
    __slots__ = ("ca_pem", "cert_pem", "key_pem", "serial", "not_after", "id", "principal")
    CA_PEM_FIELD_NUMBER: _ClassVar[int]
    CERT_PEM_FIELD_NUMBER: _ClassVar[int]
    KEY_PEM_FIELD_NUMBER: _ClassVar[int]
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    ca_pem: str
    cert_pem: str
    key_pem: str
    serial: str
    not_after: str
    id: str
    principal: str
    def __init__(self, ca_pem: _Optional[str] = ..., cert_pem: _Optional[str] = ..., key_pem: _Optional[str] = ..., serial: _Optional[str] = ..., not_after: _Optional[str] = ..., id: _Optional[str] = ..., principal: _Optional[str] = ...) -> None: ...

class AdminRef(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class AdminRevokeResponse(_message.Message):
    __slots__ = ("serials",)
    SERIALS_FIELD_NUMBER: _ClassVar[int]
    serials: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, serials: _Optional[_Iterable[str]] = ...) -> None: ...

class AdminListRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Admin(_message.Message):
    __slots__ = ("id", "name", "kind", "principals", "serial", "not_after", "issued_at", "status")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PRINCIPALS_FIELD_NUMBER: _ClassVar[int]
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    kind: str
    principals: _containers.RepeatedScalarFieldContainer[str]
    serial: str
    not_after: str
    issued_at: str
    status: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[str] = ..., principals: _Optional[_Iterable[str]] = ..., serial: _Optional[str] = ..., not_after: _Optional[str] = ..., issued_at: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class AdminListResponse(_message.Message):
    __slots__ = ("admins",)
    ADMINS_FIELD_NUMBER: _ClassVar[int]
    admins: _containers.RepeatedCompositeFieldContainer[Admin]
    def __init__(self, admins: _Optional[_Iterable[_Union[Admin, _Mapping]]] = ...) -> None: ...

class GrantRequest(_message.Message):
    __slots__ = ("principal", "role", "vmgroup", "selector")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    VMGROUP_FIELD_NUMBER: _ClassVar[int]
    SELECTOR_FIELD_NUMBER: _ClassVar[int]
    principal: str
    role: str
    vmgroup: str
    selector: str
    def __init__(self, principal: _Optional[str] = ..., role: _Optional[str] = ..., vmgroup: _Optional[str] = ..., selector: _Optional[str] = ...) -> None: ...

class Grant(_message.Message):
    __slots__ = ("id", "principal", "role", "vmgroup", "selector", "created")
    ID_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    VMGROUP_FIELD_NUMBER: _ClassVar[int]
    SELECTOR_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    id: int
    principal: str
    role: str
    vmgroup: str
    selector: str
    created: str
    def __init__(self, id: _Optional[int] = ..., principal: _Optional[str] = ..., role: _Optional[str] = ..., vmgroup: _Optional[str] = ..., selector: _Optional[str] = ..., created: _Optional[str] = ...) -> None: ...

class GrantListRequest(_message.Message):
    __slots__ = ("principal",)
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    principal: str
    def __init__(self, principal: _Optional[str] = ...) -> None: ...

class GrantListResponse(_message.Message):
    __slots__ = ("grants",)
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    grants: _containers.RepeatedCompositeFieldContainer[Grant]
    def __init__(self, grants: _Optional[_Iterable[_Union[Grant, _Mapping]]] = ...) -> None: ...

class DatastoreShareRequest(_message.Message):
    __slots__ = ("datastore", "vmgroup", "selector", "max_volume_size", "max_total")
    DATASTORE_FIELD_NUMBER: _ClassVar[int]
    VMGROUP_FIELD_NUMBER: _ClassVar[int]
    SELECTOR_FIELD_NUMBER: _ClassVar[int]
    MAX_VOLUME_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_TOTAL_FIELD_NUMBER: _ClassVar[int]
    datastore: str
    vmgroup: str
    selector: str
    max_volume_size: str
    max_total: str
    def __init__(self, datastore: _Optional[str] = ..., vmgroup: _Optional[str] = ..., selector: _Optional[str] = ..., max_volume_size: _Optional[str] = ..., max_total: _Optional[str] = ...) -> None: ...

class Share(_message.Message):
    __slots__ = ("datastore", "vmgroup", "selector", "max_volume_size_mb", "max_total_mb", "max_volume_size", "max_total", "vmgroups")
    DATASTORE_FIELD_NUMBER: _ClassVar[int]
    VMGROUP_FIELD_NUMBER: _ClassVar[int]
    SELECTOR_FIELD_NUMBER: _ClassVar[int]
    MAX_VOLUME_SIZE_MB_FIELD_NUMBER: _ClassVar[int]
    MAX_TOTAL_MB_FIELD_NUMBER: _ClassVar[int]
    MAX_VOLUME_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_TOTAL_FIELD_NUMBER: _ClassVar[int]
    VMGROUPS_FIELD_NUMBER: _ClassVar[int]
    datastore: str
    vmgroup: str
    selector: str
    max_volume_size_mb: int
    max_total_mb: int
    max_volume_size: str
    max_total: str
    vmgroups: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, datastore: _Optional[str] = ..., vmgroup: _Optional[str] = ..., selector: _Optional[str] = ..., max_volume_size_mb: _Optional[int] = ..., max_total_mb: _Optional[int] = ..., max_volume_size: _Optional[str] = ..., max_total: _Optional[str] = ..., vmgroups: _Optional[_Iterable[str]] = ...) -> None: ...

class DatastoreListRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DatastoreEntry(_message.Message):
    __slots__ = ("name", "url", "kind", "shares")
    NAME_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SHARES_FIELD_NUMBER: _ClassVar[int]
    name: str
    url: str
    kind: str
    shares: _containers.RepeatedCompositeFieldContainer[Share]
    def __init__(self, name: _Optional[str] = ..., url: _Optional[str] = ..., kind: _Optional[str] = ..., shares: _Optional[_Iterable[_Union[Share, _Mapping]]] = ...) -> None: ...

class DatastoreListResponse(_message.Message):
    __slots__ = ("datastores",)
    DATASTORES_FIELD_NUMBER: _ClassVar[int]
    datastores: _containers.RepeatedCompositeFieldContainer[DatastoreEntry]
    def __init__(self, datastores: _Optional[_Iterable[_Union[DatastoreEntry, _Mapping]]] = ...) -> None: ...

class PermissionsRequest(_message.Message):
    __slots__ = ("vm", "vmgroup", "principal")
    VM_FIELD_NUMBER: _ClassVar[int]
    VMGROUP_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    vm: str
    vmgroup: str
    principal: str
    def __init__(self, vm: _Optional[str] = ..., vmgroup: _Optional[str] = ..., principal: _Optional[str] = ...) -> None: ...

class Permission(_message.Message):
    __slots__ = ("subject", "subject_kind", "uuid", "vmgroup", "datastore", "verbs", "max_volume_size_mb", "total_mb", "used_mb", "used_known", "membership", "access", "source", "max_volume_size", "total", "used", "storage_policy", "allowed_policies")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_KIND_FIELD_NUMBER: _ClassVar[int]
    UUID_FIELD_NUMBER: _ClassVar[int]
    VMGROUP_FIELD_NUMBER: _ClassVar[int]
    DATASTORE_FIELD_NUMBER: _ClassVar[int]
    VERBS_FIELD_NUMBER: _ClassVar[int]
    MAX_VOLUME_SIZE_MB_FIELD_NUMBER: _ClassVar[int]
    TOTAL_MB_FIELD_NUMBER: _ClassVar[int]
    USED_MB_FIELD_NUMBER: _ClassVar[int]
    USED_KNOWN_FIELD_NUMBER: _ClassVar[int]
    MEMBERSHIP_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    MAX_VOLUME_SIZE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    USED_FIELD_NUMBER: _ClassVar[int]
    STORAGE_POLICY_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_POLICIES_FIELD_NUMBER: _ClassVar[int]
    subject: str
    subject_kind: str
    uuid: str
    vmgroup: str
    datastore: str
    verbs: _containers.RepeatedScalarFieldContainer[str]
    max_volume_size_mb: int
    total_mb: int
    used_mb: int
    used_known: bool
    membership: str
    access: str
    source: str
    max_volume_size: str
    total: str
    used: str
    storage_policy: str
    allowed_policies: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, subject: _Optional[str] = ..., subject_kind: _Optional[str] = ..., uuid: _Optional[str] = ..., vmgroup: _Optional[str] = ..., datastore: _Optional[str] = ..., verbs: _Optional[_Iterable[str]] = ..., max_volume_size_mb: _Optional[int] = ..., total_mb: _Optional[int] = ..., used_mb: _Optional[int] = ..., used_known: _Optional[bool] = ..., membership: _Optional[str] = ..., access: _Optional[str] = ..., source: _Optional[str] = ..., max_volume_size: _Optional[str] = ..., total: _Optional[str] = ..., used: _Optional[str] = ..., storage_policy: _Optional[str] = ..., allowed_policies: _Optional[_Iterable[str]] = ...) -> None: ...

class PermissionsResponse(_message.Message):
    __slots__ = ("rows",)
    ROWS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[Permission]
    def __init__(self, rows: _Optional[_Iterable[_Union[Permission, _Mapping]]] = ...) -> None: ...

class AuditListRequest(_message.Message):
    __slots__ = ("vmgroup", "principal", "since", "action", "limit")
    VMGROUP_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    vmgroup: str
    principal: str
    since: str
    action: str
    limit: int
    def __init__(self, vmgroup: _Optional[str] = ..., principal: _Optional[str] = ..., since: _Optional[str] = ..., action: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class AuditRecord(_message.Message):
    __slots__ = ("id", "at", "time", "kind", "request_id", "initiator", "initiator_name", "role", "vmgroup", "action", "target", "outcome", "reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    INITIATOR_FIELD_NUMBER: _ClassVar[int]
    INITIATOR_NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    VMGROUP_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    id: int
    at: float
    time: str
    kind: str
    request_id: str
    initiator: str
    initiator_name: str
    role: str
    vmgroup: str
    action: str
    target: str
    outcome: str
    reason: str
    def __init__(self, id: _Optional[int] = ..., at: _Optional[float] = ..., time: _Optional[str] = ..., kind: _Optional[str] = ..., request_id: _Optional[str] = ..., initiator: _Optional[str] = ..., initiator_name: _Optional[str] = ..., role: _Optional[str] = ..., vmgroup: _Optional[str] = ..., action: _Optional[str] = ..., target: _Optional[str] = ..., outcome: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class AuditListResponse(_message.Message):
    __slots__ = ("records",)
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[AuditRecord]
    def __init__(self, records: _Optional[_Iterable[_Union[AuditRecord, _Mapping]]] = ...) -> None: ...

class EventListRequest(_message.Message):
    __slots__ = ("vmgroup", "since", "limit")
    VMGROUP_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    vmgroup: str
    since: str
    limit: int
    def __init__(self, vmgroup: _Optional[str] = ..., since: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class EventListResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[AuditRecord]
    def __init__(self, events: _Optional[_Iterable[_Union[AuditRecord, _Mapping]]] = ...) -> None: ...

class MembershipRule(_message.Message):
    __slots__ = ("id", "vmgroup", "match", "priority", "created")
    ID_FIELD_NUMBER: _ClassVar[int]
    VMGROUP_FIELD_NUMBER: _ClassVar[int]
    MATCH_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    id: int
    vmgroup: str
    match: str
    priority: int
    created: str
    def __init__(self, id: _Optional[int] = ..., vmgroup: _Optional[str] = ..., match: _Optional[str] = ..., priority: _Optional[int] = ..., created: _Optional[str] = ...) -> None: ...

class VmgroupRuleRequest(_message.Message):
    __slots__ = ("name", "match", "priority")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MATCH_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    name: str
    match: str
    priority: int
    def __init__(self, name: _Optional[str] = ..., match: _Optional[str] = ..., priority: _Optional[int] = ...) -> None: ...

class VmgroupRuleRef(_message.Message):
    __slots__ = ("name", "priority")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    name: str
    priority: int
    def __init__(self, name: _Optional[str] = ..., priority: _Optional[int] = ...) -> None: ...

class VmgroupRuleListRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class MembershipRules(_message.Message):
    __slots__ = ("rules",)
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[MembershipRule]
    def __init__(self, rules: _Optional[_Iterable[_Union[MembershipRule, _Mapping]]] = ...) -> None: ...

class VmExplainRequest(_message.Message):
    __slots__ = ("vm", "bios_uuid")
    VM_FIELD_NUMBER: _ClassVar[int]
    BIOS_UUID_FIELD_NUMBER: _ClassVar[int]
    vm: str
    bios_uuid: str
    def __init__(self, vm: _Optional[str] = ..., bios_uuid: _Optional[str] = ...) -> None: ...

class RuleVerdict(_message.Message):
    __slots__ = ("rule", "matched", "verdict")
    RULE_FIELD_NUMBER: _ClassVar[int]
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    rule: MembershipRule
    matched: bool
    verdict: str
    def __init__(self, rule: _Optional[_Union[MembershipRule, _Mapping]] = ..., matched: _Optional[bool] = ..., verdict: _Optional[str] = ...) -> None: ...

class VmExplanation(_message.Message):
    __slots__ = ("vm", "bios_uuid", "vmgroup", "source", "reason", "rule_priority", "facts", "facts_error", "rules")
    VM_FIELD_NUMBER: _ClassVar[int]
    BIOS_UUID_FIELD_NUMBER: _ClassVar[int]
    VMGROUP_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RULE_PRIORITY_FIELD_NUMBER: _ClassVar[int]
    FACTS_FIELD_NUMBER: _ClassVar[int]
    FACTS_ERROR_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    vm: str
    bios_uuid: str
    vmgroup: str
    source: str
    reason: str
    rule_priority: int
    facts: _containers.RepeatedScalarFieldContainer[str]
    facts_error: str
    rules: _containers.RepeatedCompositeFieldContainer[RuleVerdict]
    def __init__(self, vm: _Optional[str] = ..., bios_uuid: _Optional[str] = ..., vmgroup: _Optional[str] = ..., source: _Optional[str] = ..., reason: _Optional[str] = ..., rule_priority: _Optional[int] = ..., facts: _Optional[_Iterable[str]] = ..., facts_error: _Optional[str] = ..., rules: _Optional[_Iterable[_Union[RuleVerdict, _Mapping]]] = ...) -> None: ...

class UsageRequest(_message.Message):
    __slots__ = ("vmgroup", "by_label")
    VMGROUP_FIELD_NUMBER: _ClassVar[int]
    BY_LABEL_FIELD_NUMBER: _ClassVar[int]
    vmgroup: str
    by_label: str
    def __init__(self, vmgroup: _Optional[str] = ..., by_label: _Optional[str] = ...) -> None: ...

class UsageFigures(_message.Message):
    __slots__ = ("volumes", "volume_limit", "provisioned_mb", "size_limit_mb", "reserved_volumes", "reserved_mb", "allocated_bytes", "attached", "idle")
    VOLUMES_FIELD_NUMBER: _ClassVar[int]
    VOLUME_LIMIT_FIELD_NUMBER: _ClassVar[int]
    PROVISIONED_MB_FIELD_NUMBER: _ClassVar[int]
    SIZE_LIMIT_MB_FIELD_NUMBER: _ClassVar[int]
    RESERVED_VOLUMES_FIELD_NUMBER: _ClassVar[int]
    RESERVED_MB_FIELD_NUMBER: _ClassVar[int]
    ALLOCATED_BYTES_FIELD_NUMBER: _ClassVar[int]
    ATTACHED_FIELD_NUMBER: _ClassVar[int]
    IDLE_FIELD_NUMBER: _ClassVar[int]
    volumes: int
    volume_limit: int
    provisioned_mb: int
    size_limit_mb: int
    reserved_volumes: int
    reserved_mb: int
    allocated_bytes: int
    attached: int
    idle: int
    def __init__(self, volumes: _Optional[int] = ..., volume_limit: _Optional[int] = ..., provisioned_mb: _Optional[int] = ..., size_limit_mb: _Optional[int] = ..., reserved_volumes: _Optional[int] = ..., reserved_mb: _Optional[int] = ..., allocated_bytes: _Optional[int] = ..., attached: _Optional[int] = ..., idle: _Optional[int] = ...) -> None: ...

class UsageLine(_message.Message):
    __slots__ = ("datastore", "limits_from", "figures", "cells")
    DATASTORE_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FROM_FIELD_NUMBER: _ClassVar[int]
    FIGURES_FIELD_NUMBER: _ClassVar[int]
    CELLS_FIELD_NUMBER: _ClassVar[int]
    datastore: str
    limits_from: str
    figures: UsageFigures
    cells: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, datastore: _Optional[str] = ..., limits_from: _Optional[str] = ..., figures: _Optional[_Union[UsageFigures, _Mapping]] = ..., cells: _Optional[_Iterable[str]] = ...) -> None: ...

class UsageUnit(_message.Message):
    __slots__ = ("name", "vmgroups", "datastores", "total")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VMGROUPS_FIELD_NUMBER: _ClassVar[int]
    DATASTORES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    name: str
    vmgroups: _containers.RepeatedScalarFieldContainer[str]
    datastores: _containers.RepeatedCompositeFieldContainer[UsageLine]
    total: UsageLine
    def __init__(self, name: _Optional[str] = ..., vmgroups: _Optional[_Iterable[str]] = ..., datastores: _Optional[_Iterable[_Union[UsageLine, _Mapping]]] = ..., total: _Optional[_Union[UsageLine, _Mapping]] = ...) -> None: ...

class UsageResponse(_message.Message):
    __slots__ = ("by_label", "headers", "units")
    BY_LABEL_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    by_label: str
    headers: _containers.RepeatedScalarFieldContainer[str]
    units: _containers.RepeatedCompositeFieldContainer[UsageUnit]
    def __init__(self, by_label: _Optional[str] = ..., headers: _Optional[_Iterable[str]] = ..., units: _Optional[_Iterable[_Union[UsageUnit, _Mapping]]] = ...) -> None: ...

class UiLinkRequest(_message.Message):
    __slots__ = ("admin", "minutes")
    ADMIN_FIELD_NUMBER: _ClassVar[int]
    MINUTES_FIELD_NUMBER: _ClassVar[int]
    admin: str
    minutes: int
    def __init__(self, admin: _Optional[str] = ..., minutes: _Optional[int] = ...) -> None: ...

class UiLinkResponse(_message.Message):
    __slots__ = ("url", "admin", "expires")
    URL_FIELD_NUMBER: _ClassVar[int]
    ADMIN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_FIELD_NUMBER: _ClassVar[int]
    url: str
    admin: str
    expires: str
    def __init__(self, url: _Optional[str] = ..., admin: _Optional[str] = ..., expires: _Optional[str] = ...) -> None: ...

class VmCheckRequest(_message.Message):
    __slots__ = ("vm", "bios_uuid", "fix")
    VM_FIELD_NUMBER: _ClassVar[int]
    BIOS_UUID_FIELD_NUMBER: _ClassVar[int]
    FIX_FIELD_NUMBER: _ClassVar[int]
    vm: str
    bios_uuid: str
    fix: bool
    def __init__(self, vm: _Optional[str] = ..., bios_uuid: _Optional[str] = ..., fix: _Optional[bool] = ...) -> None: ...

class VmSetting(_message.Message):
    __slots__ = ("key", "want", "have", "ok", "fixed")
    KEY_FIELD_NUMBER: _ClassVar[int]
    WANT_FIELD_NUMBER: _ClassVar[int]
    HAVE_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    FIXED_FIELD_NUMBER: _ClassVar[int]
    key: str
    want: str
    have: str
    ok: bool
    fixed: bool
    def __init__(self, key: _Optional[str] = ..., want: _Optional[str] = ..., have: _Optional[str] = ..., ok: _Optional[bool] = ..., fixed: _Optional[bool] = ...) -> None: ...

class VmCheckResponse(_message.Message):
    __slots__ = ("vm", "bios_uuid", "power_state", "settings", "summary")
    VM_FIELD_NUMBER: _ClassVar[int]
    BIOS_UUID_FIELD_NUMBER: _ClassVar[int]
    POWER_STATE_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    vm: str
    bios_uuid: str
    power_state: str
    settings: _containers.RepeatedCompositeFieldContainer[VmSetting]
    summary: str
    def __init__(self, vm: _Optional[str] = ..., bios_uuid: _Optional[str] = ..., power_state: _Optional[str] = ..., settings: _Optional[_Iterable[_Union[VmSetting, _Mapping]]] = ..., summary: _Optional[str] = ...) -> None: ...

class VmFenceRequest(_message.Message):
    __slots__ = ("vm", "force")
    VM_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    vm: str
    force: bool
    def __init__(self, vm: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class VmFenceResponse(_message.Message):
    __slots__ = ("vm_name", "bios_uuid", "power_state", "detached")
    VM_NAME_FIELD_NUMBER: _ClassVar[int]
    BIOS_UUID_FIELD_NUMBER: _ClassVar[int]
    POWER_STATE_FIELD_NUMBER: _ClassVar[int]
    DETACHED_FIELD_NUMBER: _ClassVar[int]
    vm_name: str
    bios_uuid: str
    power_state: str
    detached: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, vm_name: _Optional[str] = ..., bios_uuid: _Optional[str] = ..., power_state: _Optional[str] = ..., detached: _Optional[_Iterable[str]] = ...) -> None: ...

class VolumeDetachRequest(_message.Message):
    __slots__ = ("volume", "vmgroup", "force")
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    VMGROUP_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    volume: str
    vmgroup: str
    force: bool
    def __init__(self, volume: _Optional[str] = ..., vmgroup: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class VolumeDetachResponse(_message.Message):
    __slots__ = ("volume", "vm_name", "bios_uuid", "power_state")
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    VM_NAME_FIELD_NUMBER: _ClassVar[int]
    BIOS_UUID_FIELD_NUMBER: _ClassVar[int]
    POWER_STATE_FIELD_NUMBER: _ClassVar[int]
    volume: str
    vm_name: str
    bios_uuid: str
    power_state: str
    def __init__(self, volume: _Optional[str] = ..., vm_name: _Optional[str] = ..., bios_uuid: _Optional[str] = ..., power_state: _Optional[str] = ...) -> None: ...

class JoinTokenCreateRequest(_message.Message):
    __slots__ = ("vmgroup", "uses", "ttl")
    VMGROUP_FIELD_NUMBER: _ClassVar[int]
    USES_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    vmgroup: str
    uses: int
    ttl: str
    def __init__(self, vmgroup: _Optional[str] = ..., uses: _Optional[int] = ..., ttl: _Optional[str] = ...) -> None: ...

class JoinTokenEntry(_message.Message):
    __slots__ = ("id", "vmgroup", "uses", "used", "expires", "created", "created_by")
    ID_FIELD_NUMBER: _ClassVar[int]
    VMGROUP_FIELD_NUMBER: _ClassVar[int]
    USES_FIELD_NUMBER: _ClassVar[int]
    USED_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    id: str
    vmgroup: str
    uses: int
    used: int
    expires: str
    created: str
    created_by: str
    def __init__(self, id: _Optional[str] = ..., vmgroup: _Optional[str] = ..., uses: _Optional[int] = ..., used: _Optional[int] = ..., expires: _Optional[str] = ..., created: _Optional[str] = ..., created_by: _Optional[str] = ...) -> None: ...

class JoinTokenCreateResponse(_message.Message):
    __slots__ = ("entry", "token", "ca_sha256", "join_listen")
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    CA_SHA256_FIELD_NUMBER: _ClassVar[int]
    JOIN_LISTEN_FIELD_NUMBER: _ClassVar[int]
    entry: JoinTokenEntry
    token: str
    ca_sha256: str
    join_listen: str
    def __init__(self, entry: _Optional[_Union[JoinTokenEntry, _Mapping]] = ..., token: _Optional[str] = ..., ca_sha256: _Optional[str] = ..., join_listen: _Optional[str] = ...) -> None: ...

class JoinTokenListRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class JoinTokenListResponse(_message.Message):
    __slots__ = ("tokens",)
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[JoinTokenEntry]
    def __init__(self, tokens: _Optional[_Iterable[_Union[JoinTokenEntry, _Mapping]]] = ...) -> None: ...

class JoinTokenRef(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class EnrollFolderRequest(_message.Message):
    __slots__ = ("folder", "valid_days")
    FOLDER_FIELD_NUMBER: _ClassVar[int]
    VALID_DAYS_FIELD_NUMBER: _ClassVar[int]
    folder: str
    valid_days: int
    def __init__(self, folder: _Optional[str] = ..., valid_days: _Optional[int] = ...) -> None: ...

class EnrolledVm(_message.Message):
    __slots__ = ("name", "bios_uuid", "bundle", "error")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BIOS_UUID_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    name: str
    bios_uuid: str
    bundle: EnrollVmResponse
    error: str
    def __init__(self, name: _Optional[str] = ..., bios_uuid: _Optional[str] = ..., bundle: _Optional[_Union[EnrollVmResponse, _Mapping]] = ..., error: _Optional[str] = ...) -> None: ...

class EnrollFolderResponse(_message.Message):
    __slots__ = ("vms",)
    VMS_FIELD_NUMBER: _ClassVar[int]
    vms: _containers.RepeatedCompositeFieldContainer[EnrolledVm]
    def __init__(self, vms: _Optional[_Iterable[_Union[EnrolledVm, _Mapping]]] = ...) -> None: ...

class VolumeExtendRequest(_message.Message):
    __slots__ = ("volume", "vmgroup", "size")
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    VMGROUP_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    volume: str
    vmgroup: str
    size: str
    def __init__(self, volume: _Optional[str] = ..., vmgroup: _Optional[str] = ..., size: _Optional[str] = ...) -> None: ...

class VolumeExtendResponse(_message.Message):
    __slots__ = ("volume", "old_size", "new_size", "capacity_mb", "attached_to")
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    OLD_SIZE_FIELD_NUMBER: _ClassVar[int]
    NEW_SIZE_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_MB_FIELD_NUMBER: _ClassVar[int]
    ATTACHED_TO_FIELD_NUMBER: _ClassVar[int]
    volume: str
    old_size: str
    new_size: str
    capacity_mb: int
    attached_to: str
    def __init__(self, volume: _Optional[str] = ..., old_size: _Optional[str] = ..., new_size: _Optional[str] = ..., capacity_mb: _Optional[int] = ..., attached_to: _Optional[str] = ...) -> None: ...

class PluginSeen(_message.Message):
    __slots__ = ("vm_uuid", "vm_name", "version", "protocol", "declared", "last_seen", "verdict")
    VM_UUID_FIELD_NUMBER: _ClassVar[int]
    VM_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    DECLARED_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    vm_uuid: str
    vm_name: str
    version: str
    protocol: int
    declared: bool
    last_seen: str
    verdict: str
    def __init__(self, vm_uuid: _Optional[str] = ..., vm_name: _Optional[str] = ..., version: _Optional[str] = ..., protocol: _Optional[int] = ..., declared: _Optional[bool] = ..., last_seen: _Optional[str] = ..., verdict: _Optional[str] = ...) -> None: ...

class PolicyRequest(_message.Message):
    __slots__ = ("name", "content")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    name: str
    content: str
    def __init__(self, name: _Optional[str] = ..., content: _Optional[str] = ...) -> None: ...

class PolicyRef(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class PolicyEntry(_message.Message):
    __slots__ = ("name", "content", "active", "volumes", "created", "updated")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    VOLUMES_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    name: str
    content: str
    active: str
    volumes: _containers.RepeatedScalarFieldContainer[str]
    created: str
    updated: str
    def __init__(self, name: _Optional[str] = ..., content: _Optional[str] = ..., active: _Optional[str] = ..., volumes: _Optional[_Iterable[str]] = ..., created: _Optional[str] = ..., updated: _Optional[str] = ...) -> None: ...

class PolicyListRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PolicyListResponse(_message.Message):
    __slots__ = ("policies",)
    POLICIES_FIELD_NUMBER: _ClassVar[int]
    policies: _containers.RepeatedCompositeFieldContainer[PolicyEntry]
    def __init__(self, policies: _Optional[_Iterable[_Union[PolicyEntry, _Mapping]]] = ...) -> None: ...

class PolicyUpdateResponse(_message.Message):
    __slots__ = ("policy", "reapplied", "recorded", "failed", "not_attached")
    POLICY_FIELD_NUMBER: _ClassVar[int]
    REAPPLIED_FIELD_NUMBER: _ClassVar[int]
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    NOT_ATTACHED_FIELD_NUMBER: _ClassVar[int]
    policy: PolicyEntry
    reapplied: _containers.RepeatedScalarFieldContainer[str]
    recorded: _containers.RepeatedScalarFieldContainer[str]
    failed: _containers.RepeatedScalarFieldContainer[str]
    not_attached: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, policy: _Optional[_Union[PolicyEntry, _Mapping]] = ..., reapplied: _Optional[_Iterable[str]] = ..., recorded: _Optional[_Iterable[str]] = ..., failed: _Optional[_Iterable[str]] = ..., not_attached: _Optional[_Iterable[str]] = ...) -> None: ...

class VolumeMoveRequest(_message.Message):
    __slots__ = ("volume", "vmgroup", "to")
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    VMGROUP_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    volume: str
    vmgroup: str
    to: str
    def __init__(self, volume: _Optional[str] = ..., vmgroup: _Optional[str] = ..., to: _Optional[str] = ...) -> None: ...

class VolumeMoveResponse(_message.Message):
    __slots__ = ("volume", "moved_to", "vmgroup")
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    MOVED_TO_FIELD_NUMBER: _ClassVar[int]
    VMGROUP_FIELD_NUMBER: _ClassVar[int]
    volume: str
    moved_to: str
    vmgroup: str
    def __init__(self, volume: _Optional[str] = ..., moved_to: _Optional[str] = ..., vmgroup: _Optional[str] = ...) -> None: ...

class VolumeSnapshotRequest(_message.Message):
    __slots__ = ("volume", "vmgroup", "name")
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    VMGROUP_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    volume: str
    vmgroup: str
    name: str
    def __init__(self, volume: _Optional[str] = ..., vmgroup: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class VolumeSnapshot(_message.Message):
    __slots__ = ("name", "volume", "vmgroup", "created", "created_by", "capacity_mb", "allocated_bytes", "status", "attached_to_vm")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    VMGROUP_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_MB_FIELD_NUMBER: _ClassVar[int]
    ALLOCATED_BYTES_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTACHED_TO_VM_FIELD_NUMBER: _ClassVar[int]
    name: str
    volume: str
    vmgroup: str
    created: str
    created_by: str
    capacity_mb: int
    allocated_bytes: int
    status: str
    attached_to_vm: str
    def __init__(self, name: _Optional[str] = ..., volume: _Optional[str] = ..., vmgroup: _Optional[str] = ..., created: _Optional[str] = ..., created_by: _Optional[str] = ..., capacity_mb: _Optional[int] = ..., allocated_bytes: _Optional[int] = ..., status: _Optional[str] = ..., attached_to_vm: _Optional[str] = ...) -> None: ...

class VolumeSnapshots(_message.Message):
    __slots__ = ("snapshots",)
    SNAPSHOTS_FIELD_NUMBER: _ClassVar[int]
    snapshots: _containers.RepeatedCompositeFieldContainer[VolumeSnapshot]
    def __init__(self, snapshots: _Optional[_Iterable[_Union[VolumeSnapshot, _Mapping]]] = ...) -> None: ...
