//! Tracing set-up shared by every binary: JSON lines under Lambda (CloudWatch), readable
//! lines on a terminal; `RUST_LOG` filters.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let under_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // try_init: tests and the local binary may initialise more than once.
    let _ = if under_lambda {
        builder.json().without_time().try_init()
    } else {
        builder.try_init()
    };
}
