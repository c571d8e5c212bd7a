"""What the manifests are generated from, read from the code: each service's settings, subscriptions and
whether it uses OpenSearch, and the Kafka topics the local stack creates (see ``generate.py``)."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import re
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic.fields import FieldInfo
from system_packages import debian_packages

REPO = Path(__file__).resolve().parents[2]
PART_OF = "customer-agent"
KAFKA_CLUSTER = "customer-agent"
KAFKA_CA_SECRET = f"{KAFKA_CLUSTER}-cluster-ca-cert"  # Strimzi's cluster CA, copied into the namespace
KAFKA_CA_DIR = "/etc/kafka-cluster-ca"
# Values the cluster needs that differ from the developer-machine defaults in the code.
# Every service authenticates as its KafkaUser over Strimzi's TLS listener, trusting the cluster CA.
SHARED_OVERRIDES = {
    "KAFKA_BOOTSTRAP_SERVERS": "customer-agent-kafka-bootstrap.kafka.svc:9093",
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SSL_CAFILE": f"{KAFKA_CA_DIR}/ca.crt",
}
SERVICE_FIELD_OVERRIDES = {"http_host": "0.0.0.0", "run_migrations_on_start": "false"}
# Shared settings that may carry credentials, so they come from a Secret.
INFRA_SECRET_KEYS = {"DATABASE_URL": "database-url", "REDIS_URL": "redis-url", "OPENSEARCH_URL": "opensearch-url"}
SECRET_NAME = re.compile(r"(token|secret|password|api_key|private_key|credentials)", re.IGNORECASE)
CHANNEL_PARTITIONS_DEFAULT = 6


@dataclass(frozen=True)
class Setting:
    """One environment variable a service reads."""

    env: str
    default: str | None
    secret: bool
    shared: bool
    description: str
    required: bool = False


@dataclass(frozen=True)
class ServiceInfo:
    """Everything the manifests need to know about one service, read from its code."""

    name: str
    directory: str
    distribution: str
    package: str
    script: str
    env_prefix: str
    port: int
    consumer_group: str
    shutdown_grace_seconds: int
    settings: tuple[Setting, ...]
    subscriptions: tuple[str, ...]
    uses_opensearch: bool
    debian_packages: tuple[str, ...]  # what the image installs: [tool.customer-agent] debian-packages

    @property
    def config_name(self) -> str:
        """Name of the service's ConfigMap."""
        return f"{self.name}-config"

    @property
    def secret_name(self) -> str:
        """Name of the Secret holding the service's own credentials."""
        return f"{self.name}-secrets"


def _render(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        return json.dumps(sorted(value) if isinstance(value, (set, frozenset)) else value)
    return str(value)


def _is_secret(name: str, field: FieldInfo) -> bool:
    annotation = field.annotation
    if annotation is SecretStr or SecretStr in getattr(annotation, "__args__", ()):
        return True
    return bool(SECRET_NAME.search(name))


def _env_name(name: str, field: FieldInfo, prefix: str) -> tuple[str, bool]:
    alias = field.validation_alias
    if isinstance(alias, str):
        return alias.upper(), True
    return (prefix + name).upper(), False


def read_settings(settings_cls: type[Any], prefix: str) -> tuple[Setting, ...]:
    """Every field of a settings class as an environment variable with its k8s value."""
    rows: list[Setting] = []
    for name, field in settings_cls.model_fields.items():
        env, shared = _env_name(name, field, prefix)
        secret = env in INFRA_SECRET_KEYS or _is_secret(name, field)
        if name in SERVICE_FIELD_OVERRIDES and not shared:
            default: str | None = SERVICE_FIELD_OVERRIDES[name]
        elif env in SHARED_OVERRIDES:
            default = SHARED_OVERRIDES[env]
        elif field.is_required() or field.get_default() is None:
            default = None
        else:
            default = _render(field.get_default(call_default_factory=True))
        rows.append(Setting(env, default, secret, shared, field.description or "", field.is_required()))
    return tuple(sorted(rows, key=lambda s: s.env))


def _settings_class(package: str) -> type[Any]:
    from customer_agent_shared.settings import ServiceSettings

    module = importlib.import_module(f"{package}.settings")
    found = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, ServiceSettings)
        and obj is not ServiceSettings
        and obj.__module__ == module.__name__
    ]
    if len(found) != 1:
        raise SystemExit(f"{package}.settings must define exactly one ServiceSettings subclass, found {found}")
    return found[0]


