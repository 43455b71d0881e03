//! campaign-runner entry point.
fn main() {}
