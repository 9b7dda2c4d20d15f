//! Spark Connect sessions: one verger `SessionContext` per client session id, embedded or on
//! the cluster, with its own temporary views and settings; idle sessions expire.

use crate::error::{ConnectError, ConnectResult};
use crate::execute::Operation;
use datafusion::prelude::SessionContext;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Where a session's queries run.
#[derive(Debug, Clone)]
pub enum Engine {
    /// In this process.
    Embedded,
    /// On the Ballista scheduler at this `df://host:port`.
    Cluster(String),
}

/// One client session.
pub struct Session {
    pub id: String,
    /// Changes when the server restarts, so a client notices that its state is gone.
    pub server_side_id: String,
    pub ctx: SessionContext,
    spark_settings: Mutex<BTreeMap<String, String>>,
    last_used: Mutex<Instant>,
    operations: Mutex<HashMap<String, Arc<Operation>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Session {
    /// The Spark settings the client set in this session.
    pub fn spark_settings(&self) -> MutexGuard<'_, BTreeMap<String, String>> {
        lock(&self.spark_settings)
    }

    /// A DataFusion or verger setting of the session, as text.
    pub fn engine_setting(&self, key: &str) -> Option<String> {
        let state = self.ctx.state();
        state.config_options().entries().into_iter().find(|entry| entry.key == key).and_then(|entry| entry.value)
    }

    pub fn engine_settings(&self) -> Vec<(String, String)> {
        let state = self.ctx.state();
        state.config_options().entries().into_iter().filter_map(|entry| Some((entry.key, entry.value?))).collect()
    }

    pub fn set_engine_setting(&self, key: &str, value: &str) -> ConnectResult<()> {
        let state = self.ctx.state_ref();
        let mut state = state.write();
        state.config_mut().options_mut().set(key, value)?;
        Ok(())
    }

    pub fn reset_engine_setting(&self, key: &str) -> ConnectResult<()> {
        let defaults = verger::session_config();
        let default = defaults.options().entries().into_iter().find(|entry| entry.key == key).and_then(|entry| entry.value);
        let state = self.ctx.state_ref();
        let mut state = state.write();
        match default {
            Some(value) => state.config_mut().options_mut().set(key, &value)?,
            // DataFusion has no way to unset an optional setting but to set it empty, which
            // its options read as unset.
            None => state.config_mut().options_mut().set(key, "")?,
        }
        Ok(())
    }

    /// The session's time zone, as results and casts use it.
    pub fn time_zone(&self) -> String {
        self.engine_setting("datafusion.execution.time_zone").filter(|tz| !tz.is_empty()).unwrap_or_else(|| "UTC".to_owned())
    }

    pub fn touch(&self) {
        *lock(&self.last_used) = Instant::now();
    }

    fn idle_for(&self) -> Duration {
        lock(&self.last_used).elapsed()
    }

    pub fn add_operation(&self, operation: Arc<Operation>) -> ConnectResult<()> {
        let mut operations = lock(&self.operations);
        if operations.contains_key(operation.id()) {
            return Err(ConnectError::Handle {
                message: format!("[INVALID_HANDLE.OPERATION_ALREADY_EXISTS] The operation {} already exists.", operation.id()),
                error_class: "INVALID_HANDLE.OPERATION_ALREADY_EXISTS",
            });
        }
        operations.insert(operation.id().to_owned(), operation);
        Ok(())
    }

    pub fn operation(&self, id: &str) -> ConnectResult<Arc<Operation>> {
        lock(&self.operations).get(id).cloned().ok_or_else(|| ConnectError::Handle {
            message: format!("[INVALID_HANDLE.OPERATION_NOT_FOUND] The operation {id} cannot be found."),
            error_class: "INVALID_HANDLE.OPERATION_NOT_FOUND",
        })
    }

    pub fn remove_operation(&self, id: &str) -> Option<Arc<Operation>> {
        lock(&self.operations).remove(id)
    }

    pub fn operations(&self) -> Vec<Arc<Operation>> {
        lock(&self.operations).values().cloned().collect()
    }

    /// Cancels every operation of the session.
    pub fn close(&self) {
        for operation in lock(&self.operations).drain().map(|(_, op)| op) {
            operation.interrupt();
        }
    }
}

