#!/usr/bin/env bash
# Local PostgreSQL for development, from Debian's packages.
#
# usage: deploy/local/postgres.sh {install|up|down|status|logs}
#
# Policy: if a PostgreSQL server already answers on 127.0.0.1:$POSTGRES_PORT
# it is left alone (never started or stopped by us); we only make sure the
# role/database below exist when we are allowed to (local superuser through
# the "postgres" OS user). Otherwise we run our own cluster: data dir in the
# state dir, run as the "postgres" OS user, so `down` stops only what we
# started.
#
# Role customer_agent / password customer_agent (superuser, dev only),
# database customer_agent:
#   postgresql://customer_agent:customer_agent@127.0.0.1:5432/customer_agent
#
# Environment:
#   POSTGRES_PORT      TCP port on 127.0.0.1 (default 5432)
#   POSTGRES_BIN_DIR   server binaries (default: newest /usr/lib/postgresql/*/bin)
#   POSTGRES_MAX_CONNECTIONS  (default 200)
#   CA_STATE_DIR, CA_CACHE_DIR  see lib.sh
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
CA_LOG_TAG=postgres

POSTGRES_PORT="${POSTGRES_PORT:-5432}"
POSTGRES_MAX_CONNECTIONS="${POSTGRES_MAX_CONNECTIONS:-200}"
DB_USER=customer_agent
DB_PASSWORD=customer_agent
DB_NAME=customer_agent
NAME=postgres
DB_URL="postgresql://$DB_USER:$DB_PASSWORD@127.0.0.1:$POSTGRES_PORT/$DB_NAME"

run_user() { if [[ $EUID -eq 0 ]]; then echo postgres; else id -un; fi; }

pg_bin() {
    if [[ -n "${POSTGRES_BIN_DIR:-}" ]]; then
        [[ -x "$POSTGRES_BIN_DIR/initdb" ]] || die "POSTGRES_BIN_DIR=$POSTGRES_BIN_DIR has no initdb"
        printf '%s\n' "$POSTGRES_BIN_DIR"
        return 0
    fi
    local d
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
    [[ -n "$d" && -x "$d/initdb" ]] || return 1
    printf '%s\n' "$d"
}

pg_base() { svc_base postgres "$(run_user)"; }

cmd_install() {
    if ! pg_bin >/dev/null || ! command -v psql >/dev/null 2>&1; then
        apt_install postgresql postgresql-client
        pg_bin >/dev/null || die "PostgreSQL server binaries not found after install"
    fi
    log_verbose "PostgreSQL binaries: $(pg_bin) ($("$(pg_bin)/postgres" --version))"
}

# ---------------------------------------------------------------- probing ---

# 0 = a PostgreSQL server answers on the port (accepting or rejecting)
pg_answers() {
    local rc=0
    "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$POSTGRES_PORT" -t 3 || rc=$?
    [[ $rc -eq 0 || $rc -eq 1 ]]
}

pg_accepting() { "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$POSTGRES_PORT" -t 3; }

url_works() {
    PGCONNECT_TIMEOUT=5 "$(pg_bin)/psql" "$DB_URL" -XAtqc 'select 1' >/dev/null 2>&1
}

# psql as a superuser over a unix socket of our own cluster
our_psql() {
    local base
    base="$(pg_base)"
    as_user_argv "$(run_user)"
    (cd / && "${CA_AS_USER[@]}" "$(pg_bin)/psql" -X -q -v ON_ERROR_STOP=1 -h "$base/run" -p "$POSTGRES_PORT" -U postgres -d postgres "$@")
}

ensure_role_and_db() {
    # $@: how to run psql as a superuser (a function/command prefix)
    local role_sql db_exists
    role_sql="DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') THEN
    CREATE ROLE $DB_USER LOGIN SUPERUSER PASSWORD '$DB_PASSWORD';
  ELSE
    ALTER ROLE $DB_USER LOGIN SUPERUSER PASSWORD '$DB_PASSWORD';
  END IF;
END \$\$;"
    "$@" -c "$role_sql" >/dev/null || return 1
    db_exists="$("$@" -Atc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" || return 1
    if [[ "$db_exists" != 1 ]]; then
        "$@" -c "CREATE DATABASE $DB_NAME OWNER $DB_USER" >/dev/null || return 1
        log_info "created database $DB_NAME"
    fi
}

# -------------------------------------------------------------- lifecycle ---

init_cluster() {
    local base bin user
    base="$(pg_base)"
    bin="$(pg_bin)"
    user="$(run_user)"
    [[ -f "$base/data/PG_VERSION" ]] && return 0
    log_info "initdb in $base/data"
    rm -rf "$base/data"
    mkdir -p "$base/data" "$base/run" "$base/logs"
    if [[ $EUID -eq 0 ]]; then chown -R "$user:" "$base/data" "$base/run" "$base/logs"; fi
    chmod 700 "$base/data"
    as_user_argv "$user"
    "${CA_AS_USER[@]}" "$bin/initdb" -D "$base/data" -U postgres --encoding=UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >"$base/logs/initdb.log" 2>&1 ||
        { cat "$base/logs/initdb.log" >&2; die "initdb failed"; }
}

