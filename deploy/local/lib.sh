# shellcheck shell=bash
# Shared helpers for the local real-infrastructure scripts (deploy/local/*.sh).
#
# Source it:   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Environment recognised:
#   CA_STATE_DIR   state dir (pidfiles, data, logs); default $REPO_ROOT/.local-stack
#   CA_CACHE_DIR   download cache; default ${XDG_CACHE_HOME:-$HOME/.cache}/customer-agent
#   CA_QUIET=1     silence info messages (warnings/errors still printed)
#   CA_STOP_TIMEOUT seconds stop_background waits after the first signal (default 20)
#
# Everything here is safe to source more than once.

if [[ -n "${_CA_LIB_SOURCED:-}" ]]; then
    return 0
fi
_CA_LIB_SOURCED=1

CA_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="${REPO_ROOT:-$(cd "$CA_LIB_DIR/../.." && pwd)}"
export REPO_ROOT

# ---------------------------------------------------------------- logging ---

_ca_ts() { date +%H:%M:%S; }
_ca_tag() { printf '%s' "${CA_LOG_TAG:-$(basename "${0:-infra}" .sh)}"; }

log_info() {
    [[ "${CA_QUIET:-0}" == 1 ]] && return 0
    printf '%s [%s] %s\n' "$(_ca_ts)" "$(_ca_tag)" "$*" >&2
}
# log_verbose: info only when CA_VERBOSE=1 (the component scripts set it for
# their explicit "install" command)
log_verbose() { [[ "${CA_VERBOSE:-0}" == 1 ]] && log_info "$@"; return 0; }
log_ok()   { printf '%s [%s] OK: %s\n' "$(_ca_ts)" "$(_ca_tag)" "$*" >&2; }
log_warn() { printf '%s [%s] WARNING: %s\n' "$(_ca_ts)" "$(_ca_tag)" "$*" >&2; }
log_error() { printf '%s [%s] ERROR: %s\n' "$(_ca_ts)" "$(_ca_tag)" "$*" >&2; }
die() { log_error "$*"; exit 1; }

# ------------------------------------------------------------ directories ---

# ca_state_dir [SUB]: prints (and creates) the state dir or a sub dir of it.
# The state dir gets its own ".gitignore" ("*") so it never shows up in git,
# wherever it lives.
ca_state_dir() {
    local d="${CA_STATE_DIR:-$REPO_ROOT/.local-stack}"
    if [[ ! -d "$d" ]]; then
        mkdir -p "$d"
    fi
    [[ -f "$d/.gitignore" ]] || printf '*\n' >"$d/.gitignore"
    if [[ -n "${1:-}" ]]; then
        d="$d/$1"
        mkdir -p "$d"
    fi
    printf '%s\n' "$d"
}

# ca_cache_dir [SUB]: prints (and creates) the download cache dir or a sub dir.
ca_cache_dir() {
    local d="${CA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/customer-agent}"
    [[ -n "${1:-}" ]] && d="$d/$1"
    mkdir -p "$d"
    printf '%s\n' "$d"
}

ca_run_dir() { ca_state_dir run; }

# ------------------------------------------------------------------ ports ---

# port_in_use PORT: true if something LISTENs on TCP PORT (any address).
port_in_use() {
    local port="$1"
    [[ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]]
}

# port_pids PORT: pids of the processes listening on TCP PORT (one per line).
# Needs root to see other users' processes.
port_pids() {
    local port="$1"
    ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -un
}

# port_owner PORT: human readable description of who listens on PORT.
port_owner() {
    local port="$1" out pid desc=""
    out="$(ss -Hltnp "sport = :$port" 2>/dev/null || true)"
    for pid in $(port_pids "$port"); do
        desc+="pid $pid ($(ps -o user=,args= -p "$pid" 2>/dev/null | cut -c1-160 || echo '?')); "
    done
    if [[ -z "$desc" ]]; then
        desc="unknown process (ss: $(printf '%s' "$out" | tr -s ' ' | head -c 200))"
    fi
    printf '%s\n' "${desc%; }"
}

# wait_for_port PORT [TIMEOUT_SECONDS=60] [HOST=127.0.0.1]: wait until a TCP
# connect to HOST:PORT succeeds.
wait_for_port() {
    local port="$1" timeout="${2:-60}" host="${3:-127.0.0.1}"
    local deadline=$((SECONDS + timeout))
    while ((SECONDS < deadline)); do
        if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.25
    done
    return 1
}

