//! A closed terminal is a stop: every pipe example, started on a terminal whose window is
//! already closed, meets EIO at its first print and exits as SIGHUP makes it exit, 129, with
//! no process left, though no SIGHUP comes.

#![forbid(unsafe_code)]

use testkit::assert_each_stops_on_a_closed_terminal;

#[test]
fn every_pipe_example_on_a_closed_terminal_stops_as_on_sighup() {
    assert_each_stops_on_a_closed_terminal(
        "pipe-closed-terminal",
        &[
            (env!("CARGO_BIN_EXE_bare_pipe"), &[]),
            (env!("CARGO_BIN_EXE_parent_child"), &[]),
            (env!("CARGO_BIN_EXE_sigpipe"), &[]),
            (env!("CARGO_BIN_EXE_duplex"), &[]),
            (env!("CARGO_BIN_EXE_pipeline"), &[]),
        ],
    );
}
