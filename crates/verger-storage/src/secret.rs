use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::sync::{LazyLock, RwLock};

/// Every secret value this process has seen; [`redact`] blanks them out of text.
static KNOWN_SECRETS: LazyLock<RwLock<BTreeSet<String>>> = LazyLock::new(|| RwLock::new(BTreeSet::new()));

/// Shorter values are not treated as secrets: blanking them would mangle ordinary text.
const MIN_SECRET_LEN: usize = 4;

const REDACTED: &str = "****";

/// Remembers `value` so that [`redact`] removes it from any text.
pub fn register_secret(value: &str) {
    if value.len() < MIN_SECRET_LEN {
        return;
    }
    if let Ok(mut secrets) = KNOWN_SECRETS.write() {
        secrets.insert(value.to_owned());
    }
}

/// Registers the AWS secrets of this process's environment.
pub fn register_secrets_from_env() {
    for name in ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID"] {
        if let Ok(value) = std::env::var(name) {
            register_secret(&value);
        }
    }
}

/// Returns `text` with every known secret replaced by `****`.
pub fn redact(text: &str) -> Cow<'_, str> {
    let Ok(secrets) = KNOWN_SECRETS.read() else {
        return Cow::Borrowed(text);
    };
    let mut out = Cow::Borrowed(text);
    // Longest first, so a secret containing another is blanked whole.
    let mut ordered: Vec<&String> = secrets.iter().collect();
    ordered.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in ordered {
        if out.contains(secret.as_str()) {
            out = Cow::Owned(out.replace(secret.as_str(), REDACTED));
        }
    }
    out
}

/// Setting names whose values are credentials, however a library spells the line.
const SENSITIVE_KEYS: [&str; 3] = ["secret_access_key", "session_token", "access_key_id"];

/// [`redact`] for a log line, which may also print a credential before verger has seen it
/// (e.g. a setting logged on arrival): after the name of a credential setting, the rest of
/// the line is blanked.
pub fn redact_log_line(line: &str) -> Cow<'_, str> {
    let redacted = redact(line);
    let lower = redacted.to_ascii_lowercase();
    let cut = SENSITIVE_KEYS.iter().filter_map(|key| lower.find(key).map(|at| at + key.len())).min();
    match cut {
        Some(at) => Cow::Owned(format!("{} {REDACTED}", &redacted[..at])),
        None => redacted,
    }
}

/// A credential: its `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        register_secret(&value);
        Self(value)
    }

    /// The real value, for handing to a client library. Never format it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_blanked_from_text_and_formatting() {
        let secret = Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        assert_eq!(format!("{secret} {secret:?}"), "**** ****");
        let text = "failed with key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY in header";
        assert_eq!(redact(text), "failed with key **** in header");
        assert_eq!(redact("nothing here"), "nothing here");
    }

    #[test]
    fn log_lines_lose_what_follows_a_credential_setting() {
        let line = "setting up configuration key: `s3.secret_access_key`, value: `not-yet-known`";
        assert_eq!(redact_log_line(line), "setting up configuration key: `s3.secret_access_key ****");
        assert_eq!(redact_log_line("Job finished"), "Job finished");
    }

    #[test]
    fn short_values_are_not_secrets() {
        register_secret("ab");
        assert_eq!(redact("ab cd"), "ab cd");
    }
}
