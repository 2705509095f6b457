//! Rebuild when anything under `web/` changes, files added or removed included.
fn main() {
    println!("cargo:rerun-if-changed=../../web");
}
