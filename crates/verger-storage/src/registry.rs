use crate::{S3Options, Scheme, StorageError, StorageLocation};
use datafusion::config::ConfigOptions;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use datafusion::prelude::SessionContext;
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::Duration;
use url::Url;

/// Stores are costly to build (HTTP client, credential provider): one per bucket and
/// settings, shared by every query and task of this process.
/// Stores by (bucket, settings).
type StoreCache = HashMap<(String, S3Options), Arc<dyn ObjectStore>>;

static STORES: LazyLock<Mutex<StoreCache>> = LazyLock::new(|| Mutex::new(HashMap::new()));

static LOCAL: LazyLock<Arc<dyn ObjectStore>> = LazyLock::new(|| Arc::new(LocalFileSystem::new()));

/// How long a look-up waits for a session whose state another thread is changing (a `SET`
/// takes microseconds); past that, the settings of the previous look-up serve.
const SESSION_LOCK_WAIT: Duration = Duration::from_secs(1);

/// The session's `s3.*` settings; none set is the environment's chain alone.
fn settings_of(options: &ConfigOptions) -> S3Options {
    options.extensions.get::<S3Options>().cloned().unwrap_or_default()
}

/// The store serving `location`, configured from the session's `s3.*` settings.
pub fn object_store_for(location: &StorageLocation, options: &ConfigOptions) -> Result<Arc<dyn ObjectStore>> {
    match location.scheme() {
        Scheme::Local => Ok(Arc::clone(&LOCAL)),
        Scheme::S3 { bucket, .. } => s3_store(bucket, settings_of(options)),
    }
}

/// The one place an S3 store is made: from `s3`, then the environment, the AWS profile
/// files and the instance role ([`S3Options::build_store`]), cached by bucket and settings.
fn s3_store(bucket: &str, s3: S3Options) -> Result<Arc<dyn ObjectStore>> {
    let key = (bucket.to_owned(), s3);
    let mut stores = STORES.lock().map_err(|_| DataFusionError::Internal("object store cache poisoned".into()))?;
    if let Some(store) = stores.get(&key) {
        return Ok(Arc::clone(store));
    }
    let store: Arc<dyn ObjectStore> = Arc::new(key.1.build_store(bucket)?);
    stores.insert(key, Arc::clone(&store));
    Ok(store)
}

/// Reads the current settings of a live session; `None` when the session is gone or busy.
type SessionSettings = Box<dyn Fn() -> Option<S3Options> + Send + Sync>;

/// DataFusion's object-store registry for verger processes: stores registered explicitly
/// come first; otherwise `file://` is the local file system and `s3://bucket` /
/// `s3a://bucket` are built like [`object_store_for`]'s, from the `s3.*` settings of the
/// session the registry serves, then the environment, the profile files and the role.
///
/// DataFusion asks a registry for a store by URL alone, so the registry knows its session:
/// - [`for_settings`](Self::for_settings) fixes the settings, for a runtime built for one
///   query (a scheduler's job) or one task (an executor's);
/// - [`follow_session`](Self::follow_session) reads the settings of a live
///   `SessionContext` at each look-up, so that a `SET s3.…` reaches the next statement
///   (an embedded session, the client of a cluster).
pub struct VergerObjectStoreRegistry {
    registered: DefaultObjectStoreRegistry,
    /// The settings of the latest look-up: those given at creation until a session is read.
    settings: Mutex<S3Options>,
    session: OnceLock<SessionSettings>,
}

impl fmt::Debug for VergerObjectStoreRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VergerObjectStoreRegistry")
            .field("registered", &self.registered)
            .field("follows_a_session", &self.session.get().is_some())
            .finish_non_exhaustive()
    }
}

impl Default for VergerObjectStoreRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl VergerObjectStoreRegistry {
    /// A registry with no `s3.*` settings: S3 from the environment, profile or role only.
    pub fn new() -> Self {
        Self::with_settings(S3Options::default())
    }

    /// A registry fixed to the `s3.*` settings of `options`.
    pub fn for_settings(options: &ConfigOptions) -> Self {
        Self::with_settings(settings_of(options))
    }

    fn with_settings(settings: S3Options) -> Self {
        Self { registered: DefaultObjectStoreRegistry::new(), settings: Mutex::new(settings), session: OnceLock::new() }
    }

