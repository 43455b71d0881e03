//! telegram-webhook entry point.
fn main() {}
