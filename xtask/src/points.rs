//! The points file, `grading/points.txt`: one graded test a line, `<lab> <test_name> <points>`,
//! blank lines and `#` comments allowed. A lab is a crate; its graded tests are the tests of
//! its `tests/lab.rs`, by the names its compiled test binary lists ([`list`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where the points file lives, relative to the workspace root.
pub const FILE: &str = "grading/points.txt";

/// One graded test.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The lab, which is the crate's name and directory.
    pub lab: String,
    /// The test's name, as the test binary of `<lab>/tests/lab.rs` lists it.
    pub test: String,
    /// What passing it is worth.
    pub points: u32,
}

/// Parses the points file's text; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Vec<Entry>, String> {
    let mut entries: Vec<Entry> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let at = |message: String| format!("{file}:{}: {message}", index + 1);
        let content = line.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let fields: Vec<&str> = content.split_whitespace().collect();
        let [lab, test, points] = fields[..] else {
            return Err(at(format!(
                "expected `<lab> <test_name> <points>`, found `{content}`"
            )));
        };
        let points: u32 = points
            .parse()
            .map_err(|_| at(format!("`{points}` is not a whole number of points")))?;
        if !test.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(at(format!("`{test}` is not a test function's name")));
        }
        if entries.iter().any(|e| e.lab == lab && e.test == test) {
            return Err(at(format!("{lab} {test} is listed twice")));
        }
        entries.push(Entry {
            lab: lab.to_owned(),
            test: test.to_owned(),
            points,
        });
    }
    Ok(entries)
}

/// Reads and parses `<root>/grading/points.txt`; `None` when there is no such file.
pub fn load(root: &Path) -> Result<Option<Vec<Entry>>, String> {
    let path = root.join(FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse(FILE, &text).map(Some),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(format!("{}: {err}", path.display())),
    }
}

/// The labs of `entries`, in the order they first appear.
pub fn labs(entries: &[Entry]) -> Vec<String> {
    let mut labs: Vec<String> = Vec::new();
    for entry in entries {
        if !labs.contains(&entry.lab) {
            labs.push(entry.lab.clone());
        }
    }
    labs
}

/// The test names of each lab's test binary, by lab.
pub type Listed = BTreeMap<String, BTreeSet<String>>;

/// The tests of the test target `test` (`lab`, or the autograder's `lab_full`) of each of
/// `labs` in the workspace at `root`, as the compiled test binaries list them (`--list`): the
/// names that `--exact` runs, whatever macro or attribute made them. Compiles what is not
/// compiled yet (`cargo test --no-run`), into `target_dir` when given.
pub fn list(
    root: &Path,
    target_dir: Option<&Path>,
    labs: &[String],
    test: &str,
) -> Result<Listed, String> {
    let mut listed = Listed::new();
    if labs.is_empty() {
        return Ok(listed);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args([
            "test",
            "--no-run",
            "--message-format=json-render-diagnostics",
        ])
        .args(labs.iter().flat_map(|lab| ["-p", lab.as_str()]))
        .args(["--test", test])
        .current_dir(root)
        .stdin(Stdio::null());
    if let Some(dir) = target_dir {
        command.env("CARGO_TARGET_DIR", dir);
    }
    let shown = format!("cargo test --no-run -p {} --test {test}", labs.join(" -p "));
    let output = command
        .output()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    if !output.status.success() {
        return Err(format!(
            "`{shown}` in {} failed, so its tests cannot be listed:\n{}",
            root.display(),
            crate::grade::tail(&String::from_utf8_lossy(&output.stderr))
        ));
    }
    for (lab, binary) in test_binaries(&String::from_utf8_lossy(&output.stdout), test) {
        let names = run_list(Command::new(&binary).current_dir(root.join(&lab)))?;
        listed.insert(lab, names);
    }
    if let Some(lab) = labs.iter().find(|lab| !listed.contains_key(*lab)) {
        return Err(format!("`{shown}` built no test binary for {lab}"));
    }
    Ok(listed)
}

/// The test binaries named `test` in cargo's JSON messages, with their lab: the directory of
/// their package.
fn test_binaries(messages: &str, test: &str) -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    for line in messages.lines().filter(|line| line.starts_with('{')) {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let target = &message["target"];
        let is_test = target["kind"]
            .as_array()
            .is_some_and(|kinds| kinds.iter().any(|kind| kind == "test"));
        let lab = message["manifest_path"]
            .as_str()
            .map(Path::new)
            .and_then(Path::parent)
            .and_then(Path::file_name)
            .map(|name| name.to_string_lossy().into_owned());
        if message["reason"] == "compiler-artifact"
            && is_test
            && target["name"] == test
            && let (Some(lab), Some(binary)) = (lab, message["executable"].as_str())
        {
            found.push((lab, PathBuf::from(binary)));
        }
    }
    found
}

