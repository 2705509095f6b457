//! What can go wrong in the FHIR layer, and how each failure is answered.

use fhir_model::r5::codes::{IssueSeverity, IssueType};
use fhir_model::r5::resources::OperationOutcome;
use fhir_model::BuilderError;

/// An error of the FHIR layer. [`FhirError::http_status`] and
/// [`FhirError::outcome`] give the answer a handler serves: a client's mistake
/// is a 4xx naming it, anything else a 500.
#[derive(Debug, thiserror::Error)]
pub enum FhirError {
    /// A client's resource is not acceptable; the message names the element and
    /// the problem. HTTP 400.
    #[error("{message}")]
    Invalid {
        /// The OperationOutcome issue type (`structure`, `required`, `value`, `invalid`, …).
        code: IssueType,
        message: String,
    },
    /// A FHIR id that no ledger id maps to (see [`crate::fhir::id`]): nothing
    /// by that id is served. HTTP 404.
    #[error("{0}")]
    NotFound(String),
    /// A ledger id that has no FHIR id within 64 characters. HTTP 500: the
    /// resource cannot be shown through the facade.
    #[error("{0}")]
    Unmappable(String),
    /// The JSON a contract returned is not of the documented shape. HTTP 500.
    #[error("unexpected {what} from the chain: {message}")]
    Input { what: &'static str, message: String },
    /// A required FHIR element was not set: a bug of this module. HTTP 500.
    #[error("building a FHIR resource: {0}")]
    Build(#[from] BuilderError),
    /// Anything else that is not the client's fault. HTTP 500.
    #[error("{0}")]
    Internal(String),
}

impl FhirError {
    /// A client error of issue type `code`.
    pub fn invalid(code: IssueType, message: impl Into<String>) -> Self {
        FhirError::Invalid { code, message: message.into() }
    }

    /// The HTTP status to answer with.
    pub fn http_status(&self) -> u16 {
        match self {
            FhirError::Invalid { .. } => 400,
            FhirError::NotFound(_) => 404,
            _ => 500,
        }
    }

    /// The OperationOutcome issue type of this error.
    pub fn issue_type(&self) -> IssueType {
        match self {
            FhirError::Invalid { code, .. } => *code,
            FhirError::NotFound(_) => IssueType::NotFound,
            _ => IssueType::Exception,
        }
    }

    /// The OperationOutcome to serve: one issue of severity `error` whose
    /// diagnostics are this error's message.
    pub fn outcome(&self) -> OperationOutcome {
        super::outcome::operation_outcome(IssueSeverity::Error, self.issue_type(), &self.to_string())
    }
}