    /// From now on, each look-up reads the `s3.*` settings `ctx` has at that moment. Call
    /// it once, on the context whose runtime holds this registry; once `ctx` is dropped,
    /// the settings it last had serve the states cloned from it.
    pub fn follow_session(&self, ctx: &SessionContext) -> Result<()> {
        let state = ctx.state_weak_ref();
        let read: SessionSettings = Box::new(move || {
            let state = state.upgrade()?;
            // Recursive: this thread may already hold a read guard, which a waiting writer
            // must not block. Bounded: it may also hold the write guard (then this look-up
            // uses the previous settings rather than waiting for itself).
            let state = state.try_read_recursive_for(SESSION_LOCK_WAIT)?;
            Some(settings_of(state.config_options()))
        });
        self.session.set(read).map_err(|_| DataFusionError::Internal("this object store registry already follows a session".into()))
    }

    /// The settings for a look-up now.
    fn current_settings(&self) -> Result<S3Options> {
        // Read before locking: a busy session must not hold up the other look-ups.
        let current = self.session.get().and_then(|read| read());
        let mut settings = self.settings.lock().map_err(|_| DataFusionError::Internal("object store settings poisoned".into()))?;
        if let Some(current) = current {
            *settings = current;
        }
        Ok(settings.clone())
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
                s3_store(bucket, self.current_settings()?)
            }
            other => Err(StorageError::UnsupportedScheme { scheme: other.to_owned(), location: url.to_string() }.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::execution::SessionStateBuilder;
    use datafusion::execution::object_store::ObjectStoreUrl;
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    use datafusion::prelude::SessionConfig;

    fn s3_url() -> Url {
        Url::parse("s3://settings-test-bucket/x").unwrap_or_else(|e| panic!("{e}"))
    }

    /// A context whose runtime holds `registry`, with the `s3.*` namespace.
    fn context_with(registry: Arc<VergerObjectStoreRegistry>) -> SessionContext {
        let runtime = RuntimeEnvBuilder::new().with_object_store_registry(registry).build_arc().unwrap_or_else(|e| panic!("{e}"));
        let config = SessionConfig::new().with_option_extension(S3Options::default());
        SessionContext::new_with_state(SessionStateBuilder::new().with_config(config).with_runtime_env(runtime).build())
    }

    fn endpoint_of(registry: &VergerObjectStoreRegistry) -> Option<String> {
        registry.current_settings().unwrap_or_else(|e| panic!("{e}")).endpoint
    }

    #[tokio::test]
    async fn a_followed_session_is_read_at_each_look_up_and_remembered_once_gone() {
        let registry = Arc::new(VergerObjectStoreRegistry::new());
        let ctx = context_with(Arc::clone(&registry));
        registry.follow_session(&ctx).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(endpoint_of(&registry), None);

        ctx.sql("SET s3.endpoint = 'https://one.example'").await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(endpoint_of(&registry).as_deref(), Some("https://one.example"));
        ctx.sql("SET s3.endpoint = 'https://two.example'").await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(endpoint_of(&registry).as_deref(), Some("https://two.example"));

        // The store DataFusion gets is the one built for the current settings.
        let url = ObjectStoreUrl::parse("s3://settings-test-bucket").unwrap_or_else(|e| panic!("{e}"));
        let store = ctx.runtime_env().object_store(url).unwrap_or_else(|e| panic!("{e}"));
        assert!(store.to_string().contains("settings-test-bucket"), "{store}");

        assert!(registry.follow_session(&ctx).is_err(), "one session per registry");
        drop(ctx);
        assert_eq!(endpoint_of(&registry).as_deref(), Some("https://two.example"));
    }

    #[test]
    fn a_look_up_under_the_sessions_write_lock_uses_the_previous_settings_instead_of_waiting_for_itself() {
        let registry = Arc::new(VergerObjectStoreRegistry::new());
        let ctx = context_with(Arc::clone(&registry));
        registry.follow_session(&ctx).unwrap_or_else(|e| panic!("{e}"));
        ctx.state_ref().write().config_mut().options_mut().set("s3.region", "eu-west-3").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(registry.current_settings().unwrap_or_else(|e| panic!("{e}")).region.as_deref(), Some("eu-west-3"));

        let state = ctx.state_ref();
        let _writing = state.write();
        let settings = registry.current_settings().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(settings.region.as_deref(), Some("eu-west-3"), "the previous look-up's settings serve");
    }

    #[test]
    fn fixed_settings_and_registered_stores() {
        let mut options = ConfigOptions::new();
        options.extensions.insert(S3Options::default());
        options.set("s3.endpoint", "https://fixed.example").unwrap_or_else(|e| panic!("{e}"));
        let registry = VergerObjectStoreRegistry::for_settings(&options);
        assert_eq!(endpoint_of(&registry).as_deref(), Some("https://fixed.example"));

        // A store registered by the user wins over the settings.
        let mine: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        registry.register_store(&s3_url(), Arc::clone(&mine));
        let got = registry.get_store(&s3_url()).unwrap_or_else(|e| panic!("{e}"));
        assert!(Arc::ptr_eq(&got, &mine));
    }
}
