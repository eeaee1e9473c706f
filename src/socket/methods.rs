//! The methods the socket and its halves share, written once: a macro per role
//! (sending, receiving, both), each forwarding to the shared connection state.

/// Sending: `send`, `text`, `binary`, `feed`, `flush`, `close`, and the `Sink`.
macro_rules! sending_methods {
    ($ty:ident) => {
        impl<IO> $ty<IO>
        where
            IO: AsyncRead + AsyncWrite + Unpin,
        {
            /// Sends a message: waits while the write buffer is above its high-water
            /// mark ([`Config::write_buffer_size`](crate::Config::write_buffer_size)),
            /// queues the message, and writes and flushes the queue. Before the
            /// opening handshake finishes (raw client), the message is queued and
            /// goes out once the server accepts: `send` returns then, `feed` at
            /// once. After the connection starts closing, it is an error of kind
            /// [`Closed`](crate::ErrorKind::Closed).
            ///
            /// To queue several messages and write them together, use `feed` and
            /// `flush`, or the `Sink` impl (`send_all`).
            ///
            /// On an unsplit socket, the first `send` after `recv` returned a
            /// message, when the next message has already arrived (the peer
            /// pipelines), returns once the message is queued:
            /// the replies to all the messages of one read then leave in one
            /// write, when `recv` finds nothing more to return (before it waits
            /// for input) or when a `send` finds no message behind it. Call
            /// `flush` if you do slow work between a `send` and the next `recv`
            /// (see "Pipelined replies" in the [`socket`](crate::socket) docs).
            ///
            /// # Cancel safety
            ///
            /// If cancelled while waiting for room, the message is not sent; once it
            /// has been queued, it is sent even if the future is dropped.
            pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
                let mut message = Some(message.into());
                poll_fn(|cx| self.shared.poll_send(cx, &mut message)).await
            }

            /// Sends a text message, as `send`.
            ///
            /// # Cancel safety
            ///
            /// As `send`.
            pub async fn text(&mut self, text: impl Into<Utf8Bytes>) -> Result<(), Error> {
                self.send(Message::Text(text.into())).await
            }

            /// Sends a binary message, as `send`.
            ///
            /// # Cancel safety
            ///
            /// As `send`.
            pub async fn binary(&mut self, data: impl Into<Bytes>) -> Result<(), Error> {
                self.send(Message::Binary(data.into())).await
            }

            /// Queues a message without flushing: waits only while the write buffer
            /// is above its high-water mark. The queue is written by the next
            /// `flush` or `send`, and whenever the socket is polled.
            ///
            /// # Cancel safety
            ///
            /// If cancelled, the message was not queued.
            pub async fn feed(&mut self, message: impl Into<Message>) -> Result<(), Error> {
                poll_fn(|cx| self.shared.poll_ready(cx)).await?;
                self.shared.start_send(message.into())
            }

            /// Writes and flushes everything queued.
            ///
            /// # Cancel safety
            ///
            /// Cancel-safe: what is queued stays queued.
            pub async fn flush(&mut self) -> Result<(), Error> {
                poll_fn(|cx| self.shared.poll_flush(cx)).await
            }

            /// Starts the closing handshake with `code` and `reason` (at most 123
            /// bytes), waits for the peer's close frame (up to
            /// [`Config::close_timeout`](crate::Config::close_timeout)) and for the
            /// transport's shutdown, and returns the peer's close frame. The stream
            /// of messages (of a [`Receiver`] too) ends once it completes.
            ///
            /// If the peer closed first, it returns the peer's frame. It fails with
            /// [`Timeout`](crate::ErrorKind::Timeout) when the peer does not answer
            /// in time, with [`Io`](crate::ErrorKind::Io) when the transport fails
            /// before the handshake is over, and with the cause when the
            /// connection had already failed. Messages that arrive meanwhile are
            /// kept for `recv()` up to
            /// [`Config::message_buffer_size`](crate::Config::message_buffer_size);
            /// beyond it the oldest are dropped, so that the peer's answer can be
            /// read.
            ///
            /// # `close(code, reason)` and `SinkExt::close()`
            ///
            /// This method takes the code and reason, so with `SinkExt` in scope
            /// `ws.close()` does not compile: the inherent method wins name
            /// lookup, as with tokio-tungstenite's `close(None)`. The `Sink`'s
            /// close is the same handshake with 1000 (Normal) and no reason;
            /// call it as `SinkExt::close(&mut ws)` when you need it by that
            /// name (or let `forward`/`send_all` end with it).
            ///
            /// ```no_run
            /// use websocket_protocol::CloseCode;
            /// # async fn f(mut ws: websocket_protocol::WebSocket<tokio::net::TcpStream>) -> Result<(), websocket_protocol::Error> {
            /// let peer = ws.close(CloseCode::NORMAL, "bye").await?;
            /// println!("the peer answered {} {:?}", peer.code, peer.reason);
            /// // or, with the same handshake: futures::SinkExt::close(&mut ws).await?;
            /// # Ok(()) }
            /// ```
            ///
            /// # Cancel safety
            ///
            /// Once called, the close frame is queued: cancelling stops only the
            /// waiting. Calling `close` again resumes it.
            pub async fn close(
                &mut self,
                code: impl Into<CloseCode>,
                reason: &str,
            ) -> Result<CloseFrame, Error> {
                self.shared.start_close(code.into(), reason)?;
                poll_fn(|cx| self.shared.poll_closed(cx)).await
            }
        }

        /// `poll_close` runs the closing handshake with 1000 (Normal) and an empty
        /// reason, as [`close`](Self::close) does with those arguments (which
        /// shadows `SinkExt::close`: call that one as `SinkExt::close(&mut ws)`).
        impl<IO> Sink<Message> for $ty<IO>
        where
            IO: AsyncRead + AsyncWrite + Unpin,
        {
            type Error = Error;

            fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
                self.shared.poll_ready(cx)
            }

            fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
                self.shared.start_send(item)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
                self.shared.poll_flush(cx)
            }

            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
                self.shared.start_close(CloseCode::NORMAL, "")?;
                self.shared.poll_closed(cx).map_ok(drop)
            }
        }
    };
}

