#!/usr/bin/env bash
# Runs every test: unit and in-memory tests of all crates, the real-model ASR/TTS tests,
# and the end-to-end tests where SIPp calls a running zvonar on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
deploy/need-rust.sh
deploy/fetch-models.sh data/models
cargo test --workspace --no-fail-fast "$@"