def _subscriptions(package: str, settings: Any) -> tuple[str, ...]:
    try:
        bootstrap = importlib.import_module(f"{package}.bootstrap")
        document = json.loads(bootstrap.asyncapi_document(bootstrap.build_service(settings)))
    except Exception as error:
        raise SystemExit(f"cannot read the subscriptions of {package} from its AsyncAPI document: {error!r}") from error
    topics: set[str] = set()
    for operation in document.get("operations", {}).values():
        if operation.get("action") != "receive":
            continue
        channel = operation["channel"]["$ref"].rsplit("/", 1)[-1]
        topics.add(document["channels"][channel]["address"])
    return tuple(sorted(topics))


def _declared_packages(pyproject: Path) -> tuple[str, ...]:
    try:
        return debian_packages(pyproject)
    except ValueError as error:
        raise SystemExit(str(error)) from error


def discover_services() -> list[ServiceInfo]:
    """Read every service of the workspace from its pyproject, settings and bootstrap."""
    services: list[ServiceInfo] = []
    for pyproject in sorted(REPO.glob("services/*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text())["project"]
        scripts = project.get("scripts", {})
        if len(scripts) != 1:
            raise SystemExit(f"{pyproject} must declare exactly one console script")
        script, target = next(iter(scripts.items()))
        package = target.split(".", 1)[0]
        settings_cls = _settings_class(package)
        prefix = settings_cls.model_config.get("env_prefix", "")
        defaults = settings_cls()
        bootstrap_source = (pyproject.parent / "src" / package / "bootstrap.py").read_text()
        services.append(
            ServiceInfo(
                name=defaults.service_name,
                directory=str(pyproject.parent.relative_to(REPO)),
                distribution=project["name"],
                package=package,
                script=script,
                env_prefix=prefix,
                port=settings_cls.model_fields["http_port"].get_default(),
                consumer_group=settings_cls.model_fields["consumer_group"].get_default(),
                shutdown_grace_seconds=settings_cls.model_fields["shutdown_grace_seconds"].get_default(),
                settings=read_settings(settings_cls, prefix),
                subscriptions=_subscriptions(package, defaults),
                uses_opensearch="use_opensearch=True" in bootstrap_source,
                debian_packages=_declared_packages(pyproject),
            )
        )
    return services


# --- Kafka topics -------------------------------------------------------------------------


class _RecordingAdmin:
    """Stands in for aiokafka's admin client: no topics exist, creations are recorded."""

    created: list[Any] = []

    def __init__(self, **_: Any) -> None:
        pass

    async def start(self) -> None:
        """Nothing to connect."""

    async def close(self) -> None:
        """Nothing to close."""

    async def list_topics(self) -> list[str]:
        """An empty cluster."""
        return []

    async def create_topics(self, topics: list[Any]) -> None:
        """Remember what the registry wants created."""
        _RecordingAdmin.created.extend(topics)


@contextmanager
def _recording_admin() -> Iterator[type[_RecordingAdmin]]:
    import aiokafka.admin

    original = aiokafka.admin.AIOKafkaAdminClient
    _RecordingAdmin.created = []
    aiokafka.admin.AIOKafkaAdminClient = _RecordingAdmin  # type: ignore[misc,assignment]
    try:
        yield _RecordingAdmin
    finally:
        aiokafka.admin.AIOKafkaAdminClient = original  # type: ignore[misc]


def _describe(name: str, source: Any) -> str:
    if source is None:
        return ""
    if name == source.name:
        return str(source.description)
    return f"Dead letters of {source.name}: messages that could not be parsed or handled."


def kafka_topics() -> list[dict[str, Any]]:
    """Strimzi KafkaTopic resources for every topic of the registry and its dead-letter topic."""
    from customer_agent_shared.topics import DEAD_LETTER_SUFFIX, TOPICS, ensure_topics

    with _recording_admin() as admin:
        asyncio.run(ensure_topics("unused:9092", CHANNEL_PARTITIONS_DEFAULT))
        created = list(admin.created)
    by_name = {spec.name: spec for spec in TOPICS}
    resources = []
    for topic in created:
        source = by_name.get(topic.name.removesuffix(DEAD_LETTER_SUFFIX))
        labels = {"strimzi.io/cluster": KAFKA_CLUSTER, "app.kubernetes.io/part-of": PART_OF}
        labels["customer-agent/topic-kind"] = "dead-letter" if topic.name.endswith(DEAD_LETTER_SUFFIX) else "main"
        resources.append(
            {
                "apiVersion": "kafka.strimzi.io/v1beta2",
                "kind": "KafkaTopic",
                "metadata": {
                    "name": topic.name,
                    "labels": labels,
                    "annotations": {"customer-agent/description": _describe(topic.name, source)},
                },
                "spec": {
                    "topicName": topic.name,
                    "partitions": topic.num_partitions,
                    "replicas": 3,
                    "config": dict(sorted(topic.topic_configs.items())),
                },
            }
        )
    return resources


# --- per-service resources ----------------------------------------------------------------
