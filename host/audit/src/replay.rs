//! Replay: execute the chain again in a fresh state and compare every result
//! with what was committed.

use crate::source::{ChainSource, StoredBlock};
use crate::AuditError;
use phr_executor::explain::receipt_differences;
use phr_executor::{Executor, ExecutorOptions};
use phr_ledger::{Batch, BlockHeader, Hash32, Receipt, TxId};
use phr_state::{first_difference, StateDb, StoreOptions};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

/// What to replay.
#[derive(Clone, Debug, Default)]
pub struct ReplayOptions {
    /// First height to replay. Needs `snapshot` at height `from - 1` unless 1.
    pub from: Option<u64>,
    /// Last height to replay (default: the source's tip).
    pub to: Option<u64>,
    /// A trusted snapshot file (`phr audit snapshot`, or a node's
    /// `snapshots/snap-*.bin`) to start from instead of the genesis.
    pub snapshot: Option<PathBuf>,
    /// Where compiled contract code may be cached between runs.
    pub compile_cache: Option<PathBuf>,
}

/// The first place where the chain is not what its code computes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Divergence {
    pub height: u64,
    pub tx_index: Option<u32>,
    pub tx_id: Option<TxId>,
    /// `receipt`, `block`, `header`, `roots` or `state`.
    pub what: String,
    /// The key, for a state divergence (`namespace/key`).
    pub key: Option<String>,
    /// What differs, one line each.
    pub detail: Vec<String>,
}

/// How much of the chain one code hash served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CodeUse {
    pub contract: String,
    pub code_hash: Hash32,
    pub first_height: u64,
    pub last_height: u64,
    pub txs: u64,
}

/// The outcome of a replay.
#[derive(Clone, Debug, Serialize)]
pub struct ReplayReport {
    pub source: String,
    pub chain_id: String,
    pub genesis_hash: Hash32,
    pub from: u64,
    pub to: u64,
    /// The source's tip when the replay began.
    pub tip: u64,
    pub blocks: u64,
    pub txs: u64,
    /// Executing and comparing the blocks.
    pub replay_seconds: f64,
    /// Everything, the state comparison included.
    pub seconds: f64,
    /// Transactions per second of `replay_seconds`.
    pub tx_per_s: f64,
    /// Which code ran what, as replayed.
    pub code: Vec<CodeUse>,
    /// Whether the source's whole state (every key version and latest value)
    /// was compared too (a data directory replayed to its tip).
    pub state_compared: bool,
    /// `None`: everything matched.
    pub divergence: Option<Divergence>,
}

/// How far a replay is, for a progress display.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub height: u64,
    pub from: u64,
    pub to: u64,
    pub txs: u64,
}

fn header_differences(stored: &BlockHeader, computed: &BlockHeader) -> Vec<String> {
    let mut d = Vec::new();
    let mut f = |name: &str, same: bool, s: String, c: String| {
        if !same {
            d.push(format!("{name}: recorded {s}, replay computed {c}"));
        }
    };
    f("chain_id", stored.chain_id == computed.chain_id, stored.chain_id.clone(), computed.chain_id.clone());
    f("height", stored.height == computed.height, stored.height.to_string(), computed.height.to_string());
    f("prev_hash", stored.prev_hash == computed.prev_hash, stored.prev_hash.to_hex(), computed.prev_hash.to_hex());
    f("time_ms", stored.time_ms == computed.time_ms, stored.time_ms.to_string(), computed.time_ms.to_string());
    f("proposer", stored.proposer == computed.proposer, stored.proposer.clone(), computed.proposer.clone());
    f("tx_root", stored.tx_root == computed.tx_root, stored.tx_root.to_hex(), computed.tx_root.to_hex());
    f("tx_count", stored.tx_count == computed.tx_count, stored.tx_count.to_string(), computed.tx_count.to_string());
    f(
        "prev_state_root (the state after the block before)",
        stored.prev_state_root == computed.prev_state_root,
        stored.prev_state_root.to_hex(),
        computed.prev_state_root.to_hex(),
    );
    f(
        "prev_receipts_root (the receipts of the block before)",
        stored.prev_receipts_root == computed.prev_receipts_root,
        stored.prev_receipts_root.to_hex(),
        computed.prev_receipts_root.to_hex(),
    );
    d
}

fn digest(v: &Option<Vec<u8>>) -> String {
    v.as_ref().map_or("deleted".into(), |v| format!("SHA-256 {}", phr_ledger::sha256(&[v])))
}

