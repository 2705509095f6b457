# Sourced by the other scripts: where builds go, and the toolchain checks.
# A persistent target directory keeps rebuilds incremental across clones and CI runs.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/phr-ledger/target}"
export PHR_BIN="$CARGO_TARGET_DIR/release/phr"
mkdir -p "$CARGO_TARGET_DIR"
