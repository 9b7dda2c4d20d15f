//! The SparkConnectService: each RPC against the session it names.

use crate::config::SessionConf;
use crate::error::{ConnectError, ConnectResult};
use crate::execute::{self, Operation, ResponseStream};
use crate::plan::{self, Planner};
use crate::proto::spark_connect_service_server::SparkConnectService;
use crate::proto::*;
use crate::session::{Session, SessionManager};
use crate::{ordered, show, types};
use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::dataframe::DataFrame;
use datafusion::physical_plan::displayable;
use futures::StreamExt;
use std::sync::Arc;
use tonic::{Request, Response, Status, Streaming};

/// The Spark version verger answers: the protocol of the pinned client.
pub const SPARK_VERSION: &str = "4.2.0";

pub struct VergerConnect {
    pub sessions: Arc<SessionManager>,
}

fn status(error: ConnectError) -> Status {
    error.to_status()
}

impl VergerConnect {
    async fn session(&self, id: &str, observed: Option<&str>) -> Result<Arc<Session>, Status> {
        self.sessions.get_or_create(id, observed).await.map_err(status)
    }
}

/// The relation or command of a plan.
fn op_type(plan: Option<&Plan>) -> ConnectResult<&crate::proto::plan::OpType> {
    let plan = plan.ok_or_else(|| ConnectError::invalid("a request without a plan"))?;
    match plan.op_type.as_ref() {
        Some(crate::proto::plan::OpType::CompressedOperation(_)) => Err(ConnectError::unsupported(
            "compressed plans (spark.connect.session.planCompression); verger's server asks the client not to compress",
        )),
        Some(op) => Ok(op),
        None => Err(ConnectError::invalid("a plan without a relation or command")),
    }
}

fn relation_of(plan: Option<&Plan>) -> ConnectResult<&Relation> {
    match op_type(plan)? {
        crate::proto::plan::OpType::Root(relation) => Ok(relation),
        _ => Err(ConnectError::invalid("an analysis of a command; analyse a relation")),
    }
}

/// Runs one ExecutePlan request, leaving its responses in `operation`.
async fn run(session: Arc<Session>, plan: Plan, operation: Arc<Operation>, allow_chunking: bool) -> ConnectResult<()> {
    use crate::proto::plan::OpType;
    let planner = Planner { session: &session };
    match op_type(Some(&plan))? {
        OpType::Root(relation) => {
            if let Some(relation::RelType::ShowString(show)) = &relation.rel_type {
                let input = planner.root(show.input.as_deref().ok_or_else(|| ConnectError::invalid("show without input"))?).await?;
                let text = show_text(input, show.num_rows, show.truncate, show.vertical, &operation).await?;
                return send_text(&operation, "show_string", text).await;
            }
            let df = planner.root(relation).await?;
            stream_result(&session, df, &operation, allow_chunking).await
        }
        OpType::Command(command) => run_command(&session, command, &operation).await,
        OpType::CompressedOperation(_) => Err(ConnectError::unsupported("compressed plans")),
    }
}

async fn show_text(input: DataFrame, num_rows: i32, truncate: i32, vertical: bool, operation: &Operation) -> ConnectResult<String> {
    let num_rows = usize::try_from(num_rows.max(0)).unwrap_or(0);
    let names: Vec<String> = input.schema().fields().iter().map(|f| f.name().clone()).collect();
    let limited = input.limit(0, Some(num_rows + 1))?;
    let batches = execute::with_heartbeat(operation, async {
        datafusion::physical_plan::common::collect(ordered::execute_in_partition_order(limited).await?).await
    })
    .await??;
    show::show_string(&names, &batches, num_rows, usize::try_from(truncate.max(0)).unwrap_or(0), vertical)
}

async fn send_text(operation: &Operation, column: &str, text: String) -> ConnectResult<()> {
    let schema = Arc::new(Schema::new(vec![Field::new(column, DataType::Utf8, false)]));
    let batch = RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(StringArray::from(vec![text]))])?;
    operation.send_schema(types::spark_schema(&schema)?).await?;
    let mut offset = 0;
    execute::send_batch(operation, &batch, false, &mut offset).await
}

