"""Child process of test_store_crash.py: commit volume transactions on a config store as fast as it
can, printing each one only after its COMMIT returned, until it is killed.

    python -m tests.reliability.store_hammer DB_PATH TAG   (from the repository root)

Output lines: ``C <name>`` (row committed ready), ``X <name>`` (about to delete: the delete may or
may not commit before a kill), ``D <name>`` (row deleted), ``B <n1> <n2> ...`` (several rows
committed in one transaction).
"""

from __future__ import annotations

import random
import sys

from testkit.seed import reserve
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID
from vdvs.tenancy.options import VolumeOptions
from vdvs.tenancy.store import SqliteStore

URL = "file:///hammer"


def main() -> None:
    path, tag = sys.argv[1], sys.argv[2]
    store = SqliteStore(path)
    rng = random.Random()
    live: list[str] = []
    out = sys.stdout
    n = 0

    def commit(name: str) -> None:
        reserve(store, name, 1, datastore_url=URL, options=VolumeOptions(fstype="v" * rng.randint(1, 400)), created="x",
                created_by="hammer", ready=True, allocated_bytes=rng.randint(0, 1 << 30))  # fmt: skip

    while True:
        n += 1
        roll = rng.random()
        if roll < 0.6:
            name = f"{tag}-{n}"
            commit(name)
            out.write(f"C {name}\n")
            live.append(name)
        elif roll < 0.8 and live:
            name = live.pop(rng.randrange(len(live)))
            record = store.get_volume(DEFAULT_VMGROUP_ID, URL, name)
            assert record is not None, name
            out.write(f"X {name}\n")
            out.flush()
            store.delete_volume(record.id)
            out.write(f"D {name}\n")
        else:
            names = [f"{tag}-{n}-{i}" for i in range(rng.randint(2, 8))]
            with store.transaction():
                for name in names:
                    commit(name)
            out.write("B " + " ".join(names) + "\n")
            live += names
        out.flush()


if __name__ == "__main__":
    main()
