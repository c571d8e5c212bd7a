#!/usr/bin/env bash
# Headless Chromium and its WebDriver from Debian's packages, for the browser tests (tests/e2e/browser).
#
# usage: deploy/local/browser.sh {install|status}
#
# Selenium drives /usr/bin/chromium through /usr/bin/chromedriver; nothing is downloaded at run time.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
CA_LOG_TAG=browser

cmd_install() {
    if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
        apt_install chromium chromium-driver
    fi
    need_cmd chromium
    need_cmd chromedriver
    log_verbose "$(chromium --version 2>/dev/null), $(chromedriver --version 2>/dev/null | cut -d' ' -f1-2)"
}

cmd_status() {
    if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
        printf '%-13s %s\n' browser "$(chromium --version 2>/dev/null)"
    else
        printf '%-13s %s\n' browser "not installed (make browser)"
        return 1
    fi
}

case "${1:-}" in
    install) CA_VERBOSE=1 cmd_install ;;
    status) cmd_status ;;
    *) echo "usage: $0 install|status" >&2; exit 2 ;;
esac
