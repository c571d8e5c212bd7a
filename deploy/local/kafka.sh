#!/usr/bin/env bash
# Local Apache Kafka (KRaft, single node: broker + controller), no Docker.
#
# usage: deploy/local/kafka.sh {install|up|down|status|logs}
#
# Jars come from Maven Central through `mvn dependency:copy-dependencies`
# (org.apache.kafka:kafka_2.13 + slf4j-reload4j), are copied into
# $CA_CACHE_DIR/kafka-<ver>/libs and verified against the committed manifest
# deploy/local/checksums/kafka-<ver>.sha256.
#
# Listeners: PLAINTEXT on KAFKA_PORT for local development and outside tools (its principal,
# ANONYMOUS, is a super user: local only), and SASL_PLAINTEXT (SCRAM-SHA-512) on KAFKA_SECURE_PORT,
# where every client authenticates and the StandardAuthorizer applies the ACLs of
# deploy/k8s/base/kafka/acls.tsv (generated from customer_agent_shared.kafka_acls): one user per
# service, channel-provider, human-inbox and operator, plus the super user "admin" (topic creation, tests).
# Passwords are generated into $CA_STATE_DIR/kafka/users/<user>.password; users and ACLs are added
# idempotently after every start whose table or passwords changed, and the ACLs the table no longer
# grants its users are removed, so an older state upgrades in place.
#
#        deploy/local/kafka.sh client-env USER   prints the variables a client needs for the
#        secured listener as USER (KAFKA_BOOTSTRAP_SERVERS, KAFKA_SECURITY_PROTOCOL, ...)
#        deploy/local/kafka.sh access            adds the users and ACLs of the table to the running
#        broker if they changed (services.sh runs it before starting services on their users); returns
#        at once when nothing changed, and only warns when Kafka is not up
#
# Environment:
#   KAFKA_PORT              PLAINTEXT listener on 127.0.0.1 (default 9092)
#   KAFKA_SECURE_PORT       SASL_PLAINTEXT (SCRAM-SHA-512) listener on 127.0.0.1 (default 9094)
#   KAFKA_CONTROLLER_PORT   KRaft controller listener on 127.0.0.1 (default 9093)
#   KAFKA_HEAP_OPTS         JVM heap (default "-Xms256m -Xmx512m")
#   KAFKA_START_TIMEOUT     seconds to wait for the broker (default 90)
#   KAFKA_ACCESS_WAIT       seconds 'access' waits for the lock and for the SCRAM listener (default 30)
#   CA_STATE_DIR, CA_CACHE_DIR  see lib.sh
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
CA_LOG_TAG=kafka

KAFKA_VERSION=3.9.2
SCALA_VERSION=2.13
SLF4J_VERSION=1.7.36
RELOAD4J_VERSION=1.2.25 # the version Kafka 3.9 ships in its own tarball

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_SECURE_PORT="${KAFKA_SECURE_PORT:-9094}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
KAFKA_ACCESS_WAIT="${KAFKA_ACCESS_WAIT:-30}"

MANIFEST="$CA_LIB_DIR/checksums/kafka-$KAFKA_VERSION.sha256"
NAME=kafka
CA_EXTRA_COMMANDS="client-env access"
CA_EXTRA_USAGE="|client-env USER|access"
ACL_TABLE="$REPO_ROOT/deploy/k8s/base/kafka/acls.tsv"
SUPER_USER=admin # the local stand-in for the cluster administrator: creates topics, runs the tests
SCRAM=SCRAM-SHA-512

libs_dir() { printf '%s/libs\n' "$(ca_cache_dir "kafka-$KAFKA_VERSION")"; }
kdir() { ca_state_dir kafka; }

# ----------------------------------------------------------------- install ---

