//! Who may call each route: the one table a reviewer reads.
//!
//! Every route of the API is listed here with the class of caller it serves,
//! the largest body it takes, whether it is heavy (run on the read pool and
//! counted against the heavy-request limits), and what the handler decides
//! beyond the class. The guard (`api::guard`) enforces the class before any
//! handler runs; the router refuses to register a route missing from this
//! table. What a query returns is decided by the contract's read rules, as
//! the caller: see `docs/security.md` for the whole matrix.

use axum::http::Method;

/// The class of caller a route serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed or not. Holds nothing about any patient.
    Public,
    /// Any valid signature (or session), enrolled or not.
    Signed,
    /// A signature by an enrolled, unrevoked identity.
    Enrolled,
    /// An auditor, or an admin of this node's organisation.
    ChainReader,
}

/// How large a body a route takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    /// None (GET and DELETE): anything sent is refused with 413.
    Empty,
    /// A small JSON document (16 KiB).
    Small,
    /// A query: contract, method and arguments (the transaction limit).
    Query,
    /// A transaction, JSON or canonical bytes (a contract install at most).
    Tx,
    /// A record's content (the node's `records.max_record_bytes`).
    Record,
    /// A FHIR resource carrying a record's content inline, base64
    /// (`records.max_record_bytes` × 4/3, plus 64 KiB).
    Document,
}

/// One route and its rule.
#[derive(Clone, Debug)]
pub struct Rule {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub body: Body,
    /// Runs on the read pool, within the heavy-request limits.
    pub heavy: bool,
    /// What the handler decides beyond `access`.
    pub note: &'static str,
}

const fn rule(method: Method, path: &'static str, access: Access, body: Body, heavy: bool, note: &'static str) -> Rule {
    Rule { method, path, access, body, heavy, note }
}

use Access::*;
use Body::*;

/// Every route of the API.
pub const RULES: &[Rule] = &[
    rule(Method::GET, "/v1/health", Public, Empty, false, "liveness: `ok`"),
    rule(Method::GET, "/v1/status", Public, Empty, false, "height, hashes, Raft role and membership: no patient data"),
    rule(Method::GET, "/v1/openapi.yaml", Public, Empty, false, "this API's description"),
    rule(Method::GET, "/", Public, Empty, false, "the page for people (web/): no data; it reads with the user's own signed requests"),
    rule(Method::GET, "/app/{*file}", Public, Empty, false, "the page's scripts, styles and vendored libraries"),
    rule(Method::POST, "/v1/session", Enrolled, Small, false, "a session token for the signer"),
    rule(Method::DELETE, "/v1/session", Signed, Empty, false, "ends the session token sent"),
    rule(Method::POST, "/v1/txs", Signed, Tx, false, "any signer may submit (a patient enrols with an unknown key); the contracts decide"),
    rule(Method::GET, "/v1/txs/{id}", Signed, Empty, false, "only the transaction's signer, or a chain reader"),
    rule(Method::POST, "/v1/query", Enrolled, Query, true, "runs as the caller: the contract's read rules decide; an auditor's read of a patient's data is recorded on chain first"),
    rule(Method::GET, "/v1/events", Enrolled, Empty, false, "topic = the caller's own id, or `org:<org>` for that organisation's admins, privacy officers and nodes; no topic: chain readers only"),
    rule(Method::GET, "/v1/contracts", Enrolled, Empty, false, "which code serves each contract: no patient data"),
    rule(Method::GET, "/v1/genesis", Enrolled, Empty, false, "the consortium: organisations, nodes, parameters"),
    rule(Method::GET, "/v1/code/{hash}", Enrolled, Empty, false, "contract code by hash"),
    rule(Method::POST, "/v1/admin/nodes", Signed, Small, false, "the command itself must be signed by an admin of the node's organisation"),
    rule(Method::GET, "/v1/blocks", ChainReader, Empty, true, "block headers"),
    rule(Method::GET, "/v1/blocks/{height}", ChainReader, Empty, true, "a block with every transaction's arguments"),
    rule(Method::GET, "/v1/raw/blocks", ChainReader, Empty, true, "blocks and receipts as stored"),
    rule(Method::GET, "/v1/audit/explain/{id}", ChainReader, Empty, true, "one transaction run again at its pre-state"),
    rule(Method::GET, "/metrics", ChainReader, Empty, false, "Prometheus metrics: counts and timings, no patient data"),
    rule(Method::POST, "/v1/records", Enrolled, Record, false, "a practitioner of this node's organisation, or a patient saving their own data; anchored on chain by this node for the author"),
    rule(Method::PUT, "/v1/records/{*id}", Enrolled, Record, false, "a practitioner of the record's organisation, through a node of it, or the patient for a record they saved themselves"),
    rule(Method::GET, "/v1/records/{*id}", Enrolled, Empty, false, "the chain decides and logs (access-grant.disclose, by the holding node): the patient, an active grant, a permitting consent or a break-glass; forwarded to the holding node"),
    rule(Method::DELETE, "/v1/records/{*id}", Enrolled, Empty, false, "a practitioner or admin of the record's organisation, through a node of it; content and keys are destroyed"),
    rule(Method::POST, "/v1/admin/backup", ChainReader, Small, true, "an admin of this node's organisation only"),
    rule(Method::GET, "/fhir/metadata", Public, Empty, false, "the FHIR CapabilityStatement: no patient data"),
    rule(Method::POST, "/fhir/DocumentReference", Enrolled, Document, false, "as POST /v1/records: the inline attachment is saved here and anchored"),
    rule(Method::GET, "/fhir/DocumentReference", Enrolled, Empty, true, "record-anchor.list_by_patient as the caller: the patient and auditors see all, practitioners what they may read"),
    rule(Method::GET, "/fhir/DocumentReference/{id}", Enrolled, Empty, true, "record-anchor.get as the caller"),
    rule(Method::GET, "/fhir/Binary/{id}", Enrolled, Empty, false, "as GET /v1/records/{id}: the chain decides and logs"),
    rule(Method::GET, "/fhir/Consent", Enrolled, Empty, true, "consent.list as the caller: the patient and auditors"),
    rule(Method::GET, "/fhir/AuditEvent", Enrolled, Empty, true, "access-grant.disclosures as the caller: the patient and auditors"),
    rule(Method::GET, "/fhir/Patient/{id}/$everything", Enrolled, Empty, true, "every part read as the caller: the patient and auditors"),
];

/// The rule of `method path` (`path` as the router matched it).
pub fn find(method: &Method, path: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.method == *method && r.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_one_rule_and_chain_level_routes_serve_chain_readers_only() {
        for (i, a) in RULES.iter().enumerate() {
            for b in &RULES[i + 1..] {
                assert!(!(a.method == b.method && a.path == b.path), "{} {} twice", a.method, a.path);
            }
        }
        for path in ["/v1/blocks", "/v1/blocks/{height}", "/v1/raw/blocks", "/v1/audit/explain/{id}"] {
            assert_eq!(find(&Method::GET, path).unwrap().access, Access::ChainReader, "{path}");
        }
        let public: Vec<_> = RULES.iter().filter(|r| r.access == Access::Public).map(|r| r.path).collect();
        assert_eq!(public, ["/v1/health", "/v1/status", "/v1/openapi.yaml", "/", "/app/{*file}", "/fhir/metadata"]);
    }
}
