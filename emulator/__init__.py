"""A Google Cloud Pub/Sub emulator speaking the real google.pubsub.v1 gRPC API.

    from emulator import start_emulator
    with start_emulator() as pubsub:            # free port on 127.0.0.1
        os.environ["PUBSUB_EMULATOR_HOST"] = pubsub.host_port
        ...                                     # google-cloud-pubsub clients, Beam

or ``python -m emulator --port 8085``. Topics, subscriptions, Publish, Pull, StreamingPull,
Acknowledge, ModifyAckDeadline, dead-letter policies and Seek to a time behave as in real
Pub/Sub, with two relaxations for fast tests: ack deadlines down to 1 s (real: 10 s) and
message retention down to 1 s (real: 10 minutes). Subscriptions keep the expiration_policy they
were created with (validated as Pub/Sub does, 31 days when unset) but are never deleted for
inactivity. Refused with UNIMPLEMENTED: push, BigQuery and Cloud Storage subscriptions,
filters, exactly-once delivery, snapshots, Update* calls.
Messages go out in publish order (redeliveries first); ordering keys are kept on messages but
a nack does not hold back later messages of the same key.

By default the state lives in memory and is gone when the process ends. With
``start_emulator(data_dir=DIR)`` or ``python -m emulator --data-dir DIR`` it is also kept in
``DIR/pubsub.sqlite`` (SQLite, WAL) and loaded back on the next start: topics, subscriptions,
messages and which are acked, so a confirmed publish survives the process being killed, and
message ids are never reused. Leases and delivery counts are not kept: after a restart every
unacked message is ready again. One emulator at a time may use a data dir.
"""

from emulator.server import EmulatorHandle, start_emulator

__all__ = ["EmulatorHandle", "start_emulator"]
