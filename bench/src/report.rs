//! Renders the results as markdown: per case, a table of figures and a table of ratios to
//! the two baselines, then a one-table summary.

use std::fmt::Write;

use crate::results::{CaseResult, Figure, Outcome, Results};
use crate::scenario::Workload;
use crate::server::ServerKind;
use crate::stats::Spread;

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
