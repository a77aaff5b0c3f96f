"""The global completion FIFO: who dequeues each completion of an interrupt's batch, and when.

``Runloop.submit`` puts the IRQ vCPU in its runloop at the queue time, then for each completion
in FIFO order asks ``VCpuSet`` who looks at the queue first, never dequeues before the previous
completion, runs the driver for that vCPU and puts the vCPU back with the time it is free. The
driver is the conftest's ``RecordingDriver`` (5 time units per completion); expected values
are worked out from those rules and ``VCpuSet``'s heap (ties broken by vCPU index).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from vnetsim.config import GuestConfig
from vnetsim.frames import HTTP_REQUEST, Frame
from vnetsim.guest.runloop import Runloop
from vnetsim.guest.vcpu import VCpuSet
from vnetsim.rng import Streams

if TYPE_CHECKING:
    from vnetsim.config import HostConfig
    from vnetsim.guest.vcpu import VCpu


def batch(n: int, first_buf: int = 100) -> list[tuple[int, Frame, int]]:
    """``n`` single-buffer completions, buffer ids from ``first_buf``, frame ids from 1."""
    return [(first_buf + k, Frame(k + 1, None, HTTP_REQUEST, 200, 0.0, True), 0) for k in range(n)]


def irq_takes(vcpus: VCpuSet, index: int) -> None:
    """What the MSI-X handler does before ``submit``: the IRQ vCPU leaves the pool or heap."""
    if vcpus.in_pool(index):
        vcpus.take_from_pool(index)
    else:
        vcpus.leave_heap(index)


def test_completions_go_to_whoever_looks_at_the_queue_first(
    recording_driver, no_pass_guest: Callable[[int], GuestConfig], quiet_host: HostConfig
) -> None:
    # No runloop passes: only vCPUs in the heap take completions. vCPU 1 looks at the queue at
    # 12 and vCPU 2 at 15; the IRQ vCPU 0 enters at the queue time 10.
    vcpus = VCpuSet(no_pass_guest(3), quiet_host, Streams(1))
    for index, t in ((1, 12.0), (2, 15.0)):
        vcpus.take_from_pool(index)
        vcpus.enter_runloop(index, t)
    runloop = Runloop(vcpus, recording_driver)
    irq_takes(vcpus, 0)
    runloop.submit(10.0, batch(4), irq_cpu=0)
    # 1st: vCPU 0 at 10 (free at 15); 2nd: vCPU 1 at 12 (free at 17); 3rd: vCPU 0 again at 15,
    # ahead of vCPU 2 at 15 (lower index); 4th: vCPU 2 at 15.
    assert recording_driver.calls == [
        (0, 10.0, 100, 1, 0),
        (1, 12.0, 101, 2, 0),
        (0, 15.0, 102, 3, 0),
        (2, 15.0, 103, 4, 0),
    ]
    assert runloop.last_dequeue == 15.0
    # Each vCPU is back in the heap at the time the driver said it is free.
    assert sorted(vcpus.heap) == [(17.0, 1), (20.0, 0), (20.0, 2)]
    assert vcpus.pool == []
    assert vcpus.passes == 0


def test_a_vcpu_that_looked_before_the_queue_time_has_left_its_runloop(
    recording_driver, no_pass_guest: Callable[[int], GuestConfig], quiet_host: HostConfig
) -> None:
    vcpus = VCpuSet(no_pass_guest(2), quiet_host, Streams(1))
    vcpus.take_from_pool(1)
    vcpus.enter_runloop(1, 9.0)  # found the queue empty at 9: back to the pool
    runloop = Runloop(vcpus, recording_driver)
    irq_takes(vcpus, 0)
    runloop.submit(10.0, batch(2), irq_cpu=0)
    assert [(cpu, t) for cpu, t, *_ in recording_driver.calls] == [(0, 10.0), (0, 15.0)]
    assert vcpus.pool == [1]


def test_the_irq_vcpu_enters_its_runloop_at_the_queue_time(
    recording_driver, no_pass_guest: Callable[[int], GuestConfig], quiet_host: HostConfig
) -> None:
    vcpus = VCpuSet(no_pass_guest(2), quiet_host, Streams(1))
    runloop = Runloop(vcpus, recording_driver)
    irq_takes(vcpus, 1)
    runloop.submit(7.0, [], irq_cpu=1)
    assert vcpus.heap == [(7.0, 1)]
    assert vcpus.pool == [0]
    assert recording_driver.calls == []


def test_the_irq_vcpu_takes_the_first_completion_of_each_batch_at_its_queue_time(
    recording_driver, quiet_host: HostConfig
) -> None:
    # With busy runloops on 8 vCPUs (4,000 passes/s each) pooled vCPUs take some completions,
    # but none looks at the queue before the IRQ vCPU, which is there at the queue time.
    recording_driver.service_s = 5e-6
    vcpus = VCpuSet(GuestConfig(smp=8), quiet_host, Streams(3))
    runloop = Runloop(vcpus, recording_driver)
    queued = [k * 1e-3 for k in range(1, 41)]
    first_call = []
    for t in queued:
        first_call.append(len(recording_driver.calls))
        irq_takes(vcpus, 0)
        runloop.submit(t, batch(3), irq_cpu=0)
    calls = recording_driver.calls
    assert len(calls) == 3 * len(queued)
    assert [calls[k][:2] for k in first_call] == [(0, t) for t in queued]
    assert {cpu for cpu, *_ in calls} - {0}  # the pool did take part
    times = [t for _, t, *_ in calls]
    assert times == sorted(times)  # FIFO: dequeue times never go back
    for k, t in enumerate(queued):
        assert all(tt >= t for tt in times[3 * k : 3 * k + 3])


def test_dequeue_never_goes_back_in_time_across_batches(
    recording_driver, no_pass_guest: Callable[[int], GuestConfig], quiet_host: HostConfig
) -> None:
    # Batch 1 at 10: vCPU 0 dequeues at 10 and, free at 15, dequeues the second at 15. The next
    # interrupt is queued at 12 (earlier than that dequeue): its completion waits for 15.
    vcpus = VCpuSet(no_pass_guest(1), quiet_host, Streams(1))
    runloop = Runloop(vcpus, recording_driver)
    irq_takes(vcpus, 0)
    runloop.submit(10.0, batch(2), irq_cpu=0)
    irq_takes(vcpus, 0)
    runloop.submit(12.0, batch(1, first_buf=200), irq_cpu=0)
    assert [(t, buf) for _, t, buf, *_ in recording_driver.calls] == [
        (10.0, 100),
        (15.0, 101),
        (15.0, 200),
    ]
    assert runloop.last_dequeue == 15.0
    assert vcpus.heap == [(20.0, 0)]  # free 5 after its clamped dequeue


class ScriptedVCpus:
    """A ``VCpuSet`` fake: ``next_taker`` answers from a script; every call is recorded."""

    def __init__(self, cpus: list[VCpu], picks: list[tuple[float, int]]) -> None:
        self.cpus = cpus
        self.picks = list(picks)
        self.log: list[tuple[str, int | float, float]] = []

    def enter_runloop(self, index: int, t: float) -> None:
        self.log.append(("enter", index, t))

    def next_taker(self, t_avail: float) -> tuple[float, VCpu]:
        t, index = self.picks.pop(0)
        self.log.append(("ask", t_avail, t))
        return t, self.cpus[index]

    def done(self, cpu: VCpu, t: float) -> None:
        self.log.append(("done", cpu.index, t))


def test_each_completion_goes_to_the_vcpu_the_vcpu_set_picks(
    recording_driver, cpus: list[VCpu]
) -> None:
    vcpus = ScriptedVCpus(cpus, [(10.0, 2), (11.0, 0), (11.0, 3), (14.0, 1)])
    runloop = Runloop(vcpus, recording_driver)  # type: ignore[arg-type]
    runloop.submit(10.0, batch(4), irq_cpu=1)
    assert [(cpu, t) for cpu, t, *_ in recording_driver.calls] == [
        (2, 10.0),
        (0, 11.0),
        (3, 11.0),
        (1, 14.0),
    ]
    assert vcpus.log == [
        ("enter", 1, 10.0),  # the IRQ vCPU first, at the queue time
        ("ask", 10.0, 10.0),  # every completion is in the queue from the queue time on
        ("done", 2, 15.0),  # back with the time the driver returned
        ("ask", 10.0, 11.0),
        ("done", 0, 16.0),
        ("ask", 10.0, 11.0),
        ("done", 3, 16.0),
        ("ask", 10.0, 14.0),
        ("done", 1, 19.0),
    ]
    assert vcpus.picks == []


def test_a_pick_earlier_than_the_previous_dequeue_is_held_back_to_it(
    recording_driver, cpus: list[VCpu]
) -> None:
    vcpus = ScriptedVCpus(cpus, [(10.0, 2), (13.0, 0), (12.0, 3)])
    runloop = Runloop(vcpus, recording_driver)  # type: ignore[arg-type]
    runloop.submit(10.0, batch(3), irq_cpu=1)
    assert [(cpu, t) for cpu, t, *_ in recording_driver.calls] == [
        (2, 10.0),
        (0, 13.0),
        (3, 13.0),
    ]
    assert ("done", 3, 18.0) in vcpus.log
    assert runloop.last_dequeue == 13.0
