//! The state a transaction sees: its own writes over the block's writes over the
//! committed store, with every read recorded for the receipt.

use crate::code::CodeCache;
use crate::system::{contract_key, ContractRecord, SYSTEM_NS};
use phr_ledger::{Hash32, ReadEntry, WriteEntry};
use phr_state::{Point, StateDb, StateWrite};
use phr_vm::{CompiledContract, HistoryItem, HostEnv, HostFault, Rows};
use std::collections::BTreeMap;
use std::sync::Arc;

type Slot = (String, Vec<u8>);
/// (height, tx index) of the write that made a value.
type Version = (u64, u32);
/// A value, or `None` where a write deleted the key.
type MaybeValue = Option<Vec<u8>>;

/// Where committed reads come from.
#[derive(Clone, Copy, Debug)]
pub enum ReadMode {
    /// The latest committed state (block execution: the executor is the only writer).
    Latest,
    /// The state as of a point (queries, audit): unaffected by later commits.
    At(Point),
    /// What transaction `tx_index` of block `height` saw when its block was
    /// applied (audit): values as of the transaction before it, key history as
    /// of the block before.
    BeforeTx { height: u64, tx_index: u32 },
}

/// A write of the block so far, with the version (height, tx index) that made it.
#[derive(Clone, Debug)]
struct BlockSlot {
    value: Option<Vec<u8>>,
    version: (u64, u32),
}

/// Execution state of one block, lent to each transaction in turn.
pub struct TxEnv {
    db: Arc<StateDb>,
    code: Arc<CodeCache>,
    mode: ReadMode,
    height: u64,
    tx_index: u32,
    block: BTreeMap<Slot, BlockSlot>,
    tx: BTreeMap<Slot, Option<Vec<u8>>>,
    reads: BTreeMap<Slot, Option<(u64, u32)>>,
    /// Writes of the block's successful transactions, in order.
    block_writes: Vec<StateWrite>,
    /// Contract code installed by the current transaction, and by the block's
    /// successful transactions.
    tx_code: Vec<(Hash32, Vec<u8>)>,
    block_code: Vec<(Hash32, Vec<u8>)>,
    /// Code hashes of committed contract records, by name: the committed store
    /// does not change while an environment lives, and every transaction
    /// resolves its contract.
    committed_code: BTreeMap<String, Option<(Hash32, Version)>>,
}

/// What a block's successful transactions changed.
pub struct BlockEffects {
    /// Writes in transaction order.
    pub writes: Vec<StateWrite>,
    /// Contract code installed, by hash.
    pub code: Vec<(Hash32, Vec<u8>)>,
}

fn fault(e: phr_state::StateError) -> HostFault {
    HostFault(e.to_string())
}

impl TxEnv {
    /// An environment for executing block `height`.
    pub fn for_block(db: Arc<StateDb>, code: Arc<CodeCache>, height: u64) -> Self {
        Self::new(db, code, ReadMode::Latest, height)
    }

    /// A read-only environment seeing the state as of `at`.
    pub fn at(db: Arc<StateDb>, code: Arc<CodeCache>, at: Point) -> Self {
        Self::new(db, code, ReadMode::At(at), at.height)
    }

    /// An environment seeing exactly what transaction `tx_index` of block
    /// `height` saw when it ran, to run it again.
    pub fn before_tx(db: Arc<StateDb>, code: Arc<CodeCache>, height: u64, tx_index: u32) -> Self {
        let mut env = Self::new(db, code, ReadMode::BeforeTx { height, tx_index }, height);
        env.tx_index = tx_index;
        env
    }

    fn new(db: Arc<StateDb>, code: Arc<CodeCache>, mode: ReadMode, height: u64) -> Self {
        TxEnv {
            db,
            code,
            mode,
            height,
            tx_index: 0,
            block: BTreeMap::new(),
            tx: BTreeMap::new(),
            reads: BTreeMap::new(),
            block_writes: Vec::new(),
            tx_code: Vec::new(),
            block_code: Vec::new(),
            committed_code: BTreeMap::new(),
        }
    }

    /// Start transaction `tx_index`: no pending writes, no reads recorded.
    pub fn begin(&mut self, tx_index: u32) {
        self.tx_index = tx_index;
        self.tx.clear();
        self.tx_code.clear();
        self.reads.clear();
    }

    /// The reads of the current transaction, sorted by namespace and key.
    pub fn reads(&self) -> Vec<ReadEntry> {
        self.reads
            .iter()
            .map(|((ns, key), version)| ReadEntry { namespace: ns.clone(), key: key.clone(), version: *version })
            .collect()
    }

