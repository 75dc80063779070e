//! `pipeline`: the hand-built `ls | wc -l` prints what the shell prints, reports both stages,
//! and fails clearly on a command that does not exist.

#![forbid(unsafe_code)]

use std::process::Command;

use testkit::{TempDir, run};

fn pipeline(dir: &TempDir, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pipeline"));
    command.args(args).current_dir(dir.path());
    command
}

fn shell(dir: &TempDir, script: &str) -> String {
    let output = Command::new("sh")
        .args(["-c", script])
        .current_dir(dir.path())
        .output();
    String::from_utf8(output.expect("run sh").stdout).expect("utf-8")
}

fn dir_with_files(count: usize) -> TempDir {
    let dir = TempDir::new("pipeline");
    for n in 0..count {
        std::fs::write(dir.path().join(format!("file-{n}")), "x").expect("write a file");
    }
    dir
}

#[test]
fn the_output_equals_what_the_shell_prints() {
    let dir = dir_with_files(7);
    let done = run(pipeline(&dir, &["--quiet"]), "");
    assert!(done.status.success(), "{done:?}");
    assert_eq!(done.stdout, shell(&dir, "ls | wc -l"));
    assert_eq!(done.stdout.trim(), "7");
}

#[test]
fn other_commands_with_arguments_work_too() {
    let dir = dir_with_files(3);
    let done = run(pipeline(&dir, &["--quiet", "ls -l", "grep -c file"]), "");
    assert!(done.status.success(), "{done:?}");
    assert_eq!(done.stdout, shell(&dir, "ls -l | grep -c file"));
}

#[test]
fn both_stages_are_reported() {
    let dir = dir_with_files(2);
    let done = run(pipeline(&dir, &[]), "");
    assert!(done.status.success(), "{done:?}");
    assert!(done.stdout.contains("running `ls | wc -l`"));
    assert!(
        done.stdout
            .lines()
            .any(|l| l.starts_with("pipeline: `ls` (pid") && l.ends_with("exited with status 0"))
    );
    assert!(done.stdout.lines().any(|l| l.starts_with("pipeline: `wc -l` (pid") && l.ends_with("exited with status 0")));
}

#[test]
fn a_command_that_does_not_exist_is_one_clear_line_and_a_failure() {
    let dir = dir_with_files(1);
    let done = run(pipeline(&dir, &["no-such-command-here", "wc -l"]), "");
    assert_eq!(done.status.code(), Some(1), "{done:?}");
    assert_eq!(
        done.stderr.trim_end(),
        "pipeline: cannot run `no-such-command-here`: ENOENT: No such file or directory"
    );
    assert!(
        done.stdout
            .contains("exited with status 127: the command was not found")
    );
    assert!(!done.stderr.contains("panicked"));
}

#[test]
fn an_empty_command_is_refused() {
    let dir = dir_with_files(0);
    let done = run(pipeline(&dir, &["   ", "wc"]), "");
    assert_eq!(done.status.code(), Some(1));
    assert_eq!(
        done.stderr.trim_end(),
        "pipeline: the first command is empty"
    );
}

#[test]
fn a_producer_stops_by_sigpipe_when_its_consumer_is_done_as_under_a_shell() {
    // `yes` never ends on its own: only SIGPIPE, once `head` has exited, stops it. The stage
    // must get SIGPIPE's default action back before exec, since Rust ignores it.
    let dir = dir_with_files(0);
    let done = run(pipeline(&dir, &["yes", "head -1"]), "");
    assert!(done.status.success(), "{done:?}");
    assert!(done.stdout.lines().any(|l| l == "y"), "{}", done.stdout);
    assert!(
        done.stdout.contains("`yes` (pid")
            && done.stdout.contains("was killed by signal 13 (SIGPIPE)"),
        "{}",
        done.stdout
    );
    assert!(done.stderr.is_empty(), "{}", done.stderr);
}

#[test]
fn a_producer_whose_reader_was_never_found_is_not_called_a_normal_end() {
    let dir = dir_with_files(0);
    let done = run(pipeline(&dir, &["yes", "no-such-command-here"]), "");
    assert_eq!(done.status.code(), Some(1), "{done:?}");
    assert!(
        done.stdout
            .contains("was killed by signal 13 (SIGPIPE): its reader had ended"),
        "{}",
        done.stdout
    );
    assert!(!done.stdout.contains("normal end"), "{}", done.stdout);
    assert!(
        done.stdout
            .contains("exited with status 127: the command was not found"),
        "{}",
        done.stdout
    );
}

#[test]
fn a_command_that_cannot_be_executed_exits_126() {
    let dir = dir_with_files(1);
    let done = run(pipeline(&dir, &["./file-0", "wc -l"]), "");
    assert_eq!(done.status.code(), Some(1), "{done:?}");
    assert!(
        done.stderr
            .starts_with("pipeline: cannot run `./file-0`: EACCES"),
        "{}",
        done.stderr
    );
    assert!(
        done.stdout
            .contains("exited with status 126: the command could not be run")
    );
}
