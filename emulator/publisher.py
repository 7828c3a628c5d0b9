"""The google.pubsub.v1.Publisher service."""

import grpc

from emulator import wire
from emulator.rpc import paginate, unary, unimplemented
from emulator.state import Broker

SERVICE = "google.pubsub.v1.Publisher"


class PublisherService:
    def __init__(self, broker: Broker) -> None:
        self._broker = broker

    @unary
    def create_topic(self, request, context):
        return wire.topic_pb(self._broker.create_topic(wire.topic_config(request)))

    @unary
    def get_topic(self, request, context):
        return wire.topic_pb(self._broker.get_topic(request.topic))

    @unary
    def list_topics(self, request, context):
        topics = self._broker.list_topics(request.project)
        page, token = paginate(topics, lambda t: t.name, request.page_size, request.page_token)
        return wire.ListTopicsResponse(
            topics=[wire.topic_pb(t) for t in page], next_page_token=token
        )

    @unary
    def list_topic_subscriptions(self, request, context):
        subs = self._broker.topic_subscriptions(request.topic)
        page, token = paginate(subs, str, request.page_size, request.page_token)
        return wire.ListTopicSubscriptionsResponse(subscriptions=page, next_page_token=token)

    @unary
    def delete_topic(self, request, context):
        self._broker.delete_topic(request.topic)
        return wire.Empty()

    @unary
    def publish(self, request, context):
        stored = self._broker.publish(request.topic, wire.outgoing(request.messages))
        return wire.PublishResponse(message_ids=[m.message_id for m in stored])


def handler(broker: Broker) -> grpc.GenericRpcHandler:
    service = PublisherService(broker)

    def rpc(method, request_type, response_type):
        return grpc.unary_unary_rpc_method_handler(
            method,
            request_deserializer=request_type.FromString,
            response_serializer=response_type.SerializeToString,
        )

    methods = {
        "CreateTopic": rpc(service.create_topic, wire.Topic, wire.Topic),
        "GetTopic": rpc(service.get_topic, wire.GetTopicRequest, wire.Topic),
        "ListTopics": rpc(service.list_topics, wire.ListTopicsRequest, wire.ListTopicsResponse),
        "ListTopicSubscriptions": rpc(
            service.list_topic_subscriptions,
            wire.ListTopicSubscriptionsRequest,
            wire.ListTopicSubscriptionsResponse,
        ),
        "DeleteTopic": rpc(service.delete_topic, wire.DeleteTopicRequest, wire.Empty),
        "Publish": rpc(service.publish, wire.PublishRequest, wire.PublishResponse),
    }
    for name in ("UpdateTopic", "ListTopicSnapshots", "DetachSubscription"):
        methods[name] = grpc.unary_unary_rpc_method_handler(unimplemented(f"{SERVICE}/{name}"))
    return grpc.method_handlers_generic_handler(SERVICE, methods)
