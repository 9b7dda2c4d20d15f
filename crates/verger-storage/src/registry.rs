use crate::{S3Options, Scheme, StorageError, StorageLocation};
use datafusion::config::ConfigOptions;
use datafusion::error::Result;
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use url::Url;

/// Stores are costly to build (HTTP client, credential provider): one per bucket and
/// settings, shared by every query and task of this process.
/// Stores by (bucket, settings).
type StoreCache = HashMap<(String, S3Options), Arc<dyn ObjectStore>>;

static STORES: LazyLock<Mutex<StoreCache>> = LazyLock::new(|| Mutex::new(HashMap::new()));

static LOCAL: LazyLock<Arc<dyn ObjectStore>> = LazyLock::new(|| Arc::new(LocalFileSystem::new()));

/// The store serving `location`, configured from the session's `s3.*` settings.
pub fn object_store_for(location: &StorageLocation, options: &ConfigOptions) -> Result<Arc<dyn ObjectStore>> {
    match location.scheme() {
        Scheme::Local => Ok(Arc::clone(&LOCAL)),
        Scheme::S3 { bucket, .. } => {
            let s3 = options.extensions.get::<S3Options>().cloned().unwrap_or_default();
            s3_store(bucket, s3)
        }
    }
}

fn s3_store(bucket: &str, s3: S3Options) -> Result<Arc<dyn ObjectStore>> {
    let key = (bucket.to_owned(), s3);
    let mut stores = STORES.lock().map_err(|_| datafusion::error::DataFusionError::Internal("object store cache poisoned".into()))?;
    if let Some(store) = stores.get(&key) {
        return Ok(Arc::clone(store));
    }
    let store: Arc<dyn ObjectStore> = Arc::new(key.1.build_store(bucket)?);
    stores.insert(key, Arc::clone(&store));
    Ok(store)
}

/// DataFusion's object-store registry for verger processes: stores registered explicitly
/// come first; otherwise `file://` is the local file system and `s3://bucket` / `s3a://bucket`
/// are built from the process's AWS environment, profile or instance role.
#[derive(Debug, Default)]
pub struct VergerObjectStoreRegistry {
    registered: DefaultObjectStoreRegistry,
}

impl VergerObjectStoreRegistry {
    pub fn new() -> Self {
        Self::default()
    }
}

impl ObjectStoreRegistry for VergerObjectStoreRegistry {
    fn register_store(&self, url: &Url, store: Arc<dyn ObjectStore>) -> Option<Arc<dyn ObjectStore>> {
        self.registered.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        self.registered.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        if let Ok(store) = self.registered.get_store(url) {
            return Ok(store);
        }
        match url.scheme() {
            "file" => Ok(Arc::clone(&LOCAL)),
            "s3" | "s3a" => {
                let bucket = url.host_str().ok_or_else(|| StorageError::InvalidLocation {
                    location: url.to_string(),
                    reason: "the bucket name is missing".to_owned(),
                })?;
                s3_store(bucket, S3Options::default())
            }
            other => Err(StorageError::UnsupportedScheme { scheme: other.to_owned(), location: url.to_string() }.into()),
        }
    }
}
