//! An admin server for NVFlare 2.6.3's own admin client: login, sessions
//! bound to the certificate that logged in, the authorization policy, and
//! the job commands over a job store. It runs no jobs.
//!
//! One TLS connection per request, as NVFlare's client expects. The rooms:
//!
//! | room | what it holds |
//! |---|---|
//! | [`limits`] | every bound a peer is held to |
//! | `connection` | one connection's life: handshake, request, reply, close; busy peers |
//! | `request`, `reply` | a request's text, parsed as far as is safe; NVFlare's reply document |
//! | `session` | sessions, and where a request is refused before login (the upload gate too) |
//! | `commands` | the command table and one file per concern: `jobs`, `download`, `status` |
//! | `audit` | the audit log's records |
//! | [`store`], [`job`], [`policy`], [`identity`], [`kit`] | the job store, a job zip's checks, the policy, who a certificate names, the server's kit |

use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

mod audit;
mod commands;
mod connection;
mod reply;
mod request;
mod session;

pub mod identity;
pub mod job;
pub mod kit;
pub mod limits;
pub mod policy;
pub mod store;

use commands::download::Transfers;
use identity::{Cert, Chain};
use policy::Policy;
use session::Sessions;
use store::Store;

pub use audit::iso_time;
pub use kit::ServerKit;
pub use limits::MAX_JOB_SIZE;
pub use request::split_args;

pub use crate::serve::DEFAULT_MAX_CONNECTIONS;

/// How the server runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The server's kit.
    pub kit: ServerKit,
    /// The job store's folder.
    pub store: PathBuf,
    /// Read and write timeout of each connection, and the deadline of its
    /// whole TLS handshake.
    pub timeout: Duration,
    /// Connections at once, handshakes included.
    pub max_connections: usize,
    /// A session ends after this long without a command.
    pub session_timeout: Duration,
}

/// What every connection shares.
struct State {
    config: Config,
    tls: Arc<rustls::ServerConfig>,
    chain: Chain,
    policy: Policy,
    store: Store,
    sessions: Sessions,
    transfers: Transfers,
    held: connection::Held,
    start_time: f64,
}

impl State {
    /// Ends the sessions that idled out, and drops what they staged.
    fn sweep(&self) {
        let ended = self.sessions.sweep();
        self.transfers.release_sessions(&ended);
        self.transfers.sweep();
    }
}

/// A bound server, not yet serving.
pub struct Server {
    listener: TcpListener,
    state: Arc<State>,
}

/// A view of a running server, for its owner: what it holds, and its stop.
#[derive(Clone)]
pub struct Monitor {
    state: Arc<State>,
}

impl Monitor {
    /// Live sessions.
    pub fn sessions(&self) -> usize {
        self.state.sessions.count()
    }

    /// Downloads staged and not yet fetched.
    pub fn transfers(&self) -> usize {
        self.state.transfers.count()
    }

    /// The log record of a stop: the sessions and staged downloads it ends.
    pub fn stop_record(&self, signal: &str) -> Value {
        audit::event(
            "stop",
            json!({"signal": signal, "sessions": self.sessions(), "transfers": self.transfers()}),
        )
    }
}

impl Server {
    /// Loads the kit's certificates and policy, opens the store, binds `addr`.
    pub fn bind(addr: impl ToSocketAddrs, config: Config) -> Result<Server, String> {
        let kit = &config.kit;
        let tls = crate::tls::server_config(&kit.cert, &kit.key, &kit.root_ca)?;
        let chain = Chain::new(crate::tls::roots(&kit.root_ca)?)?;
        let server_pem =
            std::fs::read(&kit.cert).map_err(|e| format!("{}: {e}", kit.cert.display()))?;
        let site_org = Cert::from_pem(&server_pem)
            .map_err(|e| format!("{}: {e}", kit.cert.display()))?
            .identity
            .org;
        let policy_text = std::fs::read_to_string(&kit.policy)
            .map_err(|e| format!("{}: {e}", kit.policy.display()))?;
        let policy = Policy::parse(&policy_text, &site_org)
            .map_err(|e| format!("{}: {e}", kit.policy.display()))?;
        let store = Store::open(&config.store)
            .map_err(|e| format!("store {}: {e}", config.store.display()))?;
        let listener = crate::serve::listen(addr).map_err(|e| e.to_string())?;
        Ok(Server {
            listener,
            state: Arc::new(State {
                sessions: Sessions::new(config.session_timeout),
                transfers: Transfers::new(config.session_timeout),
                held: connection::Held::new(),
                config,
                tls,
                chain,
                policy,
                store,
                start_time: audit::now_secs(),
            }),
        })
    }

    /// The address bound.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// A view of the server that outlives [`run`](Server::run)'s taking it.
    pub fn monitor(&self) -> Monitor {
        Monitor {
            state: Arc::clone(&self.state),
        }
    }

    /// Serves until the process ends; `log` gets one record per request and
    /// per refused peer.
    pub fn run<L>(self, log: L)
    where
        L: Fn(Value) + Send + Sync + 'static,
    {
        let max = self.state.config.max_connections;
        let sweeper = Arc::clone(&self.state);
        let every = limits::SWEEP_EVERY.min(self.state.config.session_timeout / 2);
        // Sessions that idle out end, and what they staged goes, even when
        // no request comes to notice.
        let _ = std::thread::Builder::new()
            .name("sweep".into())
            .stack_size(crate::serve::WORKER_STACK)
            .spawn(move || loop {
                std::thread::sleep(every);
                sweeper.sweep();
            });
        let service = Arc::new(connection::AdminService {
            state: self.state,
            log: Arc::new(log),
        });
        crate::serve::run(&self.listener, max, service);
    }
}
