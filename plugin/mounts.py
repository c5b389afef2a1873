"""Mount bookkeeping: which Docker mount IDs hold each volume, persisted across plugin restarts.

Docker sends a random 64-hex ``ID`` with every Mount and the same one with its
Unmount; a volume stays mounted while any ID holds it. The table is written
atomically (temp file, fdatasync, rename, directory fsync) before Docker gets an answer, so a killed
plugin comes back with exact counts.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class MountEntry:
    """One mounted volume: its canonical ``name@datastore``, where, from which device, by whom."""

    name: str  # canonical, as the broker gave it (Volume.full_name)
    mountpoint: str
    device: str
    fstype: str
    ids: list[str] = field(default_factory=list)
    adopted: bool = False  # found mounted at start with no record of who holds it
    # Holder IDs carried over a plugin restart: their Unmount may never come (the container
    # may have gone while the plugin was down), so a Remove, which Docker only sends once no
    # container uses the volume, may drop them.
    recovered: list[str] = field(default_factory=list)
    # The volume's name without its datastore, as the broker gave it (Volume.name): Docker may address
    # a mounted volume by it. "" when unknown (a state file from before it was kept, an adopted mount).
    short_name: str = ""


class MountTable:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, MountEntry] = {}
        # Docker name -> canonical name@datastore of every volume the broker has confirmed, so that
        # Docker's Get (sent before every Mount and Unmount) can be answered while the broker is
        # unreachable: otherwise Docker forgets the volume, or puts a local one in its place.
        self.known: dict[str, str] = {}

    def load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            raise ValueError(f"mount state {self.path} is unreadable ({exc}); move it aside to start") from None
        self.known = {str(k): str(v) for k, v in data.get("known", {}).items()}
        for name, raw in data.get("volumes", {}).items():
            self.entries[name] = MountEntry(
                name=name,
                mountpoint=raw["mountpoint"],
                device=raw.get("device", ""),
                fstype=raw.get("fstype", ""),
                ids=list(raw.get("ids", [])),
                adopted=bool(raw.get("adopted", False)),
                recovered=list(raw.get("recovered", [])),
                short_name=str(raw.get("short_name", "")),
            )

    def snapshot(self) -> dict[str, Any]:
        return {
            "version": 1,
            "known": dict(sorted(self.known.items())),
            "volumes": {
                name: {
                    "mountpoint": e.mountpoint,
                    "device": e.device,
                    "fstype": e.fstype,
                    "ids": list(e.ids),
                    "adopted": e.adopted,
                    "recovered": list(e.recovered),
                    "short_name": e.short_name,
                }
                for name, e in sorted(self.entries.items())
            },
        }

    def save(self, snapshot: dict[str, Any]) -> None:
        """Write a snapshot (blocking: syncs; call from a worker thread). fdatasync suffices for the new
        file (its data and size), the directory's fsync makes the rename durable; each costs a journal
        commit (~3-4 ms on a VM disk), and a container start and stop write this file three times."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(snapshot, fh, indent=1, sort_keys=True)
            fh.flush()
            os.fdatasync(fh.fileno())
        os.replace(tmp, self.path)
        fd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def remember(self, names: dict[str, str]) -> bool:
        """Record Docker names the broker confirmed; True if anything new (worth saving)."""
        new = {k: v for k, v in names.items() if self.known.get(k) != v}
        self.known.update(new)
        return bool(new)

    def forget(self, canonical: str) -> None:
        for name in [k for k, v in self.known.items() if v == canonical]:
            del self.known[name]

    def by_id(self, mount_id: str) -> MountEntry | None:
        return next((e for e in self.entries.values() if mount_id in e.ids), None)
