//! Builds the contracts workspace (`contracts/`) for `wasm32-unknown-unknown` and
//! encodes each module as a WebAssembly component with `wit-component`.
//!
//! The nested build uses its own target directory beside this build's
//! (`<target>/wasm-contracts`), so it never contends for this build's lock and
//! stays warm across builds. The components' bytes, and so their code hashes, do
//! not depend on where the repository is checked out: cargo compiles workspace
//! members with relative paths, and the registry's path is remapped.

use std::path::{Path, PathBuf};
use std::process::Command;

const CONTRACTS: [&str; 4] = ["consent", "access_grant", "record_anchor", "runaway"];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.join("../..").canonicalize().expect("repository root");
    let contracts = root.join("contracts");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out.
    let target_root = out_dir.ancestors().nth(4).expect("OUT_DIR has the usual depth").to_path_buf();
    let wasm_target = target_root.join("wasm-contracts");

    // Relative to this package, so that the check follows the checkout being
    // built: the build directory is shared by every clone (CI, scripts), and an
    // absolute path would keep pointing at whichever clone ran the script last.
    println!("cargo:rerun-if-changed=../../contracts");
    println!("cargo:rerun-if-changed=../../wit");

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let cargo_home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo"));
    // Workspace members are compiled with paths relative to contracts/, so only the
    // registry's absolute path needs remapping for the bytes not to depend on the machine.
    let flags = format!("--remap-path-prefix={}=/cargo", cargo_home.display());
    let build = |target_dir: &Path, extra: &[&str]| {
        let status = Command::new(&cargo)
            .args(["build", "--release", "--locked", "--target", "wasm32-unknown-unknown", "--manifest-path"])
            .arg(contracts.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(target_dir)
            .args(extra)
            .env("CARGO_ENCODED_RUSTFLAGS", &flags)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_BUILD_RUSTFLAGS")
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET")
            .env_remove("RUSTC_WORKSPACE_WRAPPER")
            .env_remove("RUSTC_WRAPPER")
            .status()
            .expect("run cargo for the contracts");
        if !status.success() {
            panic!(
                "building the contracts failed. Is the wasm target installed? Run `rustup target add wasm32-unknown-unknown` \
                 (scripts/setup.sh does it)."
            );
        }
    };
    build(&wasm_target, &[]);
    // consent with rules version 2, the worked example of a live upgrade. Its
    // own target directory, so that the two builds of consent.wasm never mix.
    let v2_target = target_root.join("wasm-contracts-v2");
    build(&v2_target, &["-p", "consent", "--features", "v2"]);

    let mut index = String::new();
    for name in CONTRACTS {
        let module = wasm_target.join("wasm32-unknown-unknown/release").join(format!("{name}.wasm"));
        let component = componentize(&module);
        let file = out_dir.join(format!("{name}.component.wasm"));
        std::fs::write(&file, component).expect("write component");
        index.push_str(&format!(
            "/// The `{name}` contract component.\npub const {}: &[u8] = include_bytes!({:?});\n",
            name.to_uppercase(),
            file.display().to_string()
        ));
    }
    let v2 = componentize(&v2_target.join("wasm32-unknown-unknown/release/consent.wasm"));
    let file = out_dir.join("consent_v2.component.wasm");
    std::fs::write(&file, v2).expect("write component");
    index.push_str(&format!(
        "/// The `consent` contract with rules version 2 (restricted data needs a provision naming R).\npub const CONSENT_V2: &[u8] = include_bytes!({:?});\n",
        file.display().to_string()
    ));
    std::fs::write(out_dir.join("components.rs"), index).expect("write index");
}

fn componentize(module: &Path) -> Vec<u8> {
    let bytes = std::fs::read(module).unwrap_or_else(|e| panic!("read {}: {e}", module.display()));
    wit_component::ComponentEncoder::default()
        .module(&bytes)
        .and_then(|e| e.validate(true).encode())
        .unwrap_or_else(|e| panic!("encode {} as a component: {e:#}", module.display()))
}
