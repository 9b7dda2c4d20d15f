use crate::output::{Format, print_stream};
use crate::progress::QueryProgress;
use crate::repl;
use datafusion::error::{DataFusionError, Result};
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::DFParser;
use datafusion::sql::sqlparser::dialect::dialect_from_str;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;
use verger::NULL_REPORT_DIR_SETTING as NULL_REPORT_KEY;
use verger::ScanProgress;
use verger_storage::NullReport;

#[derive(clap::Args)]
pub struct SqlArgs {
    /// SQL to run; several statements separated by ';'. Repeatable; runs after the -f files.
    #[arg(short = 'c', long = "command")]
    commands: Vec<String>,
    /// SQL file to run, several statements separated by ';'. Repeatable.
    #[arg(short = 'f', long = "file")]
    files: Vec<PathBuf>,
    /// Run on a Ballista cluster, e.g. df://127.0.0.1:50050; embedded when absent.
    #[arg(long)]
    cluster: Option<String>,
    /// Result format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// A setting applied before the statements, as key=value (e.g. s3.region=eu-west-3). Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    settings: Vec<String>,
    /// A variable substituted for ${NAME} in the SQL text, as NAME=value. Repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    variables: Vec<String>,
    /// Print results only: no row counts, timings or progress.
    #[arg(short, long)]
    quiet: bool,
}

/// Options of one run of statements.
pub struct RunOptions {
    pub format: Format,
    pub quiet: bool,
    pub progress: Option<Arc<ScanProgress>>,
}

