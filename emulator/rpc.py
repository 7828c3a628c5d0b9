"""gRPC plumbing shared by the publisher and subscriber services."""

import functools
import logging
from typing import Callable, Iterator, Sequence, TypeVar

import grpc

from emulator.errors import (
    AlreadyExists,
    EmulatorError,
    InvalidArgument,
    NotFound,
    StorageFailed,
    Unimplemented,
)

_LOG = logging.getLogger(__name__)

_CODES: dict[type[EmulatorError], grpc.StatusCode] = {
    NotFound: grpc.StatusCode.NOT_FOUND,
    AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    Unimplemented: grpc.StatusCode.UNIMPLEMENTED,
    StorageFailed: grpc.StatusCode.INTERNAL,
}

T = TypeVar("T")


def status_code(error: EmulatorError) -> grpc.StatusCode:
    return _CODES.get(type(error), grpc.StatusCode.FAILED_PRECONDITION)


def unary(method: Callable) -> Callable:
    """Turn EmulatorError raised by a unary handler into the matching gRPC status."""

    @functools.wraps(method)
    def handler(self, request, context: grpc.ServicerContext):
        try:
            return method(self, request, context)
        except EmulatorError as e:
            _LOG.debug("%s refused: %s", method.__name__, e)
            context.abort(status_code(e), str(e))

    return handler


def streaming(method: Callable) -> Callable:
    """The same for handlers that yield responses."""

    @functools.wraps(method)
    def handler(self, requests, context: grpc.ServicerContext) -> Iterator:
        try:
            yield from method(self, requests, context)
        except EmulatorError as e:
            _LOG.debug("%s refused: %s", method.__name__, e)
            context.abort(status_code(e), str(e))

    return handler


def unimplemented(full_name: str) -> Callable:
    """A handler for an RPC of the real API that this emulator leaves out."""

    def handler(request, context: grpc.ServicerContext):
        context.abort(
            grpc.StatusCode.UNIMPLEMENTED,
            f"{full_name} is not supported by this Pub/Sub emulator",
        )

    return handler


def paginate(
    items: Sequence[T], key: Callable[[T], str], page_size: int, page_token: str
) -> tuple[list[T], str]:
    """One page of items sorted by key; the token is the last key of the previous page."""
    if page_size < 0:
        raise InvalidArgument(f"page_size must not be negative, got {page_size}")
    rest = [item for item in items if key(item) > page_token] if page_token else list(items)
    if not page_size or len(rest) <= page_size:
        return rest, ""
    page = rest[:page_size]
    return page, key(page[-1])