# wait_until TIMEOUT CMD...: poll CMD every 0.5s until it succeeds.
wait_until() {
    local timeout="$1"
    shift
    local deadline=$((SECONDS + timeout))
    while ((SECONDS < deadline)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.5
    done
    return 1
}

# Background processes: lib_processes.sh.
# shellcheck source-path=SCRIPTDIR source=lib_processes.sh
. "$CA_LIB_DIR/lib_processes.sh"

# ------------------------------------------------------ component scripts ---

# component_main ARGS...: the command line of a component script (kafka.sh, opensearch.sh, postgres.sh,
# redis.sh), which defines NAME and cmd_install/up/down/status/logs; CA_EXTRA_COMMANDS lists its other
# commands (each a cmd_<command> function, dashes as underscores) and CA_EXTRA_USAGE their usage.
component_main() {
    local cmd="${1:-}"
    shift || true
    case "$cmd" in
        install | up | start | down | stop) ca_lock "$NAME" ;; # the others lock only when they have work
    esac
    case "$cmd" in
        install) CA_VERBOSE=1 cmd_install ;;
        up | start) cmd_up ;;
        down | stop) cmd_down ;;
        status) cmd_status ;;
        logs) cmd_logs "$@" ;;
        *)
            if [[ -n "$cmd" && " ${CA_EXTRA_COMMANDS:-} " == *" $cmd "* ]]; then
                "cmd_${cmd//-/_}" "$@"
                return
            fi
            echo "usage: $0 {install|up|down|status|logs [LINES]${CA_EXTRA_USAGE:-}}" >&2
            exit 2
            ;;
    esac
}

# ------------------------------------------------------------- integrity ---

# sha256_verify FILE EXPECTED_HEX: fails (with a message) if FILE's sha256
# differs from EXPECTED_HEX.
sha256_verify() {
    local file="$1" expected="$2" actual
    [[ -f "$file" ]] || { log_error "sha256_verify: $file does not exist"; return 1; }
    actual="$(sha256sum "$file" | cut -d' ' -f1)"
    if [[ "${actual,,}" != "${expected,,}" ]]; then
        log_error "checksum mismatch for $file: expected $expected, got $actual"
        return 1
    fi
}

# sha256_verify_manifest DIR MANIFEST: every file listed in MANIFEST
# (sha256sum format, relative names) must exist in DIR with that digest, and
# DIR must contain no other *.jar.
sha256_verify_manifest() {
    local dir="$1" manifest="$2" out
    [[ -f "$manifest" ]] || { log_error "manifest $manifest missing"; return 1; }
    if ! out="$(cd "$dir" && sha256sum --quiet --strict -c "$manifest" 2>&1)"; then
        log_error "checksum verification failed in $dir against $manifest:"
        printf '%s\n' "$out" | head -n 20 >&2
        return 1
    fi
    local extra
    extra="$(comm -23 <(cd "$dir" && ls -1 -- *.jar 2>/dev/null | sort) \
        <(awk '{ sub(/^\*/, "", $2); print $2 }' "$manifest" | sort))"
    if [[ -n "$extra" ]]; then
        log_error "unexpected jars in $dir (not in $manifest): $(echo "$extra" | tr '\n' ' ')"
        return 1
    fi
}

# ------------------------------------------------------------------- misc ---

# need_cmd CMD [HINT]
need_cmd() {
    command -v "$1" >/dev/null 2>&1 || die "'$1' not found${2:+ ($2)}"
}

# as_root CMD...: run CMD as root (directly, or through sudo).
as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root for: $* (no sudo available)"
    fi
}

