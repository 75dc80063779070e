//! What the ipcview tests share: where the other crates' example binaries are, ipcview's JSON
//! read back, a wait for a state that ipcview itself shows, and the book snapshots' stand-ins
//! for the numbers and names that change from run to run.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::Value;
use testkit::{DEADLINE, run};

/// ipcview itself.
pub const IPCVIEW: &str = env!("CARGO_BIN_EXE_ipcview");

/// The example binary `name` of another crate of the workspace (`recv`, `order`...). Cargo
/// builds only this crate's binaries for its tests, and puts every binary of the workspace in
/// one directory: the one above `deps/`, where this test runs from. A missing one fails the
/// test with the command that builds it.
pub fn example(name: &str) -> String {
    let test = std::env::current_exe().expect("the test's own path");
    let dir = test
        .parent()
        .and_then(Path::parent)
        .expect("the test runs from <target>/<profile>/deps");
    let binary: PathBuf = dir.join(name);
    assert!(
        binary.exists(),
        "{} is missing: the ipcview tests run the other crates' examples; build them first \
         with `cargo build --workspace --bins` (cargo test --workspace builds them too)",
        binary.display()
    );
    binary.to_string_lossy().into_owned()
}

/// `ipcview --json <args>`, parsed.
pub fn json(args: &[&str]) -> Value {
    let mut command = Command::new(IPCVIEW);
    command.arg("--json").args(args);
    let finished = run(command, "");
    assert!(finished.status.success(), "ipcview {args:?}: {finished:?}");
    serde_json::from_str(&finished.stdout)
        .unwrap_or_else(|err| panic!("ipcview {args:?} printed no JSON ({err}):\n{finished:?}"))
}

/// Runs `ipcview --json <args>` until `found` picks something out of what it shows, and
/// returns that. A process that has just started may not be in its call yet: each run looks
/// again, and each run is a new look at /proc (no sleep between them). Fails after
/// [`DEADLINE`] with the last JSON.
pub fn until<T>(args: &[&str], found: impl Fn(&Value) -> Option<T>) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let shown = json(args);
        if let Some(value) = found(&shown) {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "ipcview {args:?} never showed what the test waits for; last:\n{shown:#}"
        );
    }
}

/// The objects of kind `kind` in a snapshot.
pub fn objects<'a>(snapshot: &'a Value, kind: &str) -> Vec<&'a Value> {
    snapshot["objects"]
        .as_array()
        .expect("objects is a list")
        .iter()
        .filter(|object| object["kind"] == kind)
        .collect()
}

/// The process `pid` among an object's processes.
pub fn process(object: &Value, pid: i32) -> Option<&Value> {
    object["processes"]
        .as_array()?
        .iter()
        .find(|p| p["pid"] == pid)
}

/// The object of kind `kind` with System V id `id`.
pub fn by_id<'a>(snapshot: &'a Value, kind: &str, id: i32) -> Option<&'a Value> {
    objects(snapshot, kind).into_iter().find(|o| o["id"] == id)
}

/// The parent of process `pid`, from `/proc/<pid>/stat`.
pub fn parent_of(pid: i32) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let (_, rest) = stat.rsplit_once(')').expect("a stat line");
    rest.split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("a ppid")
}

/// The name of the user the tests run as.
pub fn me() -> String {
    let uid = nix::unistd::geteuid();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map_or_else(|| uid.to_string(), |user| user.name)
}

