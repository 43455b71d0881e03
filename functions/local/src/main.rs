//! local entry point.
fn main() {}
