#!/usr/bin/env bash
# Local OpenSearch (single node, plain http, no security plugin), no Docker.
#
# usage: deploy/local/opensearch.sh {install|up|down|status|logs}
#
# The minimal distribution org.opensearch.distribution.integ-test-zip:opensearch
# (only the transport-netty4 module) comes from Maven Central; the modules the
# project relies on are assembled from their Maven Central jars:
#   lang-painless    (+ painless spi, antlr4-runtime, asm*)
#   analysis-common  (language analyzers english/danish/dutch/german/french/...,
#                     extends lang-painless, as in the full distribution)
#   mapper-extras    (search_as_you_type, rank_feature(s), scaled_float, token_count)
#   reindex          (_reindex, _update_by_query, _delete_by_query)
# and the k-NN plugin (knn_vector fields, k-NN queries) from its Maven Central
# zip, unzipped under plugins/opensearch-knn. It has jars only: its faiss and
# nmslib engines would need native libraries that are not there; the lucene
# engine (HNSW in Lucene, the one the project uses) is pure Java. A knn_vector
# mapping without "engine": "lucene" gets faiss, and the first refresh of such
# a vector ends the node with an UnsatisfiedLinkError.
# Every downloaded file is pinned by sha256 below.
#
# OpenSearch refuses to run as root: when run as root the node runs as the
# system user "opensearch" (created if missing), started through setpriv
# (runuser would SIGKILL the node 2s after a SIGTERM, cutting its shutdown).
#
# Environment:
#   OPENSEARCH_PORT            http port on 127.0.0.1 (default 9200)
#   OPENSEARCH_TRANSPORT_PORT  transport port on 127.0.0.1 (default 9300)
#   OPENSEARCH_JAVA_OPTS       JVM options (default "-Xms512m -Xmx512m")
#   OPENSEARCH_START_TIMEOUT   seconds to wait for health yellow (default 180)
#   OPENSEARCH_USER            user to run as when root (default opensearch)
#   CA_STATE_DIR, CA_CACHE_DIR  see lib.sh
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
CA_LOG_TAG=opensearch

# A plugin loads only into the exact OpenSearch version it was built for, and
# the only 2.x k-NN plugin on Maven Central is 2.19.1.0 (then 3.5.0.0): so the
# engine is 2.19.1, not the newest 2.19 patch.
OS_VERSION=2.19.1
KNN_VERSION="$OS_VERSION.0"
ANTLR_VERSION=4.13.1
ASM_VERSION=9.7
HTTPCLIENT_VERSION=4.5.14
HTTPCORE_VERSION=4.4.16
HTTPASYNC_VERSION=4.1.5
CODEC_VERSION=1.16.1 # what opensearch-rest-client 2.19.1 depends on
CLOGGING_VERSION=1.2

OPENSEARCH_PORT="${OPENSEARCH_PORT:-9200}"
OPENSEARCH_TRANSPORT_PORT="${OPENSEARCH_TRANSPORT_PORT:-9300}"
OPENSEARCH_JAVA_OPTS="${OPENSEARCH_JAVA_OPTS:--Xms512m -Xmx512m}"
OPENSEARCH_START_TIMEOUT="${OPENSEARCH_START_TIMEOUT:-180}"
OPENSEARCH_USER="${OPENSEARCH_USER:-opensearch}"
NAME=opensearch
URL="http://127.0.0.1:$OPENSEARCH_PORT"

