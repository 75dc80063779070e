//! ipcview's command line: `--help` only prints, bad input is one line and a non-zero status,
//! and the live view refuses to start without a terminal rather than fill a pipe with escape
//! codes.

#![forbid(unsafe_code)]

mod common;

use std::process::Command;

use common::IPCVIEW;
use testkit::{assert_help_only, assert_refused_out_of_range, run};

fn ipcview(args: &[&str]) -> testkit::Finished {
    let mut command = Command::new(IPCVIEW);
    command.args(args);
    run(command, "")
}

#[test]
fn help_only_prints_its_help() {
    assert_help_only(IPCVIEW);
}

#[test]
fn an_unknown_user_is_one_line_and_status_1() {
    let finished = ipcview(&["--once", "--user", "no-such-user-here"]);
    assert_eq!(finished.status.code(), Some(1), "{finished:?}");
    assert_eq!(
        finished.stderr,
        "ipcview: --user no-such-user-here: no such user\n"
    );
    assert!(finished.stdout.is_empty());
}

#[test]
fn a_bad_kind_or_interval_is_refused_as_a_usage_error() {
    let finished = ipcview(&["--once", "--filter", "queues"]);
    assert_eq!(finished.status.code(), Some(2), "{finished:?}");
    assert!(
        finished.stderr.contains("msg, sem, shm, pipe, fifo, posix"),
        "{finished:?}"
    );
    let mut command = Command::new(IPCVIEW);
    command.args(["--interval-ms", "10"]);
    assert_refused_out_of_range(command, "--interval-ms");
}

#[test]
fn the_live_view_without_a_terminal_says_what_to_use_instead() {
    let finished = ipcview(&["--filter", "msg"]);
    assert_eq!(finished.status.code(), Some(1), "{finished:?}");
    assert!(
        finished.stderr.contains("needs a terminal") && finished.stderr.contains("--once"),
        "{finished:?}"
    );
    assert!(finished.stdout.is_empty(), "no escape codes into a pipe");
}

#[test]
fn once_and_json_agree_on_what_they_show() {
    let text = ipcview(&["--once", "--filter", "sem", "--pid", "1"]);
    assert!(text.status.success(), "{text:?}");
    assert!(text.stdout.starts_with("ipcview: user "), "{text:?}");
    let shown = common::json(&["--filter", "sem", "--pid", "1"]);
    for field in ["user", "objects", "notes"] {
        assert!(shown.get(field).is_some(), "no {field}: {shown:#}");
    }
}

#[test]
fn another_user_s_view_leaves_out_your_objects() {
    let key = testkit::TestKey::<testkit::Queues>::new("iv-user");
    let mut recv = testkit::Running::spawn(key.command(&common::example("recv"), &[]));
    recv.expect_line("waiting for messages");
    let id = key.ids()[0];
    let mine = common::json(&["--filter", "msg"]);
    assert!(
        common::by_id(&mine, "msg", id).is_some(),
        "yours by default: {mine:#}"
    );
    assert_eq!(mine["user"], common::me().as_str());
    let everyone = common::json(&["--filter", "msg", "--all-users"]);
    assert!(common::by_id(&everyone, "msg", id).is_some());
    assert_eq!(everyone["user"], serde_json::Value::Null);
    if common::me() != "nobody" {
        let theirs = common::json(&["--filter", "msg", "--user", "nobody"]);
        assert!(common::by_id(&theirs, "msg", id).is_none(), "{theirs:#}");
        assert_eq!(theirs["user"], "nobody");
    }
    testkit::stop_with(recv, nix::sys::signal::Signal::SIGTERM);
}
