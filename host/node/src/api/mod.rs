//! The node's HTTP JSON API. See `docs/api.md` and `docs/openapi.yaml`.
//!
//! Every route is in [`rules::RULES`] with the callers it serves; the
//! [`guard`] enforces limits, body sizes, signatures and that rule before a
//! handler runs, and handlers that decide more (a receipt for its signer, a
//! topic for its owner) say so in the table.

pub mod admin;
mod audit;
mod chain;
mod error;
mod events;
mod fhir;
pub mod guard;
pub mod limits;
mod query;
mod records;
pub mod rules;
mod session;
mod txs;
pub mod views;
mod web;

pub use error::{status_for_contract_code, ApiError};

use crate::runtime::Node;
use axum::extract::State;
use axum::http::{header, Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;
use std::sync::Arc;

/// The OpenAPI description served at `/v1/openapi.yaml`.
pub const OPENAPI: &str = include_str!("../../../../docs/openapi.yaml");

/// The largest bodies the routes take, from the chain's parameters and the
/// node's largest record.
pub fn body_limits(params: &phr_ledger::ChainParams, max_record_bytes: usize) -> guard::BodyLimits {
    guard::BodyLimits {
        small: 16 * 1024,
        query: txs::json_limit(params),
        tx: txs::json_limit(params).max(params.max_any_tx_bytes()) + 1024,
        record: max_record_bytes,
        document: max_record_bytes.div_ceil(3) * 4 + 64 * 1024,
    }
}

/// Registers handlers only for routes of [`rules::RULES`].
struct Routes {
    router: Router<Arc<Node>>,
    registered: usize,
}

impl Routes {
    fn add(mut self, method: Method, path: &'static str, handler: MethodRouter<Arc<Node>>) -> Self {
        assert!(rules::find(&method, path).is_some(), "route {method} {path} has no rule in api::rules");
        self.registered += 1;
        self.router = self.router.route(path, handler);
        self
    }
}

fn filter(m: &Method) -> MethodFilter {
    MethodFilter::try_from(m.clone()).expect("a standard method")
}

/// Every route of the API, behind the guard.
pub fn router(node: Arc<Node>) -> anyhow::Result<Router> {
    let assets = web::assets()?;
    let mut routes = Routes { router: Router::new(), registered: 0 };
    macro_rules! route {
        ($method:ident $path:literal => $handler:expr) => {
            routes = routes.add(Method::$method, $path, on(filter(&Method::$method), $handler));
        };
    }
    route!(GET "/v1/health" => || async { "ok" });
    let a = assets.clone();
    route!(GET "/" => move || web::index(a.clone()));
    route!(GET "/app/{*file}" => move |p| web::file(assets.clone(), p));
    route!(GET "/v1/status" => chain::status);
    route!(GET "/v1/openapi.yaml" => || async { ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI) });
    route!(POST "/v1/txs" => txs::submit);
    route!(GET "/v1/txs/{id}" => txs::get);
    route!(POST "/v1/query" => query::query);
    route!(GET "/v1/blocks" => chain::blocks);
    route!(GET "/v1/blocks/{height}" => chain::block);
    route!(GET "/v1/contracts" => chain::contracts);
    route!(POST "/v1/admin/nodes" => admin::nodes);
    route!(GET "/v1/genesis" => audit::genesis);
    route!(GET "/v1/code/{hash}" => audit::code);
    route!(GET "/v1/raw/blocks" => audit::raw_blocks);
    route!(GET "/v1/audit/explain/{id}" => audit::explain);
    route!(GET "/v1/events" => events::events);
    route!(GET "/metrics" => metrics);
    route!(POST "/v1/records" => records::create);
    route!(POST "/v1/admin/backup" => records::backup);
    route!(GET "/fhir/metadata" => fhir::read::metadata);
    route!(GET "/fhir/DocumentReference/{id}" => fhir::read::document);
    route!(GET "/fhir/Binary/{id}" => fhir::write::binary);
    route!(GET "/fhir/Consent" => fhir::search::consents);
    route!(GET "/fhir/AuditEvent" => fhir::search::audit_events);
    route!(GET "/fhir/Patient/{id}/$everything" => fhir::read::everything);
    // Two methods on one path: merged by axum's router.
    routes = routes.add(
        Method::GET,
        "/fhir/DocumentReference",
        axum::routing::get(fhir::search::documents).post(fhir::write::create),
    );
    routes.registered += 1;
    // Three methods on one path: merged by axum's router.
    routes = routes.add(
        Method::GET,
        "/v1/records/{*id}",
        axum::routing::get(records::get).put(records::amend).delete(records::dispose),
    );
    routes.registered += 2;
    // Two methods on one path: merged by axum's router.
    routes = routes.add(Method::POST, "/v1/session", axum::routing::post(session::open).delete(session::close));
    routes.registered += 1;
    assert_eq!(routes.registered, rules::RULES.len(), "every rule of api::rules has a route");
    Ok(routes
        .router
        .route_layer(axum::middleware::from_fn_with_state(node.clone(), guard::guard))
        .fallback(|| async { ApiError::not_found("no such route; see /v1/openapi.yaml") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "this route does not take that method; see /v1/openapi.yaml",
            )
        })
        .layer(axum::middleware::from_fn(fhir::outcome::outcomes))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(node))
}

async fn metrics(State(node): State<Arc<Node>>) -> impl IntoResponse {
    node.metrics.mempool.set(node.mempool.len() as i64);
    node.metrics.raft(&node.sequencer.status());
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4")], node.metrics.render())
}
