//! The PHR gateway on a 3-node network (one node per organisation): records
//! saved, served, refused and shredded through the chain; backups restored.

use super::harness::*;
use crate::support::*;
use futures::StreamExt;
use phr_ledger::Keypair;
use phr_node::client::Client;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// Every file under `dir` containing `needle`.
fn files_with(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                if bytes.windows(needle.len()).any(|w| w == needle) {
                    out.push(p.display().to_string());
                }
            }
        }
    }
    out
}

/// A FHIR R5 Observation carrying `marker`.
fn observation(patient: &str, marker: &str) -> Vec<u8> {
    json!({
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "718-7", "display": "Hemoglobin"}]},
        "subject": {"reference": format!("Patient/{patient}")},
        "valueQuantity": {"value": 13.8, "unit": "g/dL"},
        "note": [{"text": marker}]
    })
    .to_string()
    .into_bytes()
}

/// Save `content` as a lab record of `patient` through `c` (signed by the saver).
async fn save(c: &Client, patient: &str, content: &[u8]) -> Value {
    let path = format!("/v1/records?patient={patient}&class=lab");
    c.send_bytes(reqwest::Method::POST, &path, "application/fhir+json", content.to_vec()).await.unwrap()
}

/// Wait for an event named `name` about `agent` on `stream`.
async fn disclosed<S: futures::Stream<Item = Value> + Unpin>(stream: &mut S, agent: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let ev = tokio::time::timeout_at(deadline.into(), stream.next())
            .await
            .expect("the disclosure reached the patient's stream")
            .expect("the stream goes on");
        if ev["name"] == "access.disclosed" && ev["payload"]["agent"]["id"] == agent {
            return ev;
        }
    }
}

struct People {
    alice: Keypair,
    bob: Keypair,
    carol: Keypair,
    dan: Keypair,
    eve: Keypair,
}

async fn people(c: &Cluster) -> People {
    let (n0, n1, n2) = (c.client(0), c.client(1), c.client(2));
    let alice = patient(&n0).await;
    let bob = practitioner(&n0, &c.net.admin("stmarys"), &["physician"]).await;
    let carol = practitioner(&n1, &c.net.admin("northclinic"), &["physician"]).await;
    let dan = practitioner(&n1, &c.net.admin("northclinic"), &["physician", "emergency"]).await;
    let eve = practitioner(&n2, &c.net.admin("citylab"), &["physician"]).await;
    People { alice, bob, carol, dan, eve }
}

