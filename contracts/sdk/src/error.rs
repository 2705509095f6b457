//! The typed error every contract method returns.

use serde::Serialize;
use std::fmt;

/// Why a call failed; mirrors `phr:chaincode/types.error-code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    /// The arguments are malformed or break a rule of the method.
    BadRequest,
    /// The caller lacks the identity, organisation or role the method requires.
    Unauthorized,
    /// Something the call refers to does not exist.
    NotFound,
    /// The call conflicts with the current state.
    Conflict,
    /// The contract has no method of that name.
    UnknownMethod,
    /// A policy decision refused the action.
    Denied,
}

/// A failed call. The transaction is recorded as rejected with this code and
/// message, and nothing it wrote is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
}

/// The result of a contract method.
pub type Result<T> = core::result::Result<T, Error>;

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error { code, message: message.into() }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }
    pub fn denied(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Denied, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)
    }
}
