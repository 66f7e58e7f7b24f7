//! The admin console's side of NVFlare's admin channel: the kit, the
//! session (login, one TLS connection per command, logout), and how replies
//! are printed.

pub mod console;
pub mod line;
pub mod ops;
pub mod render;
pub mod session;
