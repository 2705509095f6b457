//! Compiled contract code, by code hash, and the background compiler that fills it.
//!
//! Which code serves a contract name is chain state (`system/contract/<name>`);
//! this cache only turns a code hash into compiled, pre-instantiated code.
//! Installed code is compiled on a background thread after its block commits,
//! so that the block apply loop never compiles; a lifecycle commit that arrives
//! before that compile finished waits for it. The outcome of compiling given
//! bytes (code or [`CompileError`]) is the same on every node, so it may decide
//! a transaction's receipt.

use crate::env::TxEnv;
use parking_lot::{Condvar, Mutex};
use phr_ledger::Hash32;
use phr_vm::{CompileError, CompiledContract, Vm};
use std::collections::HashMap;
use std::sync::{mpsc, Arc};
use std::time::Instant;

/// Compiled code, or why the bytes are not a contract.
pub type Compiled = Result<Arc<CompiledContract<TxEnv>>, CompileError>;

enum Slot {
    Compiling,
    Done(Compiled),
}

struct Shared {
    vm: Arc<Vm<TxEnv>>,
    slots: Mutex<HashMap<Hash32, Slot>>,
    done: Condvar,
}

impl Shared {
    /// Compile `bytes` into the slot of `hash`, which the caller marked `Compiling`.
    fn compile_into(&self, hash: Hash32, bytes: &[u8]) -> Compiled {
        let started = Instant::now();
        let out = self.vm.compile(bytes);
        let ms = started.elapsed().as_millis();
        match &out {
            Ok(_) if ms > 5_000 => tracing::warn!(%hash, ms, "compiling a contract took long"),
            Ok(_) => tracing::debug!(%hash, ms, "compiled contract code"),
            Err(e) => tracing::info!(%hash, "contract code does not compile: {e}"),
        }
        self.slots.lock().insert(hash, Slot::Done(out.clone()));
        self.done.notify_all();
        out
    }
}

/// Compiled code by hash, shared by block execution, queries and audit.
pub struct CodeCache {
    shared: Arc<Shared>,
    queue: Mutex<mpsc::Sender<(Hash32, Vec<u8>)>>,
}

impl CodeCache {
    /// A cache compiling with `vm`, and its background compiler thread (which
    /// ends when the cache is dropped).
    pub fn new(vm: Arc<Vm<TxEnv>>) -> Arc<Self> {
        let shared = Arc::new(Shared { vm, slots: Mutex::new(HashMap::new()), done: Condvar::new() });
        let (tx, rx) = mpsc::channel::<(Hash32, Vec<u8>)>();
        let worker = shared.clone();
        std::thread::Builder::new()
            .name("phr-compile".into())
            .spawn(move || {
                for (hash, bytes) in rx {
                    let _ = worker.compile_into(hash, &bytes);
                }
            })
            .expect("spawn the compiler thread");
        Arc::new(CodeCache { shared, queue: Mutex::new(tx) })
    }

    /// The VM code is compiled for.
    pub fn vm(&self) -> &Arc<Vm<TxEnv>> {
        &self.shared.vm
    }

    /// Compile `bytes` (whose SHA-256 is `hash`) in the background, unless it is
    /// compiled or being compiled already.
    pub fn prepare(&self, hash: Hash32, bytes: Vec<u8>) {
        {
            let mut slots = self.shared.slots.lock();
            if slots.contains_key(&hash) {
                return;
            }
            slots.insert(hash, Slot::Compiling);
        }
        if self.queue.lock().send((hash, bytes.clone())).is_err() {
            // The worker is gone (only while shutting down): compile here.
            let _ = self.shared.compile_into(hash, &bytes);
        }
    }

    /// The compiled code of `hash`: at once if it is compiled, after waiting if
    /// it is being compiled, else compiled now from the bytes `load` returns
    /// (`Ok(None)`: the bytes are unknown, and so is the code).
    pub fn get<E>(
        &self,
        hash: &Hash32,
        load: impl FnOnce() -> Result<Option<Vec<u8>>, E>,
    ) -> Result<Option<Compiled>, E> {
        let mut slots = self.shared.slots.lock();
        loop {
            match slots.get(hash) {
                Some(Slot::Done(c)) => return Ok(Some(c.clone())),
                Some(Slot::Compiling) => self.shared.done.wait(&mut slots),
                None => break,
            }
        }
        slots.insert(*hash, Slot::Compiling);
        drop(slots);
        let bytes = match load() {
            Ok(Some(b)) => b,
            other => {
                self.shared.slots.lock().remove(hash);
                self.shared.done.notify_all();
                return other.map(|_| None);
            }
        };
        Ok(Some(self.shared.compile_into(*hash, &bytes)))
    }

    /// Whether `hash` is compiled (successfully or not) already.
    pub fn is_ready(&self, hash: &Hash32) -> bool {
        matches!(self.shared.slots.lock().get(hash), Some(Slot::Done(_)))
    }
}
