//! # lab_fifo_server: the fifo lab's sequence-number server
//!
//! Makes the well-known FIFO `<dir>/seqnum` (mode 0600), reads requests from it, and answers
//! each client with the next number (1, 2, 3, ...) through the client's own reply FIFO
//! `<dir>/reply.<pid>`. A client that is gone before its answer is skipped, and the server goes
//! on. The work is in `fifo::lab` (`Server::start`, `serve`, `Server::answer`): the lab.
//!
//! Signals: stops cleanly on Ctrl-C, SIGTERM, SIGHUP (`Stop::install`), even while it waits in
//! `read`, and removes the FIFO it made.
//!
//! Run: `cargo run -p fifo --bin lab_fifo_server`, then `cargo run -p fifo --bin
//! lab_fifo_client` in another terminal, as many times as you like.

#![forbid(unsafe_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use fifo::lab::{Answer, Server, serve};
use support::cli::{parse_args, run};
use support::stop::{Stop, finish};

/// Hands out sequence numbers: requests on `<dir>/seqnum`, answers on `<dir>/reply.<pid>`.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The directory of the server's FIFO and of the clients' reply FIFOs.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        let mut server = Server::start(&args.dir)?;
        let shown = server.path().display().to_string();
        println!("server: ready: reading requests from {shown} (Ctrl-C quits)");
        let outcome = serve(&mut server, &stop, |answer| match answer {
            Answer::Sent { pid, number } => println!("server: gave {number} to pid {pid}"),
            Answer::Skipped { request, why } => {
                println!("server: skipped request {request:?}: {why}")
            }
        });
        let status = finish(outcome.map(|()| ExitCode::SUCCESS));
        if let Some(removal) = server.finish() {
            let _ = writeln!(std::io::stdout(), "server: {removal}");
        }
        status
    })
}
