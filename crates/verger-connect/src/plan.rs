//! Spark Connect relations → DataFusion DataFrames, in the session's context (embedded or on
//! the cluster: the plans are the ones `verger sql` would build, so they cross the same hops).

use crate::error::{ConnectError, ConnectResult};
use crate::expression::{ExprContext, column, parse_identifier, plan_alias, python_relation};
use crate::generator::find_generator;
use crate::multiset::{Multiset, by_position, multiset};
use crate::proto::{self, Relation, relation::RelType};
use crate::session::Session;
use crate::types;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::common::{Column, JoinType, ScalarValue};
use datafusion::dataframe::DataFrame;
use datafusion::datasource::file_format::format_as_file_type;
use datafusion::datasource::file_format::parquet::ParquetFormatFactory;
use datafusion::execution::options::{CsvReadOptions, JsonReadOptions, ParquetReadOptions};
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, cast, lit};
use datafusion::prelude::SessionContext;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::Arc;
use verger::{BinaryFileOptions, BinaryFileReadExt};
use verger_spark::range::SparkRange;

/// Rows a LocalRelation (createDataFrame) may carry: it becomes a VALUES plan, which crosses
/// to a cluster like any other plan.
const MAX_LOCAL_ROWS: usize = 1_000_000;

pub struct Planner<'a> {
    pub session: &'a Session,
}

impl<'a> Planner<'a> {
    fn ctx(&self) -> &SessionContext {
        &self.session.ctx
    }