_CA_APT_UPDATED=0
# apt_install PKG...: install Debian packages that are missing (quietly; runs
# apt-get update first, once per process, only when something must be
# installed).
apt_install() {
    local missing=() p
    for p in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$p")
        fi
    done
    ((${#missing[@]} == 0)) && return 0
    need_cmd apt-get "Debian/Ubuntu only"
    log_info "installing Debian packages: ${missing[*]} (apt-get)"
    local lock_opt=(-o DPkg::Lock::Timeout=300)
    if [[ "$_CA_APT_UPDATED" != 1 ]]; then
        as_root apt-get "${lock_opt[@]}" update -qq >/dev/null 2>&1 || die "apt-get update failed"
        _CA_APT_UPDATED=1
    fi
    # policy-rc.d: keep the packages' own init scripts from starting services
    # (we run our own instances); only when we can write it and none exists.
    local prc=/usr/sbin/policy-rc.d made_prc=0
    if [[ $EUID -eq 0 && ! -e $prc ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$prc" && chmod 755 "$prc" && made_prc=1
    fi
    local rc=0 out
    out="$(mktemp)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get "${lock_opt[@]}" install -y -qq \
        --no-install-recommends "${missing[@]}" >"$out" 2>&1 || rc=$?
    if [[ $made_prc == 1 ]]; then rm -f "$prc"; fi
    if ((rc != 0)); then
        tail -n 30 "$out" >&2
        rm -f "$out"
        die "apt-get install ${missing[*]} failed (exit $rc)"
    fi
    rm -f "$out"
}

# java_home: prints a Java 17+ home (JAVA_HOME if set, else from `java`).
java_home() {
    if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
        printf '%s\n' "$JAVA_HOME"
        return 0
    fi
    if [[ -x /usr/lib/jvm/java-17-openjdk-amd64/bin/java ]]; then
        printf '%s\n' /usr/lib/jvm/java-17-openjdk-amd64
        return 0
    fi
    local j
    j="$(command -v java)" || die "no java found (install openjdk-17-jre-headless or set JAVA_HOME)"
    j="$(readlink -f "$j")"
    printf '%s\n' "${j%/bin/java}"
}

# can_traverse USER DIR: true if USER can reach (x on every ancestor) DIR.
can_traverse() {
    local user="$1" dir="$2"
    if [[ $EUID -eq 0 ]]; then
        runuser -u "$user" -- test -x "$dir" 2>/dev/null
    else
        [[ "$(id -un)" == "$user" ]] && test -x "$dir"
    fi
}

# as_user_argv USER: sets the array CA_AS_USER to a command prefix that runs a
# command as USER (empty when we already are USER). Uses setpriv, which execs
# the command directly: unlike runuser/su there is no parent process that
# SIGKILLs the command 2s after a SIGTERM (that would break clean shutdowns).
# shellcheck disable=SC2034 # CA_AS_USER is read by the callers
as_user_argv() {
    local user="$1"
    CA_AS_USER=()
    if [[ "$(id -un)" == "$user" ]]; then
        return 0
    fi
    [[ $EUID -eq 0 ]] || die "need root to run commands as $user"
    if command -v setpriv >/dev/null 2>&1; then
        CA_AS_USER=(setpriv "--reuid=$user" "--regid=$(id -gn "$user")" --init-groups --)
    else
        CA_AS_USER=(runuser -u "$user" --)
    fi
}

# svc_base NAME USER: a directory for service NAME that USER can reach:
# $(ca_state_dir)/NAME when USER can traverse the state dir, else
# /var/lib/customer-agent/NAME-<hash of state dir> (then
# $(ca_state_dir)/NAME is a symlink to it).
svc_base() {
    local name="$1" user="$2" state link fallback
    state="$(ca_state_dir)"
    link="$state/$name"
    if [[ -L "$link" ]]; then
        readlink -f "$link"
        return 0
    fi
    if [[ -d "$link" ]] || [[ $EUID -ne 0 ]] || [[ "$user" == root ]] || can_traverse "$user" "$state"; then
        mkdir -p "$link"
        printf '%s\n' "$link"
        return 0
    fi
    fallback="/var/lib/customer-agent/$name-$(printf '%s' "$state" | sha256sum | cut -c1-12)"
    mkdir -p "$fallback"
    ln -sfn "$fallback" "$link"
    log_info "user $user cannot reach $state; $name files live in $fallback"
    printf '%s\n' "$fallback"
}

# tail_log FILE [LINES=200]: print the end of FILE (follow if CA_FOLLOW=1).
tail_log() {
    local f="$1" n="${2:-200}"
    [[ -f "$f" ]] || die "no log file $f (never started?)"
    if [[ "${CA_FOLLOW:-0}" == 1 ]]; then
        exec tail -n "$n" -F "$f"
    fi
    tail -n "$n" "$f"
}

# elapsed_since START_SECONDS: "12s"
elapsed_since() { printf '%ss\n' "$((SECONDS - $1))"; }
