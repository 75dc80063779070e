//! `cargo xtask grade [LAB...] [--json FILE] [--timeout SECS]`: runs the graded tests listed in
//! the points file, one `cargo test` each, with a deadline, and adds up the points.
//!
//! Each lab's tests are compiled first (`cargo test --no-run`), so that the deadline counts
//! only the test's own run. A test that is still running at its deadline is killed, with its
//! whole process group, and scores 0: a hung test never hangs the grader. A lab that does not
//! compile scores 0 on each of its tests, with the compiler's output.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use crate::json::TestResult;
use crate::points::{self, Entry};

/// How long one graded test may run unless `--timeout` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// The most output kept per test (its end), in the table's notes and the JSON.
const OUTPUT_LIMIT: usize = 8000;

/// How and where to grade.
pub struct Options {
    /// The workspace whose tests run.
    pub root: PathBuf,
    /// Where cargo builds (`CARGO_TARGET_DIR`); the default target otherwise.
    pub target_dir: Option<PathBuf>,
    /// The deadline of one test.
    pub timeout: Duration,
    /// Print each row as it is graded.
    pub verbose: bool,
}

/// One graded test's outcome.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The points file's entry.
    pub entry: Entry,
    /// Whether it passed.
    pub passed: bool,
    /// Why it failed in a few words (`timed out after 120 s`, `does not compile`), if it did.
    pub note: String,
    /// The output of the test run (its end).
    pub output: String,
}

impl Outcome {
    /// Points earned.
    pub fn score(&self) -> u32 {
        if self.passed { self.entry.points } else { 0 }
    }

    /// The result in Gradescope's terms.
    pub fn to_json(&self) -> TestResult {
        let output = if self.note.is_empty() {
            self.output.clone()
        } else {
            format!("{}\n{}", self.note, self.output)
        };
        TestResult {
            name: format!("{}: {}", self.entry.lab, self.entry.test),
            score: self.score(),
            max_score: self.entry.points,
            passed: self.passed,
            output,
        }
    }
}

/// The command line of `cargo xtask grade`: runs, prints the table and the score, writes the
/// JSON, and fails below full marks.
pub fn command(root: &Path, args: &[String]) -> Result<(), String> {
    let mut labs = Vec::new();
    let mut json: Option<PathBuf> = None;
    let mut timeout = DEFAULT_TIMEOUT;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => {
                let file = args.next().ok_or("--json needs a file name")?;
                json = Some(PathBuf::from(file));
            }
            "--timeout" => {
                let secs = args.next().ok_or("--timeout needs a number of seconds")?;
                let secs: u64 = secs
                    .parse()
                    .map_err(|_| format!("--timeout: `{secs}` is not a number of seconds"))?;
                timeout = Duration::from_secs(secs);
            }
            "-h" | "--help" => {
                println!(
                    "usage: cargo xtask grade [LAB...] [--json FILE] [--timeout SECS]\n\
                     Runs the graded tests of {} (all labs by default) and prints the score.",
                    points::FILE
                );
                return Ok(());
            }
            flag if flag.starts_with('-') => return Err(format!("grade: unknown flag {flag}")),
            lab => labs.push(lab.to_owned()),
        }
    }
    let entries = select(root, &labs)?;
    let options = Options {
        root: root.to_path_buf(),
        target_dir: None,
        timeout,
        verbose: true,
    };
    let outcomes = run(&options, &entries)?;
    if let Some(file) = json {
        let results: Vec<TestResult> = outcomes.iter().map(Outcome::to_json).collect();
        std::fs::write(&file, crate::json::results(&results))
            .map_err(|err| format!("{}: {err}", file.display()))?;
        println!("wrote {}", file.display());
    }
    let (score, total) = totals(&outcomes);
    if score < total {
        Err(format!("below full marks: {score}/{total}"))
    } else {
        Ok(())
    }
}

/// The entries of the points file for `labs` (every lab when empty).
pub fn select(root: &Path, labs: &[String]) -> Result<Vec<Entry>, String> {
    let entries =
        points::load(root)?.ok_or_else(|| format!("no {} in {}", points::FILE, root.display()))?;
    let known = points::labs(&entries);
    for lab in labs {
        if !known.contains(lab) {
            return Err(format!(
                "no lab `{lab}` in {} (labs: {})",
                points::FILE,
                known.join(", ")
            ));
        }
    }
    Ok(entries
        .into_iter()
        .filter(|e| labs.is_empty() || labs.contains(&e.lab))
        .collect())
}

/// Points earned and points possible.
pub fn totals(outcomes: &[Outcome]) -> (u32, u32) {
    (
        outcomes.iter().map(Outcome::score).sum(),
        outcomes.iter().map(|o| o.entry.points).sum(),
    )
}

