#!/usr/bin/env bash
# The whole test suite: formatting, lints (warnings are errors), the contracts' own
# tests, the page's signing vectors, and every test of the node workspace, end-to-end
# tests included (the browser tests among them).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
step() { printf '\n== %s\n' "$*" >&2; }

step "format"
cargo fmt --all -- --check
cargo fmt --manifest-path contracts/Cargo.toml --all -- --check

step "build"
cargo build --release --locked --workspace --all-targets

step "lint"
cargo clippy --release --locked --workspace --all-targets -- -D warnings
CARGO_TARGET_DIR="$CARGO_TARGET_DIR/wasm-contracts" \
  cargo clippy --release --locked --manifest-path contracts/Cargo.toml --target wasm32-unknown-unknown --workspace -- -D warnings
CARGO_TARGET_DIR="$CARGO_TARGET_DIR/wasm-contracts-v2" \
  cargo clippy --release --locked --manifest-path contracts/Cargo.toml --target wasm32-unknown-unknown -p consent --features v2 -- -D warnings

step "contract SDK tests"
CARGO_TARGET_DIR="$CARGO_TARGET_DIR/contracts-native" \
  cargo test --release --locked --manifest-path contracts/Cargo.toml --workspace

step "the page's signing code against the documented vectors"
node tests/web/sign_check.mjs

step "tests"
cargo test --release --locked --workspace
