//! receipt-verifier entry point.
fn main() {}