/// Receiving: `recv`, the `Stream`, and the deprecated `messages`.
macro_rules! receiving_methods {
    ($ty:ident) => {
        impl<IO> $ty<IO>
        where
            IO: AsyncRead + AsyncWrite + Unpin,
        {
            /// Receives the next text or binary message: the one way to read, as
            /// with axum's `WebSocket::recv`. No trait import is needed.
            ///
            /// ```no_run
            /// # async fn f(mut ws: websocket_protocol::WebSocket<tokio::net::TcpStream>) -> Result<(), websocket_protocol::Error> {
            /// while let Some(message) = ws.recv().await {
            ///     let message = message?;
            ///     ws.send(message).await?; // echo
            /// }
            /// // The stream ended: the closing handshake is over.
            /// println!("closed with {:?}", ws.close_frame());
            /// # Ok(()) }
            /// ```
            ///
            /// It returns `Some(Err(_))` once if the connection fails (a
            /// protocol violation, a transport error, a peer that vanishes
            /// without a close frame), then `None`. It returns `None` after the
            /// closing handshake (once our echo of the peer's close frame is
            /// written); `close_frame()` then says how it ended. Once the peer's
            /// close frame has arrived, whatever the transport does next (an end
            /// of stream, a reset, a failed write of our echo to a peer already
            /// gone) ends the stream cleanly. Pings and pongs are answered and
            /// matched meanwhile, and are not returned (see
            /// [`Message`](crate::Message) for where they are).
            ///
            /// Reading is what lets the socket read the transport: while
            /// messages wait unread beyond
            /// [`Config::message_buffer_size`](crate::Config::message_buffer_size),
            /// nothing more is read.
            ///
            /// The socket is also a `Stream` of the same items
            /// (`Stream::poll_next` is what `recv` polls), for combinators:
            /// `ws.next()`, `ws.filter_map(..)`, `forward`.
            ///
            /// # Cancel safety
            ///
            /// Cancel-safe: a message is taken from the socket only in the poll
            /// that returns it, so dropping the future (in `tokio::select!`, or
            /// on a timeout) loses nothing.
            pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
                poll_fn(|cx| self.shared.poll_next(cx)).await
            }

            /// The socket itself, as a `Stream`: `messages().next()` is
            /// [`recv`](Self::recv), which needs no `StreamExt` import.
            #[deprecated(note = "use `recv()`; the socket itself is the `Stream`")]
            pub fn messages(&mut self) -> &mut Self {
                self
            }
        }

        /// The messages received, as [`recv`](Self::recv) returns them: the
        /// same items, for `StreamExt` combinators. Ends after the closing
        /// handshake or after the one `Err` of a failed connection.
        impl<IO> Stream for $ty<IO>
        where
            IO: AsyncRead + AsyncWrite + Unpin,
        {
            type Item = Result<Message, Error>;

            fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
                self.shared.poll_next(cx)
            }
        }
    };
}