    /// Keep the current transaction's writes: they become part of the block and
    /// are returned for its receipt, sorted by namespace and key.
    pub fn keep(&mut self) -> Vec<WriteEntry> {
        let version = (self.height, self.tx_index);
        let mut out = Vec::with_capacity(self.tx.len());
        for ((ns, key), value) in std::mem::take(&mut self.tx) {
            out.push(WriteEntry { namespace: ns.clone(), key: key.clone(), value: value.clone() });
            self.block_writes.push(StateWrite {
                namespace: ns.clone(),
                key: key.clone(),
                value: value.clone(),
                tx_index: self.tx_index,
            });
            self.block.insert((ns, key), BlockSlot { value, version });
        }
        self.block_code.append(&mut self.tx_code);
        out
    }

    /// Drop the current transaction's writes.
    pub fn discard(&mut self) {
        self.tx.clear();
        self.tx_code.clear();
    }

    /// Everything the block kept.
    pub fn into_block(self) -> BlockEffects {
        BlockEffects { writes: self.block_writes, code: self.block_code }
    }

    /// An empty environment on the same store, to stand in while this one is
    /// lent to a contract call by value.
    pub(crate) fn placeholder(&self) -> TxEnv {
        TxEnv::new(self.db.clone(), self.code.clone(), self.mode, self.height)
    }

    /// The height this environment executes (or reads at).
    pub fn height(&self) -> u64 {
        self.height
    }

    /// The index of the transaction being executed.
    pub fn tx_index(&self) -> u32 {
        self.tx_index
    }

    /// Store contract code with the current transaction (kept if it succeeds).
    pub fn add_code(&mut self, hash: Hash32, bytes: Vec<u8>) {
        self.tx_code.push((hash, bytes));
    }

    /// The bytes of installed code: this block's, else the store's.
    pub fn code_bytes(&self, hash: &Hash32) -> Result<Option<Vec<u8>>, HostFault> {
        if let Some((_, b)) = self.tx_code.iter().chain(&self.block_code).find(|(h, _)| h == hash) {
            return Ok(Some(b.clone()));
        }
        self.db.code(hash).map_err(fault)
    }

    /// The code cache this environment resolves contracts through.
    pub fn code_cache(&self) -> &Arc<CodeCache> {
        &self.code
    }

    /// The record of the code serving `name` here (the read is recorded).
    pub fn contract_record(&mut self, name: &str) -> Result<Option<ContractRecord>, HostFault> {
        match self.get(SYSTEM_NS, &contract_key(name))? {
            None => Ok(None),
            Some(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| HostFault(format!("corrupt contract record of {name}: {e}"))),
        }
    }

    /// The code hash serving `name` here, as [`TxEnv::contract_record`] would
    /// give it (the read is recorded), cached for committed records.
    fn contract_code(&mut self, name: &str) -> Result<Option<Hash32>, HostFault> {
        let slot = (SYSTEM_NS.to_string(), contract_key(name));
        if self.tx.contains_key(&slot) || self.block.contains_key(&slot) {
            return Ok(self.contract_record(name)?.map(|r| r.code_hash));
        }
        let cached = match self.committed_code.get(name) {
            Some(c) => *c,
            None => {
                let c = match self.committed_get(SYSTEM_NS, &slot.1)? {
                    None => None,
                    Some(v) => {
                        let rec: ContractRecord = serde_json::from_slice(&v.value)
                            .map_err(|e| HostFault(format!("corrupt contract record of {name}: {e}")))?;
                        Some((rec.code_hash, v.version))
                    }
                };
                self.committed_code.insert(name.to_string(), c);
                c
            }
        };
        self.reads.entry(slot).or_insert(cached.map(|(_, v)| v));
        Ok(cached.map(|(h, _)| h))
    }

    fn committed_get(&self, ns: &str, key: &[u8]) -> Result<Option<phr_state::Versioned>, HostFault> {
        match self.mode {
            ReadMode::Latest => self.db.get(ns, key).map_err(fault),
            ReadMode::At(p) => self.db.get_at(ns, key, p).map_err(fault),
            ReadMode::BeforeTx { height, tx_index } => {
                self.db.get_at(ns, key, Point::before(height, tx_index)).map_err(fault)
            }
        }
    }

    fn committed_scan(
        &self,
        ns: &str,
        start: &[u8],
        end: &[u8],
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, phr_state::Versioned)>, HostFault> {
        match self.mode {
            ReadMode::Latest => self.db.scan(ns, start, end, limit).map_err(fault),
            ReadMode::At(p) => self.db.scan_at(ns, start, end, limit, p).map_err(fault),
            ReadMode::BeforeTx { height, tx_index } => {
                self.db.scan_at(ns, start, end, limit, Point::before(height, tx_index)).map_err(fault)
            }
        }
    }

