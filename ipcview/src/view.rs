//! A snapshot as lines of text: the same lines make the live view (with colours) and the
//! `--once` output (without), so what the book shows is what the terminal shows.
//!
//! One block per object: a header line (kind, identity, owner, mode), its details, then one
//! row per process:
//!
//! ```text
//! msg        id 3  key 0x61001234  owner root  mode 0600
//!            0 messages, 0 of 16384 bytes; last sent by -, last received by -
//!   > 4242    recv            S  msgrcv           waiting: a message of any type
//! ```
//!
//! A row starts with `>` when its process is asleep in a system call (state `S` or `D`):
//! red when the call waits on this very object, yellow when it waits on something else (a
//! child, a timer, another descriptor). A stopped process (`T`) is magenta.

use std::fmt::Write as _;

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use crate::snapshot::{Details, Object, Process, Snapshot};

/// The marker at the start of the row of a blocked process.
pub const BLOCKED_MARKER: &str = ">";

/// The style of a blocked process's row whose call waits on this object.
pub fn waiting_here() -> Style {
    Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
}

/// The style of a blocked process's row whose call waits on something else.
pub fn waiting_elsewhere() -> Style {
    Style::new().fg(Color::Yellow)
}

fn stopped() -> Style {
    Style::new().fg(Color::Magenta)
}

fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

fn heading() -> Style {
    Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
}

/// The first line: whose objects, and how many processes are blocked.
pub fn summary(snapshot: &Snapshot) -> String {
    let processes: Vec<&Process> = snapshot.objects.iter().flat_map(|o| &o.processes).collect();
    let mut pids: Vec<i32> = processes.iter().map(|p| p.pid).collect();
    pids.sort_unstable();
    pids.dedup();
    let mut blocked: Vec<i32> = processes
        .iter()
        .filter(|p| p.is_blocked())
        .map(|p| p.pid)
        .collect();
    blocked.sort_unstable();
    blocked.dedup();
    let whose = match &snapshot.user {
        Some(user) => format!("user {user}"),
        None => "all users".to_owned(),
    };
    format!(
        "{whose}: {}, {} ({} blocked)",
        count(snapshot.objects.len(), "object"),
        count(pids.len(), "process"),
        blocked.len()
    )
}

fn count(n: usize, thing: &str) -> String {
    match (n, thing) {
        (1, _) => format!("1 {thing}"),
        (_, "process") => format!("{n} processes"),
        _ => format!("{n} {thing}s"),
    }
}

/// Every line of the snapshot, styled: one block per object, a blank line between blocks,
/// then the notes.
pub fn lines(snapshot: &Snapshot) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    if snapshot.objects.is_empty() {
        lines.push(Line::styled(
            "no IPC object in view (--all-users shows other users' objects)",
            dim(),
        ));
    }
    for (i, object) in snapshot.objects.iter().enumerate() {
        if i > 0 {
            lines.push(Line::default());
        }
        object_lines(object, &mut lines);
    }
    if !snapshot.notes.is_empty() {
        lines.push(Line::default());
        for note in &snapshot.notes {
            lines.push(Line::styled(format!("note: {note}"), dim()));
        }
    }
    lines
}

/// The snapshot as plain text: [`summary`], a blank line, then [`lines`] without styles.
pub fn plain(snapshot: &Snapshot) -> String {
    let mut text = format!("ipcview: {}\n\n", summary(snapshot));
    for line in lines(snapshot) {
        let row: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
        text.push_str(row.trim_end());
        text.push('\n');
    }
    text
}

/// The indent of the lines under an object's header.
const INDENT: &str = "           ";

fn object_lines(object: &Object, lines: &mut Vec<Line<'static>>) {
    let mut header = String::new();
    match (&object.details, object.id, &object.key) {
        (Details::Pipe(pipe), _, _) => {
            if let Some(path) = &pipe.path {
                let _ = write!(header, "{path}  ");
            }
            let _ = write!(header, "inode {}", pipe.inode);
        }
        (Details::PosixMq(mq), _, _) => header.push_str(&mq.name),
        (Details::PosixFile(file), _, _) => header.push_str(&file.path),
        (_, Some(id), Some(key)) => {
            let _ = write!(header, "id {id}  key {key}");
        }
        _ => {}
    }
    let _ = write!(header, "  owner {}  mode {}", object.owner, object.mode);
    lines.push(Line::from(vec![
        Span::styled(format!("{:<11}", object.kind.name()), heading()),
        Span::raw(header),
    ]));
    for detail in details(object) {
        lines.push(Line::raw(format!("{INDENT}{detail}")));
    }
    for process in &object.processes {
        process_lines(process, lines);
    }
}

fn pid_text(pid: Option<i32>) -> String {
    pid.map_or_else(|| "-".to_owned(), |pid| pid.to_string())
}

