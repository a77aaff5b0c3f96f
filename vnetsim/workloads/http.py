"""HTTP load generator on the host: clients posting small JSON bodies.

Requests arrive as a Poisson stream at ``load_rps`` (open loop, as a rate-driven load tool).
``workload.client`` picks how they reach the guest:

* ``keepalive`` (the default): each goes to a uniformly chosen connection among
  ``http_connections``. A connection with nothing
outstanding writes the request at once. Otherwise the request waits, and when every outstanding
response has come back the client writes all waiting requests, up to ``pipeline_depth``, in one
pipelined write: under load several requests leave as one segment train, which reaches the guest
as a multi-buffer GSO frame. The client acknowledges each response with a delayed ACK unless it
writes again first.

During an RX blackout it behaves like a real client: unanswered requests are retransmitted by
TCP with backoff; after ``request_timeout_s`` the client resets the connection (an RST frame),
fails what it had queued, waits ``reconnect_delay_s`` and reconnects (SYN with its own backoff,
giving up after ``syn_retries`` and trying again later). Requests for a connection that is down
fail at once. So inbound traffic decays during a blackout and comes back when RX does.

* ``per_request``: every request opens its own connection (a load tool with keep-alive off,
  such as ``ab`` without ``-k`` or ``vegeta -keepalive=false``): SYN, the request once the
  handshake completes, the response, then the client's FIN. One request per connection is
  never pipelined, so this client makes no multi-buffer frame of its own (requests larger than
  a buffer still do). A request not answered within ``request_timeout_s`` fails: a written one
  resets its connection, an unwritten one abandons the connection attempt (its SYN is no
  longer retransmitted). Nothing reconnects, and new requests keep opening connections at the
  offered rate during a blackout, so inbound traffic does not decay.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import simpy

from vnetsim.clock import call_at, wait_until
from vnetsim.frames import HTTP_REQUEST, TCP_ACK, TCP_RST, TCP_SYN, Frame
from vnetsim.rng import Draws, Variates
from vnetsim.workloads.registry import PeerContext, register_peer
from vnetsim.workloads.tcp import TICK_S, Flow, Network

if TYPE_CHECKING:
    from vnetsim.config import WorkloadConfig
    from vnetsim.records import Counters

UP, CONNECTING, DOWN = 0, 1, 2
SYN_RTO_S = 1.0  # TCP_TIMEOUT_INIT


class Request:
    __slots__ = ("body", "conn", "done", "epoch", "failed", "replies_left", "t_arrival", "written")

    def __init__(self, conn: Connection, t: float, body: int) -> None:
        self.conn = conn
        self.epoch = conn.epoch
        self.t_arrival = t
        self.body = body
        self.replies_left = 0
        self.done = False
        self.failed = False  # timed out before it was ever written
        self.written = False


class Connection:
    __slots__ = ("ack_gen", "client", "epoch", "flow", "one_shot", "outstanding", "queue", "state")

    def __init__(self, client: HttpClients, *, one_shot: bool = False) -> None:
        self.client = client
        self.one_shot = one_shot  # per_request: closed after its one request, never reopened
        self.flow = Flow(client.net, self._gave_up)
        self.state = UP
        self.epoch = 0
        self.outstanding: list[Request] = []
        self.queue: deque[Request] = deque()
        self.ack_gen = 0

    def _gave_up(self, frame: Frame) -> None:
        if frame.kind == TCP_SYN:
            if self.state == CONNECTING and frame.meta and frame.meta[0] == self.epoch:
                self.state = DOWN  # connect() failed: what waited for it fails too
                self.client.fail_queued(self)
                if not self.one_shot:
                    self.client.schedule_reconnect(self)
        elif self.state == UP and frame.flow is self.flow:
            self.client.reset(self)


class HttpClients:
    """All client connections of the load generator."""

    def __init__(
        self,
        env: simpy.Environment,
        wl: WorkloadConfig,
        net: Network,
        arrivals: Variates,
        sizes: Variates,
        counters: Counters,
    ) -> None:
        self.env = env
        self.net = net
        self.rate = wl.load_rps
        self.depth = wl.pipeline_depth
        self.header = wl.request_header_bytes
        self.body_lo = wl.body_min_bytes
        self.body_span = wl.body_max_bytes - wl.body_min_bytes + 1
        self.timeout = wl.request_timeout_s
        self.reconnect_delay = wl.reconnect_delay_s
        self.delayed_ack = wl.delayed_ack_ms * 1e-3
        self._arrivals = arrivals
        self._sizes = sizes
        self.per_request = wl.client == "per_request"
        self.conns = (
            [] if self.per_request else [Connection(self) for _ in range(wl.http_connections)]
        )
        self.inflight: deque[tuple[float, Request]] = deque()  # (deadline, request), FIFO
        self.c = counters  # http_requests_sent, http_responses, http_timeouts
        if self.rate > 0:
            env.process(self._open_per_request() if self.per_request else self._arrive())
        env.process(self._watch_timeouts())

    # -- offered load ------------------------------------------------------------------
    def _arrive(self) -> simpy.events.ProcessGenerator:
        """Poisson arrivals over the connections.

        An arrival that does not write at once (its connection is down, still connecting, or
        busy with an earlier batch) only counts or queues, so while no other event comes first
        it is handled here without an event of its own ("pulled"): a blackout, when no
        connection is up, then costs almost nothing. The draws come in the same order from
        the same streams, and the next scheduled arrival lands at exactly its own time.
        """
        env, draws, sizes, conns, c = self.env, self._arrivals, self._sizes, self.conns, self.c
        exp, uniform, size_u = draws.exp, draws.uniform, sizes.uniform
        queue_deadline = self.inflight.append
        mean_gap, timeout = 1.0 / self.rate, self.timeout
        lo, span = self.body_lo, self.body_span
        n = len(conns)
        t = env.now
        while True:
            # Nothing happens before ``limit``, so a connection's state at ``t < limit`` is now's.
            limit = env.peek()
            refused = 0
            while True:
                delay = exp() * mean_gap
                conn = conns[min(int(uniform() * n), n - 1)]
                body = lo + int(size_u() * span)
                t_prev, t = t, t + delay
                state = conn.state
                if t >= limit or (state == UP and not conn.outstanding):
                    break
                if state == DOWN:
                    refused += 1  # refused at once: the connection is down
                else:
                    req = Request(conn, t, body)
                    conn.queue.append(req)
                    queue_deadline((t + timeout, req))
            c.http_timeouts += refused
            if t_prev == env.now:
                yield env.timeout(delay)  # lands on env.now + delay == t
            else:
                yield from wait_until(env, t)
            if conn.state == DOWN:
                c.http_timeouts += 1
                continue
            req = Request(conn, t, body)
            conn.queue.append(req)
            queue_deadline((t + timeout, req))
            if conn.state == UP and not conn.outstanding:
                self._write_batch(conn)

    def _open_per_request(self) -> simpy.events.ProcessGenerator:
        """Poisson arrivals, each on a connection of its own, opened at once."""
        env, draws, size_u = self.env, self._arrivals, self._sizes.uniform
        mean_gap, lo, span = 1.0 / self.rate, self.body_lo, self.body_span
        while True:
            yield env.timeout(draws.exp() * mean_gap)
            conn = Connection(self, one_shot=True)
            conn.state = DOWN
            self._connect(conn)  # the request belongs to the epoch of this handshake
            req = Request(conn, env.now, lo + int(size_u() * span))
            conn.queue.append(req)
            self.inflight.append((env.now + self.timeout, req))

    def _write_batch(self, conn: Connection) -> None:
        batch: list[Request] = []
        nbytes = 0
        while conn.queue and len(batch) < self.depth:
            req = conn.queue.popleft()
            if req.failed:
                continue
            req.written = True
            batch.append(req)
            nbytes += self.header + req.body
        if not batch:
            return
        conn.outstanding = batch
        conn.ack_gen += 1  # this write carries the ACK of earlier responses
        self.c.http_requests_sent += len(batch)
        conn.flow.write(HTTP_REQUEST, nbytes, batch)

    # -- responses (called at the time the response reaches the client) ------------------
    def response(self, req: Request) -> None:
        conn = req.conn
        if req.epoch != conn.epoch or req.done:
            return
        req.done = True
        self.c.http_responses += 1
        if conn.one_shot:
            self._close(conn)
            return
        if all(r.done for r in conn.outstanding):
            conn.outstanding = []
            if conn.queue:
                self._write_batch(conn)
                return
        conn.ack_gen += 1
        call_at(self.env, self.env.now + self.delayed_ack, self._delayed_ack, conn, conn.ack_gen)

    def _delayed_ack(self, conn: Connection, gen: int) -> None:
        if conn.ack_gen == gen and conn.state == UP:
            self.net.backend.offer(self.net.new_frame(None, TCP_ACK, 0, None))

    # -- failures ---------------------------------------------------------------------
    def _watch_timeouts(self) -> simpy.events.ProcessGenerator:
        env, inflight = self.env, self.inflight
        while True:
            yield env.timeout(TICK_S)
            now = env.now
            while inflight:
                deadline, req = inflight[0]
                if req.done or req.epoch != req.conn.epoch:
                    inflight.popleft()
                    continue
                if deadline > now:
                    break
                inflight.popleft()
                if req.written:
                    self.reset(req.conn)  # no answer in time: give up on the connection
                elif not req.failed:
                    req.failed = True  # never sent (connection busy or not up): it fails
                    self.c.http_timeouts += 1
                    if req.conn.one_shot:
                        self._abandon(req.conn)

    def reset(self, conn: Connection) -> None:
        """Give up on the connection: RST, fail everything, reconnect later."""
        if conn.state != UP:
            return
        net = self.net
        lost = [r for r in conn.outstanding if not r.done]
        lost += [r for r in conn.queue if not r.failed]
        self.c.http_timeouts += len(lost)
        conn.outstanding = []
        conn.queue.clear()
        conn.epoch += 1
        conn.state = DOWN
        net.backend.offer(net.new_frame(None, TCP_RST, 0, None))
        net.close(conn.flow)
        if conn.one_shot:
            return
        conn.flow = Flow(net, conn._gave_up)  # a new socket
        self.schedule_reconnect(conn)

    def _close(self, conn: Connection) -> None:
        """A one-shot connection has its response: the client closes it (its FIN)."""
        conn.outstanding = []
        conn.state = DOWN
        conn.epoch += 1
        net = self.net
        net.close(conn.flow)
        # The FIN is a bare segment like an ACK; its retransmission is left out.
        net.backend.offer(net.new_frame(None, TCP_ACK, 0, None))

    def _abandon(self, conn: Connection) -> None:
        """A one-shot connection timed out before its handshake completed: stop connecting."""
        if conn.state == CONNECTING:
            conn.state = DOWN
            conn.epoch += 1  # a handshake completing late is ignored
            self.net.close(conn.flow)

    def fail_queued(self, conn: Connection) -> None:
        for req in conn.queue:
            if not req.failed:
                req.failed = True
                self.c.http_timeouts += 1
        conn.queue.clear()

    def schedule_reconnect(self, conn: Connection) -> None:
        call_at(self.env, self.env.now + self.reconnect_delay, self._connect, conn)

    def _connect(self, conn: Connection) -> None:
        if conn.state != DOWN:
            return
        conn.state = CONNECTING
        conn.epoch += 1
        net = self.net
        syn = net.new_frame(conn.flow, TCP_SYN, 0, [conn.epoch, conn])
        net.track(syn, SYN_RTO_S, conn._gave_up)
        conn.flow.send_now(syn)

    def connected(self, conn: Connection, epoch: int) -> None:
        """The SYN reached the guest and the handshake completed."""
        if conn.state != CONNECTING or epoch != conn.epoch:
            return
        conn.state = UP
        if conn.queue:
            self._write_batch(conn)


@register_peer("http")
def _build(ctx: PeerContext) -> HttpClients:
    s = ctx.streams
    return HttpClients(
        ctx.env,
        ctx.cfg.workload,
        ctx.net,
        Draws(s["workload.arrivals"]),
        Draws(s["workload.http"]),
        ctx.counters,
    )
