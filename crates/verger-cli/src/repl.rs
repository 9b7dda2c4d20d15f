use crate::sql::{RunOptions, run_statements};
use datafusion::error::{DataFusionError, Result};
use datafusion::prelude::SessionContext;
use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;
use std::path::PathBuf;
use std::process::ExitCode;

fn history_file() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".verger_history"))
}

/// The interactive shell: statements end with ';' and may span lines; history is kept in
/// ~/.verger_history. An error is printed and the shell goes on.
pub async fn run(ctx: &SessionContext, options: &RunOptions) -> Result<ExitCode> {
    let mut editor = DefaultEditor::new().map_err(|e| DataFusionError::External(Box::new(e)))?;
    let history = history_file();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    eprintln!("verger {} — SQL ending with ';', \\q or Ctrl-D to quit.", env!("CARGO_PKG_VERSION"));
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() { "verger> " } else { "     -> " };
        match editor.readline(prompt) {
            Ok(line) => {
                let trimmed = line.trim();
                if buffer.is_empty() && (trimmed == "\\q" || trimmed.eq_ignore_ascii_case("quit") || trimmed.eq_ignore_ascii_case("exit")) {
                    break;
                }
                buffer.push_str(&line);
                buffer.push('\n');
                if trimmed.ends_with(';') {
                    let statement = std::mem::take(&mut buffer);
                    let _ = editor.add_history_entry(statement.trim());
                    if let Err(error) = run_statements(ctx, &statement, options).await {
                        eprintln!("Error: {}", crate::errors::user_message(&error));
                    }
                }
            }
            Err(ReadlineError::Interrupted) => buffer.clear(),
            Err(ReadlineError::Eof) => break,
            Err(error) => return Err(DataFusionError::External(Box::new(error))),
        }
    }
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
    Ok(ExitCode::SUCCESS)
}
