//! `pathGlobFilter`: Hadoop glob patterns matched against the file NAME only, case-sensitive.

use crate::BinaryFileError;
use globset::{GlobBuilder, GlobMatcher};

/// A compiled `pathGlobFilter`: `*`, `?`, `[abc]`, `[a-z]`, `[^a]` / `[!a]`, `{a,b}` and `\`
/// escapes, as Hadoop's `GlobFilter` accepts them.
#[derive(Debug, Clone)]
pub struct FileNameGlob {
    matcher: GlobMatcher,
}

impl FileNameGlob {
    pub fn new(pattern: &str) -> Result<Self, BinaryFileError> {
        // Hadoop negates a class with `^`; globset with `!`.
        let translated = pattern.replace("[^", "[!");
        let glob = GlobBuilder::new(&translated)
            .case_insensitive(false)
            .literal_separator(true)
            .backslash_escape(true)
            .empty_alternates(true)
            .build()
            .map_err(|e| BinaryFileError::InvalidOption {
                option: "pathGlobFilter",
                value: pattern.to_owned(),
                reason: e.kind().to_string(),
            })?;
        Ok(Self { matcher: glob.compile_matcher() })
    }

    pub fn matches(&self, file_name: &str) -> bool {
        self.matcher.is_match(file_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, name: &str) -> bool {
        FileNameGlob::new(pattern).map(|g| g.matches(name)).unwrap_or(false)
    }

    #[test]
    fn spark_glob_semantics() {
        assert!(matches("*.jpg", "0_100.jpg"));
        assert!(!matches("*.jpg", "X.JPG"), "case-sensitive");
        assert!(matches("*.{jpg,JPG}", "X.JPG"));
        assert!(matches("*.{jpg,JPG}", "x.jpg"));
        assert!(matches("r_?.png", "r_1.png"));
        assert!(matches("[^a]*.jpg", "b.jpg"));
        assert!(!matches("[^a]*.jpg", "a.jpg"));
        assert!(matches("[!a]*.jpg", "b.jpg"));
        assert!(matches("*.jpg", "Café #1 %20.jpg"));
        assert!(matches("\\*.jpg", "*.jpg"));
        assert!(!matches("\\*.jpg", "x.jpg"));
    }

    #[test]
    fn invalid_patterns_are_refused() {
        let error = FileNameGlob::new("[a").map(|_| ()).map_err(|e| e.to_string());
        assert!(error.is_err_and(|e| e.contains("pathGlobFilter")));
    }
}
