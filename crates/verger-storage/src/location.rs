use crate::StorageError;
use object_store::path::Path;
use std::fmt;

/// Where a location's objects live.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Scheme {
    /// The local file system of each process that reads the location.
    Local,
    /// Amazon S3 or an S3-compatible server; `scheme` is `s3` or `s3a`, kept for display.
    S3 { scheme: String, bucket: String },
}

/// A local directory/file or an S3 prefix/object, as the user named it.
///
/// Paths are kept literally: no percent-decoding, so `Apple%20Braeburn` and `Café #1` name
/// exactly those directories, as in Spark.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct StorageLocation {
    scheme: Scheme,
    /// Object key or absolute path without the leading `/`, trailing `/` removed.
    key: String,
}

impl StorageLocation {
    /// Parses `file:/abs`, `file:///abs`, `/abs`, `relative/dir`, `s3://bucket/prefix` or
    /// `s3a://bucket/prefix`. Relative local paths are made absolute against the current
    /// directory of the process that parses them (the client), as Spark does.
    pub fn parse(text: &str) -> Result<Self, StorageError> {
        let invalid = |reason: &str| StorageError::InvalidLocation { location: text.to_owned(), reason: reason.to_owned() };
        if text.trim().is_empty() {
            return Err(invalid("the location is empty"));
        }
        if let Some((scheme, rest)) = split_scheme(text) {
            match scheme.to_ascii_lowercase().as_str() {
                "s3" | "s3a" => {
                    let rest = rest.strip_prefix("//").ok_or_else(|| invalid("expected s3://bucket/prefix"))?;
                    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
                    if bucket.is_empty() {
                        return Err(invalid("the bucket name is missing"));
                    }
                    return Self::new(Scheme::S3 { scheme: scheme.to_ascii_lowercase(), bucket: bucket.to_owned() }, key, text);
                }
                "file" => {
                    // file:/abs, file:///abs and file://localhost/abs name the same path.
                    let path = match rest.strip_prefix("//") {
                        Some(after) => {
                            let (host, path) = after.split_once('/').unwrap_or((after, ""));
                            if !(host.is_empty() || host.eq_ignore_ascii_case("localhost")) {
                                return Err(invalid("file: URLs with a remote host are not supported"));
                            }
                            format!("/{path}")
                        }
                        None => rest.to_owned(),
                    };
                    if !path.starts_with('/') {
                        return Err(invalid("a file: URL must hold an absolute path"));
                    }
                    return Self::new(Scheme::Local, &path, text);
                }
                other => {
                    return Err(StorageError::UnsupportedScheme { scheme: other.to_owned(), location: text.to_owned() });
                }
            }
        }
        let absolute = std::path::absolute(text).map_err(|e| invalid(&e.to_string()))?;
        let absolute = absolute.to_str().ok_or_else(|| invalid("the path is not valid UTF-8"))?.to_owned();
        Self::new(Scheme::Local, &absolute, text)
    }

    fn new(scheme: Scheme, key: &str, original: &str) -> Result<Self, StorageError> {
        // Normalise `a//b`, `a/./b` and trailing slashes, which name the same place.
        let mut parts: Vec<&str> = Vec::new();
        for part in key.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    if parts.pop().is_none() {
                        return Err(StorageError::InvalidLocation {
                            location: original.to_owned(),
                            reason: "'..' goes above the root".to_owned(),
                        });
                    }
                }
                other => parts.push(other),
            }
        }
        let key = parts.join("/");
        Path::parse(&key).map_err(|e| StorageError::InvalidLocation { location: original.to_owned(), reason: e.to_string() })?;
        Ok(Self { scheme, key })
    }

    pub fn scheme(&self) -> &Scheme {
        &self.scheme
    }

    /// The S3 bucket, if any.
    pub fn bucket(&self) -> Option<&str> {
        match &self.scheme {
            Scheme::S3 { bucket, .. } => Some(bucket),
            Scheme::Local => None,
        }
    }

    /// The object-store path of this location (key or absolute path without leading `/`).
    pub fn object_path(&self) -> Path {
        // Validated in `new`, so parsing cannot fail; fall back to the raw form regardless.
        Path::parse(&self.key).unwrap_or_else(|_| Path::from_iter(self.key.split('/')))
    }

    /// Spark's spelling of an object of this location's store:
    /// `file:/abs/dir/x.jpg` or `s3://bucket/key`, never percent-encoded.
    pub fn spark_path(&self, object: &Path) -> String {
        match &self.scheme {
            Scheme::Local => format!("file:/{}", object.as_ref()),
            Scheme::S3 { scheme, bucket } => format!("{scheme}://{bucket}/{}", object.as_ref()),
        }
    }

    /// The key of the store serving this location, e.g. `file://` or `s3://bucket`.
    pub fn store_key(&self) -> String {
        match &self.scheme {
            Scheme::Local => "file://".to_owned(),
            Scheme::S3 { bucket, .. } => format!("s3://{bucket}"),
        }
    }
}

impl fmt::Display for StorageLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.scheme {
            Scheme::Local => write!(f, "file:/{}", self.key),
            Scheme::S3 { scheme, bucket } => write!(f, "{scheme}://{bucket}/{}", self.key),
        }
    }
}

/// Splits `scheme:rest` when `text` starts with a URL scheme (letters, digits, `+-.`, two
/// characters or more so that Windows drive letters are not taken for schemes).
fn split_scheme(text: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = text.split_once(':')?;
    let valid = scheme.len() >= 2
        && scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    valid.then_some((scheme, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn display(text: &str) -> String {
        StorageLocation::parse(text).map(|l| l.to_string()).unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn local_spellings_name_the_same_directory() {
        for text in ["/data/fruits", "/data/fruits/", "file:/data/fruits", "file:///data/fruits/", "file://localhost/data//fruits"] {
            assert_eq!(display(text), "file:/data/fruits", "{text}");
        }
    }

    #[test]
    fn relative_paths_are_made_absolute() {
        let cwd = std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default();
        assert_eq!(display("some dir/x"), format!("file:{cwd}/some dir/x"));
    }

    #[test]
    fn special_characters_are_kept_literally() {
        let location = StorageLocation::parse("s3://bucket/Apple Braeburn/Café #1 %20 [x]/").map_err(|e| e.to_string());
        let location = location.as_ref().map(|l| (l.bucket().map(str::to_owned), l.object_path().to_string()));
        assert_eq!(location, Ok((Some("bucket".to_owned()), "Apple Braeburn/Café #1 %20 [x]".to_owned())));
        assert_eq!(display("s3a://b/k"), "s3a://b/k");
    }

    #[test]
    fn bad_locations_are_refused_with_reasons() {
        assert!(display("").contains("empty"));
        assert!(display("s3://").contains("bucket name is missing"));
        assert!(display("gs://b/x").contains("unsupported storage scheme 'gs'"));
        assert!(display("file://server/x").contains("remote host"));
        assert!(display("/../x").contains("above the root"));
    }
}
