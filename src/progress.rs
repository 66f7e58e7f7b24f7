//! Progress of a transfer, for progress bars.

use crate::wire::ContentType;

/// How far an exchange has come, reported to the callbacks set with
/// [`ExchangeHandler::on_progress`](crate::ExchangeHandler::on_progress) and
/// [`ExchangeSender::on_progress`](crate::ExchangeSender::on_progress), or
/// passed to a call such as
/// [`Connection::receive_with_progress`](crate::Connection::receive_with_progress).
///
/// Each value is reported once: the first at the start of an exchange (0
/// bytes done), the last when every byte has moved.
///
/// `#[non_exhaustive]`: it is only ever made by this crate, and may learn
/// more (bytes on the wire, say) without breaking callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Text or binary.
    pub content_type: ContentType,
    /// Content bytes (body or text) moved so far.
    pub done: u64,
    /// Total content bytes, when known: the body size of a binary exchange,
    /// the text's length when sending text; `None` while receiving text.
    pub total: Option<u64>,
}

impl Progress {
    /// True when every announced byte has moved.
    pub fn is_complete(&self) -> bool {
        self.total == Some(self.done)
    }
}

/// A progress callback kept by a connection, handler or sender.
pub(crate) type ProgressFn = Box<dyn FnMut(Progress) + Send>;

/// Calls a callback with each new value, skipping one equal to the last.
#[derive(Debug, Default)]
pub(crate) struct Reporter {
    last: Option<Progress>,
}

impl Reporter {
    /// Forgets the last value, for a new exchange.
    pub(crate) fn reset(&mut self) {
        self.last = None;
    }

    /// Reports `progress` to `f` unless it was the last value reported.
    pub(crate) fn report(&mut self, f: &mut dyn FnMut(Progress), progress: Progress) {
        if self.last != Some(progress) {
            self.last = Some(progress);
            f(progress);
        }
    }
}
