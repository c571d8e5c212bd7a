"""A consumer process for the redelivery test: dies (like kill -9) before committing, once."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from customer_agent_shared.messaging.broker import SUBSCRIBER_DEFAULTS, create_kafka_broker
from customer_agent_shared.messaging.producer import KafkaEventProducer
from customer_agent_shared.messaging.reliable import ReliableConsumerConfig, decode_json_body
from customer_agent_shared.settings import KafkaSecuritySettings
from faststream.kafka import KafkaBroker


async def main(bootstrap: str, topic: str, group: str, log_path: Path, crash: bool) -> None:
    security = KafkaSecuritySettings()  # the test's environment, inherited
    producer = KafkaEventProducer(bootstrap, service="crash-test", security=security)
    broker: KafkaBroker = create_kafka_broker(
        bootstrap,
        service="crash-test",
        reliable=ReliableConsumerConfig("crash-test", producer.send_batch),
        security=security,
    )
    done = asyncio.Event()

    @broker.subscriber(topic, group_id=group, decoder=decode_json_body, **SUBSCRIBER_DEFAULTS)
    async def handle(body: dict[str, object]) -> None:
        with log_path.open("a") as log:
            log.write(f"{body['id']}\n")
        if crash:
            os._exit(9)  # no commit, no cleanup: exactly what kill -9 does mid-handling
        done.set()

    await producer.start()
    await broker.start()
    await asyncio.wait_for(done.wait(), timeout=60)
    await broker.stop()
    await producer.stop()


if __name__ == "__main__":
    bootstrap_servers, topic_name, group_id, log_file, mode = sys.argv[1:6]
    asyncio.run(main(bootstrap_servers, topic_name, group_id, Path(log_file), mode == "crash"))
