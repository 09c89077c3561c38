//! Stage-wide token-bucket throttling, as API Gateway applies a stage's default route settings.
//!
//! The bucket holds up to `burst` tokens and refills at `rate` tokens per second. Every new
//! connection (`$connect`) and every incoming message takes one token; `$disconnect` takes none
//! (it is not a client request). A request that finds the bucket empty is throttled: the
//! handshake is answered with 429, a message with a "Too Many Requests" frame.

use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use crate::config::ApiSettings;

#[derive(Debug)]
pub struct TokenBucket {
    burst: f64,
    rate: f64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    /// A full bucket. Non-positive or non-finite limits (which configuration validation already
    /// rejects) throttle everything, as a zero limit does on API Gateway.
    pub fn new(burst: f64, rate: f64) -> Self {
        let clean = |v: f64| if v.is_finite() && v > 0.0 { v } else { 0.0 };
        let burst = clean(burst);
        Self {
            burst,
            rate: clean(rate),
            state: Mutex::new(State {
                tokens: burst,
                updated: Instant::now(),
            }),
        }
    }

    pub fn from_settings(api: &ApiSettings) -> Self {
        Self::new(
            f64::from(api.throttling_burst_limit),
            api.throttling_rate_limit,
        )
    }

    /// Takes one token if there is one; `false` means the request is throttled.
    pub fn try_acquire(&self) -> bool {
        self.try_acquire_at(Instant::now())
    }

    fn try_acquire_at(&self, now: Instant) -> bool {
        // The critical section is a few float operations; a poisoned lock only means another
        // thread panicked mid-update, and a slightly wrong token count is harmless.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let elapsed = now.saturating_duration_since(state.updated).as_secs_f64();
        state.tokens = (state.tokens + elapsed * self.rate).min(self.burst);
        state.updated = now;
        if state.tokens >= 1.0 {
            state.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill_at_rate() {
        let bucket = TokenBucket::new(3.0, 2.0);
        let start = Instant::now();
        assert!((0..3).all(|_| bucket.try_acquire_at(start)));
        assert!(!bucket.try_acquire_at(start));
        // 2 tokens per second: after 0.4 s there is less than one token, after 0.5 s one.
        assert!(!bucket.try_acquire_at(start + Duration::from_millis(400)));
        assert!(bucket.try_acquire_at(start + Duration::from_millis(500)));
        assert!(!bucket.try_acquire_at(start + Duration::from_millis(500)));
    }

    #[test]
    fn refill_never_exceeds_the_burst() {
        let bucket = TokenBucket::new(2.0, 100.0);
        let later = Instant::now() + Duration::from_mins(1);
        assert!(bucket.try_acquire_at(later));
        assert!(bucket.try_acquire_at(later));
        assert!(!bucket.try_acquire_at(later));
    }

    #[test]
    fn zero_limits_throttle_everything() {
        let bucket = TokenBucket::new(0.0, 0.0);
        assert!(!bucket.try_acquire());
        let bucket = TokenBucket::new(5.0, f64::NAN);
        assert!((0..5).all(|_| bucket.try_acquire()));
        assert!(!bucket.try_acquire_at(Instant::now() + Duration::from_secs(10)));
    }
}
