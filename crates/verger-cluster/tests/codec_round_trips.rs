//! Every node of verger's that crosses a cluster's hops survives its codec: the seeds' job,
//! planned by a real session, is encoded and decoded as the client → scheduler (logical) and
//! scheduler → executors (physical) hops do it, and comes back the same plan. The plans must
//! hold each of verger's nodes, so that a node without a codec fails here rather than on a
//! cluster.

use datafusion::error::{DataFusionError, Result};
use datafusion::physical_plan::displayable;
use datafusion::prelude::SessionContext;
use datafusion_proto::bytes::{
    logical_plan_from_bytes_with_extension_codec, logical_plan_to_bytes_with_extension_codec,
    physical_plan_from_bytes_with_extension_codec, physical_plan_to_bytes_with_extension_codec,
};
use verger_cluster::{VergerLogicalCodec, VergerPhysicalCodec};

fn external(error: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::External(error.to_string().into())
}

/// The seeds' job on `images`, written to `output`.
fn pipeline_sql(output: &str) -> String {
    format!(
        "COPY (SELECT path, element_at(split(path, '/'), -2) AS label, \
                pca(standardize(image_features(content), true, true), 0.9) AS pca_features, \
                pca_explained_variance(standardize(image_features(content), true, true), 0.9) AS explained_variance \
         FROM images) TO '{output}' STORED AS PARQUET OPTIONS ('mode' 'overwrite')"
    )
}

async fn session_with_images() -> Result<(SessionContext, tempfile::TempDir)> {
    let dir = tempfile::tempdir().map_err(external)?;
    verger_imagegen::generate(dir.path(), 2, 2, 0).map_err(external)?;
    // A client's or scheduler's session: it plans, it never loads a model (an embedded one would
    // preload it, and the test process could exit in the middle of that load).
    let ctx = SessionContext::new_with_state(verger::session_state_builder(verger::session_config())?.build());
    ctx.sql(&format!(
        "CREATE EXTERNAL TABLE images STORED AS BINARYFILE LOCATION '{}' OPTIONS ('recursiveFileLookup' 'true')",
        dir.path().display()
    ))
    .await?;
    Ok((ctx, dir))
}

#[tokio::test(flavor = "multi_thread")]
async fn logical_plans_round_trip_through_the_client_codec() -> Result<()> {
    let (ctx, dir) = session_with_images().await?;
    let output = dir.path().join("out").display().to_string();
    let plan = ctx.state().create_logical_plan(&pipeline_sql(&output)).await?;
    let plan = ctx.state().optimize(&plan)?;
    let shown = plan.display_indent().to_string();
    for node in [
        "TableScan: images",
        "MaterializeWrite",
        "MaterializeRead",
        "MaterializeRelease",
        "CommittedParquetWrite",
        "image_features",
        "pca_transform",
    ] {
        assert!(shown.contains(node), "the plan has no {node}:\n{shown}");
    }
    let codec = VergerLogicalCodec::default();
    let bytes = logical_plan_to_bytes_with_extension_codec(&plan, &codec)?;
    let decoded = logical_plan_from_bytes_with_extension_codec(&bytes, &ctx.task_ctx(), &codec)?;
    assert_eq!(decoded.display_indent().to_string(), shown);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn physical_plans_round_trip_through_the_scheduler_codec() -> Result<()> {
    let (ctx, dir) = session_with_images().await?;
    let output = dir.path().join("out").display().to_string();
    let plan = ctx.sql(&pipeline_sql(&output)).await?.create_physical_plan().await?;
    let shown = displayable(plan.as_ref()).indent(true).to_string();
    for node in [
        "BinaryFileScanExec",
        "MaterializeWriteExec",
        "MaterializeReadExec",
        "MaterializeReleaseExec",
        "ParquetPartWriterExec",
        "ParquetCommitExec",
    ] {
        assert!(shown.contains(node), "the plan has no {node}:\n{shown}");
    }
    let codec = VergerPhysicalCodec::default();
    let bytes = physical_plan_to_bytes_with_extension_codec(plan, &codec)?;
    let decoded = physical_plan_from_bytes_with_extension_codec(&bytes, &ctx.task_ctx(), &codec)?;
    assert_eq!(displayable(decoded.as_ref()).indent(true).to_string(), shown);
    Ok(())
}

#[test]
fn foreign_bytes_are_not_taken_for_verger_nodes() -> Result<()> {
    use datafusion_proto::logical_plan::LogicalExtensionCodec;
    let ctx = SessionContext::new();
    let codec = VergerLogicalCodec::default();
    // Without the tag, bytes go to Ballista's codec, which refuses garbage with its own error.
    let error = codec.try_decode(b"not a node", &[], &ctx.task_ctx()).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(!error.is_empty());
    // With the tag but no known codec position, the error says so.
    let mut tagged = verger_cluster::VERGER_TAG.to_vec();
    tagged.push(200);
    let error = codec.try_decode(&tagged, &[], &ctx.task_ctx()).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(error.contains("codec position 200"), "{error}");
    Ok(())
}
