//! Where the driver's randomness comes from: the client's `Sec-WebSocket-Key`
//! and its mask keys.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The thread's RNG unless [`Options::rng_seed`](super::Options::rng_seed) asks
/// for a seeded one (tests that assert a client's bytes).
#[derive(Debug)]
pub(crate) enum Randomness {
    Thread,
    /// Boxed: a `StdRng` is a few hundred bytes, which a server (it never masks)
    /// should not carry per connection.
    Seeded(Box<StdRng>),
}

impl Randomness {
    pub(crate) fn new(seed: Option<u64>) -> Self {
        match seed {
            None => Randomness::Thread,
            Some(seed) => Randomness::Seeded(Box::new(StdRng::seed_from_u64(seed))),
        }
    }

    pub(crate) fn bytes<const N: usize>(&mut self) -> [u8; N] {
        match self {
            Randomness::Thread => rand::rng().random(),
            Randomness::Seeded(rng) => rng.random(),
        }
    }
}
