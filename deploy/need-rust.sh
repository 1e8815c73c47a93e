#!/usr/bin/env bash
# Checks that Rust (cargo and rustc) is installed and at least the workspace's rust-version
# (Cargo.toml). Debian's own rustc/cargo packages are older than that: their cargo fails on
# this Cargo.lock with a message that does not say why.
set -euo pipefail
cd "$(dirname "$0")/.."
need=$(sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' Cargo.toml | head -n1)
if ! command -v cargo >/dev/null || ! command -v rustc >/dev/null; then
  echo "Rust $need or newer is needed: install it with rustup (https://rustup.rs), then run me again" >&2
  exit 1
fi
have=$(rustc --version | awk '{print $2}')
if [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n1)" != "$need" ]; then
  echo "rustc $have ($(command -v rustc)) is older than the $need this project needs:" \
       "install a current Rust with rustup (https://rustup.rs) and put ~/.cargo/bin first in PATH" >&2
  exit 1
fi
