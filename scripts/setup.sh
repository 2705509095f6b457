#!/usr/bin/env bash
# Installs what building PHR Ledger needs and is missing: clang and libclang (for the
# rocksdb crate) and the wasm32-unknown-unknown Rust target (for the contracts).
# Safe to run again: it only installs what is missing.
set -euo pipefail

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
need_apt=()
if command -v dpkg-query >/dev/null 2>&1; then
  installed clang || need_apt+=(clang)
  installed libclang-dev || need_apt+=(libclang-dev)
else
  command -v clang >/dev/null 2>&1 || { echo "setup: install clang and libclang (development files) with your package manager" >&2; exit 1; }
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}" >&2
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo is missing; install Rust with rustup (https://rustup.rs) and run again" >&2
  exit 1
fi
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "setup: adding the Rust target wasm32-unknown-unknown" >&2
  rustup target add wasm32-unknown-unknown >/dev/null
fi