/// Compare the source's whole state with the replayed one: every version of
/// every key, then every latest value.
fn compare_state(stored: &StateDb, replayed: &StateDb) -> Result<Option<Divergence>, AuditError> {
    let at = |height: u64, tx_index: u32| -> Result<Option<TxId>, AuditError> {
        Ok(replayed.block(height)?.and_then(|b| b.txs.get(tx_index as usize).map(|t| t.id())))
    };
    let key =
        |v: &phr_state::VersionEntry| (v.namespace.len(), v.namespace.clone(), v.key.clone(), v.height, v.tx_index);
    if let Some((s, r)) = first_difference(stored.versions(), replayed.versions(), key)? {
        let any = s.as_ref().or(r.as_ref()).expect("one side differs");
        let detail = match (&s, &r) {
            (Some(s), Some(r)) => {
                vec![format!("stored value {}, replay computed {}", digest(&s.value), digest(&r.value))]
            }
            (Some(s), None) => {
                vec![format!("the store holds a version ({}) that no transaction wrote", digest(&s.value))]
            }
            (None, Some(r)) => {
                vec![format!("the store lacks this version ({}) that the replay wrote", digest(&r.value))]
            }
            (None, None) => unreachable!("first_difference gives one side at least"),
        };
        return Ok(Some(Divergence {
            height: any.height,
            tx_index: Some(any.tx_index),
            tx_id: at(any.height, any.tx_index)?,
            what: "state".into(),
            key: Some(phr_ledger::display_slot(&any.namespace, &any.key)),
            detail,
        }));
    }
    let key = |s: &phr_state::StateEntry| (s.namespace.len(), s.namespace.clone(), s.key.clone());
    if let Some((s, r)) = first_difference(stored.states(), replayed.states(), key)? {
        let any = s.as_ref().or(r.as_ref()).expect("one side differs");
        let show = |e: &Option<phr_state::StateEntry>| match e {
            Some(e) => format!("SHA-256 {} as of {}:{}", phr_ledger::sha256(&[&e.value]), e.version.0, e.version.1),
            None => "absent".into(),
        };
        return Ok(Some(Divergence {
            height: any.version.0,
            tx_index: Some(any.version.1),
            tx_id: at(any.version.0, any.version.1)?,
            what: "state".into(),
            key: Some(phr_ledger::display_slot(&any.namespace, &any.key)),
            detail: vec![format!("latest value: stored {}, replay computed {}", show(&s), show(&r))],
        }));
    }
    Ok(None)
}

/// What receives each replayed block, its recomputed receipts and the replayed store.
pub type Visit<'a> = dyn FnMut(&phr_ledger::Block, &[Receipt], &StateDb) + 'a;

/// Write the genesis contracts where [`Executor::open`] reads them.
fn genesis_files(
    source: &dyn ChainSource,
    genesis: &phr_ledger::Genesis,
    dir: &std::path::Path,
) -> Result<(), AuditError> {
    for c in &genesis.contracts {
        let bytes = source.code(&c.code_hash)?.ok_or_else(|| {
            AuditError::Source(format!("the source does not have code {} of genesis contract {}", c.code_hash, c.name))
        })?;
        let path = dir.join(&c.file);
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p)?;
        }
        std::fs::write(path, bytes)?;
    }
    Ok(())
}

