"""`vdvs status`, `vdvs config init|status|rm`, and every admin command with the broker down (exit 1)."""

from __future__ import annotations

import os
import stat

from testkit.broker_process import key_values
from tests.tenancy.harness import DEFAULT_ID, Tenv

UNREACHABLE = "Cannot reach the vdvs broker"
VDVS_STATUS_KEYS = {"Version", "Status", "Pid", "DB_Mode", "DB_LocalPath", "DB_SharedLocation"}


async def test_status_shows_the_vdvs_keys_of_a_running_broker(tenv: Tenv) -> None:
    out = tenv.ok("status")
    lines = out.splitlines()
    assert lines[0] == "=== Service: "
    assert "=== Authorization Config DB: " in lines
    items = key_values(out)
    assert set(items) >= VDVS_STATUS_KEYS
    assert items["Status"] == "Running"
    assert items["Pid"] == str(tenv.proc.pid if tenv.proc else -1)
    assert items["DB_Mode"] == "SingleNode (local DB exists)"
    assert items["DB_LocalPath"] == str(tenv.config.store_path)
    assert items["DB_SharedLocation"] == "N/A"
    data = tenv.js("status")
    assert set(data) >= VDVS_STATUS_KEYS and data["Status"] == "Running"
    assert not any(k.startswith("===") for k in data)


async def test_admin_socket_is_root_only(tenv: Tenv) -> None:
    mode = os.stat(tenv.admin_socket)
    assert stat.S_ISSOCK(mode.st_mode)
    assert (stat.S_IMODE(mode.st_mode), mode.st_uid) == (0o600, 0)


async def test_status_with_the_broker_down_says_stopped(tenv: Tenv) -> None:
    tenv.stop()
    items = key_values(tenv.ok("status"))
    assert items["Status"] == "Stopped"
    assert UNREACHABLE in items["Reason"]
    assert tenv.js("status")["Status"] == "Stopped"


async def test_every_admin_command_exits_1_with_a_clear_message_when_the_broker_is_down(tenv: Tenv) -> None:
    tenv.stop()
    commands = [
        ["vmgroup", "ls"],
        ["vmgroup", "create", "--name", "g", "--default-datastore", "_VM_DS"],
        ["vmgroup", "update", "--name", "g", "--description", "x"],
        ["vmgroup", "rm", "--name", "g"],
        ["vmgroup", "vm", "add", "--name", "g", "--vm-list", "vm1"],
        ["vmgroup", "vm", "rm", "--name", "g", "--vm-list", "vm1"],
        ["vmgroup", "vm", "replace", "--name", "g", "--vm-list", "vm1"],
        ["vmgroup", "vm", "ls", "--name", "g"],
        ["vmgroup", "access", "add", "--name", "g", "--datastore", "local1"],
        ["vmgroup", "access", "set", "--name", "g", "--datastore", "local1", "--allow-create", "true"],
        ["vmgroup", "access", "rm", "--name", "g", "--datastore", "local1"],
        ["vmgroup", "access", "ls", "--name", "g"],
        ["volume", "ls"],
        ["volume", "set", "--volume", "v@local1", "--vmgroup", "g", "--options", "access=read-only"],
        ["vm", "enroll", "vm1", "--uuid", "42a1b2c3-0000-4000-8000-000000000001", "--out", "/tmp/never-written"],
    ]
    for args in commands:
        text = tenv.refused(*args, rc=1)
        assert text.startswith(UNREACHABLE), (args, text)
        assert str(tenv.admin_socket) in text
    res = tenv.run("vmgroup", "ls", "--json")
    assert res.rc == 1 and '"code": 0' in res.out and UNREACHABLE in res.out


