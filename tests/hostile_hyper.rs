//! Hostile peers against `WsLayer` on hyper (`server::http_builder()`): every attack of
//! `hostile_support::run`, each within its per-connection memory bound (see the
//! README's "Limits" table). One test: the allocator count is process-wide.

mod hostile_support;

#[test]
fn hostile_peers_stay_within_their_bounds() {
    hostile_support::run(hostile_support::Path::Hyper);
}
