#!/usr/bin/env bash
# One command from a fresh clone to a running zvonar:
#   Debian packages → speech models → release build → SQLite database with the example
#   registry and outages → `zvonar serve` with deploy/zvonar.toml (SIP 5060 UDP+TCP,
#   HTTP API on 127.0.0.1:8080).
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
deploy/need-rust.sh
deploy/fetch-models.sh data/models
cargo build --release --bin zvonar
BIN="${CARGO_TARGET_DIR:-target}/release/zvonar"
$BIN --config deploy/zvonar.toml import accounts deploy/example/registry.csv
$BIN --config deploy/zvonar.toml import outages deploy/example/outages.csv
echo "setup: starting zvonar (Ctrl-C to stop); API token is in deploy/zvonar.toml"
exec $BIN --config deploy/zvonar.toml serve
