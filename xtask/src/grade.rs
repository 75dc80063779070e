//! `cargo xtask grade [LAB...] [--json FILE] [--timeout SECS] [--budget SECS]`: runs the graded
//! tests listed in the points file, one at a time, with a deadline each and a budget for the
//! whole run, and adds up the points.
//!
//! Each lab's tests are compiled first (`cargo test --no-run`), so that a deadline counts only
//! the test's own run. After every test, whatever it started is killed: its process group, and
//! every process it left anywhere else (see `reap.rs`). A test still running at its deadline
//! scores 0; so does every test left when the budget is spent, and the results are still
//! written. A lab that does not compile scores 0 on each of its tests. Under each failing test
//! the table shows the compiler's first errors or the assertion message, about 20 lines.
//!
//! In a handout the points file lists only the tests the handout holds, so the total and the
//! exit status count only those: a student with every test passing gets full marks and exit 0.

use std::collections::BTreeSet;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::points::{self, Entry};
use crate::reap;
use crate::results::{AFTER_DUE_DATE, Results, TestResult, VISIBLE};

/// How long one graded test may run unless `--timeout` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// How long a whole grading run may take unless `--budget` says otherwise.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(600);

/// The most output kept per test (its end), in the JSON.
const OUTPUT_LIMIT: usize = 8000;

/// The most lines of a failure shown under its row.
const EXCERPT_LINES: usize = 20;

/// How to grade.
pub struct Options {
    /// The deadline of one test.
    pub timeout: Duration,
    /// The time the whole run may take.
    pub budget: Duration,
    /// Print each row as it is graded, with a failure's excerpt under it.
    pub verbose: bool,
}

/// One graded test's outcome.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The points file's entry.
    pub entry: Entry,
    /// A hidden test: its result is shown to students after the due date only.
    pub hidden: bool,
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
            score: f64::from(self.score()),
            max_score: f64::from(self.entry.points),
            status: if self.passed { "passed" } else { "failed" }.to_owned(),
            output,
            visibility: if self.hidden { AFTER_DUE_DATE } else { VISIBLE }.to_owned(),
        }
    }
}

/// The results file for `outcomes`, graded in `elapsed`.
pub fn results(outcomes: &[Outcome], elapsed: Duration) -> Results {
    let (score, total) = totals(outcomes);
    let hidden = outcomes.iter().filter(|o| o.hidden).count();
    let mut output = format!("Score {score}/{total}.");
    if hidden > 0 {
        output.push_str(&format!(
            " {hidden} of the {} tests are hidden: their results show after the due date.",
            outcomes.len()
        ));
    }
    Results {
        score: f64::from(score),
        execution_time: (elapsed.as_secs_f64() * 10.0).round() / 10.0,
        output,
        stdout_visibility: "hidden".to_owned(),
        tests: outcomes.iter().map(Outcome::to_json).collect(),
    }
}

/// A lab compiled, or why not.
pub struct Build {
    /// It compiled.
    pub success: bool,
    /// What the compiler said.
    pub output: String,
}

/// One test's run.
pub struct Ran {
    /// The test binary (or cargo) exited 0.
    pub success: bool,
    /// It was killed at its deadline.
    pub timed_out: bool,
    /// Its stdout and stderr together.
    pub output: String,
}

/// The tests of a lab that its test binaries list.
pub struct Tests {
    /// Every test that can be run.
    pub present: BTreeSet<String>,
    /// The ones of them hidden from students.
    pub hidden: BTreeSet<String>,
}

/// What compiles a lab and runs one of its tests: cargo in a workspace (`Cargo`), or the
/// autograder's sandbox.
pub trait Harness {
    /// Compiles `lab` and its graded tests.
    fn build(&mut self, lab: &str) -> Result<Build, String>;
    /// The tests of `lab` that exist here, as its compiled test binaries list them, and which
    /// of them are hidden; `None` when they cannot be listed (the lab did not compile, or was
    /// not built), and then every graded test of the lab counts.
    fn tests(&mut self, lab: &str) -> Result<Option<Tests>, String>;
    /// Runs one test with a deadline, then kills whatever it started.
    fn run_test(&mut self, entry: &Entry, hidden: bool, timeout: Duration) -> Result<Ran, String>;
}

