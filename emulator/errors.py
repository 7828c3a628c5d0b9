"""Errors raised by the emulator's state; the RPC layer maps each to a gRPC status code.

Kept free of grpc so the state can be driven directly from pure tests.
"""


class EmulatorError(Exception):
    """Base class: a request the emulator refuses, with a message that says how to fix it."""


class NotFound(EmulatorError):
    """The named topic or subscription does not exist (gRPC NOT_FOUND)."""


class AlreadyExists(EmulatorError):
    """The topic or subscription to create already exists (gRPC ALREADY_EXISTS)."""


class InvalidArgument(EmulatorError):
    """A malformed name or an out-of-range field (gRPC INVALID_ARGUMENT)."""


class Unimplemented(EmulatorError):
    """A real Pub/Sub feature this emulator does not provide (gRPC UNIMPLEMENTED)."""


class StorageFailed(EmulatorError):
    """The data directory could not be written; the emulator must be restarted (gRPC INTERNAL)."""
