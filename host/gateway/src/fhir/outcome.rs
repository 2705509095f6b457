//! Errors as an R5 `OperationOutcome`.

use fhir_model::r5::codes::{IssueSeverity, IssueType};
use fhir_model::r5::resources::{OperationOutcome, OperationOutcomeIssue};

/// An OperationOutcome of one issue: `severity`, `code` and the
/// `diagnostics` a person reads (what was wrong, and where).
pub fn operation_outcome(severity: IssueSeverity, code: IssueType, diagnostics: &str) -> OperationOutcome {
    let issue =
        OperationOutcomeIssue::builder().severity(severity).code(code).diagnostics(diagnostics.to_owned()).build();
    // Both builders have every required element set (severity, code; issue), so
    // neither can fail.
    OperationOutcome::builder()
        .issue(vec![Some(issue.expect("severity and code are set"))])
        .build()
        .expect("issue is set")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhir::FhirError;
    use serde_json::json;

    #[test]
    fn one_issue() {
        let o = operation_outcome(IssueSeverity::Error, IssueType::NotFound, "no record stmarys/lab/1");
        assert_eq!(
            serde_json::to_value(o).unwrap(),
            json!({"resourceType": "OperationOutcome",
                   "issue": [{"severity": "error", "code": "not-found", "diagnostics": "no record stmarys/lab/1"}]})
        );
        let e = FhirError::invalid(IssueType::Required, "subject is missing");
        let v = serde_json::to_value(e.outcome()).unwrap();
        assert_eq!((v["issue"][0]["code"].as_str(), e.http_status()), (Some("required"), 400));
    }
}