/// Replay the chain of `source` (see the crate documentation). `progress` is
/// called after each block; once everything matched, `visit` is called with
/// each replayed block, the receipts the replay computed for it, and the
/// replayed store.
pub fn replay(
    source: &dyn ChainSource,
    opts: &ReplayOptions,
    progress: &mut dyn FnMut(Progress),
    visit: Option<&mut Visit<'_>>,
) -> Result<ReplayReport, AuditError> {
    let genesis = source.genesis()?;
    let tip = source.tip()?;
    let work = tempfile::tempdir()?;
    genesis_files(source, &genesis, work.path())?;
    let data = work.path().join("replay");
    let mut start = 1;
    if let Some(snap) = &opts.snapshot {
        let db = StateDb::open(&data, StoreOptions { sync_writes: false, ..Default::default() })?;
        let f = std::fs::File::open(snap)
            .map_err(|e| AuditError::Usage(format!("cannot open the snapshot {}: {e}", snap.display())))?;
        let applied = db.import_snapshot(std::io::BufReader::new(f), &[])?;
        start = applied.height + 1;
    }
    let from = opts.from.unwrap_or(start);
    if from != start {
        return Err(AuditError::Usage(match &opts.snapshot {
            None => format!(
                "--from {from} needs a snapshot at height {} (--snapshot); without one, replay starts at 1",
                from.saturating_sub(1)
            ),
            Some(_) => format!("the snapshot is at height {}, so the replay starts at {start}, not {from}", start - 1),
        }));
    }
    let to = opts.to.unwrap_or(tip.height).min(tip.height);
    let exec_opts = ExecutorOptions {
        // A scratch store: nothing survives a crash of the replay anyway.
        store: StoreOptions { sync_writes: false, write_ahead_log: false },
        compile_cache: opts.compile_cache.clone(),
        // A snapshot is checked against its own hashes like any store.
        verify_store: opts.snapshot.is_some(),
        ..Default::default()
    };
    let exec = Executor::open(&data, genesis.clone(), work.path(), exec_opts)?;
    let mut report = ReplayReport {
        source: source.describe(),
        chain_id: genesis.chain_id.clone(),
        genesis_hash: genesis.hash(),
        from,
        to,
        tip: tip.height,
        blocks: 0,
        txs: 0,
        replay_seconds: 0.0,
        seconds: 0.0,
        tx_per_s: 0.0,
        code: Vec::new(),
        state_compared: false,
        divergence: None,
    };
    let started = Instant::now();
    let mut uses: BTreeMap<(String, Hash32), CodeUse> = BTreeMap::new();

    // The block before `from`, as the source holds it, must be what we start from.
    let first = source.blocks(from - 1, 1)?;
    let mut prev_stored = match first.first() {
        Some(b) => b.block.hash(),
        None => return Err(AuditError::Source(format!("the source has no block {}", from - 1))),
    };
    if prev_stored != exec.tip().block_hash {
        report.divergence = Some(Divergence {
            height: from - 1,
            tx_index: None,
            tx_id: None,
            what: "block".into(),
            key: None,
            detail: vec![format!(
                "block {} of the source is {prev_stored}; the {} gives {}",
                from - 1,
                if from == 1 { "genesis" } else { "snapshot" },
                exec.tip().block_hash
            )],
        });
    }

    // Fetch ahead on another thread while blocks execute.
    // Two chunks of 32 blocks ahead at most: their verified signatures must stay
    // in the executor's signature cache until their blocks are applied.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Vec<StoredBlock>, AuditError>>(2);
    let result = std::thread::scope(|s| -> Result<(), AuditError> {
        let exec = &exec;
        s.spawn(move || {
            let mut h = from;
            while h <= to {
                let chunk = source.blocks(h, (to - h + 1).min(32));
                // Check signatures here, on the cores execution leaves idle.
                if let Ok(blocks) = &chunk {
                    for b in blocks {
                        exec.preverify(&b.block.txs);
                    }
                }
                let n = chunk.as_ref().map(|c| c.len() as u64).unwrap_or(0);
                let failed = chunk.is_err() || n == 0;
                if tx.send(chunk).is_err() || failed {
                    return;
                }
                h += n;
            }
        });
        let mut next = from;
        while next <= to && report.divergence.is_none() {
            let chunk = match rx.recv() {
                Ok(c) => c,
                Err(_) => return Err(AuditError::Source(format!("the source stopped before block {next}"))),
            };
            let chunk = match chunk {
                Ok(c) if c.is_empty() => return Err(AuditError::Source(format!("the source has no block {next}"))),
                Ok(c) => c,
                Err(AuditError::State(e)) => {
                    report.divergence = Some(Divergence {
                        height: next,
                        tx_index: None,
                        tx_id: None,
                        what: "block".into(),
                        key: None,
                        detail: vec![format!("the stored block or its receipts cannot be read: {e}")],
                    });
                    break;
                }
                Err(e) => return Err(e),
            };
            for sb in chunk {
                let h = sb.block.header.height;
                if h != next {
                    return Err(AuditError::Source(format!("asked for block {next}, got {h}")));
                }
                next += 1;
                if let Some(d) = check_block(exec, &sb, prev_stored, &mut uses)? {
                    report.divergence = Some(d);
                    break;
                }
                prev_stored = sb.block.hash();
                report.blocks += 1;
                report.txs += sb.block.txs.len() as u64;
                progress(Progress { height: h, from, to, txs: report.txs });
            }
        }
        Ok(())
    });
    result?;

    report.replay_seconds = started.elapsed().as_secs_f64();
    report.tx_per_s = if report.replay_seconds > 0.0 { report.txs as f64 / report.replay_seconds } else { 0.0 };
    if report.divergence.is_none() && to == tip.height {
        let t = exec.tip();
        let mut detail = Vec::new();
        for (what, recorded, ours) in [
            ("block hash", tip.block_hash, t.block_hash),
            ("state root", tip.state_root, t.state_root),
            ("receipts root", tip.receipts_root, t.receipts_root),
        ] {
            if recorded != ours {
                detail.push(format!("{what} of the last block: the source records {recorded}, replay computed {ours}"));
            }
        }
        if !detail.is_empty() {
            report.divergence =
                Some(Divergence { height: to, tx_index: None, tx_id: None, what: "roots".into(), key: None, detail });
        } else if let Some(stored) = source.store() {
            report.state_compared = true;
            report.divergence = compare_state(stored, exec.db())?;
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    if let (None, Some(visit)) = (&report.divergence, visit) {
        // Receipts were compared block by block; visit the replayed ones.
        for h in from..=to.min(exec.tip().height) {
            if let Some(b) = exec.db().block(h)? {
                visit(&b, &exec.db().receipts(h)?, exec.db());
            }
        }
    }
    report.code = uses.into_values().collect();
    Ok(report)
}

/// Execute one stored block and compare: its link to the block before, every
/// receipt, then its header (which carries the results of the block before).
fn check_block(
    exec: &Executor,
    sb: &StoredBlock,
    prev_stored: Hash32,
    uses: &mut BTreeMap<(String, Hash32), CodeUse>,
) -> Result<Option<Divergence>, AuditError> {
    let h = sb.block.header.height;
    let d = |tx_index: Option<u32>, tx_id: Option<TxId>, what: &str, detail: Vec<String>| {
        Some(Divergence { height: h, tx_index, tx_id, what: what.into(), key: None, detail })
    };
    if sb.block.header.prev_hash != prev_stored {
        return Ok(d(
            None,
            None,
            "block",
            vec![format!(
                "block {h} records prev_hash {}, but block {} as stored hashes to {prev_stored}: one of the two was altered",
                sb.block.header.prev_hash,
                h - 1
            )],
        ));
    }
    let ids: Vec<TxId> = sb.block.txs.iter().map(|t| t.id()).collect();
    if phr_ledger::merkle_root(&ids) != sb.block.header.tx_root || ids.len() != sb.block.header.tx_count as usize {
        let i = ids.iter().zip(&sb.receipts).position(|(id, r)| *id != r.tx_id);
        return Ok(d(
            i.map(|i| i as u32),
            i.map(|i| ids[i]),
            "block",
            vec![match i {
                Some(i) => format!(
                    "transaction {i} of block {h} hashes to {}, but its receipt and the block's tx_root record {}: it was altered",
                    ids[i], sb.receipts[i].tx_id
                ),
                None => format!("the transactions of block {h} do not hash to its tx_root: the block was altered"),
            }],
        ));
    }
    let batch = Batch {
        proposer: sb.block.header.proposer.clone(),
        time_ms: sb.block.header.time_ms,
        attestation: None,
        txs: sb.block.txs.clone(),
    };
    let applied = exec.apply(&batch, Vec::new())?;
    if sb.receipts.len() != applied.receipts.len() {
        return Ok(d(
            None,
            None,
            "receipt",
            vec![format!(
                "block {h} has {} stored receipts for {} transactions",
                sb.receipts.len(),
                applied.receipts.len()
            )],
        ));
    }
    for (i, (stored, computed)) in sb.receipts.iter().zip(&applied.receipts).enumerate() {
        let diffs = receipt_differences(stored, computed);
        if !diffs.is_empty() {
            return Ok(d(Some(i as u32), Some(applied.tx_ids[i]), "receipt", diffs));
        }
        let u = uses.entry((computed.contract.clone(), computed.code_hash)).or_insert(CodeUse {
            contract: computed.contract.clone(),
            code_hash: computed.code_hash,
            first_height: h,
            last_height: h,
            txs: 0,
        });
        u.last_height = h;
        u.txs += 1;
    }
    let diffs = header_differences(&sb.block.header, &applied.block.header);
    if !diffs.is_empty() {
        return Ok(d(None, None, "header", diffs));
    }
    if applied.hash != sb.block.hash() {
        return Ok(d(
            None,
            None,
            "block",
            vec![format!("block {h} hashes to {}, replay computed {}", sb.block.hash(), applied.hash)],
        ));
    }
    Ok(None)
}
