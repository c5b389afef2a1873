"""The one error table: vDVS-compatible numeric codes, names and message texts.

Codes 1-507 and their templates are vDVS's own (esx_service/utils/error_code.py).
vDVS returned volume-operation failures as bare strings; those keep their exact
vDVS texts here and get codes from 600 up so clients can tell them apart.
Each entry also says what kind of failure it is, which the broker maps to a
gRPC status code (tenancy itself knows nothing of gRPC).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Kind(enum.Enum):
    """Failure category; the broker maps it to a gRPC status code."""

    INVALID = "invalid"  # the request itself is wrong
    NOT_FOUND = "not_found"
    EXISTS = "exists"
    DENIED = "denied"  # privileges
    QUOTA = "quota"  # a limit would be exceeded
    CONFLICT = "conflict"  # state forbids it now (in use, attached elsewhere)
    UNAVAILABLE = "unavailable"  # try again later
    UNAUTHENTICATED = "unauthenticated"
    INTERNAL = "internal"


@dataclass(frozen=True)
class ErrorSpec:
    code: int
    template: str
    kind: Kind


class Err(enum.Enum):
    """Every error vdvs reports. ``Err.X.value`` is its ErrorSpec."""

    # --- vDVS error_code.py, verbatim ---
    VM_NOT_BELONG_TO_TENANT = ErrorSpec(1, "VM {0} does not belong to any vmgroup", Kind.DENIED)
    TENANT_NOT_EXIST = ErrorSpec(2, "Vmgroup {0} does not exist", Kind.NOT_FOUND)
    TENANT_ALREADY_EXIST = ErrorSpec(3, "Vmgroup {0} already exists", Kind.EXISTS)
    TENANT_NAME_NOT_FOUND = ErrorSpec(4, "Cannot find vmgroup name for vmgroup with {0}", Kind.NOT_FOUND)
    TENANT_CREATE_FAILED = ErrorSpec(5, "Vmgroup {0} create failed with err: {1}", Kind.INTERNAL)
    TENANT_SET_ACCESS_PRIVILEGES_FAILED = ErrorSpec(
        6, "Vmgroup {0} set access privileges on datastore {1} failed with err: {2}", Kind.INTERNAL
    )
    TENANT_GET_FAILED = ErrorSpec(7, "Get vmgroup {0} failed", Kind.INTERNAL)
    TENANT_NAME_INVALID = ErrorSpec(8, "Vmgroup name {0} is invalid, only {1} is allowed", Kind.INVALID)
    TENANT_NOT_EMPTY = ErrorSpec(
        9,
        "Cannot delete non-empty vmgroup {0}. Remove VMs from the vmgroup before deleting it.",
        Kind.CONFLICT,
    )
    VM_NOT_FOUND = ErrorSpec(101, "Cannot find vm {0}", Kind.NOT_FOUND)
    REPLACE_VM_EMPTY = ErrorSpec(102, "Replace VM cannot be empty", Kind.INVALID)
    VM_ALREADY_IN_TENANT = ErrorSpec(
        103, "VM '{0}' has already been associated with tenant '{1}', cannot add it again", Kind.EXISTS
    )
    VM_NOT_IN_TENANT = ErrorSpec(
        104, "VM '{0}' has not been associated with tenant '{1}', cannot remove it", Kind.NOT_FOUND
    )
    VM_IN_ANOTHER_TENANT = ErrorSpec(
        105, "VM '{0}' has already been associated with tenant '{1}', can't add it", Kind.CONFLICT
    )
    VM_LIST_EMPTY = ErrorSpec(106, "VM list cannot be empty", Kind.INVALID)
    VM_DUPLICATE = ErrorSpec(107, "VMs {0} contain duplicates, they should be unique", Kind.INVALID)
    VM_WITH_MOUNTED_VOLUMES = ErrorSpec(108, "VM '{0}' has volumes mounted.", Kind.CONFLICT)
    PRIVILEGE_NOT_FOUND = ErrorSpec(201, "No access privilege exists for ({0}, {1})", Kind.NOT_FOUND)
    PRIVILEGE_ALREADY_EXIST = ErrorSpec(202, "Access privilege for ({0}, {1}) already exists", Kind.EXISTS)
    PRIVILEGE_INVALID_VOLUME_SIZE = ErrorSpec(203, "Volume max size {0}MB exceeds the total size {1}MB", Kind.INVALID)
    PRIVILEGE_INVALID_ALLOW_CREATE_VALUE = ErrorSpec(204, "Invalid value {0} for allow-create option", Kind.INVALID)
    PRIVILEGE_REMOVE_NOT_ALLOWED = ErrorSpec(
        205, "Removing of access privilege to 'default_datastore' is not supported", Kind.CONFLICT
    )
    PRIVILEGE_NO_PRIVILEGE = ErrorSpec(206, "No access privilege exists", Kind.DENIED)
    PRIVILEGE_NO_MOUNT_PRIVILEGE = ErrorSpec(207, "No mount privilege", Kind.DENIED)
    PRIVILEGE_NO_CREATE_PRIVILEGE = ErrorSpec(208, "No create privilege", Kind.DENIED)
    PRIVILEGE_NO_DELETE_PRIVILEGE = ErrorSpec(209, "No delete privilege", Kind.DENIED)
    PRIVILEGE_MAX_VOL_EXCEED = ErrorSpec(210, "Volume size exceeds the max volume size limit", Kind.QUOTA)
    PRIVILEGE_USAGE_QUOTA_EXCEED = ErrorSpec(211, "The total volume size exceeds the usage quota", Kind.QUOTA)
    PRIVILEGE_SET_TOTAL_VOLUME_SIZE_LIMIT_NOT_ALLOWED = ErrorSpec(
        212, "Cannot set volume-totalsize for {0}", Kind.INVALID
    )
    DS_DEFAULT_NOT_SET = ErrorSpec(301, "Default datastore is not set for vmgroup {0}", Kind.INVALID)
    DS_NOT_EXIST = ErrorSpec(302, "Datastore {0} does not exist", Kind.NOT_FOUND)
    DS_DEFAULT_NAME_INVALID = ErrorSpec(303, "Default datastore name {0} is invalid", Kind.INVALID)
    DS_DEFAULT_SET_FAILED = ErrorSpec(304, "Set default datastore for vmgroup {0} failed ({1})", Kind.INTERNAL)
    DS_DEFAULT_CANNOT_USE_ALL_DS = ErrorSpec(
        305,
        "Cannot use _ALL_DS as default datastore. Please use specific datastore name or _VM_DS special datastore",
        Kind.INVALID,
    )
    VMODL_TENANT_NAME_EMPTY = ErrorSpec(401, "Vmgroup name is empty", Kind.INVALID)
    VMODL_TENANT_NAME_TOO_LONG = ErrorSpec(402, "Vmgroup name exceeds 64 characters: {0}", Kind.INVALID)
    VMODL_TENANT_DESC_TOO_LONG = ErrorSpec(403, "Vmgroup description exceeds 256 characters: {0}", Kind.INVALID)
    INTERNAL_ERROR = ErrorSpec(501, "Internal Error({0})", Kind.INTERNAL)
    INVALID_ARGUMENT = ErrorSpec(502, "Invalid Argument({0})", Kind.INVALID)
    VOLUME_NAME_INVALID = ErrorSpec(503, "Volume name {0} is invalid, only {1} is allowed", Kind.INVALID)
    FEATURE_NOT_SUPPORTED = ErrorSpec(504, "This feature is not supported for vmgroup {0}.", Kind.INVALID)
    INIT_NEEDED = ErrorSpec(
        505, "Configuration not found. Please init configuration with 'vdvs config init'.", Kind.UNAVAILABLE
    )
    SQLITE3_ERROR = ErrorSpec(506, "Sqlite3 error - see log for more info", Kind.INTERNAL)
    OPT_VOLUME_SIZE_INVALID = ErrorSpec(507, "Invalid volume size specified.", Kind.INVALID)

    # --- volume names (vDVS parse_vol_name texts) ---
    VOLUME_NAME_SNAPSHOT_SUFFIX = ErrorSpec(
        601, "Volume names ending with '-NNNNNN' (where N is a digit) are not supported", Kind.INVALID
    )
    VOLUME_NAME_TOO_LONG = ErrorSpec(602, "Volume name is too long (max len is {0})", Kind.INVALID)
    VOLUME_NAME_ILLEGAL_CHARS = ErrorSpec(603, "Volume name contains illegal characters: {0}", Kind.INVALID)
    DATASTORE_NAME_TOO_LONG = ErrorSpec(604, "Datastore name is too long (max len is {0})", Kind.INVALID)
    DATASTORE_AMBIGUOUS = ErrorSpec(
        605, "Found multiple datastores with same name (ignoring case difference): {0}", Kind.INVALID
    )
    DATASTORE_INVALID = ErrorSpec(
        606, "Invalid datastore '{0}'.\nKnown datastores: {1}.\nDefault datastore: {2}", Kind.NOT_FOUND
    )
    VOLUME_NAME_EMPTY = ErrorSpec(607, "No volume with name as empty string exists", Kind.INVALID)

    # --- create options (vDVS validate_opts texts) ---
    INVALID_EDIT_OPTIONS = ErrorSpec(609, "Invalid options: {0} \nOptions that can be edited: {1}", Kind.INVALID)
    INVALID_OPTIONS = ErrorSpec(610, "Invalid options: {0} \nValid options and defaults: {1}", Kind.INVALID)
    INVALID_SIZE = ErrorSpec(
        611,
        "Invalid format for size. \nValid sizes must be of form X[mMgGtT]b where X is an integer. Default = 100mb",
        Kind.INVALID,
    )
    CLONE_WITH_SIZE = ErrorSpec(612, "Cannot define the size for a clone", Kind.INVALID)
    CLONE_WITH_FSTYPE = ErrorSpec(613, "Cannot define the filesystem type for a clone", Kind.INVALID)
    INVALID_DISKFORMAT = ErrorSpec(
        614, "Disk Allocation Format '{0}' is not supported. Valid options are: {1}.", Kind.INVALID
    )
    INVALID_ATTACH_AS = ErrorSpec(615, "Attach type '{0}' is not supported. Valid options are: {1}", Kind.INVALID)
    INVALID_ACCESS = ErrorSpec(616, "Access type '{0}' is not supported. Valid options are: {1}", Kind.INVALID)
    FSTYPE_NOT_FOUND = ErrorSpec(617, "Not found mkfs for {0}\nSupported filesystems found: {1}", Kind.INVALID)
    VSAN_POLICY_ON_NON_VSAN = ErrorSpec(618, "Cannot use a VSAN policy on a non-VSAN datastore", Kind.INVALID)
    VOLUME_SIZE_TOO_LARGE = ErrorSpec(619, "Invalid volume size {0}: the largest virtual disk is {1}", Kind.INVALID)

    # --- volume operations (vDVS vmdk_ops texts) ---
    VOLUME_NOT_FOUND = ErrorSpec(620, "Volume {0} not found (file: {1})", Kind.NOT_FOUND)
    VOLUME_EXISTS = ErrorSpec(621, "File {0} already exists", Kind.EXISTS)
    VOLUME_IN_USE = ErrorSpec(622, "Failed to remove volume {0}, in use by VM = {1}.", Kind.CONFLICT)
    VOLUME_ATTACHED_ELSEWHERE = ErrorSpec(
        623, "Failed to attach volume {0}: disk {1} already attached to VM={2}", Kind.CONFLICT
    )
    CLONE_SOURCE_NOT_FOUND = ErrorSpec(624, "Could not find volume for cloning {0}", Kind.NOT_FOUND)
    CLONE_SOURCE_DENIED = ErrorSpec(625, "Failed to authorize VM: {0}, datastore: {1}", Kind.DENIED)
    VOLUME_BUSY = ErrorSpec(626, "Volume {0} is busy with another operation, try again", Kind.UNAVAILABLE)
    CREATE_FAILED = ErrorSpec(627, "Failed to create volume: {0}", Kind.INTERNAL)
    REMOVE_FAILED = ErrorSpec(628, "Failed to remove volume: {0}", Kind.INTERNAL)
    ATTACH_FAILED = ErrorSpec(629, "Failed to attach volume {0}: {1}", Kind.INTERNAL)
    DETACH_FAILED = ErrorSpec(630, "Failed to detach {0}: {1}", Kind.INTERNAL)
    CLONE_FAILED = ErrorSpec(631, "Failed to clone volume: {0}", Kind.INTERNAL)
    NO_DISK_SLOT = ErrorSpec(
        632,
        "Failed to place new disk - The maximum number of supported volumes has been reached.",
        Kind.QUOTA,
    )
    VM_LOOKUP_FAILED = ErrorSpec(633, "Failed to find VM object for {0} (bios {1})", Kind.NOT_FOUND)

    # --- create-time checks: what could never be formatted or stored is refused before any disk exists ---
    VOLUME_SIZE_BELOW_FS_MIN = ErrorSpec(634, "Volume size {0} is below the {1} minimum of {2}", Kind.INVALID)
    VOLUME_SIZE_ABOVE_FS_MAX = ErrorSpec(635, "Volume size {0} is above the {1} maximum of {2}", Kind.INVALID)
    FSTYPE_NOT_FOR_BLANK_DISK = ErrorSpec(636, "Filesystem {0} cannot be made on a new volume: {1}", Kind.INVALID)
    DATASTORE_FILE_TOO_LARGE = ErrorSpec(
        637, "Volume size {0} exceeds the {1} largest file of datastore {2}'s filesystem ({3})", Kind.INVALID
    )
    DATASTORE_NO_SPACE = ErrorSpec(
        638, "Not enough free space on datastore {0} for a {1} {2} volume: {3} free", Kind.QUOTA
    )
    DATASTORE_OVERCOMMIT = ErrorSpec(
        639,
        "Volume size {0} would bring datastore {1}'s volumes to {2}, past its over-commit limit of {3} "
        "({4} x {5} free or held by its volumes)",
        Kind.QUOTA,
    )

    # --- identity ---
    CERT_UNKNOWN = ErrorSpec(640, "Client certificate {0} was not issued by this broker", Kind.UNAUTHENTICATED)
    CERT_REVOKED = ErrorSpec(641, "Certificate {0} of VM {1} has been revoked", Kind.UNAUTHENTICATED)
    CERT_NO_IDENTITY = ErrorSpec(642, "Client certificate carries no VM identity", Kind.UNAUTHENTICATED)
    VM_ALREADY_ENROLLED = ErrorSpec(
        643,
        "VM {0} is already enrolled under the name {1}; revoke that first (vdvs vm revoke --uuid {0})",
        Kind.EXISTS,
    )
    INVALID_VM_UUID = ErrorSpec(644, "Invalid BIOS UUID '{0}'", Kind.INVALID)

    DEFAULT_VMGROUP_VM_LIST = ErrorSpec(
        645, "_DEFAULT tenant contains all VMs which were not added to other tenants", Kind.INVALID
    )

    # --- delegated administration: admin principals, roles and grants, labels, shares, audit (700-739) ---
    NO_PLATFORM_GRANT = ErrorSpec(700, "{0} has no platform-admin grant", Kind.DENIED)
    NO_VMGROUP_GRANT = ErrorSpec(701, "{0} has no {1} grant on vmgroup {2}", Kind.DENIED)
    NO_CREATOR_GRANT = ErrorSpec(702, "{0} has no vmgroup-creator grant{1}", Kind.DENIED)
    DEFAULT_IS_PLATFORMS = ErrorSpec(
        703, "{0} has no platform-admin grant (vmgroup _DEFAULT is administered by platform admins only)", Kind.DENIED
    )
    ADMIN_CERT_UNKNOWN = ErrorSpec(704, "Admin certificate {0} was not issued by this broker", Kind.UNAUTHENTICATED)
    ADMIN_CERT_REVOKED = ErrorSpec(705, "Certificate {0} of admin {1} has been revoked", Kind.UNAUTHENTICATED)
    ADMIN_CERT_EXPIRED = ErrorSpec(706, "Certificate {0} of admin {1} expired at {2}", Kind.UNAUTHENTICATED)
    ADMIN_NO_IDENTITY = ErrorSpec(
        707, "Client certificate carries no admin identity (a VM certificate is refused here)", Kind.UNAUTHENTICATED
    )
    ADMIN_NOT_FOUND = ErrorSpec(708, "Admin {0} does not exist", Kind.NOT_FOUND)
    ADMIN_NAME_INVALID = ErrorSpec(709, "Admin name {0} is invalid, only {1} is allowed", Kind.INVALID)
    PRINCIPAL_INVALID = ErrorSpec(
        710, "Principal {0} is invalid: use admin:NAME, ldap-user:DN or ldap-group:DN", Kind.INVALID
    )
    ROLE_INVALID = ErrorSpec(711, "Role {0} is invalid, only {1} are allowed", Kind.INVALID)
    GRANT_SCOPE_INVALID = ErrorSpec(712, "Role {0} takes {1}", Kind.INVALID)
    GRANT_EXISTS = ErrorSpec(713, "Grant {0} already exists", Kind.EXISTS)
    GRANT_NOT_FOUND = ErrorSpec(714, "Grant {0} does not exist", Kind.NOT_FOUND)
    LABEL_INVALID = ErrorSpec(715, "Label {0} is invalid: {1}", Kind.INVALID)
    SELECTOR_INVALID = ErrorSpec(716, "Selector {0} is invalid: {1}", Kind.INVALID)
    DEFAULT_NOT_DELEGATED = ErrorSpec(717, "Vmgroup _DEFAULT takes no {0}: it stays the platform's", Kind.INVALID)
    SHARE_NOT_FOUND = ErrorSpec(718, "Datastore {0} is not shared with {1}", Kind.NOT_FOUND)
    SHARE_ALL_DS = ErrorSpec(719, "_ALL_DS cannot be shared: share datastores one by one", Kind.INVALID)
    NOT_SHARED = ErrorSpec(720, "Datastore {0} is not shared into vmgroup {1}", Kind.DENIED)
    OVER_CEILING = ErrorSpec(
        721, "{0} {1} is over the {2} ceiling of {3} on datastore {4} shared into vmgroup {5}", Kind.QUOTA
    )
    SINCE_INVALID = ErrorSpec(722, "Invalid --since {0}: give a number and s, m, h or d (e.g. 1h)", Kind.INVALID)
    LABELS_PLATFORM_ONLY = ErrorSpec(
        723, "{0} has no platform-admin grant: only platform admins change vmgroup labels", Kind.DENIED
    )
    COUNT_LIMITS_PLATFORM_ONLY = ErrorSpec(
        724, "{0} has no platform-admin grant: only platform admins change volume-count limits", Kind.DENIED
    )

    # --- membership rules (740-749); VM labels share the vmgroup labels' syntax (LABEL_INVALID) ---
    RULE_INVALID = ErrorSpec(740, "Invalid membership rule '{0}': {1}", Kind.INVALID)
    RULE_PRIORITY_INVALID = ErrorSpec(741, "Invalid rule priority {0}: give a whole number from 0 to {1}", Kind.INVALID)
    RULE_PRIORITY_TAKEN = ErrorSpec(
        742,
        "A membership rule of priority {0} already exists; priorities are unique across all vmgroups, choose another",
        Kind.EXISTS,
    )
    RULE_NOT_FOUND = ErrorSpec(743, "No membership rule of priority {0} in vmgroup {1}", Kind.NOT_FOUND)
    TENANT_HAS_RULES = ErrorSpec(
        745,
        "Cannot delete vmgroup {0}: membership rules of priority {1} place VMs in it. "
        "Remove them with 'vdvs vmgroup rule rm' or use --force",
        Kind.CONFLICT,
    )

    # --- events and alerts (750-759) ---
    ALERT_AT_INVALID = ErrorSpec(
        750, "Invalid --alert-at {0}: give a percent from 1 to 100 (e.g. 80), or Unset", Kind.INVALID
    )
    EVENT_LIMIT_INVALID = ErrorSpec(751, "Invalid --limit {0}: give 1 to {1}", Kind.INVALID)

    # --- fencing and forced detach (780-789) ---
    FENCE_VM_UNKNOWN = ErrorSpec(780, "VM {0} is not enrolled: give an enrolled VM's name or BIOS uuid", Kind.NOT_FOUND)
    FENCE_VM_AMBIGUOUS = ErrorSpec(781, "VM name {0} is enrolled {1} times: give its BIOS uuid", Kind.INVALID)
    FENCE_RUNNING = ErrorSpec(
        782,
        "VM {0} is powered on: fencing powers it off and stops everything on it; if it hangs, use --force",
        Kind.CONFLICT,
    )
    FENCE_UNSUPPORTED = ErrorSpec(783, "Cannot power VM {0} off: {1}", Kind.UNAVAILABLE)
    VOLUME_NOT_ATTACHED = ErrorSpec(784, "Volume {0} is not attached to any VM", Kind.CONFLICT)
    DETACH_RUNNING = ErrorSpec(
        785,
        "Volume {0} is attached to VM {1}, which is powered on and may be writing to it: "
        "fence the VM first (vdvs vm fence), or use --force",
        Kind.CONFLICT,
    )
    # --- join tokens, joining VMs, certificate renewal and bulk enrollment (770-779) ---
    JOIN_TOKEN_MALFORMED = ErrorSpec(
        770,
        "Join refused: the token is not a vdvs join token (expected ID.SECRET from 'vdvs vm token create')",
        Kind.UNAUTHENTICATED,
    )
    JOIN_TOKEN_UNKNOWN = ErrorSpec(771, "Join refused: token {0} is unknown or was revoked", Kind.UNAUTHENTICATED)
    JOIN_TOKEN_EXPIRED = ErrorSpec(772, "Join refused: token {0} expired at {1}", Kind.UNAUTHENTICATED)
    JOIN_TOKEN_USED_UP = ErrorSpec(
        773, "Join refused: token {0} has been used {1} time(s), all it allows", Kind.UNAUTHENTICATED
    )
    JOIN_TTL_INVALID = ErrorSpec(
        774, "Invalid --ttl {0}: give a number and s, m, h or d (e.g. 1h), at most {1}", Kind.INVALID
    )
    JOIN_USES_INVALID = ErrorSpec(775, "Invalid --uses {0}: give a whole number from 1 to {1}", Kind.INVALID)
    JOIN_VM_UNKNOWN = ErrorSpec(
        776, "Join refused: no VM with BIOS UUID {0} in the vSphere inventory", Kind.UNAUTHENTICATED
    )
    JOIN_NONCE_MISMATCH = ErrorSpec(
        777,
        "Join refused: the nonce does not match the one written into VM {0}'s guestinfo.vdvs.nonce "
        "(or it expired): join again",
        Kind.UNAUTHENTICATED,
    )
    CSR_INVALID = ErrorSpec(778, "Certificate request refused: {0}", Kind.INVALID)
    ENROLL_FOLDER_FAILED = ErrorSpec(779, "Cannot enroll the VMs of folder {0}: {1}", Kind.INVALID)

    # --- accounting: volume-count limits (NSX constraints ``count <= N``) ---
    VOLUME_COUNT_EXCEED = ErrorSpec(
        680, "The volume count of vmgroup {0} on datastore {1} would exceed its limit ({2} of {3} volumes)", Kind.QUOTA
    )
    VMGROUP_VOLUME_COUNT_EXCEED = ErrorSpec(
        681, "The volume count of vmgroup {0} on all datastores would exceed its limit ({1} of {2} volumes)", Kind.QUOTA
    )
    COUNT_LIMIT_INVALID = ErrorSpec(
        682, "Invalid value {0} for {1}: give a whole number of volumes (0 forbids creating) or Unset", Kind.INVALID
    )

    # --- service ---
    SERVICE_STOPPING = ErrorSpec(650, "Service is being stopped: operation declined!", Kind.UNAVAILABLE)
    BACKEND_UNAVAILABLE = ErrorSpec(651, "Service is presently unavailable: {0}", Kind.UNAVAILABLE)

    # --- directory login (`vdvs login`); no text ever holds a password ---
    LOGIN_WRONG_PASSWORD = ErrorSpec(660, "Login refused for {0}: wrong password", Kind.UNAUTHENTICATED)
    LOGIN_UNKNOWN_USER = ErrorSpec(661, "Login refused: unknown user {0}", Kind.UNAUTHENTICATED)
    LOGIN_RATE_LIMITED = ErrorSpec(
        662, "Login refused for {0}: too many failed logins (at most {1} a minute); try again in {2}s", Kind.QUOTA
    )
    LOGIN_BAD_REQUEST = ErrorSpec(663, "Login refused: {0}", Kind.INVALID)
    DIRECTORY_UNREACHABLE = ErrorSpec(664, "Directory {0} is unreachable: {1}", Kind.UNAVAILABLE)
    DIRECTORY_TIMEOUT = ErrorSpec(665, "Directory {0} did not answer within {1}s", Kind.UNAVAILABLE)
    DIRECTORY_TLS = ErrorSpec(666, "TLS to directory {0} failed: {1}", Kind.UNAVAILABLE)
    DIRECTORY_SERVICE_BIND = ErrorSpec(
        667,
        "Directory {0} refused the broker's service account {1} ({2}): check [auth.ldap] bind_dn and "
        "bind_password_file",
        Kind.UNAVAILABLE,
    )
    DIRECTORY_ERROR = ErrorSpec(668, "Directory {0} failed the login of {1}: {2}", Kind.UNAVAILABLE)
    # --- vSphere in production (760-769) ---
    VM_POWERED_ON = ErrorSpec(
        760,
        "VM {0} is {1}: {2} is read at power-on, so it is set only while the VM is powered off "
        "(power it off, then run vdvs vm check --vm {0} --fix)",
        Kind.CONFLICT,
    )
    VM_CHECK_FAILED = ErrorSpec(761, "Failed to check VM {0}: {1}", Kind.INTERNAL)
    # --- issue 15: store upgrade, backup and restore (870-879) ---
    BACKUP_NEWER_SCHEMA = ErrorSpec(
        870,
        "Backup {0} was made by vdvs {1} with config store schema {2}, newer than this vdvs {3} understands "
        "(schema {4}): upgrade vdvs to {1} or later to restore it; nothing was restored",
        Kind.INVALID,
    )
    BACKUP_DAMAGED = ErrorSpec(871, "Backup {0} is damaged ({1}); nothing was restored", Kind.INVALID)
    BACKUP_UNREADABLE = ErrorSpec(872, "{0} is not a vdvs config backup ({1}); nothing was restored", Kind.INVALID)
    RESTORE_BROKER_RUNNING = ErrorSpec(
        873, "Cannot restore the config store while {0}: stop it first; nothing was restored", Kind.CONFLICT
    )
    BACKUP_FAILED = ErrorSpec(874, "Cannot back up the config store {0}: {1}", Kind.INTERNAL)
    RESTORE_FAILED = ErrorSpec(
        875, "Cannot restore {0} into the config store {1}: {2}; the store is as it was", Kind.INTERNAL
    )
    STORE_SCHEMA_NEWER = ErrorSpec(
        876,
        "Config store {0} has schema version {1}, newer than this vdvs {2} understands ({3}); upgrade vdvs",
        Kind.CONFLICT,
    )

    # --- online extend (830-839) ---
    EXTEND_SIZE_MISSING = ErrorSpec(830, "Missing --size: give the new size of volume {0}, e.g. 2gb", Kind.INVALID)
    EXTEND_NOT_LARGER = ErrorSpec(
        831,
        "Cannot extend volume {0} to {1}: it is already {2}, and a volume only grows (shrinking is not supported)",
        Kind.INVALID,
    )
    EXTEND_READ_ONLY = ErrorSpec(832, "Cannot extend volume {0}: it is read-only", Kind.CONFLICT)
    EXTEND_MAX_SIZE = ErrorSpec(
        833, "Cannot extend volume {0} to {1}: the max volume size of vmgroup {2} on {3} is {4}", Kind.QUOTA
    )
    EXTEND_QUOTA = ErrorSpec(
        834,
        "Cannot extend volume {0} to {1}: vmgroup {2} would hold {3} on {4}, past its usage quota of {5}",
        Kind.QUOTA,
    )
    EXTEND_FAILED = ErrorSpec(835, "Failed to extend volume {0}: {1}", Kind.INTERNAL)
    EXTEND_NO_PRIVILEGE = ErrorSpec(
        836, "Cannot extend volume {0}: vmgroup {1} may not create volumes on {2}", Kind.DENIED
    )
    EXTEND_UNSUPPORTED = ErrorSpec(837, "Cannot extend volume {0}: {1}", Kind.INVALID)
    EXTEND_SNAPSHOT = ErrorSpec(
        838, "Cannot extend volume {0}: it is a snapshot, which keeps its volume's contents as they were", Kind.INVALID
    )
    # --- versions on the wire (860-869); the texts come from vdvs.proto.wire_version.mismatch ---
    PLUGIN_TOO_OLD = ErrorSpec(860, "{0}", Kind.CONFLICT)
    PLUGIN_TOO_NEW = ErrorSpec(861, "{0}", Kind.CONFLICT)
    PLUGIN_VERSION_UNREADABLE = ErrorSpec(
        862, "Cannot read the vdvs plugin's version metadata: {0}; upgrade the plugin", Kind.INVALID
    )
    # raised by the plugin itself, which does not import this table (vdvs.proto.wire_version has the codes)
    BROKER_TOO_OLD = ErrorSpec(863, "{0}", Kind.CONFLICT)
    BROKER_TOO_NEW = ErrorSpec(864, "{0}", Kind.CONFLICT)
    BROKER_VERSION_UNREADABLE = ErrorSpec(865, "Cannot read the vdvs broker's version metadata: {0}", Kind.INTERNAL)
    # --- storage policies (800-809): vDVS's `policy` texts, with what was wrong named ---
    POLICY_EXISTS = ErrorSpec(800, "Error: Policy already exists: {0}", Kind.EXISTS)
    POLICY_INVALID = ErrorSpec(801, "Error: Invalid policy string: {0}", Kind.INVALID)
    POLICY_IN_USE = ErrorSpec(802, "Cannot remove. Policy is in use by {0}", Kind.CONFLICT)
    POLICY_NOT_FOUND = ErrorSpec(803, "Policy {0} does not exist", Kind.NOT_FOUND)
    POLICY_UNKNOWN_AT_CREATE = ErrorSpec(804, "Policy {0} does not exist.{1}", Kind.INVALID)
    POLICY_NOT_ALLOWED = ErrorSpec(
        805, "Policy {0} is not allowed for vmgroup {1} on datastore {2}. Allowed policies are: {3}", Kind.DENIED
    )
    POLICY_NAME_INVALID = ErrorSpec(
        806, "Policy name {0!r} is invalid, only [a-zA-Z0-9_][a-zA-Z0-9_.-]* (at most 64) is allowed", Kind.INVALID
    )
    POLICY_DEFAULT_NOT_ALLOWED = ErrorSpec(
        807, "Default policy {0} is not among the allowed policies {1}", Kind.INVALID
    )
    ALLOWED_POLICIES_PLATFORM_ONLY = ErrorSpec(
        808,
        "{0} may not set --allowed-policies: which policies a vmgroup may use is the platform's to restrict",
        Kind.DENIED,
    )
    # --- volume move between datastores (840-849) ---
    MOVE_IN_USE = ErrorSpec(840, "Failed to move volume {0}, in use by VM = {1}.", Kind.CONFLICT)
    MOVE_TARGET_EXISTS = ErrorSpec(
        841, "Failed to move volume {0}: volume {1} already exists on datastore {2}", Kind.EXISTS
    )
    MOVE_SAME_DATASTORE = ErrorSpec(842, "Failed to move volume {0}: it is already on datastore {1}", Kind.INVALID)
    MOVE_NOT_SHARED = ErrorSpec(
        843,
        "Failed to move volume {0}: datastore {1} is not shared into vmgroup {2} (a vmgroup admin moves "
        "volumes only between datastores shared into the vmgroup)",
        Kind.DENIED,
    )
    MOVE_FAILED = ErrorSpec(844, "Failed to move volume {0} to datastore {1}: {2}", Kind.INTERNAL)
    MOVE_BUSY = ErrorSpec(
        845, "Failed to move volume {0}: another operation ({1}) is under way on it; try again", Kind.CONFLICT
    )
    MOVE_TARGET_INVALID = ErrorSpec(
        846, "Failed to move volume {0}: --to must name one datastore, not {1}", Kind.INVALID
    )
    MOVE_HAS_SNAPSHOTS = ErrorSpec(
        847,
        "Failed to move volume {0}: it has snapshots ({1}), which stay on its datastore; remove them first",
        Kind.CONFLICT,
    )
    MOVE_SNAPSHOT = ErrorSpec(
        848, "Failed to move volume {0}: it is a snapshot, which stays on the datastore of its volume", Kind.INVALID
    )
    # --- snapshots (issue 14: 810-829) ---
    SNAPSHOT_WITH_OPTIONS = ErrorSpec(
        810, "A snapshot takes no option but snapshot-of (it has its volume's size and filesystem): {0}", Kind.INVALID
    )
    SNAPSHOT_PARENT_NOT_FOUND = ErrorSpec(811, "Could not find volume {0} to take a snapshot of", Kind.NOT_FOUND)
    FROM_SNAPSHOT_WITHOUT_CLONE = ErrorSpec(
        812, "from-snapshot needs clone-from: name the volume the snapshot was taken of", Kind.INVALID
    )
    SNAPSHOT_NOT_FOUND = ErrorSpec(813, "Volume {0} has no snapshot {1}", Kind.NOT_FOUND)
    SNAPSHOT_OF_SNAPSHOT = ErrorSpec(
        814, "Volume {0} is a snapshot of {1}: take the snapshot of {1} instead", Kind.INVALID
    )
    VOLUME_HAS_SNAPSHOTS = ErrorSpec(
        815,
        "Cannot remove volume {0}: it has snapshots {1} (remove them first, or turn on the vmgroup's "
        "cascade-delete: vdvs vmgroup update --name {2} --cascade-delete on)",
        Kind.CONFLICT,
    )
    SNAPSHOT_IN_USE_NO_REFLINK = ErrorSpec(
        816,
        "Cannot snapshot volume {0} while VM {1} uses it: datastore {2} has no atomic snapshot (reflink or "
        "First Class Disk), and a copy of a disk in use is not point-in-time (take it through Docker on VM {1}, "
        "which freezes the filesystem, or detach the volume first)",
        Kind.CONFLICT,
    )
    SNAPSHOT_FAILED = ErrorSpec(817, "Failed to take snapshot {0} of volume {1}: {2}", Kind.INTERNAL)
    SNAPSHOT_READ_ONLY = ErrorSpec(
        818, "Volume {0} is a snapshot of {1}: it is read-only (clone it for a writable copy)", Kind.INVALID
    )
    SNAPSHOT_NAME_INVALID = ErrorSpec(
        819, "Invalid snapshot name {0}: give the name of a snapshot of the volume (no @datastore)", Kind.INVALID
    )
    CASCADE_DELETE_INVALID = ErrorSpec(820, "Invalid value {0} for cascade-delete: give on or off", Kind.INVALID)
    NOT_A_SNAPSHOT = ErrorSpec(821, "Volume {0} is not a snapshot of {1}", Kind.INVALID)
    SNAPSHOT_DATASTORE = ErrorSpec(
        822,
        "Snapshot {0} must be on the datastore of volume {1}: name it {3}@{2}, or leave the datastore out",
        Kind.INVALID,
    )

    @property
    def code(self) -> int:
        return self.value.code

    @property
    def kind(self) -> Kind:
        return self.value.kind


_BY_CODE = {e.code: e for e in Err}


def shown(text: str) -> str:
    """User input as an error message shows it: control characters escaped (``\\x1b``, ``\\n``), so the
    message stays one line and a terminal neither obeys them nor (click strips ANSI) loses text."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def by_code(code: int) -> Err | None:
    return _BY_CODE.get(code)


class VdvsError(Exception):
    """A failure with a vDVS-compatible code and its readable message."""

    def __init__(self, err: Err, *params: object, prefix: str = "") -> None:
        self.err = err
        self.params = params
        self.message = prefix + err.value.template.format(*params)
        super().__init__(self.message)

    @property
    def code(self) -> int:
        return self.err.code

    @property
    def kind(self) -> Kind:
        return self.err.kind
