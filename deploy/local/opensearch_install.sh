# shellcheck shell=bash
# Installing the local OpenSearch (sourced by opensearch.sh): fetch the pinned Maven Central artifacts,
# check their digests, and assemble the distribution with its modules and the k-NN plugin. Uses
# opensearch.sh's settings and paths (OS_VERSION, dl_dir, os_home).

artifact_file() { # groupId:artifactId:version[:type] -> file name
    local a="$1" g art v t
    IFS=: read -r g art v t <<<"$a"
    printf '%s-%s.%s\n' "$art" "$v" "${t:-jar}"
}

verify_downloads() {
    local dir="$1" file sum
    while read -r sum file; do
        [[ -n "$sum" ]] || continue
        sha256_verify "$dir/$file" "$sum" || return 1
    done <<<"$PINNED_SHA256"
}

fetch_artifacts() {
    need_cmd mvn "install Maven: apt-get install maven"
    local dl tmp entry coord g a v t deps=""
    dl="$(dl_dir)"
    tmp="$(mktemp -d)"
    # shellcheck disable=SC2064
    trap "rm -rf '$tmp'" RETURN
    for entry in "${ARTIFACTS[@]}"; do
        coord="${entry#*|}"
        IFS=: read -r g a v t <<<"$coord"
        deps+="    <dependency><groupId>$g</groupId><artifactId>$a</artifactId><version>$v</version><type>${t:-jar}</type></dependency>"$'\n'
    done
    cat >"$tmp/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.customer-agent</groupId>
  <artifactId>opensearch-fetch</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
$deps  </dependencies>
</project>
EOF
    log_info "downloading OpenSearch $OS_VERSION, module jars and plugins with Maven (first run only)..."
    rm -rf "$dl.tmp"
    if ! (cd "$tmp" && mvn -q -B -C -Dstyle.color=never dependency:copy-dependencies \
        -DexcludeTransitive=true -DoutputDirectory="$dl.tmp" >"$tmp/mvn.log" 2>&1); then
        cat "$tmp/mvn.log" >&2
        rm -rf "$dl.tmp"
        die "Maven could not fetch OpenSearch $OS_VERSION"
    fi
    if [[ "${OPENSEARCH_PRINT_CHECKSUMS:-0}" == 1 ]]; then
        (cd "$dl.tmp" && sha256sum -- *)
        exit 0
    fi
    verify_downloads "$dl.tmp" || {
        rm -rf "$dl.tmp"
        die "downloaded OpenSearch artifacts do not match the pinned checksums"
    }
    rm -rf "$dl"
    mv "$dl.tmp" "$dl"
}

ensure_user() {
    [[ $EUID -eq 0 ]] || return 0
    if ! id "$OPENSEARCH_USER" >/dev/null 2>&1; then
        log_info "creating system user $OPENSEARCH_USER"
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$OPENSEARCH_USER" ||
            die "could not create user $OPENSEARCH_USER"
    fi
}

write_descriptor() {
    local dir="$1" name="$2" classname="$3" extended="$4" desc="$5"
    cat >"$dir/plugin-descriptor.properties" <<EOF
# assembled by deploy/local/opensearch.sh from Maven Central jars
description=$desc
version=$OS_VERSION
name=$name
classname=$classname
java.version=11
opensearch.version=$OS_VERSION
custom.foldername=
extended.plugins=$extended
has.native.controller=false
EOF
}

assemble() {
    local dl home tmp entry mod coord spec name cls ext desc
    dl="$(dl_dir)"
    home="$(os_home)"
    tmp="$home.tmp"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    unzip -q "$dl/$(artifact_file "org.opensearch.distribution.integ-test-zip:opensearch:$OS_VERSION:zip")" -d "$tmp"
    [[ -d "$tmp/opensearch-$OS_VERSION" ]] || die "unexpected zip layout"
    for spec in "${MODULES[@]}"; do
        IFS='|' read -r name cls ext desc <<<"$spec"
        mkdir -p "$tmp/opensearch-$OS_VERSION/modules/$name"
        write_descriptor "$tmp/opensearch-$OS_VERSION/modules/$name" "$name" "$cls" "$ext" "$desc"
    done
    for entry in "${ARTIFACTS[@]}"; do
        mod="${entry%%|*}"
        coord="${entry#*|}"
        case "$mod" in
            -) continue ;;
            @*)
                # a plugin zip has its descriptor and security policy at the top
                mkdir -p "$tmp/opensearch-$OS_VERSION/plugins/${mod#@}"
                unzip -q "$dl/$(artifact_file "$coord")" -d "$tmp/opensearch-$OS_VERSION/plugins/${mod#@}"
                ;;
            *) cp "$dl/$(artifact_file "$coord")" "$tmp/opensearch-$OS_VERSION/modules/$mod/" ;;
        esac
    done
    cat >"$tmp/opensearch-$OS_VERSION/modules/lang-painless/plugin-security.policy" <<'EOF'
grant {
  // needed to generate runtime classes
  permission java.lang.RuntimePermission "createClassLoader";

  // needed to find the classloader to load whitelisted classes from
  permission java.lang.RuntimePermission "getClassLoader";
};
EOF
    cat >"$tmp/opensearch-$OS_VERSION/modules/reindex/plugin-security.policy" <<'EOF'
grant {
  // reindex opens socket connections using the rest client
  permission java.net.SocketPermission "*", "connect";
};

grant codeBase "${codebase.opensearch-rest-client}" {
  // rest client uses system properties which gets the default proxy
  permission java.net.NetPermission "getProxySelector";
};

grant codeBase "${codebase.httpasyncclient}" {
  // rest client uses system properties which gets the default proxy
  permission java.net.NetPermission "getProxySelector";
};
EOF
    chmod -R a+rX "$tmp"
    rm -rf "$home"
    mv "$tmp/opensearch-$OS_VERSION" "$home"
    rmdir "$tmp"
    printf '%s\n' "$(assembly_stamp)" >"$home/.assembled"
}

# changes whenever the pins or the module layout in this script change
assembly_stamp() {
    printf '%s\n%s\n%s\n' "$PINNED_SHA256" "${ARTIFACTS[*]}" "${MODULES[*]}" | sha256sum | cut -c1-16
}

cmd_install() {
    local dl home
    dl="$(dl_dir)"
    if [[ -n "$(ls -A "$dl" 2>/dev/null)" ]] && verify_downloads "$dl" 2>/dev/null; then
        log_verbose "OpenSearch $OS_VERSION artifacts present in $dl (checksums ok)"
    else
        [[ -n "$(ls -A "$dl" 2>/dev/null)" ]] && log_warn "cached artifacts in $dl incomplete or modified; fetching again"
        fetch_artifacts
    fi
    need_cmd unzip "apt-get install unzip"
    ensure_user
    home="$(os_home)"
    if [[ "$(cat "$home/.assembled" 2>/dev/null)" != "$(assembly_stamp)" ]]; then
        if is_running "$NAME"; then
            die "OpenSearch distribution needs re-assembly but OpenSearch is running; run '$0 down' first"
        fi
        log_info "assembling OpenSearch $OS_VERSION with modules into $home"
        assemble
        log_ok "OpenSearch $OS_VERSION installed in $home"
    else
        log_verbose "OpenSearch $OS_VERSION installed in $home"
    fi
    java_home >/dev/null
}
