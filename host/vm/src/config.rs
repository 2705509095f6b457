//! Engine settings: everything that could make two machines disagree is fixed here.

use crate::VmFault;
use std::path::PathBuf;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig, WasmFeatures};

/// Settings of the VM. `memory_limit_bytes` is consensus-critical and comes from
/// the genesis; the others are local to the node.
#[derive(Clone, Debug)]
pub struct VmConfig {
    /// Linear memory one instance may grow to; `memory.grow` beyond it fails.
    pub memory_limit_bytes: usize,
    /// Instances that may exist at once (block execution, nested calls, queries).
    pub max_instances: u32,
    /// Where compiled code is cached on disk, if anywhere.
    pub cache_dir: Option<PathBuf>,
    /// Largest component accepted (consensus-critical, from the genesis).
    pub max_code_bytes: usize,
    /// The fuel table every operator is priced by (consensus-critical, from
    /// the genesis; see `fuel.rs`).
    pub fuel_table: u32,
}

impl Default for VmConfig {
    fn default() -> Self {
        VmConfig {
            memory_limit_bytes: 32 << 20,
            max_instances: 128,
            cache_dir: None,
            max_code_bytes: crate::limits::MAX_COMPONENT_BYTES,
            fuel_table: 1,
        }
    }
}

/// Native stack a wasm call may use. Stack exhaustion depends on machine code,
/// so a trap for it is charged all the transaction's fuel (see `call.rs`).
pub(crate) const MAX_WASM_STACK: usize = 512 * 1024;

/// Determinism: exactly this set of Wasm proposals, everything else off (no
/// SIMD, no threads, no GC, no memory64, no async component model). The install
/// check validates with the same set.
pub(crate) fn features() -> WasmFeatures {
    WasmFeatures::MUTABLE_GLOBAL
        | WasmFeatures::SATURATING_FLOAT_TO_INT
        | WasmFeatures::SIGN_EXTENSION
        | WasmFeatures::MULTI_VALUE
        | WasmFeatures::BULK_MEMORY
        | WasmFeatures::REFERENCE_TYPES
        | WasmFeatures::FLOATS
        | WasmFeatures::EXTENDED_CONST
        | WasmFeatures::COMPONENT_MODEL
}

/// The target triple contracts are compiled for: this build's own triple
/// (e.g. `x86_64-unknown-linux-gnu`), named explicitly so that only the
/// architecture's baseline features are used (SSE2 on x86-64; none of AVX,
/// BMI, …), whatever the CPU the node runs on.
pub fn baseline_target() -> String {
    target_lexicon::Triple::host().to_string()
}

pub(crate) fn engine(cfg: &VmConfig) -> Result<Engine, VmFault> {
    let mut c = Config::new();
    // Machine code for the baseline of this architecture, never for the host
    // CPU's extra features (naming a target turns their detection off): every
    // node of an architecture compiles the same instructions, so the same
    // frames, and a call runs out of stack at the same depth on all of them.
    c.target(&baseline_target()).map_err(|e| VmFault::Setup(format!("target {}: {e}", baseline_target())))?;
    let allowed = features();
    c.wasm_features(WasmFeatures::all().difference(allowed), false);
    c.wasm_features(allowed, true);
    c.cranelift_nan_canonicalization(true);
    // Metering: fuel by the pinned table; memory by the limiter and the pool.
    c.consume_fuel(true);
    c.operator_cost(crate::fuel::operator_costs(cfg.fuel_table).map_err(|e| VmFault::Setup(e.to_string()))?);
    c.max_wasm_stack(MAX_WASM_STACK);
    // Speed.
    c.cranelift_opt_level(OptLevel::Speed);
    c.parallel_compilation(true);
    c.wasm_backtrace_max_frames(None);
    let mut pool = PoolingAllocationConfig::new();
    // Component instances are what runs out first (capacity.rs reserves them for
    // the node's own calls): each may hold as many core instances, memories and
    // tables as the per-component limits below allow.
    pool.total_component_instances(cfg.max_instances);
    pool.total_core_instances(cfg.max_instances * 16);
    pool.total_memories(cfg.max_instances * 2);
    pool.total_tables(cfg.max_instances * 8);
    pool.max_memory_size(cfg.memory_limit_bytes);
    pool.max_memories_per_module(1);
    pool.max_core_instances_per_component(16);
    pool.max_memories_per_component(2);
    pool.max_tables_per_component(8);
    // Reset small memories with memset rather than madvise: calls reuse slots constantly.
    pool.linear_memory_keep_resident(4 << 20);
    pool.table_keep_resident(64 << 10);
    pool.decommit_batch_size(16);
    // Where the kernel supports it (Linux 6.7+), reset only the pages a call touched.
    pool.pagemap_scan(wasmtime::Enabled::Auto);
    c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&c).map_err(|e| VmFault::Setup(e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::hash::{Hash, Hasher};

    fn compat(e: &wasmtime::Engine) -> u64 {
        let mut s = std::collections::hash_map::DefaultHasher::new();
        e.precompile_compatibility_hash().hash(&mut s);
        s.finish()
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn the_engine_compiles_for_the_architecture_baseline_not_the_host_cpu() {
        let ours = super::engine(&super::VmConfig::default()).unwrap();
        assert_eq!(compat(&ours), compat(&super::engine(&super::VmConfig::default()).unwrap()));
        // The same settings with the host CPU's features detected (wasmtime's
        // default) compile for another ISA on any CPU beyond the baseline.
        if std::is_x86_feature_detected!("sse4.2") {
            let mut host = wasmtime::Config::new();
            host.cranelift_nan_canonicalization(true);
            let host_target = wasmtime::Engine::new(&host).unwrap();
            let mut fixed = wasmtime::Config::new();
            fixed.cranelift_nan_canonicalization(true);
            fixed.target(&super::baseline_target()).unwrap();
            let fixed = wasmtime::Engine::new(&fixed).unwrap();
            assert_ne!(compat(&host_target), compat(&fixed), "naming the target turns host features off");
        }
        assert!(super::baseline_target().starts_with("x86_64-"), "{}", super::baseline_target());
    }
}
