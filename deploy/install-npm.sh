#!/usr/bin/env bash
# Installs zvonar's npm dependencies (package.json + package-lock.json at the repo root) into
# node_modules with `npm ci`: exactly the locked versions, from the npm registry. Today:
# playwright-core, the driver of the headless-Chromium console tests (tests/browser/), which
# uses Debian's `chromium` and downloads no browser; puppeteer-core, which drives Debian's
# firefox-esr over WebDriver BiDi for the Firefox test (tests/browser/firefox.mjs; it downloads
# no browser either); JsSIP, the console softphone's SIP library,
# which esbuild bundles into web/console/vendor/jssip.min.js (`npm run build:console`; JsSIP
# ships CommonJS only). Needs Node.js ≥ 20 (playwright-core's
# minimum). Idempotent: skipped when node_modules matches the lockfile.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "install-npm: node and npm are missing (deploy/install-deps.sh installs them)" >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "install-npm: Node.js $(node --version) is too old: playwright-core needs ≥ 20" \
       "(Debian 12 ships 18; install Node 20 LTS, e.g. from NodeSource, then rerun)" >&2
  exit 1
fi
# npm writes node_modules/.package-lock.json after an install; same content → nothing to do.
if [ -f node_modules/.package-lock.json ] && \
   node -e 'const a=require("./package-lock.json").packages,b=require("./node_modules/.package-lock.json").packages;delete a[""];process.exit(JSON.stringify(a)===JSON.stringify(b)?0:1)' 2>/dev/null; then
  echo "install-npm: node_modules up to date"
else
  npm ci --no-audit --no-fund
fi
[ web/console/vendor/jssip.min.js -nt package-lock.json ] || npm run --silent build:console
echo "install-npm: web/console/vendor/jssip.min.js ready"
