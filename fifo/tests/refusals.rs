//! A regular file or a symbolic link at the FIFO's path is refused with a clear error by both
//! the writer and the reader, and left exactly as it was: never followed, written or deleted.

#![forbid(unsafe_code)]

mod common;

use std::os::unix::fs::{FileTypeExt, symlink};

use common::{example, fifo_in};
use nix::sys::stat::Mode;
use testkit::{TempDir, run};

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
        // The trap that a `stat` instead of `lstat` would fall into: a link to a real FIFO.
        let other_fifo = dir.path().join("other_fifo");
        nix::unistd::mkfifo(&other_fifo, Mode::S_IRUSR | Mode::S_IWUSR).unwrap();
        let to_fifo = dir.path().join("to_fifo");
        symlink(&other_fifo, &to_fifo).unwrap();
        for link in [&path, &dangling, &to_fifo] {
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
            std::fs::symlink_metadata(&other_fifo)
                .unwrap()
                .file_type()
                .is_fifo()
        );
        assert!(
            !dir.path().join("nowhere").exists(),
            "followed the dangling link"
        );
    }
}
