//! Dispatch of a method name to a typed handler.

use crate::{Error, ErrorCode, Result};
use serde::{de::DeserializeOwned, Serialize};

/// Routes one call to the handler registered under its method name, parsing the
/// JSON arguments into the handler's argument type and its result back to JSON.
///
/// Malformed arguments are a `bad-request` naming the method and the problem; an
/// unregistered method is an `unknown-method` listing the methods there are.
pub struct Router<'a> {
    method: &'a str,
    args: &'a str,
    known: Vec<&'static str>,
    result: Option<Result<String>>,
}

impl<'a> Router<'a> {
    pub fn new(method: &'a str, args: &'a str) -> Self {
        Router { method, args, known: Vec::new(), result: None }
    }

    /// Register `handler` under `name`.
    pub fn on<A, R, F>(mut self, name: &'static str, handler: F) -> Self
    where
        A: DeserializeOwned,
        R: Serialize,
        F: FnOnce(A) -> Result<R>,
    {
        self.known.push(name);
        if self.result.is_none() && self.method == name {
            let args = if self.args.trim().is_empty() { "{}" } else { self.args };
            let out = serde_json::from_str::<A>(args)
                .map_err(|e| Error::bad_request(format!("invalid arguments for `{name}`: {e}")))
                .and_then(handler)
                .map(|r| serde_json::to_string(&r).expect("results serialize"));
            self.result = Some(out);
        }
        self
    }

    /// The handler's result, or `unknown-method`.
    pub fn finish(self) -> Result<String> {
        self.result.unwrap_or_else(|| {
            Err(Error::new(
                ErrorCode::UnknownMethod,
                format!("no method `{}`; methods here: {}", self.method, self.known.join(", ")),
            ))
        })
    }
}