async fn stream_result(session: &Session, df: DataFrame, operation: &Operation, allow_chunking: bool) -> ConnectResult<()> {
    let time_zone = session.time_zone();
    let schema = client_schema_of(&df, &time_zone);
    operation.send_schema(types::spark_schema(&schema)?).await?;
    let mut stream = execute::with_heartbeat(operation, ordered::execute_in_partition_order(df)).await??;
    let mut offset = 0i64;
    let mut sent = false;
    while let Some(batch) = execute::with_heartbeat(operation, stream.next()).await? {
        let batch = types::to_client_batch(&batch?, &schema)?;
        if batch.num_rows() == 0 {
            continue;
        }
        execute::send_batch(operation, &batch, allow_chunking, &mut offset).await?;
        sent = true;
    }
    if !sent {
        execute::send_empty(operation, &schema).await?;
    }
    Ok(())
}

fn client_schema_of(df: &DataFrame, time_zone: &str) -> datafusion::arrow::datatypes::SchemaRef {
    types::client_schema(df.schema().as_arrow(), time_zone)
}

/// True when `sql` is a query, which Spark runs lazily; commands run when sent.
fn is_query(session: &Session, sql: &str) -> ConnectResult<bool> {
    let statement = crate::spark_sql::parse(&session.ctx, sql)?;
    Ok(
        matches!(statement, datafusion::sql::parser::Statement::Statement(s) if matches!(*s, datafusion::sql::sqlparser::ast::Statement::Query(_))),
    )
}

async fn run_command(session: &Arc<Session>, command: &Command, operation: &Operation) -> ConnectResult<()> {
    use crate::proto::command::CommandType;
    use crate::proto::execute_plan_response::{ResponseType, SqlCommandResult};
    let planner = Planner { session };
    let kind = command.command_type.as_ref().ok_or_else(|| ConnectError::invalid("a command without a type"))?;
    match kind {
        CommandType::SqlCommand(sql) => {
            #[allow(deprecated)]
            let (text, input) = match &sql.input {
                Some(input) => match &input.rel_type {
                    Some(relation::RelType::Sql(s)) => (s.query.clone(), Some(input.clone())),
                    _ => (String::new(), Some(input.clone())),
                },
                None => (sql.sql.clone(), None),
            };
            let relation = match input {
                Some(input) if !text.is_empty() && is_query(session, &text)? => input,
                Some(input) if text.is_empty() => input,
                _ => {
                    // A command: run it now, as Spark does, and hand back its result rows.
                    let df = crate::spark_sql::spark_sql(&session.ctx, &text).await?;
                    let batches = execute::with_heartbeat(operation, df.clone().collect()).await??;
                    let schema = client_schema_of(&df, &session.time_zone());
                    let mut writer = datafusion::arrow::ipc::writer::StreamWriter::try_new(Vec::new(), &schema)?;
                    for batch in &batches {
                        writer.write(&types::to_client_batch(batch, &schema)?)?;
                    }
                    writer.finish()?;
                    Relation {
                        common: None,
                        rel_type: Some(relation::RelType::LocalRelation(LocalRelation {
                            data: Some(writer.into_inner()?.into()),
                            schema: None,
                        })),
                    }
                }
            };
            operation.send(ResponseType::SqlCommandResult(SqlCommandResult { relation: Some(relation) })).await
        }
        CommandType::CreateDataframeView(view) => {
            if view.is_global {
                return Err(ConnectError::unsupported("global temporary views (createGlobalTempView); use createOrReplaceTempView"));
            }
            let df = planner.root(view.input.as_ref().ok_or_else(|| ConnectError::invalid("a view without its DataFrame"))?).await?;
            let exists = session.ctx.table_exist(view.name.as_str())?;
            if exists && !view.replace {
                return Err(ConnectError::Analysis {
                    message: format!(
                        "[TEMP_TABLE_OR_VIEW_ALREADY_EXISTS] Cannot create the temporary view `{}` because it already exists.",
                        view.name
                    ),
                    error_class: Some("TEMP_TABLE_OR_VIEW_ALREADY_EXISTS"),
                });
            }
            if exists {
                session.ctx.deregister_table(view.name.as_str())?;
            }
            let view_table = datafusion::catalog::view::ViewTable::new(df.into_optimized_plan()?, None);
            session.ctx.register_table(view.name.as_str(), Arc::new(view_table))?;
            Ok(())
        }
        CommandType::WriteOperation(write) => {
            let df = planner.root(write.input.as_ref().ok_or_else(|| ConnectError::invalid("a write without its DataFrame"))?).await?;
            execute::with_heartbeat(operation, plan::write(session, df, write)).await?
        }
        CommandType::RegisterFunction(f) => Err(crate::expression::python_relation(&f.function_name)),
        CommandType::RegisterTableFunction(_) => Err(crate::expression::python_relation("Python UDTFs")),
        CommandType::MlCommand(_) => Err(ConnectError::unsupported("pyspark.ml over Spark Connect yet (issue 23)")),
        CommandType::WriteOperationV2(_) => Err(ConnectError::unsupported("DataFrameWriterV2 (writeTo); use df.write.parquet(path)")),
        CommandType::WriteStreamOperationStart(_)
        | CommandType::StreamingQueryCommand(_)
        | CommandType::StreamingQueryManagerCommand(_) => Err(ConnectError::unsupported("Structured Streaming")),
        _ => Err(ConnectError::unsupported("this command")),
    }
}

