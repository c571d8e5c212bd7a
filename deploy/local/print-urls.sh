#!/usr/bin/env bash
# Print where everything of the local stack answers.
set -euo pipefail
cat <<TEXT

Customer Agent is up:
  admin-api      http://127.0.0.1:${ADMIN_HTTP_PORT:-8000}        (OpenAPI: /docs, /openapi.json)
  ingestion      http://127.0.0.1:${INGESTION_HTTP_PORT:-8001}/readyz
  conversation   http://127.0.0.1:${CONVERSATION_HTTP_PORT:-8002}/readyz
  routing        http://127.0.0.1:${ROUTING_HTTP_PORT:-8003}/readyz
  billing        http://127.0.0.1:${BILLING_HTTP_PORT:-8004}/readyz
  webchat        http://127.0.0.1:${WEBCHAT_HTTP_PORT:-8005}/demo/<account>/<channel>   (widget: /widget.js)
  metrics        /metrics on each service port; AsyncAPI at /asyncapi.json
  Kafka          ${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:9092}    (kcat -b ${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:9092} -L)
  OpenSearch     ${OPENSEARCH_URL:-http://127.0.0.1:9200}
  PostgreSQL     postgresql://customer_agent:customer_agent@127.0.0.1:${POSTGRES_PORT:-5432}/customer_agent
  Redis          redis://127.0.0.1:${REDIS_PORT:-6379}/0
  operator token ${ADMIN_BOOTSTRAP_TOKEN:-dev-bootstrap-token}   (ADMIN_BOOTSTRAP_TOKEN; local default)
  logs           make logs  (files under .local-stack/logs/)
TEXT
