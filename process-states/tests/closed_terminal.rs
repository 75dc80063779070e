//! A closed terminal is a stop: every process-states example, started on a terminal whose
//! window is already closed, meets EIO at its first print and exits as SIGHUP makes it exit,
//! 129, with none of its children left, though no SIGHUP comes.

#![forbid(unsafe_code)]

use testkit::assert_each_stops_on_a_closed_terminal;

#[test]
fn every_process_states_example_on_a_closed_terminal_stops_as_on_sighup() {
    assert_each_stops_on_a_closed_terminal(
        "states-closed-terminal",
        &[
            (env!("CARGO_BIN_EXE_bare_fork"), &[]),
            (env!("CARGO_BIN_EXE_states"), &[]),
            (env!("CARGO_BIN_EXE_timeslice"), &[]),
            (env!("CARGO_BIN_EXE_orphan_zombie"), &[]),
        ],
    );
}
