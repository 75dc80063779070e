//! The live view's frame, drawn by ratatui into a `TestBackend` (a grid of cells in memory)
//! from a real snapshot: `recv` blocked on its empty queue. Its row must carry the marker and
//! the colour of a process blocked on this very object.

#![forbid(unsafe_code)]

mod common;

use std::time::Duration;

use common::example;
use ipcview::live::{View, draw};
use ipcview::{Filter, Options, Users, snapshot, view};
use nix::sys::signal::Signal;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use testkit::{Queues, Running, TestKey, stop_with, wait_until_blocked_in};

#[test]
fn the_row_of_a_process_blocked_on_the_queue_is_marked_and_red() {
    let key = TestKey::<Queues>::new("iv-tui");
    let mut recv = Running::spawn(key.command(&example("recv"), &[]));
    recv.expect_line("waiting for messages");
    wait_until_blocked_in(recv.pid(), libc::SYS_msgrcv);
    let pid = recv.pid().as_raw();
    let options = Options {
        filters: vec![Filter::Msg],
        users: Users::One(nix::unistd::geteuid().as_raw()),
        pids: vec![pid],
    };
    let shown = snapshot::take(&options);
    let view = View {
        interval: Duration::from_millis(250),
        ..View::default()
    };
    let mut terminal = Terminal::new(TestBackend::new(110, 8)).expect("a test terminal");
    terminal
        .draw(|frame| draw(frame, &shown, &view))
        .expect("draw");
    let buffer = terminal.backend().buffer().clone();
    let rows: Vec<String> = (0..buffer.area.height)
        .map(|y| {
            (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol())
                .collect()
        })
        .collect();
    assert!(
        rows[0].contains("1 object, 1 process (1 blocked)"),
        "{rows:#?}"
    );
    let y = rows
        .iter()
        .position(|row| row.contains(&format!("{pid}")) && row.contains("msgrcv"))
        .unwrap_or_else(|| panic!("no row for recv: {rows:#?}"));
    let row = &rows[y];
    assert!(
        row.starts_with(&format!("  {} {pid}", view::BLOCKED_MARKER)),
        "the blocked row starts with the marker: {row:?}"
    );
    assert!(row.contains("waiting: a message of any type"), "{row:?}");
    let marker = &buffer[(2, y as u16)];
    assert_eq!(marker.fg, Color::Red, "blocked on this queue: red");
    assert!(marker.modifier.contains(ratatui::style::Modifier::BOLD));
    stop_with(recv, Signal::SIGTERM);
    assert!(key.ids().is_empty());
}
