use crate::{Secret, StorageError, profile};
use datafusion::common::config_err;
use datafusion::config::{ConfigEntry, ConfigExtension, ExtensionOptions};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use std::any::Any;

/// S3 settings of a session, set with `SET s3.<key> = '<value>'`.
///
/// They travel with the session from the client to the scheduler and the executors. Keys
/// left unset fall back to the process environment (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT`,
/// `AWS_ALLOW_HTTP`, `AWS_PROFILE`), then the AWS profile files, then the instance role.
/// Prefer those over `SET` for credentials: nothing then has to be written in a SQL file.
///
/// | key | meaning |
/// |---|---|
/// | `s3.region` | bucket region, e.g. `eu-west-3` |
/// | `s3.endpoint` | custom endpoint of an S3-compatible server, e.g. `http://127.0.0.1:9000` |
/// | `s3.allow_http` | `true` to allow a plain-HTTP endpoint |
/// | `s3.access_key_id`, `s3.secret_access_key`, `s3.session_token` | static credentials |
/// | `s3.profile` | name of a profile in `~/.aws/credentials` / `~/.aws/config` |
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct S3Options {
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub allow_http: Option<bool>,
    pub access_key_id: Option<Secret>,
    pub secret_access_key: Option<Secret>,
    pub session_token: Option<Secret>,
    pub profile: Option<String>,
}

impl ConfigExtension for S3Options {
    const PREFIX: &'static str = "s3";
}

const KEYS: [(&str, &str); 7] = [
    ("region", "S3 region of the buckets, e.g. eu-west-3"),
    ("endpoint", "endpoint of an S3-compatible server"),
    ("allow_http", "allow a plain-HTTP endpoint"),
    ("access_key_id", "S3 access key id (prefer the environment or a profile)"),
    ("secret_access_key", "S3 secret access key (prefer the environment or a profile)"),
    ("session_token", "S3 session token (prefer the environment or a profile)"),
    ("profile", "AWS profile to read credentials and region from"),
];

impl ExtensionOptions for S3Options {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, value: &str) -> datafusion::error::Result<()> {
        let text = (!value.trim().is_empty()).then(|| value.trim().to_owned());
        match key {
            "region" => self.region = text,
            "endpoint" => self.endpoint = text,
            "allow_http" => {
                self.allow_http = match text.as_deref().map(str::to_ascii_lowercase).as_deref() {
                    None => None,
                    Some("true") => Some(true),
                    Some("false") => Some(false),
                    Some(_) => return config_err!("s3.allow_http must be true or false, not '{value}'"),
                }
            }
            "access_key_id" => self.access_key_id = text.map(Secret::new),
            "secret_access_key" => self.secret_access_key = text.map(Secret::new),
            "session_token" => self.session_token = text.map(Secret::new),
            "profile" => self.profile = text,
            _ => {
                let known: Vec<String> = KEYS.iter().map(|(k, _)| format!("s3.{k}")).collect();
                return config_err!("unknown S3 setting 's3.{key}'; known settings: {}", known.join(", "));
            }
        }
        Ok(())
    }

    /// The values travel to the scheduler and executors through these entries, so secrets
    /// are given in full here; they are registered for redaction in every process.
    fn entries(&self) -> Vec<ConfigEntry> {
        let values = [
            self.region.clone(),
            self.endpoint.clone(),
            self.allow_http.map(|b| b.to_string()),
            self.access_key_id.as_ref().map(|s| s.expose().to_owned()),
            self.secret_access_key.as_ref().map(|s| s.expose().to_owned()),
            self.session_token.as_ref().map(|s| s.expose().to_owned()),
            self.profile.clone(),
        ];
        KEYS.iter()
            .zip(values)
            .map(|((key, description), value)| ConfigEntry { key: format!("{}.{key}", Self::PREFIX), value, description })
            .collect()
    }
}

impl S3Options {
    /// Builds the S3 client for `bucket`: these settings first, then the environment, the
    /// profile files and finally the instance role (object_store's default chain).
    pub fn build_store(&self, bucket: &str) -> Result<AmazonS3, StorageError> {
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);

