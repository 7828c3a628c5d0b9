"""Checks made before a job starts, so a mistake in the setup is one clear line, not a hang.

Google's Pub/Sub client retries an unreachable endpoint for minutes without a word: with
``PUBSUB_EMULATOR_HOST`` left pointing at a stopped emulator, ``newswire run`` would seem to hang.
:func:`check_pubsub` asks once, with a deadline, and says what is wrong.
"""

from __future__ import annotations

import os
import socket

PUBSUB_TIMEOUT_S = 5.0


class PubSubUnreachable(Exception):
    """The Pub/Sub the job would use does not answer; the message says which one and what to do."""


def emulator_host() -> str | None:
    return os.environ.get("PUBSUB_EMULATOR_HOST") or None


def emulator_project(default: str) -> str:
    """The project for topics on an emulator: ``PUBSUB_PROJECT_ID``, as ``gcloud beta emulators
    pubsub env-init`` sets it, else ``default``."""
    return os.environ.get("PUBSUB_PROJECT_ID") or default


def _split_host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise PubSubUnreachable(f"PUBSUB_EMULATOR_HOST={value!r} is not HOST:PORT (e.g. 127.0.0.1:8085)")
    return host.strip("[]") or "localhost", int(port)


def check_pubsub(project: str, timeout: float = PUBSUB_TIMEOUT_S) -> None:
    """Raise PubSubUnreachable unless the Pub/Sub the clients will use answers within ``timeout``."""
    host = emulator_host()
    if host:
        address = _split_host_port(host)
        try:
            socket.create_connection(address, timeout=min(timeout, 3.0)).close()
        except OSError as exc:
            raise PubSubUnreachable(
                f"PUBSUB_EMULATOR_HOST={host} but nothing answers there ({exc.strerror or exc}): start "
                f"the emulator (newswire emulator --port {address[1]}), or unset PUBSUB_EMULATOR_HOST "
                "to use the embedded one") from None
    from google.api_core import exceptions as gexc  # noqa: PLC0415 - heavy, and only needed here
    from google.auth import exceptions as auth_exc  # noqa: PLC0415
    from google.cloud import pubsub_v1  # noqa: PLC0415

    where = f"the Pub/Sub emulator at {host}" if host else f"Pub/Sub (project {project})"
    try:
        client = pubsub_v1.PublisherClient()
    except auth_exc.DefaultCredentialsError as exc:
        raise PubSubUnreachable(f"no Google credentials for {where} ({exc}): run 'gcloud auth "
                                "application-default login', or set PUBSUB_EMULATOR_HOST") from None
    try:
        client.get_topic(request={"topic": f"projects/{project}/topics/raw-items"}, timeout=timeout,
                         retry=None)
    except gexc.NotFound:
        pass  # answered: the topic is made next
    except (gexc.PermissionDenied, gexc.Unauthenticated) as exc:
        raise PubSubUnreachable(f"{where} refused access: {exc.message}") from None
    except (gexc.GoogleAPICallError, gexc.RetryError, auth_exc.GoogleAuthError) as exc:
        raise PubSubUnreachable(f"{where} did not answer within {timeout:.0f} s "
                                f"({type(exc).__name__}: {getattr(exc, 'message', exc)})") from None
    finally:
        client.transport.close()
