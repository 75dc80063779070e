//! # msg_ls: the message queues on this machine, like `ipcs -q`, explained
//!
//! Part of the port of section 3 of the course notes (`004_0b92104986517c26.txt`; System V message
//! queues): the notes' queues outlive their programs, so students need a way to see them. msg_ls
//! reads `/proc/sysvipc/msg` (the table `ipcs -q` prints) and shows each queue's key, id, owner,
//! mode, and how many messages and bytes wait in it, with a note where something deserves a look: a
//! queue others may write to, a private queue, the queue of the default key `ftok("./file", 'a')`.
//! Named msg_ls, not ls, so that target/debug on PATH does not hide coreutils.
//!
//! Signals: none handled; msg_ls never waits, so the default action (the end) is right.
//!
//! Run: `cargo run -p msgqueue --bin msg_ls`.

#![forbid(unsafe_code)]

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use msgqueue::{DEFAULT_KEY_PATH, DEFAULT_PROJ, Limits, NamedKey};
use support::cli::{parse_args, run};
use sysv::Kind;

/// Lists the System V message queues, with their message and byte counts.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Print only the table, without the notes and limits.
    #[arg(long)]
    quiet: bool,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    run(|| {
        // ANCHOR: list
        let queues = sysv::list(Kind::Msg)?;
        let default_key = NamedKey::ftok(Path::new(DEFAULT_KEY_PATH), DEFAULT_PROJ).ok();
        if !args.quiet {
            let limits = Limits::read()?;
            println!(
                "msg_ls: {} message queue(s) in /proc/sysvipc/msg; a message holds at most \
                 msgmax={} bytes, a new queue at most msgmnb={} bytes",
                queues.len(),
                limits.msgmax,
                limits.msgmnb
            );
        }
        if queues.is_empty() {
            return Ok(ExitCode::SUCCESS);
        }
        let rows = queues.iter().map(|queue| row(queue, default_key.as_ref()));
        for line in table(rows.collect()) {
            println!("{line}");
        }
        // ANCHOR_END: list
        if !args.quiet {
            println!("msg_ls: remove one with `msg_rm --id <id>`; its messages go with it");
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// A queue's cells: key, id, owner, mode, messages, bytes, and a note where something deserves
/// a look.
fn row(queue: &sysv::Object, default_key: Option<&NamedKey>) -> [String; 7] {
    let note = match default_key {
        Some(named) if named.key() == queue.key => {
            let path = named.path().unwrap_or(Path::new(DEFAULT_KEY_PATH));
            format!("the default key here, ftok({path:?}, 'a')")
        }
        _ if queue.key.is_private() => "no key: reached by its id (`send --id`)".into(),
        _ if queue.owner.mode & 0o022 != 0 => "others may write to it".into(),
        _ => String::new(),
    };
    [
        queue.key.to_string(),
        queue.id.to_string(),
        queue.owner.uid.to_string(),
        format!("{:04o}", queue.owner.mode),
        queue.field("qnum").unwrap_or(0).to_string(),
        queue.field("cbytes").unwrap_or(0).to_string(),
        note,
    ]
}

/// The column headers; the note comes last and is not padded.
const HEADER: [&str; 7] = ["key", "id", "owner", "mode", "messages", "bytes", "note"];

/// The header and the rows, each column as wide as its widest cell: ids grow to 6 digits and
/// more as queues come and go, and uids to 10 (nobody is 65534).
fn table(rows: Vec<[String; 7]>) -> Vec<String> {
    let mut widths = HEADER.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let [key, id, owner, mode, messages, bytes, _] = widths;
    let line = |[k, i, o, m, n, b, note]: [&str; 7]| {
        let line = format!(
            "{k:<key$}  {i:>id$}  {o:>owner$}  {m:<mode$}  {n:>messages$}  {b:>bytes$}  {note}"
        );
        line.trim_end().to_owned()
    };
    let mut lines = vec![line(HEADER)];
    lines.extend(
        rows.iter()
            .map(|row| line(row.each_ref().map(String::as_str))),
    );
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where each column of `line` ends, given the header's column starts and ends.
    fn cell_end(line: &str, header: &str, column: &str) -> char {
        let end = header.find(column).unwrap() + column.len();
        line.as_bytes()[end - 1] as char
    }

    #[test]
    fn wide_ids_and_uids_keep_the_columns_aligned() {
        let row = |id: &str, uid: &str| {
            [
                "0x6100cb1d".to_owned(),
                id.to_owned(),
                uid.to_owned(),
                "0600".to_owned(),
                "1".to_owned(),
                "3".to_owned(),
                String::new(),
            ]
        };
        let lines = table(vec![row("5", "0"), row("1234567", "4294967294")]);
        let header = &lines[0];
        for line in &lines[1..] {
            // Right-aligned numbers end where their header ends, whatever their width.
            assert_eq!(
                cell_end(line, header, "id"),
                if line.contains("1234567") { '7' } else { '5' },
                "{lines:#?}"
            );
            assert_ne!(cell_end(line, header, "owner"), ' ', "{lines:#?}");
            assert_eq!(cell_end(line, header, "bytes"), '3', "{lines:#?}");
            assert!(line.split_whitespace().count() >= 6, "{lines:#?}");
        }
        let mode_at = header.find("mode").unwrap();
        assert!(
            lines
                .iter()
                .skip(1)
                .all(|l| &l[mode_at..mode_at + 4] == "0600"),
            "{lines:#?}"
        );
    }
}
