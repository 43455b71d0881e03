//! listen-bridge entry point.
fn main() {}
