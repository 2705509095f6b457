//! The PHR Ledger contract SDK.
//!
//! A contract is a type implementing [`Contract`], exported with [`export_contract!`].
//! Its methods take typed JSON arguments and return typed JSON results through a
//! [`Router`]; state is typed JSON under composite [`Key`]s; the signer is a
//! [`Caller`] with checks for kind, organisation and role; every change is
//! announced with [`emit`].
//!
//! ```ignore
//! use phr_sdk::prelude::*;
//!
//! #[derive(Deserialize)]
//! struct SetArgs { name: String }
//!
//! struct Hello;
//! impl Contract for Hello {
//!     fn invoke(method: &str, args: &str) -> Result<String> {
//!         Router::new(method, args)
//!             .on("set", |a: SetArgs| {
//!                 let me = caller().require_patient()?;
//!                 put(&Key::new("name").part(&me.id), &a.name);
//!                 Ok(())
//!             })
//!             .finish()
//!     }
//!     fn query(method: &str, args: &str) -> Result<String> {
//!         Router::new(method, args).finish()
//!     }
//! }
//! phr_sdk::export_contract!(Hello);
//! ```
//!
//! On `wasm32` the SDK talks to the node through the `phr:chaincode/host` imports,
//! and allocates from a 4 MiB bump arena in the module's initial memory (every
//! call runs in a fresh instance, so nothing needs freeing; a call that needs
//! more grows linear memory as usual, up to the node's limit).
//! On other targets it runs against [`native`], an in-memory host used to measure
//! the same logic compiled natively.

mod caller;
mod env;
mod error;
mod key;
pub mod reads;
mod router;
mod state;
pub mod validate;

#[cfg(not(target_arch = "wasm32"))]
pub mod native;

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod bindings;

#[cfg(target_arch = "wasm32")]
mod arena;

pub use caller::{caller, Caller, CallerKind};
pub use env::{block_height, call, emit, invoker, log_info, now_ms, tx_id};
pub use error::{Error, ErrorCode, Result};
pub use key::Key;
pub use reads::{reader, Reader};
pub use router::Router;
pub use state::{
    delete, exists, get, history, index_ids, index_page, index_page_filtered, page_limit, put, scan_prefix, scan_range,
    Version,
};

/// Everything a contract usually needs, in one import.
pub mod prelude {
    pub use crate::validate;
    pub use crate::{
        block_height, call, caller, delete, emit, exists, get, history, index_ids, index_page, index_page_filtered,
        invoker, now_ms, page_limit, put, reader, scan_prefix, scan_range, tx_id, Caller, CallerKind, Contract, Error,
        ErrorCode, Key, Reader, Result, Router,
    };
    pub use serde::{Deserialize, Serialize};
}

/// A contract: the two entry points the node calls.
///
/// `invoke` runs inside a transaction and may change state; `query` is
/// read-only (a write traps). Both receive the method name and its arguments as
/// JSON text and return JSON text or a typed [`Error`]. An error rejects the
/// transaction: nothing it wrote is kept.
pub trait Contract {
    /// Execute a state-changing method.
    fn invoke(method: &str, args: &str) -> Result<String>;
    /// Execute a read-only method.
    fn query(method: &str, args: &str) -> Result<String>;
    /// Called once when this code replaces `from_code_hash` through the lifecycle.
    /// The default keeps the state as it is.
    fn migrate(_from_code_hash: &str) -> Result<()> {
        Ok(())
    }
}

/// Export a [`Contract`] as the component's `invoke`, `query` and `migrate`.
///
/// On targets other than `wasm32` this expands to nothing: the contract is then
/// an ordinary library whose trait methods can be called directly.
#[macro_export]
macro_rules! export_contract {
    ($ty:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __PhrExport;
            impl $crate::bindings::Guest for __PhrExport {
                fn invoke(
                    method: ::std::string::String,
                    args: ::std::string::String,
                ) -> ::core::result::Result<::std::string::String, $crate::bindings::Error> {
                    <$ty as $crate::Contract>::invoke(&method, &args).map_err($crate::bindings::to_wit)
                }
                fn query(
                    method: ::std::string::String,
                    args: ::std::string::String,
                ) -> ::core::result::Result<::std::string::String, $crate::bindings::Error> {
                    <$ty as $crate::Contract>::query(&method, &args).map_err($crate::bindings::to_wit)
                }
                fn migrate(from: ::std::string::String) -> ::core::result::Result<(), $crate::bindings::Error> {
                    <$ty as $crate::Contract>::migrate(&from).map_err($crate::bindings::to_wit)
                }
            }
    $crate::bindings::__export_bindings!(__PhrExport with_types_in $crate::bindings);
        };
    };
}