    fn exprs<'b>(&'b self, df: &'b DataFrame, tz: &'b str) -> ExprContext<'b> {
        ExprContext { ctx: &self.session.ctx, schema: df.schema(), time_zone: tz }
    }

    /// The DataFrame of a plan's root relation, analyzed, so that the schema the client is told
    /// before the rows is the one the rows have: type coercion's (a CASE of an INT and a DOUBLE
    /// is a DOUBLE), the session's SparkDivisionRule's DOUBLE quotients. Execution analyzes the
    /// plan again and finds nothing left to change.
    pub async fn root(&self, relation: &Relation) -> ConnectResult<DataFrame> {
        let (state, plan) = self.relation(relation).await?.into_parts();
        let plan = state.analyzer().execute_and_check(plan, state.config_options(), |_, _| {})?;
        Ok(DataFrame::new(state, plan))
    }

    pub fn relation<'b>(&'b self, relation: &'b Relation) -> BoxFuture<'b, ConnectResult<DataFrame>> {
        Box::pin(async move { self.relation_inner(relation).await })
    }

    fn input<'b>(&'b self, input: Option<&'b Relation>) -> BoxFuture<'b, ConnectResult<DataFrame>> {
        Box::pin(async move {
            let input = input.ok_or_else(|| ConnectError::invalid("a relation without its input"))?;
            self.relation(input).await
        })
    }

    async fn relation_inner(&self, relation: &Relation) -> ConnectResult<DataFrame> {
        let tz = self.session.time_zone();
        let tz = tz.as_str();
        let kind = relation.rel_type.as_ref().ok_or_else(|| ConnectError::invalid("a relation without a type"))?;
        Ok(match kind {
            RelType::Read(read) => self.read(read).await?,
            RelType::Sql(sql) => {
                #[allow(deprecated)]
                let has_args =
                    !sql.pos_arguments.is_empty() || !sql.named_arguments.is_empty() || !sql.args.is_empty() || !sql.pos_args.is_empty();
                if has_args {
                    return Err(ConnectError::unsupported("parameters in spark.sql (args=…); put the values in the query"));
                }
                crate::spark_sql::spark_sql(self.ctx(), &sql.query).await?
            }
            RelType::Project(project) => {
                let input = match project.input.as_deref() {
                    Some(input) => self.relation(input).await?,
                    // select without a FROM: one row.
                    None => DataFrame::new(self.ctx().state(), LogicalPlanBuilder::empty(true).build()?),
                };
                match find_generator(&project.expressions)? {
                    Some(generator) => {
                        let before = self.select_list(&input, &project.expressions[..generator.position], tz)?;
                        let after = self.select_list(&input, &project.expressions[generator.position + 1..], tz)?;
                        let array = self.exprs(&input, tz).expr(generator.argument())?;
                        generator.generate(input, array, before, after)?
                    }
                    None => {
                        let exprs = self.select_list(&input, &project.expressions, tz)?;
                        input.select(exprs)?
                    }
                }
            }
            RelType::Filter(filter) => {
                let input = self.input(filter.input.as_deref()).await?;
                let condition = self
                    .exprs(&input, tz)
                    .expr(filter.condition.as_ref().ok_or_else(|| ConnectError::invalid("a filter without a condition"))?)?;
                input.filter(condition)?
            }
            RelType::Sort(sort) => {
                let input = self.input(sort.input.as_deref()).await?;
                let keys = sort.order.iter().map(|o| self.exprs(&input, tz).sort(o)).collect::<ConnectResult<Vec<_>>>()?;
                input.sort(keys)?
            }
            RelType::Limit(limit) => {
                let input = self.input(limit.input.as_deref()).await?;
                input.limit(0, Some(non_negative(limit.limit, "limit")?))?
            }
            RelType::Offset(offset) => {
                let input = self.input(offset.input.as_deref()).await?;
                input.limit(non_negative(offset.offset, "offset")?, None)?
            }
            RelType::Aggregate(aggregate) => self.aggregate(aggregate, tz).await?,
            RelType::Join(join) => self.join(join, tz).await?,
            RelType::SetOp(set) => self.set_operation(set).await?,
            RelType::Deduplicate(dedup) => {
                let input = self.input(dedup.input.as_deref()).await?;
                if dedup.all_columns_as_keys.unwrap_or(false) || dedup.column_names.is_empty() {
                    input.distinct()?
                } else {
                    let keys: Vec<Expr> = dedup.column_names.iter().map(|n| column(n)).collect();
                    let all: Vec<Expr> = input.schema().columns().into_iter().map(Expr::Column).collect();
                    input.distinct_on(keys, all, None)?
                }
            }
            RelType::SubqueryAlias(alias) => self.input(alias.input.as_deref()).await?.alias(&alias.alias)?,
            RelType::Repartition(r) => self.input(r.input.as_deref()).await?,
            RelType::RepartitionByExpression(r) => self.input(r.input.as_deref()).await?,
            RelType::Hint(h) => self.input(h.input.as_deref()).await?,
            RelType::ToDf(to_df) => {
                let input = self.input(to_df.input.as_deref()).await?;
                let fields = input.schema().columns();
                if fields.len() != to_df.column_names.len() {
                    return Err(ConnectError::analysis(format!(
                        "[LENGTH_SHOULD_BE_THE_SAME] toDF got {} names for {} columns",
                        to_df.column_names.len(),
                        fields.len()
                    )));
                }
                let exprs: Vec<Expr> = fields.into_iter().zip(&to_df.column_names).map(|(c, n)| Expr::Column(c).alias(n)).collect();
                input.select(exprs)?
            }
            RelType::WithColumnsRenamed(renamed) => {
                let mut df = self.input(renamed.input.as_deref()).await?;
                #[allow(deprecated)]
                let pairs: Vec<(String, String)> = if renamed.renames.is_empty() {
                    renamed.rename_columns_map.iter().map(|(a, b)| (a.clone(), b.clone())).collect()
                } else {
                    renamed.renames.iter().map(|r| (r.col_name.clone(), r.new_col_name.clone())).collect()
                };
                for (from, to) in pairs {
                    df = df.with_column_renamed(&from, &to)?;
                }
                df
            }
            RelType::WithColumns(with) => {
                let mut df = self.input(with.input.as_deref()).await?;
                for alias in &with.aliases {
                    let [name] = alias.name.as_slice() else {
                        return Err(ConnectError::unsupported("withColumns with a multi-part name"));
                    };
                    let value = alias.expr.as_deref().ok_or_else(|| ConnectError::invalid("withColumn without a value"))?;
                    let generated = find_generator(std::slice::from_ref(value))?;
                    df = match generated {
                        // withColumn("x", explode(xs)): x in place of a column of that name, else last.
                        Some(generator) => {
                            let generator = generator.named(name)?;
                            let array = self.exprs(&df, tz).expr(generator.argument())?;
                            let columns = df.schema().columns();
                            let at = columns.iter().position(|c| &c.name == name).unwrap_or(columns.len());
                            let before = columns[..at].iter().cloned().map(Expr::Column).collect();
                            let after = columns.iter().skip(at + 1).cloned().map(Expr::Column).collect();
                            generator.generate(df, array, before, after)?
                        }
                        None => {
                            let value = self.exprs(&df, tz).expr(value)?;
                            df.with_column(name, value)?
                        }
                    };
                }
                df
            }
            RelType::Drop(drop) => {
                let input = self.input(drop.input.as_deref()).await?;
                let mut names: Vec<String> = drop.column_names.clone();
                for expr in &drop.columns {
                    match &expr.expr_type {
                        Some(proto::expression::ExprType::UnresolvedAttribute(a)) => names.push(a.unparsed_identifier.clone()),
                        _ => return Err(ConnectError::unsupported("drop() of an expression; drop columns by name")),
                    }
                }
                let keep: Vec<Expr> =
                    input.schema().columns().into_iter().filter(|c| !names.iter().any(|n| n == &c.name)).map(Expr::Column).collect();
                input.select(keep)?
            }
            RelType::LocalRelation(local) => self.local_relation(local, tz)?,
            RelType::Range(range) => self.range(range)?,
            RelType::Sample(sample) => {
                let input = self.input(sample.input.as_deref()).await?;
                if sample.with_replacement.unwrap_or(false) {
                    return Err(ConnectError::unsupported("sample(withReplacement=True)"));
                }
                let fraction = sample.upper_bound - sample.lower_bound;
                let random = self.exprs(&input, tz).call("random", Vec::new())?;
                input.filter(random.lt(lit(fraction)))?
            }
            RelType::ShowString(_) | RelType::HtmlString(_) => {
                return Err(ConnectError::unsupported("show() of a relation inside another relation"));
            }
            RelType::MapPartitions(_) => return Err(python_relation("mapInPandas / mapInArrow")),
            RelType::GroupMap(_) | RelType::CoGroupMap(_) | RelType::ApplyInPandasWithState(_) => {
                return Err(python_relation("applyInPandas"));
            }
            RelType::CommonInlineUserDefinedTableFunction(_) => return Err(python_relation("Python UDTFs")),
            RelType::CachedLocalRelation(_) | RelType::ChunkedCachedLocalRelation(_) => {
                return Err(ConnectError::unsupported(
                    "createDataFrame of more than 128 MiB (cached local relations need artifacts); write the data to Parquet and read it",
                ));
            }
            RelType::MlRelation(_) => return Err(ConnectError::unsupported("pyspark.ml over Spark Connect yet (issue 23)")),
            other => return Err(ConnectError::unsupported(format!("the relation {}", relation_name(other)))),
        })
    }

    /// A select list: `*` expands to the input's columns, other expressions get Spark's names.
    fn select_list(&self, input: &DataFrame, expressions: &[proto::Expression], tz: &str) -> ConnectResult<Vec<Expr>> {
        let mut exprs = Vec::new();
        for expression in expressions {
            // `*` and `t.*`, as a star or as selectExpr's text.
            let star = match &expression.expr_type {
                Some(proto::expression::ExprType::UnresolvedStar(star)) => {
                    let target = star.unparsed_target.as_deref().map(|t| t.trim_end_matches(".*").to_owned());
                    Some(target.or_else(|| star.plan_id.map(plan_alias)))
                }
                Some(proto::expression::ExprType::ExpressionString(text)) => match text.expression.trim() {
                    "*" => Some(None),
                    t if t.ends_with(".*") && !t[..t.len() - 2].contains([' ', '(', '*']) => {
                        Some(Some(t[..t.len() - 2].trim_matches('`').to_owned()))
                    }
                    _ => None,
                },
                _ => None,
            };
            match star {
                Some(qualifier) => {
                    let before = exprs.len();
                    for (q, field) in input.schema().iter() {
                        if qualifier.as_deref().is_none_or(|want| q.is_some_and(|q| q.table() == want)) {
                            exprs.push(Expr::Column(Column::new(q.cloned(), field.name())));
                        }
                    }
                    if exprs.len() == before {
                        return Err(ConnectError::analysis(format!(
                            "[CANNOT_RESOLVE_STAR_EXPAND] cannot resolve {}.*",
                            qualifier.unwrap_or_default()
                        )));
                    }
                }
                None => exprs.push(self.exprs(input, tz).named(expression)?),
            }
        }
        Ok(exprs)
    }

    async fn read(&self, read: &proto::Read) -> ConnectResult<DataFrame> {
        if read.is_streaming {
            return Err(ConnectError::unsupported("streaming reads (readStream)"));
        }
        match &read.read_type {
            Some(proto::read::ReadType::NamedTable(table)) => {
                let parts = parse_identifier(&table.unparsed_identifier)?;
                let name = parts.join(".");
                self.ctx().table(name.as_str()).await.map_err(|_| ConnectError::Analysis {
                    message: format!("[TABLE_OR_VIEW_NOT_FOUND] The table or view `{name}` cannot be found."),
                    error_class: Some("TABLE_OR_VIEW_NOT_FOUND"),
                })
            }
            Some(proto::read::ReadType::DataSource(source)) => self.data_source(source).await,
            None => Err(ConnectError::invalid("a read without a source")),
        }
    }

    async fn data_source(&self, source: &proto::read::DataSource) -> ConnectResult<DataFrame> {
        let format = source.format.as_deref().unwrap_or("parquet").to_ascii_lowercase();
        let mut options: HashMap<String, String> = source.options.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let mut paths = source.paths.clone();
        if let Some(path) = options.remove("path") {
            paths.push(path);
        }
        if paths.is_empty() {
            return Err(ConnectError::analysis(format!("[UNABLE_TO_INFER_SCHEMA] reading {format} needs a path: load(path)")));
        }
        if !source.predicates.is_empty() {
            return Err(ConnectError::unsupported("JDBC predicates"));
        }
        let tz = self.session.time_zone();
        let take = |options: &mut HashMap<String, String>, key: &str| -> Option<String> {
            let found = options.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned()?;
            options.remove(&found)
        };
        let truthy = |v: Option<String>| v.is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let df = match format.as_str() {
            "binaryfile" => {
                let [path] = paths.as_slice() else {
                    return Err(ConnectError::unsupported("binaryFile over several paths in one load(); union the DataFrames"));
                };
                let parsed = BinaryFileOptions::from_map(&options).map_err(|e| ConnectError::analysis(e.to_string()))?;
                options.clear();
                self.ctx().read_binary_files(path, parsed).await?
            }
            "parquet" => {
                // DataFusion lists directories recursively and merges the files' schemas.
                take(&mut options, "recursiveFileLookup");
                take(&mut options, "mergeSchema");
                self.ctx().read_parquet(paths.clone(), ParquetReadOptions::default()).await?
            }
            "csv" => {
                let header = truthy(take(&mut options, "header"));
                let delimiter = take(&mut options, "sep").or_else(|| take(&mut options, "delimiter"));
                let infer = truthy(take(&mut options, "inferSchema"));
                let mut read = CsvReadOptions::new().has_header(header);
                if let Some(d) = delimiter {
                    let byte = d
                        .bytes()
                        .next()
                        .filter(|_| d.len() == 1)
                        .ok_or_else(|| ConnectError::analysis(format!("the csv separator '{d}' must be one character")))?;
                    read = read.delimiter(byte);
                }
                let schema = source.schema.as_deref().map(|s| types::parse_ddl_schema(s, &tz)).transpose()?;
                if let Some(schema) = &schema {
                    let df = self.ctx().read_csv(paths.clone(), read.schema(schema)).await?;
                    return finish_options(options, &format).map(|()| df);
                }
                if !infer {
                    // Spark reads every column as a string unless told to infer.
                    let df = self.ctx().read_csv(paths.clone(), read.clone()).await?;
                    let strings: Vec<Expr> = df
                        .schema()
                        .columns()
                        .into_iter()
                        .map(|c| cast(Expr::Column(c.clone()), datafusion::arrow::datatypes::DataType::Utf8).alias(c.name))
                        .collect();
                    let df = df.select(strings)?;
                    return finish_options(options, &format).map(|()| df);
                }
                self.ctx().read_csv(paths.clone(), read).await?
            }
            "json" => {
                take(&mut options, "multiLine")
                    .filter(|v| v.eq_ignore_ascii_case("true"))
                    .map_or(Ok(()), |_| Err(ConnectError::unsupported("multiLine JSON; verger reads JSON lines")))?;
                self.ctx().read_json(paths.clone(), JsonReadOptions::default()).await?
            }
            other => {
                return Err(ConnectError::unsupported(format!(
                    "the data source format '{other}' (verger reads binaryFile, parquet, csv and json)"
                )));
            }
        };
        finish_options(options, &format)?;
        Ok(df)
    }

    async fn aggregate(&self, aggregate: &proto::Aggregate, tz: &str) -> ConnectResult<DataFrame> {
        let input = self.input(aggregate.input.as_deref()).await?;
        if aggregate.group_type != proto::aggregate::GroupType::Groupby as i32 {
            return Err(ConnectError::unsupported("rollup, cube, pivot and grouping sets in the DataFrame API; write them in spark.sql"));
        }
        let exprs = self.exprs(&input, tz);
        let groups = aggregate.grouping_expressions.iter().map(|e| exprs.named(e)).collect::<ConnectResult<Vec<_>>>()?;
        let aggregates = aggregate.aggregate_expressions.iter().map(|e| exprs.named(e)).collect::<ConnectResult<Vec<_>>>()?;
        Ok(input.aggregate(groups, aggregates)?)
    }

    async fn join(&self, join: &proto::Join, tz: &str) -> ConnectResult<DataFrame> {
        let left = self.aliased(join.left.as_deref()).await?;
        let right = self.aliased(join.right.as_deref()).await?;
        use proto::join::JoinType as J;
        let join_type = match J::try_from(join.join_type).unwrap_or(J::Inner) {
            J::Inner | J::Unspecified => JoinType::Inner,
            J::FullOuter => JoinType::Full,
            J::LeftOuter => JoinType::Left,
            J::RightOuter => JoinType::Right,
            J::LeftAnti => JoinType::LeftAnti,
            J::LeftSemi => JoinType::LeftSemi,
            J::Cross => JoinType::Inner,
        };
        if !join.using_columns.is_empty() {
            let names: Vec<&str> = join.using_columns.iter().map(String::as_str).collect();
            let joined = left.clone().join(right.clone(), join_type, &names, &names, None)?;
            // Spark keeps one copy of the USING columns, first, then the rest of each side.
            let mut exprs: Vec<Expr> = Vec::new();
            for name in &names {
                let l = left.schema().qualified_field_with_unqualified_name(name)?;
                let r = right.schema().qualified_field_with_unqualified_name(name)?;
                let from_left = Expr::Column(Column::new(l.0.cloned(), *name));
                exprs.push(match join_type {
                    JoinType::Right => Expr::Column(Column::new(r.0.cloned(), *name)).alias(*name),
                    JoinType::Full => self
                        .exprs(&joined, tz)
                        .call("coalesce", vec![from_left, Expr::Column(Column::new(r.0.cloned(), *name))])?
                        .alias(*name),
                    _ => from_left.alias(*name),
                });
            }
            let sides: Vec<_> =
                if matches!(join_type, JoinType::LeftSemi | JoinType::LeftAnti) { vec![&left] } else { vec![&left, &right] };
            for side in sides {
                for (q, field) in side.schema().iter() {
                    if !names.contains(&field.name().as_str()) {
                        exprs.push(Expr::Column(Column::new(q.cloned(), field.name())));
                    }
                }
            }
            return Ok(joined.select(exprs)?);
        }
        match &join.join_condition {
            Some(condition) => {
                let joined_schema = left.schema().join(right.schema())?;
                let on = ExprContext { ctx: self.ctx(), schema: &joined_schema, time_zone: tz }.expr(condition)?;
                Ok(left.join_on(right, join_type, [on])?)
            }
            None => Ok(left.join_on(right, join_type, [lit(true)])?),
        }
    }

    /// A join side under its plan id's alias, so that `df["col"]` finds its columns.
    async fn aliased(&self, relation: Option<&Relation>) -> ConnectResult<DataFrame> {
        let relation = relation.ok_or_else(|| ConnectError::invalid("a join without both sides"))?;
        let df = self.relation(relation).await?;
        let is_alias = matches!(relation.rel_type, Some(RelType::SubqueryAlias(_)));
        match relation.common.as_ref().and_then(|c| c.plan_id) {
            Some(plan_id) if !is_alias => Ok(df.alias(&plan_alias(plan_id))?),
            _ => Ok(df),
        }
    }

    async fn set_operation(&self, set: &proto::SetOperation) -> ConnectResult<DataFrame> {
        let left = self.input(set.left_input.as_deref()).await?;
        let right = self.input(set.right_input.as_deref()).await?;
        let all = set.is_all.unwrap_or(false);
        use proto::set_operation::SetOpType as S;
        Ok(match S::try_from(set.set_op_type).unwrap_or(S::Unspecified) {
            S::Union if set.by_name.unwrap_or(false) => {
                if set.allow_missing_columns.unwrap_or(false) {
                    return Err(ConnectError::unsupported("unionByName(allowMissingColumns=True)"));
                }
                if all { left.union_by_name(right)? } else { left.union_by_name_distinct(right)? }
            }
            S::Union => {
                let right = by_position(&left, right, "UNION")?;
                if all { left.union(right)? } else { left.union_distinct(right)? }
            }
            S::Intersect if all => multiset(self.ctx(), left, right, Multiset::IntersectAll)?,
            S::Intersect => left.intersect_distinct(right)?,
            S::Except if all => multiset(self.ctx(), left, right, Multiset::ExceptAll)?,
            S::Except => left.except_distinct(right)?,
            S::Unspecified => return Err(ConnectError::invalid("a set operation without its type")),
        })
    }

    fn local_relation(&self, local: &proto::LocalRelation, tz: &str) -> ConnectResult<DataFrame> {
        let state = self.ctx().state();
        let Some(data) = local.data.as_ref().filter(|d| !d.is_empty()) else {
            let schema = local.schema.as_deref().ok_or_else(|| ConnectError::invalid("a local relation without data or schema"))?;
            let schema = types::parse_ddl_schema(schema, tz)?;
            let df_schema = datafusion::common::DFSchema::try_from(schema)?;
            return Ok(DataFrame::new(
                state,
                LogicalPlanBuilder::empty(false).build().and_then(|p| {
                    let exprs: Vec<Expr> =
                        df_schema.fields().iter().map(|f| cast(lit(ScalarValue::Null), f.data_type().clone()).alias(f.name())).collect();
                    LogicalPlanBuilder::from(p).project(exprs)?.build()
                })?,
            ));
        };
        let reader = StreamReader::try_new(std::io::Cursor::new(data.as_ref()), None)?;
        let schema = reader.schema();
        let mut rows: Vec<Vec<Expr>> = Vec::new();
        for batch in reader {
            let batch = batch?;
            if rows.len() + batch.num_rows() > MAX_LOCAL_ROWS {
                return Err(ConnectError::unsupported(format!(
                    "createDataFrame of more than {MAX_LOCAL_ROWS} rows; write the data to Parquet and read it"
                )));
            }
            for row in 0..batch.num_rows() {
                let values = batch
                    .columns()
                    .iter()
                    .zip(schema.fields())
                    .map(|(column, field)| Ok(cast(lit(ScalarValue::try_from_array(column, row)?), field.data_type().clone())))
                    .collect::<ConnectResult<Vec<_>>>()?;
                rows.push(values);
            }
        }
        let names: Vec<Expr> = schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| Expr::Column(Column::new_unqualified(format!("column{}", i + 1))).alias(f.name()))
            .collect();
        if rows.is_empty() {
            let exprs: Vec<Expr> =
                schema.fields().iter().map(|f| cast(lit(ScalarValue::Null), f.data_type().clone()).alias(f.name())).collect();
            return Ok(DataFrame::new(state, LogicalPlanBuilder::empty(false).project(exprs)?.build()?));
        }
        let plan: LogicalPlan = LogicalPlanBuilder::values(rows)?.project(names)?.build()?;
        Ok(DataFrame::new(state, plan))
    }

    fn range(&self, range: &proto::Range) -> ConnectResult<DataFrame> {
        let state = self.ctx().state();
        let partitions = match range.num_partitions {
            Some(n) => usize::try_from(n).map_err(|_| {
                ConnectError::analysis(format!("[FAILED_FUNCTION_CALL] range: the number of partitions must be positive, got {n}"))
            })?,
            None => state.config().target_partitions(),
        };
        let source = SparkRange::try_new(range.start.unwrap_or(0), range.end, range.step, partitions)?;
        Ok(self.ctx().read_table(Arc::new(source))?)
    }
}

