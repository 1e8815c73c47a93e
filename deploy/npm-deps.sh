#!/usr/bin/env bash
# Installs the npm packages pinned in package-lock.json files (npm ci, from the npm registry):
#   web/console     JsSIP (the console's SIP-over-WebSocket softphone) and esbuild, which bundles
#                   it into web/console/vendor/jssip.min.js for the page (JsSIP ships CommonJS only)
#   tests/browser   playwright-core, which drives the system Chromium in the browser tests
# Skips a directory whose node_modules was installed after its lock file last changed. Needs node and npm.
set -euo pipefail
cd "$(dirname "$0")/.."
for dir in web/console tests/browser; do
  stamp="$dir/node_modules/.package-lock.json"
  if [ "$stamp" -nt "$dir/package-lock.json" ]; then
    echo "npm-deps: $dir up to date"
  else
    echo "npm-deps: npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund)
  fi
done
(cd web/console && npm run --silent build)
echo "npm-deps: web/console/vendor/jssip.min.js built"
