//! Sessions, and where a request is refused before login.
//!
//! A session is made by `_cert_login NAME` over a certificate whose CN is
//! NAME, and is bound to that certificate (its SHA-256): its token over
//! another certificate's connection is refused. It ends at `_logout`,
//! after the session timeout without a command, or when its certificate
//! logs in past [`MAX_SESSIONS_PER_CERT`] (its least recently used goes).
//! Whatever a session staged goes with it.
//!
//! Before a session is checked, nothing of a request is parsed but its
//! first word: [`admit`] decides from that and the token alone. An upload
//! is admitted at its header by [`Gate`], before a byte of its body is
//! stored.

use std::collections::HashMap;
use std::io;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nvflare_hci::{ContentType, DataProcessor, End, Exchange, MsgDataProcessor, Start};

use super::audit::echo;
use super::identity::Identity;
use super::limits::MAX_SESSIONS_PER_CERT;
use super::policy::Person;
use super::reply::{not_authorized, Reply};
use super::request::Request;
use super::State;

struct Session {
    identity: Identity,
    last_active: Instant,
}

/// The live sessions, by token.
pub(super) struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    timeout: Duration,
}

impl Sessions {
    /// No sessions; each will end after `timeout` without a command.
    pub fn new(timeout: Duration) -> Sessions {
        Sessions {
            map: Mutex::new(HashMap::new()),
            timeout,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new session for `identity`: its token, and the tokens of the
    /// sessions that ended to make room (idle ones, and the certificate's
    /// least recently used past [`MAX_SESSIONS_PER_CERT`]).
    fn open(&self, identity: &Identity) -> (String, Vec<String>) {
        let mut map = self.lock();
        let mut ended = expired(&mut map, self.timeout);
        let mut mine: Vec<(&String, Instant)> = map
            .iter()
            .filter(|(_, s)| s.identity.fingerprint == identity.fingerprint)
            .map(|(t, s)| (t, s.last_active))
            .collect();
        mine.sort_by_key(|(_, at)| *at);
        let over = (mine.len() + 1).saturating_sub(MAX_SESSIONS_PER_CERT);
        let evicted: Vec<String> = mine.iter().take(over).map(|(t, _)| (*t).clone()).collect();
        for token in &evicted {
            map.remove(token);
        }
        ended.extend(evicted);
        let token = uuid::Uuid::new_v4().to_string();
        map.insert(
            token.clone(),
            Session {
                identity: identity.clone(),
                last_active: Instant::now(),
            },
        );
        (token, ended)
    }

    /// Ends the session of `token`.
    fn close(&self, token: &str) {
        self.lock().remove(token);
    }

    /// The tokens of the sessions that have idled out, which end now.
    pub fn sweep(&self) -> Vec<String> {
        expired(&mut self.lock(), self.timeout)
    }

    /// The session of `token`, alive and bound to this certificate, is
    /// refreshed; anything else is refused.
    pub fn authenticate(&self, identity: &Identity, token: &str) -> Result<(), Reply> {
        let mut map = self.lock();
        match map.get_mut(token) {
            Some(s) if s.last_active.elapsed() >= self.timeout => {
                map.remove(token);
                Err(self.inactive())
            }
            Some(s) if s.identity.fingerprint != identity.fingerprint => Err(Reply::error(
                "not_authenticated",
                "not authenticated - the token belongs to another certificate",
            )),
            Some(s) => {
                s.last_active = Instant::now();
                Ok(())
            }
            None => Err(self.inactive()),
        }
    }

    fn is_alive(&self, identity: &Identity, token: &str) -> bool {
        self.lock().get(token).is_some_and(|s| {
            s.last_active.elapsed() < self.timeout && s.identity.fingerprint == identity.fingerprint
        })
    }

    /// Live sessions.
    pub fn count(&self) -> usize {
        self.lock().len()
    }

    fn inactive(&self) -> Reply {
        Reply::error("error", "session_inactive").string(format!(
            "user not authenticated or session timed out after {} seconds of inactivity - logged out",
            self.timeout.as_secs()
        ))
    }
}

/// Removes the sessions idle for `timeout` or more; their tokens.
fn expired(map: &mut HashMap<String, Session>, timeout: Duration) -> Vec<String> {
    let gone: Vec<String> = map
        .iter()
        .filter(|(_, s)| s.last_active.elapsed() >= timeout)
        .map(|(t, _)| t.clone())
        .collect();
    for token in &gone {
        map.remove(token);
    }
    gone
}

/// What a request may go on to do, decided before anything but its first
/// word is parsed.
pub(super) enum Admitted<'r> {
    /// `_cert_login`: needs no session.
    Login,
    /// `_check_session`: answers whether the token is alive.
    CheckSession,
    /// Anything else, from a live session of this certificate.
    Session(&'r str),
}

/// Where a request is refused before login: every command but
/// `_cert_login` and `_check_session` needs the token of a live session of
/// this certificate.
pub(super) fn admit<'r>(
    state: &State,
    identity: &Identity,
    request: &'r Request,
) -> Result<Admitted<'r>, Reply> {
    match request.name() {
        "_cert_login" => return Ok(Admitted::Login),
        "_check_session" => return Ok(Admitted::CheckSession),
        _ => {}
    }
    let Some(token) = request.token.as_deref() else {
        return Err(Reply::error("error", "not authenticated - no token"));
    };
    state.sessions.authenticate(identity, token)?;
    Ok(Admitted::Session(token))
}

