//! # bare_writer: a FIFO's writer with nothing but the system calls
//!
//! The whole writing side of a named pipe in a few lines: `mkfifo` (an `EEXIST` means the
//! reader made it first: fine), `open` for writing, which blocks until a reader opens the FIFO,
//! one `write` per line, and `close`. The reader, `bare_reader`, removes the FIFO.
//!
//! Run: `cargo run -p fifo --bin bare_writer`, and `cargo run -p fifo --bin bare_reader` in
//! another terminal (either first). Both take the FIFO's path as an optional argument (default
//! `./bare_fifo`).
//!
//! It has no signal handling: Ctrl-C kills it at once, and a FIFO it made stays behind. The
//! full `writer` stops cleanly and removes what it made; that difference is the lesson.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::stat::Mode;
use nix::unistd::{mkfifo, write};
use support::cli::{Failure, parse_args, run};

/// mkfifo, open and write, with nothing around them: three lines to bare_reader.
#[derive(clap::Parser)]
#[command(version)]
struct Args {
    /// The FIFO's path; bare_writer and bare_reader must be given the same one.
    #[arg(default_value = "./bare_fifo")]
    path: String,
}

// ANCHOR: bare
fn bare(path: &str) -> Result<ExitCode, Failure> {
    // mkfifo(3): a file of type p, read and write for the owner. EEXIST: the reader made it.
    match mkfifo(path, Mode::S_IRUSR | Mode::S_IWUSR) {
        Ok(()) => println!("bare_writer: made the FIFO {path}"),
        Err(Errno::EEXIST) => println!("bare_writer: {path} exists already; using it"),
        Err(err) => return Err(err.into()),
    }
    println!("bare_writer: open({path}, O_WRONLY) waits here until a reader opens it");
    let fd = open(path, OFlag::O_WRONLY, Mode::empty())?;
    println!("bare_writer: a reader has opened it");
    for line in ["hello\n", "through a\n", "named pipe\n"] {
        // write(2): up to PIPE_BUF bytes go into the pipe whole, or (if it is full) it waits.
        write(&fd, line.as_bytes())?;
        print!("bare_writer: wrote {line}");
    }
    drop(fd); // close(2): with no writer left, the reader's read() returns 0 (end of file)
    println!("bare_writer: closed it; the reader removes {path}");
    Ok(ExitCode::SUCCESS)
}
// ANCHOR_END: bare

fn main() -> ExitCode {
    let Args { path } = parse_args(); // a path, or ./bare_fifo
    run(|| bare(&path)) // an error: one line, exit 1; a closed terminal: 129 (128 + SIGHUP)
}