    /// Read `key` and its version through all layers, without recording it.
    fn lookup(&self, ns: &str, key: &[u8]) -> Result<(MaybeValue, Option<Version>), HostFault> {
        let slot = (ns.to_string(), key.to_vec());
        if let Some(v) = self.tx.get(&slot) {
            return Ok((v.clone(), v.as_ref().map(|_| (self.height, self.tx_index))));
        }
        if let Some(b) = self.block.get(&slot) {
            return Ok((b.value.clone(), b.value.as_ref().map(|_| b.version)));
        }
        Ok(match self.committed_get(ns, key)? {
            Some(v) => (Some(v.value), Some(v.version)),
            None => (None, None),
        })
    }

    /// Pending writes (transaction over block) in `[start, end)` of `ns`, with versions.
    fn pending_in_range(&self, ns: &str, start: &[u8], end: &[u8]) -> BTreeMap<Vec<u8>, (MaybeValue, Version)> {
        let in_range = |(n, k): &Slot| n == ns && (end.is_empty() || k.as_slice() < end);
        let from = (ns.to_string(), start.to_vec());
        let mut out = BTreeMap::new();
        for (slot, b) in self.block.range(from.clone()..).take_while(|(s, _)| in_range(s)) {
            out.insert(slot.1.clone(), (b.value.clone(), b.version));
        }
        for (slot, v) in self.tx.range(from..).take_while(|(s, _)| in_range(s)) {
            out.insert(slot.1.clone(), (v.clone(), (self.height, self.tx_index)));
        }
        out
    }
}

impl HostEnv for TxEnv {
    fn get(&mut self, ns: &str, key: &[u8]) -> Result<Option<Vec<u8>>, HostFault> {
        let (value, version) = self.lookup(ns, key)?;
        self.reads.entry((ns.to_string(), key.to_vec())).or_insert(version);
        Ok(value)
    }

    fn put(&mut self, ns: &str, key: &[u8], value: &[u8]) -> Result<(), HostFault> {
        self.tx.insert((ns.to_string(), key.to_vec()), Some(value.to_vec()));
        Ok(())
    }

    fn delete(&mut self, ns: &str, key: &[u8]) -> Result<(), HostFault> {
        self.tx.insert((ns.to_string(), key.to_vec()), None);
        Ok(())
    }

    fn scan(&mut self, ns: &str, start: &[u8], end: &[u8], limit: u32) -> Result<Rows, HostFault> {
        let limit = limit as usize;
        let pending = self.pending_in_range(ns, start, end);
        let hidden = pending.values().filter(|(v, _)| v.is_none()).count();
        let fetch = limit + hidden;
        let committed = self.committed_scan(ns, start, end, fetch)?;
        // If the store may hold more keys than were fetched, nothing after the
        // last fetched key can be trusted to be in order with them.
        let cutoff = (committed.len() == fetch).then(|| committed.last().map(|(k, _)| k.clone())).flatten();
        let mut merged: BTreeMap<Vec<u8>, (Vec<u8>, Version)> =
            committed.into_iter().map(|(k, v)| (k, (v.value, v.version))).collect();
        for (k, (v, version)) in pending {
            match v {
                Some(v) => {
                    merged.insert(k, (v, version));
                }
                None => {
                    merged.remove(&k);
                }
            }
        }
        let mut out = Vec::new();
        for (k, (v, version)) in merged {
            if out.len() >= limit || cutoff.as_ref().is_some_and(|c| k > *c) {
                break;
            }
            self.reads.entry((ns.to_string(), k.clone())).or_insert(Some(version));
            out.push((k, v));
        }
        Ok(out)
    }

    fn history(&mut self, ns: &str, key: &[u8], limit: u32) -> Result<Vec<HistoryItem>, HostFault> {
        // History is of committed blocks: during block execution, those before it.
        let at = match self.mode {
            ReadMode::Latest => Point::end_of(u64::MAX),
            ReadMode::At(p) => p,
            ReadMode::BeforeTx { height, .. } => Point::end_of(height.saturating_sub(1)),
        };
        let rows = self.db.history(ns, key, limit as usize, at).map_err(fault)?;
        Ok(rows.into_iter().map(|h| HistoryItem { height: h.height, tx_index: h.tx_index, value: h.value }).collect())
    }

    fn resolve(&mut self, name: &str) -> Result<Option<Arc<CompiledContract<Self>>>, HostFault> {
        let Some(hash) = self.contract_code(name)? else { return Ok(None) };
        let code = self.code.clone();
        match code.get(&hash, || self.code_bytes(&hash))? {
            Some(Ok(c)) => Ok(Some(c)),
            Some(Err(e)) => Err(HostFault(format!("committed code {hash} of {name} does not compile: {e}"))),
            None => Err(HostFault(format!("code {hash} of contract {name} is missing from the store"))),
        }
    }
}
