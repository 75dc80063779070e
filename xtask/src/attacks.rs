//! The autograder under attack, in CI: the Gradescope autograder is built from this repository,
//! and `grade-all` grades, as the unprivileged users it runs students' code as,
//!
//! - the reference solutions (full marks), no submission at all (0), and one attack, all labs;
//! - every attack of `xtask/tests/attacks/` on its lab, each of which must score 0.
//!
//! An attack file names its lab and the submitted file it becomes (`//! lab:` and `//! into:`
//! lines). Into a `lab.rs`, its text is the first solution region; into any other file, it is
//! appended to that file. `{{SOURCE}}` and `{{WORK}}` stand for the autograder's directories,
//! as an attacker who knows Gradescope's layout would write `/autograder/source`. After the
//! runs no process of the students' users may be left, and every results.json must hold
//! Gradescope's fields, with the hidden tests hidden.

use std::path::{Path, PathBuf};

use crate::markers;
use crate::points;
use crate::reap;
use crate::results;

/// One attack file.
struct Attack {
    name: String,
    lab: String,
    into: String,
    text: String,
}

fn attacks(root: &Path) -> Result<Vec<Attack>, String> {
    let dir = root.join("xtask/tests/attacks");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|err| format!("{}: {err}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let text =
            std::fs::read_to_string(&file).map_err(|err| format!("{}: {err}", file.display()))?;
        let field = |key: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(&format!("//! {key}: ")))
                .map(str::to_owned)
                .ok_or_else(|| format!("{}: no `//! {key}:` line", file.display()))
        };
        let body: String = text
            .lines()
            .filter(|line| !line.starts_with("//!"))
            .map(|line| format!("{line}\n"))
            .collect();
        found.push(Attack {
            name: file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            lab: field("lab")?,
            into: field("into")?,
            text: body,
        });
    }
    Ok(found)
}

/// The submission folder of `attack`: the handout's stubs, with the attack in place.
fn submission(
    root: &Path,
    attack: &Attack,
    dir: &Path,
    source: &Path,
    work: &Path,
) -> Result<(), String> {
    let text = attack
        .text
        .replace("{{SOURCE}}", &source.to_string_lossy())
        .replace("{{WORK}}", &work.to_string_lossy());
    let original = std::fs::read_to_string(root.join(&attack.into))
        .map_err(|err| format!("{}: {err}", attack.into))?;
    let submitted = if attack.into.ends_with("/src/lab.rs") {
        let stub = markers::strip(&attack.into, &original, &attack.lab)?.text;
        let regions = markers::solutions(&attack.into, &stub)?;
        let mut student = String::new();
        for (index, region) in regions.iter().enumerate() {
            student.push_str("// BEGIN SOLUTION\n");
            student.push_str(if index == 0 { &text } else { region });
            student.push_str("// END SOLUTION\n");
        }
        markers::splice(&attack.into, &stub, "attack", &student)?
    } else {
        format!("{original}\n{text}")
    };
    let path = dir.join(&attack.into);
    std::fs::create_dir_all(path.parent().unwrap_or(dir)).map_err(|err| format!("{err}"))?;
    std::fs::write(&path, submitted).map_err(|err| format!("{}: {err}", path.display()))
}

