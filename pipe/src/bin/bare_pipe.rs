//! # bare_pipe: pipe, fork, write, read, waitpid, and nothing else
//!
//! The whole mechanism of the pipe examples on one screen. The parent creates a pipe and forks;
//! it writes one line into the write end and closes it. The child closes its copy of the write
//! end, reads until end of file (`read` returns 0) and prints what it got. The parent waits for
//! the child with `waitpid` and says how it ended. Each system call appears by name and each
//! error ends the program with `?`; the full examples (`parent_child`, `sigpipe`, `duplex`,
//! `pipeline`) add what a real program needs: stop signals, many messages, lines cut out of
//! the byte stream.
//!
//! Run: `cargo run -p pipe --bin bare_pipe`. It takes no arguments and leaves nothing behind.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use nix::unistd::{pipe, read, write};
use support::cli::{Failure, parse_args, run};
use support::{Forked, describe, exit_child, fork};

/// One pipe between a parent and its child: pipe, fork, write, close, read until end of file, waitpid.
#[derive(clap::Parser)]
#[command(version)]
struct Args {}

// ANCHOR: bare
fn bare() -> Result<ExitCode, Failure> {
    let (read_end, write_end) = pipe()?; // pipe(2): one buffer in the kernel, two descriptors
    // fork(2): from here on, two processes run this code, each with its copy of both ends
    match fork()? {
        Forked::Child => {
            drop(write_end); // close(2): else end of file never comes
            let mut got = Vec::new();
            let mut buffer = [0u8; 64];
            loop {
                match read(&read_end, &mut buffer) {
                    Ok(0) => break, // read(2) returns 0: end of file
                    Ok(count) => got.extend_from_slice(&buffer[..count]),
                    Err(errno) => {
                        eprintln!("child:  read: {errno}");
                        exit_child(1)
                    }
                }
            }
            let text = String::from_utf8_lossy(&got);
            println!("child:  read {text:?}, then end of file");
            exit_child(0) // _exit(2): never return into the parent's main
        }
        Forked::Parent(mut child) => {
            drop(read_end); // close(2): the parent only writes
            println!("parent: writing one line into the pipe, then closing my write end");
            write(&write_end, b"hello through the pipe\n")?; // write(2)
            drop(write_end); // close(2): the last write end, so the child sees end of file
            let status = child.waitpid_with(None)?; // waitpid(2): wait for it, and reap it
            println!("parent: child {} {}", child.pid(), describe(&status));
            Ok(ExitCode::SUCCESS)
        }
    }
}
// ANCHOR_END: bare

fn main() -> ExitCode {
    let _: Args = parse_args(); // --help and --version; no other argument
    run(bare) // an error: one line, exit 1; a closed terminal: 129 (128 + SIGHUP)
}