fn finish_options(options: HashMap<String, String>, format: &str) -> ConnectResult<()> {
    let ignored: Vec<&str> =
        options.keys().map(String::as_str).filter(|k| !matches!(k.to_ascii_lowercase().as_str(), "mergeschema" | "encoding")).collect();
    if ignored.is_empty() { Ok(()) } else { Err(ConnectError::unsupported(format!("the {format} option(s) {}", ignored.join(", ")))) }
}

fn non_negative(value: i32, what: &str) -> ConnectResult<usize> {
    usize::try_from(value).map_err(|_| {
        ConnectError::analysis(format!("[INVALID_LIMIT_LIKE_EXPRESSION.IS_NEGATIVE] The {what} must be at least 0, got {value}."))
    })
}

/// The Spark name of a relation verger does not plan (the ones it does are matched above).
fn relation_name(kind: &RelType) -> &'static str {
    match kind {
        RelType::Tail(_) => "tail",
        RelType::Unpivot(_) => "unpivot / melt",
        RelType::ToSchema(_) => "to(schema)",
        RelType::CollectMetrics(_) => "observe",
        RelType::Parse(_) => "from_json / from_csv on a DataFrame",
        RelType::WithWatermark(_) => "withWatermark",
        RelType::AsOfJoin(_) => "as-of joins",
        RelType::LateralJoin(_) => "lateral joins",
        RelType::Transpose(_) => "transpose",
        RelType::UnresolvedTableValuedFunction(_) => "table-valued functions in the DataFrame API",
        RelType::FillNa(_) | RelType::DropNa(_) | RelType::Replace(_) => "df.na (fillna, dropna, replace)",
        RelType::Summary(_) | RelType::Describe(_) => "describe / summary",
        RelType::Crosstab(_)
        | RelType::Cov(_)
        | RelType::Corr(_)
        | RelType::ApproxQuantile(_)
        | RelType::FreqItems(_)
        | RelType::SampleBy(_) => "df.stat",
        RelType::Catalog(_) => "spark.catalog",
        _ => "this relation",
    }
}