/// PySpark's printSchema.
fn tree_string(schema: &Schema, level: Option<i32>) -> String {
    let mut out = "root\n".to_owned();
    let max = level.filter(|l| *l > 0).map_or(usize::MAX, |l| l as usize);
    for field in schema.fields() {
        tree_field(&mut out, field.name(), field.data_type(), field.is_nullable(), "nullable", 1, max);
    }
    out
}

fn simple_type_name(data_type: &DataType) -> String {
    if verger::is_spark_vector(data_type) {
        return "vector".into();
    }
    match types::spark_type(data_type).ok().and_then(|t| t.kind) {
        Some(kind) => {
            use crate::proto::data_type::Kind;
            match kind {
                Kind::Null(_) => "void".into(),
                Kind::Boolean(_) => "boolean".into(),
                Kind::Byte(_) => "byte".into(),
                Kind::Short(_) => "short".into(),
                Kind::Integer(_) => "integer".into(),
                Kind::Long(_) => "long".into(),
                Kind::Float(_) => "float".into(),
                Kind::Double(_) => "double".into(),
                Kind::String(_) => "string".into(),
                Kind::Binary(_) => "binary".into(),
                Kind::Date(_) => "date".into(),
                Kind::Timestamp(_) => "timestamp".into(),
                Kind::TimestampNtz(_) => "timestamp_ntz".into(),
                Kind::Decimal(d) => format!("decimal({},{})", d.precision.unwrap_or(10), d.scale.unwrap_or(0)),
                Kind::Array(_) => "array".into(),
                Kind::Struct(_) => "struct".into(),
                Kind::Map(_) => "map".into(),
                Kind::DayTimeInterval(_) => "interval day to second".into(),
                _ => data_type.to_string(),
            }
        }
        None => data_type.to_string(),
    }
}

fn tree_field(out: &mut String, name: &str, data_type: &DataType, nullable: bool, label: &str, depth: usize, max: usize) {
    if depth > max {
        return;
    }
    let indent = " |   ".repeat(depth - 1);
    out.push_str(&format!("{indent} |-- {name}: {} ({label} = {nullable})\n", simple_type_name(data_type)));
    match data_type {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            tree_field(out, "element", f.data_type(), f.is_nullable(), "containsNull", depth + 1, max)
        }
        DataType::Struct(_) if verger::is_spark_vector(data_type) => {}
        DataType::Struct(fields) => {
            for f in fields {
                tree_field(out, f.name(), f.data_type(), f.is_nullable(), "nullable", depth + 1, max);
            }
        }
        DataType::Map(entries, _) => {
            if let DataType::Struct(kv) = entries.data_type()
                && kv.len() == 2
            {
                tree_field(out, "key", kv[0].data_type(), false, "nullable", depth + 1, max);
                tree_field(out, "value", kv[1].data_type(), kv[1].is_nullable(), "valueContainsNull", depth + 1, max);
            }
        }
        _ => {}
    }
}

