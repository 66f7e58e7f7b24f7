//! What the applications built on [`nvflare_hci`] share: mutual TLS with one
//! deadline for the whole handshake, TCP connect, the admin kit and the
//! admin channel's requests, job signing and zips, the `hci` file server
//! and client, and an admin server for NVFlare's own admin client.
//!
//! The binaries are `hci` (`src/bin/hci`), `nvflare-admin`
//! (`src/bin/nvflare-admin`) and `nvflare-admin-server`
//! (`src/bin/nvflare-admin-server`); see `tools/README.md`.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod admin;
pub mod hci;
pub mod jobs;
pub mod kit;
pub mod serve;
pub mod server;
pub mod tls;
