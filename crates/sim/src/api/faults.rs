//! Seeded fault injection: a fraction of requests (after authentication) get one of Okta's
//! bad days: a 429 storm in the request's bucket, a 500 `E0000009`, a 503 `E0000010`, a slow
//! answer, a connection closed before any response, or a body cut short. The choice comes from
//! a ChaCha generator seeded with the simulator's seed, so a client making the same requests in
//! the same order meets the same faults.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// One injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Every request to the bucket answers 429 for this long (this one included).
    Storm(Duration),
    /// 500 `E0000009`.
    Internal,
    /// 503 `E0000010`.
    Unavailable,
    /// The normal answer after this delay.
    Slow(Duration),
    /// The connection is closed before a response.
    Reset,
    /// The normal status and headers, then the body cut after part of it and the connection
    /// closed.
    Truncated,
}

impl Fault {
    /// A short name for logs and the accounting.
    pub fn name(&self) -> &'static str {
        match self {
            Fault::Storm(_) => "429-storm",
            Fault::Internal => "500",
            Fault::Unavailable => "503",
            Fault::Slow(_) => "slow",
            Fault::Reset => "reset",
            Fault::Truncated => "truncated",
        }
    }
}

/// Draws faults at a fixed rate.
#[derive(Debug)]
pub struct Faults {
    rate: f64,
    rng: ChaCha8Rng,
}

impl Faults {
    /// Faults on `rate` (0–1) of requests.
    pub fn new(rate: f64, seed: u64) -> Faults {
        Faults {
            rate,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x0fa1_75ee_d000_0000),
        }
    }

    /// The fault for the next request, if any.
    pub fn draw(&mut self) -> Option<Fault> {
        if self.rate <= 0.0 || !self.rng.random_bool(self.rate.min(1.0)) {
            return None;
        }
        Some(match self.rng.random_range(0..6u32) {
            0 => Fault::Storm(Duration::from_millis(self.rng.random_range(1000..4000))),
            1 => Fault::Internal,
            2 => Fault::Unavailable,
            3 => Fault::Slow(Duration::from_millis(self.rng.random_range(800..2500))),
            4 => Fault::Reset,
            _ => Fault::Truncated,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_and_seed_decide_the_faults() {
        let draws = |seed| {
            let mut faults = Faults::new(0.3, seed);
            (0..1000).map(|_| faults.draw()).collect::<Vec<_>>()
        };
        let a = draws(1);
        assert_eq!(a, draws(1));
        assert_ne!(a, draws(2));
        let hit = a.iter().filter(|f| f.is_some()).count();
        assert!((200..400).contains(&hit), "{hit} of 1000 at 30%");
        let mut none = Faults::new(0.0, 1);
        assert!((0..1000).all(|_| none.draw().is_none()));
    }
}
