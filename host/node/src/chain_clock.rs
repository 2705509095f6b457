//! Chain time against this node's clock (issue 11, point 5).
//!
//! A block's time is its leader's clock, made monotone by the executor (never
//! before its parent's). What bounds it from above is the peer protocol: every
//! peer message carries its sender's clock and is refused when it is more than
//! 60 s from the receiver's (`MAX_SKEW_MS`, host/orderer/src/raft/envelope.rs),
//! so a block commits only once a majority of voters, each within 60 s of the
//! leader's clock, has accepted it; a leader whose clock is hours ahead cannot
//! reach anyone and loses the leadership. Because chain time only moves
//! forward, a block timed ahead would expire grants and consents early for
//! good, so every node also compares each block it applies with its own clock
//! and raises an alarm (a warning, and the `phr_block_time_ahead_ms` gauge and
//! `phr_clock_alarms_total` counter) when the block is ahead of it by more than
//! [`ALARM_AHEAD_MS`]. Blocks behind the clock are normal (catching up).

use crate::metrics::Metrics;

/// A block timed further ahead of this node's clock than this raises the alarm.
pub const ALARM_AHEAD_MS: u64 = 5_000;

/// Record how far block `height`, timed `block_time_ms`, is ahead of `now_ms`;
/// returns that many ms if it is far enough ahead to raise the alarm.
pub fn check(metrics: &Metrics, height: u64, block_time_ms: u64, now_ms: u64) -> Option<u64> {
    let ahead = block_time_ms.saturating_sub(now_ms);
    metrics.block_time_ahead.set(ahead.min(i64::MAX as u64) as i64);
    if ahead <= ALARM_AHEAD_MS {
        return None;
    }
    metrics.clock_alarms.inc();
    tracing::warn!(
        height,
        ahead_ms = ahead,
        "CLOCK ALARM: block {height} is timed {ahead} ms ahead of this node's clock. Chain time only moves forward, so \
         grants and consents would expire early: check the clocks (NTP) of this node and of the leader that proposed it"
    );
    Some(ahead)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_ahead_of_the_clock_raises_the_alarm_and_the_metric_shows_it() {
        let m = Metrics::new("n");
        let now = 1_800_000_000_000;
        assert_eq!(check(&m, 1, now - 3_600_000, now), None, "a block from the past (catching up) is normal");
        assert_eq!(m.block_time_ahead.get(), 0);
        assert_eq!(check(&m, 2, now + 1_000, now), None, "within the alarm's margin");
        assert_eq!(m.block_time_ahead.get(), 1_000);
        let hours = 3 * 3_600_000;
        assert_eq!(check(&m, 3, now + hours, now), Some(hours));
        assert_eq!((m.block_time_ahead.get(), m.clock_alarms.get()), (hours as i64, 1));
        let text = m.render();
        assert!(text.contains("phr_clock_alarms_total") && text.contains("phr_block_time_ahead_ms"), "{text}");
    }
}