# module|groupId:artifactId:version[:type] -- the zip has module "-", a
# plugin zip "@<plugin name>" (unzipped as it is under plugins/<plugin name>)
ARTIFACTS=(
    "-|org.opensearch.distribution.integ-test-zip:opensearch:$OS_VERSION:zip"
    "lang-painless|org.opensearch.plugin:lang-painless:$OS_VERSION"
    "lang-painless|org.opensearch.plugin:opensearch-scripting-painless-spi:$OS_VERSION"
    "lang-painless|org.antlr:antlr4-runtime:$ANTLR_VERSION"
    "lang-painless|org.ow2.asm:asm:$ASM_VERSION"
    "lang-painless|org.ow2.asm:asm-analysis:$ASM_VERSION"
    "lang-painless|org.ow2.asm:asm-commons:$ASM_VERSION"
    "lang-painless|org.ow2.asm:asm-tree:$ASM_VERSION"
    "lang-painless|org.ow2.asm:asm-util:$ASM_VERSION"
    "analysis-common|org.opensearch.plugin:analysis-common:$OS_VERSION"
    "mapper-extras|org.opensearch.plugin:mapper-extras-client:$OS_VERSION"
    "reindex|org.opensearch.plugin:reindex-client:$OS_VERSION"
    "reindex|org.opensearch.client:opensearch-rest-client:$OS_VERSION"
    "reindex|org.opensearch:opensearch-ssl-config:$OS_VERSION"
    "reindex|org.apache.httpcomponents:httpclient:$HTTPCLIENT_VERSION"
    "reindex|org.apache.httpcomponents:httpcore:$HTTPCORE_VERSION"
    "reindex|org.apache.httpcomponents:httpasyncclient:$HTTPASYNC_VERSION"
    "reindex|org.apache.httpcomponents:httpcore-nio:$HTTPCORE_VERSION"
    "reindex|commons-codec:commons-codec:$CODEC_VERSION"
    "reindex|commons-logging:commons-logging:$CLOGGING_VERSION"
    "@opensearch-knn|org.opensearch.plugin:opensearch-knn:$KNN_VERSION:zip"
)

# sha256 of every downloaded file (file names as Maven copies them)
read -r -d '' PINNED_SHA256 <<'EOF' || true
13fdc1071af42946b13153a62491a5e9b0ad214d44f7c8153d3afef60f558821  analysis-common-2.19.1.jar
54665d2838cc66458343468efc539e454fc95b46a8a04b13c6ac43fc9be63505  antlr4-runtime-4.13.1.jar
adf46d5e34940bdf148ecdd26a9ee8eea94496a72034ff7141066b3eea5c4e9d  asm-9.7.jar
7bc6bcbc21379948a0c8c467fb0f864206e5b818f6bc0b546872f5c9f941556f  asm-analysis-9.7.jar
389bc247958e049fc9a0408d398c92c6d370c18035120395d4cba1d9d9304b7a  asm-commons-9.7.jar
62f4b3bc436045c1acb5c3ba2d8ec556ec3369093d7f5d06c747eb04b56d52b1  asm-tree-9.7.jar
37a6414d36641973f1af104937c95d6d921b2ddb4d612c66c5a9f2b13fc14211  asm-util-9.7.jar
ec87bfb55f22cbd1b21e2190eeda28b2b312ed2a431ee49fbdcc01812d04a5e4  commons-codec-1.16.1.jar
daddea1ea0be0f56978ab3006b8ac92834afeefbd9b7e4e6316fca57df0fa636  commons-logging-1.2.jar
0c1877489a9d1ba4fa50f6cfcab11d1123618858cb31d56afaab5afdd5064d99  httpasyncclient-4.1.5.jar
c8bc7e1c51a6d4ce72f40d2ebbabf1c4b68bfe76e732104b04381b493478e9d6  httpclient-4.5.14.jar
6c9b3dd142a09dc468e23ad39aad6f75a0f2b85125104469f026e52a474e464f  httpcore-4.4.16.jar
4018736ede2d321034e8517ea90baefb31831a8608afccc446d8a699fb1d00d4  httpcore-nio-4.4.16.jar
3cf5e02efa40ff5b88e74e1ab66a0bc462de3509fab4a6a4ffe90b8d13777a9a  lang-painless-2.19.1.jar
93e85f305ddc3070fea5b83cc8d962bdcd30df20638352b02cf57276cc2bc5d5  mapper-extras-client-2.19.1.jar
af7152d8b7f6f1cee09d47276b32b70479fe6dd8cdbb61213f84eb7f8098b261  opensearch-2.19.1.zip
eab8c9818865bc035212eab5068cdacae164baa09d4c152f49b736d6f6b0e85c  opensearch-knn-2.19.1.0.zip
6ab691dc6cb2c12802bb9024df3379bd1779a2b626d3bd7b27ed5f974cbc1708  opensearch-rest-client-2.19.1.jar
c2598797a5f6f897ce7e8d05f593ff96de3fbc56c52f299d63cddcae41556dda  opensearch-scripting-painless-spi-2.19.1.jar
30fe6a20a08004044be90abdf0e711313b7dfe2e5c7b12ac32498ae8e1cae927  opensearch-ssl-config-2.19.1.jar
eb2056ee54ac367f8820d5c13fa5cea2d10bb492b01f4d1a15a6dce163bf82ce  reindex-client-2.19.1.jar
EOF

