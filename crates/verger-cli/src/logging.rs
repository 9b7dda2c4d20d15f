use std::io::Write;

/// Logs to stderr at `default_level` (or `RUST_LOG`), with every known secret blanked out of
/// every line, whichever library wrote it.
pub fn init(default_level: &str) {
    let env = env_logger::Env::default().default_filter_or(default_level);
    let _ = env_logger::Builder::from_env(env)
        .format(|buf, record| {
            let line = format!("{}", record.args());
            writeln!(buf, "[{} {} {}] {}", buf.timestamp_millis(), record.level(), record.target(), verger_storage::redact_log_line(&line))
        })
        .try_init();
}