#[tokio::test(flavor = "multi_thread")]
async fn records_are_served_refused_and_shredded_as_the_chain_decides_and_every_fetch_is_logged() {
    let _serial = serial().await;
    let mut c = Cluster::new(3, Opts::default()).await;
    c.start_all().await;
    let (n0, n1, n2) = (c.client(0), c.client(1), c.client(2));
    let p = people(&c).await;
    let a = p.alice.id().to_hex();
    let consent = n0
        .call(
            &p.alice,
            "consent",
            "create",
            json!({"decision": "deny", "provisions": [{"type": "permit",
            "actors": [{"kind": "organization", "id": "northclinic"}], "purposes": ["TREAT"]}]}),
        )
        .await
        .unwrap();
    // Alice follows her events on the third node.
    let mut stream = Box::pin(n2.signed_by(&p.alice).events(Some(&a), None).await.unwrap());

    // Dr Bob saves Alice's blood count at St Mary's node: sealed there, anchored on chain.
    let marker = format!("PLAINTEXT-MARKER-{}", Keypair::generate().id());
    let content = observation(&a, &marker);
    let saved = save(&n0.signed_by(&p.bob), &a, &content).await;
    let record = saved["record"].clone();
    let rid = record["record_id"].as_str().unwrap().to_string();
    assert_eq!(record["held_by"], "node0");
    assert_eq!(record["sha256"], phr_ledger::sha256(&[&content]).to_hex().as_str());
    // Every node knows the anchor before anyone asks for it through another node.
    c.converged(Duration::from_secs(10)).await;
    assert_eq!(
        (record["source"]["org"].as_str(), record["source"]["author"].as_str()),
        (Some("stmarys"), Some(p.bob.id().to_hex().as_str()))
    );
    assert_eq!(
        files_with(&c.net.path(), marker.as_bytes()),
        Vec::<String>::new(),
        "no plaintext in any file of any node"
    );
    // A save elsewhere than one's own organisation's node is refused.
    let e = c
        .client(1)
        .signed_by(&p.bob)
        .send_bytes(reqwest::Method::POST, &format!("/v1/records?patient={a}&class=lab"), "text/plain", b"x".to_vec())
        .await
        .unwrap_err();
    assert_eq!(e.status, Some(403), "{e}");

    // Dr Carol, under Alice's consent, asks her own node (North Clinic): it is
    // forwarded to St Mary's node, which serves it, byte for byte, and logs it.
    let asked = Instant::now();
    let f = n1.signed_by(&p.carol).fetch_record(&rid, "TREAT").await.unwrap();
    assert_eq!(f.content, content, "byte-identical");
    assert_eq!(f.served_by.as_deref(), Some("node0"), "forwarded to the holder");
    let ev = disclosed(&mut stream, &p.carol.id().to_hex()).await;
    eprintln!("gateway: Alice saw Carol's fetch on her stream {:?} after it was asked", asked.elapsed());
    assert_eq!(
        (ev["payload"]["outcome"].as_str(), ev["payload"]["served_by"].as_str()),
        (Some("success"), Some("node0"))
    );
    assert_eq!(ev["payload"]["authorization"]["consent_id"], consent["result"]["id"]);
    assert_eq!(ev["tx_id"].as_str(), Some(f.disclosure_tx.as_str()));

    // Dr Eve at City Lab, with no consent or grant: 403, and logged as refused.
    let e = n2.signed_by(&p.eve).fetch_record(&rid, "TREAT").await.unwrap_err();
    assert_eq!(e.status, Some(403), "{e}");
    let ev = disclosed(&mut stream, &p.eve.id().to_hex()).await;
    assert_eq!(ev["payload"]["outcome"], "failure");
    assert!(ev["payload"]["reason"].as_str().unwrap().contains("no active grant"), "{ev}");

    // Dr Dan breaks the glass: served, flagged.
    n1.call(
        &p.dan,
        "access-grant",
        "break_glass",
        json!({"patient": a, "record_id": rid, "reason": "unconscious in the ER"}),
    )
    .await
    .unwrap();
    let f = n1.signed_by(&p.dan).fetch_record(&rid, "ETREAT").await.unwrap();
    assert_eq!(f.content, content);
    let ev = disclosed(&mut stream, &p.dan.id().to_hex()).await;
    assert_eq!(ev["payload"]["authorization"]["break_glass"], true);

    // Alice revokes her consent: Carol's next fetch is refused.
    n0.call(&p.alice, "consent", "revoke", json!({"id": consent["result"]["id"]})).await.unwrap();
    let e = n1.signed_by(&p.carol).fetch_record(&rid, "TREAT").await.unwrap_err();
    assert_eq!(e.status, Some(403), "{e}");
    // Alice reads her own record, through any node.
    assert_eq!(n2.signed_by(&p.alice).fetch_record(&rid, "PATRQT").await.unwrap().content, content);

    // The sealed bytes and wrapped key St Mary's node holds (read beside the running node).
    let records_dir = c.net.path().join("node0/data/records");
    let sealed: Vec<Vec<u8>> = {
        let db = phr_state::RecordDb::open_read_only(&records_dir).unwrap();
        let mut v: Vec<Vec<u8>> = db.scan_prefix(b"c/").unwrap().into_iter().map(|(_, v)| v).collect();
        v.extend(db.scan_prefix(b"k/").unwrap().into_iter().map(|(_, v)| v));
        v
    };
    assert_eq!(sealed.len(), 2, "one version: its ciphertext and its wrapped key");
    for s in &sealed {
        assert!(!files_with(&records_dir, &s[..32]).is_empty(), "the sealed bytes are on disk before shredding");
    }

    // Dr Bob disposes of it: the content and keys are destroyed, fetches get 410,
    // and a copy held elsewhere still verifies against the anchored hash.
    let gone = n0
        .signed_by(&p.bob)
        .send_bytes(
            reqwest::Method::DELETE,
            &format!("/v1/records/{rid}?reason=retention%20over"),
            "application/json",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(gone["content_destroyed"], true, "{gone}");
    for (who, node) in [(&p.alice, &n2), (&p.carol, &n1), (&p.bob, &n0)] {
        let e = node.signed_by(who).fetch_record(&rid, "TREAT").await.unwrap_err();
        assert_eq!(e.status, Some(410), "{e}");
    }
    let v = n0
        .signed_by(&p.bob)
        .query(
            "record-anchor",
            "verify",
            &json!({"record_id": rid, "sha256": phr_ledger::sha256(&[&content]).to_hex()}),
        )
        .await
        .unwrap();
    // (Disposal adds a version with the digest current then: the copy matches it.)
    assert_eq!((v["current"].as_bool(), v["status"].as_str()), (Some(true), Some("disposed")), "{v}");
    let node0_dir = c.net.path().join("node0");
    for s in &sealed {
        assert_eq!(
            files_with(&node0_dir, &s[..32]),
            Vec::<String>::new(),
            "no ciphertext or wrapped key left in any file"
        );
    }
    assert_eq!(files_with(&c.net.path(), marker.as_bytes()), Vec::<String>::new());

    // Alice's accounting holds every fetch, served or refused, witnessed by St Mary's node.
    let log = n0.signed_by(&p.alice).query("access-grant", "disclosures", &json!({"patient": a})).await.unwrap();
    let entries: Vec<(String, String)> = log["disclosures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["agent"]["id"].as_str().unwrap()[..8].to_string(), d["outcome"].as_str().unwrap().to_string()))
        .collect();
    let short = |k: &Keypair| k.id().to_hex()[..8].to_string();
    let want = vec![
        (short(&p.carol), "success".to_string()),
        (short(&p.eve), "failure".to_string()),
        (short(&p.dan), "success".to_string()),
        (short(&p.carol), "failure".to_string()),
        (short(&p.alice), "success".to_string()),
        (short(&p.alice), "failure".to_string()),
        (short(&p.carol), "failure".to_string()),
        (short(&p.bob), "failure".to_string()),
    ];
    assert_eq!(entries, want, "every fetch is on the chain, whether the reader liked it or not");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_taken_under_load_is_restored_catches_up_and_honours_disposals_made_after_it() {
    let _serial = serial().await;
    let mut c = Cluster::new(3, Opts::default()).await;
    c.start_all().await;
    let p = people(&c).await;
    let a = p.alice.id().to_hex();
    let n0 = c.client(0);
    let kept = observation(&a, "kept");
    let r0 = save(&n0.signed_by(&p.bob), &a, &kept).await["record"]["record_id"].as_str().unwrap().to_string();
    let doomed = observation(&a, "doomed");
    let r1 = save(&n0.signed_by(&p.bob), &a, &doomed).await["record"]["record_id"].as_str().unwrap().to_string();

    // The backup, while a load commits through all three nodes.
    let (doc, patient) = load_signer(&c).await;
    let chain = c.net.chain_id();
    let load = Load::start((0..3).map(|i| c.client(i)).collect(), anchors(&chain, &doc, &patient, "bk", 3000), 8);
    load.until(200, Duration::from_secs(60)).await;
    let work = tempfile::tempdir().unwrap();
    let out = phr_env(
        &[
            "node",
            "backup",
            "--node",
            &c.nodes[0].as_ref().unwrap().url,
            "--key",
            c.net.admin_key_file("stmarys").to_str().unwrap(),
            "--out",
            "under-load",
        ],
        &[("PHR_CA", c.net.ca().to_str().unwrap())],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let manifest: Value = serde_json::from_slice(&out.stdout).unwrap();
    let backup = std::path::PathBuf::from(manifest["path"].as_str().unwrap());
    assert_eq!(backup, c.net.path().join("node0/backups/under-load"), "under the node's backup_dir");
    // A name that would leave backup_dir is refused.
    let admin0 = n0.signed_by(&c.net.admin("stmarys"));
    let inside = c.net.path().join("node0/backups/sub/dir");
    for bad in ["../escape", "/tmp/x", ".hidden", "", "a/b", inside.to_str().unwrap()] {
        let e = admin0.post_json("/v1/admin/backup", &json!({"out": bad})).await.unwrap_err();
        assert_eq!(e.status, Some(400), "{bad}: {e}");
    }
    assert!(!c.net.path().join("node0/escape").exists());
    let absolute = c.net.path().join("node0/backups/by-path");
    let m = admin0.post_json("/v1/admin/backup", &json!({"out": absolute})).await.unwrap();
    assert_eq!(m["path"].as_str(), absolute.to_str());
    assert!(manifest["height"].as_u64().unwrap() > 0);
    for secret in ["kek.key", "node.key", "tls.key"] {
        assert!(manifest["files"].as_object().unwrap().keys().all(|f| !f.contains(secret)), "no {secret} in a backup");
    }
    load.until(400, Duration::from_secs(60)).await;
    let load_acked = load.stop().await;

    // After the backup, Dr Bob disposes of r1.
    n0.signed_by(&p.bob)
        .send_bytes(
            reqwest::Method::DELETE,
            &format!("/v1/records/{r1}?reason=wrong%20patient"),
            "application/json",
            vec![],
        )
        .await
        .unwrap();

    // St Mary's node is lost. A damaged or partial backup is refused, with nothing written.
    c.kill9(0);
    let cfg_path = c.net.node_config(0);
    let restored_cfg = c.net.path().join("node0/restored.toml");
    let text = std::fs::read_to_string(&cfg_path).unwrap();
    let data_line = text.lines().find(|l| l.starts_with("data_dir")).unwrap().to_string();
    std::fs::write(&restored_cfg, text.replace(&data_line, "data_dir = \"data-restored\"")).unwrap();
    let restored_dir = c.net.path().join("node0/data-restored");
    let damaged = work.path().join("damaged");
    copy_tree(&backup, &damaged);
    let sst = std::fs::read_dir(damaged.join("state"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "sst"))
        .unwrap();
    let mut bytes = std::fs::read(&sst).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&sst, bytes).unwrap();
    let out =
        phr(&["node", "restore", "--from", damaged.to_str().unwrap(), "--config", restored_cfg.to_str().unwrap()]);
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("does not match the manifest"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(&sst).unwrap();
    let out =
        phr(&["node", "restore", "--from", damaged.to_str().unwrap(), "--config", restored_cfg.to_str().unwrap()]);
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("missing"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!restored_dir.exists(), "a refused restore writes nothing");

    // The good backup: restored on a fresh directory, checked, started.
    let out = phr(&["node", "restore", "--from", backup.to_str().unwrap(), "--config", restored_cfg.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let node0 = NodeProc::start(&restored_cfg);
    ready(&node0.client()).await;
    // It catches up with the others: everything acknowledged is there.
    let last = &load_acked.last().unwrap().0;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match node0.client().receipt(last).await {
            Ok(r) => {
                assert_eq!(r["status"], "ok", "{r}");
                break;
            }
            Err(e) => assert!(Instant::now() < deadline, "the restored node did not catch up: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // ... serves what it held, and not what was disposed of after the backup,
    // whose sealed content and key it destroyed.
    let alice0 = node0.anon().signed_by(&p.alice);
    assert_eq!(alice0.fetch_record(&r0, "PATRQT").await.unwrap().content, kept);
    let e = alice0.fetch_record(&r1, "PATRQT").await.unwrap_err();
    assert_eq!(e.status, Some(410), "{e}");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let db = phr_state::RecordDb::open_read_only(&restored_dir.join("records")).unwrap();
        let held: Vec<String> =
            db.scan_prefix(b"m/").unwrap().into_iter().map(|(k, _)| String::from_utf8_lossy(&k).into_owned()).collect();
        if held.iter().all(|k| !k.contains(&r1)) {
            assert!(held.iter().any(|k| k.contains(&r0)), "{held:?}");
            break;
        }
        assert!(Instant::now() < deadline, "the restored node still holds {r1}: {held:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}
