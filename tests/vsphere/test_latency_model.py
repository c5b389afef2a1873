"""vcsim's latency flags (-delay, -method-delay, -delay-jitter; tools/build-vcsim.sh): accepted, applied to
the method named, and refused in one line when malformed. Timing is compared within one run (a
200 ms method delay against the same call without it), never against a fixed bound."""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Iterator

import pytest
from pyVim.task import WaitForTask
from pyVmomi import vim

from testkit.fixtures import start_sim_or_skip
from testkit.vsphere_latency import MODEL, LatencyModel
from testkit.vsphere_sim import Sim, VcsimNotBuilt, stop_sim, vcsim_binary

DELAY_MS = 200
CALLS = 3


@pytest.fixture
def plain_and_delayed() -> Iterator[tuple[Sim, Sim]]:
    plain = start_sim_or_skip("esx")
    try:
        delayed = start_sim_or_skip("esx", latency=LatencyModel(method_ms={"ReconfigVM_Task": DELAY_MS}))
        try:
            yield plain, delayed
        finally:
            stop_sim(delayed)
    finally:
        stop_sim(plain)


def reconfigure_s(sim: Sim) -> float:
    """Median seconds of a ReconfigVM_Task (an extraConfig change) and its wait."""
    si = sim.connect()
    try:
        vm = si.content.searchIndex.FindByUuid(None, sim.vms[0].uuid, True)
        samples = []
        for i in range(CALLS):
            spec = vim.vm.ConfigSpec(extraConfig=[vim.option.OptionValue(key="guestinfo.n", value=str(i))])
            start = time.perf_counter()
            WaitForTask(vm.ReconfigVM_Task(spec=spec))
            samples.append(time.perf_counter() - start)
        return statistics.median(samples)
    finally:
        si.content.sessionManager.Logout()


def test_a_method_delay_makes_that_method_slower_than_without(plain_and_delayed: tuple[Sim, Sim]) -> None:
    plain, delayed = plain_and_delayed
    assert reconfigure_s(delayed) > reconfigure_s(plain)


def test_the_bench_model_is_accepted_and_calls_succeed() -> None:
    sim = start_sim_or_skip("esx", latency=MODEL.scaled(0.02))  # the model's shape, 2% of its delays
    try:
        assert sim.vms, "the inventory was read through the delayed calls"
        assert MODEL.args()[:2] == ("-delay", "5")
        assert "ReconfigVM_Task:700" in MODEL.args()[3]
    finally:
        stop_sim(sim)


def test_a_malformed_method_delay_is_refused_in_one_line() -> None:
    try:
        binary = vcsim_binary()
    except VcsimNotBuilt as exc:
        pytest.skip(str(exc))
    done = subprocess.run(
        [binary, "-l", "127.0.0.1:0", "-method-delay", "ReconfigVM_Task=700"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode != 0
    assert done.stderr.strip().endswith('-method-delay: "ReconfigVM_Task=700" is not Method:milliseconds')
