//! The points file, `grading/points.txt`: one graded test a line, `<lab> <test_name> <points>`,
//! blank lines and `#` comments allowed. A lab is a crate; its graded tests are the `#[test]`
//! functions of `<lab>/tests/lab.rs`.

use std::collections::BTreeSet;
use std::path::Path;

/// Where the points file lives, relative to the workspace root.
pub const FILE: &str = "grading/points.txt";

/// One graded test.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The lab, which is the crate's name and directory.
    pub lab: String,
    /// The test function's name in `<lab>/tests/lab.rs`.
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

/// The names of the `#[test]` functions in a test file's text: a `fn <name>(` after a
/// `#[test]` line, other attributes and comments allowed between them.
pub fn test_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut after_test = false;
    for line in text.lines() {
        let line = line.trim();
        if line == "#[test]" {
            after_test = true;
            continue;
        }
        if !after_test || line.is_empty() || line.starts_with("#[") || line.starts_with("//") {
            continue;
        }
        after_test = false;
        let line = line.strip_prefix("pub ").unwrap_or(line);
        if let Some(rest) = line.strip_prefix("fn ")
            && let Some(open) = rest.find('(')
        {
            names.insert(rest[..open].trim().to_owned());
        }
    }
    names
}

/// Checks that the points file and the test files agree: every listed test exists as a
/// `#[test] fn` in `<lab>/tests/lab.rs`, and every test there is listed. `tests_of` gives a
/// lab's test file's text (`None`: the lab has none). Lists every problem.
pub fn check(
    entries: &[Entry],
    labs: &[String],
    tests_of: impl Fn(&str) -> Option<String>,
) -> Result<(), String> {
    let mut problems = Vec::new();
    for lab in labs {
        let listed: BTreeSet<&str> = entries
            .iter()
            .filter(|e| &e.lab == lab)
            .map(|e| e.test.as_str())
            .collect();
        let Some(text) = tests_of(lab) else {
            problems.push(format!("lab {lab}: {lab}/tests/lab.rs does not exist"));
            continue;
        };
        let found = test_names(&text);
        for test in &listed {
            if !found.contains(*test) {
                problems.push(format!(
                    "{lab} {test}: listed in {FILE} but {lab}/tests/lab.rs has no #[test] fn {test}"
                ));
            }
        }
        for test in &found {
            if !listed.contains(test.as_str()) {
                problems.push(format!(
                    "{lab} {test}: a #[test] in {lab}/tests/lab.rs that {FILE} does not list"
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

/// [`check`] against the files of the workspace at `root`, for every lab of the points file
/// and every crate that has a `tests/lab.rs`.
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
    check(entries, &all, |lab| {
        std::fs::read_to_string(root.join(lab).join("tests/lab.rs")).ok()
    })
}

/// The entries whose test is in the students' `<lab>/tests/lab.rs` (the hidden-test regions
/// stripped) of the workspace at `root`: what a handout counts.
pub fn visible(root: &Path, entries: &[Entry]) -> Result<Vec<Entry>, String> {
    let mut shown = Vec::new();
    for lab in labs(entries) {
        let file = format!("{lab}/tests/lab.rs");
        let text = std::fs::read_to_string(root.join(&file)).unwrap_or_default();
        let names = test_names(&crate::markers::strip(&file, &text, &lab)?.text);
        shown.extend(
            entries
                .iter()
                .filter(|e| e.lab == lab && names.contains(&e.test))
                .cloned(),
        );
    }
    Ok(shown)
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

    const PIPE_TESTS: &str = "use std::x;\n\n#[test]\nfn output() {}\n\n#[test]\n\
                              #[cfg(target_os = \"linux\")]\n// a comment\nfn statuses() {\n}\n\
                              fn helper() {}\n";

    fn entries() -> Vec<Entry> {
        parse("points.txt", POINTS).unwrap()
    }

    fn files(lab: &str) -> Option<String> {
        match lab {
            "pipe" => Some(PIPE_TESTS.to_owned()),
            "fifo" => Some("#[test]\nfn distinct() {}\n".to_owned()),
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
    fn test_names_are_the_test_functions_only() {
        let names: Vec<String> = test_names(PIPE_TESTS).into_iter().collect();
        assert_eq!(names, ["output", "statuses"]);
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
        assert!(problem.contains("pipe statuses: a #[test]"), "{problem}");
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