/// Grades `entries`, printing a row for each (when verbose) and the score at the end.
pub fn run(options: &Options, entries: &[Entry]) -> Result<Vec<Outcome>, String> {
    let width = entries
        .iter()
        .map(|e| e.test.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let lab_width = entries
        .iter()
        .map(|e| e.lab.len())
        .max()
        .unwrap_or(3)
        .max(3);
    let mut outcomes = Vec::new();
    for lab in points::labs(entries) {
        let tests_file = options.root.join(&lab).join("tests/lab.rs");
        let present = std::fs::read_to_string(&tests_file)
            .map(|text| points::test_names(&text))
            .unwrap_or_default();
        if options.verbose {
            println!("==> compiling the {lab} lab's tests");
        }
        let build = cargo_test(options, &lab, &["--no-run"], None)?;
        if options.verbose && lab == points::labs(entries)[0] {
            println!(
                "{:<lab_width$}  {:<width$}  {:>6}  result",
                "lab", "test", "points"
            );
        }
        for entry in entries.iter().filter(|e| e.lab == lab) {
            let outcome = if !build.success {
                Outcome {
                    entry: entry.clone(),
                    passed: false,
                    note: format!("the {lab} lab does not compile"),
                    output: tail(&build.output),
                }
            } else if !present.contains(&entry.test) {
                Outcome {
                    entry: entry.clone(),
                    passed: false,
                    note: format!(
                        "not in {lab}/tests/lab.rs here (a hidden test: the instructor's grader \
                         runs it)"
                    ),
                    output: String::new(),
                }
            } else {
                let args = ["--", "--exact", entry.test.as_str(), "--nocapture"];
                let ran = cargo_test(options, &lab, &args, Some(options.timeout))?;
                let ok_line = format!("test {} ... ok", entry.test);
                let passed = ran.success && !ran.timed_out && ran.output.contains(&ok_line);
                let note = if ran.timed_out {
                    format!(
                        "timed out after {} s: killed, 0 points",
                        options.timeout.as_secs()
                    )
                } else if ran.success && !passed {
                    "the test did not run (no `ok` line)".to_owned()
                } else {
                    String::new()
                };
                Outcome {
                    entry: entry.clone(),
                    passed,
                    note,
                    output: tail(&ran.output),
                }
            };
            if options.verbose {
                let result = if outcome.passed { "PASS" } else { "FAIL" };
                let note = if outcome.note.is_empty() {
                    String::new()
                } else {
                    format!("  ({})", outcome.note)
                };
                println!(
                    "{:<lab_width$}  {:<width$}  {:>6}  {result}{note}",
                    entry.lab, entry.test, entry.points
                );
            }
            outcomes.push(outcome);
        }
    }
    if options.verbose {
        let (score, total) = totals(&outcomes);
        println!("Score {score}/{total}");
    }
    Ok(outcomes)
}

/// The end of `text`, at most [`OUTPUT_LIMIT`] bytes, cut at a character boundary.
fn tail(text: &str) -> String {
    if text.len() <= OUTPUT_LIMIT {
        return text.to_owned();
    }
    let mut start = text.len() - OUTPUT_LIMIT;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("[... the output's start is cut ...]\n{}", &text[start..])
}

struct Ran {
    success: bool,
    timed_out: bool,
    output: String,
}

/// `cargo test -p <lab> --test lab <args>`, its stdout and stderr together in one file (so
/// that nothing the test leaves running can keep a pipe open), killed with its process group
/// at the deadline.
fn cargo_test(
    options: &Options,
    lab: &str,
    args: &[&str],
    deadline: Option<Duration>,
) -> Result<Ran, String> {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let log = std::env::temp_dir().join(format!(
        "xtask-grade-{}-{}.log",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let file = std::fs::File::create(&log).map_err(|err| format!("{}: {err}", log.display()))?;
    let err_file = file
        .try_clone()
        .map_err(|err| format!("{}: {err}", log.display()))?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args(["test", "-p", lab, "--test", "lab"])
        .args(args)
        .current_dir(&options.root)
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err_file)
        .process_group(0);
    if let Some(dir) = &options.target_dir {
        command.env("CARGO_TARGET_DIR", dir);
    }
    let mut child = command
        .spawn()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    let pid = child.id();
    let (done, finished) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let status = child.wait();
        let _ = done.send(());
        status
    });
    let timed_out = match deadline {
        Some(limit) => match finished.recv_timeout(limit) {
            Ok(()) => false,
            Err(_) => {
                let group = nix::unistd::Pid::from_raw(pid as i32);
                let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
                true
            }
        },
        None => false,
    };
    let status = waiter
        .join()
        .map_err(|_| "the waiting thread panicked".to_owned())?
        .map_err(|err| format!("waiting for cargo: {err}"))?;
    let output = std::fs::read(&log)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    Ok(Ran {
        success: status.success(),
        timed_out,
        output,
    })
}