/// The deadlines of `grade`, `autograde` and `grade-all`.
#[derive(clap::Args, Clone, Copy, Debug)]
pub struct Timing {
    /// How long one graded test may run, in seconds: then it is killed with every process it
    /// started, and scores 0.
    #[arg(long, value_name = "SECS", default_value_t = Seconds(DEFAULT_TIMEOUT))]
    pub timeout: Seconds,
    /// How long the whole run may take, in seconds: every test left when it is spent scores 0,
    /// and the results are still written.
    #[arg(long, value_name = "SECS", default_value_t = Seconds(DEFAULT_BUDGET))]
    pub budget: Seconds,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            timeout: Seconds(DEFAULT_TIMEOUT),
            budget: Seconds(DEFAULT_BUDGET),
        }
    }
}

impl Timing {
    /// The options of a run that prints its rows.
    pub fn options(self) -> Options {
        Options {
            timeout: self.timeout.0,
            budget: self.budget.0,
            verbose: true,
        }
    }

    /// The flags that give these deadlines, for another xtask's command line.
    pub fn to_args(self) -> [String; 4] {
        [
            "--timeout".into(),
            self.timeout.to_string(),
            "--budget".into(),
            self.budget.to_string(),
        ]
    }
}

/// A whole number of seconds, at least 1, from the command line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Seconds(pub Duration);

impl std::str::FromStr for Seconds {
    type Err = String;

    fn from_str(value: &str) -> Result<Seconds, String> {
        let secs: u64 = value
            .parse()
            .map_err(|_| format!("`{value}` is not a number of seconds"))?;
        if secs == 0 {
            return Err("give at least 1 second".into());
        }
        Ok(Seconds(Duration::from_secs(secs)))
    }
}

impl std::fmt::Display for Seconds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.as_secs())
    }
}

