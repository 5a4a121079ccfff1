//! problem+json for the requests hyper refuses before any of our code runs. A request head hyper
//! cannot parse (a header value with a control character, `Content-Length: -1`, more than 100
//! headers, an over-long URI) gets an answer hyper writes itself, with an empty body; neither
//! poem nor hyper offers a hook for it, and raising hyper's limits only moves the line. So the
//! connection's writer recognises that answer as it goes out and sends a problem in its place.
//!
//! The answer is recognised as a 4xx head with `content-length: 0` and no `Content-Type`, at the
//! start of a write: our own 4xx responses always carry a problem's `Content-Type`, so nothing we
//! send matches. It must never rewrite anything else.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use poem::http::StatusCode;
use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use poem_openapi::types::ToJSON;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::api::problem::{PROBLEM_JSON, Problem};

/// Wraps every connection an acceptor hands out in [`ProblemIo`].
pub struct ProblemAcceptor<A>(pub A);

impl<A: Acceptor> Acceptor for ProblemAcceptor<A> {
    type Io = ProblemIo<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.0.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        let (io, local, remote, scheme) = self.0.accept().await?;
        Ok((ProblemIo::new(io), local, remote, scheme))
    }
}

/// A connection whose writes pass through unchanged, except hyper's own empty 4xx answers.
pub struct ProblemIo<T> {
    inner: T,
    /// A replacement answer not yet fully written.
    pending: Vec<u8>,
    written: usize,
}

impl<T> ProblemIo<T> {
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            pending: Vec::new(),
            written: 0,
        }
    }
}

impl<T: AsyncWrite + Unpin> ProblemIo<T> {
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }

    /// Swaps hyper's empty answer at the start of `buf` for a problem; the number of bytes of
    /// `buf` it stands for, or `None` when `buf` is not such an answer.
    fn replace(&mut self, buf: &[u8]) -> Option<usize> {
        let (status, head_len) = automatic_answer(buf)?;
        tracing::debug!(status = status.as_u16(), "a request hyper could not parse");
        self.pending = problem_response(status);
        self.written = 0;
        Some(head_len)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ProblemIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ProblemIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_pending(cx))?;
        if let Some(consumed) = this.replace(buf) {
            // Report hyper's bytes as written; ours go out now or on the next poll.
            let _ = this.poll_pending(cx)?;
            return Poll::Ready(Ok(consumed));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_pending(cx))?;
        if let Some(first) = bufs.iter().find(|b| !b.is_empty())
            && let Some(consumed) = this.replace(first)
        {
            let _ = this.poll_pending(cx)?;
            return Poll::Ready(Ok(consumed));
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The status and head length of an answer hyper wrote on its own: a complete 4xx head, no
/// body (`content-length: 0`) and no `Content-Type`.
fn automatic_answer(buf: &[u8]) -> Option<(StatusCode, usize)> {
    if !(buf.starts_with(b"HTTP/1.1 4") || buf.starts_with(b"HTTP/1.0 4")) {
        return None;
    }
    let head_len = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..head_len]).to_ascii_lowercase();
    if head.contains("\r\ncontent-type:") || !head.contains("\r\ncontent-length: 0\r\n") {
        return None;
    }
    let status = StatusCode::from_bytes(buf.get(9..12)?).ok()?;
    Some((status, head_len))
}

fn problem_response(status: StatusCode) -> Vec<u8> {
    let (code, detail) = match status {
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => (
            "headers_too_large",
            "The request has too many headers (at most 100) or they are too large.",
        ),
        StatusCode::URI_TOO_LONG => ("uri_too_long", "The request's URI is too long."),
        _ => (
            "malformed_request",
            "The request could not be parsed: its method, URI or version is invalid, a header \
             holds a control character or an invalid name, or Content-Length is not a \
             non-negative number.",
        ),
    };
    let body = Problem::new(status, code, detail).to_json_string();
    let mut response = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: {PROBLEM_JSON}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error"),
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(body.as_bytes());
    response
}

#[cfg(test)]
mod tests {
    use super::automatic_answer;

    #[test]
    fn recognises_only_hyper_empty_answers() {
        let hyper =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert_eq!(
            automatic_answer(hyper).map(|(s, n)| (s.as_u16(), n)),
            Some((431, hyper.len()))
        );
        for ours in [
            &b"HTTP/1.1 404 Not Found\r\ncontent-type: application/problem+json\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n",
            b"{\"a\": 1}",
        ] {
            assert!(automatic_answer(ours).is_none());
        }
    }
}
