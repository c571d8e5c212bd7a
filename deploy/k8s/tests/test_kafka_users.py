"""The generated Kafka identities: a KafkaUser per service, for channel providers and for the human inbox, and who
reads which Secret."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

K8S = Path(__file__).resolve().parents[1]
BASE = K8S / "base"
Resource = dict[str, Any]


def users() -> dict[str, Resource]:
    documents = yaml.safe_load_all((BASE / "kafka" / "users.yaml").read_text())
    return {doc["metadata"]["name"]: doc for doc in documents if doc}


def service_resources(name: str) -> dict[str, Resource]:
    documents = yaml.safe_load_all((BASE / "services" / f"{name}.yaml").read_text())
    return {doc["kind"]: doc for doc in documents if doc}


def topics(user: Resource, operation: str) -> set[str]:
    return {
        acl["resource"]["name"]
        for acl in user["spec"]["authorization"]["acls"]
        if acl["resource"]["type"] == "topic" and operation in acl["operations"]
    }


def env_file(name: str) -> dict[str, str]:
    lines = (BASE / "config" / f"{name}.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_every_service_and_the_outside_parties_have_a_scram_user(services: list[dict[str, Any]]) -> None:
    found = users()
    assert {s["name"] for s in services} | {"channel-provider", "human-inbox", "operator"} == set(found)
    for user in found.values():
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == "customer-agent"
        assert user["spec"]["authentication"] == {"type": "scram-sha-512"}
        assert user["spec"]["authorization"]["type"] == "simple"


def test_channel_providers_write_inbound_and_read_outbound_and_nothing_else() -> None:
    provider = users()["channel-provider"]
    assert topics(provider, "Write") == {"channels.inbound.v1", "content.events.v1"}
    assert topics(provider, "Read") == {"channels.outbound.v1", "inbox.handoffs.v1"}
    groups = [acl for acl in provider["spec"]["authorization"]["acls"] if acl["resource"]["type"] == "group"]
    assert groups == [
        {"resource": {"type": "group", "name": "channel-provider.", "patternType": "prefix"}, "operations": ["Read"]}
    ]


def test_the_human_inbox_writes_inbox_events_and_reads_handoffs_and_nothing_else() -> None:
    inbox = users()["human-inbox"]
    assert topics(inbox, "Write") == {"inbox.events.v1"}
    assert topics(inbox, "Read") == {"inbox.handoffs.v1"}


def test_a_service_reads_its_subscriptions_in_its_own_groups(services: list[dict[str, Any]]) -> None:
    found = users()
    for service in services:
        user = found[service["name"]]
        assert set(service["subscriptions"]) <= topics(user, "Read")
        assert {f"{topic}.dlq" for topic in service["subscriptions"]} <= topics(user, "Write")
        assert not {"All", "Alter", "Delete", "Create"} & {
            operation for acl in user["spec"]["authorization"]["acls"] for operation in acl["operations"]
        }
        [group] = [acl for acl in user["spec"]["authorization"]["acls"] if acl["resource"]["type"] == "group"]
        assert group["resource"] == {"type": "group", "name": f"{service['name']}.", "patternType": "prefix"}


@pytest.mark.parametrize("name", ["routing", "billing", "admin-api"])
def test_a_deployment_authenticates_as_its_kafka_user(name: str) -> None:
    resources = service_resources(name)
    pod = resources["Deployment"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    [password] = [entry for entry in container["env"] if entry["name"] == "KAFKA_SASL_PASSWORD"]
    assert password["valueFrom"]["secretKeyRef"] == {"name": name, "key": "password", "optional": True}
    assert env_file(name)["KAFKA_SASL_USERNAME"] == name
    shared = env_file("shared")
    assert shared["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert shared["KAFKA_BOOTSTRAP_SERVERS"].endswith(":9093")
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    ca_volume = mounts[shared["KAFKA_SSL_CAFILE"].rsplit("/", 1)[0]]
    [volume] = [v for v in pod["volumes"] if v["name"] == ca_volume]
    assert volume["secret"]["secretName"] == "customer-agent-cluster-ca-cert"


def test_keda_reads_the_lag_as_the_service(services: list[dict[str, Any]]) -> None:
    for service in services:
        resources = service_resources(service["name"])
        if "ScaledObject" not in resources:
            continue
        auth = resources["TriggerAuthentication"]
        kafka = [t for t in resources["ScaledObject"]["spec"]["triggers"] if t["type"] == "kafka"]
        assert {t["authenticationRef"]["name"] for t in kafka} == {auth["metadata"]["name"]}
        assert all(t["metadata"]["sasl"] == "scram_sha512" and t["metadata"]["tls"] == "enable" for t in kafka)
        refs = {ref["parameter"]: ref for ref in auth["spec"]["secretTargetRef"]}
        assert (refs["password"]["name"], refs["password"]["key"]) == (service["name"], "password")
        assert refs["ca"]["name"] == "customer-agent-cluster-ca-cert"


def test_the_local_stack_applies_the_same_table() -> None:
    rows = [line.split("\t") for line in (BASE / "kafka" / "acls.tsv").read_text().splitlines() if line[:1] != "#"]
    from_tsv = {(user, kind, pattern, name, operations) for user, kind, pattern, name, operations in rows}
    from_users = {
        (
            name,
            acl["resource"]["type"],
            acl["resource"]["patternType"],
            acl["resource"]["name"],
            ",".join(acl["operations"]),
        )
        for name, user in users().items()
        for acl in user["spec"]["authorization"]["acls"]
    }
    assert from_tsv == from_users