fn details(object: &Object) -> Vec<String> {
    let mut out = Vec::new();
    match &object.details {
        Details::Msg(msg) => {
            let limit = msg.limit.map_or_else(|| "?".to_owned(), |l| l.to_string());
            out.push(format!(
                "{} messages, {} of {limit} bytes; last sent by {}, last received by {}",
                msg.messages,
                msg.bytes,
                pid_text(msg.last_sender),
                pid_text(msg.last_receiver)
            ));
            out.extend(msg.not_visible.clone());
        }
        Details::Sem(sem) => {
            match &sem.semaphores {
                Some(semaphores) => {
                    out.push("sem  value  ncnt  zcnt  last pid".to_owned());
                    for s in semaphores {
                        out.push(format!(
                            "{:>3}  {:>5}  {:>4}  {:>4}  {}",
                            s.num,
                            s.value,
                            s.ncnt,
                            s.zcnt,
                            pid_text(s.last_pid)
                        ));
                    }
                }
                None => out.push(format!("{} semaphores", sem.nsems)),
            }
            out.extend(sem.not_visible.clone());
        }
        Details::Shm(shm) => {
            let mut line = format!(
                "{} bytes, {} in memory, {} attached; created by {}, last shmat/shmdt by {}",
                shm.size,
                shm.rss,
                shm.nattch,
                pid_text(shm.creator_pid),
                pid_text(shm.last_pid)
            );
            if shm.marked_for_removal {
                line.push_str("; marked for removal");
            }
            out.push(line);
        }
        Details::Pipe(pipe) if pipe.read_ends + pipe.write_ends == 0 => {
            out.push("no process has it open yet".to_owned());
        }
        Details::Pipe(pipe) => {
            out.push(format!(
                "{}, {} open",
                count(pipe.read_ends, "read end"),
                count(pipe.write_ends, "write end")
            ));
        }
        Details::PosixMq(mq) => {
            if let (Some(n), Some(max), Some(size)) =
                (mq.messages, mq.max_messages, mq.message_size)
            {
                out.push(format!("{n} of {max} messages, at most {size} bytes each"));
            }
            out.extend(mq.not_visible.clone());
        }
        Details::PosixFile(file) => match (file.value, file.waiters) {
            (Some(value), Some(waiters)) => {
                out.push(format!("value {value}, {waiters} waiting (glibc's sem_t)"))
            }
            _ => out.push(format!("{} bytes", file.size)),
        },
    }
    out
}

fn process_lines(process: &Process, lines: &mut Vec<Line<'static>>) {
    let (marker, style) = if process.is_blocked() && process.waits_for.is_some() {
        (BLOCKED_MARKER, waiting_here())
    } else if process.is_blocked() {
        (BLOCKED_MARKER, waiting_elsewhere())
    } else if process.is_stopped() {
        (" ", stopped())
    } else {
        (" ", Style::new())
    };
    let call = match (&process.blocked_in, process.state.as_str()) {
        (Some(call), _) => call.clone(),
        (None, "R") => "(running)".to_owned(),
        (None, _) if process.not_visible.is_some() => "?".to_owned(),
        (None, _) => "-".to_owned(),
    };
    let mut role = process.role.clone();
    if let Some(what) = &process.waits_for {
        let _ = write!(role, ": {what}");
    }
    lines.push(Line::styled(
        format!(
            "  {marker} {:<7} {:<15} {}  {call:<15}  {role}",
            process.pid, process.comm, process.state
        ),
        style,
    ));
    if let Some(why) = &process.not_visible {
        lines.push(Line::styled(format!("{INDENT}{why}"), dim()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{Kind, MsgDetails, Object};

    fn queue(processes: Vec<Process>) -> Snapshot {
        Snapshot {
            user: Some("root".to_owned()),
            objects: vec![Object {
                kind: Kind::Msg,
                key: Some("0x61001234".to_owned()),
                id: Some(3),
                owner: "root".to_owned(),
                mode: "0600".to_owned(),
                details: Details::Msg(MsgDetails {
                    messages: 0,
                    bytes: 0,
                    limit: Some(16384),
                    last_sender: None,
                    last_receiver: None,
                    not_visible: None,
                }),
                processes,
            }],
            notes: Vec::new(),
        }
    }

    fn recv(state: &str, blocked_in: Option<&str>) -> Process {
        Process {
            pid: 4242,
            comm: "recv".to_owned(),
            state: state.to_owned(),
            blocked_in: blocked_in.map(str::to_owned),
            role: "waiting".to_owned(),
            waits_for: blocked_in.map(|_| "a message of any type".to_owned()),
            not_visible: None,
        }
    }

    #[test]
    fn a_blocked_process_is_marked() {
        let text = plain(&queue(vec![recv("S", Some("msgrcv"))]));
        assert_eq!(
            text,
            "ipcview: user root: 1 object, 1 process (1 blocked)\n\n\
             msg        id 3  key 0x61001234  owner root  mode 0600\n\
             \x20          0 messages, 0 of 16384 bytes; last sent by -, last received by -\n\
             \x20 > 4242    recv            S  msgrcv           waiting: a message of any type\n"
        );
    }

    #[test]
    fn a_running_process_is_not() {
        let text = plain(&queue(vec![recv("R", None)]));
        assert!(
            text.contains("    4242    recv            R  (running)"),
            "{text}"
        );
        assert!(text.contains("(0 blocked)"), "{text}");
    }
}