fn split_pair<'a>(text: &'a str, what: &str) -> Result<(&'a str, &'a str)> {
    text.split_once('=')
        .map(|(k, v)| (k.trim(), v.trim()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| DataFusionError::Configuration(format!("{what} must look like NAME=VALUE, got '{text}'")))
}

/// Applies `--set KEY=VALUE` settings to the session of `ctx`.
pub fn apply_settings(ctx: &SessionContext, settings: &[String]) -> Result<()> {
    let state = ctx.state_ref();
    let mut state = state.write();
    for setting in settings {
        let (key, value) = split_pair(setting, "--set")?;
        state.config_mut().options_mut().set(key, value)?;
    }
    Ok(())
}

/// Replaces `${NAME}` by its value; an unknown `${NAME}` is an error.
fn substitute(sql: &str, variables: &[(String, String)]) -> Result<String> {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(DataFusionError::Plan("unterminated ${ in SQL text".to_owned()));
        };
        let name = &after[..end];
        match variables.iter().find(|(n, _)| n == name) {
            Some((_, value)) => out.push_str(value),
            None => return Err(DataFusionError::Plan(format!("SQL uses ${{{name}}} but no --var {name}=... was given"))),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

pub async fn run(args: SqlArgs) -> Result<ExitCode> {
    let progress = Arc::new(ScanProgress::default());
    let ctx = match &args.cluster {
        Some(url) => {
            crate::errors::set_cluster(url);
            verger_cluster::remote_context(url).await?
        }
        None => verger::session_context_with_config(verger::session_config().with_extension(Arc::clone(&progress)))?,
    };
    apply_settings(&ctx, &args.settings)?;
    let variables =
        args.variables.iter().map(|v| split_pair(v, "--var").map(|(k, v)| (k.to_owned(), v.to_owned()))).collect::<Result<Vec<_>>>()?;
    let options = RunOptions { format: args.format, quiet: args.quiet, progress: args.cluster.is_none().then_some(progress) };

    if args.commands.is_empty() && args.files.is_empty() {
        return repl::run(&ctx, &options).await;
    }
    for file in &args.files {
        let text =
            std::fs::read_to_string(file).map_err(|e| DataFusionError::Execution(format!("could not read {}: {e}", file.display())))?;
        run_statements(&ctx, &substitute(&text, &variables)?, &options).await?;
    }
    for command in &args.commands {
        run_statements(&ctx, &substitute(command, &variables)?, &options).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs every statement of `sql` in order, printing each result; stops at the first error.
pub async fn run_statements(ctx: &SessionContext, sql: &str, options: &RunOptions) -> Result<()> {
    let dialect_name = ctx.state().config().options().sql_parser.dialect;
    let dialect =
        dialect_from_str(dialect_name).ok_or_else(|| DataFusionError::Configuration(format!("unsupported SQL dialect {dialect_name}")))?;
    let statements = DFParser::parse_sql_with_dialect(sql, dialect.as_ref())?;
    for statement in statements {
        let started = Instant::now();
        let report = begin_null_report(ctx)?;
        let outcome = run_statement(ctx, statement, options, started).await;
        // The report is read and removed whether or not the statement succeeded.
        if let Some(report) = report {
            let summary = finish_null_report(ctx, report).await;
            match summary {
                Ok(summary) if summary.rows > 0 => eprintln!("{summary}"),
                Ok(_) => {}
                Err(e) => eprintln!("could not read which rows became NULL: {e}"),
            }
        }
        outcome?;
    }
    Ok(())
}

/// Under `verger.images.on_error = 'null'`, a report folder for the next statement, named in
/// the session's settings so that every process of the query (the executors of a cluster
/// too) reports its NULLs to this client.
fn begin_null_report(ctx: &SessionContext) -> Result<Option<NullReport>> {
    let state = ctx.state_ref();
    let mut state = state.write();
    let Some(report) = NullReport::begin(state.config().options()) else { return Ok(None) };
    state.config_mut().options_mut().set(NULL_REPORT_KEY, report.dir())?;
    Ok(Some(report))
}

async fn finish_null_report(ctx: &SessionContext, report: NullReport) -> Result<verger_storage::NullSummary> {
    let options = {
        let state = ctx.state_ref();
        let mut state = state.write();
        state.config_mut().options_mut().set(NULL_REPORT_KEY, "")?;
        Arc::clone(state.config().options())
    };
    report.finish(&options).await
}

async fn run_statement(
    ctx: &SessionContext,
    statement: datafusion::sql::parser::Statement,
    options: &RunOptions,
    started: Instant,
) -> Result<()> {
    let plan = ctx.state().statement_to_plan(statement).await?;
    // A one-liner's plan is analysed here, where its materialised inputs get their names, so
    // that a failed query's can be removed at once (on a cluster nothing else would, until
    // their lease expires).
    if verger::calls_one_liner(&plan) {
        let plan = ctx.state().optimize(&plan)?;
        let outcome = execute_plan(ctx, plan.clone(), options, started).await;
        if outcome.is_err() {
            let settings = Arc::clone(ctx.state().config().options());
            if let Err(e) = verger::release_failed_query(&plan, &settings).await {
                log::warn!("could not remove the failed query's materialised inputs: {e}");
            }
        }
        return outcome;
    }
    execute_plan(ctx, plan, options, started).await
}

async fn execute_plan(
    ctx: &SessionContext,
    plan: datafusion::logical_expr::LogicalPlan,
    options: &RunOptions,
    started: Instant,
) -> Result<()> {
    let frame = ctx.execute_logical_plan(plan).await?;
    // DDL and SET give no columns: nothing to count.
    let has_columns = !frame.schema().fields().is_empty();
    let stream = frame.execute_stream().await?;
    let tracker = QueryProgress::start(options.progress.clone(), options.quiet);
    let rows = print_stream(stream, options.format, &tracker).await;
    tracker.finish();
    let rows = rows?;
    std::io::Write::flush(&mut std::io::stdout()).map_err(|e| DataFusionError::External(Box::new(e)))?;
    if !options.quiet && has_columns {
        eprintln!("{rows} row{} in {:.3}s", if rows == 1 { "" } else { "s" }, started.elapsed().as_secs_f64());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_substituted() {
        let vars = vec![("input".to_owned(), "s3://b/in".to_owned())];
        assert_eq!(substitute("LOCATION '${input}'", &vars).ok(), Some("LOCATION 's3://b/in'".to_owned()));
        assert!(substitute("${missing}", &vars).is_err());
        assert!(substitute("${input", &vars).is_err());
    }
}
