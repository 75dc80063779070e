//! `vs_mmap` (the notes' comparison): the three kinds share bytes, share physical pages (as
//! root with CAP_SYS_ADMIN; otherwise the run says the frames are hidden), and nothing is left.

#![forbid(unsafe_code)]

mod common;

use common::segment_exists;
use testkit::{number_after, run};

const VS_MMAP: &str = env!("CARGO_BIN_EXE_vs_mmap");

/// Whether pagemap shows frame numbers to this process: CAP_SYS_ADMIN (bit 21) in CapEff.
fn frames_visible() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|bits| u64::from_str_radix(bits.trim(), 16).ok())
        .is_some_and(|bits| bits & (1 << 21) != 0)
}

#[test]
fn three_kinds_share_bytes_and_pages_and_nothing_is_left() {
    let finished = run(std::process::Command::new(VS_MMAP), "");
    assert!(finished.status.success(), "{finished:?}");
    let out = &finished.stdout;
    assert_eq!(out.matches(": the same bytes").count(), 3, "{out}");
    match frames_visible() {
        true => assert_eq!(out.matches(": the same physical page").count(), 3, "{out}"),
        false => assert_eq!(out.matches("frame numbers hidden").count(), 3, "{out}"),
    }
    assert_eq!(out.matches("what the child stored").count(), 3, "{out}");
    assert!(!out.contains("NOT") && !out.contains("STILL"), "{out}");

    let lines = finished.stdout_lines();
    let ids: Vec<i32> = lines
        .iter()
        .filter(|line| line.contains(" id="))
        .map(|line| number_after(line, "id="))
        .collect();
    assert_eq!(
        ids.len(),
        4,
        "the shared one and the left one, twice each: {out}"
    );
    for id in ids {
        assert!(!segment_exists(id), "segment id={id} is left");
    }
    let dir = lines
        .iter()
        .find_map(|line| line.strip_prefix("temp directory for the mapped files: "))
        .expect("the temp directory line");
    assert!(!std::path::Path::new(dir).exists(), "{dir} is left");
    let name = lines
        .iter()
        .find_map(|line| line.strip_prefix("named:    by a name: /"))
        .and_then(|rest| rest.split(',').next())
        .expect("the POSIX name line");
    assert!(name.starts_with("ipc-labs-vs-mmap-"), "{name}");
    let left: Vec<_> = std::fs::read_dir("/dev/shm")
        .expect("read /dev/shm")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_name().to_string_lossy().starts_with(name))
        .collect();
    assert!(left.is_empty(), "left in /dev/shm: {left:?}");
}

#[test]
fn help_says_what_it_compares() {
    let finished = {
        let mut command = std::process::Command::new(VS_MMAP);
        command.arg("--help");
        run(command, "")
    };
    assert!(finished.status.success(), "{finished:?}");
    assert!(finished.stdout.contains("shm_open"), "{finished:?}");
}
