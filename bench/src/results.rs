//! The results: the figures each measurement yields, and what became of each server in each
//! case.

use crate::idle::IdleResult;
use crate::load::EchoResult;
use crate::machine::Machine;
use crate::scenario::Case;
use crate::server::ServerKind;
use crate::stats::{Spread, percentile};

/// A figure the report shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Figure {
    /// Messages echoed per second.
    MessagesPerSecond,
    /// Megabytes (10^6) echoed back per second, one direction.
    MegabytesPerSecond,
    /// Median latency: first byte sent to last byte echoed, in microseconds.
    LatencyP50,
    /// 99th percentile latency, in microseconds.
    LatencyP99,
    /// 99.9th percentile latency, in microseconds.
    LatencyP999,
    /// Server CPU time (user + system) per message, in microseconds.
    CpuPerMessage,
    /// Growth of the server's resident memory per idle connection, in bytes.
    RssPerConnection,
}

impl Figure {
    /// The figures of the echo scenarios.
    pub const ECHO: [Figure; 6] = [
        Figure::MessagesPerSecond,
        Figure::MegabytesPerSecond,
        Figure::LatencyP50,
        Figure::LatencyP99,
        Figure::LatencyP999,
        Figure::CpuPerMessage,
    ];

    /// The figures of the idle scenario.
    pub const IDLE: [Figure; 1] = [Figure::RssPerConnection];

    /// The column heading.
    pub fn heading(self) -> &'static str {
        match self {
            Figure::MessagesPerSecond => "msg/s",
            Figure::MegabytesPerSecond => "MB/s",
            Figure::LatencyP50 => "p50 µs",
            Figure::LatencyP99 => "p99 µs",
            Figure::LatencyP999 => "p99.9 µs",
            Figure::CpuPerMessage => "server CPU µs/msg",
            Figure::RssPerConnection => "server RSS bytes/conn",
        }
    }

    /// The column heading of the ratio table (ratios have no unit).
    pub fn ratio_heading(self) -> &'static str {
        match self {
            Figure::MessagesPerSecond => "msg/s",
            Figure::MegabytesPerSecond => "MB/s",
            Figure::LatencyP50 => "p50",
            Figure::LatencyP99 => "p99",
            Figure::LatencyP999 => "p99.9",
            Figure::CpuPerMessage => "server CPU/msg",
            Figure::RssPerConnection => "server RSS/conn",
        }
    }

    /// Whether the ratio table shows it (MB/s is left out: with a fixed message size its
    /// ratio is that of msg/s).
    pub fn has_ratio(self) -> bool {
        self != Figure::MegabytesPerSecond
    }

    /// Whether a higher value is the better one (throughput), rather than a lower one
    /// (latency, CPU, memory).
    pub fn higher_is_better(self) -> bool {
        matches!(self, Figure::MessagesPerSecond | Figure::MegabytesPerSecond)
    }

    /// `value` in this figure's unit, rounded for reading.
    pub fn format(self, value: f64) -> String {
        match self {
            Figure::MessagesPerSecond if value >= 1e6 => format!("{:.2}M", value / 1e6),
            Figure::MessagesPerSecond if value >= 1e4 => format!("{:.1}k", value / 1e3),
            Figure::MessagesPerSecond => format!("{value:.0}"),
            Figure::MegabytesPerSecond => format!("{value:.1}"),
            Figure::RssPerConnection => format!("{value:.0}"),
            _ if value >= 100.0 => format!("{value:.0}"),
            _ if value >= 10.0 => format!("{value:.1}"),
            _ => format!("{value:.2}"),
        }
    }
}

/// The figures of one measurement.
#[derive(Clone, Debug, Default)]
pub struct Measurement {
    values: Vec<(Figure, f64)>,
}

impl Measurement {
    /// The figures of an echo measurement; `None` if no message completed in the window.
    pub fn from_echo(result: &EchoResult) -> Option<Measurement> {
        let seconds = result.elapsed.as_secs_f64();
        if result.messages == 0 || seconds <= 0.0 {
            return None;
        }
        let micros = |quantile| percentile(&result.latencies, quantile).map(|ns| ns as f64 / 1e3);
        let mut values = vec![
            (Figure::MessagesPerSecond, result.messages as f64 / seconds),
            (Figure::MegabytesPerSecond, result.bytes as f64 / seconds / 1e6),
        ];
        for (figure, quantile) in
            [(Figure::LatencyP50, 0.5), (Figure::LatencyP99, 0.99), (Figure::LatencyP999, 0.999)]
        {
            values.extend(micros(quantile).map(|value| (figure, value)));
        }
        if let Some(cpu) = result.server_cpu {
            values.push((Figure::CpuPerMessage, cpu.as_secs_f64() * 1e6 / result.messages as f64));
        }
        Some(Measurement { values })
    }

    /// The figures of an idle measurement.
    pub fn from_idle(result: &IdleResult) -> Measurement {
        Measurement { values: vec![(Figure::RssPerConnection, result.bytes_per_connection())] }
    }

    /// The value of `figure`, if it was measured.
    pub fn get(&self, figure: Figure) -> Option<f64> {
        self.values.iter().find(|(which, _)| *which == figure).map(|(_, value)| *value)
    }
}

/// What became of one server in one case.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// Measured this many times (the repeats so far).
    Measured(Vec<Measurement>),
    /// Not run, because the server cannot do it; the reason is shown in its cells.
    NotApplicable(String),
    /// A measurement failed; the reason is shown in its cells.
    Failed(String),
}

impl Outcome {
    /// The median and range of `figure` over the repeats, if measured.
    pub fn spread(&self, figure: Figure) -> Option<Spread> {
        match self {
            Outcome::Measured(measurements) => {
                Spread::of(measurements.iter().filter_map(|measurement| measurement.get(figure)))
            }
            _ => None,
        }
    }

    /// `figure` in each round, in the order run (`None` where a round did not yield it); `None`
    /// if the server was not measured.
    pub fn rounds(&self, figure: Figure) -> Option<Vec<Option<f64>>> {
        match self {
            Outcome::Measured(measurements) => {
                Some(measurements.iter().map(|measurement| measurement.get(figure)).collect())
            }
            _ => None,
        }
    }
}

/// The outcome of every server in one case.
#[derive(Clone, Debug)]
pub struct CaseResult {
    /// The case, as run (its connection count may have been lowered to fit the limits).
    pub case: Case,
    /// Each server's outcome, in report order.
    pub rows: Vec<(ServerKind, Outcome)>,
}

impl CaseResult {
    /// The figures this case reports.
    pub fn figures(&self) -> &'static [Figure] {
        match self.case.workload {
            crate::scenario::Workload::Echo { .. } => &Figure::ECHO,
            crate::scenario::Workload::Idle { .. } => &Figure::IDLE,
        }
    }

    /// `kind`'s outcome, if it ran in this case.
    pub fn outcome(&self, kind: ServerKind) -> Option<&Outcome> {
        self.rows.iter().find(|(which, _)| *which == kind).map(|(_, outcome)| outcome)
    }
}

/// Everything a run produced.
#[derive(Clone, Debug)]
pub struct Results {
    /// The machine it ran on.
    pub machine: Machine,
    /// How it was run, one line per setting.
    pub settings: Vec<String>,
    /// Each case's results, in the order run.
    pub cases: Vec<CaseResult>,
    /// Anything the reader should know (limits lowered, pinning not possible, ...).
    pub notes: Vec<String>,
}
