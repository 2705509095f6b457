//! Read rules: every query runs as its caller, and each contract decides who
//! may see what. Each query is asked by the same cast of readers; a refused
//! reader gets an error holding nothing of the data, and an auditor's read of
//! a patient's data is announced with an `audit.read` event.

use crate::support::*;
use phr_ledger::{CallerKind, Keypair};
use phr_vm::CallResult;
use serde_json::{json, Value};

const RECORD: &str = "stmarys/lab/1";

struct World {
    c: Chain,
    alice: Keypair,
    bob: Keypair,
    /// Holds an active grant to the record, given by Alice's consent.
    carol: Keypair,
    /// A practitioner of the same organisation as Carol, without a grant.
    dave: Keypair,
    /// Holds the record by break-glass.
    er: Keypair,
    /// Wrote the record, at St Mary's.
    author: Keypair,
    /// Northclinic's privacy officer.
    officer: Keypair,
    auditor: Keypair,
    /// A key nobody enrolled.
    stranger: Keypair,
    consent: String,
    sha: String,
    /// Carol's grant.
    access: String,
    /// The break-glass access.
    glass: String,
}

fn world() -> World {
    let mut c = Chain::new(&["stmarys", "northclinic", "citylab"]);
    let (alice, bob) = (c.patient(), c.patient());
    let author = c.practitioner("stmarys", &["physician"]);
    let carol = c.practitioner("northclinic", &["physician"]);
    let dave = c.practitioner("northclinic", &["physician"]);
    let er = c.practitioner("northclinic", &["physician", "emergency"]);
    let officer = c.practitioner("northclinic", &["privacy-officer"]);
    let auditor = c.auditor();
    let sha = sha("full blood count");
    c.ok(
        &author,
        "record-anchor",
        "anchor",
        json!({"record_id": RECORD, "patient": id(&alice), "sha256": sha, "class": "lab"}),
    );
    let consent = c.ok(
        &alice,
        "consent",
        "create",
        json!({"decision": "deny", "provisions": [{"type": "permit",
        "actors": [{"kind": "organization", "id": "northclinic"}], "purposes": ["TREAT"]}]}),
    );
    let access = c.ok(
        &carol,
        "access-grant",
        "request",
        json!({"patient": id(&alice), "record_id": RECORD, "purpose": "TREAT"}),
    );
    assert_eq!(access["status"], "active");
    c.ok(&carol, "access-grant", "record_access", json!({"access_id": access["id"], "served_by": "node0"}));
    let glass = c.ok(
        &er,
        "access-grant",
        "break_glass",
        json!({"patient": id(&alice), "record_id": RECORD, "reason": "unconscious in ER"}),
    );
    let s = |v: &Value| v.as_str().unwrap().to_string();
    World {
        consent: s(&consent["id"]),
        access: s(&access["id"]),
        glass: s(&glass["id"]),
        sha,
        c,
        alice,
        bob,
        carol,
        dave,
        er,
        author,
        officer,
        auditor,
        stranger: Keypair::generate(),
    }
}

const ALL: &[&str] = &[
    "alice",
    "bob",
    "carol",
    "dave",
    "er",
    "author",
    "stmarys-admin",
    "north-admin",
    "city-admin",
    "officer",
    "auditor",
    "node",
    "stranger",
    "anonymous",
];

/// What one query shows the readers.
#[derive(Default)]
struct Expect<'a> {
    /// Text only the data holds: an id, a digest.
    data: &'a str,
    /// Readers who get the data.
    allowed: &'a [&'a str],
    /// Readers who get an answer without it (a filtered list).
    filtered: &'a [&'a str],
    /// Everyone else gets `not-found` instead of `unauthorized` (except the
    /// unenrolled, who are always `unauthorized`).
    not_found: bool,
    /// What an auditor's read is announced as, if it reads Alice's data.
    audit: Option<&'a str>,
}

impl World {
    fn reader(&self, name: &str) -> Option<&Keypair> {
        match name {
            "alice" => Some(&self.alice),
            "bob" => Some(&self.bob),
            "carol" => Some(&self.carol),
            "dave" => Some(&self.dave),
            "er" => Some(&self.er),
            "author" => Some(&self.author),
            "stmarys-admin" => Some(self.c.admin("stmarys")),
            "north-admin" => Some(self.c.admin("northclinic")),
            "city-admin" => Some(self.c.admin("citylab")),
            "officer" => Some(&self.officer),
            "auditor" => Some(&self.auditor),
            "node" => Some(&self.c.node),
            "stranger" => Some(&self.stranger),
            "anonymous" => None,
            other => panic!("no reader {other}"),
        }
    }

