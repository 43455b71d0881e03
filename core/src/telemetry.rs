//! Tracing set-up shared by every binary: JSON lines under Lambda (CloudWatch), readable
//! lines on a terminal; `RUST_LOG` filters.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let under_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    // Logs go to stderr, so stdout carries only what a command prints for its user (the
    // banner of `promo serve`, the result of `promo migrate`). Colour codes only for a
    // person at a terminal: in a file, a pipe or CI they are noise (`NO_COLOR` opts out).
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour);
    // try_init: tests and the local binary may initialise more than once.
    let _ = if under_lambda {
        builder.json().without_time().try_init()
    } else {
        builder.try_init()
    };
}
