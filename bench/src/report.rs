//! Renders the results as markdown: a one-table summary, each server against each baseline
//! round by round, then per case a table of figures and a table of ratios to the baselines.

use std::fmt::Write;

use crate::results::{CaseResult, Figure, Outcome, Results};
use crate::scenario::Workload;
use crate::server::ServerKind;
use crate::stats::{Paired, Spread};

/// The servers every other is compared with: the mechanism's limit, and the usual reference.
pub const BASELINES: [ServerKind; 2] = [ServerKind::RawEpoll, ServerKind::TokioCt];

/// What the idle figure is, and what it leaves out.
const IDLE_NOTE: &str = "\
Every server runs with lazy buffers here: an idle connection holds no buffer (the 64 KiB buffer \
is allocated when the socket is readable and dropped once the data is echoed), so the figure is \
what the runtime itself keeps per connection: the task or connection record, the I/O \
registration and the socket wrapper, with the allocator's overhead (the kernel's socket buffers \
are not in the process's RSS). `raw-epoll`, one small record per descriptor, is the floor. The \
probe round trip proves each connection was accepted and served once before the memory is \
read.\n\n";

/// The whole report.
pub fn markdown(results: &Results) -> String {
    let mut out = String::new();
    let machine = &results.machine;
    out.push_str("# plexio echo benchmark\n\n");
    let _ = writeln!(
        out,
        "- machine: {}, {} CPU(s), {}, {}",
        machine.cpu, machine.cores, machine.kernel, machine.date
    );
    for line in &results.settings {
        let _ = writeln!(out, "- {line}");
    }
    out.push_str(
        "- latency: from a message's first byte written to its last byte echoed back\n\
         - every server: one accept loop, a 64 KiB buffer per connection, read once then write all back; \
         echo scenarios allocate the buffer when a connection is accepted, idle-10k uses lazy buffers \
         (none while idle: allocated when the socket is readable, dropped once the data is echoed)\n",
    );
    for note in &results.notes {
        let _ = writeln!(out, "- note: {note}");
    }
    out.push('\n');
    summary(&mut out, results);
    for baseline in BASELINES {
        head_to_head(&mut out, results, baseline);
    }
    for case in &results.cases {
        let _ = writeln!(out, "## {}\n", case.case.title());
        figures_table(&mut out, case);
        if matches!(case.case.workload, Workload::Idle { .. }) {
            out.push_str(IDLE_NOTE);
        }
        ratios_table(&mut out, case);
    }
    out
}