        let env_has_keys = std::env::var_os("AWS_ACCESS_KEY_ID").is_some();
        let profile_name = self.profile.clone().or_else(|| std::env::var("AWS_PROFILE").ok());
        // An explicit profile wins over keys in the environment; otherwise the environment wins.
        if self.access_key_id.is_none() && (profile_name.is_some() || !env_has_keys) {
            let explicit = profile_name.is_some();
            let name = profile_name.unwrap_or_else(|| "default".to_owned());
            match profile::load(&name)? {
                Some(profile) => {
                    if let (Some(id), Some(secret)) = (&profile.access_key_id, &profile.secret_access_key) {
                        builder = builder.with_access_key_id(id.expose()).with_secret_access_key(secret.expose());
                        if let Some(token) = &profile.session_token {
                            builder = builder.with_token(token.expose());
                        }
                    }
                    if let Some(region) =
                        profile.region.as_ref().filter(|_| self.region.is_none() && std::env::var_os("AWS_REGION").is_none())
                    {
                        builder = builder.with_region(region);
                    }
                }
                None if explicit => {
                    return Err(StorageError::Profile {
                        profile: name,
                        file: profile::credentials_file_display(),
                        reason: "no such profile".to_owned(),
                    });
                }
                None => {}
            }
        }

        if let (Some(id), Some(secret)) = (&self.access_key_id, &self.secret_access_key) {
            builder = builder.with_access_key_id(id.expose()).with_secret_access_key(secret.expose());
            if let Some(token) = &self.session_token {
                builder = builder.with_token(token.expose());
            }
        } else if self.access_key_id.is_some() != self.secret_access_key.is_some() {
            return Err(StorageError::InvalidSetting {
                key: "s3.access_key_id / s3.secret_access_key".to_owned(),
                value: "****".to_owned(),
                reason: "set both or neither".to_owned(),
            });
        }
        if let Some(region) = &self.region {
            builder = builder.with_region(region);
        }
        if let Some(allow_http) = self.allow_http {
            builder = builder.with_allow_http(allow_http);
        }
        if let Some(endpoint) = &self.endpoint {
            let plain_http = endpoint.to_ascii_lowercase().starts_with("http://");
            let http_allowed =
                self.allow_http.unwrap_or_else(|| std::env::var("AWS_ALLOW_HTTP").is_ok_and(|v| v.eq_ignore_ascii_case("true")));
            if plain_http && !http_allowed {
                return Err(StorageError::InvalidSetting {
                    key: "s3.endpoint".to_owned(),
                    value: endpoint.clone(),
                    reason: "plain HTTP is refused unless s3.allow_http = true".to_owned(),
                });
            }
            builder = builder.with_endpoint(endpoint);
        }
        builder.build().map_err(|source| StorageError::S3Config { bucket: bucket.to_owned(), source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::config::ConfigOptions;

    #[test]
    fn settings_round_trip_through_entries_without_showing_secrets_in_debug() {
        let mut options = ConfigOptions::new();
        options.extensions.insert(S3Options::default());
        for (key, value) in [("s3.region", "eu-west-3"), ("s3.allow_http", "TRUE"), ("s3.secret_access_key", "s3cr3t-value-123")] {
            options.set(key, value).map_err(|e| e.to_string()).unwrap_or_else(|e| panic!("{e}"));
        }
        let entries: Vec<(String, Option<String>)> =
            options.entries().into_iter().filter(|e| e.key.starts_with("s3.")).map(|e| (e.key, e.value)).collect();
        assert!(entries.contains(&("s3.secret_access_key".to_owned(), Some("s3cr3t-value-123".to_owned()))));

        let mut copy = ConfigOptions::new();
        copy.extensions.insert(S3Options::default());
        for (key, value) in &entries {
            if let Some(value) = value {
                copy.set(key, value).map_err(|e| e.to_string()).unwrap_or_else(|e| panic!("{e}"));
            }
        }
        let s3 = copy.extensions.get::<S3Options>().cloned().unwrap_or_default();
        assert_eq!(s3.region.as_deref(), Some("eu-west-3"));
        assert_eq!(s3.allow_http, Some(true));
        assert!(!format!("{s3:?}").contains("s3cr3t"));
    }

    #[test]
    fn bad_settings_are_refused() {
        let mut s3 = S3Options::default();
        assert!(s3.set("allow_http", "maybe").is_err());
        let unknown = s3.set("secret", "x").map_err(|e| e.to_string()).err().unwrap_or_default();
        assert!(unknown.contains("s3.secret_access_key"), "{unknown}");
    }

    #[test]
    fn plain_http_endpoint_needs_allow_http() {
        let s3 = S3Options { endpoint: Some("http://127.0.0.1:9".into()), allow_http: Some(false), ..Default::default() };
        let error = s3.build_store("b").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("allow_http"), "{error}");
    }
}