fetch_jars() {
    need_cmd mvn "install Maven: apt-get install maven"
    local libs tmp
    libs="$(libs_dir)"
    tmp="$(mktemp -d)"
    # shellcheck disable=SC2064
    trap "rm -rf '$tmp'" RETURN
    cat >"$tmp/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.customer-agent</groupId>
  <artifactId>kafka-fetch</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_$SCALA_VERSION</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>$SLF4J_VERSION</version>
    </dependency>
    <dependency>
      <groupId>ch.qos.reload4j</groupId>
      <artifactId>reload4j</artifactId>
      <version>$RELOAD4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
    log_info "downloading Kafka $KAFKA_VERSION jars with Maven (first run only)..."
    rm -rf "$libs.tmp"
    if ! (cd "$tmp" && mvn -q -B -C -Dstyle.color=never dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$libs.tmp" >"$tmp/mvn.log" 2>&1); then
        cat "$tmp/mvn.log" >&2
        rm -rf "$libs.tmp"
        die "Maven could not fetch Kafka $KAFKA_VERSION"
    fi
    if [[ "${KAFKA_WRITE_MANIFEST:-0}" == 1 ]]; then
        mkdir -p "$(dirname "$MANIFEST")"
        (cd "$libs.tmp" && sha256sum -- *.jar) >"$MANIFEST"
        log_info "wrote $MANIFEST"
    fi
    sha256_verify_manifest "$libs.tmp" "$MANIFEST" || {
        rm -rf "$libs.tmp"
        die "downloaded Kafka jars do not match the pinned checksums"
    }
    rm -rf "$libs"
    mv "$libs.tmp" "$libs"
}

cmd_install() {
    local libs
    libs="$(libs_dir)"
    if [[ -d "$libs" ]] && sha256_verify_manifest "$libs" "$MANIFEST" 2>/dev/null; then
        log_verbose "Kafka $KAFKA_VERSION present in $libs (checksums ok)"
    else
        [[ -d "$libs" ]] && log_warn "cached jars in $libs incomplete or modified; fetching again"
        fetch_jars
        log_ok "Kafka $KAFKA_VERSION installed in $libs"
    fi
    java_home >/dev/null
}

# ------------------------------------------------------------------ config ---

java_bin() { printf '%s/bin/java\n' "$(java_home)"; }

write_config() {
    local d
    d="$(kdir)"
    mkdir -p "$d/data" "$d/logs"
    cat >"$d/server.properties" <<EOF
# generated by deploy/local/kafka.sh -- edits are overwritten on every 'up'
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,SASL_PLAINTEXT://127.0.0.1:$KAFKA_SECURE_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,SASL_PLAINTEXT://127.0.0.1:$KAFKA_SECURE_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
sasl.enabled.mechanisms=$SCRAM
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
# ANONYMOUS is whoever uses the PLAINTEXT or the controller listener: local development only.
super.users=User:ANONYMOUS;User:$SUPER_USER
allow.everyone.if.no.acl.found=false
log.dirs=$d/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=168
log.segment.bytes=104857600
log.retention.check.interval.ms=300000
EOF
    cat >"$d/log4j.properties" <<EOF
# generated by deploy/local/kafka.sh (reload4j)
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$d/logs/server.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=3
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.controller=INFO
log4j.logger.kafka.log.LogCleaner=INFO
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.authorizer.logger=WARN
EOF
    cat >"$d/tools-log4j.properties" <<EOF
# generated by deploy/local/kafka.sh: the command-line tools log warnings only
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
}

# ------------------------------------------------------ users and ACLs ---
# shellcheck source-path=SCRIPTDIR source=kafka_access.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/kafka_access.sh"

jvm_opts() {
    local d
    d="$(kdir)"
    # shellcheck disable=SC2206
    local heap=($KAFKA_HEAP_OPTS)
    printf '%s\n' "${heap[@]}" \
        -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
        -XX:+ExplicitGCInvokesConcurrent -XX:MaxDirectMemorySize=256m \
        -Djava.awt.headless=true \
        "-Dlog4j.configuration=file:$d/log4j.properties" \
        "-Dkafka.logs.dir=$d/logs" \
        -Dcom.sun.management.jmxremote=false
}

format_storage() {
    local d id
    d="$(kdir)"
    if [[ -f "$d/data/meta.properties" ]]; then
        return 0
    fi
    if [[ -f "$d/cluster.id" ]]; then
        id="$(cat "$d/cluster.id")"
    else
        id="$("$(java_bin)" -cp "$(libs_dir)/*" -Dlog4j.configuration="file:$d/log4j.properties" \
            kafka.tools.StorageTool random-uuid 2>>"$d/logs/storage-tool.log" | tail -n1)"
        [[ "$id" =~ ^[A-Za-z0-9_-]{22}$ ]] || die "could not generate a cluster id (got '$id'; see $d/logs/storage-tool.log)"
        printf '%s\n' "$id" >"$d/cluster.id"
    fi
    log_info "formatting KRaft storage (cluster id $id)"
    "$(java_bin)" -cp "$(libs_dir)/*" -Dlog4j.configuration="file:$d/log4j.properties" \
        kafka.tools.StorageTool format --ignore-formatted -t "$id" -c "$d/server.properties" \
        >>"$d/logs/storage-tool.log" 2>&1 || die "kafka storage format failed; see $d/logs/storage-tool.log"
}

# --------------------------------------------------------------- lifecycle ---

check_ports_free() {
    # only called when our broker is not running: any listener is foreign
    local p
    for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" "$KAFKA_SECURE_PORT"; do
        if port_in_use "$p"; then
            die "port $p (Kafka) is taken by a foreign process: $(port_owner "$p"). Stop it or set KAFKA_PORT / KAFKA_CONTROLLER_PORT / KAFKA_SECURE_PORT."
        fi
    done
}

broker_ready() {
    local log
    log="$(kdir)/logs/server.log"
    wait_for_port "$KAFKA_PORT" 1 || return 1
    if command -v kcat >/dev/null 2>&1; then
        kcat -b "127.0.0.1:$KAFKA_PORT" -L -m 3 -J 2>/dev/null | grep -q '"brokers":\[{' && return 0
        return 1
    fi
    grep -q 'Kafka Server started' "$log" 2>/dev/null
}

wait_ready() {
    local deadline=$((SECONDS + KAFKA_START_TIMEOUT)) pid
    while ((SECONDS < deadline)); do
        if broker_ready; then
            return 0
        fi
        if ! is_running "$NAME"; then
            log_error "Kafka exited during startup; last log lines:"
            tail -n 30 "$(kdir)/logs/server.log" >&2 2>/dev/null || true
            tail -n 30 "$(kdir)/logs/kafka.out" >&2 2>/dev/null || true
            return 1
        fi
        sleep 0.5
    done
    pid="$(pid_of "$NAME" || true)"
    log_error "Kafka (pid ${pid:-?}) not ready after ${KAFKA_START_TIMEOUT}s; see $(kdir)/logs/server.log"
    return 1
}

cmd_up() {
    local t0=$SECONDS
    cmd_install
    if is_running "$NAME"; then
        if broker_ready; then
            log_info "already running (pid $(pid_of "$NAME" || echo '?')) at 127.0.0.1:$KAFKA_PORT"
        else
            log_info "running but not ready yet; waiting"
            wait_ready || die "Kafka is not healthy; try: $0 down && $0 up"
            log_ok "Kafka ready at 127.0.0.1:$KAFKA_PORT"
        fi
        if ! wait_for_port "$KAFKA_SECURE_PORT" 1; then
            log_warn "running without the SCRAM listener on :$KAFKA_SECURE_PORT (an older config); restart it to add it, data is kept: $0 down && $0 up"
            return 0
        fi
        ensure_passwords
        apply_access
        return 0
    fi
    check_ports_free
    write_config
    ensure_passwords
    format_storage
    local -a opts
    mapfile -t opts < <(jvm_opts)
    start_background "$NAME" "$(kdir)/logs/kafka.out" \
        "$(java_bin)" "${opts[@]}" -cp "$(libs_dir)/*" kafka.Kafka "$(kdir)/server.properties"
    if ! wait_ready; then
        stop_background "$NAME" || true
        die "Kafka failed to start"
    fi
    apply_access
    log_ok "Kafka $KAFKA_VERSION ready at 127.0.0.1:$KAFKA_PORT, SCRAM on :$KAFKA_SECURE_PORT (controller :$KAFKA_CONTROLLER_PORT) in $(elapsed_since "$t0")"
}

cmd_down() {
    if is_running "$NAME"; then
        stop_background "$NAME" TERM
    else
        stop_background "$NAME" >/dev/null 2>&1 || true
        log_info "not running"
    fi
}

cmd_status() {
    local pid
    if pid="$(pid_of "$NAME")"; then
        if broker_ready; then
            printf 'kafka       running  pid %-7s kafka://127.0.0.1:%s  (KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:%s, v%s; SCRAM on :%s)\n' \
                "$pid" "$KAFKA_PORT" "$KAFKA_PORT" "$KAFKA_VERSION" "$KAFKA_SECURE_PORT"
        else
            printf 'kafka       starting pid %-7s kafka://127.0.0.1:%s  (not answering yet)\n' "$pid" "$KAFKA_PORT"
            return 1
        fi
    else
        printf 'kafka       stopped  %-11s kafka://127.0.0.1:%s\n' "-" "$KAFKA_PORT"
        return 3
    fi
}

cmd_logs() { tail_log "$(kdir)/logs/server.log" "${1:-200}"; }

component_main "$@"
