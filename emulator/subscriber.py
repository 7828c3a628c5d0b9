"""The google.pubsub.v1.Subscriber service: admin, Pull, StreamingPull, acks and Seek."""

import logging
import threading
import time
from typing import Iterator

import grpc

from emulator import wire
from emulator.errors import EmulatorError, InvalidArgument, Unimplemented
from emulator.rpc import paginate, streaming, unary, unimplemented
from emulator.state import MAX_ACK_DEADLINE_S, MIN_ACK_DEADLINE_S, Broker

SERVICE = "google.pubsub.v1.Subscriber"
_LOG = logging.getLogger(__name__)

# A pull that finds nothing waits this long for a message before answering empty. Real
# Pub/Sub long-polls for a while too; short keeps shutdown and cancelled pipelines snappy.
DEFAULT_PULL_WAIT_S = 1.0
# How often an idle stream re-checks that its client is still there; closing streams and
# new messages wake it sooner.
_STREAM_TICK_S = 1.0
# One streaming response carries at most this much, like the real service's batches.
_RESPONSE_MAX_MESSAGES = 1000
_RESPONSE_MAX_BYTES = 10 * 1024 * 1024


class SubscriberService:
    def __init__(self, broker: Broker, pull_wait_s: float = DEFAULT_PULL_WAIT_S) -> None:
        self._broker = broker
        self._pull_wait_s = pull_wait_s

    @unary
    def create_subscription(self, request, context):
        config = self._broker.create_subscription(wire.subscription_config(request))
        return wire.subscription_pb(config)

    @unary
    def get_subscription(self, request, context):
        return wire.subscription_pb(self._broker.get_subscription(request.subscription))

    @unary
    def list_subscriptions(self, request, context):
        subs = self._broker.list_subscriptions(request.project)
        page, token = paginate(subs, lambda s: s.name, request.page_size, request.page_token)
        return wire.ListSubscriptionsResponse(
            subscriptions=[wire.subscription_pb(s) for s in page], next_page_token=token
        )

    @unary
    def delete_subscription(self, request, context):
        self._broker.delete_subscription(request.subscription)
        return wire.Empty()

    @unary
    def pull(self, request, context):
        name = request.subscription
        wait_s = self._pull_wait_s
        remaining = context.time_remaining()
        if remaining is not None:
            # Answer (empty) comfortably before the client's own deadline fires.
            wait_s = max(0.0, min(wait_s, remaining - 0.2))
        give_up = time.monotonic() + wait_s
        while True:
            version = self._broker.version(name)
            got = self._broker.pull(name, request.max_messages)
            left = give_up - time.monotonic()
            if (
                got
                or request.return_immediately
                or left <= 0
                or self._broker.closed
                or not context.is_active()
            ):
                break
            self._broker.wait(name, version, left)
        report = self._broker.get_subscription(name).dead_letter_policy is not None
        return wire.PullResponse(received_messages=[wire.received_pb(d, report) for d in got])

    @unary
    def acknowledge(self, request, context):
        self._broker.acknowledge(request.subscription, request.ack_ids)
        return wire.Empty()

    @unary
    def modify_ack_deadline(self, request, context):
        self._broker.modify_ack_deadline(
            request.subscription, request.ack_ids, request.ack_deadline_seconds
        )
        return wire.Empty()

    @unary
    def seek(self, request, context):
        target = request.WhichOneof("target")
        if target == "snapshot":
            raise Unimplemented(
                "Seek to a snapshot is not supported by this Pub/Sub emulator; seek to a time "
                "on a subscription with retain_acked_messages=true instead"
            )
        if target != "time":
            raise InvalidArgument("Seek needs a target: set either time or snapshot")
        self._broker.seek_to_time(request.subscription, wire.timestamp_us(request.time))
        return wire.SeekResponse()

    @streaming
    def streaming_pull(self, requests, context) -> Iterator:
        try:
            first = next(requests)
        except StopIteration:
            return
        stream = _Stream(self._broker, first, context)
        yield from stream.run(requests)


