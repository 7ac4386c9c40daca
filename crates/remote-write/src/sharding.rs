//! How many shards a queue wants: Prometheus' `calculateDesiredShards` (queue_manager.go),
//! with its inputs: the rates (exponentially weighted, updated every
//! [`UPDATE_EVERY`]) of samples in, samples out and time spent sending, and the delay
//! between the newest sample read and the newest sent.

use std::time::Duration;

/// How often the rates are updated and the shard count reconsidered (Prometheus'
/// `shardUpdateDuration`).
pub const UPDATE_EVERY: Duration = Duration::from_secs(10);
/// Weight of the newest interval in the rates (Prometheus' `ewmaWeight`).
const EWMA_WEIGHT: f64 = 0.2;
/// How much of the backlog to catch up per update (`integralGain = 0.1 / shardUpdateDuration`).
const INTEGRAL_GAIN: f64 = 0.1 / 10.0;
/// Desired counts within ±30 % of the current one do not change it
/// (`shardToleranceFraction`).
const TOLERANCE: f64 = 0.3;

/// An exponentially weighted rate per second, fed counts per interval.
#[derive(Debug, Default, Clone, Copy)]
struct Ewma {
    rate: Option<f64>,
}

impl Ewma {
    fn tick(&mut self, count: f64, interval: f64) {
        let instant = count / interval;
        self.rate = Some(match self.rate {
            None => instant,
            Some(r) => r + EWMA_WEIGHT * (instant - r),
        });
    }

    fn rate(&self) -> f64 {
        self.rate.unwrap_or(0.0)
    }
}

/// The counters a queue reports at every update (cumulative).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Inputs {
    /// Samples read into the queue.
    pub samples_in: u64,
    /// Samples finished (sent, failed or dropped after reading).
    pub samples_out: u64,
    /// Samples dropped after reading (relabeling, too old).
    pub samples_dropped: u64,
    /// Seconds spent in send calls.
    pub send_seconds: f64,
    /// Newest sample timestamp read, seconds.
    pub highest_in_s: f64,
    /// Newest sample timestamp sent, seconds.
    pub highest_sent_s: f64,
}

/// The shard calculation's state.
#[derive(Debug, Default)]
pub struct Desired {
    last: Inputs,
    data_in: Ewma,
    data_out: Ewma,
    data_dropped: Ewma,
    data_out_duration: Ewma,
}

impl Desired {
    /// Feeds the counters at an update and returns the shard count to run, from `current`
    /// within `[min, max]`.
    pub fn update(
        &mut self,
        now: Inputs,
        interval: f64,
        current: usize,
        min: usize,
        max: usize,
    ) -> usize {
        let d = |a: u64, b: u64| a.saturating_sub(b) as f64;
        self.data_in
            .tick(d(now.samples_in, self.last.samples_in), interval);
        self.data_out
            .tick(d(now.samples_out, self.last.samples_out), interval);
        self.data_dropped
            .tick(d(now.samples_dropped, self.last.samples_dropped), interval);
        self.data_out_duration.tick(
            (now.send_seconds - self.last.send_seconds).max(0.0),
            interval,
        );
        self.last = now;
        let (min, max) = (min.max(1), max.max(min.max(1)));
        let data_in = self.data_in.rate();
        let data_out = self.data_out.rate();
        if data_out <= 0.0 || data_in <= 0.0 {
            return current.clamp(min, max);
        }
        let kept_ratio = if data_in > 0.0 {
            ((data_in - self.data_dropped.rate()) / data_in).clamp(0.0, 1.0)
        } else {
            1.0
        };
        let delay = (now.highest_in_s - now.highest_sent_s).max(0.0);
        let pending = delay * data_in * kept_ratio;
        let time_per_sample = self.data_out_duration.rate() / data_out;
        let desired = time_per_sample * (data_in * kept_ratio + INTEGRAL_GAIN * pending);
        let lower = current as f64 * (1.0 - TOLERANCE);
        let upper = current as f64 * (1.0 + TOLERANCE);
        if desired > lower && desired < upper {
            return current.clamp(min, max);
        }
        (desired.ceil() as usize).clamp(min, max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_sends_want_more_shards_and_idle_ones_fewer() {
        let mut d = Desired::default();
        // 10,000 samples/s in and out, each second of sending moves 2,500: 4 shards busy.
        let mut at = Inputs::default();
        for i in 1..=5u64 {
            at = Inputs {
                samples_in: 100_000 * i,
                samples_out: 100_000 * i,
                samples_dropped: 0,
                send_seconds: 40.0 * i as f64,
                highest_in_s: 0.0,
                highest_sent_s: 0.0,
            };
            let n = d.update(at, 10.0, 1, 1, 50);
            assert_eq!(n, 4, "update {i}");
        }
        // Within 30 % of the current count: no change.
        let mut steady = Desired::default();
        let first = Inputs {
            samples_in: 100_000,
            samples_out: 100_000,
            send_seconds: 45.0,
            ..Inputs::default()
        };
        assert_eq!(
            steady.update(first, 10.0, 4, 1, 50),
            4,
            "4.5 is within 30 % of 4"
        );
        assert_eq!(
            steady.update(first, 10.0, 4, 1, 50),
            4,
            "a quiet interval: 3.6, keep"
        );
        let _ = at;
        // Bounds apply.
        let mut d = Desired::default();
        let at = Inputs {
            samples_in: 10,
            samples_out: 10,
            send_seconds: 1000.0,
            ..Inputs::default()
        };
        assert_eq!(d.update(at, 10.0, 1, 1, 3), 3);
    }

    #[test]
    fn a_backlog_raises_the_count() {
        let mut d = Desired::default();
        let at = Inputs {
            samples_in: 100_000,
            samples_out: 100_000,
            samples_dropped: 0,
            send_seconds: 10.0,
            highest_in_s: 1000.0,
            highest_sent_s: 0.0,
        };
        // time per sample 1e-4 s; (10,000 + 0.01 × 1000 s × 10,000) × 1e-4 = 11.
        assert_eq!(d.update(at, 10.0, 1, 1, 50), 11);
    }
}
