//! A closed terminal is a stop: every semaphore example, started on a terminal whose window is
//! already closed, meets EIO at its first print and exits as SIGHUP makes it exit, 129, with
//! its set removed and no child left, though no SIGHUP comes.

#![forbid(unsafe_code)]

mod common;

use common::{TestKey, set_ids};
use testkit::assert_each_stops_on_a_closed_terminal;

#[test]
fn every_semaphore_example_on_a_closed_terminal_stops_as_on_sighup() {
    let key = TestKey::new("sem-closed-terminal");
    let path = key.path.to_str().expect("a UTF-8 temp path");
    let before = set_ids(|object| object.key.is_private());
    assert_each_stops_on_a_closed_terminal(
        "sem-closed-terminal",
        &[
            (env!("CARGO_BIN_EXE_bare_sem"), &[]),
            (env!("CARGO_BIN_EXE_pv"), &[]),
            (env!("CARGO_BIN_EXE_sem_watch"), &["--key-path", path]),
            (env!("CARGO_BIN_EXE_mutex"), &[]),
            (env!("CARGO_BIN_EXE_order"), &[]),
            (env!("CARGO_BIN_EXE_undo"), &[]),
            (env!("CARGO_BIN_EXE_ctrl_z"), &[]),
        ],
    );
    // pv create leaves its set on purpose, for the others: only until the test key goes.
    assert_each_stops_on_a_closed_terminal(
        "sem-closed-terminal",
        &[(
            env!("CARGO_BIN_EXE_pv"),
            &["--key-path", path, "create", "--values", "1"],
        )],
    );
    let made = set_ids(|object| object.key.is_private() && !before.contains(&object.id));
    assert!(made.is_empty(), "private sets left: {made:?}");
}
