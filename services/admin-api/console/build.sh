#!/usr/bin/env bash
# Build the admin console's browser assets: install the pinned libraries of package-lock.json (npm checks
# each tarball's sha512 integrity) and copy their released files, with their licences, into admin-api's
# static folder. Run by `make install`; a no-op while the copies are newer than the lockfile.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${CONSOLE_ASSETS_OUT:-$HERE/../src/admin_api/entrypoints/console/static/vendor}"
STAMP="$OUT/.built-from-lockfile"

if [[ -f "$STAMP" && "$STAMP" -nt "$HERE/package-lock.json" && "${1:-}" != "--force" ]]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "console assets: installing Debian's nodejs and npm" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
echo "console assets: npm ci (htmx, Chart.js)" >&2
(cd "$HERE" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
rm -rf "$OUT" && mkdir -p "$OUT"
cp "$HERE/node_modules/htmx.org/dist/htmx.min.js" "$OUT/htmx.min.js"
cp "$HERE/node_modules/htmx.org/LICENSE" "$OUT/htmx.LICENSE.txt"
cp "$HERE/node_modules/chart.js/dist/chart.umd.min.js" "$OUT/chart.umd.min.js"
cp "$HERE/node_modules/chart.js/LICENSE.md" "$OUT/chart.js.LICENSE.md"
cp "$HERE/node_modules/@kurkle/color/LICENSE" "$OUT/kurkle-color.LICENSE.txt"  # bundled in chart.umd
touch "$STAMP"
