//! Logging: the global tracing subscriber, configured from `--log-level`
//! (or `RUST_LOG`) and `--log-format`.

use tracing_subscriber::EnvFilter;

use super::{LogFormat, ManagerArgs, ManagerError};

/// Installs the global tracing subscriber. Only the first call in a process
/// wins; later ones (a second manager in tests) are silently ignored, but the
/// filter is still validated so a typo never goes unnoticed.
pub(super) fn init_tracing(args: &ManagerArgs) -> Result<(), ManagerError> {
    let filter = match &args.log_level {
        Some(level) => EnvFilter::try_new(level).map_err(|source| ManagerError::LogFilter {
            filter: level.clone(),
            source,
        })?,
        None => match std::env::var("RUST_LOG") {
            Ok(level) if !level.trim().is_empty() => {
                EnvFilter::try_new(&level).map_err(|source| ManagerError::LogFilter {
                    filter: level.clone(),
                    source,
                })?
            }
            _ => EnvFilter::new("info"),
        },
    };
    // stderr, like controller-runtime's zap logger; stdout stays free for
    // anything the operator itself prints.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _already_set = match args.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    Ok(())
}