/// Every live session of the server.
pub struct SessionManager {
    engine: Engine,
    settings: Vec<(String, String)>,
    idle_timeout: Duration,
    sessions: tokio::sync::Mutex<HashMap<String, Arc<Session>>>,
}

impl SessionManager {
    pub fn new(engine: Engine, settings: Vec<(String, String)>, idle_timeout: Duration) -> Self {
        Self { engine, settings, idle_timeout, sessions: tokio::sync::Mutex::new(HashMap::new()) }
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The session `id`, made on first use. `observed` is the server-side id the client saw
    /// before: a different one means the session it knew is gone.
    pub async fn get_or_create(&self, id: &str, observed: Option<&str>) -> ConnectResult<Arc<Session>> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(ConnectError::Handle {
                message: format!("[INVALID_HANDLE.FORMAT] The handle {id} is invalid: a session id is a UUID."),
                error_class: "INVALID_HANDLE.FORMAT",
            });
        }
        let mut sessions = self.sessions.lock().await;
        self.expire(&mut sessions);
        if let Some(session) = sessions.get(id) {
            if let Some(observed) = observed.filter(|o| *o != session.server_side_id) {
                return Err(session_changed(id, observed));
            }
            session.touch();
            return Ok(Arc::clone(session));
        }
        if let Some(observed) = observed {
            return Err(session_changed(id, observed));
        }
        let ctx = match &self.engine {
            Engine::Embedded => verger::session_context()?,
            Engine::Cluster(url) => verger_cluster::remote_context(url).await?,
        };
        speak_spark_sql(&ctx);
        let session = Arc::new(Session {
            id: id.to_owned(),
            server_side_id: uuid::Uuid::new_v4().to_string(),
            ctx,
            spark_settings: Mutex::new(BTreeMap::new()),
            last_used: Mutex::new(Instant::now()),
            operations: Mutex::new(HashMap::new()),
        });
        let conf = crate::config::SessionConf { session: &session };
        for (key, value) in &self.settings {
            conf.set(key, value)?;
        }
        log::info!("session {id} opened ({} sessions)", sessions.len() + 1);
        sessions.insert(id.to_owned(), Arc::clone(&session));
        Ok(session)
    }

    pub async fn release(&self, id: &str) -> Option<Arc<Session>> {
        let session = self.sessions.lock().await.remove(id)?;
        session.close();
        log::info!("session {id} released");
        Some(session)
    }

    /// Drops sessions idle past the timeout that run nothing.
    fn expire(&self, sessions: &mut HashMap<String, Arc<Session>>) {
        sessions.retain(|id, session| {
            let keep = session.idle_for() < self.idle_timeout || session.operations().iter().any(|op| !op.is_finished());
            if !keep {
                log::info!("session {id} expired after {:?} idle", self.idle_timeout);
                session.close();
            }
            keep
        });
    }

    pub async fn expire_idle(&self) {
        let mut sessions = self.sessions.lock().await;
        self.expire(&mut sessions);
    }
}

/// `spark.sql(…)` is Spark SQL: Spark's parser dialect (`DIV`, `123L`, backquoted names),
/// Spark's decimal literals (`0.1` is DECIMAL(1,1)), Spark's TIMESTAMP and its text, and Spark's `/` (a DOUBLE quotient;
/// DIVIDE_BY_ZERO).
fn speak_spark_sql(ctx: &SessionContext) {
    let state = ctx.state_ref();
    let mut state = state.write();
    let options = state.config_mut().options_mut();
    options.sql_parser.dialect = datafusion::common::config::Dialect::Spark;
    options.sql_parser.parse_float_as_decimal = true;
    // Spark's TIMESTAMP is in the session time zone, UTC unless set.
    options.execution.time_zone.get_or_insert_with(|| "UTC".to_owned());
    drop(state);
    ctx.add_analyzer_rule(Arc::new(verger_spark::SparkDivisionRule));
    ctx.add_analyzer_rule(Arc::new(verger_spark::SparkCastRule));
}

fn session_changed(id: &str, observed: &str) -> ConnectError {
    ConnectError::Handle {
        message: format!(
            "[INVALID_HANDLE.SESSION_CHANGED] The existing Spark server driver instance has restarted or the session {id} (server side {observed}) has expired. Please reconnect."
        ),
        error_class: "INVALID_HANDLE.SESSION_CHANGED",
    }
}