    /// What no refusal may mention.
    fn secrets(&self) -> Vec<String> {
        let key = self.alice.public_key().to_hex();
        let words = ["provisions", "TREAT", "unconscious"].map(String::from);
        [self.consent.clone(), self.sha.clone(), self.access.clone(), self.glass.clone(), key]
            .into_iter()
            .chain(words)
            .collect()
    }

    /// Ask `contract.method(args)` as every reader and check what each gets.
    fn matrix(&self, contract: &str, method: &str, args: Value, want: Expect<'_>) {
        for name in want.allowed.iter().chain(want.filtered) {
            assert!(ALL.contains(name), "unknown reader {name}");
        }
        for &name in ALL {
            let q = format!("{contract}.{method} by {name}");
            let out = self.c.query_out(self.reader(name), contract, method, args.clone());
            let announced = out.events.iter().filter(|e| e.name == "audit.read" && e.topics[0] == id(&self.alice));
            match (want.audit, name) {
                (Some(what), "auditor") if want.allowed.contains(&"auditor") => {
                    assert!(out.events.iter().all(|e| e.name == "audit.read"), "{q}: {:?}", out.events);
                    let payloads: Vec<Value> = announced.map(|e| serde_json::from_str(&e.payload).unwrap()).collect();
                    assert_eq!(payloads, [json!({"patient": id(&self.alice), "what": what})], "{q}");
                }
                _ => assert!(out.events.is_empty(), "{q}: {:?}", out.events),
            }
            match out.result {
                CallResult::Ok(s) if want.allowed.contains(&name) => assert!(s.contains(want.data), "{q}: {s}"),
                CallResult::Ok(s) if want.filtered.contains(&name) => assert!(!s.contains(want.data), "{q}: {s}"),
                CallResult::Err { code, message }
                    if !want.allowed.contains(&name) && !want.filtered.contains(&name) =>
                {
                    let enrolled = !matches!(name, "stranger" | "anonymous");
                    let code_wanted = if want.not_found && enrolled { "not-found" } else { "unauthorized" };
                    assert_eq!(code, code_wanted, "{q}: {message}");
                    for s in self.secrets() {
                        assert!(!message.contains(&s), "{q}: the refusal mentions {s}: {message}");
                    }
                }
                other => panic!("{q}: {other:?}"),
            }
        }
    }

    fn refused(&self, reader: &Keypair, contract: &str, method: &str, args: Value) -> String {
        match self.c.query_out(Some(reader), contract, method, args).result {
            CallResult::Err { code, message } if code == "unauthorized" => message,
            other => panic!("{contract}.{method}: expected a refusal, got {other:?}"),
        }
    }
}