/// Runs the check; as another user than root, says it is skipped.
pub fn check(root: &Path) -> Result<(), String> {
    if nix::unistd::geteuid().as_raw() != 0 {
        println!(
            "==> autograder check skipped: it runs students' code as other users, which needs root"
        );
        return Ok(());
    }
    println!("==> the Gradescope autograder, its attacks, and grade-all");
    let base = root.join("target/autograder-check");
    let _ = std::fs::remove_dir_all(base.join("submissions"));
    let _ = std::fs::remove_dir_all(base.join("work/results"));
    let work = base.join("work");
    let source = work.join("autograder");
    let uid = crate::autograde::DEFAULT_UID;
    let entries = points::load(root)?.ok_or("no points file")?;
    let total: u32 = entries.iter().map(|e| e.points).sum();
    let attacks = attacks(root)?;
    if attacks.is_empty() {
        return Err("no attack in xtask/tests/attacks".into());
    }
    // The upload itself: no solution line anywhere in it (checked as it is written).
    let upload = crate::autograde::autograder_command(root, &base.join("upload"), None)?;

    // Run A: the reference, nothing, and the first attack, every lab.
    let first = base.join("submissions/all-labs");
    let reference = first.join("reference");
    for lab in points::labs(&entries) {
        let file = Path::new(&lab).join("src/lab.rs");
        std::fs::create_dir_all(reference.join(&lab).join("src"))
            .map_err(|err| format!("{err}"))?;
        std::fs::copy(root.join(&file), reference.join(&file)).map_err(|err| format!("{err}"))?;
    }
    std::fs::create_dir_all(first.join("nothing")).map_err(|err| format!("{err}"))?;
    submission(
        root,
        &attacks[0],
        &first.join(format!("attack-{}", attacks[0].name)),
        &source,
        &work,
    )?;
    let csv = base.join("grades.csv");
    let args = |dir: &Path, labs: Vec<String>| crate::autograde::GradeAll {
        submissions: dir.to_path_buf(),
        csv: csv.clone(),
        jobs: 1,
        hidden: None,
        work: Some(work.clone()),
        uid,
        timing: Default::default(),
        labs,
        sources: None,
    };
    crate::autograde::grade_all_command(root, &args(&first, Vec::new()))?;
    let table = std::fs::read_to_string(&csv).map_err(|err| format!("{}: {err}", csv.display()))?;
    print!("{table}");
    let totals = scores(&table)?;
    let want = [
        (format!("attack-{}", attacks[0].name), 0.0),
        ("nothing".to_owned(), 0.0),
        ("reference".to_owned(), f64::from(total)),
    ];
    let mut problems = Vec::new();
    for (student, score) in &want {
        match totals.iter().find(|(name, _)| name == student) {
            Some((_, got)) if got == score => {}
            other => problems.push(format!("{student}: wanted {score}, got {other:?}")),
        }
    }
    let reference_results = std::fs::read_to_string(work.join("results/reference.json"))
        .map_err(|err| format!("reference.json: {err}"))?;
    let checked = results::check(&reference_results)?;
    for test in &checked.tests {
        let hidden = upload
            .hidden
            .iter()
            .any(|e| format!("{}: {}", e.lab, e.test) == test.name);
        let want = if hidden {
            results::AFTER_DUE_DATE
        } else {
            results::VISIBLE
        };
        if test.visibility != want {
            problems.push(format!(
                "{}: visibility {} where {want} is due",
                test.name, test.visibility
            ));
        }
    }
    if !base.join("lab-sources/pipe/reference.rs").is_file() {
        problems.push(
            "grade-all did not keep the reference's pipe/src/lab.rs for a plagiarism checker"
                .into(),
        );
    }

    // Run B: every attack on its lab.
    let second = base.join("submissions/attacks");
    let mut labs: Vec<String> = Vec::new();
    for attack in &attacks {
        submission(
            root,
            attack,
            &second.join(format!("attack-{}", attack.name)),
            &source,
            &work,
        )?;
        if !labs.contains(&attack.lab) {
            labs.push(attack.lab.clone());
        }
    }
    crate::autograde::grade_all_command(root, &args(&second, labs))?;
    let table = std::fs::read_to_string(&csv).map_err(|err| format!("{}: {err}", csv.display()))?;
    print!("{table}");
    for (student, score) in scores(&table)? {
        if score != 0.0 {
            problems.push(format!("{student} scored {score}: the attack worked"));
        }
    }
    for attack in &attacks {
        let forged = work.join(format!("results/attack-{}.json", attack.name));
        let text = std::fs::read_to_string(&forged).unwrap_or_default();
        if results::check(&text).map(|r| r.score).unwrap_or(-1.0) != 0.0 {
            problems.push(format!("{}: results {text}", forged.display()));
        }
    }
    let left = reap::processes_of(uid);
    if !left.is_empty() {
        problems.push(format!("processes of user {uid} are left: {left:?}"));
    }
    let private_points =
        std::fs::read_to_string(source.join("private/points.txt")).unwrap_or_default();
    if private_points.contains("pipeline_runs 86") {
        problems.push("an attack rewrote the private points".into());
    }
    if !problems.is_empty() {
        return Err(format!("autograder check:\n  {}", problems.join("\n  ")));
    }
    println!(
        "==> autograder check: the reference scores {total}/{total}, no submission and {} attacks \
         score 0, nothing of the students' users is left",
        attacks.len()
    );
    Ok(())
}

/// (student, total) from grade-all's CSV.
fn scores(table: &str) -> Result<Vec<(String, f64)>, String> {
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let at = header
        .iter()
        .position(|h| *h == "total")
        .ok_or("no total column")?;
    lines
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            let total = fields
                .get(at)
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| format!("bad row {line}"))?;
            Ok((fields[0].to_owned(), total))
        })
        .collect()
}
