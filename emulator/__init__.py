"""An in-memory Google Cloud Pub/Sub emulator speaking the real google.pubsub.v1 gRPC API."""

from emulator.server import EmulatorHandle, start_emulator

__all__ = ["EmulatorHandle", "start_emulator"]
