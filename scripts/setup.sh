#!/usr/bin/env bash
# Installs what building and testing PHR Ledger needs and is missing: clang and libclang
# (for the rocksdb crate), the wasm32-unknown-unknown Rust target (for the contracts), the
# Python tools of the API checks, Chromium, Node.js and the npm tools of the browser
# tests (tests/web), and libfaketime (the wrong-clock tests).
# Safe to run again: it only installs what is missing.
set -euo pipefail

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
need_apt=()
if command -v dpkg-query >/dev/null 2>&1; then
  installed clang || need_apt+=(clang)
  installed libclang-dev || need_apt+=(libclang-dev)
  installed chromium || need_apt+=(chromium)
  installed faketime || need_apt+=(faketime)
  command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
  command -v npm >/dev/null 2>&1 || need_apt+=(npm)
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

# The Python tools of the API checks (tests/api): an OpenAPI validator, the
# Schemathesis fuzzer, what the request signer needs and the FHIR R5 validator, pinned in
# tests/api/requirements.txt, in their own venv ($PHR_VENV, as in scripts/env.sh).
venv="${PHR_VENV:-$HOME/.cache/phr-ledger/venv}"
requirements="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/api/requirements.txt"
stamp="$venv/phr-requirements.txt"
if ! { [ -x "$venv/bin/python" ] && cmp -s "$requirements" "$stamp" \
  && "$venv/bin/python" -c 'import schemathesis, openapi_spec_validator, ecdsa, requests, fhir.resources' 2>/dev/null; }; then
  command -v python3 >/dev/null 2>&1 || { echo "setup: python3 is missing; install Python 3.10 or newer" >&2; exit 1; }
  if [ ! -x "$venv/bin/python" ]; then
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
      if command -v dpkg-query >/dev/null 2>&1 && ! installed python3-venv; then
        echo "setup: installing python3-venv" >&2
        sudo_cmd=""
        [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
        $sudo_cmd apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq python3-venv >/dev/null
      fi
      rm -rf "$venv"
      python3 -m venv "$venv" || { echo "setup: could not create the Python venv $venv (python3 -m venv)" >&2; exit 1; }
    fi
  fi
  echo "setup: installing the Python tools of the API checks into $venv" >&2
  if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements"; then
    echo "setup: could not install $requirements into $venv (see pip's message above)" >&2
    exit 1
  fi
  cp "$requirements" "$stamp"
fi

# The browser tests' tools (tests/web): Playwright's driver without its own browsers (it
# drives Debian's Chromium) and axe-core, pinned in tests/web/package-lock.json, installed
# into tests/web/node_modules.
web="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/web"
if ! cmp -s "$web/package-lock.json" "$web/node_modules/.phr-package-lock.json" 2>/dev/null \
  || ! command -v chromium >/dev/null 2>&1; then
  command -v npm >/dev/null 2>&1 || { echo "setup: npm is missing; install Node.js 18 or newer with npm" >&2; exit 1; }
  echo "setup: installing the browser tests' tools into $web/node_modules" >&2
  if ! (cd "$web" && npm ci --no-audit --no-fund --loglevel=error >/dev/null); then
    echo "setup: could not install $web/package.json (npm ci; see npm's message above)" >&2
    exit 1
  fi
  cp "$web/package-lock.json" "$web/node_modules/.phr-package-lock.json"
  command -v chromium >/dev/null 2>&1 || { echo "setup: chromium is missing; install Debian's chromium package" >&2; exit 1; }
fi