async def test_config_status_reports_the_single_node_store(tenv: Tenv) -> None:
    out = tenv.ok("config", "status", "--config", str(tenv.config_path), admin=False)
    assert out.splitlines() == [
        "DB_Mode: SingleNode (local DB exists)",
        f"DB_LocalPath: {tenv.config.store_path}",
        "DB_SharedLocation: N/A",
    ]
    assert tenv.js("config", "status", "--config", str(tenv.config_path), admin=False) == {
        "DB_Mode": "SingleNode (local DB exists)",
        "DB_LocalPath": str(tenv.config.store_path),
        "DB_SharedLocation": "N/A",
    }


async def test_config_init_refuses_an_initialized_store(tenv: Tenv) -> None:
    res = tenv.init()
    assert res.rc == 2, res  # a refusal, not "broker unreachable"
    assert res.err.startswith(f"ERROR:Config DB is already initialized at {tenv.config.store_path}.")


async def test_config_rm_needs_local_and_confirm_and_a_stopped_broker(tenv: Tenv) -> None:
    cfg = ["--config", str(tenv.config_path)]
    before = tenv.config.store_path.read_bytes()
    assert tenv.refused("config", "rm", "--confirm", *cfg).startswith(
        "DB removal is irreversible operation. Please use '--local' flag for removing DB in SingleNode mode, "
        "and use '--unlink' to unlink from DB in MultiNode mode."
    )
    assert tenv.refused("config", "rm", "--local", "--unlink", "--confirm", *cfg).startswith(
        "Cannot use '--local' and '--unlink' together."
    )
    assert tenv.refused("config", "rm", "--local", *cfg) == (
        "Warning: For extra safety, removal operation requires '--confirm' flag."
    )
    assert tenv.refused("config", "rm", "--unlink", "--confirm", *cfg) == (
        "'rm --unlink' is not supported when Config DB is in SingleNode mode. "
        "Use 'rm --local' to remove local DB configuration."
    )
    text = tenv.refused("config", "rm", "--local", "--confirm", *cfg)
    assert text.startswith("the broker is running")
    assert tenv.config.store_path.exists()
    assert tenv.ok("vmgroup", "ls")  # still serving
    assert tenv.config.store_path.read_bytes()[:16] == before[:16]


async def test_config_rm_checks_the_admin_socket_named_in_the_config_file(tenv: Tenv) -> None:
    """Without --admin-socket, `config rm --config F` must still see that F's broker runs (F names its socket)."""
    res = tenv.run("config", "rm", "--local", "--confirm", "--config", str(tenv.config_path), admin=False)
    assert (res.rc, res.err.split(" (")[0]) == (2, "ERROR:the broker is running"), res
    assert tenv.config.store_path.exists()
    assert list(tenv.root.glob("*.bak_*")) == []


async def test_config_rm_moves_the_db_aside_and_init_starts_afresh(tenv: Tenv) -> None:
    tenv.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "_VM_DS")
    tenv.stop()
    db = tenv.config.store_path
    out = tenv.ok("config", "rm", "--local", "--confirm", "--config", str(tenv.config_path))
    backups = sorted(db.parent.glob(f"{db.name}.bak_*"))
    assert len(backups) == 1 and " " not in backups[0].name
    assert out == f"Moved {db} to backup file {backups[0]}"
    assert not db.exists()
    assert tenv.ok("config", "status", "--config", str(tenv.config_path), admin=False).splitlines()[:2] == [
        "DB_Mode: NotConfigured (no local DB)",
        "DB_LocalPath: N/A",
    ]
    res = tenv.init()
    assert res.rc == 0 and f"Creating new DB at {db}" in res.out
    tenv.start()
    assert [(g["id"], g["name"]) for g in tenv.js("vmgroup", "ls")] == [(DEFAULT_ID, "_DEFAULT")]


async def test_config_rm_no_backup_deletes_the_db_vdvs_removed_nothing_as_written(tenv: Tenv) -> None:
    tenv.stop()
    db = tenv.config.store_path
    out = tenv.ok("config", "rm", "--local", "--confirm", "--no-backup", "--config", str(tenv.config_path))
    assert out == f"Removed {db}"
    assert not db.exists()
    assert list(db.parent.glob(f"{db.name}*")) == []
