//! A regular file or a symbolic link at the FIFO's path is refused with a clear error by both
//! the writer and the reader, and left exactly as it was: never followed, written or deleted.

mod common;

use std::os::unix::fs::symlink;

use common::{example, fifo_in};
use support::testing::{TempDir, run};

const WRITER: &str = env!("CARGO_BIN_EXE_writer");
const READER: &str = env!("CARGO_BIN_EXE_reader");

#[test]
fn a_regular_file_at_the_path_is_refused_and_untouched() {
    for binary in [WRITER, READER] {
        let dir = TempDir::new("fifo-regular");
        let path = fifo_in(dir.path());
        std::fs::write(&path, "precious data\n").unwrap();
        let finished = run(example(binary, &path), "a line\n");
        assert_eq!(finished.status.code(), Some(1), "{finished:?}");
        assert!(
            finished.stderr.contains("refused: it is a regular file"),
            "{finished:?}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious data\n");
    }
}

#[test]
fn a_symlink_at_the_path_is_refused_and_neither_it_nor_its_target_is_touched() {
    for binary in [WRITER, READER] {
        let dir = TempDir::new("fifo-symlink");
        let path = fifo_in(dir.path());
        let target = dir.path().join("target");
        std::fs::write(&target, "precious data\n").unwrap();
        symlink(&target, &path).unwrap();
        let dangling = dir.path().join("dangling");
        symlink(dir.path().join("nowhere"), &dangling).unwrap();
        for link in [&path, &dangling] {
            let finished = run(example(binary, link), "a line\n");
            assert_eq!(finished.status.code(), Some(1), "{finished:?}");
            assert!(
                finished.stderr.contains("refused: it is a symbolic link"),
                "{finished:?}"
            );
            assert!(std::fs::symlink_metadata(link).unwrap().is_symlink());
        }
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious data\n");
        assert!(
            !dir.path().join("nowhere").exists(),
            "followed the dangling link"
        );
    }
}
