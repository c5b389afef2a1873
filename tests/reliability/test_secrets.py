"""No secret in any log line: a full run at debug level (broker and plugin processes, the admin
CLI, enrollments, volume lifecycle with a mount, a revocation), every line captured, then searched
for the private keys (CA, broker, each VM bundle) and for passwords (vCenter, PostgreSQL DSN)
given to brokers that had to report a failure involving them."""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import time
from pathlib import Path

from testkit.broker_process import VDVS, cli_env
from testkit.fixtures import needs_root
from testkit.system import cleanup_host, detach_loops
from tests.reliability.harness import CrashEnv
from tests.tenancy.harness import VM_UUIDS
from vdvs.cli.plugin_socket import UnixHTTPConnection

DEBUG = {"VDVS_LOG_LEVEL": "debug"}
BOUND_S = 60.0


def secret_fragments(pem: bytes) -> list[str]:
    """Each base64 line of a PEM body: any one of them in a log is a leak."""
    lines = [line.strip() for line in pem.decode().splitlines()]
    return [line for line in lines if line and not line.startswith("-----") and len(line) >= 16]


def leaked(text: str, fragments: list[str]) -> list[str]:
    return [f for f in fragments if f in text]


def http(sock: Path, verb: str, body: dict[str, object]) -> dict[str, object]:
    conn = UnixHTTPConnection(str(sock), BOUND_S)
    try:
        conn.request("POST", f"/VolumeDriver.{verb}", body=json.dumps(body).encode())
        reply = json.loads(conn.getresponse().read())
    finally:
        conn.close()
    assert isinstance(reply, dict)
    return reply


@needs_root
def test_no_key_in_any_log_of_a_full_run(short_tmp: Path) -> None:
    env = CrashEnv(short_tmp)
    outputs: list[str] = []
    init = env.init()
    outputs += [init.out, init.err]
    env.start(env=DEBUG)
    plugin_log = short_tmp / "plugin.log"
    plugin: subprocess.Popen[bytes] | None = None
    try:
        for name in ("vm1", "vm2"):
            res = env.run("vm", "enroll", name, "--uuid", VM_UUIDS[name], "--out", str(short_tmp / name), "--json")
            assert res.rc == 0, res.err
            outputs += [res.out, res.err]
        sock = short_tmp / "plugin.sock"
        (short_tmp / "plugin.toml").write_text(
            f'[plugin]\nbroker = "{env.address}"\nbundle = "{short_tmp / "vm1"}"\nsocket = "{sock}"\n'
            f'mount_root = "{short_tmp / "mnt"}"\nstate_file = "{short_tmp / "pstate.json"}"\n'
        )
        with open(plugin_log, "wb") as log:
            plugin = subprocess.Popen(
                [VDVS, "plugin", "--config", str(short_tmp / "plugin.toml")],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**cli_env(), **DEBUG},
            )
        deadline = time.monotonic() + BOUND_S
        while not sock.exists():
            assert plugin.poll() is None and time.monotonic() < deadline, plugin_log.read_text()
            time.sleep(0.05)
        assert http(sock, "Create", {"Name": "data", "Opts": {"size": "20mb"}})["Err"] == ""
        mounted = http(sock, "Mount", {"Name": "data", "ID": "a" * 64})
        assert mounted["Err"] == "", mounted
        assert http(sock, "Unmount", {"Name": "data", "ID": "a" * 64})["Err"] == ""
        assert http(sock, "Create", {"Name": "bad", "Opts": {"size": "lots"}})["Err"]
        for args in (
            ("status",),
            ("volume", "ls"),
            ("vmgroup", "create", "--name", "g1", "--default-datastore", "local1", "--vm-list", "vm2"),
            ("vmgroup", "ls"),
            ("vm", "revoke", "--uuid", VM_UUIDS["vm2"]),
            ("vm", "enroll", "vm2", "--uuid", VM_UUIDS["vm2"], "--out", str(short_tmp / "vm2b")),
        ):
            res = env.run(*args)
            outputs += [res.out, res.err]
        assert http(sock, "Remove", {"Name": "data"})["Err"] == ""
    finally:
        if plugin is not None and plugin.poll() is None:
            plugin.send_signal(signal.SIGTERM)
            plugin.wait(BOUND_S)
        env.stop()
        env.kill()
        cleanup_host(short_tmp)
        detach_loops(short_tmp)
    logs = env.log() + plugin_log.read_text(errors="replace") + "".join(outputs)
    assert "debug" in logs and "created volume data@local1" in logs  # the run really was logged
    keys = [env.config.pki_dir / "ca.key", env.config.pki_dir / "broker.key"]
    keys += [short_tmp / d / "vm.key" for d in ("vm1", "vm2", "vm2b")]
    fragments = [f for key in keys for f in secret_fragments(key.read_bytes())]
    assert len(fragments) >= 5 * 2
    assert leaked(logs, fragments) == []
    assert "PRIVATE KEY" not in logs


