#!/usr/bin/env bash
# Local real infrastructure for customer-agent: PostgreSQL, Redis, Kafka,
# OpenSearch -- no Docker, everything on 127.0.0.1.
#
# usage: deploy/local/infra.sh up|down|status|env|logs [COMPONENT] [LINES]
#   up      install what is missing (apt / Maven Central, cached) and start all
#           four; idempotent: what already runs is left as it is
#   down    stop what we started (a PostgreSQL/Redis we did not start is left alone)
#   status  one line per component; exit 0 only if all four answer
#   env     print `export ...` lines for the services (eval "$(infra.sh env)")
#   reset   down, then delete all local data (topics, indices, databases, keys)
#   logs    tail the logs of one component (postgres|redis|kafka|opensearch) or all
#
# Environment: KAFKA_PORT KAFKA_CONTROLLER_PORT OPENSEARCH_PORT
#   OPENSEARCH_TRANSPORT_PORT POSTGRES_PORT REDIS_PORT CA_STATE_DIR CA_CACHE_DIR
#   (see the component scripts for more)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"
CA_LOG_TAG=infra

COMPONENTS=(postgres redis kafka opensearch)

component_script() {
    case "$1" in
        postgres | redis | kafka | opensearch) printf '%s/%s.sh\n' "$HERE" "$1" ;;
        *) die "unknown component '$1' (expected one of: ${COMPONENTS[*]})" ;;
    esac
}

print_env() {
    cat <<EOF
export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:${KAFKA_PORT:-9092}
export DATABASE_URL=postgresql://customer_agent:customer_agent@127.0.0.1:${POSTGRES_PORT:-5432}/customer_agent
export REDIS_URL=redis://127.0.0.1:${REDIS_PORT:-6379}/0
export OPENSEARCH_URL=http://127.0.0.1:${OPENSEARCH_PORT:-9200}
EOF
}

# service_packages: every service's [tool.customer-agent] debian-packages (conversation's bilingual
# dictionaries), space-separated; read with a python3 that has tomllib (Debian 12's own), as no
# virtualenv may exist yet.
service_packages() {
    local python
    for python in /usr/bin/python3 python3; do
        if "$python" -c 'import tomllib' 2>/dev/null; then
            "$python" "$REPO_ROOT/deploy/k8s/system_packages.py"
            return
        fi
    done
    log_error "reading the services' Debian packages needs python3 >= 3.11 (tomllib)"
    return 1
}

ensure_tools() {
    local pkgs=() declared names=()
    command -v java >/dev/null 2>&1 || [[ -x /usr/lib/jvm/java-17-openjdk-amd64/bin/java ]] || pkgs+=(openjdk-17-jre-headless)
    command -v mvn >/dev/null 2>&1 || pkgs+=(maven)
    command -v curl >/dev/null 2>&1 || pkgs+=(curl)
    command -v unzip >/dev/null 2>&1 || pkgs+=(unzip)
    command -v ss >/dev/null 2>&1 || pkgs+=(iproute2)
    command -v ps >/dev/null 2>&1 || pkgs+=(procps)
    command -v setsid >/dev/null 2>&1 || pkgs+=(util-linux)
    command -v kcat >/dev/null 2>&1 || pkgs+=(kcat) # used by the tests
    command -v promtool >/dev/null 2>&1 || pkgs+=(prometheus) # promtool: deploy/k8s tests of the alert rules
    # the components' own packages, so that apt runs (and updates) only once
    command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 || pkgs+=(redis-server redis-tools)
    if [[ -z "${POSTGRES_BIN_DIR:-}" ]] && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null ||
        ! command -v psql >/dev/null 2>&1; then
        pkgs+=(postgresql postgresql-client)
    fi
    # what the services read at run time; apt_install leaves out what dpkg lists as installed
    declared="$(service_packages)" || die "cannot read the Debian packages of services/*/pyproject.toml"
    read -ra names <<<"$declared"
    pkgs+=("${names[@]}")
    if ((${#pkgs[@]})); then
        apt_install "${pkgs[@]}"
    fi
}

cmd_up() {
    local t0=$SECONDS
    log_info "state dir $(ca_state_dir), cache dir $(ca_cache_dir)"
    # 1. everything that installs, serially (apt and Maven must not race)
    ensure_tools
    bash "$HERE/postgres.sh" install
    bash "$HERE/redis.sh" install
    bash "$HERE/kafka.sh" install
    bash "$HERE/opensearch.sh" install
    # 2. the JVMs boot in parallel while PostgreSQL and Redis come up
    local kpid opid rc=0 failed=()
    bash "$HERE/kafka.sh" up &
    kpid=$!
    bash "$HERE/opensearch.sh" up &
    opid=$!
    bash "$HERE/postgres.sh" up || failed+=(postgres)
    bash "$HERE/redis.sh" up || failed+=(redis)
    wait "$kpid" || failed+=(kafka)
    wait "$opid" || failed+=(opensearch)
    if ((${#failed[@]})); then
        log_error "failed to start: ${failed[*]} (see messages above; '$0 logs <component>')"
        rc=1
    fi
    echo
    cmd_status || true
    echo
    echo "# environment for the services (also: eval \"\$($0 env)\"):"
    print_env
    if ((rc == 0)); then
        log_ok "local infrastructure up in $(elapsed_since "$t0")"
    fi
    return "$rc"
}

cmd_down() {
    local kpid opid rc=0
    bash "$HERE/kafka.sh" down &
    kpid=$!
    bash "$HERE/opensearch.sh" down &
    opid=$!
    bash "$HERE/redis.sh" down || rc=1
    bash "$HERE/postgres.sh" down || rc=1
    wait "$kpid" || rc=1
    wait "$opid" || rc=1
    return "$rc"
}

cmd_reset() {
    cmd_down
    local state c d
    state="$(ca_state_dir)"
    for c in "${COMPONENTS[@]}"; do
        d="$state/$c"
        if [[ -L "$d" ]]; then
            rm -rf -- "$(readlink -f "$d")"
            rm -f -- "$d"
        else
            rm -rf -- "$d"
        fi
    done
    log_ok "deleted local data in $state (downloads in $(ca_cache_dir) kept)"
}

cmd_status() {
    local c rc=0
    for c in "${COMPONENTS[@]}"; do
        bash "$(component_script "$c")" status || rc=1
    done
    return "$rc"
}

cmd_logs() {
    local c="${1:-}" n="${2:-}"
    if [[ -n "$c" && "$c" != all ]]; then
        bash "$(component_script "$c")" logs ${n:+"$n"}
        return
    fi
    for c in "${COMPONENTS[@]}"; do
        echo "===== $c"
        bash "$(component_script "$c")" logs "${n:-20}" 2>&1 || true
    done
}

main() {
    local cmd="${1:-}"
    shift || true
    case "$cmd" in
        up | start) cmd_up ;;
        down | stop) cmd_down ;;
        status) cmd_status ;;
        env) print_env ;;
        reset) cmd_reset ;;
        logs) cmd_logs "$@" ;;
        *)
            echo "usage: $0 {up|down|status|env|reset|logs [postgres|redis|kafka|opensearch] [LINES]}" >&2
            exit 2
            ;;
    esac
}

main "$@"
