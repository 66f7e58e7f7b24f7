//! The admin console's offline unit tests (kit parsing, requests, tables,
//! zip safety), run from its own modules: `cargo test` builds the example
//! as a plain binary, for `tests/admin_nvflare.rs` to run.

#[path = "../examples/admin/jobs.rs"]
#[allow(dead_code)]
mod jobs;
#[path = "../examples/admin/render.rs"]
#[allow(dead_code)]
mod render;
#[path = "../examples/admin/session.rs"]
#[allow(dead_code)]
mod session;
#[path = "../examples/shared/tls.rs"]
mod tls;
