//! What the applications built on [`nvflare_hci`] share: mutual TLS with one
//! deadline for the whole handshake, TCP connect, the admin kit and the
//! admin channel's requests, job signing and zips, and the `hci` file server
//! and client.
//!
//! The binaries are `hci` (`src/bin/hci`) and `nvflare-admin`
//! (`src/bin/nvflare-admin`); see `tools/README.md`.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod admin;
pub mod hci;
pub mod jobs;
pub mod tls;
