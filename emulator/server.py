"""Start the emulator in-process, or serve it from the command line."""

import argparse
import logging
import os
import signal
import sys
import threading
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc

from emulator import publisher, subscriber
from emulator.state import Broker
from emulator.store import FILE_NAME, Store

_LOG = logging.getLogger(__name__)

# Every StreamingPull holds a worker for its lifetime and every waiting Pull holds one
# for up to its long-poll, so the pool is sized well beyond the cores.
DEFAULT_MAX_WORKERS = 64
# How often idle subscriptions get their expired leases and aged-out messages handled.
SWEEP_INTERVAL_S = 0.5
# Publish requests may be up to 10 MB; leave room for the envelope.
_MAX_MESSAGE_BYTES = 20 * 1024 * 1024


@dataclass
class EmulatorHandle:
    """A running emulator. ``host_port`` is what PUBSUB_EMULATOR_HOST should be set to."""

    host: str
    port: int
    broker: Broker
    _server: grpc.Server
    _stopping: threading.Event
    _sweeper: threading.Thread | None = None
    _store: Store | None = None

    @property
    def host_port(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def data_dir(self) -> Path | None:
        """Where the state is kept, or None when it lives in memory only."""
        return None if self._store is None else self._store.path.parent

    def stop(self, grace: float | None = 1.0) -> None:
        """Stop serving; open streams and waiting pulls end within ``grace`` seconds."""
        self._stopping.set()
        self.broker.close()
        self._server.stop(grace).wait()
        if self._sweeper is not None:
            self._sweeper.join()
        if self._store is not None:
            # Last: requests still finishing after the grace period commit, or fail cleanly.
            self._store.close()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server stops; False if timeout passed first."""
        return self._server.wait_for_termination(timeout)

    def __enter__(self) -> "EmulatorHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_emulator(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    data_dir: str | os.PathLike | None = None,
    max_workers: int = DEFAULT_MAX_WORKERS,
    pull_wait_s: float = subscriber.DEFAULT_PULL_WAIT_S,
) -> EmulatorHandle:
    """Serve the Pub/Sub API on host:port (0 picks a free port) from background threads.

    With ``data_dir`` (created if missing), topics, subscriptions, messages and their
    acknowledgement state are kept in ``data_dir/pubsub.sqlite`` and loaded back on the next
    start; a publish is on disk before it is confirmed. Raises StoreLocked (an OSError) when
    another emulator has the directory open. Without it, everything lives in memory.
    """
    store = Store(data_dir) if data_dir is not None else None
    try:
        return _serve(host, port, Broker(store=store), store, max_workers, pull_wait_s)
    except BaseException:
        if store is not None:
            store.close()
        raise


def _serve(
    host: str,
    port: int,
    broker: Broker,
    store: Store | None,
    max_workers: int,
    pull_wait_s: float,
) -> EmulatorHandle:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="pubsub-emulator"),
        handlers=[publisher.handler(broker), subscriber.handler(broker, pull_wait_s)],
        options=[
            ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
            # Refuse a second server on the same port instead of silently sharing it.
            ("grpc.so_reuseport", 0),
        ],
    )
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError as e:
        raise OSError(f"Cannot listen on {host}:{port} (is the port in use?): {e}") from e
    if bound == 0:
        raise OSError(f"Cannot listen on {host}:{port} (is the port in use?)")
    server.start()
    stopping = threading.Event()
    sweeper = threading.Thread(
        target=_sweep, args=(broker, stopping), name="pubsub-emulator-sweeper", daemon=True
    )
    sweeper.start()
    _LOG.info("Pub/Sub emulator listening on %s:%d", host, bound)
    return EmulatorHandle(
        host=host,
        port=bound,
        broker=broker,
        _server=server,
        _stopping=stopping,
        _sweeper=sweeper,
        _store=store,
    )


def _sweep(broker: Broker, stopping: threading.Event) -> None:
    while not stopping.wait(SWEEP_INTERVAL_S):
        try:
            broker.sweep()
        except Exception:  # keep sweeping: one bad pass must not stop redelivery for good
            _LOG.exception("sweep of the emulator state failed")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m emulator",
        description="Serve a Google Cloud Pub/Sub emulator over gRPC. Point clients at it with "
        "PUBSUB_EMULATOR_HOST=<host>:<port>. State lives in memory unless --data-dir is given.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    parser.add_argument(
        "--port", type=int, default=8085, help="port to bind, 0 for any free one (default %(default)s)"
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help=f"keep topics, subscriptions and messages in DIR/{FILE_NAME} across restarts "
        "(created if missing; default: in memory only)",
    )
    parser.add_argument("--log-level", default="INFO", help="logging level (default %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")

    try:
        handle = start_emulator(args.host, args.port, data_dir=args.data_dir)
    except OSError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def _on_signal(signum, frame) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    print(f"export PUBSUB_EMULATOR_HOST={handle.host_port}", flush=True)
    # Wake now and then: Event.wait without a timeout would delay signal handling.
    while not stop.wait(0.5):
        pass
    _LOG.info("Shutting down")
    handle.stop()
    return 0
