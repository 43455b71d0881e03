//! admin-api entry point.
fn main() {}
