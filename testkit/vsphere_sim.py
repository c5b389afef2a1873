"""govmomi's simulator (vcsim) for tests and benchmarks: start, prepare ``datastore1``, inspect, reset, stop.

vcsim is built by tools/build-vcsim.sh (``./dev test`` does it and exports
``VCSIM``). Logins are enforced (``-username/-password``) so a wrong password
is a real ``InvalidLogin``, and the password is a string no log may contain.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import selectors
import shutil
import signal
import ssl
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pyVim.connect import Disconnect, SmartConnect
from pyVim.task import WaitForTask
from pyVmomi import vim

from testkit.vsphere_latency import LatencyModel
from vdvs.broker.backends.vsphere.settings import VsphereSettings

DEFAULT_VCSIM = "/tmp/vdvs-vcsim-build/vcsim"  # where ./dev test builds it (tools/build-vcsim.sh)
USER = "vdvs-broker"
PASSWORD = "Sim-s3cret-N3ver-Logged-7f3a"
DATASTORE = "datastore1"
ENABLE_UUID = "disk.EnableUUID"
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0


class VcsimNotBuilt(Exception):
    """vcsim was never built on this machine (plain `pytest` on a bare machine): the tests skip."""


def vcsim_binary() -> str:
    """The vcsim to run: ``$VCSIM`` (which must be there), else the cached build."""
    configured = os.environ.get("VCSIM")
    if configured:
        if not os.access(configured, os.X_OK):
            raise RuntimeError(f"VCSIM={configured} is not an executable (run tools/build-vcsim.sh)")
        return configured
    if os.access(DEFAULT_VCSIM, os.X_OK):
        return DEFAULT_VCSIM
    raise VcsimNotBuilt("vcsim not built: run tools/build-vcsim.sh or ./dev test (which exports VCSIM)")


@dataclass
class SimVm:
    name: str
    uuid: str  # BIOS uuid (config.uuid)
    moid: str


@dataclass
class Sim:
    mode: str  # "vpx" or "esx"
    host: str
    port: int
    dsdir: Path
    secrets_dir: Path
    proc: subprocess.Popen[str]
    ca_file: Path
    vms: list[SimVm] = field(default_factory=list)

    @property
    def password_file(self) -> Path:
        return self.secrets_dir / "vsphere.password"

    def settings(self, **overrides: Any) -> VsphereSettings:
        values: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": USER,
            "password_file": self.password_file,
            "verify_tls": True,
            "ca_file": self.ca_file,
            "socket_timeout_s": 10.0,
            "task_timeout_s": 20.0,
        }
        values.update(overrides)
        return VsphereSettings(**values)

    def connect(self) -> Any:
        """An inspector session of the test's own (not the broker's)."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        return SmartConnect(host=self.host, port=self.port, user=USER, pwd=PASSWORD, sslContext=context)


