#!/usr/bin/env bash
# Start/stop the six Customer Agent services as local processes.
#
#   deploy/local/services.sh up|down|status|logs [SERVICE]
#
# Each service runs from the uv workspace's virtualenv, logs JSON to
# $(ca_state_dir)/logs/<service>.log and serves /metrics, /healthz, /readyz.
# Environment variables set by the caller (KAFKA_BOOTSTRAP_SERVERS,
# DATABASE_URL, ROUTING_*, ...) reach the services unchanged.
# Each service connects to Kafka's SCRAM listener as its own user (deploy/local/kafka.sh
# client-env), so the ACLs of deploy/k8s/base/kafka/acls.tsv apply to it as on Kubernetes;
# a caller that sets KAFKA_SECURITY_PROTOCOL, or a KAFKA_BOOTSTRAP_SERVERS other than the
# local plaintext listener, keeps its own choice.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CA_LOG_TAG=services

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV_BIN="${CA_VENV_BIN:-$REPO_ROOT/.venv/bin}"
# A well-known operator token for local use only; production sets its own secret.
export ADMIN_BOOTSTRAP_TOKEN="${ADMIN_BOOTSTRAP_TOKEN:-dev-bootstrap-token}"
# The account 'demo' (a short answer, a live chat) to try the console and webchat; print-urls.sh issues a key.
export ADMIN_DEMO_ACCOUNT="${ADMIN_DEMO_ACCOUNT:-true}"
# Local demos and tests crawl sites served on loopback.
export INGESTION_ALLOWED_PRIVATE_NETWORKS="${INGESTION_ALLOWED_PRIVATE_NETWORKS-127.0.0.0/8}"

# Services off the reply path (metering, the admin REST API, crawling and parsing) run at this
# lower CPU priority, so that on a machine whose cores they share with the rest of the stack a
# visitor's message does not wait behind a crawl or a metering batch (0: same priority as the
# rest). It only matters when the cores are busy; on Kubernetes, CPU requests play this part.
BACKGROUND_SERVICE_NICE="${CA_BACKGROUND_SERVICE_NICE:-10}"

# name:command:port-variable:default-port:path (reply = a visitor waits on it, background = not)
SERVICES=(
  "admin-api:admin-api:ADMIN_HTTP_PORT:8000:background"
  "ingestion:ingestion-service:INGESTION_HTTP_PORT:8001:background"
  "conversation:conversation-service:CONVERSATION_HTTP_PORT:8002:reply"
  "routing:routing-service:ROUTING_HTTP_PORT:8003:reply"
  "billing:billing-service:BILLING_HTTP_PORT:8004:background"
  "webchat:webchat-service:WEBCHAT_HTTP_PORT:8005:reply"
)

service_port() {
  local var="$1" default="$2"
  printf '%s' "${!var:-$default}"
}

service_ready() {
  curl -fsS -o /dev/null "http://127.0.0.1:$1/readyz"
}

# ready_or_exited NAME PORT: true once the service is ready, or once it has exited (a service that cannot
# start, e.g. while its database is down, is reported at once instead of after the whole timeout).
ready_or_exited() {
  service_ready "$2" || ! is_running "service-$1"
}

