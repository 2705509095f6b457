//! `phr demo`: a temporary network on loopback, the contracts live, and a
//! patient's story told step by step over the node's HTTP API. Every step checks
//! its outcome; the demo exits non-zero if the system did anything else.

use crate::client::Client;
use crate::netinit;
use anyhow::{bail, Context};
use futures::StreamExt;
use phr_ledger::Keypair;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Create the network in this directory (kept afterwards) instead of a temporary one.
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// The people of the story.
struct Cast {
    names: BTreeMap<String, &'static str>,
}

impl Cast {
    fn name(&self, id: &str) -> String {
        self.names.get(id).map(|n| n.to_string()).unwrap_or_else(|| format!("{}…", &id[..id.len().min(8)]))
    }
}

struct Story {
    client: Client,
    events: mpsc::UnboundedReceiver<Value>,
    cast: Arc<Cast>,
    step: usize,
    txs: usize,
    refusals: usize,
    seen_events: usize,
}

fn short(s: &str) -> String {
    format!("{}…", &s[..s.len().min(12)])
}

impl Story {
    fn step(&mut self, text: &str) {
        self.step += 1;
        println!("\n{:>2}. {text}", self.step);
    }

    fn say(&self, text: impl AsRef<str>) {
        println!("      {}", text.as_ref());
    }

    /// Submit a transaction, wait for its commit, and return its result (or fail).
    async fn ok(&mut self, key: &Keypair, contract: &str, method: &str, args: Value) -> anyhow::Result<Value> {
        let r = self
            .client
            .call(key, contract, method, args)
            .await
            .with_context(|| format!("{contract}.{method} should have succeeded"))?;
        self.txs += 1;
        Ok(r)
    }

    /// Submit a transaction that the contract must refuse with `code`.
    async fn refused(
        &mut self,
        key: &Keypair,
        contract: &str,
        method: &str,
        args: Value,
        code: &str,
    ) -> anyhow::Result<String> {
        match self.client.call(key, contract, method, args).await {
            Ok(r) => bail!("{contract}.{method} should have been refused ({code}) but committed: {r}"),
            Err(e) if e.code == code => {
                self.txs += 1;
                self.refusals += 1;
                Ok(e.message)
            }
            Err(e) => bail!("{contract}.{method} should have been refused with {code}, got {e}"),
        }
    }

    /// Print the events that reached Alice's stream, waiting for `expected` ones.
    async fn stream(&mut self, expected: &[&str]) -> anyhow::Result<()> {
        let mut missing: Vec<&str> = expected.to_vec();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let ev = if missing.is_empty() {
                match self.events.try_recv() {
                    Ok(ev) => ev,
                    Err(_) => return Ok(()),
                }
            } else {
                match tokio::time::timeout_at(deadline, self.events.recv()).await {
                    Ok(Some(ev)) => ev,
                    _ => bail!("Alice's event stream did not show {missing:?}"),
                }
            };
            let name = ev["name"].as_str().unwrap_or_default().to_string();
            if let Some(i) = missing.iter().position(|m| *m == name) {
                missing.remove(i);
            }
            self.seen_events += 1;
            println!(
                "      ↳ Alice's event stream, block {}: {name} — {}",
                ev["height"],
                self.describe(&name, &ev["payload"])
            );
        }
    }

    fn describe(&self, name: &str, p: &Value) -> String {
        let who = |v: &Value| self.cast.name(v.as_str().unwrap_or_default());
        match name {
            "identity.enrolled" => format!("{} enrolled as {}", who(&p["id"]), p["kind"].as_str().unwrap_or("?")),
            "consent.created" | "consent.revoked" => {
                format!("consent {} is {}", short(p["id"].as_str().unwrap_or("")), p["status"].as_str().unwrap_or("?"))
            }
            "record.anchored" | "record.amended" | "record.disposed" => format!(
                "record {} v{} ({}) by {} of {}",
                p["record_id"].as_str().unwrap_or("?"),
                p["version"],
                p["status"].as_str().unwrap_or("?"),
                who(&p["source"]["author"]),
                p["source"]["org"].as_str().unwrap_or("?")
            ),
            "access.disclosed" => format!(
                "{} ({}, {}) read {} for {}{}, served by {}",
                who(&p["agent"]["id"]),
                p["agent"]["org"].as_str().unwrap_or("?"),
                p["agent"]["role"].as_str().unwrap_or("?"),
                p["record_id"].as_str().unwrap_or("?"),
                p["purpose"].as_str().unwrap_or("?"),
                if p["authorization"]["break_glass"] == true { " [BREAK-GLASS]" } else { "" },
                p["served_by"].as_str().unwrap_or("?")
            ),
            _ if name.starts_with("access.") => format!(
                "{} by {} for {}: {}{}",
                p["effective_status"].as_str().unwrap_or("?"),
                who(&p["requester"]["id"]),
                p["purpose"].as_str().unwrap_or("?"),
                p["decision_reason"].as_str().unwrap_or(""),
                match p["review"]["status"].as_str() {
                    Some(s) => format!(" [review: {s}]"),
                    None => String::new(),
                }
            ),
            _ => p.to_string(),
        }
    }
}

