//! The integration tests: one test binary (`cargo test -p renraku-tests --test it`), one
//! module per area, so the whole server is linked once rather than once per file.
//!
//! Every test that touches a database runs on SQLite and on PostgreSQL
//! ([`renraku_tests::test_both_dbs!`]: `it::sync::name::sqlite`, `it::sync::name::postgres`);
//! filter by backend with `cargo test -p renraku-tests --test it -- ::postgres`. The
//! browser tests (`browser`) run once, on SQLite; the cluster tests (`cluster`: several
//! nodes behind nginx) once, on PostgreSQL, which nodes need. Shared fixtures live in the
//! `renraku-tests` library (`tests/src/`); a module's private helpers stay in it.

#[macro_use]
extern crate renraku_tests;

mod acks;
mod admin_accounts;
mod admin_agreements;
mod admin_common;
mod admin_permissions;
mod admin_statistics;
mod api_hygiene;
mod app_api;
mod attachments;
mod audit_chain;
mod backup;
mod browser;
mod canary;
mod cluster;
mod connections;
mod convergence;
mod durability;
mod first_hour;
mod fixture;
mod http_api;
mod http_storage;
mod mtls;
mod nodes;
mod parking;
mod passkeys;
mod projection;
mod push;
mod record_export;
mod record_pdf;
mod register;
mod room_activity;
mod room_home;
mod schema_parity;
mod search;
mod security;
mod session_end;
mod shared_state;
mod sync;
mod templates;
mod tiles;
mod transfer;
mod ws_limits;
mod yjs_compat;

/// The test copy of the `renraku` binary, for tests that run the server as a child process.
const BIN: &str = env!("CARGO_BIN_EXE_renraku-test-server");