# kafka_scram: true when the services should connect as their own SCRAM users (see above).
kafka_scram() {
  [[ -z "${KAFKA_SECURITY_PROTOCOL:-}" ]] \
    && [[ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" || "$KAFKA_BOOTSTRAP_SERVERS" == "127.0.0.1:${KAFKA_PORT:-9092}" ]]
}

# export_kafka_user NAME: export the variables that connect service NAME as its SCRAM user (exported
# rather than passed on the command line, which start_background logs).
export_kafka_user() {
  local lines line
  lines="$(bash "$CA_LIB_DIR/kafka.sh" client-env "$1")" || die "no Kafka user for $1: bash deploy/local/kafka.sh up"
  while IFS= read -r line; do
    export "${line?}"
  done <<<"$lines"
}

selected() {
  local wanted="${1:-}" name="$2"
  [[ -z "$wanted" || "$wanted" == "$name" ]]
}

cmd_up() {
  local wanted="${1:-}" entry name command port_var default path port niceness scram=0 started=()
  # Checked here, not at the top, so a bad value never stops 'down', 'status' or 'logs'.
  [[ "$BACKGROUND_SERVICE_NICE" =~ ^[0-9]+$ ]] && ((BACKGROUND_SERVICE_NICE <= 19)) \
    || die "CA_BACKGROUND_SERVICE_NICE must be 0..19, not '$BACKGROUND_SERVICE_NICE'"
  if kafka_scram; then
    scram=1
    bash "$CA_LIB_DIR/kafka.sh" access || die "could not bring Kafka's users and ACLs up to date"
  fi
  for entry in "${SERVICES[@]}"; do
    IFS=: read -r name command port_var default path <<<"$entry"
    selected "$wanted" "$name" || continue
    port="$(service_port "$port_var" "$default")"
    if is_running "service-$name"; then
      log_info "$name already running (pid $(pid_of "service-$name"))"
      continue
    fi
    if port_in_use "$port"; then
      die "port $port for $name is taken by $(port_owner "$port"); stop it or set $port_var"
    fi
    [[ -x "$VENV_BIN/$command" ]] || die "$VENV_BIN/$command not found; run 'make install' first"
    mkdir -p "$(ca_state_dir logs)"
    niceness=0
    [[ "$path" == background ]] && niceness="$BACKGROUND_SERVICE_NICE"
    # nice(1) execs the service, so the recorded pid is still the service's own.
    (
      ((scram == 0)) || export_kafka_user "$name"
      start_background "service-$name" "$(ca_state_dir logs)/$name.log" \
        nice -n "$niceness" env PYTHONUNBUFFERED=1 "$VENV_BIN/$command" serve
    ) || exit 1
    started+=("$name:$port")
  done
  for entry in "${started[@]}"; do
    name="${entry%%:*}"; port="${entry##*:}"
    if ! wait_until "${CA_SERVICE_START_TIMEOUT:-90}" ready_or_exited "$name" "$port" || ! service_ready "$port"; then
      log_error "$name did not become ready on :$port; last log lines:"
      tail -n 30 "$(ca_state_dir logs)/$name.log" >&2 || true
      exit 1
    fi
    log_ok "$name ready on http://127.0.0.1:$port"
  done
}

cmd_down() {
  local wanted="${1:-}" entry name command port_var default
  for entry in "${SERVICES[@]}"; do
    IFS=: read -r name command port_var default _ <<<"$entry"
    selected "$wanted" "$name" || continue
    if is_running "service-$name"; then
      stop_background "service-$name"
      log_ok "$name stopped"
    fi
  done
}

cmd_status() {
  local entry name command port_var default port state
  for entry in "${SERVICES[@]}"; do
    IFS=: read -r name command port_var default _ <<<"$entry"
    port="$(service_port "$port_var" "$default")"
    if is_running "service-$name"; then
      if curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; then state="ready"; else state="running (not ready)"; fi
      printf '%-13s %-20s pid %-8s nice %-3s http://127.0.0.1:%s\n' "$name" "$state" "$(pid_of "service-$name")" \
        "$(ps -o ni= -p "$(pid_of "service-$name")" 2>/dev/null | tr -d ' ')" "$port"
    else
      printf '%-13s %-20s\n' "$name" "stopped"
    fi
  done
}

cmd_logs() {
  local wanted="${1:-}" entry name command port_var default
  for entry in "${SERVICES[@]}"; do
    IFS=: read -r name command port_var default _ <<<"$entry"
    selected "$wanted" "$name" || continue
    local file; file="$(ca_state_dir logs)/$name.log"
    [[ -f "$file" ]] || continue
    printf '==> %s <==\n' "$file"
    tail -n "${LINES_TO_SHOW:-40}" "$file"
  done
}

case "${1:-}" in
  up) cmd_up "${2:-}" ;;
  down) cmd_down "${2:-}" ;;
  status) cmd_status ;;
  logs) cmd_logs "${2:-}" ;;
  *) echo "usage: $0 up|down|status|logs [admin-api|ingestion|conversation|routing|billing|webchat]" >&2; exit 2 ;;
esac