/// One table, servers by cases: the steadiest figure of each case (server CPU per message,
/// or memory per idle connection), and msg/s.
fn summary(out: &mut String, results: &Results) {
    out.push_str("## Summary\n\n");
    out.push_str(
        "Server CPU µs per message (lower is better) and msg/s, medians; for idle, server RSS \
         bytes per idle connection (lazy buffers).\n\n",
    );
    let servers = servers(results);
    out.push_str("| server |");
    for case in &results.cases {
        let _ = write!(out, " {} |", case.case.title());
    }
    out.push_str("\n|---|");
    out.push_str(&"--:|".repeat(results.cases.len()));
    out.push('\n');
    for kind in servers {
        let _ = write!(out, "| {kind} |");
        for case in &results.cases {
            let cell = match case.outcome(kind) {
                None => "".to_owned(),
                Some(Outcome::Measured(_)) => {
                    let median = |figure| {
                        case.outcome(kind)
                            .and_then(|outcome| outcome.spread(figure))
                            .map_or("–".to_owned(), |spread: Spread| figure.format(spread.median))
                    };
                    if case.figures().contains(&Figure::CpuPerMessage) {
                        format!(
                            "{} · {}",
                            median(Figure::CpuPerMessage),
                            median(Figure::MessagesPerSecond)
                        )
                    } else {
                        median(Figure::RssPerConnection)
                    }
                }
                Some(outcome) => reason(outcome),
            };
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    out.push('\n');
}

/// The figures compared round by round in [`head_to_head`].
const HEAD_TO_HEAD: [Figure; 2] = [Figure::MessagesPerSecond, Figure::CpuPerMessage];

/// One table, servers by echo cases: each server's msg/s and CPU per message as the median
/// of its per-round ratios to `baseline`, with the rounds it was better in.
fn head_to_head(out: &mut String, results: &Results, baseline: ServerKind) {
    let cases: Vec<&CaseResult> = results
        .cases
        .iter()
        .filter(|case| case.figures().contains(&Figure::CpuPerMessage))
        .filter(|case| matches!(case.outcome(baseline), Some(Outcome::Measured(_))))
        .collect();
    if cases.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "## Round by round against {baseline}
"
    );
    let _ = writeln!(
        out,
        "Every round measures each server once, one after another, so the ratio of two servers \
         within a round cancels the machine's drift between rounds. Each cell: the median of the \
         per-round ratios to {baseline}, msg/s (above 1 is faster) · server CPU per message (below \
         1 is cheaper), each with the rounds in which the server was better.\n"
    );
    let titles: Vec<String> = cases.iter().map(|case| case.case.title()).collect();
    header(out, titles.iter().map(String::as_str));
    for kind in servers(results).into_iter().filter(|&kind| kind != baseline) {
        let _ = write!(out, "| {kind} |");
        for case in &cases {
            let cells: Vec<String> = HEAD_TO_HEAD
                .iter()
                .map(|&figure| {
                    let paired = case
                        .outcome(kind)
                        .and_then(|outcome| outcome.rounds(figure))
                        .and_then(|ours| {
                            let theirs = case.outcome(baseline)?.rounds(figure)?;
                            Paired::of(&ours, &theirs, figure.higher_is_better())
                        });
                    paired.map_or("–".to_owned(), |paired| {
                        format!("{:.2} ({}/{})", paired.median_ratio, paired.better, paired.rounds)
                    })
                })
                .collect();
            let cell = match case.outcome(kind) {
                None => String::new(),
                Some(Outcome::Measured(_)) => cells.join(" · "),
                Some(outcome) => reason(outcome),
            };
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    out.push('\n');
}

fn figures_table(out: &mut String, case: &CaseResult) {
    let figures = case.figures();
    header(out, figures.iter().map(|figure| figure.heading()));
    for (kind, outcome) in &case.rows {
        let _ = write!(out, "| {kind} |");
        for &figure in figures {
            let cell = match outcome {
                Outcome::Measured(_) => outcome.spread(figure).map_or("–".to_owned(), |spread| {
                    if spread.min == spread.max {
                        figure.format(spread.median)
                    } else {
                        format!(
                            "{} ({}–{})",
                            figure.format(spread.median),
                            figure.format(spread.min),
                            figure.format(spread.max)
                        )
                    }
                }),
                _ => reason(outcome),
            };
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    out.push('\n');
}

fn ratios_table(out: &mut String, case: &CaseResult) {
    let figures: Vec<Figure> = case.figures().iter().copied().filter(|f| f.has_ratio()).collect();
    let baselines: Vec<ServerKind> =
        BASELINES.into_iter().filter(|&kind| case.outcome(kind).is_some()).collect();
    if baselines.is_empty() {
        return;
    }
    let names: Vec<&str> = baselines.iter().map(|kind| kind.name()).collect();
    let _ = writeln!(
        out,
        "Ratios of the medians, ÷ {} (msg/s: above 1 is faster; latency, CPU and memory: above 1 \
         is more):\n",
        names.join(" / ÷ ")
    );
    header(out, figures.iter().map(|figure| figure.ratio_heading()));
    for (kind, outcome) in &case.rows {
        let _ = write!(out, "| {kind} |");
        for &figure in &figures {
            let cell = match outcome.spread(figure) {
                Some(spread) => baselines
                    .iter()
                    .map(|&baseline| {
                        case.outcome(baseline)
                            .and_then(|outcome| outcome.spread(figure))
                            .filter(|base| base.median > 0.0)
                            .map_or("–".to_owned(), |base| {
                                format!("{:.2}", spread.median / base.median)
                            })
                    })
                    .collect::<Vec<_>>()
                    .join(" / "),
                None => "–".to_owned(),
            };
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    out.push('\n');
}

fn header<'a>(out: &mut String, headings: impl Iterator<Item = &'a str>) {
    let mut rule = String::from("|---|");
    out.push_str("| server |");
    for heading in headings {
        let _ = write!(out, " {heading} |");
        rule.push_str("--:|");
    }
    out.push('\n');
    out.push_str(&rule);
    out.push('\n');
}

/// The cell text of a server that has no figures.
fn reason(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Measured(_) => "–".to_owned(),
        Outcome::NotApplicable(reason) => reason.clone(),
        Outcome::Failed(reason) => format!("failed: {}", reason.replace('|', "/")),
    }
}

/// Every server that appears in any case, in report order.
fn servers(results: &Results) -> Vec<ServerKind> {
    let mut kinds: Vec<ServerKind> =
        results.cases.iter().flat_map(|case| case.rows.iter().map(|(kind, _)| *kind)).collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::load::EchoResult;
    use crate::machine::Machine;
    use crate::results::Measurement;
    use crate::scenario;

    fn echo(messages: u64, cpu_micros: u64) -> Measurement {
        Measurement::from_echo(&EchoResult {
            messages,
            bytes: messages * 64,
            elapsed: Duration::from_secs(1),
            latencies: vec![100_000],
            server_cpu: Some(Duration::from_micros(cpu_micros)),
        })
        .unwrap()
    }

    #[test]
    fn round_by_round_ratios_pair_the_same_round() {
        let case = scenario::cases("pingpong-64", 10).unwrap()[1];
        // Round two runs on a machine twice as slow: plexio stays 10 % ahead in msg/s and
        // spends the same CPU per message as tokio in each round.
        let plexio = vec![echo(110, 1_100_000), echo(55, 550_000)];
        let tokio = vec![echo(100, 1_000_000), echo(50, 500_000)];
        let results = Results {
            machine: Machine {
                cpu: "test".to_owned(),
                cores: 2,
                kernel: "test".to_owned(),
                date: "2026-12-01".to_owned(),
            },
            settings: Vec::new(),
            cases: vec![CaseResult {
                case,
                rows: vec![
                    (ServerKind::PlexioMio, Outcome::Measured(plexio)),
                    (ServerKind::TokioCt, Outcome::Measured(tokio)),
                    (ServerKind::Smol, Outcome::Failed("refused".to_owned())),
                ],
            }],
            notes: Vec::new(),
        };
        let markdown = markdown(&results);
        assert!(markdown.contains("## Round by round against tokio-ct"), "{markdown}");
        assert!(!markdown.contains("  "), "stray spaces in the prose: {markdown}");
        assert!(markdown.contains("| plexio-mio | 1.10 (2/2) · 1.00 (0/2) |"), "{markdown}");
        assert!(markdown.contains("| smol | failed: refused |"), "{markdown}");
        // No raw-epoll rounds: no table against it.
        assert!(!markdown.contains("Round by round against raw-epoll"), "{markdown}");
    }
}
