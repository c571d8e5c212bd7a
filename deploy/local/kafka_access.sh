# shellcheck shell=bash
# Kafka's SCRAM users and ACLs for the local broker (sourced by kafka.sh): one user per principal of
# deploy/k8s/base/kafka/acls.tsv, a password each under the state dir, the table's ACLs applied and
# ACLs the table no longer grants removed. Uses kafka.sh's settings (KAFKA_PORT, ACL_TABLE, SUPER_USER).

users_dir() { ca_state_dir kafka/users; }

kafka_users() {
    { printf '%s\n' "$SUPER_USER"; grep -v '^#' "$ACL_TABLE" | cut -f1; } | sort -u
}

password_of() { cat "$(users_dir)/$1.password"; }

ensure_passwords() {
    local d u
    d="$(users_dir)"
    chmod 700 "$d"
    for u in $(kafka_users); do
        [[ -s "$d/$u.password" ]] && continue
        (umask 077 && head -c 24 /dev/urandom | base64 | tr -d '+/=\n' >"$d/$u.password")
    done
}

# kafka_tool CLASS ARGS...: one of Kafka's command-line tools, through the PLAINTEXT listener.
kafka_tool() {
    "$(java_bin)" -Xmx128m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$(libs_dir)/*" \
        "-Dlog4j.configuration=file:$(kdir)/tools-log4j.properties" "$1" \
        --bootstrap-server "127.0.0.1:$KAFKA_PORT" "${@:2}"
}

# acl_commands: the arguments of one kafka-acls call per line (tab-separated), grouping the rows
# of the table that share user, resource type, pattern and operations.
acl_commands() {
    awk -F '\t' '
        /^#/ || NF < 5 { next }
        {
            key = $1 "\t" $2 "\t" $3 "\t" $5
            names[key] = names[key] "\t--" $2 "\t" $4
            if (!(key in seen)) { seen[key] = 1; order[++n] = key }
        }
        END {
            for (i = 1; i <= n; i++) {
                split(order[i], k, "\t")
                line = "--add\t--allow-principal\tUser:" k[1]
                line = line "\t--resource-pattern-type\t" (k[3] == "prefix" ? "PREFIXED" : "LITERAL")
                ops = split(k[4], op, ",")
                for (j = 1; j <= ops; j++) line = line "\t--operation\t" op[j]
                print line names[order[i]]
            }
        }' "$ACL_TABLE"
}

# granted_acls: every ACL the table grants, one per line: user, TOPIC|GROUP, LITERAL|PREFIXED, name,
# operation (tab-separated, upper case as `kafka-acls --list` prints them).
granted_acls() {
    awk -F '\t' '
        /^#/ || NF < 5 { next }
        {
            ops = split($5, op, ",")
            for (j = 1; j <= ops; j++)
                print $1 "\t" toupper($2) "\t" ($3 == "prefix" ? "PREFIXED" : "LITERAL") "\t" $4 "\t" toupper(op[j])
        }' "$ACL_TABLE" | sort -u
}

# listed_acls: the broker's ALLOW ACLs of every user but the super user (every other user of the local
# broker is one of the table's, or was), in the form of granted_acls.
listed_acls() {
    kafka_tool kafka.admin.AclCommand --list 2>>"$log" | awk -v super="User:$SUPER_USER" '
        /^Current ACLs for resource/ {
            match($0, /resourceType=[A-Z_]+/); type = substr($0, RSTART + 13, RLENGTH - 13)
            match($0, /name=.*, patternType=/); name = substr($0, RSTART + 5, RLENGTH - 19)
            match($0, /patternType=[A-Z]+/); pattern = substr($0, RSTART + 12, RLENGTH - 12)
            next
        }
        /principal=/ && /permissionType=ALLOW/ {
            match($0, /principal=[^,]+/); who = substr($0, RSTART + 10, RLENGTH - 10)
            match($0, /operation=[A-Z_]+/); operation = substr($0, RSTART + 10, RLENGTH - 10)
            if (who ~ /^User:/ && who != super) print substr(who, 6) "\t" type "\t" pattern "\t" name "\t" operation
        }' | sort -u
}

# remove_stale_acls: removes every ACL the table does not grant, also those of a user dropped from the
# table (its SCRAM credential stays, but without ACLs it can do nothing).
remove_stale_acls() {
    local listed user type pattern name operation
    listed="$(listed_acls)" || { failed=1; return 0; }
    while IFS=$'\t' read -r user type pattern name operation; do
        [[ -n "$user" ]] || continue
        log_info "removing ACL $operation on ${type,,} $name from $user (not in the table)"
        spawn kafka_tool kafka.admin.AclCommand --remove --force --allow-principal "User:$user" \
            --resource-pattern-type "$pattern" "--${type,,}" "$name" --operation "$operation"
    done < <(comm -23 <(printf '%s\n' "$listed") <(granted_acls))
    drain
}

access_stamp() {
    local u
    { cat "$ACL_TABLE"; for u in $(kafka_users); do printf '%s:%s\n' "$u" "$(password_of "$u")"; done; } \
        | sha256sum | cut -d' ' -f1
}

# spawn CMD...: run a tool in the background, at most 3 at once (not `jobs`: the broker started by
# this shell is one of its jobs); a failure sets failed=1. drain waits for the rest.
spawn() {
    "$@" >>"$log" 2>&1 &
    pending+=("$!")
    if ((${#pending[@]} >= 3)); then
        wait "${pending[0]}" || failed=1
        pending=("${pending[@]:1}")
    fi
}

drain() {
    local pid
    for pid in "${pending[@]}"; do wait "$pid" || failed=1; done
    pending=()
}

# apply_access: SCRAM users and ACLs, when the table or a password changed since the last time
# (both commands are idempotent: a credential is replaced, an existing ACL is kept), then removes
# the ACLs of the table's users that the table no longer grants.
apply_access() {
    local stamp stamp_file log u line failed=0
    local -a args pending=()
    stamp="$(access_stamp)"
    stamp_file="$(users_dir)/.applied"
    if [[ -f "$stamp_file" && "$(cat "$stamp_file")" == "$stamp" ]]; then
        return 0
    fi
    log="$(kdir)/logs/access.log"
    log_info "adding SCRAM users and ACLs (log: $log)"
    printf '\n===== %s\n' "$(date -Is)" >>"$log"
    for u in $(kafka_users); do
        spawn kafka_tool kafka.admin.ConfigCommand --alter --entity-type users --entity-name "$u" \
            --add-config "$SCRAM=[password=$(password_of "$u")]"
    done
    while IFS= read -r line; do
        IFS=$'\t' read -r -a args <<<"$line"
        spawn kafka_tool kafka.admin.AclCommand "${args[@]}"
    done < <(acl_commands)
    drain
    ((failed == 0)) && remove_stale_acls
    ((failed == 0)) || die "adding or removing Kafka users or ACLs failed; see $log"
    printf '%s\n' "$stamp" >"$stamp_file"
    log_ok "SCRAM users and ACLs in place on 127.0.0.1:$KAFKA_SECURE_PORT ($(kafka_users | wc -l) users)"
}

# access_current: true when every user has a password and the table and passwords are the ones last
# applied (reads files only: no lock, no broker).
access_current() {
    local d u
    d="$(users_dir)"
    for u in $(kafka_users); do
        [[ -s "$d/$u.password" ]] || return 1
    done
    [[ -f "$d/.applied" && "$(cat "$d/.applied")" == "$(access_stamp)" ]]
}

# cmd_access: what services.sh runs before every start, so it must neither wait long nor fail while
# Kafka restarts (the fault tests restart services and Kafka at once). Nothing changed, the usual
# case: returns at once. A change waits at most KAFKA_ACCESS_WAIT seconds for the lock and the
# SCRAM listener, then warns and succeeds: the users and ACLs of the last 'up' stay, and the next
# 'up' applies the change.
cmd_access() {
    access_current && return 0
    if ! ca_try_lock "$NAME" "$KAFKA_ACCESS_WAIT"; then
        log_warn "another run still holds Kafka's lock after ${KAFKA_ACCESS_WAIT}s; users and ACLs not updated"
        return 0
    fi
    ensure_passwords
    access_current && return 0
    if ! is_running "$NAME" || ! wait_for_port "$KAFKA_SECURE_PORT" "$KAFKA_ACCESS_WAIT"; then
        log_warn "Kafka's SCRAM listener on :$KAFKA_SECURE_PORT is not up; users and ACLs not updated (the next '$0 up' does it)"
        return 0
    fi
    apply_access
}

cmd_client_env() {
    local user="${1:-}"
    [[ -n "$user" ]] || die "usage: $0 client-env USER (one of: $(kafka_users | tr '\n' ' '))"
    [[ -s "$(users_dir)/$user.password" ]] || die "no Kafka user '$user' (known: $(kafka_users | tr '\n' ' '))"
    printf '%s\n' "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_SECURE_PORT" "KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT" \
        "KAFKA_SASL_MECHANISM=$SCRAM" "KAFKA_SASL_USERNAME=$user" "KAFKA_SASL_PASSWORD=$(password_of "$user")"
}
