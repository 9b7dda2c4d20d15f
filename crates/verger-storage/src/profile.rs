//! Static credentials and region from the AWS shared config files (`~/.aws/credentials`,
//! `~/.aws/config`). object_store covers the environment and the instance role but not these.
//! SSO, `credential_process` and `role_arn` profiles are not read: use the environment or an
//! instance role for those.

use crate::{Secret, StorageError};
use ini::Ini;
use std::path::PathBuf;

#[derive(Debug, Default)]
pub(crate) struct Profile {
    pub access_key_id: Option<Secret>,
    pub secret_access_key: Option<Secret>,
    pub session_token: Option<Secret>,
    pub region: Option<String>,
}

fn home_file(env: &str, name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".aws").join(name))
}

pub(crate) fn credentials_file_display() -> String {
    home_file("AWS_SHARED_CREDENTIALS_FILE", "credentials")
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "~/.aws/credentials".to_owned())
}

fn read(path: Option<PathBuf>, profile: &str) -> Result<Option<Ini>, StorageError> {
    let Some(path) = path.filter(|p| p.is_file()) else {
        return Ok(None);
    };
    Ini::load_from_file(&path).map(Some).map_err(|e| StorageError::Profile {
        profile: profile.to_owned(),
        file: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// Reads profile `name`; `None` when neither file has it.
pub(crate) fn load(name: &str) -> Result<Option<Profile>, StorageError> {
    let credentials = read(home_file("AWS_SHARED_CREDENTIALS_FILE", "credentials"), name)?;
    let config = read(home_file("AWS_CONFIG_FILE", "config"), name)?;
    let config_section = if name == "default" { name.to_owned() } else { format!("profile {name}") };

    let credential_section = credentials.as_ref().and_then(|ini| ini.section(Some(name)));
    let config_section = config.as_ref().and_then(|ini| ini.section(Some(config_section.as_str())));
    if credential_section.is_none() && config_section.is_none() {
        return Ok(None);
    }
    let get =
        |key: &str| credential_section.and_then(|s| s.get(key)).or_else(|| config_section.and_then(|s| s.get(key))).map(str::to_owned);
    Ok(Some(Profile {
        access_key_id: get("aws_access_key_id").map(Secret::new),
        secret_access_key: get("aws_secret_access_key").map(Secret::new),
        session_token: get("aws_session_token").map(Secret::new),
        region: config_section.and_then(|s| s.get("region")).map(str::to_owned),
    }))
}
