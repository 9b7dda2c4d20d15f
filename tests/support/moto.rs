//! moto's S3 server (from the PyPI package installed by scripts/setup.sh) on 127.0.0.1.

use super::{free_port, wait_for_port};
use object_store::ObjectStoreExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const ACCESS_KEY: &str = "verger-test-access-key";
pub const SECRET_KEY: &str = "verger-test-secret-Zq81xV7";
pub const REGION: &str = "eu-west-3";

pub struct Moto {
    child: Child,
    pub port: u16,
}

fn moto_server() -> PathBuf {
    let venv =
        std::env::var_os("VERGER_VENV").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv"));
    let path = venv.join("bin/moto_server");
    assert!(path.is_file(), "{} is missing: run scripts/test.sh (it installs moto with scripts/setup.sh)", path.display());
    path
}

impl Moto {
    pub fn start() -> Moto {
        let port = free_port();
        let child = Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start moto_server: {e}"));
        let moto = Moto { child, port };
        wait_for_port(port, "moto_server", Duration::from_secs(60));
        moto
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates `bucket` with an unsigned PUT, as moto accepts.
    pub fn create_bucket(&self, bucket: &str) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap_or_else(|e| panic!("moto: {e}"));
        let body = format!("<CreateBucketConfiguration><LocationConstraint>{REGION}</LocationConstraint></CreateBucketConfiguration>");
        let request = format!(
            "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        );
        stream.write_all(request.as_bytes()).unwrap_or_else(|e| panic!("moto: {e}"));
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        assert!(response.starts_with("HTTP/1.1 200"), "moto refused bucket {bucket}: {response}");
    }

    pub fn store(&self, bucket: &str) -> AmazonS3 {
        AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_endpoint(self.endpoint())
            .with_allow_http(true)
            .with_region(REGION)
            .with_access_key_id(ACCESS_KEY)
            .with_secret_access_key(SECRET_KEY)
            .build()
            .unwrap_or_else(|e| panic!("S3 client: {e}"))
    }

    /// Uploads every file under `dir` to `bucket` under `prefix`, keeping relative paths.
    pub async fn upload_tree(&self, dir: &std::path::Path, bucket: &str, prefix: &str) -> usize {
        let store = self.store(bucket);
        let mut count = 0;
        for entry in walk(dir) {
            let relative = entry.strip_prefix(dir).unwrap_or(&entry).to_string_lossy().into_owned();
            let key = Path::parse(format!("{prefix}/{relative}")).unwrap_or_else(|e| panic!("key {relative}: {e}"));
            let bytes = std::fs::read(&entry).unwrap_or_else(|e| panic!("{}: {e}", entry.display()));
            store.put(&key, bytes.into()).await.unwrap_or_else(|e| panic!("upload {key}: {e}"));
            count += 1;
        }
        count
    }

    /// Settings for a verger session reading this server.
    pub fn session_settings(&self) -> Vec<(String, String)> {
        vec![
            ("s3.endpoint".into(), self.endpoint()),
            ("s3.allow_http".into(), "true".into()),
            ("s3.region".into(), REGION.into()),
            ("s3.access_key_id".into(), ACCESS_KEY.into()),
            ("s3.secret_access_key".into(), SECRET_KEY.into()),
        ]
    }

    /// The same, as the environment of a process (scheduler, executors).
    pub fn environment(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_REGION", REGION.into()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
        ]
    }
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files = vec![];
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                files.extend(walk(&path));
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tests/support/s3_fault_proxy.py` in front of a moto server: of every `period` requests,
/// one gets `503 SlowDown` and one a dropped connection.
pub struct FaultProxy {
    child: Child,
    pub port: u16,
    stats: tempfile::NamedTempFile,
}

impl FaultProxy {
    pub fn start(moto: &Moto, period: u32) -> FaultProxy {
        Self::spawn(moto, period, None)
    }

    /// A proxy that injects no periodic fault, only `rule` (`<action>:<skip>:<regex>`, see
    /// the script): `fail` answers 403 to every match after the first `skip`, `stall` holds
    /// the next one unanswered.
    pub fn with_rule(moto: &Moto, rule: &str) -> FaultProxy {
        Self::spawn(moto, 0, Some(rule))
    }

    fn spawn(moto: &Moto, period: u32, rule: Option<&str>) -> FaultProxy {
        let port = free_port();
        let stats = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("stats file: {e}"));
        let python = moto_server().with_file_name("python");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/support/s3_fault_proxy.py");
        let child = Command::new(python)
            .arg(script)
            .args([port.to_string(), moto.port.to_string(), period.to_string()])
            .arg(stats.path())
            .args(rule)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start the fault proxy: {e}"));
        let proxy = FaultProxy { child, port, stats };
        wait_for_port(port, "the S3 fault proxy", Duration::from_secs(30));
        proxy
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// (requests, 503 SlowDown answers, dropped connections) so far.
    pub fn stats(&self) -> (u64, u64, u64) {
        let text = std::fs::read_to_string(self.stats.path()).unwrap_or_default();
        let numbers: Vec<u64> = text.split_whitespace().filter_map(|n| n.parse().ok()).collect();
        match numbers.as_slice() {
            [requests, slowdowns, drops] => (*requests, *slowdowns, *drops),
            _ => (0, 0, 0),
        }
    }

    /// The requests the rule was matched against, one `<METHOD> <path>` a line.
    pub fn rule_log(&self) -> String {
        std::fs::read_to_string(format!("{}.log", self.stats.path().display())).unwrap_or_default()
    }

    /// How many requests the rule has acted on (failed or stalled) so far.
    pub fn rule_hits(&self) -> u64 {
        let path = format!("{}.rule", self.stats.path().display());
        std::fs::read_to_string(path).ok().and_then(|text| text.trim().parse().ok()).unwrap_or(0)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for extension in ["rule", "log"] {
            let _ = std::fs::remove_file(format!("{}.{extension}", self.stats.path().display()));
        }
    }
}
