//! The scenarios: what the load generator asks of each server.

/// What one measurement does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// `connections` connections each send `message_size`-byte messages, keep at most
    /// `in_flight` of them unanswered, and check every echoed byte.
    Echo {
        /// How many connections.
        connections: usize,
        /// The size of each message.
        message_size: usize,
        /// How many messages a connection keeps unanswered at most (1: ping-pong).
        in_flight: usize,
    },
    /// `connections` connections each make one 64-byte round trip, then stay idle while the
    /// server's memory is read.
    Idle {
        /// How many connections.
        connections: usize,
    },
}

/// One measured case of a scenario (a scenario may have several, one per connection count).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Case {
    /// The scenario's name, as `--scenario` takes it.
    pub scenario: &'static str,
    /// What it does.
    pub workload: Workload,
}

impl Case {
    /// How many connections the case opens.
    pub fn connections(&self) -> usize {
        match self.workload {
            Workload::Echo { connections, .. } | Workload::Idle { connections } => connections,
        }
    }

    /// A heading such as `pingpong-64, 50 connections`.
    pub fn title(&self) -> String {
        let connections = self.connections();
        let plural = if connections == 1 { "" } else { "s" };
        format!("{}, {connections} connection{plural}", self.scenario)
    }

    /// The same case with at most `limit` connections.
    #[must_use]
    pub fn with_connections_at_most(mut self, limit: usize) -> Case {
        match &mut self.workload {
            Workload::Echo { connections, .. } | Workload::Idle { connections } => {
                *connections = (*connections).min(limit);
            }
        }
        self
    }
}

/// The scenario names `--scenario` accepts (and `all`).
pub const NAMES: [&str; 4] = ["pingpong-64", "pingpong-4k", "stream-64k", "idle-10k"];

/// The cases of scenario `name` (`all`: every scenario); `None` for an unknown name.
///
/// `idle_connections` is the connection count of `idle-10k` (10,000, fewer in quick mode).
pub fn cases(name: &str, idle_connections: usize) -> Option<Vec<Case>> {
    let echo = |scenario, connections, message_size, in_flight| Case {
        scenario,
        workload: Workload::Echo { connections, message_size, in_flight },
    };
    Some(match name {
        "all" => NAMES.iter().flat_map(|name| cases(name, idle_connections).unwrap()).collect(),
        "pingpong-64" => [1, 50, 500].map(|n| echo("pingpong-64", n, 64, 1)).to_vec(),
        // Not in `NAMES`, so not in `all`: pingpong-64's 50-connection case alone, for the
        // diagnostics, which run the first echo case they are given.
        "pingpong-64x50" => vec![echo("pingpong-64", 50, 64, 1)],
        // The same for the 500-connection case.
        "pingpong-64x500" => vec![echo("pingpong-64", 500, 64, 1)],
        "pingpong-4k" => vec![echo("pingpong-4k", 50, 4096, 1)],
        // Two 64 KiB chunks in flight per connection: one being echoed, one queued behind it.
        "stream-64k" => vec![echo("stream-64k", 10, 64 * 1024, 2)],
        "idle-10k" => vec![Case {
            scenario: "idle-10k",
            workload: Workload::Idle { connections: idle_connections },
        }],
        _ => return None,
    })
}
