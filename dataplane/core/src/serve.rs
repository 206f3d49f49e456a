//! Serving HTTP: every server socket disables Nagle's algorithm. Streams write small frames one
//! at a time; with Nagle on, the first frame after the headers waits for the client's delayed
//! ACK (~40 ms on Linux) — exactly the time to first token a relay must not add.

use std::net::SocketAddr;

use axum::serve::{Listener, ListenerExt};
use tokio::net::{TcpListener, TcpStream};

/// `listener` with `TCP_NODELAY` set on every accepted connection; pass it to `axum::serve`.
pub fn without_nagle(listener: TcpListener) -> impl Listener<Io = TcpStream, Addr = SocketAddr> {
    listener.tap_io(|tcp: &mut TcpStream| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
    })
}