/// `cargo xtask grade [LAB...] [--json FILE] [--timeout SECS] [--budget SECS]`: runs, prints
/// the table and the score, writes the JSON, and fails below full marks.
pub fn command(
    root: &Path,
    labs: &[String],
    json: Option<&Path>,
    timing: Timing,
) -> Result<(), String> {
    let entries = select(root, labs)?;
    reap::become_subreaper()?;
    let started = Instant::now();
    let outcomes = run(&timing.options(), &entries, &mut Cargo::new(root, None))?;
    if let Some(file) = json {
        std::fs::write(file, results(&outcomes, started.elapsed()).to_text())
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

/// Grades `entries` with `harness`, printing a row for each (when verbose) and the score at
/// the end. A listed test that does not exist here (that the lab's compiled tests do not list)
/// is left out of the total, with a line saying so; in a lab that does not compile, each one
/// counts.
pub fn run(
    options: &Options,
    entries: &[Entry],
    harness: &mut dyn Harness,
) -> Result<Vec<Outcome>, String> {
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
    let budget_ends = Instant::now() + options.budget;
    let mut outcomes = Vec::new();
    let mut header = true;
    for lab in points::labs(entries) {
        let build = if Instant::now() < budget_ends {
            if options.verbose {
                println!("==> compiling the {lab} lab's tests");
            }
            Some(harness.build(&lab)?)
        } else {
            None
        };
        let Tests { present, hidden } = match harness.tests(&lab)? {
            Some(tests) => tests,
            None => Tests {
                present: entries
                    .iter()
                    .filter(|e| e.lab == lab)
                    .map(|e| e.test.clone())
                    .collect(),
                hidden: BTreeSet::new(),
            },
        };
        let absent: Vec<&str> = entries
            .iter()
            .filter(|e| e.lab == lab && !present.contains(&e.test))
            .map(|e| e.test.as_str())
            .collect();
        if options.verbose && !absent.is_empty() {
            println!(
                "{lab}: not counted, not a test of {lab}/tests/lab.rs here: {}",
                absent.join(", ")
            );
        }
        if options.verbose && header {
            println!(
                "{:<lab_width$}  {:<width$}  {:>6}  result",
                "lab", "test", "points"
            );
            header = false;
        }
        for entry in entries
            .iter()
            .filter(|e| e.lab == lab && present.contains(&e.test))
        {
            let is_hidden = hidden.contains(&entry.test);
            let left = budget_ends.saturating_duration_since(Instant::now());
            let failed = |note: String, output: String| Outcome {
                entry: entry.clone(),
                hidden: is_hidden,
                passed: false,
                note,
                output,
            };
            let outcome = match &build {
                _ if left.is_zero() => failed(
                    format!(
                        "not run: the grading budget of {} s was spent",
                        options.budget.as_secs()
                    ),
                    String::new(),
                ),
                None => unreachable!("a lab is built while budget is left"),
                Some(build) if !build.success => failed(
                    format!("the {lab} lab does not compile"),
                    tail(&build.output),
                ),
                Some(_) => {
                    let limit = options.timeout.min(left);
                    let ran = harness.run_test(entry, is_hidden, limit)?;
                    let ok_line = format!("test {} ... ok", entry.test);
                    let passed = ran.success
                        && !ran.timed_out
                        && ran.output.contains(&ok_line)
                        && ran.output.contains("test result: ok. 1 passed");
                    let note = if ran.timed_out && limit < options.timeout {
                        format!(
                            "killed after {} s, when the grading budget of {} s was spent: 0 points",
                            limit.as_secs(),
                            options.budget.as_secs()
                        )
                    } else if ran.timed_out {
                        format!(
                            "timed out after {} s: killed with every process it started, 0 points",
                            limit.as_secs()
                        )
                    } else if ran.success && !passed {
                        "the test did not run (no `ok` line)".to_owned()
                    } else {
                        String::new()
                    };
                    Outcome {
                        entry: entry.clone(),
                        hidden: is_hidden,
                        passed,
                        note,
                        output: tail(&ran.output),
                    }
                }
            };
            if options.verbose {
                // A lab that does not compile shows the compiler's errors once, under its first
                // row; each test's JSON output still carries them.
                let repeated = build.as_ref().is_some_and(|b| !b.success)
                    && outcomes.iter().any(|o: &Outcome| o.entry.lab == lab);
                print_row(&outcome, lab_width, width, !repeated);
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

/// A row of the table, and under a failed test that is not hidden, why (when `why`).
fn print_row(outcome: &Outcome, lab_width: usize, width: usize, why: bool) {
    let entry = &outcome.entry;
    let result = if outcome.passed { "PASS" } else { "FAIL" };
    let note = if outcome.note.is_empty() {
        String::new()
    } else {
        format!("  ({})", outcome.note)
    };
    let hidden = if outcome.hidden { "  [hidden]" } else { "" };
    println!(
        "{:<lab_width$}  {:<width$}  {:>6}  {result}{note}{hidden}",
        entry.lab, entry.test, entry.points
    );
    if why && !outcome.passed && !outcome.hidden {
        for line in excerpt(&outcome.output).lines() {
            println!("    | {line}");
        }
    }
}

/// The part of a failed test's output that says why, at most [`EXCERPT_LINES`] lines: the
/// compiler's first errors, or the panic's message and what follows it.
pub fn excerpt(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    let start = lines
        .iter()
        .position(|line| line.starts_with("error") || line.contains("panicked at"))
        .or_else(|| lines.iter().position(|line| line.starts_with("---- ")));
    let Some(start) = start else {
        return String::new();
    };
    let mut shown: Vec<&str> = lines[start..]
        .iter()
        .copied()
        .take_while(|line| !line.starts_with("stack backtrace:"))
        .filter(|line| !line.starts_with("note: run with `RUST_BACKTRACE"))
        .take(EXCERPT_LINES)
        .collect();
    while shown.last().is_some_and(|line| line.trim().is_empty()) {
        shown.pop();
    }
    shown.join("\n")
}

/// The end of `text`, at most [`OUTPUT_LIMIT`] bytes, cut at a character boundary.
pub fn tail(text: &str) -> String {
    if text.len() <= OUTPUT_LIMIT {
        return text.to_owned();
    }
    let mut start = text.len() - OUTPUT_LIMIT;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("[... the output's start is cut ...]\n{}", &text[start..])
}

/// Grading with cargo in a workspace: what students, Classroom and `cargo xtask ci` run.
pub struct Cargo {
    root: PathBuf,
    target_dir: Option<PathBuf>,
    /// The labs whose tests compiled.
    built: BTreeSet<String>,
}

impl Cargo {
    /// Grading the workspace at `root`, building into `target_dir` (cargo's default when
    /// `None`).
    pub fn new(root: &Path, target_dir: Option<PathBuf>) -> Cargo {
        Cargo {
            root: root.to_path_buf(),
            target_dir,
            built: BTreeSet::new(),
        }
    }

    /// `cargo test -p <lab> --test lab <args>`, its stdout and stderr together in one file (so
    /// that nothing the test leaves running can keep a pipe open), killed with its process
    /// group at the deadline; then everything else it started is killed too.
    fn cargo_test(
        &self,
        lab: &str,
        args: &[&str],
        deadline: Option<Duration>,
    ) -> Result<Ran, String> {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(cargo);
        command
            .args(["test", "-p", lab, "--test", "lab"])
            .args(args)
            .current_dir(&self.root);
        if let Some(dir) = &self.target_dir {
            command.env("CARGO_TARGET_DIR", dir);
        }
        run_logged(command, deadline)
    }
}

impl Harness for Cargo {
    fn build(&mut self, lab: &str) -> Result<Build, String> {
        let ran = self.cargo_test(lab, &["--no-run"], None)?;
        if ran.success {
            self.built.insert(lab.to_owned());
        } else {
            self.built.remove(lab);
        }
        Ok(Build {
            success: ran.success,
            output: ran.output,
        })
    }

    /// The compiled test binary's list (`--list`), once it compiled: a lab that does not
    /// compile has no list, and each of its graded tests counts, at 0 points.
    fn tests(&mut self, lab: &str) -> Result<Option<Tests>, String> {
        if !self.built.contains(lab) {
            return Ok(None);
        }
        let labs = [lab.to_owned()];
        let mut listed = points::list(&self.root, self.target_dir.as_deref(), &labs, "lab")?;
        Ok(Some(Tests {
            present: listed.remove(lab).unwrap_or_default(),
            hidden: BTreeSet::new(),
        }))
    }

    fn run_test(&mut self, entry: &Entry, _hidden: bool, timeout: Duration) -> Result<Ran, String> {
        let args = ["--", "--exact", entry.test.as_str(), "--nocapture"];
        self.cargo_test(&entry.lab, &args, Some(timeout))
    }
}

/// Runs `command` in a process group of its own with stdin from /dev/null and stdout and
/// stderr into one log file; at `deadline` kills its group. Then kills every process it left
/// (the caller is a subreaper, see `reap.rs`), and returns the log.
pub fn run_logged(mut command: Command, deadline: Option<Duration>) -> Result<Ran, String> {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let log = std::env::temp_dir().join(format!(
        "xtask-grade-{}-{}.log",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    // 0600: a process under test never reads another test's output through the file's name.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&log)
        .map_err(|err| format!("{}: {err}", log.display()))?;
    let err_file = file
        .try_clone()
        .map_err(|err| format!("{}: {err}", log.display()))?;
    command
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err_file)
        .process_group(0);
    let mut child = command
        .spawn()
        .map_err(|err| format!("cannot run {:?}: {err}", command.get_program()))?;
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
        .map_err(|err| format!("waiting for {:?}: {err}", command.get_program()))?;
    reap::kill_descendants()?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_excerpt_is_the_panic_or_the_first_errors() {
        let failed = "running 1 test\n---- t stdout ----\n\nthread 't' (7) panicked at lab.rs:3:5:\n\
                      assertion `left == right` failed\n  left: 1\n right: 2\n\
                      note: run with `RUST_BACKTRACE=1` environment variable\n\nfailures:\n";
        let shown = excerpt(failed);
        assert!(
            shown.starts_with("thread 't' (7) panicked at lab.rs:3:5:"),
            "{shown}"
        );
        assert!(shown.contains("right: 2") && !shown.contains("RUST_BACKTRACE"));
        let compile: String = "   Compiling pipe\nerror[E0308]: mismatched types\n"
            .chars()
            .chain((0..40).flat_map(|n| format!("line {n}\n").chars().collect::<Vec<_>>()))
            .collect();
        let shown = excerpt(&compile);
        assert!(shown.starts_with("error[E0308]"));
        assert_eq!(shown.lines().count(), EXCERPT_LINES);
        assert_eq!(excerpt("all fine\n"), "");
    }
}
