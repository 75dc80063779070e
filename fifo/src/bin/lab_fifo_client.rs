//! # lab_fifo_client: asks the fifo lab's server for a number
//!
//! Makes its reply FIFO `<dir>/reply.<pid>`, opens it for reading, sends its pid to the server's
//! FIFO `<dir>/seqnum` as one record, then prints the number that comes back, and removes its
//! reply FIFO. The work is in `fifo::lab` (`Client::send_request`, `Client::read_reply`): the
//! lab.
//!
//! Signals: stops cleanly on Ctrl-C, SIGTERM, SIGHUP (`Stop::install`), even while it waits for
//! the server, and removes its reply FIFO.
//!
//! Run: `cargo run -p fifo --bin lab_fifo_client` while `lab_fifo_server` runs.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use fifo::lab::Client;
use nix::unistd::getpid;
use support::cli::{parse_args, run};
use support::stop::{Stop, Stopped, finish};

/// Asks the server in `<dir>` for the next number and prints it.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The directory of the server's FIFO (and of this client's reply FIFO).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        let stop = Stop::install()?;
        let pid = getpid();
        let exchange = || -> Result<ExitCode, Stopped> {
            let client = Client::send_request(&args.dir, &stop)?;
            let reply = client.reply_path().display().to_string();
            println!("client {pid}: sent my request; waiting for my number on {reply}");
            let number = client.read_reply(&stop)?;
            println!("client {pid}: my number is {number}");
            Ok(ExitCode::SUCCESS)
        };
        finish(exchange())
    })
}