/// Writes `df` with Spark's save mode: Parquet through verger's committed writer.
pub async fn write(session: &Session, df: DataFrame, write: &proto::WriteOperation) -> ConnectResult<()> {
    let format = write.source.as_deref().unwrap_or("parquet").to_ascii_lowercase();
    if format != "parquet" {
        return Err(ConnectError::unsupported(format!("writing '{format}'; verger writes committed Parquet (df.write.parquet(path))")));
    }
    let path = match &write.save_type {
        Some(proto::write_operation::SaveType::Path(path)) => path.clone(),
        Some(proto::write_operation::SaveType::Table(_)) => {
            return Err(ConnectError::unsupported("saveAsTable / insertInto; write to a path"));
        }
        None => match write.options.get("path") {
            Some(path) => path.clone(),
            None => return Err(ConnectError::analysis("write needs a path: save(path) or parquet(path)")),
        },
    };
    if !write.sort_column_names.is_empty() || write.bucket_by.is_some() {
        return Err(ConnectError::unsupported("bucketBy / sortBy"));
    }
    if !write.partitioning_columns.is_empty() {
        return Err(ConnectError::unsupported(
            "partitionBy in df.write; verger's committed writer writes one directory (use COPY … PARTITIONED BY in SQL)",
        ));
    }
    use proto::write_operation::SaveMode as M;
    let mode = M::try_from(write.mode).unwrap_or(M::Unspecified);
    let mode_name = match mode {
        M::Append => "append",
        M::Overwrite => "overwrite",
        M::ErrorIfExists | M::Unspecified | M::Ignore => "errorifexists",
    };
    let mut options: HashMap<String, String> = HashMap::new();
    for (key, value) in &write.options {
        if key != "path" {
            options.insert(format!("format.{}", key.to_ascii_lowercase()), value.clone());
        }
    }
    options.insert("format.mode".to_owned(), mode_name.to_owned());
    let file_type = format_as_file_type(Arc::new(ParquetFormatFactory::new()));
    let plan = LogicalPlanBuilder::copy_to(df.into_unoptimized_plan(), path, file_type, options, Vec::new())?.build()?;
    let result = DataFrame::new(session.ctx.state(), plan).collect().await;
    match result {
        // Spark's "ignore": leave an existing output as it is.
        Err(error) if mode == M::Ignore && error.to_string().contains("mode is 'errorifexists'") => Ok(()),
        Err(error) => Err(error.into()),
        Ok(_) => Ok(()),
    }
}