fn code_of(out: phr_executor::QueryOutput) -> String {
    match out.result {
        CallResult::Err { code, .. } => code,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn consents_are_read_by_their_patient_and_auditors_only() {
    let w = world();
    let patient_or_auditor = &["alice", "auditor"][..];
    let one = |what| Expect { data: &w.consent, allowed: patient_or_auditor, audit: Some(what), ..Default::default() };
    w.matrix("consent", "get", json!({"id": w.consent}), one("consent.get"));
    w.matrix("consent", "list", json!({"patient": id(&w.alice)}), one("consent.list"));
    let eval = json!({"patient": id(&w.alice), "actor": {"id": id(&w.carol), "org": "northclinic", "roles": ["physician"]},
        "purpose": "TREAT", "data_class": "lab"});
    w.matrix("consent", "evaluate", eval, one("consent.evaluate"));
    w.matrix("consent", "rules", json!({}), Expect { data: "named_only_labels", allowed: ALL, ..Default::default() });
    // Only an auditor learns that a consent does not exist.
    let missing = json!({"id": "consent-nope"});
    assert_eq!(code_of(w.c.query_out(Some(&w.auditor), "consent", "get", missing.clone())), "not-found");
    assert_eq!(code_of(w.c.query_out(Some(&w.alice), "consent", "get", missing)), "unauthorized");
}

#[test]
fn accesses_are_read_by_the_parties_to_them_their_organisation_and_auditors() {
    let w = world();
    let get = &["alice", "carol", "north-admin", "officer", "auditor"][..];
    let aid = json!({"access_id": w.access});
    let access = |allowed, what| Expect { data: &w.access, allowed, audit: Some(what), ..Default::default() };
    w.matrix("access-grant", "get", aid, access(get, "access-grant.get"));
    let by_patient = json!({"patient": id(&w.alice)});
    w.matrix(
        "access-grant",
        "list_by_patient",
        by_patient.clone(),
        access(&["alice", "auditor"], "access-grant.list_by_patient"),
    );
    w.matrix("access-grant", "disclosures", by_patient, access(&["alice", "auditor"], "access-grant.disclosures"));
    // Another organisation's officers get a list, without Northclinic's accesses.
    let by_requester = Expect {
        filtered: &["stmarys-admin", "city-admin"],
        ..access(&["carol", "north-admin", "officer", "auditor"], "access-grant.list_by_requester")
    };
    w.matrix("access-grant", "list_by_requester", json!({"requester": id(&w.carol)}), by_requester);
    let check = json!({"grantee": id(&w.carol), "patient": id(&w.alice), "record_id": RECORD});
    w.matrix("access-grant", "check", check, access(&["carol", "alice", "auditor"], "access-grant.check"));
    let open = Expect {
        data: &w.glass,
        allowed: &["north-admin", "officer", "auditor"],
        audit: Some("access-grant.open_reviews"),
        ..Default::default()
    };
    w.matrix("access-grant", "open_reviews", json!({"org": "northclinic"}), open);
    let missing = json!({"access_id": "access-nope"});
    assert_eq!(code_of(w.c.query_out(Some(&w.auditor), "access-grant", "get", missing.clone())), "not-found");
    assert_eq!(code_of(w.c.query_out(Some(&w.alice), "access-grant", "get", missing)), "unauthorized");
}

#[test]
fn records_are_read_by_the_patient_the_source_organisation_grantees_and_auditors() {
    let mut w = world();
    let readers = &["alice", "carol", "er", "author", "stmarys-admin", "node", "auditor"][..];
    let rec = |data, what| Expect { data, allowed: readers, audit: Some(what), ..Default::default() };
    let rid = json!({"record_id": RECORD});
    w.matrix("record-anchor", "get", rid.clone(), rec(&w.sha, "record-anchor.get"));
    w.matrix("record-anchor", "history", rid.clone(), rec(&w.sha, "record-anchor.history"));
    let verify = json!({"record_id": RECORD, "sha256": w.sha});
    w.matrix("record-anchor", "verify", verify, rec("\"matched_version\":1", "record-anchor.verify"));
    // Practitioners and organisations get a list of only the records they may read.
    let list = Expect {
        allowed: &["alice", "carol", "er", "author", "stmarys-admin", "node", "auditor"],
        filtered: &["dave", "officer", "north-admin", "city-admin"],
        ..rec(&w.sha, "record-anchor.list_by_patient")
    };
    w.matrix("record-anchor", "list_by_patient", json!({"patient": id(&w.alice)}), list);
    let missing = json!({"record_id": "stmarys/lab/none"});
    assert_eq!(code_of(w.c.query_out(Some(&w.auditor), "record-anchor", "get", missing.clone())), "not-found");
    assert_eq!(code_of(w.c.query_out(Some(&w.author), "record-anchor", "get", missing)), "unauthorized");

    // A grant ending ends the reading; break-glass still reads.
    let alice = w.alice.clone();
    w.c.ok(&alice, "access-grant", "revoke", json!({"access_id": w.access}));
    let m = w.refused(&w.carol, "record-anchor", "get", rid.clone());
    assert!(!m.contains(&w.sha), "{m}");
    assert_eq!(w.c.query(&w.er, "record-anchor", "get", rid)["sha256"], w.sha.as_str());
}

#[test]
fn patients_are_invisible_but_to_themselves_and_auditors_and_the_directory_is_for_the_enrolled() {
    let w = world();
    let enrolled: Vec<&str> = ALL.iter().copied().filter(|n| !matches!(*n, "stranger" | "anonymous")).collect();
    let alice_key = w.alice.public_key().to_hex();
    let alice = Expect {
        data: &alice_key,
        allowed: &["alice", "auditor"],
        not_found: true,
        audit: Some("identity.get"),
        ..Default::default()
    };
    w.matrix("identity", "get", json!({"id": id(&w.alice)}), alice);
    let author_key = w.author.public_key().to_hex();
    let author = Expect { data: &author_key, allowed: &enrolled, ..Default::default() };
    w.matrix("identity", "get", json!({"id": id(&w.author)}), author);
    // A list shows the directory (no patient) to everyone enrolled, and every
    // identity, Alice included, to auditors only.
    let others: Vec<&str> = enrolled.iter().copied().filter(|n| *n != "auditor").collect();
    let list = Expect {
        data: &alice_key,
        allowed: &["auditor"],
        filtered: &others,
        audit: Some("identity.list"),
        ..Default::default()
    };
    w.matrix("identity", "list", json!({}), list);
    let directory =
        Expect { data: &author_key, allowed: &enrolled, audit: Some("identity.list"), ..Default::default() };
    w.matrix("identity", "list", json!({}), directory);
}

#[test]
fn a_practitioner_cannot_evaluate_consent_but_its_request_is_decided_by_it() {
    let mut w = world();
    let dave = w.dave.clone();
    let args = json!({"patient": id(&w.alice), "actor": {"id": id(&dave), "org": "northclinic", "roles": ["physician"]},
        "purpose": "TREAT", "data_class": "lab"});
    let m = w.refused(&dave, "consent", "evaluate", args.clone());
    assert!(!m.contains(&w.consent) && !m.contains("permit"), "{m}");
    let e = w.c.query(&w.alice, "consent", "evaluate", args);
    assert_eq!((e["decision"].as_str(), e["consent_id"].as_str()), (Some("permit"), Some(w.consent.as_str())));
    // The request evaluates the same consent through access-grant's nested call.
    let g = w.c.ok(
        &dave,
        "access-grant",
        "request",
        json!({"patient": id(&w.alice), "record_id": RECORD, "purpose": "TREAT"}),
    );
    assert_eq!((g["status"].as_str(), g["authorization"]["kind"].as_str()), (Some("active"), Some("consent")));
    assert_eq!(g["authorization"]["consent_id"], w.consent.as_str());
    assert_eq!(w.c.query(&dave, "record-anchor", "get", json!({"record_id": RECORD}))["sha256"], w.sha.as_str());
}

fn audit_args(w: &World, patients: &[&Keypair]) -> Value {
    let patients: Vec<String> = patients.iter().map(|k| id(k)).collect();
    json!({"auditor": id(&w.auditor), "patients": patients, "what": "consent.list", "served_by": "node0"})
}

#[test]
fn only_a_node_records_an_audit_and_the_patient_reads_it_in_their_disclosures() {
    let mut w = world();
    let args = audit_args(&w, &[&w.alice, &w.bob]);
    for k in [w.carol.clone(), w.auditor.clone(), w.alice.clone(), w.c.admin("stmarys").clone()] {
        w.c.rejected(&k, "access-grant", "record_audit", args.clone(), "unauthorized");
    }
    let node = w.c.node.clone();
    let r = w.c.send(&node, "access-grant", "record_audit", args);
    assert!(r.status.is_ok(), "{:?}", r.status);
    let topics: Vec<&[String]> = r.events.iter().map(|e| e.topics.as_slice()).collect();
    assert_eq!(topics, [[id(&w.alice), id(&w.auditor)], [id(&w.bob), id(&w.auditor)]]);
    assert!(r.events.iter().all(|e| e.name == "access.audited"));

    for p in [&w.alice, &w.bob] {
        let log = w.c.query(p, "access-grant", "disclosures", json!({"patient": id(p)}));
        let audits: Vec<&Value> =
            log["disclosures"].as_array().unwrap().iter().filter(|d| d["authorization"]["kind"] == "audit").collect();
        assert_eq!(audits.len(), 1, "{log}");
        let d = audits[0];
        assert_eq!(
            (d["agent"]["id"].as_str(), d["agent"]["role"].as_str()),
            (Some(id(&w.auditor).as_str()), Some("auditor"))
        );
        assert_eq!((d["purpose"].as_str(), d["action"].as_str()), (Some("HCOMPL"), Some("read")));
        assert_eq!((d["witness"].as_str(), d["served_by"].as_str()), (Some(id(&node).as_str()), Some("node0")));
        assert_eq!(d["data_class"], "consent.list");
    }
    let none: Vec<&Keypair> = Vec::new();
    w.c.rejected(&node, "access-grant", "record_audit", audit_args(&w, &none), "bad-request");
}

#[test]
fn an_org_admin_enrols_a_node_of_its_org_which_then_records_audits() {
    let mut w = world();
    let key = Keypair::generate();
    let args = json!({"public_key": key.public_key()});
    for k in [w.officer.clone(), w.alice.clone(), w.auditor.clone(), w.c.node.clone()] {
        w.c.rejected(&k, "identity", "enrol_node", args.clone(), "unauthorized");
    }
    let north = w.c.admin("northclinic").clone();
    let rec = w.c.ok(&north, "identity", "enrol_node", args.clone());
    assert_eq!((rec["kind"].as_str(), rec["org"].as_str()), (Some("node"), Some("northclinic")));
    assert_eq!((rec["roles"].clone(), rec["enrolled_by"].as_str()), (json!(["node"]), Some(id(&north).as_str())));
    w.c.rejected(&north, "identity", "enrol_node", args, "conflict");

    let out = w.c.ok(&key, "access-grant", "record_audit", audit_args(&w, &[&w.alice]));
    assert_eq!(out[0]["witness"], id(&key));
    // Any node of the consortium reads an anchor (it must, to forward a fetch
    // to the holder), whichever organisation anchored it.
    let rid = json!({"record_id": RECORD});
    assert_eq!(w.c.query(&key, "record-anchor", "get", rid.clone())["sha256"], w.sha.as_str());
    assert_eq!(w.c.query(&w.c.node, "record-anchor", "get", rid)["sha256"], w.sha.as_str());
}

#[test]
fn unsigned_unknown_and_revoked_readers_read_as_anonymous() {
    let mut w = world();
    let kind = |w: &World, k: Option<&Keypair>| w.c.query_out(k, "consent", "rules", json!({})).caller.kind;
    assert_eq!(kind(&w, None), CallerKind::Anonymous);
    assert_eq!(kind(&w, Some(&w.stranger)), CallerKind::Anonymous);
    assert_eq!(kind(&w, Some(&w.author)), CallerKind::Practitioner);
    let admin = w.c.admin("stmarys").clone();
    w.c.ok(&admin, "identity", "revoke", json!({"id": id(&w.author)}));
    assert_eq!(kind(&w, Some(&w.author)), CallerKind::Anonymous);
    w.refused(&w.author, "record-anchor", "get", json!({"record_id": RECORD}));
}

#[test]
fn page_cursors_never_name_what_the_reader_was_not_shown() {
    let mut w = world();
    // A second record of Alice's that nobody outside St Mary's was granted.
    let author = w.author.clone();
    w.c.ok(
        &author,
        "record-anchor",
        "anchor",
        json!({"record_id": "stmarys/lab/2", "patient": id(&w.alice), "sha256": sha("second"), "class": "lab"}),
    );
    let hidden = |v: &Value, what: &str| {
        for s in ["stmarys/lab/1", "stmarys/lab/2", w.access.as_str(), w.glass.as_str(), &id(&w.alice)] {
            assert!(!v.to_string().contains(s), "{what} names {s}: {v}");
        }
    };
    // Dave, granted nothing, pages through Alice's records one at a time.
    let dave = w.dave.clone();
    let p = w.c.query(&dave, "record-anchor", "list_by_patient", json!({"patient": id(&w.alice), "limit": 1}));
    assert_eq!((p["records"].clone(), p["next"].clone()), (json!([]), Value::Null), "{p}");
    hidden(&p, "dave's page");
    // Carol sees record 1 (granted) but not record 2, and her cursor is record 1.
    let carol = w.carol.clone();
    let p = w.c.query(&carol, "record-anchor", "list_by_patient", json!({"patient": id(&w.alice), "limit": 1}));
    assert_eq!(p["records"][0]["record_id"], "stmarys/lab/1");
    let next = p["next"].as_str().map(str::to_string);
    if let Some(n) = &next {
        assert_eq!(n, "stmarys/lab/1", "the cursor names only what was shown");
        let p2 = w.c.query(
            &carol,
            "record-anchor",
            "list_by_patient",
            json!({"patient": id(&w.alice), "limit": 1, "after": n}),
        );
        assert_eq!((p2["records"].clone(), p2["next"].clone()), (json!([]), Value::Null), "{p2}");
    }
    // Another organisation's admin pages through Carol's requests: none shown, no cursor.
    let city = w.c.admin("citylab").clone();
    let p = w.c.query(&city, "access-grant", "list_by_requester", json!({"requester": id(&w.carol), "limit": 1}));
    assert_eq!((p["accesses"].clone(), p["next"].clone()), (json!([]), Value::Null), "{p}");
    hidden(&p, "citylab's page");
    // Bob pages through the directory one identity at a time: never Alice.
    let bob = w.bob.clone();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut args = json!({"limit": 1});
        if let Some(a) = &after {
            args["after"] = json!(a);
        }
        let p = w.c.query(&bob, "identity", "list", args);
        hidden(&p, "bob's directory page");
        pages += 1;
        match p["next"].as_str() {
            Some(n) => after = Some(n.to_string()),
            None => break,
        }
        assert!(pages < 100);
    }
    assert!(pages > 5, "Bob paged through the whole directory ({pages} pages)");
}
