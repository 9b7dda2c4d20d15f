//! Errors as a person reads them: what went wrong and what to check, once, in words.
//!
//! A query that fails on a cluster comes back from the scheduler as text that nests the
//! executor's error in Rust's debug notation
//! (`Job … failed: … Task failed due to runtime execution error: DataFusionError(Shared(External(DataFusionError(Execution("…")))))`):
//! the innermost error is dug out so that the user reads what an embedded run would print.

use datafusion::error::DataFusionError;
use datafusion::sql::sqlparser::parser::ParserError;
use std::sync::OnceLock;

/// The `--cluster` URL of this process's session, when it has one: errors reaching the
/// scheduler name it.
static CLUSTER: OnceLock<String> = OnceLock::new();

pub fn set_cluster(url: &str) {
    let _ = CLUSTER.set(url.to_owned());
}

/// The text to print after `Error: ` for `error`, secrets redacted.
pub fn user_message(error: &DataFusionError) -> String {
    let text = match error.find_root() {
        DataFusionError::SQL(parse, _) => parse_message(parse),
        root => {
            let shown = root.to_string();
            cluster_message(&shown).unwrap_or(shown)
        }
    };
    verger_storage::redact(&case_hint(&text)).into_owned()
}

fn parse_message(error: &ParserError) -> String {
    match error {
        ParserError::ParserError(message) => format!("the SQL does not parse: {message}"),
        ParserError::TokenizerError(message) => format!("the SQL does not parse (a quote, comment or number is not closed?): {message}"),
        ParserError::RecursionLimitExceeded => "the SQL is nested too deeply to parse".to_owned(),
    }
}

/// DataFusion suggests turning off identifier normalisation, which verger already has off.
fn case_hint(text: &str) -> String {
    const DATAFUSION_HINT: &str = " or disable the datafusion.sql_parser.enable_ident_normalization configuration.";
    match text.find(DATAFUSION_HINT) {
        Some(at) => {
            let mut fixed = text[..at].replace("You can use double quotes to refer to the ", "Write the ");
            fixed.push_str(" as the table spells it (verger keeps names as written).");
            fixed.push_str(&text[at + DATAFUSION_HINT.len()..]);
            fixed
        }
        None => text.to_owned(),
    }
}

/// The messages of a failed cluster job, or of a scheduler that cannot be reached.
fn cluster_message(text: &str) -> Option<String> {
    let at = CLUSTER.get().map(String::as_str).unwrap_or("the --cluster address");
    if text.contains("ConnectError") || text.contains("transport error") || text.contains("Connection refused") {
        return Some(format!(
            "no verger scheduler answers at {at} (the connection was refused or timed out): check that `verger scheduler` \
             runs there and that the host and port are right"
        ));
    }
    if text.contains("code: Unimplemented") {
        return Some(format!(
            "the server at {at} is not a verger scheduler (it does not know the scheduler's calls): check the port \
             (a scheduler listens on 50050 by default; 50051 and 50052 are an executor's)"
        ));
    }
    verger_cluster::job_error_message(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_job_failure_shows_the_executor_error_as_embedded_does() {
        let text = r#"Job xYz failed: Job failed due to stage 0 failed: Task failed due to runtime execution error: DataFusionError(Shared(External(DataFusionError(Execution("image_features: cannot read file:/d/a \"b\".jpg: truncated\nhint: SET x")))))"#;
        let embedded = DataFusionError::Execution("image_features: cannot read file:/d/a \"b\".jpg: truncated\nhint: SET x".to_owned());
        assert_eq!(cluster_message(text), Some(embedded.to_string()));
    }

    #[test]
    fn unreachable_schedulers_are_named() {
        let down = cluster_message(r#"tonic::transport::Error(Transport, ConnectError("tcp connect error", Os { code: 111 }))"#)
            .unwrap_or_default();
        assert!(down.starts_with("no verger scheduler answers at"), "{down}");
        let wrong =
            cluster_message("Status { code: Unimplemented, message: \"\", metadata: MetadataMap { headers: {} } }").unwrap_or_default();
        assert!(wrong.contains("is not a verger scheduler"), "{wrong}");
    }

    #[test]
    fn parse_errors_and_case_hints_speak_of_what_was_written() {
        let error = DataFusionError::SQL(Box::new(ParserError::ParserError("Expected: an expression, found: FROM".into())), None);
        assert_eq!(user_message(&error), "the SQL does not parse: Expected: an expression, found: FROM");
        let hint = "No field named modificationtime.\nColumn names are case sensitive. You can use double quotes to refer to the \"modificationTime\" column or disable the datafusion.sql_parser.enable_ident_normalization configuration.\nValid fields are path.";
        let fixed = case_hint(hint);
        assert!(!fixed.contains("enable_ident_normalization"), "{fixed}");
        assert!(fixed.contains("Write the \"modificationTime\" column as the table spells it"), "{fixed}");
        assert!(fixed.ends_with("Valid fields are path."), "{fixed}");
    }
}
