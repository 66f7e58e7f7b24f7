//! Progress of a transfer, for progress bars.

use crate::wire::ContentType;

/// How far an exchange has come, reported to the callbacks set with
/// [`ExchangeHandler::on_progress`](crate::ExchangeHandler::on_progress) and
/// [`ExchangeSender::on_progress`](crate::ExchangeSender::on_progress).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// A progress callback.
pub(crate) type ProgressFn = Box<dyn FnMut(Progress) + Send>;
