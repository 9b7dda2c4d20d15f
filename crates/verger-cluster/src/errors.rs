//! A failed cluster job's error as an embedded run would show it.
//!
//! A query that fails on a cluster comes back from the scheduler as text that nests the
//! executor's error in Rust's debug notation
//! (`Job … failed: … Task failed due to runtime execution error: DataFusionError(Shared(External(DataFusionError(Execution("…")))))`):
//! the innermost error is dug out.

/// The executor's own error inside the scheduler's text of a failed job, or None when `text`
/// is not such a failure.
pub fn job_error_message(text: &str) -> Option<String> {
    if text.contains("Job ") && text.contains(" failed: ") { innermost_error(text) } else { None }
}

/// The innermost `Variant("message")` of a debug-printed DataFusionError chain, shown as
/// DataFusion shows that variant.
fn innermost_error(text: &str) -> Option<String> {
    const VARIANTS: [(&str, &str); 7] = [
        ("Execution(", "Execution error: "),
        ("Plan(", "Error during planning: "),
        ("Configuration(", "Invalid or Unsupported Configuration: "),
        ("NotImplemented(", "This feature is not implemented: "),
        ("ResourcesExhausted(", "Resources exhausted: "),
        ("Internal(", "Internal error: "),
        ("IoError(", "IO error: "),
    ];
    let (start, prefix) = VARIANTS
        .iter()
        .filter_map(|(variant, prefix)| text.rfind(&format!("{variant}\"")).map(|at| (at + variant.len(), *prefix)))
        .max_by_key(|(at, _)| *at)?;
    let message = read_literal(&text[start..])?;
    Some(format!("{prefix}{message}"))
}

/// Reads the Rust string literal `text` starts with (`"…"`, debug escapes undone).
fn read_literal(text: &str) -> Option<String> {
    let mut chars = text.strip_prefix('"')?.chars();
    let mut out = String::new();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '0' => out.push('\0'),
                'u' => {
                    let code: String = chars.by_ref().skip(1).take_while(|c| *c != '}').collect();
                    out.push(u32::from_str_radix(&code, 16).ok().and_then(char::from_u32).unwrap_or('\u{FFFD}'));
                }
                other => out.push(other),
            },
            other => out.push(other),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_innermost_error_is_the_executor_s() {
        let text = r#"Job xYz failed: Job failed due to stage 0 failed: Task failed: DataFusionError(Shared(External(DataFusionError(Execution("[INVALID_ARRAY_INDEX_IN_ELEMENT_AT] out \"x\"")))))"#;
        assert_eq!(super::job_error_message(text).as_deref(), Some("Execution error: [INVALID_ARRAY_INDEX_IN_ELEMENT_AT] out \"x\""));
        assert_eq!(super::job_error_message("plain"), None);
    }
}
