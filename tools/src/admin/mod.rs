//! The admin console's side of NVFlare's admin channel: the kit, the
//! session (login, one TLS connection per command, logout), command lines
//! as NVFlare's console splits them, the transfers and `wait`, the
//! interactive console, and how replies are printed.

pub mod console;
pub mod line;
pub mod ops;
pub mod render;
pub mod session;