/// `_cert_login NAME`: a session, if NAME is the certificate's CN.
pub(super) fn login(state: &State, identity: &Identity, request: &Request) -> Reply {
    let args = request.args();
    if args.len() != 2 || args[1] != identity.name {
        return Reply::new().string("REJECT");
    }
    let (token, ended) = state.sessions.open(identity);
    state.transfers.release_sessions(&ended);
    Reply::new().string("OK").item("token", token)
}

/// `_logout`: the session ends, and the downloads it staged go.
pub(super) fn logout(state: &State, token: &str) -> Reply {
    state.sessions.close(token);
    state.transfers.release_sessions(&[token.to_owned()]);
    Reply::new().string("OK")
}

/// `_check_session`: `OK` while the token's session is alive.
pub(super) fn check(state: &State, identity: &Identity, token: Option<&str>) -> Reply {
    if token.is_some_and(|t| state.sessions.is_alive(identity, t)) {
        Reply::new().string("OK")
    } else {
        Reply::error("error", "session_inactive").string(format!(
            "admin client session timed out after {} seconds of inactivity - logging out",
            state.config.session_timeout.as_secs()
        ))
    }
}

/// Whether a request with a body may be spooled: only `submit_job`, from
/// a live session of this certificate, by a user with the right to submit.
fn admit_upload(state: &State, identity: &Identity, meta: &str) -> Result<(), Reply> {
    let request = Request::parse(meta)?;
    let name = request.name();
    if name != "submit_job" {
        return Err(Reply::error(
            "syntax_error",
            &format!("{} takes no file", echo(name)),
        ));
    }
    admit(state, identity, &request)?;
    let user = Person::of(identity);
    if !state.policy.allows("submit_job", &user, &Person::default()) {
        return Err(not_authorized(&user, "submit_job"));
    }
    Ok(())
}

/// The default processor, behind a gate: a body is spooled only once its
/// meta shows a session of this certificate with the right to submit, so
/// that nobody else's upload takes a byte of disk. A refusal stops the
/// exchange at its header and is kept for the reply.
pub(super) struct Gate<'a> {
    state: &'a State,
    identity: &'a Identity,
    spool: MsgDataProcessor,
    /// Why the upload was refused, for the reply.
    pub refusal: Option<Reply>,
}

impl<'a> Gate<'a> {
    /// A gate in front of the store's spool.
    pub fn new(state: &'a State, identity: &'a Identity) -> Gate<'a> {
        Gate {
            state,
            identity,
            spool: MsgDataProcessor::in_dir(state.store.spool()),
            refusal: None,
        }
    }
}

impl DataProcessor for Gate<'_> {
    type Output = Exchange;

    fn start(&mut self, start: &Start<'_>) -> nvflare_hci::Result<()> {
        if start.content_type() == ContentType::Binary {
            if let Err(reply) = admit_upload(self.state, self.identity, start.meta()) {
                self.refusal = Some(reply);
                return Err(nvflare_hci::Error::Processor(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "upload refused at its header",
                )));
            }
        }
        self.spool.start(start)
    }

    fn process(&mut self, data: &[u8], content_type: ContentType) -> nvflare_hci::Result<()> {
        self.spool.process(data, content_type)
    }

    fn finalize(&mut self, end: &End) -> nvflare_hci::Result<Exchange> {
        self.spool.finalize(end)
    }

    fn abort(&mut self) {
        self.spool.abort()
    }
}