async fn explain(df: DataFrame, mode: i32) -> ConnectResult<String> {
    use crate::proto::analyze_plan_request::explain::ExplainMode;
    let extended = matches!(
        ExplainMode::try_from(mode),
        Ok(ExplainMode::Extended | ExplainMode::Cost | ExplainMode::Codegen | ExplainMode::Formatted)
    );
    let logical = df.logical_plan().clone();
    let optimized = df.clone().into_optimized_plan()?;
    let physical = df.create_physical_plan().await?;
    let physical = displayable(physical.as_ref()).indent(true).to_string();
    Ok(if extended {
        format!(
            "== Analyzed Logical Plan ==\n{}\n\n== Optimized Logical Plan ==\n{}\n\n== Physical Plan ==\n{}",
            logical.display_indent(),
            optimized.display_indent(),
            physical
        )
    } else {
        format!("== Physical Plan ==\n{physical}")
    })
}

#[tonic::async_trait]
impl SparkConnectService for VergerConnect {
    type ExecutePlanStream = ResponseStream;
    type ReattachExecuteStream = ResponseStream;

    async fn execute_plan(&self, request: Request<ExecutePlanRequest>) -> Result<Response<Self::ExecutePlanStream>, Status> {
        let request = request.into_inner();
        let session = self.session(&request.session_id, request.client_observed_server_side_session_id.as_deref()).await?;
        let operation_id = match request.operation_id.as_deref() {
            Some(id) => uuid::Uuid::parse_str(id)
                .map_err(|_| {
                    status(ConnectError::Handle {
                        message: format!("[INVALID_HANDLE.FORMAT] The handle {id} is invalid."),
                        error_class: "INVALID_HANDLE.FORMAT",
                    })
                })?
                .to_string(),
            None => uuid::Uuid::new_v4().to_string(),
        };
        let mut reattachable = false;
        let mut allow_chunking = false;
        for option in &request.request_options {
            match &option.request_option {
                Some(execute_plan_request::request_option::RequestOption::ReattachOptions(o)) => reattachable = o.reattachable,
                Some(execute_plan_request::request_option::RequestOption::ResultChunkingOptions(o)) => {
                    allow_chunking = o.allow_arrow_batch_chunking
                }
                _ => {}
            }
        }
        let plan = request.plan.ok_or_else(|| status(ConnectError::invalid("ExecutePlan without a plan")))?;
        let operation = Operation::new(operation_id, session.id.clone(), session.server_side_id.clone(), request.tags, reattachable);
        session.add_operation(Arc::clone(&operation)).map_err(status)?;
        let stream = operation.stream(None).map_err(status)?;
        let task_operation = Arc::clone(&operation);
        let task_session = Arc::clone(&session);
        let task = tokio::spawn(async move {
            let result = run(Arc::clone(&task_session), plan, Arc::clone(&task_operation), allow_chunking).await;
            task_operation.finish(result).await;
            if !reattachable {
                task_session.remove_operation(task_operation.id());
            }
        });
        operation.set_task(task.abort_handle());
        Ok(Response::new(stream))
    }

