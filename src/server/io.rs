//! The stream under a server's socket: the TCP stream itself when hyper hands it
//! back, hyper's upgraded connection otherwise.

use bytes::{Buf, Bytes};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The stream under a [`ServerSocket`](super::ServerSocket).
///
/// When the connection was served straight from a [`TcpStream`] (hyper's own
/// `http1::Builder` over `TokioIo<TcpStream>`), hyper gives the stream back at
/// the upgrade, and the socket writes to it directly, with TCP_NODELAY set: the
/// layer and the extractor make sure Nagle's algorithm cannot hold a frame back
/// for the peer's delayed acknowledgement. Otherwise (hyper-util's builder,
/// `axum::serve`, TLS, any other stream) it is hyper's upgraded connection, and
/// TCP_NODELAY is whatever was set where the stream was accepted (see "Timeouts
/// and latency" in the [`server`](super) docs).
#[derive(Debug)]
pub struct ServerIo(Inner);

#[derive(Debug)]
enum Inner {
    /// The stream hyper was given, and what hyper had read past the request,
    /// which comes first.
    Tcp {
        tcp: TcpStream,
        read_buf: Bytes,
    },
    Upgraded(TokioIo<Upgraded>),
}

impl ServerIo {
    /// Takes the TCP stream back from hyper when it can, and turns Nagle's
    /// algorithm off on it.
    pub(crate) fn new(upgraded: Upgraded) -> ServerIo {
        match upgraded.downcast::<TokioIo<TcpStream>>() {
            Ok(parts) => {
                let tcp = parts.io.into_inner();
                // Best effort: a socket that refuses is still a socket.
                let _ = tcp.set_nodelay(true);
                ServerIo(Inner::Tcp {
                    tcp,
                    read_buf: parts.read_buf,
                })
            }
            Err(upgraded) => ServerIo(Inner::Upgraded(TokioIo::new(upgraded))),
        }
    }

    /// The TCP stream, when hyper handed it back (see the type's docs).
    pub fn tcp(&self) -> Option<&TcpStream> {
        match &self.0 {
            Inner::Tcp { tcp, .. } => Some(tcp),
            Inner::Upgraded(_) => None,
        }
    }
}

impl AsyncRead for ServerIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().0 {
            Inner::Tcp { read_buf, .. } if !read_buf.is_empty() => {
                let n = read_buf.len().min(buf.remaining());
                buf.put_slice(&read_buf[..n]);
                read_buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Inner::Tcp { tcp, .. } => Pin::new(tcp).poll_read(cx, buf),
            Inner::Upgraded(io) => Pin::new(io).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ServerIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().0 {
            Inner::Tcp { tcp, .. } => Pin::new(tcp).poll_write(cx, buf),
            Inner::Upgraded(io) => Pin::new(io).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().0 {
            Inner::Tcp { tcp, .. } => Pin::new(tcp).poll_write_vectored(cx, bufs),
            Inner::Upgraded(io) => Pin::new(io).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.0 {
            Inner::Tcp { tcp, .. } => tcp.is_write_vectored(),
            Inner::Upgraded(io) => io.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().0 {
            Inner::Tcp { tcp, .. } => Pin::new(tcp).poll_flush(cx),
            Inner::Upgraded(io) => Pin::new(io).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().0 {
            Inner::Tcp { tcp, .. } => Pin::new(tcp).poll_shutdown(cx),
            Inner::Upgraded(io) => Pin::new(io).poll_shutdown(cx),
        }
    }
}
