import logging

import pytest
from customer_agent_shared.messaging.broker import create_kafka_broker


def test_the_topic_creation_warning_is_dropped_and_other_warnings_are_kept(caplog: pytest.LogCaptureFixture) -> None:
    create_kafka_broker("127.0.0.1:9", service="logtest")
    create_kafka_broker("127.0.0.1:9", service="logtest")  # a second broker of the service adds no second filter
    kafka_logger = logging.getLogger("logtest.kafka")
    assert len(kafka_logger.filters) == 1
    with caplog.at_level(logging.WARNING, logger="logtest.kafka"):
        kafka_logger.warning("Auto create topics is disabled. Make sure the topics exist.")
        kafka_logger.warning("Topic creation is skipped in consumer-only mode. Make sure the topics exist.")
    assert [record.getMessage() for record in caplog.records] == [
        "Topic creation is skipped in consumer-only mode. Make sure the topics exist."
    ]
