//! The three sessions of a distributed query resolve verger's functions to verger's code.

use datafusion::execution::FunctionRegistry;
use verger_cluster::{SchedulerOptions, scheduler_config, verger_ballista_config};

#[test]
fn scheduler_sessions_resolve_spark_functions_to_verger() -> datafusion::error::Result<()> {
    let config = scheduler_config(&SchedulerOptions {
        bind_host: "127.0.0.1".into(),
        port: 0,
        external_host: "localhost".into(),
        executor_timeout_seconds: 30,
    });
    let builder =
        config.override_session_builder.clone().ok_or_else(|| datafusion::error::DataFusionError::Internal("no session builder".into()))?;
    let state = builder(verger_ballista_config())?;
    for name in ["element_at", "try_element_at", "split"] {
        let udf = state.udf(name)?;
        assert_eq!(udf.name(), name, "{name} resolves to {}", udf.name());
    }
    Ok(())
}

#[tokio::test]
async fn client_sessions_resolve_spark_functions_to_verger() -> datafusion::error::Result<()> {
    // The client connects to the scheduler lazily, at the first query.
    let ctx = verger_cluster::remote_context("df://127.0.0.1:1").await?;
    for name in ["element_at", "try_element_at", "split"] {
        let udf = ctx.state().udf(name)?;
        assert_eq!(udf.name(), name, "{name} resolves to {}", udf.name());
    }
    let plan = ctx.state().create_logical_plan("SELECT element_at([1, 2], 1)").await?;
    assert!(plan.display_indent().to_string().contains("element_at"), "{}", plan.display_indent());
    Ok(())
}
