//! Prometheus metrics of a node, served at `/metrics`.

use phr_executor::AppliedBlock;
use prometheus::{Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};
use std::time::Duration;

/// The node's metrics.
pub struct Metrics {
    registry: Registry,
    pub height: IntGauge,
    pub blocks: IntCounter,
    pub txs_committed: IntCounterVec,
    pub txs_rejected: IntCounterVec,
    pub mempool: IntGauge,
    pub halted: IntGauge,
    pub queries: IntCounter,
    pub block_apply: Histogram,
    pub block_size: Histogram,
    pub fuel: IntCounter,
    pub raft_term: IntGauge,
    pub raft_leader: IntGauge,
    pub raft_last_log_index: IntGauge,
    pub raft_last_applied_index: IntGauge,
    pub raft_voters: IntGauge,
    /// How far the last applied block's time is ahead of this node's clock.
    pub block_time_ahead: IntGauge,
    pub clock_alarms: IntCounter,
}

impl Metrics {
    pub fn new(node_id: &str) -> Self {
        let registry =
            Registry::new_custom(Some("phr".into()), Some([("node".to_string(), node_id.to_string())].into()))
                .expect("valid registry");
        let height = IntGauge::new("height", "Height of the last committed block").unwrap();
        let blocks = IntCounter::new("blocks_committed_total", "Blocks committed since start").unwrap();
        let txs_committed = IntCounterVec::new(
            Opts::new("txs_committed_total", "Transactions committed, by receipt status"),
            &["status"],
        )
        .unwrap();
        let txs_rejected = IntCounterVec::new(
            Opts::new("txs_rejected_total", "Transactions refused at admission, by reason"),
            &["reason"],
        )
        .unwrap();
        let mempool = IntGauge::new("mempool_txs", "Transactions waiting for a block").unwrap();
        let halted = IntGauge::new("halted", "1 if the node stopped applying blocks").unwrap();
        let queries = IntCounter::new("queries_total", "Read-only queries served").unwrap();
        let block_apply = Histogram::with_opts(
            HistogramOpts::new("block_apply_seconds", "Time to execute and commit a block")
                .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]),
        )
        .unwrap();
        let block_size = Histogram::with_opts(
            HistogramOpts::new("block_txs", "Transactions per block")
                .buckets(vec![1.0, 5.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2000.0]),
        )
        .unwrap();
        let fuel = IntCounter::new("fuel_used_total", "Fuel burnt by committed transactions").unwrap();
        let raft_term = IntGauge::new("raft_term", "Current Raft term").unwrap();
        let raft_leader = IntGauge::new("raft_is_leader", "1 if this node leads the Raft group").unwrap();
        let raft_last_log_index = IntGauge::new("raft_last_log_index", "Index of the last Raft log entry").unwrap();
        let raft_last_applied_index =
            IntGauge::new("raft_last_applied_index", "Index of the last applied Raft entry").unwrap();
        let raft_voters = IntGauge::new("raft_voters", "Voters in the Raft membership").unwrap();
        let block_time_ahead = IntGauge::new(
            "block_time_ahead_ms",
            "How far the last applied block's time is ahead of this node's clock, ms (0 if not ahead)",
        )
        .unwrap();
        let clock_alarms = IntCounter::new(
            "clock_alarms_total",
            "Blocks applied whose time was more than 5 s ahead of this node's clock",
        )
        .unwrap();
        for c in [
            Box::new(height.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(blocks.clone()),
            Box::new(txs_committed.clone()),
            Box::new(txs_rejected.clone()),
            Box::new(mempool.clone()),
            Box::new(halted.clone()),
            Box::new(queries.clone()),
            Box::new(block_apply.clone()),
            Box::new(block_size.clone()),
            Box::new(fuel.clone()),
            Box::new(raft_term.clone()),
            Box::new(raft_leader.clone()),
            Box::new(raft_last_log_index.clone()),
            Box::new(raft_last_applied_index.clone()),
            Box::new(raft_voters.clone()),
            Box::new(block_time_ahead.clone()),
            Box::new(clock_alarms.clone()),
        ] {
            registry.register(c).expect("metric names are unique");
        }
        Metrics {
            registry,
            height,
            blocks,
            txs_committed,
            txs_rejected,
            mempool,
            halted,
            queries,
            block_apply,
            block_size,
            fuel,
            raft_term,
            raft_leader,
            raft_last_log_index,
            raft_last_applied_index,
            raft_voters,
            block_time_ahead,
            clock_alarms,
        }
    }

    pub fn block_applied(&self, b: &AppliedBlock, took: Duration) {
        self.height.set(b.block.header.height as i64);
        self.blocks.inc();
        self.block_apply.observe(took.as_secs_f64());
        self.block_size.observe(b.receipts.len() as f64);
        for r in &b.receipts {
            let status = match &r.status {
                phr_ledger::TxStatus::Ok => "ok",
                phr_ledger::TxStatus::Rejected { .. } => "rejected",
                phr_ledger::TxStatus::OutOfFuel => "out-of-fuel",
                phr_ledger::TxStatus::Trapped { .. } => "trapped",
                phr_ledger::TxStatus::Invalid { .. } => "invalid",
            };
            self.txs_committed.with_label_values(&[status]).inc();
            self.fuel.inc_by(r.fuel_used);
        }
    }

    /// Record the Raft group as this node sees it.
    pub fn raft(&self, s: &phr_orderer::raft::RaftStatus) {
        self.raft_term.set(s.term as i64);
        self.raft_leader.set((s.role == "leader") as i64);
        self.raft_last_log_index.set(s.last_log_index.unwrap_or(0) as i64);
        self.raft_last_applied_index.set(s.last_applied_index.unwrap_or(0) as i64);
        self.raft_voters.set(s.voters.len() as i64);
        self.halted.set(s.halted.is_some() as i64);
    }

    /// The metrics in Prometheus text format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buf).expect("encoding to a Vec");
        String::from_utf8(buf).expect("prometheus text is UTF-8")
    }
}
