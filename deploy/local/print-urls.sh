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
  Kafka SCRAM    127.0.0.1:${KAFKA_SECURE_PORT:-9094}    (SASL_PLAINTEXT, SCRAM-SHA-512, ACLs; a user's variables: bash deploy/local/kafka.sh client-env USER)
  OpenSearch     ${OPENSEARCH_URL:-http://127.0.0.1:9200}
  PostgreSQL     postgresql://customer_agent:customer_agent@127.0.0.1:${POSTGRES_PORT:-5432}/customer_agent
  Redis          redis://127.0.0.1:${REDIS_PORT:-6379}/0
  operator token ${ADMIN_BOOTSTRAP_TOKEN:-dev-bootstrap-token}   (ADMIN_BOOTSTRAP_TOKEN; local default)
  logs           make logs  (files under .local-stack/logs/)
TEXT

# A fresh edit key of the demo account (services.sh turns ADMIN_DEMO_ACCOUNT on); keys are shown only once,
# so each `make up` issues a new one. Nothing is printed when the demo account is off.
admin="http://127.0.0.1:${ADMIN_HTTP_PORT:-8000}"
if key="$(curl -fsS -X POST "$admin/v1/accounts/demo/api-keys" \
    -H "Authorization: Bearer ${ADMIN_BOOTSTRAP_TOKEN:-dev-bootstrap-token}" -H 'Content-Type: application/json' \
    -d '{"permissions": ["customer_agent:edit"]}' 2>/dev/null \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])' 2>/dev/null)"; then
  cat <<TEXT

  Console        $admin/console/   sign in with the demo account's key:
                 $key
  Webchat demo   http://127.0.0.1:${WEBCHAT_HTTP_PORT:-8005}/demo/demo/website   (the demo account's live chat)
TEXT
fi

# The SCRAM users deploy/local/kafka.sh created, with their generated passwords (local only).
kafka_users="${CA_STATE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.local-stack}/kafka/users"
if compgen -G "$kafka_users/*.password" >/dev/null; then
  printf '\n  Kafka users on :%s (passwords in %s):\n' "${KAFKA_SECURE_PORT:-9094}" "$kafka_users"
  for file in "$kafka_users"/*.password; do
    printf '    %-18s %s\n' "$(basename "$file" .password)" "$(cat "$file")"
  done
fi
