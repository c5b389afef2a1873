"""vSphere backend: pyVmomi against vCenter or ESX, split by vSphere object.

- ``settings``: the ``[backend.vsphere]`` table (no pyVmomi; the config loader imports it).
- ``session``: the session owner (one login per broker, re-login on expiry, bounded connect).
- ``faults``: faults in words, bounded task waits.
- ``datastore`` / ``datastore_files``: datastores and their browser; folders, deletes, sidecar bytes.
- ``virtual_disk``: VirtualDiskManager create / copy / delete.
- ``virtual_machine``: lookup by BIOS uuid, PVSCSI placement, reconfigure, disk holders.
- ``watcher``: the power-off watcher thread.
- ``backend``: ``VsphereBackend``, the ``Backend`` the broker uses.

Import ``backend`` (it pulls in pyVmomi) only when the vsphere backend is configured.
"""
