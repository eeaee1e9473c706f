//! Interop with Python websockets, both roles, with and without permessage-deflate.
//! The scenario is in tests/peers/README.md. With deflate, the negotiated
//! `Sec-WebSocket-Extensions` is pinned: the peer's default offer and answer.
#![cfg(all(feature = "axum", feature = "deflate"))]

mod interop_support;

use interop_support::*;
use websocket_protocol::protocol::DeflateConfig;

#[tokio::test]
#[ignore = "needs python3 with websockets (tests/peers/requirements.txt; .ci/run installs it)"]
async fn our_server_with_python_client() {
    our_server_with_peer_client("python3", "peer.py", None).await;
}

#[tokio::test]
#[ignore = "needs python3 with websockets (tests/peers/requirements.txt; .ci/run installs it)"]
async fn our_server_with_python_client_deflate() {
    our_server_with_peer_client(
        "python3",
        "peer.py",
        Some("permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"),
    )
    .await;
}

#[tokio::test]
#[ignore = "needs python3 with websockets (tests/peers/requirements.txt; .ci/run installs it)"]
async fn our_client_with_python_server() {
    our_client_with_peer_server("python3", "peer.py", None).await;
}

#[tokio::test]
#[ignore = "needs python3 with websockets (tests/peers/requirements.txt; .ci/run installs it)"]
async fn our_client_with_python_server_deflate() {
    our_client_with_peer_server(
        "python3",
        "peer.py",
        Some("permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"),
    )
    .await;
}

#[tokio::test]
#[ignore = "needs python3 with websockets (tests/peers/requirements.txt; .ci/run installs it)"]
async fn our_server_with_python_client_deflate_no_context_takeover() {
    our_server_deflate_with_peer_client(
        "python3",
        "peer.py",
        Some(
            DeflateConfig::default()
                .server_no_context_takeover(true)
                .client_no_context_takeover(true),
        ),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12",
    )
    .await;
}

#[tokio::test]
#[ignore = "needs python3 with websockets (tests/peers/requirements.txt; .ci/run installs it)"]
async fn our_server_with_python_client_deflate_small_windows() {
    our_server_deflate_with_peer_client(
        "python3",
        "peer.py",
        Some(
            DeflateConfig::default()
                .server_max_window_bits(9)
                .client_max_window_bits(9),
        ),
        "permessage-deflate; server_max_window_bits=9; client_max_window_bits=9",
    )
    .await;
}

#[tokio::test]
#[ignore = "needs python3 with websockets (tests/peers/requirements.txt; .ci/run installs it)"]
async fn our_client_with_python_server_deflate_no_context_takeover() {
    our_client_deflate_with_peer_server(
        "python3",
        "peer.py",
        DeflateConfig::default()
            .server_no_context_takeover(true)
            .client_no_context_takeover(true),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12",
    )
    .await;
}

#[tokio::test]
#[ignore = "needs python3 with websockets (tests/peers/requirements.txt; .ci/run installs it)"]
async fn our_client_with_python_server_deflate_small_windows() {
    our_client_deflate_with_peer_server(
        "python3",
        "peer.py",
        DeflateConfig::default()
            .server_max_window_bits(9)
            .client_max_window_bits(9),
        "permessage-deflate; server_max_window_bits=9; client_max_window_bits=9",
    )
    .await;
}
