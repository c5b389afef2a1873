"""The embedded default backend: datastores are directories, disks sparse files, attach a loop device."""

from vdvs.broker.backends.local.backend import LocalBackend

__all__ = ["LocalBackend"]
