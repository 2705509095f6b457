//! Every decoder of untrusted bytes in the ledger types, fuzzed (issue 11,
//! point 10): blocks, batches, receipts and admin commands from peers and
//! clients, and key files from disk. Arbitrary bytes, and valid encodings
//! with bytes flipped, cut or appended, never panic; whatever is accepted
//! re-encodes to exactly the bytes it came from (so one value has one
//! encoding). proptest keeps any failing case in `proptest-regressions/`,
//! which is checked in and replayed first on every run.

use phr_ledger::*;
use proptest::prelude::*;

fn key() -> Keypair {
    Keypair::from_secret(&[9u8; 32]).unwrap()
}

fn tx(n: u64) -> SignedTx {
    let k = key();
    TxBody {
        chain_id: "fuzz".into(),
        contract: "consent".into(),
        method: "create".into(),
        args: format!("{{\"n\":{n}}}"),
        nonce: n,
        expiry_height: 100,
        signer: k.public_key(),
    }
    .sign(&k)
}

fn block() -> Block {
    Block {
        header: BlockHeader {
            chain_id: "fuzz".into(),
            height: 7,
            prev_hash: Hash32([1; 32]),
            time_ms: 1_700_000_000_000,
            proposer: "node0".into(),
            tx_root: Hash32([2; 32]),
            tx_count: 2,
            prev_state_root: Hash32([3; 32]),
            prev_receipts_root: Hash32([4; 32]),
        },
        txs: vec![tx(1), tx(2)],
    }
}

fn batch() -> Batch {
    Batch {
        proposer: "node1".into(),
        time_ms: 5,
        attestation: Some(Attestation {
            height: 6,
            block_hash: Hash32([5; 32]),
            state_root: Hash32([6; 32]),
            receipts_root: Hash32([7; 32]),
        }),
        txs: vec![tx(3)],
    }
}

fn receipt() -> Receipt {
    Receipt {
        tx_id: tx(4).id(),
        status: TxStatus::Rejected { code: "conflict".into(), message: "already".into() },
        contract: "consent".into(),
        method: "create".into(),
        code_hash: Hash32([8; 32]),
        fuel_used: 1234,
        output: String::new(),
        events: vec![Event {
            contract: "consent".into(),
            name: "x".into(),
            topics: vec!["t".into()],
            payload: "{}".into(),
        }],
        reads: vec![ReadEntry { namespace: "consent".into(), key: b"k".to_vec(), version: Some((1, 0)) }],
        writes: vec![WriteEntry { namespace: "consent".into(), key: b"k".to_vec(), value: Some(b"v".to_vec()) }],
    }
}

/// `bytes` changed by one of: flip a byte, cut the end, append junk.
fn mutate(bytes: &[u8], at: usize, how: u8, junk: &[u8]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    let i = at % b.len().max(1);
    match how % 3 {
        0 if !b.is_empty() => b[i] ^= junk.first().copied().unwrap_or(1).max(1),
        1 => b.truncate(i),
        _ => b.extend_from_slice(junk),
    }
    b
}

/// Decoding `bytes` as `T` does not panic, and what is accepted re-encodes to `bytes`.
fn decodes_soundly<T: Canonical + std::fmt::Debug>(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(v) = T::from_canonical(bytes) {
        prop_assert_eq!(v.to_canonical(), bytes, "{:?} has another encoding", v);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        decodes_soundly::<Block>(&bytes)?;
        decodes_soundly::<BlockHeader>(&bytes)?;
        decodes_soundly::<Batch>(&bytes)?;
        decodes_soundly::<Receipt>(&bytes)?;
        decodes_soundly::<SignedTx>(&bytes)?;
        let _ = serde_json::from_slice::<AdminCommand>(&bytes);
    }

    #[test]
    fn damaged_encodings(at in any::<usize>(), how in any::<u8>(), junk in prop::collection::vec(any::<u8>(), 0..16)) {
        decodes_soundly::<Block>(&mutate(&block().to_canonical(), at, how, &junk))?;
        decodes_soundly::<BlockHeader>(&mutate(&block().header.to_canonical(), at, how, &junk))?;
        decodes_soundly::<Batch>(&mutate(&batch().to_canonical(), at, how, &junk))?;
        decodes_soundly::<Receipt>(&mutate(&receipt().to_canonical(), at, how, &junk))?;
        decodes_soundly::<SignedTx>(&mutate(&tx(9).to_canonical(), at, how, &junk))?;
    }

    /// A key file is read from disk (or pasted into the page): a damaged one is
    /// refused with a reason, never taken for another key.
    #[test]
    fn damaged_key_files(at in any::<usize>(), how in any::<u8>(), junk in prop::collection::vec(any::<u8>(), 0..16)) {
        let k = key();
        let file = serde_json::to_vec(&k.to_file("fuzz")).unwrap();
        let damaged = mutate(&file, at, how, &junk);
        if let Ok(f) = serde_json::from_slice::<KeyFile>(&damaged) {
            if let Ok(back) = f.keypair() {
                prop_assert_eq!(back.public_key(), k.public_key(), "a damaged key file gave another key");
            }
        }
    }
}

#[test]
fn a_length_claiming_gigabytes_is_refused_without_allocating_them() {
    // A batch whose proposer name claims 4 GiB: refused as truncated.
    let mut b = vec![ENCODING_VERSION];
    b.extend_from_slice(&u32::MAX.to_le_bytes());
    b.extend_from_slice(b"node");
    assert!(Batch::from_canonical(&b).is_err());
    // A block claiming 2^32 - 1 transactions, with none following.
    let mut blk = block().to_canonical();
    let n = blk.len();
    let txs = block().txs.iter().map(|t| borsh::to_vec(t).unwrap().len()).sum::<usize>() + 4;
    blk.truncate(n - txs);
    blk.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(Block::from_canonical(&blk).is_err());
}