fn sha_hex(data: &str) -> String {
    phr_ledger::sha256(&[data.as_bytes()]).to_hex()
}

/// Run the demo.
pub async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let tmp = tempfile::tempdir()?;
    let dir = args.dir.clone().unwrap_or_else(|| tmp.path().join("network"));
    let (net, node) = netinit::start_local(&dir, &["stmarys", "northclinic", "citylab"], "phr-demo").await?;
    let client = net.client(&node.url())?;

    println!("PHR Ledger demo");
    println!("  a one-node network on {} (chain {}, data in {})", node.url(), net.genesis.chain_id, dir.display());
    println!("  organisations: St Mary's hospital (stmarys), North Clinic (northclinic), City Lab (citylab)");
    for c in &net.genesis.contracts {
        println!("  contract {:<14} code {}", c.name, short(&c.code_hash.to_hex()));
    }
    println!("  health data never goes on the chain: only hashes, consents, grants and the access log");

    let outcome = story(&net, client.clone()).await;
    let status = client.status().await.ok();
    node.stop().await;
    let outcome = match outcome {
        Ok(summary) => audit(&net).await.map(|line| [summary, vec![line]].concat()),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(summary) => {
            println!("\nSummary");
            for line in summary {
                println!("  {line}");
            }
            if let Some(s) = status {
                println!(
                    "  chain height {}, last block {}, state root {}",
                    s["height"],
                    short(s["last_block_hash"].as_str().unwrap_or("")),
                    short(s["state_root"].as_str().unwrap_or(""))
                );
            }
            if args.dir.is_some() {
                println!(
                    "  the network is kept in {}; start it again with: phr node start --config {}",
                    dir.display(),
                    net.node_configs[0].display()
                );
            }
            println!("\nDemo complete.");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("\nDEMO FAILED: {e:#}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// An auditor replays the whole chain from the node's data directory.
async fn audit(net: &netinit::Network) -> anyhow::Result<String> {
    println!("\n13. An auditor replays the chain from the node's data directory");
    let cfg = crate::config::NodeConfig::load(&net.node_configs[0])?;
    let report = tokio::task::spawn_blocking(move || {
        let source = phr_audit::StoreSource::open(&cfg.data_dir, &cfg.genesis)?;
        phr_audit::replay(&source, &phr_audit::ReplayOptions::default(), &mut |_| {}, None)
    })
    .await??;
    if let Some(d) = &report.divergence {
        anyhow::bail!("the replay diverged at height {}: {}", d.height, d.detail.join("; "));
    }
    println!(
        "      {} blocks and {} transactions executed again in a fresh state: every receipt, every root and every key matches",
        report.blocks, report.txs
    );
    Ok(format!(
        "the chain was replayed from its genesis and matches what the code computes ({} transactions)",
        report.txs
    ))
}

async fn story(net: &netinit::Network, client: Client) -> anyhow::Result<Vec<String>> {
    let (stmarys, northclinic) = (net.admin_key("stmarys")?, net.admin_key("northclinic")?);
    let alice = Keypair::generate();
    let bob = Keypair::generate();
    let carol = Keypair::generate();
    let dan = Keypair::generate();
    let erin = Keypair::generate();
    let a = alice.id().to_hex();
    let mut names = BTreeMap::new();
    for (k, n) in [(&alice, "Alice"), (&bob, "Dr Bob"), (&carol, "Dr Carol"), (&dan, "Dr Dan"), (&erin, "Erin")] {
        names.insert(k.id().to_hex(), n);
    }
    let cast = Arc::new(Cast { names });

    // Alice follows everything that concerns her, from before her first step.
    let (tx, rx) = mpsc::unbounded_channel();
    // Alice's stream is signed by Alice: nobody else may follow her topic.
    let stream = client.signed_by(&alice).events(Some(&a), None).await;
    let stream = match stream {
        Ok(s) => s,
        // Before she enrols her key is unknown; she subscribes right after.
        Err(e) if e.status == Some(401) => {
            client.call(&alice, "identity", "enrol_patient", json!({})).await.context("Alice enrols")?;
            client.signed_by(&alice).events(Some(&a), Some(0)).await.context("subscribe to Alice's events")?
        }
        Err(e) => return Err(e).context("subscribe to Alice's events"),
    };
    let follower = tokio::spawn(async move {
        futures::pin_mut!(stream);
        while let Some(ev) = stream.next().await {
            if tx.send(ev).is_err() {
                break;
            }
        }
    });
    let mut s = Story { client, events: rx, cast, step: 0, txs: 0, refusals: 0, seen_events: 0 };

    s.step("Alice enrols herself as a patient with her own key, and follows her own event stream");
    s.txs += 1;
    s.say(format!("patient id {a}; no name, no health data on chain; every request she sends is signed with her key"));
    s.stream(&["identity.enrolled"]).await?;
    match s.client.anonymous().events(Some(&a), None).await {
        Err(e) if e.status == Some(401) => s.say("an unsigned client asking for Alice's stream: refused (401)"),
        other => bail!("an unsigned client should not follow Alice's stream, got {:?}", other.err()),
    }

    s.step("Organisation admins enrol their practitioners with roles");
    for (admin, key, who, roles) in [
        (&stmarys, &bob, "Dr Bob, physician at St Mary's", json!(["physician"])),
        (&northclinic, &carol, "Dr Carol, physician at North Clinic", json!(["physician"])),
        (&northclinic, &dan, "Dr Dan, emergency physician at North Clinic", json!(["physician", "emergency"])),
        (&northclinic, &erin, "Erin, privacy officer at North Clinic", json!(["privacy-officer"])),
    ] {
        s.ok(admin, "identity", "enrol_practitioner", json!({"public_key": key.public_key(), "roles": roles})).await?;
        s.say(format!("enrolled {who}"));
    }
    let m = s
        .refused(
            &carol,
            "identity",
            "enrol_practitioner",
            json!({"public_key": Keypair::generate().public_key(), "roles": ["physician"]}),
            "unauthorized",
        )
        .await?;
    s.say(format!("Dr Carol tries to enrol a colleague herself: refused ({m})"));

    s.step("Alice consents: North Clinic may access her lab and imaging results for treatment, for a year; everything else is denied");
    let year = 365 * 24 * 3600 * 1000u64;
    let now = s.client.status().await?["last_block_time_ms"].as_u64().unwrap_or(0);
    let consent = s
        .ok(
            &alice,
            "consent",
            "create",
            json!({
                "decision": "deny",
                "period": {"start_ms": now, "end_ms": now + year},
                "provisions": [{"type": "permit", "actors": [{"kind": "organization", "id": "northclinic"}],
                                "purposes": ["TREAT"], "actions": ["access"], "data_classes": ["lab", "imaging"]}]
            }),
        )
        .await?;
    let consent_id = consent["result"]["id"].as_str().unwrap_or_default().to_string();
    s.say(format!("consent {consent_id} (FHIR-shaped: base decision deny, one permit provision)"));
    let m = s.refused(&bob, "consent", "revoke", json!({"id": consent_id}), "unauthorized").await?;
    s.say(format!("Dr Bob tries to revoke Alice's consent: refused ({m})"));
    match s.client.signed_by(&bob).query("consent", "list", &json!({"patient": a})).await {
        Err(e) if e.status == Some(403) => {
            s.say(format!("Dr Bob tries to read Alice's consents: refused ({})", e.message))
        }
        other => bail!("Dr Bob should not read Alice's consents, got {other:?}"),
    }
    let mine = s.client.signed_by(&alice).query("consent", "list", &json!({"patient": a})).await?;
    s.say(format!("Alice reads her own consents: {} active", mine["consents"].as_array().map_or(0, |c| c.len())));
    s.stream(&["consent.created"]).await?;

    s.step("Dr Bob anchors Alice's blood test at St Mary's");
    let record_id = "stmarys/lab/2026-000123";
    let document = "CBC 2026-11-24: WBC 6.1, Hb 13.8, PLT 250 (kept at St Mary's, encrypted)";
    let v1 = sha_hex(document);
    s.ok(
        &bob,
        "record-anchor",
        "anchor",
        json!({"record_id": record_id, "patient": a, "sha256": v1, "class": "lab", "device": "hematology-analyzer-7"}),
    )
    .await?;
    s.say(format!("record {record_id}: SHA-256 {} anchored; the document stays at St Mary's", short(&v1)));
    let m = s
        .refused(
            &alice,
            "record-anchor",
            "anchor",
            json!({"record_id": "fake/1", "patient": a, "sha256": v1, "class": "lab"}),
            "unauthorized",
        )
        .await?;
    s.say(format!("Alice tries to anchor a record as if she were a hospital: refused ({m})"));
    s.stream(&["record.anchored"]).await?;

    s.step("Dr Carol at North Clinic requests the record for treatment");
    let g = s
        .ok(&carol, "access-grant", "request", json!({"patient": a, "record_id": record_id, "purpose": "TREAT"}))
        .await?;
    let grant = &g["result"];
    if grant["status"] != "active" {
        bail!("the request should have been granted by consent, got {grant}");
    }
    let access_id = grant["id"].as_str().unwrap_or_default().to_string();
    s.say(format!("granted automatically: {}", grant["decision_reason"].as_str().unwrap_or("")));
    s.stream(&["access.granted"]).await?;

    s.step("St Mary's checks the grant, serves the document, and the disclosure is logged");
    let check = s
        .client
        .signed_by(&carol)
        .query("access-grant", "check", &json!({"grantee": carol.id().to_hex(), "patient": a, "record_id": record_id}))
        .await?;
    if check["allowed"] != true {
        bail!("the grant check should allow Dr Carol: {check}");
    }
    let verified = s
        .client
        .signed_by(&bob)
        .query("record-anchor", "verify", &json!({"record_id": record_id, "sha256": sha_hex(document)}))
        .await?;
    s.say(format!(
        "grant {} allowed; the document served matches the anchored hash: {}",
        short(&access_id),
        verified["current"]
    ));
    s.ok(&carol, "access-grant", "record_access", json!({"access_id": access_id, "served_by": "node0"})).await?;
    s.stream(&["access.disclosed"]).await?;

    s.step("Alice revokes her consent");
    s.ok(&alice, "consent", "revoke", json!({"id": consent_id})).await?;
    s.stream(&["consent.revoked"]).await?;

    s.step("Dr Carol's grant stops working, and her next request is denied");
    let m = s
        .refused(
            &carol,
            "access-grant",
            "record_access",
            json!({"access_id": access_id, "served_by": "node0"}),
            "denied",
        )
        .await?;
    s.say(format!("using the old grant: refused ({m})"));
    let d = s
        .ok(&carol, "access-grant", "request", json!({"patient": a, "record_id": record_id, "purpose": "TREAT"}))
        .await?;
    if d["result"]["status"] != "denied" {
        bail!("the request after revocation should be denied, got {}", d["result"]);
    }
    s.say(format!("new request: denied ({})", d["result"]["decision_reason"].as_str().unwrap_or("")));
    s.stream(&["access.denied"]).await?;

    s.step("Emergency: Alice is brought unconscious to North Clinic; Dr Dan breaks the glass");
    let m = s
        .refused(
            &carol,
            "access-grant",
            "break_glass",
            json!({"patient": a, "record_id": record_id, "reason": "ER"}),
            "unauthorized",
        )
        .await?;
    s.say(format!("Dr Carol (no emergency role) tries: refused ({m})"));
    let bg = s
        .ok(
            &dan,
            "access-grant",
            "break_glass",
            json!({"patient": a, "record_id": record_id, "reason": "unconscious patient in the ER, suspected sepsis"}),
        )
        .await?;
    let bg_id = bg["result"]["id"].as_str().unwrap_or_default().to_string();
    s.say(format!(
        "break-glass {}: flagged, valid 4 hours, review {}",
        short(&bg_id),
        bg["result"]["review"]["status"].as_str().unwrap_or("?")
    ));
    s.ok(&dan, "access-grant", "record_access", json!({"access_id": bg_id, "served_by": "node0"})).await?;
    s.stream(&["access.break-glass", "access.disclosed"]).await?;

    s.step("Erin, North Clinic's privacy officer, reviews the break-glass");
    let m = s
        .refused(&dan, "access-grant", "review", json!({"access_id": bg_id, "outcome": "justified"}), "unauthorized")
        .await?;
    s.say(format!("Dr Dan tries to review his own access: refused ({m})"));
    s.ok(
        &erin,
        "access-grant",
        "review",
        json!({"access_id": bg_id, "outcome": "justified", "note": "sepsis protocol, admitted to ICU"}),
    )
    .await?;
    s.stream(&["access.reviewed"]).await?;

    s.step("St Mary's amends the record, then disposes of it at the end of its retention period");
    let v2 = sha_hex("CBC 2026-11-24: WBC 6.1, Hb 13.8 g/dL, PLT 250 (units corrected)");
    s.ok(&bob, "record-anchor", "amend", json!({"record_id": record_id, "sha256": v2, "reason": "units corrected"}))
        .await?;
    s.ok(&bob, "record-anchor", "dispose", json!({"record_id": record_id, "reason": "retention period over"})).await?;
    let v = s
        .client
        .signed_by(&bob)
        .query("record-anchor", "verify", &json!({"record_id": record_id, "sha256": v1}))
        .await?;
    s.say(format!(
        "the original document still verifies as version {} of a {} record: the data is shredded, the hashes stay",
        v["matched_version"],
        v["status"].as_str().unwrap_or("?")
    ));
    s.stream(&["record.amended", "record.disposed"]).await?;

    s.step("Alice's accounting of disclosures");
    let log = s.client.signed_by(&alice).query("access-grant", "disclosures", &json!({"patient": a})).await?;
    let entries = log["disclosures"].as_array().cloned().unwrap_or_default();
    for e in &entries {
        let review = if e["authorization"]["break_glass"] == true {
            let acc = s
                .client
                .signed_by(&alice)
                .query("access-grant", "get", &json!({"access_id": e["authorization"]["access_id"]}))
                .await?;
            format!(" (review: {})", acc["review"]["status"].as_str().unwrap_or("?"))
        } else {
            String::new()
        };
        s.say(format!(
            "{} read {} for {} under {}{review}, served by {} (tx {})",
            s.cast.name(e["agent"]["id"].as_str().unwrap_or("")),
            e["record_id"].as_str().unwrap_or("?"),
            e["purpose"].as_str().unwrap_or("?"),
            e["authorization"]["kind"].as_str().unwrap_or("?"),
            e["served_by"].as_str().unwrap_or("?"),
            short(e["tx_id"].as_str().unwrap_or(""))
        ));
    }
    if entries.len() != 2 {
        bail!("Alice should see exactly 2 disclosures, saw {}", entries.len());
    }
    s.stream(&[]).await?;
    follower.abort();

    Ok(vec![
        format!(
            "{} transactions committed, {} of them refused by the contracts as the rules require",
            s.txs, s.refusals
        ),
        format!("{} events reached Alice's stream as they happened", s.seen_events),
        "2 disclosures accounted for; 1 break-glass flagged, notified and reviewed".to_string(),
    ])
}