# module descriptors: name|classname|extended.plugins|description
MODULES=(
    "lang-painless|org.opensearch.painless.PainlessPlugin||An easy, safe and fast scripting language for OpenSearch"
    "analysis-common|org.opensearch.analysis.common.CommonAnalysisPlugin|lang-painless|Adds \"built in\" analyzers to OpenSearch."
    "mapper-extras|org.opensearch.index.mapper.MapperExtrasPlugin||Adds advanced field mappers"
    "reindex|org.opensearch.index.reindex.ReindexPlugin||The Reindex module adds APIs to reindex from one index to another or update documents in place."
)

# ------------------------------------------------------------------ paths ---

dl_dir() { ca_cache_dir "opensearch-$OS_VERSION/artifacts"; }

run_as_user() {
    if [[ $EUID -eq 0 ]]; then printf '%s\n' "$OPENSEARCH_USER"; else id -un; fi
}

# Base dir for the assembled distribution, config, data and logs (see svc_base).
os_base() { svc_base opensearch "$(run_as_user)"; }

os_home() { printf '%s/dist/opensearch-%s\n' "$(os_base)" "$OS_VERSION"; }

# ---------------------------------------------------------------- install ---
# shellcheck source-path=SCRIPTDIR source=opensearch_install.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/opensearch_install.sh"

# ----------------------------------------------------------------- config ---

