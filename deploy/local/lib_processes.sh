# shellcheck shell=bash
# Background processes of the local stack (sourced by lib.sh): start, find, stop, lock.
# ------------------------------------------------------- background procs ---
# Each background process NAME has, in $(ca_state_dir)/run:
#   NAME.pid    pid of the session/process-group leader (== pgid, via setsid)
#   NAME.start  its start time (field 22 of /proc/PID/stat) to detect pid reuse
#   NAME.log    -> path of its log file

_ca_pidfile() { printf '%s/%s.pid\n' "$(ca_run_dir)" "$1"; }

_ca_starttime() {
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    # strip "pid (comm) " – comm may contain spaces – then field 20 is starttime
    stat="${stat##*) }"
    # shellcheck disable=SC2086
    set -- $stat
    printf '%s\n' "${20}"
}

# pid_of NAME: prints the recorded pid if that process still exists.
# is_zombie PID: true if PID has exited but was not reaped yet (kill -0 still
# succeeds on it; after a kill -9 it may stay so until init reaps it).
is_zombie() {
    local state
    state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
    [[ "$state" == "Z" ]]
}

pid_of() {
    local name="$1" pf pid want have
    pf="$(_ca_pidfile "$name")"
    [[ -f "$pf" ]] || return 1
    pid="$(head -n1 "$pf" 2>/dev/null)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    is_zombie "$pid" && return 1
    want="$(cat "${pf%.pid}.start" 2>/dev/null || true)"
    have="$(_ca_starttime "$pid" || true)"
    if [[ -n "$want" && "$want" != "$have" ]]; then
        return 1 # pid reused by some other process
    fi
    printf '%s\n' "$pid"
}

# group_alive PGID: true if any process is left in process group PGID.
group_alive() {
    [[ -n "$1" ]] && kill -0 -- "-$1" 2>/dev/null
}

# is_running NAME: true if the process recorded for NAME (or anything left in
# its process group) is alive.
is_running() {
    local name="$1" pid pf
    if pid="$(pid_of "$name")"; then
        return 0
    fi
    pf="$(_ca_pidfile "$name")"
    [[ -f "$pf" ]] || return 1
    pid="$(head -n1 "$pf" 2>/dev/null)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    # a live process with that pid but another start time reused the pid: then
    # our group is gone (Linux does not reuse the id of a live process group)
    kill -0 "$pid" 2>/dev/null && return 1
    # leader gone, but children in its group may linger
    group_alive "$pid" && [[ -n "$(_ca_group_members "$pid")" ]]
}

# pid_in_group PID PGID: true if PID belongs to process group PGID.
pid_in_group() {
    local pgid
    pgid="$(ps -o pgid= -p "$1" 2>/dev/null | tr -d ' ')"
    [[ -n "$pgid" && "$pgid" == "$2" ]]
}

# _ca_descendants PID: all descendants of PID (children that left the process
# group through their own setsid, e.g. PostgreSQL backends, included).
_ca_descendants() {
    ps -e -o pid=,ppid= 2>/dev/null | awk -v root="$1" '
        { parent[$1] = $2 }
        END {
            for (p in parent) {
                q = parent[p]; n = 0
                while (q != "" && q != 0 && q != 1 && n < 64) {
                    if (q == root) { print p; break }
                    q = parent[q]; n++
                }
            }
        }'
}

_ca_group_members() {
    ps -e -o pid=,pgid= 2>/dev/null | awk -v g="$1" '$2 == g { print $1 }'
}

# ca_lock NAME: take an exclusive lock (flock) for the rest of this process,
# so that concurrent `up`/`down` of the same component serialize. The lock fd
# is not inherited by what start_background starts.
CA_LOCK_FD=""
ca_lock() {
    ca_try_lock "$1" "${CA_LOCK_TIMEOUT:-900}" || die "timed out waiting for lock $(ca_run_dir)/$1.lock"
}

# ca_try_lock NAME TIMEOUT: ca_lock, but returns 1 (holding nothing) when the lock is still taken
# after TIMEOUT seconds.
ca_try_lock() {
    local f
    f="$(ca_run_dir)/$1.lock"
    [[ -n "$CA_LOCK_FD" ]] && return 0
    exec {CA_LOCK_FD}>>"$f"
    if ! flock -n "$CA_LOCK_FD"; then
        log_info "waiting for another run holding $f ..."
        if ! flock -w "$2" "$CA_LOCK_FD"; then
            exec {CA_LOCK_FD}>&-
            CA_LOCK_FD=""
            return 1
        fi
    fi
}