    async fn analyze_plan(&self, request: Request<AnalyzePlanRequest>) -> Result<Response<AnalyzePlanResponse>, Status> {
        use analyze_plan_request::Analyze;
        use analyze_plan_response::Result as R;
        let request = request.into_inner();
        let session = self.session(&request.session_id, request.client_observed_server_side_session_id.as_deref()).await?;
        let planner = Planner { session: &session };
        let tz = session.time_zone();
        let analyze = request.analyze.ok_or_else(|| status(ConnectError::invalid("AnalyzePlan without a question")))?;
        let result: ConnectResult<R> = async {
            Ok(match &analyze {
                Analyze::Schema(s) => {
                    let df = planner.root(relation_of(s.plan.as_ref())?).await?;
                    R::Schema(analyze_plan_response::Schema { schema: Some(types::spark_schema(&client_schema_of(&df, &tz))?) })
                }
                Analyze::Explain(e) => {
                    let df = planner.root(relation_of(e.plan.as_ref())?).await?;
                    R::Explain(analyze_plan_response::Explain { explain_string: explain(df, e.explain_mode).await? })
                }
                Analyze::TreeString(t) => {
                    let df = planner.root(relation_of(t.plan.as_ref())?).await?;
                    R::TreeString(analyze_plan_response::TreeString { tree_string: tree_string(&client_schema_of(&df, &tz), t.level) })
                }
                Analyze::IsLocal(_) => R::IsLocal(analyze_plan_response::IsLocal { is_local: false }),
                Analyze::IsStreaming(_) => R::IsStreaming(analyze_plan_response::IsStreaming { is_streaming: false }),
                Analyze::InputFiles(_) => R::InputFiles(analyze_plan_response::InputFiles { files: Vec::new() }),
                Analyze::SparkVersion(_) => R::SparkVersion(analyze_plan_response::SparkVersion { version: SPARK_VERSION.to_owned() }),
                Analyze::DdlParse(d) => {
                    let schema = types::parse_ddl_schema(&d.ddl_string, &tz)?;
                    R::DdlParse(analyze_plan_response::DdlParse { parsed: Some(types::spark_schema(&schema)?) })
                }
                Analyze::SameSemantics(s) => {
                    let a = planner.root(relation_of(s.target_plan.as_ref())?).await?.into_optimized_plan()?;
                    let b = planner.root(relation_of(s.other_plan.as_ref())?).await?.into_optimized_plan()?;
                    R::SameSemantics(analyze_plan_response::SameSemantics {
                        result: a.display_indent().to_string() == b.display_indent().to_string(),
                    })
                }
                Analyze::SemanticHash(s) => {
                    use std::hash::{Hash, Hasher};
                    let plan = planner.root(relation_of(s.plan.as_ref())?).await?.into_optimized_plan()?;
                    let mut hasher = std::collections::hash_map::DefaultHasher::new();
                    plan.display_indent().to_string().hash(&mut hasher);
                    R::SemanticHash(analyze_plan_response::SemanticHash { result: hasher.finish() as i32 })
                }
                // verger keeps no cache: persist is accepted and changes nothing.
                Analyze::Persist(_) => R::Persist(analyze_plan_response::Persist {}),
                Analyze::Unpersist(_) => R::Unpersist(analyze_plan_response::Unpersist {}),
                Analyze::GetStorageLevel(_) => {
                    R::GetStorageLevel(analyze_plan_response::GetStorageLevel { storage_level: Some(StorageLevel::default()) })
                }
                Analyze::JsonToDdl(_) => return Err(ConnectError::unsupported("json_to_ddl")),
            })
        }
        .await;
        Ok(Response::new(AnalyzePlanResponse {
            session_id: session.id.clone(),
            server_side_session_id: session.server_side_id.clone(),
            result: Some(result.map_err(status)?),
        }))
    }

    async fn config(&self, request: Request<ConfigRequest>) -> Result<Response<ConfigResponse>, Status> {
        let request = request.into_inner();
        let session = self.session(&request.session_id, request.client_observed_server_side_session_id.as_deref()).await?;
        let operation =
            request.operation.and_then(|o| o.op_type).ok_or_else(|| status(ConnectError::invalid("Config without an operation")))?;
        let (pairs, warnings) = SessionConf { session: &session }.apply(operation).map_err(status)?;
        Ok(Response::new(ConfigResponse {
            session_id: session.id.clone(),
            server_side_session_id: session.server_side_id.clone(),
            pairs,
            warnings,
        }))
    }

    async fn add_artifacts(&self, _request: Request<Streaming<AddArtifactsRequest>>) -> Result<Response<AddArtifactsResponse>, Status> {
        Err(status(ConnectError::unsupported("artifacts (addArtifacts, Python files, jars): verger runs no client code")))
    }

    async fn artifact_status(&self, _request: Request<ArtifactStatusesRequest>) -> Result<Response<ArtifactStatusesResponse>, Status> {
        Err(status(ConnectError::unsupported("artifacts (addArtifacts, Python files, jars): verger runs no client code")))
    }