/// Runs a test binary, as `command` sets it up, with `--list --format terse`, and reads the
/// names it lists.
pub fn run_list(command: &mut Command) -> Result<BTreeSet<String>, String> {
    let program = command.get_program().to_string_lossy().into_owned();
    let output = command
        .args(["--list", "--format", "terse"])
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("cannot run {program}: {err}"))?;
    if !output.status.success() {
        return Err(format!(
            "{program} --list failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(parse_list(&String::from_utf8_lossy(&output.stdout)))
}

/// The tests in what a test binary prints for `--list --format terse`: a `<name>: test` line
/// each (benchmarks, `<name>: benchmark`, are not tests).
pub fn parse_list(output: &str) -> BTreeSet<String> {
    output
        .lines()
        .filter_map(|line| line.strip_suffix(": test"))
        .map(str::to_owned)
        .collect()
}

/// Checks that the points file and the graded tests agree: every listed test is a test of
/// `<lab>/tests/lab.rs`, and every test there is listed. `tests_of` gives the names of a lab's
/// tests (`None`: the lab has no `tests/lab.rs`). Lists every problem.
pub fn check(
    entries: &[Entry],
    labs: &[String],
    tests_of: impl Fn(&str) -> Option<BTreeSet<String>>,
) -> Result<(), String> {
    let mut problems = Vec::new();
    for lab in labs {
        let listed: BTreeSet<&str> = entries
            .iter()
            .filter(|e| &e.lab == lab)
            .map(|e| e.test.as_str())
            .collect();
        let Some(found) = tests_of(lab) else {
            problems.push(format!("lab {lab}: {lab}/tests/lab.rs does not exist"));
            continue;
        };
        for test in &listed {
            if !found.contains(*test) {
                problems.push(format!(
                    "{lab} {test}: listed in {FILE} but not a test of {lab}/tests/lab.rs"
                ));
            }
        }
        for test in &found {
            if !listed.contains(test.as_str()) {
                problems.push(format!(
                    "{lab} {test}: a test of {lab}/tests/lab.rs that {FILE} does not list"
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the points file and the graded tests disagree:\n  {}",
            problems.join("\n  ")
        ))
    }
}

/// [`check`] against the workspace at `root`, for every lab of the points file and every crate
/// that has a `tests/lab.rs`: their test binaries are compiled (if they are not) and listed.
pub fn check_workspace(root: &Path, entries: &[Entry]) -> Result<(), String> {
    let mut all = labs(entries);
    if let Ok(dirs) = std::fs::read_dir(root) {
        let mut found: Vec<String> = dirs
            .flatten()
            .filter(|dir| dir.path().join("tests/lab.rs").is_file())
            .filter_map(|dir| dir.file_name().into_string().ok())
            .collect();
        found.sort();
        for lab in found {
            if !all.contains(&lab) {
                all.push(lab);
            }
        }
    }
    let with_tests: Vec<String> = all
        .iter()
        .filter(|lab| root.join(lab).join("tests/lab.rs").is_file())
        .cloned()
        .collect();
    let listed = list(root, None, &with_tests, "lab")?;
    check(entries, &all, |lab| listed.get(lab).cloned())
}

/// The entries whose test `listed` holds: in a handout, the tests it has.
pub fn present(entries: &[Entry], listed: &Listed) -> Vec<Entry> {
    entries
        .iter()
        .filter(|e| {
            listed
                .get(&e.lab)
                .is_some_and(|names| names.contains(&e.test))
        })
        .cloned()
        .collect()
}

/// The points file's `text` with only the entries `keep` keeps (comments and blank lines stay).
pub fn filtered(text: &str, keep: &[Entry]) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let fields: Vec<&str> = line
            .split('#')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let kept = match fields[..] {
            [lab, test, _] => keep.iter().any(|e| e.lab == lab && e.test == test),
            _ => true,
        };
        if kept {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const POINTS: &str = "# lab test points\npipe output 10\n\npipe statuses 5  # the exits\n\
                          fifo distinct 20\n";

    /// What `--list --format terse` prints for the pipe lab of these tests.
    const PIPE_LIST: &str = "output: test\nstatuses: test\n";

    fn entries() -> Vec<Entry> {
        parse("points.txt", POINTS).unwrap()
    }

    fn files(lab: &str) -> Option<BTreeSet<String>> {
        match lab {
            "pipe" => Some(parse_list(PIPE_LIST)),
            "fifo" => Some(parse_list("distinct: test\n")),
            _ => None,
        }
    }

    #[test]
    fn lines_comments_and_blanks_parse() {
        let entries = entries();
        assert_eq!(entries.len(), 3);
        assert_eq!(
            entries[1],
            Entry {
                lab: "pipe".into(),
                test: "statuses".into(),
                points: 5
            }
        );
        assert_eq!(labs(&entries), ["pipe", "fifo"]);
    }

    #[test]
    fn malformed_lines_name_the_line() {
        let short = parse("p.txt", "pipe output\n").unwrap_err();
        assert!(short.starts_with("p.txt:1: "), "{short}");
        let bad_points = parse("p.txt", "\npipe output ten\n").unwrap_err();
        assert!(bad_points.starts_with("p.txt:2: "), "{bad_points}");
        let twice = parse("p.txt", "pipe a 1\npipe a 2\n").unwrap_err();
        assert!(
            twice.starts_with("p.txt:2: ") && twice.contains("twice"),
            "{twice}"
        );
    }

    #[test]
    fn filtering_keeps_comments_and_the_kept_entries() {
        let keep: Vec<Entry> = entries().into_iter().filter(|e| e.lab == "pipe").collect();
        assert_eq!(
            filtered(POINTS, &keep),
            "# lab test points\npipe output 10\n\npipe statuses 5  # the exits\n"
        );
    }

    #[test]
    fn a_listing_s_tests_are_its_test_lines_only() {
        let listed = "statuses: test\noutput: test\nthroughput: benchmark\n\n";
        let names: Vec<String> = parse_list(listed).into_iter().collect();
        assert_eq!(names, ["output", "statuses"]);
        assert!(parse_list("0 tests, 0 benchmarks\n").is_empty());
    }

    #[test]
    fn test_binaries_come_from_cargo_s_messages() {
        let messages = r#"{"reason":"compiler-artifact","manifest_path":"/w/pipe/Cargo.toml","target":{"kind":["lib"],"name":"pipe"},"executable":null}
{"reason":"compiler-artifact","manifest_path":"/w/pipe/Cargo.toml","target":{"kind":["test"],"name":"lab"},"executable":"/t/deps/lab-1"}
{"reason":"compiler-artifact","manifest_path":"/w/process-states/Cargo.toml","target":{"kind":["test"],"name":"lab"},"executable":"/t/deps/lab-2"}
{"reason":"compiler-artifact","manifest_path":"/w/shm/Cargo.toml","target":{"kind":["test"],"name":"lab_full"},"executable":"/t/deps/lab_full-3"}
{"reason":"build-finished","success":true}"#;
        assert_eq!(
            test_binaries(messages, "lab"),
            [
                ("pipe".to_owned(), PathBuf::from("/t/deps/lab-1")),
                ("process-states".to_owned(), PathBuf::from("/t/deps/lab-2"))
            ]
        );
        assert_eq!(test_binaries(messages, "lab_full").len(), 1);
    }

    #[test]
    fn present_entries_are_the_listed_ones() {
        let listed: Listed = [("pipe".to_owned(), parse_list("output: test\n"))].into();
        let shown: Vec<String> = present(&entries(), &listed)
            .into_iter()
            .map(|e| e.test)
            .collect();
        assert_eq!(shown, ["output"]);
    }

    #[test]
    fn matching_file_and_code_pass() {
        check(&entries(), &labs(&entries()), files).unwrap();
    }

    #[test]
    fn a_listed_test_missing_from_the_code_is_an_error() {
        let mut entries = entries();
        entries.push(Entry {
            lab: "fifo".into(),
            test: "survives_vanished_client".into(),
            points: 3,
        });
        let problem = check(&entries, &labs(&entries), files).unwrap_err();
        assert!(
            problem.contains("fifo survives_vanished_client: listed"),
            "{problem}"
        );
    }

    #[test]
    fn a_test_missing_from_the_file_is_an_error() {
        let entries: Vec<Entry> = entries()
            .into_iter()
            .filter(|e| e.test != "statuses")
            .collect();
        let problem = check(&entries, &labs(&entries), files).unwrap_err();
        assert!(problem.contains("pipe statuses: a test of"), "{problem}");
    }

    #[test]
    fn a_lab_without_a_test_file_is_an_error() {
        let entries = parse("p.txt", "shm checksums 5\n").unwrap();
        let problem = check(&entries, &labs(&entries), files).unwrap_err();
        assert!(
            problem.contains("shm/tests/lab.rs does not exist"),
            "{problem}"
        );
    }
}
