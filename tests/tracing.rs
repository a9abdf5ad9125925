//! The `tracing` feature: a runtime says which backend it chose and why, and its sockets'
//! registrations, errors and turns are events, seen here through a small subscriber that
//! records every event of the thread it is set on.

#![cfg(feature = "tracing")]

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use plexio::Runtime;
use plexio::net::{TcpListener, TcpStream, UdpSocket};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// One event as recorded: its target, level and fields (the message under `message`).
#[derive(Debug, Clone)]
struct Recorded {
    target: String,
    level: tracing::Level,
    fields: BTreeMap<String, String>,
}

impl Recorded {
    fn message(&self) -> &str {
        self.fields.get("message").map_or("", String::as_str)
    }
}

/// Records every event; spans are accepted and ignored (plexio emits none).
#[derive(Clone, Default)]
struct Recorder {
    events: Arc<Mutex<Vec<Recorded>>>,
}

impl Recorder {
    fn events(&self) -> Vec<Recorded> {
        self.events.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn with<T>(&self, scope: impl FnOnce() -> T) -> T {
        tracing::subscriber::with_default(self.clone(), scope)
    }
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let metadata = event.metadata();
        let recorded =
            Recorded { target: metadata.target().to_owned(), level: *metadata.level(), fields };
        self.events.lock().unwrap_or_else(PoisonError::into_inner).push(recorded);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

fn chosen(events: &[Recorded]) -> Vec<&Recorded> {
    events.iter().filter(|event| event.message() == "backend chosen").collect()
}

#[test]
fn each_backend_asked_for_is_reported_chosen_with_its_name() {
    for name in plexio::backends() {
        let recorder = Recorder::default();
        let runtime = recorder.with(|| Runtime::builder().backend(name).build()).unwrap();
        assert_eq!(runtime.backend_name(), name);
        let events = recorder.events();
        let chosen = chosen(&events);
        assert_eq!(chosen.len(), 1, "{events:?}");
        assert_eq!(chosen[0].fields["backend"], name);
        assert_eq!(chosen[0].fields["how"], "Named");
        assert_eq!(chosen[0].target, "plexio");
        assert_eq!(chosen[0].level, tracing::Level::INFO);
    }
}

#[test]
fn the_automatic_choice_says_it_took_the_most_preferred_and_what_it_passed_over() {
    // `PLEXIO_BACKEND` would make the choice a named one; the test sets none.
    if std::env::var_os(plexio::BACKEND_ENV).is_some() {
        eprintln!("PLEXIO_BACKEND is set: the automatic choice is not exercised");
        return;
    }
    let recorder = Recorder::default();
    let runtime = recorder.with(Runtime::new).unwrap();
    let events = recorder.events();
    let chosen = chosen(&events);
    assert_eq!(chosen.len(), 1, "{events:?}");
    assert_eq!(chosen[0].fields["backend"], runtime.backend_name());
    assert_eq!(chosen[0].fields["how"], "Preferred");
    // Every more preferred backend not taken is named with the reason.
    let known = ["uring", "mio", "polling", "poll", "select"];
    for skipped in known.iter().take_while(|name| **name != runtime.backend_name()) {
        let passed_over = events.iter().find(|event| {
            event.message() == "backend passed over" && event.fields["backend"] == *skipped
        });
        let passed_over = passed_over.unwrap_or_else(|| panic!("{skipped}: {events:?}"));
        assert!(!passed_over.fields["reason"].is_empty());
    }
}

#[test]
fn a_refused_backend_is_reported_with_the_error() {
    let recorder = Recorder::default();
    let error = recorder.with(|| Runtime::builder().backend("kqueue-of-mars").build());
    assert!(error.is_err());
    let events = recorder.events();
    let refused = events.iter().find(|event| event.message() == "backend refused");
    let refused = refused.unwrap_or_else(|| panic!("{events:?}"));
    assert!(refused.fields["error"].contains("kqueue-of-mars"), "{refused:?}");
}

#[test]
fn registrations_errors_and_turns_are_events() {
    for name in plexio::backends() {
        let recorder = Recorder::default();
        recorder.with(|| {
            let runtime = Runtime::builder().backend(name).build().unwrap();
            runtime
                .block_on(async {
                    let socket = UdpSocket::bind("127.0.0.1:0").await?;
                    drop(socket);
                    let closed = TcpListener::bind("127.0.0.1:0").await?.local_addr()?;
                    let refused = TcpStream::connect(closed).await.unwrap_err();
                    assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
                    plexio::time::sleep(std::time::Duration::from_millis(1)).await;
                    Ok::<_, io::Error>(())
                })
                .unwrap();
        });
        let events = recorder.events();
        let count = |message: &str| events.iter().filter(|e| e.message() == message).count();
        assert!(count("registered") >= 3, "{name}: {events:?}");
        assert!(count("deregistered") >= 3, "{name}: {events:?}");
        assert!(count("turn: waited") >= 1, "{name}: {events:?}");
        assert!(count("turn: running tasks") >= 1, "{name}: {events:?}");
        let failed = events.iter().find(|e| e.message() == "connect failed");
        let failed = failed.unwrap_or_else(|| panic!("{name}: {events:?}"));
        assert_eq!(failed.level, tracing::Level::DEBUG);
        assert_eq!(failed.fields["kind"], "ConnectionRefused", "{name}");
    }
}