/// The `--once` text of a snapshot with what changes between runs replaced by stand-ins, so
/// that the book can include it and a test can compare it:
///
/// - every pid that `shown` (the `--json` of the same moment) names becomes `<pid1>`,
///   `<pid2>`... from the lowest pid up (the order they started in), keeping the column it is
///   in;
/// - `id N` becomes `id <id>`, `key 0x...` becomes `key <key>`, `inode N` becomes
///   `inode <inode>`;
/// - `dir` (a test's temporary directory) becomes `<dir>`, and the user's name `<user>`.
pub fn stand_ins(text: &str, shown: &Value, dir: Option<&Path>) -> String {
    let mut pids: Vec<String> = Vec::new();
    let mut note = |value: &Value| {
        if let Some(pid) = value.as_i64() {
            pids.push(pid.to_string());
        }
    };
    for object in shown["objects"].as_array().into_iter().flatten() {
        for process in object["processes"].as_array().into_iter().flatten() {
            note(&process["pid"]);
        }
        let details = &object["details"];
        for field in ["last_sender", "last_receiver", "creator_pid", "last_pid"] {
            note(&details[field]);
        }
        for sem in details["semaphores"].as_array().into_iter().flatten() {
            note(&sem["last_pid"]);
        }
    }
    pids.sort_by_key(|pid| pid.parse::<i64>().unwrap_or(0));
    pids.dedup();
    let mut text = text.to_owned();
    if let Some(dir) = dir {
        text = text.replace(&dir.to_string_lossy().into_owned(), "<dir>");
    }
    let user = me();
    text = text
        .replace(&format!("owner {user} "), "owner <user> ")
        .replace(&format!("user {user}:"), "user <user>:");
    text = after_word(&text, "id ", |_| "<id>".to_owned());
    text = after_word(&text, "key ", |key| {
        if key.starts_with("0x") {
            "<key>".to_owned()
        } else {
            key.to_owned()
        }
    });
    text = after_word(&text, "inode ", |_| "<inode>".to_owned());
    numbered_pids(&text, &pids)
}

/// Replaces the word after each `label` (a whole word, such as `id `) with `with(word)`.
fn after_word(text: &str, label: &str, with: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(label) {
        let starts_word = at == 0 || !rest.as_bytes()[at - 1].is_ascii_alphanumeric();
        out.push_str(&rest[..at + label.len()]);
        rest = &rest[at + label.len()..];
        if !starts_word {
            continue;
        }
        let end = rest
            .find(|c: char| c.is_whitespace() || c == ',' || c == ';')
            .unwrap_or(rest.len());
        out.push_str(&with(&rest[..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Each whole number in `text` that is one of `pids` becomes `<pidN>`, N its place in `pids`;
/// where spaces follow it (a column), as many are dropped as the stand-in is longer, so the
/// next column stays where it was.
fn numbered_pids(text: &str, pids: &[String]) -> String {
    let mut out = String::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let starts = bytes[i].is_ascii_digit() && (i == 0 || !is_word(bytes[i - 1]));
        if !starts {
            out.push(bytes[i] as char);
            i += 1;
            continue;
        }
        let end = (i..bytes.len())
            .find(|&j| !bytes[j].is_ascii_digit())
            .unwrap_or(bytes.len());
        let number = &text[i..end];
        let whole = end == bytes.len() || !is_word(bytes[end]);
        let place = pids.iter().position(|p| p == number);
        let Some(n) = place.filter(|_| whole) else {
            out.push_str(number);
            i = end;
            continue;
        };
        let stand_in = format!("<pid{}>", n + 1);
        out.push_str(&stand_in);
        i = end;
        // Keep the column: drop spaces after it for each character the stand-in adds.
        let mut extra = stand_in.len().saturating_sub(number.len());
        while extra > 0 && i + 1 < bytes.len() && bytes[i] == b' ' && bytes[i + 1] == b' ' {
            i += 1;
            extra -= 1;
        }
        if stand_in.len() < number.len() && i < bytes.len() && bytes[i] == b' ' {
            out.push_str(&" ".repeat(number.len() - stand_in.len()));
        }
    }
    out
}

fn is_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'.' || byte == b'/'
}

/// Compares `text` with the book's file `book/src/<path>`, or rewrites the file when
/// `IPCVIEW_BLESS=1` is set. The book includes the file; only this comparison keeps it true.
pub fn matches_book_file(path: &str, text: &str) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../book/src")
        .join(path);
    if std::env::var_os("IPCVIEW_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&file, text).unwrap_or_else(|err| panic!("write {path}: {err}"));
        return;
    }
    let committed = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        committed == text,
        "book/src/{path} is not what ipcview shows now; if the change is right, rewrite it with \
         `IPCVIEW_BLESS=1 cargo test -p ipcview --test book`.\n--- in the book:\n{committed}\n\
         --- ipcview now:\n{text}"
    );
}
