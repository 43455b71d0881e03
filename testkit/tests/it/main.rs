//! The tests of the fakes, one binary (each module was its own binary, each linking the
//! core and the testkit again). Run one module with
//! `cargo test -p promo-testkit --test it -- fake_telegram::`.

mod fake_proverkacheka;
mod fake_telegram;
mod private_servers;