start_ours() {
    local base bin user
    base="$(pg_base)"
    bin="$(pg_bin)"
    user="$(run_user)"
    mkdir -p "$base/run" "$base/logs"
    if [[ $EUID -eq 0 ]]; then chown "$user:" "$base/run" "$base/logs"; fi
    rm -f "$base/data/postmaster.pid" 2>/dev/null || true # stale (we know it is not running)
    as_user_argv "$user"
    start_background "$NAME" "$base/logs/postgres.log" \
        "${CA_AS_USER[@]}" "$bin/postgres" -D "$base/data" \
        -c listen_addresses=127.0.0.1 -c "port=$POSTGRES_PORT" \
        -c "unix_socket_directories=$base/run" \
        -c "max_connections=$POSTGRES_MAX_CONNECTIONS" \
        -c shared_buffers=128MB \
        -c password_encryption=scram-sha-256 \
        -c log_line_prefix='%m [%p] %q%u@%d ' \
        -c log_min_messages=warning
    if ! wait_until 60 pg_accepting; then
        log_error "PostgreSQL did not start; last log lines:"
        tail -n 30 "$base/logs/postgres.log" >&2 || true
        stop_background "$NAME" INT || true
        die "PostgreSQL failed to start"
    fi
}

cmd_up() {
    local t0=$SECONDS
    cmd_install
    if is_running "$NAME"; then
        wait_until 60 pg_accepting || die "our PostgreSQL (pid $(pid_of "$NAME" || echo '?')) does not accept connections; see $(pg_base)/logs/postgres.log"
        ensure_role_and_db our_psql || die "could not create role/database"
        log_info "already running (pid $(pid_of "$NAME")) at 127.0.0.1:$POSTGRES_PORT"
        return 0
    fi
    if port_in_use "$POSTGRES_PORT"; then
        if pg_answers; then
            log_info "a PostgreSQL server not started by us listens on 127.0.0.1:$POSTGRES_PORT ($(port_owner "$POSTGRES_PORT")); leaving it alone"
            if url_works; then
                log_ok "$DB_URL works"
                return 0
            fi
            if [[ $EUID -eq 0 ]] && id postgres >/dev/null 2>&1; then
                log_info "creating role/database $DB_USER on it through the local postgres superuser"
                if ensure_role_and_db runuser -u postgres -- "$(pg_bin)/psql" -X -q -v ON_ERROR_STOP=1 -p "$POSTGRES_PORT" -d postgres 2>/dev/null &&
                    url_works; then
                    log_ok "$DB_URL works"
                    return 0
                fi
            fi
            die "PostgreSQL on port $POSTGRES_PORT is not ours and $DB_URL does not work. Create the role and database there:
    CREATE ROLE $DB_USER LOGIN SUPERUSER PASSWORD '$DB_PASSWORD'; CREATE DATABASE $DB_NAME OWNER $DB_USER;
  (and allow password auth from 127.0.0.1 in pg_hba.conf), or stop it, or set POSTGRES_PORT."
        fi
        die "port $POSTGRES_PORT (PostgreSQL) is taken by a foreign process that is not PostgreSQL: $(port_owner "$POSTGRES_PORT"). Stop it or set POSTGRES_PORT."
    fi
    init_cluster
    start_ours
    ensure_role_and_db our_psql || die "could not create role/database"
    url_works || die "started PostgreSQL, but $DB_URL does not work; see $(pg_base)/logs/postgres.log"
    log_ok "PostgreSQL ready at $DB_URL in $(elapsed_since "$t0")"
}

cmd_down() {
    if is_running "$NAME"; then
        # SIGINT = "fast" shutdown: does not wait for clients to disconnect
        stop_background "$NAME" INT
    else
        stop_background "$NAME" >/dev/null 2>&1 || true
        if pg_answers 2>/dev/null; then
            log_info "not started by us; leaving the PostgreSQL on port $POSTGRES_PORT alone"
        else
            log_info "not running"
        fi
    fi
}

cmd_status() {
    local pid
    if pid="$(pid_of "$NAME")"; then
        if pg_accepting; then
            printf 'postgres    running  pid %-7s %s\n' "$pid" "$DB_URL"
        else
            printf 'postgres    starting pid %-7s %s  (not accepting connections)\n' "$pid" "$DB_URL"
            return 1
        fi
    elif pg_answers 2>/dev/null; then
        printf 'postgres    external %-11s %s  (not started by us; %s)\n' "-" "$DB_URL" \
            "$(url_works && echo 'URL works' || echo 'URL does NOT work')"
    else
        printf 'postgres    stopped  %-11s %s\n' "-" "$DB_URL"
        return 3
    fi
}

cmd_logs() { tail_log "$(pg_base)/logs/postgres.log" "${1:-200}"; }

component_main "$@"
