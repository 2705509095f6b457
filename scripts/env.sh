# Sourced by the other scripts: where builds go, and the toolchain checks.
# A persistent target directory keeps rebuilds incremental across clones and CI runs.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/phr-ledger/target}"
export PHR_BIN="$CARGO_TARGET_DIR/release/phr"
mkdir -p "$CARGO_TARGET_DIR"
# The Python venv of the API checks (tests/api), made by scripts/setup.sh.
export PHR_VENV="${PHR_VENV:-$HOME/.cache/phr-ledger/venv}"
