"""The host peers: TCP senders, HTTP clients, Redis servers, the ping prober and LAN traffic.

Every peer offers frames to a fake tap that records (time, frame) and, when it stands for an
idle vhost worker, takes each frame at once (``Flow.taken``), so no sender stays corked. Draws
are the conftest's ``Scripted`` fakes, so arrival times, connections and sizes are set by hand.
Frame sizes include the 54-byte Ethernet + IPv4 + TCP header (``Network.new_frame``).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import simpy

from vnetsim.clock import Signal
from vnetsim.config import HostConfig, ScenarioConfig, WorkloadConfig
from vnetsim.frames import (
    BROADCAST,
    HTTP_REQUEST,
    ICMP_ECHO,
    REDIS_REPLY,
    TCP_ACK,
    TCP_RST,
    TCP_SYN,
    Frame,
)
from vnetsim.records import Counters
from vnetsim.rng import Streams
from vnetsim.workloads import PEERS, PeerContext, build_peers, register_peer
from vnetsim.workloads.http import CONNECTING, DOWN, UP, HttpClients
from vnetsim.workloads.probes import LanBackground, PingProber
from vnetsim.workloads.redis import RedisServers
from vnetsim.workloads.tcp import Flow, Network

T = pytest.approx  # simulated times: sums of float delays, exact to a few ulps


class Tap:
    """The host back end as the peers see it: ``offer`` records the frame (and the time)."""

    def __init__(self, env: simpy.Environment, *, take: bool) -> None:
        self.env = env
        self.take = take  # an idle vhost worker takes every frame at once
        self.offered: list[tuple[float, Frame]] = []

    def offer(self, frame: Frame) -> None:
        self.offered.append((self.env.now, frame))
        if self.take and frame.flow is not None:
            frame.flow.taken(self.env.now, frame)

    def frames(self) -> list[Frame]:
        return [f for _, f in self.offered]

    def times(self) -> list[float]:
        return [t for t, _ in self.offered]


MakeNet = Callable[..., tuple[Network, Tap]]


@pytest.fixture
def make_net(env: simpy.Environment) -> MakeNet:
    """``make_net(take=True, tso=True, host=HostConfig(), **workload)``: a ``Network`` on a
    fake tap. Retransmission is off unless the test sets ``rto_min_ms`` (it defaults to 1,000 s
    here, longer than any test runs)."""

    def make(
        *, take: bool = True, tso: bool = True, host: HostConfig | None = None, **wl: object
    ) -> tuple[Network, Tap]:
        wl.setdefault("rto_min_ms", 1e5)  # 100 s: larger than every run below
        wl.setdefault("rto_max_s", 1e5)
        tap = Tap(env, take=take)
        net = Network(env, host or HostConfig(), WorkloadConfig(**wl), tap, tso=tso)  # type: ignore[arg-type]
        return net, tap

    return make


# =============================================================================================
# TCP senders (workloads.tcp)
# =============================================================================================


def test_writes_while_a_frame_waits_in_the_tap_cork_into_one_super_frame(
    env: simpy.Environment, make_net: MakeNet
) -> None:
    net, tap = make_net(take=False)
    flow = Flow(net)
    flow.write(HTTP_REQUEST, 100, ["a"])  # nothing in the tap: sent at once
    first = tap.frames()[0]
    assert (first.size, first.meta, first.kind) == (154, ["a"], HTTP_REQUEST)
    assert flow.in_tap is first
    flow.write(HTTP_REQUEST, 200, ["b"])
    flow.write(HTTP_REQUEST, 300, ["c"])
    assert len(tap.offered) == 1  # held back
    assert flow.held is not None
    assert flow.held.size == 200 + 300 + 54
    flow.taken(0.5, first)  # vhost takes the first frame at 0.5: the corked skb goes then
    env.run(until=1.0)
    assert len(tap.offered) == 2
    t, corked = tap.offered[1]
    assert t == 0.5
    assert (corked.size, corked.meta) == (554, ["b", "c"])
    assert corked.t_offered == 0.5
    assert flow.in_tap is corked
    assert flow.held is None


def test_a_full_corked_skb_is_pushed_and_a_new_one_started(
    env: simpy.Environment, make_net: MakeNet
) -> None:
    net, tap = make_net(take=False, host=HostConfig(gso_max_bytes=1514))
    flow = Flow(net)
    flow.write(HTTP_REQUEST, 100, [1])
    flow.write(HTTP_REQUEST, 1000, [2])  # held: 1,054 bytes
    flow.write(HTTP_REQUEST, 500, [3])  # 1,554 > 1,514: the held skb goes, a new one holds
    assert [(f.size, f.meta) for f in tap.frames()] == [(154, [1]), (1054, [2])]
    assert flow.held is not None
    assert (flow.held.size, flow.held.meta) == (554, [3])


def test_a_frame_dropped_by_the_tap_releases_the_cork(
    env: simpy.Environment, make_net: MakeNet
) -> None:
    net, tap = make_net(take=False)
    flow = Flow(net)
    flow.write(HTTP_REQUEST, 100, [1])
    flow.write(HTTP_REQUEST, 100, [2])
    flow.dropped(tap.frames()[0])
    env.run(until=0.1)
    assert [f.meta for f in tap.frames()] == [[1], [2]]
    flow.write(HTTP_REQUEST, 100, [3])  # the released skb is in the tap now: corks again
    assert len(tap.offered) == 2


def test_after_the_tap_is_drained_a_write_goes_at_once(
    env: simpy.Environment, make_net: MakeNet
) -> None:
    net, tap = make_net(take=True)
    flow = Flow(net)
    for k in range(3):
        flow.write(REDIS_REPLY, 5, [k])
    assert [(f.size, f.meta) for f in tap.frames()] == [(59, [0]), (59, [1]), (59, [2])]


def test_without_guest_tso_the_host_segments_a_write_to_mss_frames(
    env: simpy.Environment, make_net: MakeNet
) -> None:
    net, tap = make_net(take=False, tso=False)
    flow = Flow(net)
    flow.write(HTTP_REQUEST, 3000, ["m"])
    flow.write(HTTP_REQUEST, 10, ["n"])  # no autocork without TSO
    assert [(f.size, f.meta) for f in tap.frames()] == [
        (1514, []),
        (1514, []),
        (134, ["m"]),  # 3,000 - 2 * 1,460 = 80 bytes, with the meta
        (64, ["n"]),
    ]
    assert flow.in_tap is None


def test_unacknowledged_data_is_retransmitted_with_backoff_then_given_up(
    env: simpy.Environment, make_net: MakeNet
) -> None:
    # RTO 203 ms doubling, capped at 555 ms, 3 retries, checked on the 10 ms tick:
    # due 0.203 -> sent at tick 0.21 (RTO 0.406), due 0.616 -> 0.62 (RTO 0.555, the cap),
    # due 1.175 -> 1.18 (RTO 0.555), due 1.735 -> given up at tick 1.74.
    net, tap = make_net(take=False, rto_min_ms=203.0, rto_max_s=0.555, tcp_retries2=3)
    gave_up: list[tuple[float, Frame]] = []
    flow = Flow(net, on_give_up=lambda f: gave_up.append((env.now, f)))
    flow.write(REDIS_REPLY, 5, ["r"])
    env.run(until=1.735)
    assert gave_up == []
    env.run(until=3.0)
    assert tap.times() == [0.0, T(0.21), T(0.62), T(1.18)]
    frames = tap.frames()
    assert len({f.fid for f in frames}) == 4  # each retransmission is a new frame
    assert all((f.kind, f.size, f.meta, f.flow) == (REDIS_REPLY, 59, ["r"], flow) for f in frames)
    assert flow.in_tap is frames[-1]
    assert net.retransmissions == 3
    assert len(gave_up) == 1
    assert gave_up[0][0] == T(1.74)
    assert gave_up[0][1] is frames[-1]
    assert net.unacked == {}


def test_an_acknowledged_frame_is_not_retransmitted(
    env: simpy.Environment, make_net: MakeNet
) -> None:
    net, tap = make_net(take=True, rto_min_ms=200.0)
    flow = Flow(net)
    flow.write(REDIS_REPLY, 5, ["r"])
    net.acked(tap.frames()[0])  # the guest delivered it
    env.run(until=2.0)
    assert len(tap.offered) == 1
    assert net.retransmissions == 0


# =============================================================================================
# HTTP clients (workloads.http)
# =============================================================================================

# One connection, 1,000 req/s, Exp draws scripted in units of the 1 ms mean gap; the body-size
# draw is U = 0.5: body 200 + int(0.5 * 801) = 600 bytes, request 160 + 600 = 760 bytes.
REQ_BYTES = 760


def clients(
    env: simpy.Environment, make_net: MakeNet, scripted, gaps: list[float], **wl: object
) -> tuple[HttpClients, Tap, Counters]:
    net, tap = make_net(take=True, load_rps=1000.0, http_connections=1, **wl)
    counters = Counters()
    c = HttpClients(
        env,
        WorkloadConfig(load_rps=1000.0, http_connections=1, **wl),  # type: ignore[arg-type]
        net,
        scripted(exp=gaps),
        scripted(),
        counters,
    )
    return c, tap, counters


def test_requests_queued_behind_an_outstanding_one_leave_as_one_pipelined_write(
    env: simpy.Environment, make_net: MakeNet, scripted
) -> None:
    c, tap, counters = clients(env, make_net, scripted, [1, 1, 1, 1, 1, 1e9], pipeline_depth=4)
    conn = c.conns[0]
    env.run(until=0.0055)  # arrivals at 1, 2, 3, 4, 5 ms
    (t1, f1) = tap.offered[0]
    assert len(tap.offered) == 1
    assert t1 == T(0.001)
    assert (f1.kind, f1.size) == (HTTP_REQUEST, REQ_BYTES + 54)
    req1 = f1.meta[0]
    waiting = list(conn.queue)
    assert len(waiting) == 4
    assert counters.http_requests_sent == 1
    c.response(req1)  # the response arrives at 5.5 ms: the 4 waiting requests go at once
    assert len(tap.offered) == 2
    f2 = tap.frames()[1]
    assert f2.meta == waiting
    assert f2.size == 4 * REQ_BYTES + 54
    assert conn.outstanding == waiting
    assert counters.http_requests_sent == 5
    assert counters.http_responses == 1


def test_pipeline_depth_bounds_one_write(
    env: simpy.Environment, make_net: MakeNet, scripted
) -> None:
    c, tap, counters = clients(env, make_net, scripted, [1, 1, 1, 1, 1, 1e9], pipeline_depth=3)
    env.run(until=0.0055)
    c.response(tap.frames()[0].meta[0])
    assert [len(f.meta) for f in tap.frames()] == [1, 3]
    assert len(c.conns[0].queue) == 1
    assert counters.http_requests_sent == 4


def test_a_response_is_acknowledged_by_one_delayed_ack_unless_the_client_writes_first(
    env: simpy.Environment, make_net: MakeNet, scripted
) -> None:
    c, tap, _ = clients(env, make_net, scripted, [1, 1, 1, 1e9], delayed_ack_ms=40.0)
    env.run(until=0.0035)  # req 1 written at 1 ms; 2 and 3 wait
    req1 = tap.frames()[0].meta[0]
    c.response(req1)  # writes 2 and 3 at once: that write carries the ACK
    req2, req3 = tap.frames()[1].meta
    c.response(req2)  # 3 still outstanding: delayed ACK armed (40 ms)
    env.run(until=0.0135)
    c.response(req3)  # 10 ms later: re-armed; only this last one fires
    env.run(until=0.1)
    acks = [(t, f) for t, f in tap.offered if f.kind == TCP_ACK]
    assert len(acks) == 1
    assert acks[0][0] == T(0.0535)
    assert acks[0][1].size == 54
    c.response(req3)  # a duplicate response changes nothing
    env.run(until=0.2)
    assert sum(f.kind == TCP_ACK for f in tap.frames()) == 1


def test_an_unanswered_request_resets_the_connection_which_reconnects(
    env: simpy.Environment, make_net: MakeNet, scripted
) -> None:
    # Timeout 50 ms, reconnect after 100 ms. Arrivals at 1 ms (written), 2 ms (waits), 100 ms
    # (connection down: refused) and 200 ms (connecting: waits). The watcher ticks every
    # 10 ms: request 1 (deadline 51 ms) times out at 60 ms; the reconnect goes at 160 ms.
    c, tap, counters = clients(
        env,
        make_net,
        scripted,
        [1, 1, 98, 100, 1e9],
        request_timeout_s=0.05,
        reconnect_delay_s=0.1,
    )
    conn = c.conns[0]
    env.run(until=0.059)
    assert conn.state == UP
    env.run(until=0.061)
    assert conn.state == DOWN
    assert counters.http_timeouts == 2  # the written request and the one waiting behind it
    assert conn.epoch == 1
    env.run(until=0.15)
    assert counters.http_timeouts == 3  # refused at once while down
    env.run(until=0.205)
    assert conn.state == CONNECTING
    assert [(f.kind, t) for t, f in tap.offered] == [
        (HTTP_REQUEST, T(0.001)),
        (TCP_RST, T(0.06)),
        (TCP_SYN, T(0.16)),
    ]
    syn = tap.frames()[2]
    assert syn.meta == [2, conn]
    assert syn.flow is conn.flow  # the new socket's
    assert len(conn.queue) == 1  # the 200 ms request waits for the handshake
    assert counters.http_requests_sent == 1
    c.connected(conn, 1)  # a stale handshake: ignored
    assert conn.state == CONNECTING
    c.connected(conn, 2)
    assert conn.state == UP
    f = tap.frames()[3]
    assert f.kind == HTTP_REQUEST
    assert counters.http_requests_sent == 2
    old = tap.frames()[0].meta[0]
    c.response(old)  # a response from before the reset: ignored
    assert counters.http_responses == 0
    c.response(f.meta[0])
    assert counters.http_responses == 1
    env.run(until=0.5)
    assert conn.state == UP  # answered in time: no further reset
    assert sum(f.kind == TCP_RST for f in tap.frames()) == 1
    assert counters.http_timeouts == 3


def test_a_request_written_late_still_resets_the_connection_past_its_deadline(
    env: simpy.Environment, make_net: MakeNet, scripted
) -> None:
    # The deadline counts from the arrival. Request 2 (arrived at 2 ms, deadline 52 ms) waits
    # behind request 1 (pipeline depth 1), which is answered at 50.5 ms; request 2 is written
    # then, but its deadline has passed by the 60 ms check: the connection is reset.
    c, tap, counters = clients(
        env, make_net, scripted, [1, 1, 1e9], request_timeout_s=0.05, pipeline_depth=1
    )
    env.run(until=0.0015)
    req1 = tap.frames()[0].meta[0]
    env.run(until=0.0505)
    c.response(req1)
    req2 = tap.frames()[1].meta[0]
    assert counters.http_timeouts == 0
    env.run(until=0.061)
    assert c.conns[0].state == DOWN
    assert counters.http_timeouts == 1  # request 2; request 1 was answered
    assert not req2.done


def test_a_request_that_waits_through_its_deadline_unwritten_fails_without_a_reset(
    env: simpy.Environment, make_net: MakeNet, scripted
) -> None:
    # As in the reset test: reset at 60 ms, SYN at 160 ms, and the request arriving at 200 ms
    # waits for the handshake. No handshake completes; at its deadline (250 ms, seen at the
    # 250 or 260 ms check) it fails alone: the connection is not reset again.
    c, tap, counters = clients(
        env,
        make_net,
        scripted,
        [1, 1, 98, 100, 1e9],
        request_timeout_s=0.05,
        reconnect_delay_s=0.1,
    )
    conn = c.conns[0]
    env.run(until=0.205)
    (waiting,) = conn.queue
    assert counters.http_timeouts == 3
    env.run(until=0.3)
    assert waiting.failed
    assert counters.http_timeouts == 4
    assert conn.state == CONNECTING
    assert sum(f.kind == TCP_RST for f in tap.frames()) == 1
    offered = len(tap.offered)
    c.connected(conn, conn.epoch)
    assert conn.state == UP
    assert len(tap.offered) == offered  # a failed request is never written
    assert counters.http_requests_sent == 1


def _reset_then_reconnected(
    env: simpy.Environment, make_net: MakeNet, scripted
) -> tuple[HttpClients, Tap, Counters]:
    """One request at 1 ms, never answered; timeout 50 ms, reconnect after 100 ms; TCP RTO
    33 ms, 2 retries: the request is retransmitted at 40 ms (RTO 66 ms), reset at 60 ms, the
    SYN goes at 160 ms and the handshake completes at 200 ms. The old socket's request would
    be retransmitted at 110 ms (RTO 132 ms) and given up at 250 ms."""
    c, tap, counters = clients(
        env,
        make_net,
        scripted,
        [1, 1e9],
        request_timeout_s=0.05,
        reconnect_delay_s=0.1,
        rto_min_ms=33.0,
        tcp_retries2=2,
    )
    conn = c.conns[0]
    env.run(until=0.2)
    assert [f.kind for f in tap.frames()][:3] == [HTTP_REQUEST, HTTP_REQUEST, TCP_RST]
    c.connected(conn, conn.epoch)
    assert conn.state == UP
    return c, tap, counters


def test_a_reset_sockets_stale_give_up_does_not_reset_the_new_connection(
    env: simpy.Environment, make_net: MakeNet, scripted
) -> None:
    c, tap, counters = _reset_then_reconnected(env, make_net, scripted)
    env.run(until=0.4)
    assert c.conns[0].state == UP  # nothing is outstanding on the new connection
    assert sum(f.kind == TCP_RST for f in tap.frames()) == 1
    assert counters.http_timeouts == 1


def test_a_reset_socket_retransmits_nothing_after_its_rst(
    env: simpy.Environment, make_net: MakeNet, scripted
) -> None:
    _, tap, _ = _reset_then_reconnected(env, make_net, scripted)
    t_rst = next(t for t, f in tap.offered if f.kind == TCP_RST)
    assert [t for t, f in tap.offered if f.kind == HTTP_REQUEST and t > t_rst] == []


def test_a_per_request_client_opens_a_connection_for_each_request_and_closes_it(
    env: simpy.Environment, make_net: MakeNet, scripted
) -> None:
    # Arrivals at 1 and 2 ms, each on its own connection: SYN, the request once the handshake
    # completes, the response, then the client's FIN (a bare segment). Nothing is pipelined.
    c, tap, counters = clients(env, make_net, scripted, [1, 1, 1e9], client="per_request")
    assert c.conns == []
    env.run(until=0.0025)
    assert [(f.kind, t) for t, f in tap.offered] == [(TCP_SYN, T(0.001)), (TCP_SYN, T(0.002))]
    (syn1, syn2) = tap.frames()
    conn1, conn2 = syn1.meta[1], syn2.meta[1]
    assert conn1 is not conn2
    assert conn1.state == CONNECTING
    for syn in (syn2, syn1):  # the guest takes both SYNs (it acknowledges what it delivers)
        c.net.acked(syn)
        c.connected(syn.meta[1], syn.meta[0])
    requests = tap.frames()[2:]
    assert [f.kind for f in requests] == [HTTP_REQUEST, HTTP_REQUEST]
    assert [len(f.meta) for f in requests] == [1, 1]
    assert [f.size for f in requests] == [REQ_BYTES + 54] * 2
    c.response(requests[0].meta[0])
    assert conn2.state == DOWN  # answered: closed
    assert tap.frames()[-1].kind == TCP_ACK  # its FIN
    assert counters.http_requests_sent == 2
    assert counters.http_responses == 1
    env.run(until=5.1)
    # (TCP retransmission is off here.) The unanswered request's 5 s timeout resets its
    # connection; nothing reconnects, and the closed connection sends nothing more.
    assert [(f.kind, t) for t, f in tap.offered[5:]] == [(TCP_RST, T(5.01))]
    assert conn1.state == DOWN
    assert counters.http_timeouts == 1


def test_a_per_request_connection_that_never_completes_is_abandoned_at_the_timeout(
    env: simpy.Environment, make_net: MakeNet, scripted
) -> None:
    # During a blackout no handshake completes. Timeout 50 ms: the attempt is abandoned at the
    # 60 ms watcher tick, so the SYN (first retransmitted at 1 s) is never sent again, and
    # nothing reconnects; new arrivals keep opening connections at the offered rate.
    c, tap, counters = clients(
        env, make_net, scripted, [1] + [100] * 30, client="per_request", request_timeout_s=0.05
    )
    env.run(until=2.5)
    syns = [t for t, f in tap.offered if f.kind == TCP_SYN]
    assert syns == [T(0.001 + 0.1 * k) for k in range(len(syns))]  # one per arrival, no retry
    assert len(syns) == 25
    assert counters.http_requests_sent == 0
    assert counters.http_timeouts == 25  # the last (2.401 s) timed out at the 2.46 s tick
    assert c.net.retransmissions == 0


# =============================================================================================
# Redis servers (workloads.redis)
# =============================================================================================


def test_redis_serves_msets_first_come_first_served_and_replies_on_the_chosen_connection(
    env: simpy.Environment, make_net: MakeNet, scripted
) -> None:
    # 2 servers, 4 connections each, 10 us per MSET. Connection draws U = 0.1, 0.9, 0.3, 0.6
    # pick connections 0, 3, 1 (server 0) and 2 (server 1).
    net, tap = make_net(take=True)
    wl = WorkloadConfig(redis_servers=2, redis_conns_per_server=4, redis_service_us=10.0)
    redis = RedisServers(env, wl, net, scripted(uniform=[0.1, 0.9, 0.3, 0.6]))
    redis.mset(1.0, 0, "m1")
    redis.mset(1.000002, 0, "m2")  # arrives while m1 is served: waits until 1.00001
    redis.mset(1.5, 0, "m3")  # server idle again
    redis.mset(1.0, 1, "n1")  # another server: not delayed by server 0
    env.run(until=2.0)
    s0, s1 = redis.servers
    assert [(t, f.meta, f.flow) for t, f in tap.offered] == [
        (T(1.00001), ["m1"], s0.flows[0]),
        (T(1.00001), ["n1"], s1.flows[2]),
        (T(1.00002), ["m2"], s0.flows[3]),
        (T(1.50001), ["m3"], s0.flows[1]),
    ]
    assert all((f.kind, f.size) == (REDIS_REPLY, 5 + 54) for f in tap.frames())
    assert (s0.served, s1.served) == (3, 1)
    assert s0.busy_until == T(1.50001)


def test_replies_to_one_busy_connection_cork_together(
    env: simpy.Environment, make_net: MakeNet, scripted
) -> None:
    net, tap = make_net(take=False)  # the first reply stays in the tap
    wl = WorkloadConfig(redis_servers=1, redis_conns_per_server=2, redis_service_us=10.0)
    redis = RedisServers(env, wl, net, scripted(uniform=[0.0, 0.0, 0.0]))
    for meta in ("a", "b", "c"):
        redis.mset(1.0, 0, meta)
    env.run(until=2.0)
    assert [f.meta for f in tap.frames()] == [["a"]]
    flow = redis.servers[0].flows[0]
    assert flow.held is not None
    assert (flow.held.meta, flow.held.size) == (["b", "c"], 5 + 5 + 54)


# =============================================================================================
# Ping prober and LAN background (workloads.probes)
# =============================================================================================


def test_the_prober_sends_one_echo_per_interval_and_ticks_with_whether_it_was_answered(
    env: simpy.Environment, make_net: MakeNet
) -> None:
    net, tap = make_net(take=True, ping_interval_s=1.0)
    counters = Counters()
    ticks = Signal()
    seen: list[tuple[float, bool]] = []
    ticks.subscribe(lambda now, ok: seen.append((now, ok)))
    prober = PingProber(env, WorkloadConfig(ping_interval_s=1.0), net, counters, ticks)
    prober.answered(1, 0.5)
    prober.answered(2, 2.0)  # exactly at the deadline: counts
    prober.answered(4, 4.5)  # after the next echo went out: too late
    env.run(until=4.5)
    assert seen == [(1.0, True), (2.0, True), (3.0, False), (4.0, False)]
    assert [(t, f.kind, f.meta, f.size, f.flow) for t, f in tap.offered] == [
        (float(k), ICMP_ECHO, k + 1, 44 + 54, None) for k in range(5)
    ]
    assert counters.pings_sent == 5
    assert counters.pings_answered == 2


def test_lan_background_is_a_stream_of_small_broadcasts(
    env: simpy.Environment, make_net: MakeNet, scripted
) -> None:
    net, tap = make_net(take=True)
    # 0.5/s: mean gap 2 s; Exp draws 1, 0.5, 2 -> broadcasts at 2, 3, 7 s.
    LanBackground(env, WorkloadConfig(broadcast_rate_per_s=0.5), net, scripted(exp=[1, 0.5, 2]))
    env.run(until=8.0)
    assert [(t, f.kind, f.size, f.flow) for t, f in tap.offered] == [
        (2.0, BROADCAST, 60, None),
        (3.0, BROADCAST, 60, None),
        (7.0, BROADCAST, 60, None),
    ]


def test_no_lan_background_at_rate_zero(
    env: simpy.Environment, make_net: MakeNet, scripted
) -> None:
    net, tap = make_net(take=True)
    LanBackground(env, WorkloadConfig(broadcast_rate_per_s=0.0), net, scripted())
    env.run(until=100.0)
    assert tap.offered == []


# =============================================================================================
# The registry (workloads.registry)
# =============================================================================================


# Registration order is construction order, and with it the order of SimPy processes started at
# the same instant (workloads.registry). It is the import order of ``vnetsim.workloads``.
# The peers come in the order the pre-registry wiring built them (isort is switched off for
# that import).
REGISTERED = ["http", "redis", "ping", "lan"]


def test_peers_are_built_in_registration_order(env: simpy.Environment, make_net: MakeNet) -> None:
    assert list(PEERS) == REGISTERED
    net, _ = make_net()
    ctx = PeerContext(env, ScenarioConfig(), net, Streams(1), Counters(), Signal())
    peers = build_peers(ctx)
    assert list(peers) == REGISTERED
    assert isinstance(peers["http"], HttpClients)
    assert isinstance(peers["redis"], RedisServers)
    assert isinstance(peers["ping"], PingProber)
    assert isinstance(peers["lan"], LanBackground)
    assert len(peers["http"].conns) == ScenarioConfig().workload.http_connections


def test_a_peer_name_cannot_be_registered_twice() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_peer("http")(lambda ctx: None)
    assert list(PEERS) == REGISTERED