def make_tls(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a 127.0.0.1 server certificate it signed: (ca.pem, server.pem, server.key)."""
    now = dt.datetime.now(dt.UTC)

    def build(subject: x509.Name, issuer: x509.Name, key: Any, signer: Any, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
            builder = builder.add_extension(san, critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vdvs test vCenter CA")])
    ca_cert = build(ca_name, ca_name, ca_key, ca_key, ca=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    cert = build(name, ca_name, key, ca_key, ca=False)
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def _first_line(proc: subprocess.Popen[str], timeout_s: float) -> str:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout_s):
            raise RuntimeError(f"vcsim printed nothing within {timeout_s:g}s")
    return proc.stdout.readline()


def start_sim(mode: str, extra_args: tuple[str, ...] = (), latency: LatencyModel | None = None) -> Sim:
    """vcsim in ``mode`` with ``datastore1`` on every host; ``latency`` (testkit.vsphere_latency.MODEL
    for benches) makes its calls take as long as a real vSphere's."""
    secrets_dir = Path(tempfile.mkdtemp(prefix=f"vcsim-{mode}-secret-"))
    (secrets_dir / "vsphere.password").write_text(PASSWORD + "\n", encoding="utf-8")
    ca_file, cert, key = make_tls(secrets_dir)
    argv = [vcsim_binary(), "-l", "127.0.0.1:0", "-username", USER, "-password", PASSWORD]
    argv += ["-tlscert", str(cert), "-tlskey", str(key), *extra_args, *(latency.args() if latency else ())]
    if mode == "esx":
        argv.append("-esx")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = _first_line(proc, START_TIMEOUT_S)
        found = re.search(r"127\.0\.0\.1:(\d+)/sdk", line)
        if not found:
            raise RuntimeError("vcsim did not start (a build without -tlscert? rerun tools/build-vcsim.sh)")
        port = int(found.group(1))
        dsdir = Path(tempfile.mkdtemp(prefix=f"vcsim-{mode}-ds1-"))
        sim = Sim(mode, "127.0.0.1", port, dsdir, secrets_dir, proc, ca_file)
        si = sim.connect()
        try:
            content = si.content
            hosts = content.viewManager.CreateContainerView(content.rootFolder, [vim.HostSystem], True)
            for host in hosts.view:  # on EVERY host: a datastore some hosts lack makes vcsim panic on attach
                host.configManager.datastoreSystem.CreateLocalDatastore(name=DATASTORE, path=str(dsdir))
            hosts.Destroy()
            vms = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
            sim.vms = sorted((SimVm(v.name, v.config.uuid, v._moId) for v in vms.view), key=lambda v: v.name)
            vms.Destroy()
        finally:
            Disconnect(si)
        return sim
    except BaseException:
        proc.kill()
        proc.wait(STOP_TIMEOUT_S)
        shutil.rmtree(secrets_dir, ignore_errors=True)
        raise


def stop_sim(sim: Sim) -> None:
    sim.proc.send_signal(signal.SIGTERM)
    try:
        sim.proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        sim.proc.kill()
        sim.proc.wait(STOP_TIMEOUT_S)
    if sim.proc.stdout is not None:
        sim.proc.stdout.close()
    shutil.rmtree(sim.dsdir, ignore_errors=True)
    shutil.rmtree(sim.secrets_dir, ignore_errors=True)


class Inspector:
    """The test's own view of the simulator: devices, power, direct attaches, reset between tests."""

    def __init__(self, sim: Sim) -> None:
        self.sim = sim
        self.si = sim.connect()
        self.content = self.si.content
        self.dc = self.content.rootFolder.childEntity[0]

    def close(self) -> None:
        Disconnect(self.si)

    def vm(self, uuid: str) -> Any:
        found = self.content.searchIndex.FindByUuid(self.dc, uuid, True)
        assert found is not None, f"no VM {uuid}"
        return found

    def disks(self, uuid: str) -> list[Any]:
        """Volume disks (under dockvols/) on the VM, by unit."""
        devices = self.vm(uuid).config.hardware.device
        found = [d for d in devices if isinstance(d, vim.vm.device.VirtualDisk) and "dockvols/" in d.backing.fileName]
        return sorted(found, key=lambda d: (d.controllerKey, d.unitNumber))

    def controllers(self, uuid: str) -> list[Any]:
        devices = self.vm(uuid).config.hardware.device
        found = [d for d in devices if isinstance(d, vim.vm.device.ParaVirtualSCSIController)]
        return sorted(found, key=lambda c: c.busNumber)

    def power(self, uuid: str, on: bool) -> None:
        vm = self.vm(uuid)
        state = vm.runtime.powerState
        if on and state != "poweredOn":
            WaitForTask(vm.PowerOnVM_Task())
        elif not on and state != "poweredOff":
            WaitForTask(vm.PowerOffVM_Task())

    def extra_config(self, uuid: str) -> dict[str, str]:
        """The VM's extraConfig (vcsim appends a key set twice: the last value is the one in force)."""
        return {str(o.key): str(o.value) for o in self.vm(uuid).config.extraConfig or []}

    def set_extra_config(self, uuid: str, key: str, value: str) -> None:
        option = vim.option.OptionValue(key=key, value=value)
        WaitForTask(self.vm(uuid).ReconfigVM_Task(spec=vim.vm.ConfigSpec(extraConfig=[option])))

    def attach_directly(self, uuid: str, path: str) -> None:
        """Attach behind the broker's back (a holder its config store does not know)."""
        vm = self.vm(uuid)
        controller = self.controllers(uuid)[0]
        used = {d.unitNumber for d in vm.config.hardware.device if d.controllerKey == controller.key} | {7}
        unit = min(set(range(16)) - used)
        disk = vim.vm.device.VirtualDisk(
            key=-100,
            controllerKey=controller.key,
            unitNumber=unit,
            backing=vim.vm.device.VirtualDisk.FlatVer2BackingInfo(fileName=path, diskMode="independent_persistent"),
        )
        spec = vim.vm.ConfigSpec(deviceChange=[vim.vm.device.VirtualDeviceSpec(operation="add", device=disk)])
        WaitForTask(vm.ReconfigVM_Task(spec=spec))

    # ------------------------------------------------------------------ what membership rules match
    def rename(self, uuid: str, name: str) -> None:
        WaitForTask(self.vm(uuid).Rename_Task(name))

    def folder(self, path: str) -> Any:
        """The folder ``a/b`` under the datacenter's VM folder, made if missing."""
        folder = self.dc.vmFolder
        for name in [p for p in path.split("/") if p]:
            found = next((f for f in folder.childEntity if isinstance(f, vim.Folder) and f.name == name), None)
            folder = found or folder.CreateFolder(name)
        return folder

    def move(self, uuid: str, path: str) -> None:
        """Move the VM into folder ``path`` under the datacenter's VM folder ("" = that folder itself)."""
        WaitForTask(self.folder(path).MoveIntoFolder_Task([self.vm(uuid)]))

    def set_attribute(self, uuid: str, name: str, value: str) -> None:
        """Set the VM's custom attribute ``name`` (defined on first use)."""
        manager = self.content.customFieldsManager
        definition = next((f for f in manager.field or [] if f.name == name), None)
        if definition is None:
            definition = manager.AddCustomFieldDef(name=name, moType=vim.VirtualMachine)
        vm = self.vm(uuid)
        manager.SetField(entity=vm, key=definition.key, value=value)
        if sum(1 for v in vm.customValue if v.key == definition.key) != 1:
            raise AssertionError(
                "this vcsim adds a custom value instead of replacing it: rebuild it (tools/build-vcsim.sh)"
            )

    def _reset_membership_facts(self) -> None:
        """Original names, every VM back in the VM folder, no folders of ours, no custom attributes."""
        for sim_vm in self.sim.vms:
            vm = self.vm(sim_vm.uuid)
            if vm.name != sim_vm.name:
                self.rename(sim_vm.uuid, sim_vm.name)
            if vm.parent != self.dc.vmFolder:
                WaitForTask(self.dc.vmFolder.MoveIntoFolder_Task([vm]))
        for child in list(self.dc.vmFolder.childEntity):
            if isinstance(child, vim.Folder):
                WaitForTask(child.Destroy_Task())
        manager = self.content.customFieldsManager
        for definition in list(manager.field or []) if manager is not None else []:
            manager.RemoveCustomFieldDef(key=definition.key)

    def reset(self) -> None:
        """Power every VM on, take volume disks and added controllers off, empty every dockvols/; undo
        renames, folder moves, custom attributes and disk.EnableUUID settings."""
        self._reset_membership_facts()
        for sim_vm in self.sim.vms:
            if self.extra_config(sim_vm.uuid).get(ENABLE_UUID):
                self.set_extra_config(sim_vm.uuid, ENABLE_UUID, "")  # as vCenter: an empty value unsets
            self.power(sim_vm.uuid, on=True)
            vm = self.vm(sim_vm.uuid)
            changes = [vim.vm.device.VirtualDeviceSpec(operation="remove", device=d) for d in self.disks(sim_vm.uuid)]
            if changes:
                WaitForTask(vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(deviceChange=changes)))
            devices = vm.config.hardware.device
            extra = [
                c
                for c in self.controllers(sim_vm.uuid)
                if c.busNumber > 0 and not any(d.controllerKey == c.key for d in devices)
            ]
            if extra:
                remove = [vim.vm.device.VirtualDeviceSpec(operation="remove", device=c) for c in extra]
                WaitForTask(vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(deviceChange=remove)))
        for datastore in self.dc.datastore:  # datastore1 and vcsim's own LocalDS_0: plain directories
            shutil.rmtree(Path(datastore.summary.url) / "dockvols", ignore_errors=True)