# Version of OpenSearch that last ran on the data dir: the file .data-version
# next to it (written on every 'up'); for data from before that file, the
# newest distribution assembled here (the dist dirs are named by version).
data_version() {
    local base d v=""
    base="$(os_base)"
    [[ -d "$base/data/nodes" ]] || return 0
    if [[ -s "$base/.data-version" ]]; then
        cat "$base/.data-version"
        return 0
    fi
    for d in "$base"/dist/opensearch-*/; do
        [[ -d "$d" ]] || continue
        d="${d%/}"
        v="$(printf '%s\n%s\n' "$v" "${d##*/opensearch-}" | sort -V | tail -n1)"
    done
    printf '%s\n' "$v"
}

# OpenSearch refuses data written by a newer version ("cannot downgrade a node
# from version [2.19.6] to version [2.19.1]"), and OS_VERSION went down from
# 2.19.6 to 2.19.1 for the k-NN plugin: such a data dir is moved aside (not
# deleted), so 'up' starts on an empty one instead of failing.
set_aside_newer_data() {
    local base v aside
    base="$(os_base)"
    v="$(data_version)"
    [[ -n "$v" && "$v" != "$OS_VERSION" ]] || return 0
    [[ "$(printf '%s\n%s\n' "$v" "$OS_VERSION" | sort -V | tail -n1)" == "$v" ]] || return 0
    aside="$base/data-$v-$(date +%Y%m%d%H%M%S)"
    mv "$base/data" "$aside"
    log_warn "the OpenSearch data in $base/data was written by OpenSearch $v, which $OS_VERSION cannot read; moved it to $aside and starting with no indices (ingestion creates its index again, but the chunks of sources synced before are gone: sync them again, or run 'deploy/local/infra.sh reset' for a consistent empty stack)"
}

write_config() {
    local base user d
    base="$(os_base)"
    user="$(run_as_user)"
    mkdir -p "$base/config" "$base/data" "$base/logs" "$base/tmp"
    d="$(os_home)/config"
    cp "$d/jvm.options" "$d/log4j2.properties" "$base/config/"
    mkdir -p "$base/config/jvm.options.d"
    cat >"$base/config/opensearch.yml" <<EOF
# generated by deploy/local/opensearch.sh -- edits are overwritten on every 'up'
cluster.name: customer-agent-local
node.name: local-1
path.data: $base/data
path.logs: $base/logs
network.host: 127.0.0.1
http.port: $OPENSEARCH_PORT
transport.port: $OPENSEARCH_TRANSPORT_PORT
discovery.type: single-node
bootstrap.memory_lock: false
bootstrap.system_call_filter: false
# a developer disk that is 90% full must not turn indices read-only
cluster.routing.allocation.disk.threshold_enabled: false
EOF
    # GC log and heap dumps go to the logs dir (not the cwd)
    cat >"$base/config/jvm.options.d/local.options" <<EOF
-XX:HeapDumpPath=$base/logs
-XX:ErrorFile=$base/logs/hs_err_pid%p.log
-Xlog:gc*,gc+age=trace,safepoint:file=$base/logs/gc.log:utctime,pid,tags:filecount=4,filesize=16m
EOF
    # the stock GC log / heap dump / error file settings use paths relative to the cwd
    sed -i -e '/^9-:-Xlog:gc/d' -e '/^-XX:HeapDumpPath=/d' -e '/^-XX:ErrorFile=/d' "$base/config/jvm.options"
    if [[ $EUID -eq 0 ]]; then
        chown -R "$user:" "$base/config" "$base/data" "$base/logs" "$base/tmp"
    fi
}

# -------------------------------------------------------------- lifecycle ---

healthy() {
    curl -fsS -m 3 "$URL/_cluster/health?wait_for_status=yellow&timeout=1s" 2>/dev/null |
        grep -Eq '"status":"(yellow|green)"'
}

is_our_node() {
    curl -fsS -m 3 "$URL/" 2>/dev/null | grep -q '"cluster_name" *: *"customer-agent-local"'
}

check_ports_free() {
    local p
    for p in "$OPENSEARCH_PORT" "$OPENSEARCH_TRANSPORT_PORT"; do
        if port_in_use "$p"; then
            die "port $p (OpenSearch) is taken by a foreign process: $(port_owner "$p"). Stop it or set OPENSEARCH_PORT / OPENSEARCH_TRANSPORT_PORT."
        fi
    done
}

wait_ready() {
    local deadline=$((SECONDS + OPENSEARCH_START_TIMEOUT)) logf
    logf="$(os_base)/logs/customer-agent-local.log"
    while ((SECONDS < deadline)); do
        if healthy; then
            return 0
        fi
        if ! is_running "$NAME"; then
            log_error "OpenSearch exited during startup; last log lines:"
            tail -n 40 "$(os_base)/logs/opensearch.out" >&2 2>/dev/null || true
            return 1
        fi
        sleep 1
    done
    log_error "OpenSearch not healthy after ${OPENSEARCH_START_TIMEOUT}s; see $logf"
    return 1
}

cmd_up() {
    local t0=$SECONDS base user jh
    cmd_install
    if is_running "$NAME"; then
        if healthy; then
            log_info "already running (pid $(pid_of "$NAME" || echo '?')) at $URL"
            return 0
        fi
        log_info "running but not healthy yet; waiting"
        wait_ready || die "OpenSearch is not healthy; try: $0 down && $0 up"
        log_ok "OpenSearch ready at $URL"
        return 0
    fi
    check_ports_free
    set_aside_newer_data
    write_config
    printf '%s\n' "$OS_VERSION" >"$(os_base)/.data-version"
    base="$(os_base)"
    user="$(run_as_user)"
    jh="$(java_home)"
    local -a argv=(env -C "$base"
        "OPENSEARCH_JAVA_HOME=$jh"
        "OPENSEARCH_PATH_CONF=$base/config"
        "OPENSEARCH_TMPDIR=$base/tmp"
        "OPENSEARCH_JAVA_OPTS=$OPENSEARCH_JAVA_OPTS"
        "$(os_home)/bin/opensearch")
    as_user_argv "$user"
    argv=("${CA_AS_USER[@]}" "${argv[@]}")
    start_background "$NAME" "$base/logs/opensearch.out" "${argv[@]}"
    if ! wait_ready; then
        stop_background "$NAME" || true
        die "OpenSearch failed to start"
    fi
    log_ok "OpenSearch $OS_VERSION ready at $URL in $(elapsed_since "$t0")"
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
    local pid st
    if pid="$(pid_of "$NAME")"; then
        st="$(curl -fsS -m 3 "$URL/_cluster/health" 2>/dev/null | grep -o '"status":"[a-z]*"' | cut -d'"' -f4 || true)"
        if [[ "$st" == green || "$st" == yellow ]]; then
            printf 'opensearch  running  pid %-7s %s  (OPENSEARCH_URL=%s, health %s, v%s)\n' "$pid" "$URL" "$URL" "$st" "$OS_VERSION"
        else
            printf 'opensearch  starting pid %-7s %s  (not healthy yet)\n' "$pid" "$URL"
            return 1
        fi
    else
        printf 'opensearch  stopped  %-11s %s\n' "-" "$URL"
        return 3
    fi
}

cmd_logs() { tail_log "$(os_base)/logs/customer-agent-local.log" "${1:-200}"; }

component_main "$@"