class _Stream:
    """One StreamingPull call: leases messages within the client's flow-control limits."""

    def __init__(self, broker: Broker, first, context: grpc.ServicerContext) -> None:
        if not first.subscription:
            raise InvalidArgument("The first StreamingPullRequest must name the subscription")
        self._broker = broker
        self._context = context
        self._name = first.subscription
        self._config = broker.get_subscription(self._name)
        self._deadline_s = _stream_deadline(first.stream_ack_deadline_seconds)
        self._max_messages = first.max_outstanding_messages
        self._max_bytes = first.max_outstanding_bytes
        self._outstanding: dict[str, int] = {}  # ack_id -> size, only this stream's
        self._closed = threading.Event()
        self._error: EmulatorError | None = None
        self._apply(first)
        context.add_callback(self._close)

    def run(self, requests) -> Iterator:
        reader = threading.Thread(
            target=self._read, args=(requests,), name="streaming-pull-reader", daemon=True
        )
        reader.start()
        properties = wire.StreamingPullResponse.SubscriptionProperties(
            message_ordering_enabled=self._config.enable_message_ordering
        )
        report = self._config.dead_letter_policy is not None
        while not self._closed.is_set() and not self._broker.closed:
            version = self._broker.version(self._name)
            got = self._pull()
            if got:
                yield wire.StreamingPullResponse(
                    received_messages=[wire.received_pb(d, report) for d in got],
                    subscription_properties=properties,
                )
                continue
            self._broker.wait(self._name, version, _STREAM_TICK_S)
        if self._error is not None:
            raise self._error

    def _pull(self):
        live = self._broker.leased(self._name, self._outstanding)
        self._outstanding = {a: s for a, s in self._outstanding.items() if a in live}
        count = _RESPONSE_MAX_MESSAGES
        if self._max_messages > 0:
            count = min(count, self._max_messages - len(self._outstanding))
        budget = _RESPONSE_MAX_BYTES
        if self._max_bytes > 0:
            budget = min(budget, self._max_bytes - sum(self._outstanding.values()))
        if count <= 0 or budget <= 0:
            return []
        got = self._broker.pull(self._name, count, self._deadline_s, budget)
        for d in got:
            self._outstanding[d.ack_id] = d.message.size
        return got

    def _read(self, requests) -> None:
        try:
            for request in requests:
                self._apply(request)
        except EmulatorError as e:
            self._error = e
        except Exception as e:  # the client went away mid-read: grpc raises its own errors
            _LOG.debug("streaming pull on %s ended: %r", self._name, e)
        finally:
            self._close()

    def _apply(self, request) -> None:
        if request.stream_ack_deadline_seconds:
            self._deadline_s = _stream_deadline(request.stream_ack_deadline_seconds)
        if request.ack_ids:
            self._broker.acknowledge(self._name, request.ack_ids)
        if len(request.modify_deadline_ack_ids) != len(request.modify_deadline_seconds):
            raise InvalidArgument(
                "modify_deadline_ack_ids and modify_deadline_seconds must have the same length"
            )
        by_seconds: dict[int, list[str]] = {}
        for ack_id, seconds in zip(request.modify_deadline_ack_ids, request.modify_deadline_seconds):
            by_seconds.setdefault(seconds, []).append(ack_id)
        for seconds, ack_ids in by_seconds.items():
            self._broker.modify_ack_deadline(self._name, ack_ids, seconds)

    def _close(self) -> None:
        self._closed.set()
        self._broker.wake(self._name)


def _stream_deadline(seconds: int) -> int:
    if not MIN_ACK_DEADLINE_S <= seconds <= MAX_ACK_DEADLINE_S:
        raise InvalidArgument(
            f"stream_ack_deadline_seconds must be between {MIN_ACK_DEADLINE_S} and "
            f"{MAX_ACK_DEADLINE_S}, got {seconds}"
        )
    return seconds


def handler(broker: Broker, pull_wait_s: float = DEFAULT_PULL_WAIT_S) -> grpc.GenericRpcHandler:
    service = SubscriberService(broker, pull_wait_s)

    def rpc(method, request_type, response_type):
        return grpc.unary_unary_rpc_method_handler(
            method,
            request_deserializer=request_type.FromString,
            response_serializer=response_type.SerializeToString,
        )

    methods = {
        "CreateSubscription": rpc(service.create_subscription, wire.Subscription, wire.Subscription),
        "GetSubscription": rpc(
            service.get_subscription, wire.GetSubscriptionRequest, wire.Subscription
        ),
        "ListSubscriptions": rpc(
            service.list_subscriptions,
            wire.ListSubscriptionsRequest,
            wire.ListSubscriptionsResponse,
        ),
        "DeleteSubscription": rpc(
            service.delete_subscription, wire.DeleteSubscriptionRequest, wire.Empty
        ),
        "Pull": rpc(service.pull, wire.PullRequest, wire.PullResponse),
        "Acknowledge": rpc(service.acknowledge, wire.AcknowledgeRequest, wire.Empty),
        "ModifyAckDeadline": rpc(
            service.modify_ack_deadline, wire.ModifyAckDeadlineRequest, wire.Empty
        ),
        "Seek": rpc(service.seek, wire.SeekRequest, wire.SeekResponse),
        "StreamingPull": grpc.stream_stream_rpc_method_handler(
            service.streaming_pull,
            request_deserializer=wire.StreamingPullRequest.FromString,
            response_serializer=wire.StreamingPullResponse.SerializeToString,
        ),
    }
    for name in (
        "UpdateSubscription",
        "ModifyPushConfig",
        "GetSnapshot",
        "ListSnapshots",
        "CreateSnapshot",
        "UpdateSnapshot",
        "DeleteSnapshot",
    ):
        methods[name] = grpc.unary_unary_rpc_method_handler(unimplemented(f"{SERVICE}/{name}"))
    return grpc.method_handlers_generic_handler(SERVICE, methods)