# start_background NAME LOGFILE CMD...: start CMD in a new session (setsid) so
# that it and all its children share one process group, append its
# stdout/stderr to LOGFILE, record the pid. Fails if NAME is already running.
start_background() {
    local name="$1" logfile="$2"
    shift 2
    (($# > 0)) || die "start_background $name: no command"
    if is_running "$name"; then
        log_error "$name is already running (pid $(head -n1 "$(_ca_pidfile "$name")"))"
        return 1
    fi
    local pf pid
    pf="$(_ca_pidfile "$name")"
    mkdir -p "$(dirname "$logfile")"
    printf '\n===== %s starting %s: %s\n' "$(date -Is)" "$name" "$*" >>"$logfile"
    # The subshell is not a process group leader, so setsid(1) does not fork:
    # the pid we get is the session and process group leader.
    if [[ -n "$CA_LOCK_FD" ]]; then
        setsid "$@" </dev/null >>"$logfile" 2>&1 {CA_LOCK_FD}>&- &
    else
        setsid "$@" </dev/null >>"$logfile" 2>&1 &
    fi
    pid=$!
    printf '%s\n' "$pid" >"$pf"
    printf '%s\n' "$logfile" >"${pf%.pid}.log"
    # give setsid a moment to exec so the start time is the final process'
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        [[ "$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" == "$pid" ]] && break
        sleep 0.05
    done
    _ca_starttime "$pid" >"${pf%.pid}.start" 2>/dev/null || true
    log_info "started $name (pid $pid, log $logfile)"
}

# stop_background NAME [SIGNAL=TERM]: send SIGNAL to the whole process group,
# wait up to CA_STOP_TIMEOUT (20s), then KILL whatever is left of the group.
# Returns 0 if it was not running.
stop_background() {
    local name="$1" sig="${2:-TERM}" pf pid timeout="${CA_STOP_TIMEOUT:-20}"
    pf="$(_ca_pidfile "$name")"
    if [[ ! -f "$pf" ]]; then
        return 0
    fi
    pid="$(head -n1 "$pf" 2>/dev/null)"
    if ! [[ "$pid" =~ ^[0-9]+$ ]]; then
        rm -f "$pf" "${pf%.pid}.start" "${pf%.pid}.log"
        return 0
    fi
    if ! is_running "$name"; then
        rm -f "$pf" "${pf%.pid}.start" "${pf%.pid}.log"
        return 0
    fi
    log_info "stopping $name (process group $pid, SIG$sig)"
    local desc d left
    desc="$(_ca_descendants "$pid" | tr '\n' ' ')"
    kill -s "$sig" -- "-$pid" 2>/dev/null || kill -s "$sig" "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + timeout))
    while ((SECONDS < deadline)); do
        if ! group_alive "$pid" && ! kill -0 "$pid" 2>/dev/null; then
            break
        fi
        sleep 0.25
    done
    if group_alive "$pid" || kill -0 "$pid" 2>/dev/null; then
        log_warn "$name did not stop within ${timeout}s, sending KILL"
        kill -KILL -- "-$pid" 2>/dev/null || true
        kill -KILL "$pid" 2>/dev/null || true
        for _ in $(seq 1 40); do
            group_alive "$pid" || break
            sleep 0.25
        done
        if group_alive "$pid"; then
            log_error "process group $pid of $name still alive: $(_ca_group_members "$pid" | tr '\n' ' ')"
            return 1
        fi
    fi
    # descendants that had left the group (own setsid): give them a moment to
    # notice their parent is gone, then KILL the rest
    left=""
    for d in $desc; do kill -0 "$d" 2>/dev/null && left+="$d "; done
    if [[ -n "$left" ]]; then
        sleep 2
        for d in $left; do
            if kill -0 "$d" 2>/dev/null; then
                log_warn "killing leftover process $d of $name: $(ps -o args= -p "$d" 2>/dev/null | cut -c1-80)"
                kill -KILL "$d" 2>/dev/null || true
            fi
        done
    fi
    rm -f "$pf" "${pf%.pid}.start" "${pf%.pid}.log"
    log_info "stopped $name"
}