/// Both: `ping`, `close_handle`, the getters, `Debug`.
macro_rules! common_methods {
    ($ty:ident) => {
        impl<IO> $ty<IO>
        where
            IO: AsyncRead + AsyncWrite + Unpin,
        {
            /// Sends a ping (at most 125 bytes) and returns a future that resolves
            /// with the round-trip time when the pong with the same payload arrives,
            /// measured from this call. Several pings may be in flight; pings with
            /// equal payloads resolve in order.
            ///
            /// The future drives the connection itself, so it resolves while nobody
            /// reads messages, whichever half it comes from; messages that arrive
            /// meanwhile are kept for `recv()`. Frames are handled in order,
            /// though: a pong that arrives behind unread messages is seen once they
            /// are read, and reading stops while they exceed
            /// [`Config::message_buffer_size`](crate::Config::message_buffer_size).
            /// It fails if the connection closes first, if the payload is too long,
            /// or on hixie connections, which have no ping.
            pub fn ping(&self, payload: impl Into<Bytes>) -> Ping<IO> {
                Ping::new(&self.shared, payload.into())
            }

            /// A handle that closes the socket from another task; see
            /// [`CloseHandle`].
            pub fn close_handle(&self) -> CloseHandle
            where
                IO: Send + 'static,
            {
                CloseHandle::new(&self.shared)
            }
        }

        impl<IO> $ty<IO> {
            /// The protocol version in use.
            pub fn version(&self) -> Version {
                self.shared.ctx.version
            }

            /// The negotiated subprotocol: known from the start on a server, once
            /// open on a client.
            pub fn protocol(&self) -> Option<&str> {
                self.shared.ctx.protocol.get()?.as_deref()
            }

            /// The close frame the connection ended with, once it has (`recv()`
            /// returned `None`): the peer's when the closing handshake completed
            /// (what an axum loop's `Message::Close(frame)` arm receives), the
            /// code we sent when we failed the connection,
            /// [`CloseCode::ABNORMAL`](crate::CloseCode::ABNORMAL) when the
            /// transport ended without one.
            pub fn close_frame(&self) -> Option<CloseFrame> {
                self.shared.close_frame()
            }

            /// The connection's state.
            pub fn state(&self) -> ReadyState {
                self.shared.state()
            }

            /// Bytes queued for writing (handshake, messages, control frames).
            pub fn buffered_amount(&self) -> usize {
                self.shared.buffered_amount()
            }
        }

        impl<IO> fmt::Debug for $ty<IO> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("version", &self.shared.ctx.version)
                    .finish_non_exhaustive()
            }
        }
    };
}