def test_dsn_password_stays_out_of_errors(short_tmp: Path) -> None:
    """A PostgreSQL config store that cannot be reached: the broker and `config status` say so
    without the password of the DSN (given in the file, or in an environment variable)."""
    password = f"Dsn-s3cret-{secrets.token_hex(6)}"
    dsn = f"postgresql://vdvs:{password}@127.0.0.1:1/vdvs?connect_timeout=3"
    env = CrashEnv(short_tmp)
    assert env.init().rc == 0  # a CA to start with; the store is what fails
    texts = []
    for store_table in (f'kind = "postgres"\ndsn = "{dsn}"\n', 'kind = "postgres"\ndsn_env = "VDVS_TEST_DSN"\n'):
        text = env.config_path.read_text()
        start = text.index("[store]")
        end = text.index("[", start + 1)
        config = short_tmp / "pg.toml"
        config.write_text(text[:start] + "[store]\n" + store_table + "\n" + text[end:])
        for argv in ([VDVS, "broker", "--config", str(config)], [VDVS, "config", "status", "--config", str(config)]):
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=BOUND_S,
                env={**cli_env(), **DEBUG, "VDVS_TEST_DSN": dsn},
                check=False,
            )
            assert done.returncode != 0 or "127.0.0.1" in done.stdout, (argv, done.stdout, done.stderr)
            texts.append(done.stdout + done.stderr)
    assert any("127.0.0.1" in t or "connect" in t.lower() for t in texts), texts
    print("\n---\n".join(texts))
    assert [t for t in texts if password in t] == []


def test_vcenter_password_stays_out_of_logs(short_tmp: Path) -> None:
    """A broker on vCenter (govmomi's simulator): a wrong password, then the right one; neither
    is in anything the broker or `vdvs status` prints."""
    from testkit.fixtures import start_sim_or_skip
    from testkit.vsphere_sim import PASSWORD, stop_sim

    sim = start_sim_or_skip("vpx")
    try:
        wrong = short_tmp / "wrong.password"
        wrong.write_text(f"Wr0ng-{secrets.token_hex(6)}\n")
        env = CrashEnv(short_tmp)
        env.config.backend = "vsphere"
        env.config.local_datastores = {}
        env.config.vsphere = sim.settings(password_file=wrong)
        assert env.init().rc == 0
        failed = subprocess.run(
            [VDVS, "broker", "--config", str(env.config_path)],
            check=False,
            capture_output=True,
            text=True,
            timeout=BOUND_S,
            env={**cli_env(), **DEBUG},
        )
        assert failed.returncode != 0 and "InvalidLogin" in failed.stderr + failed.stdout, failed.stderr
        env.config.vsphere = sim.settings()
        env.config_path.write_text(env.config.to_toml())
        env.start(env=DEBUG)
        status = env.run("status")
        env.stop()
    finally:
        stop_sim(sim)
    text = failed.stdout + failed.stderr + env.log() + status.out + status.err
    assert "Backend: vsphere" in status.out
    assert wrong.read_text().strip() not in text
    assert PASSWORD not in text
