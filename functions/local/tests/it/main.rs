//! The `promo` binary driven as a process (the CLI, sandbox mode, `lambda-demo`), one
//! test binary: each module was its own binary before. Run one module with
//! `cargo test -p promo --test it -- sandbox::`.

mod cli;
mod crash_loop;
mod lambda_demo;
mod restart_pending;
mod sandbox;