    async fn interrupt(&self, request: Request<InterruptRequest>) -> Result<Response<InterruptResponse>, Status> {
        use interrupt_request::{Interrupt, InterruptType};
        let request = request.into_inner();
        let session = self.session(&request.session_id, request.client_observed_server_side_session_id.as_deref()).await?;
        let kind = InterruptType::try_from(request.interrupt_type).unwrap_or(InterruptType::Unspecified);
        let mut interrupted = Vec::new();
        for operation in session.operations() {
            let hit = match (kind, &request.interrupt) {
                (InterruptType::All, _) => true,
                (InterruptType::Tag, Some(Interrupt::OperationTag(tag))) => operation.tags.contains(tag),
                (InterruptType::OperationId, Some(Interrupt::OperationId(id))) => operation.id() == id,
                _ => false,
            };
            if hit && !operation.is_finished() {
                operation.interrupt();
                interrupted.push(operation.id().to_owned());
            }
        }
        Ok(Response::new(InterruptResponse {
            session_id: session.id.clone(),
            server_side_session_id: session.server_side_id.clone(),
            interrupted_ids: interrupted,
        }))
    }

    async fn reattach_execute(&self, request: Request<ReattachExecuteRequest>) -> Result<Response<Self::ReattachExecuteStream>, Status> {
        let request = request.into_inner();
        let session = self.session(&request.session_id, request.client_observed_server_side_session_id.as_deref()).await?;
        let operation = session.operation(&request.operation_id).map_err(status)?;
        Ok(Response::new(operation.stream(request.last_response_id.as_deref()).map_err(status)?))
    }

    async fn release_execute(&self, request: Request<ReleaseExecuteRequest>) -> Result<Response<ReleaseExecuteResponse>, Status> {
        let request = request.into_inner();
        let session = self.session(&request.session_id, request.client_observed_server_side_session_id.as_deref()).await?;
        if let Ok(operation) = session.operation(&request.operation_id) {
            match &request.release {
                Some(release_execute_request::Release::ReleaseUntil(until)) => {
                    operation.release(Some(&until.response_id)).map_err(status)?
                }
                _ => {
                    operation.release(None).map_err(status)?;
                    if !operation.is_finished() {
                        operation.interrupt();
                    }
                    session.remove_operation(&request.operation_id);
                }
            }
        }
        Ok(Response::new(ReleaseExecuteResponse {
            session_id: session.id.clone(),
            server_side_session_id: session.server_side_id.clone(),
            operation_id: Some(request.operation_id),
        }))
    }

    async fn release_session(&self, request: Request<ReleaseSessionRequest>) -> Result<Response<ReleaseSessionResponse>, Status> {
        let request = request.into_inner();
        let server_side = self.sessions.release(&request.session_id).await.map(|s| s.server_side_id.clone()).unwrap_or_default();
        Ok(Response::new(ReleaseSessionResponse { session_id: request.session_id, server_side_session_id: server_side }))
    }

    async fn fetch_error_details(&self, request: Request<FetchErrorDetailsRequest>) -> Result<Response<FetchErrorDetailsResponse>, Status> {
        let request = request.into_inner();
        let session = self.session(&request.session_id, request.client_observed_server_side_session_id.as_deref()).await?;
        // Errors travel whole in their status; there is nothing more to fetch.
        Ok(Response::new(FetchErrorDetailsResponse {
            server_side_session_id: session.server_side_id.clone(),
            session_id: session.id.clone(),
            root_error_idx: None,
            errors: Vec::new(),
        }))
    }

    async fn clone_session(&self, _request: Request<CloneSessionRequest>) -> Result<Response<CloneSessionResponse>, Status> {
        Err(status(ConnectError::unsupported("cloning sessions")))
    }

    async fn get_status(&self, request: Request<GetStatusRequest>) -> Result<Response<GetStatusResponse>, Status> {
        use get_status_response::{OperationStatus, operation_status::OperationState};
        let request = request.into_inner();
        let session = self.session(&request.session_id, request.client_observed_server_side_session_id.as_deref()).await?;
        let wanted = request.operation_status.map(|s| s.operation_ids).unwrap_or_default();
        let operation_statuses = wanted
            .into_iter()
            .map(|id| {
                let state = match session.operation(&id) {
                    Ok(op) if op.is_finished() => OperationState::Succeeded,
                    Ok(_) => OperationState::Running,
                    Err(_) => OperationState::Unknown,
                };
                OperationStatus { operation_id: id, state: state as i32, extensions: Vec::new() }
            })
            .collect();
        Ok(Response::new(GetStatusResponse {
            session_id: session.id.clone(),
            server_side_session_id: session.server_side_id.clone(),
            operation_statuses,
            extensions: Vec::new(),
        }))
    }
}
