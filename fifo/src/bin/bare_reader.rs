//! # bare_reader: a FIFO's reader with nothing but the system calls
//!
//! The whole reading side of a named pipe in a few lines: `mkfifo` (an `EEXIST` means the
//! writer made it first: fine), `open` for reading, which blocks until a writer opens the FIFO,
//! `read` until end of file, `close`, and `unlink`: the reader removes the FIFO, whoever made
//! it, once the writer is done.
//!
//! Run: `cargo run -p fifo --bin bare_reader`, and `cargo run -p fifo --bin bare_writer` in
//! another terminal (either first). Both take the FIFO's path as an optional argument (default
//! `./bare_fifo`).
//!
//! It has no signal handling: Ctrl-C kills it at once, and the FIFO stays behind. The full
//! `reader` stops cleanly and removes what it made; that difference is the lesson.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::stat::Mode;
use nix::unistd::{mkfifo, read, unlink};
use support::cli::{Failure, parse_args, run};

/// mkfifo, open and read until end of file, with nothing around them; then it removes the FIFO.
#[derive(clap::Parser)]
#[command(version)]
struct Args {
    /// The FIFO's path; bare_writer and bare_reader must be given the same one.
    #[arg(default_value = "./bare_fifo")]
    path: String,
}

// ANCHOR: bare
fn bare(path: &str) -> Result<ExitCode, Failure> {
    // mkfifo(3): a file of type p, read and write for the owner. EEXIST: the writer made it.
    match mkfifo(path, Mode::S_IRUSR | Mode::S_IWUSR) {
        Ok(()) => println!("bare_reader: made the FIFO {path}"),
        Err(Errno::EEXIST) => println!("bare_reader: {path} exists already; using it"),
        Err(err) => return Err(err.into()),
    }
    println!("bare_reader: open({path}, O_RDONLY) waits here until a writer opens it");
    let fd = open(path, OFlag::O_RDONLY, Mode::empty())?;
    let mut buffer = [0; 4096];
    loop {
        // read(2) waits while the pipe is empty; 0 means every writer has closed it.
        let count = read(&fd, &mut buffer)?;
        if count == 0 {
            break;
        }
        println!("bare_reader: read() returned {count} bytes:");
        print!("{}", String::from_utf8_lossy(&buffer[..count]));
    }
    drop(fd); // close(2)
    unlink(path)?; // unlink(2): the reader removes the name, whoever made the FIFO
    println!("bare_reader: end of file; removed {path} (the reader's job)");
    Ok(ExitCode::SUCCESS)
}
// ANCHOR_END: bare

fn main() -> ExitCode {
    let Args { path } = parse_args(); // a path, or ./bare_fifo
    run(|| bare(&path)) // an error: one line, exit 1; a closed terminal: 129 (128 + SIGHUP)
}
