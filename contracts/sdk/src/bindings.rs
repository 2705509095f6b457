//! The generated guest bindings of `phr:chaincode/upgradable-contract`, and the
//! conversions between them and the SDK's own types. Only built for `wasm32`.

wit_bindgen::generate!({
    world: "upgradable-contract",
    path: "../../wit",
    pub_export_macro: true,
    export_macro_name: "__export_bindings",
    default_bindings_module: "phr_sdk::bindings",
});

pub(crate) use phr::chaincode::{host, types};

use crate::{CallerKind, ErrorCode};

/// The SDK error as the WIT error the exports return.
pub fn to_wit(e: crate::Error) -> Error {
    use types::ErrorCode as W;
    let code = match e.code {
        ErrorCode::BadRequest => W::BadRequest,
        ErrorCode::Unauthorized => W::Unauthorized,
        ErrorCode::NotFound => W::NotFound,
        ErrorCode::Conflict => W::Conflict,
        ErrorCode::UnknownMethod => W::UnknownMethod,
        ErrorCode::Denied => W::Denied,
    };
    Error { code, message: e.message }
}

/// A WIT error (from a cross-contract call) as the SDK error.
pub(crate) fn from_wit(e: Error) -> crate::Error {
    use types::ErrorCode as W;
    let code = match e.code {
        W::BadRequest => ErrorCode::BadRequest,
        W::Unauthorized => ErrorCode::Unauthorized,
        W::NotFound => ErrorCode::NotFound,
        W::Conflict => ErrorCode::Conflict,
        W::UnknownMethod => ErrorCode::UnknownMethod,
        W::Denied => ErrorCode::Denied,
    };
    crate::Error { code, message: e.message }
}

pub(crate) fn kind_from_wit(k: types::CallerKind) -> CallerKind {
    use types::CallerKind as W;
    match k {
        W::Anonymous => CallerKind::Anonymous,
        W::Patient => CallerKind::Patient,
        W::Practitioner => CallerKind::Practitioner,
        W::OrgAdmin => CallerKind::OrgAdmin,
        W::Auditor => CallerKind::Auditor,
        W::Node => CallerKind::Node,
    }
}
