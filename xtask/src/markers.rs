//! The lab markers, and the stripper that turns the instructor's sources into the students'.
//!
//! - `// BEGIN SOLUTION` ... `// END SOLUTION`: the reference solution. The handout keeps the
//!   two marker lines and replaces what is between them by the `// BEGIN PROMPT` ...
//!   `// END PROMPT` block right before the region (its text, without the prompt's marker
//!   lines), or, without a prompt, by one `todo!(...)` line at the region's indentation. The
//!   student writes between the markers; a grader takes only that text ([`splice`]).
//! - `// BEGIN HIDDEN TESTS` ... `// END HIDDEN TESTS`: graded tests that students do not see;
//!   the handout removes them.
//!
//! Markers stand alone on their line (any indentation). Regions do not nest; a nested or
//! unbalanced marker is an error that names the file and the line.

/// The marker lines, trimmed.
const BEGIN_SOLUTION: &str = "// BEGIN SOLUTION";
const END_SOLUTION: &str = "// END SOLUTION";
const BEGIN_PROMPT: &str = "// BEGIN PROMPT";
const END_PROMPT: &str = "// END PROMPT";
const BEGIN_HIDDEN: &str = "// BEGIN HIDDEN TESTS";
const END_HIDDEN: &str = "// END HIDDEN TESTS";

/// Secret lines shorter than this (trimmed) are too common to look for in the handout.
pub const MIN_SECRET_LEN: usize = 12;

/// A file after stripping.
#[derive(Debug, Default, PartialEq)]
pub struct Stripped {
    /// The students' version of the file.
    pub text: String,
    /// Trimmed lines, at least [`MIN_SECRET_LEN`] long, from the solution and hidden-test
    /// regions, each with its line number (1-based): text that must not reach the handout.
    pub secret: Vec<(usize, String)>,
    /// The ones of [`Stripped::secret`] that come from solution regions.
    pub solution_secret: Vec<(usize, String)>,
    /// How many solution regions the file had.
    pub solutions: usize,
    /// How many hidden-test regions the file had.
    pub hidden: usize,
}

#[derive(Clone, Copy, PartialEq)]
enum Region {
    Prompt,
    Solution,
    Hidden,
}

impl Region {
    fn name(self) -> &'static str {
        match self {
            Region::Prompt => "PROMPT",
            Region::Solution => "SOLUTION",
            Region::Hidden => "HIDDEN TESTS",
        }
    }
}

fn marker(line: &str) -> Option<(bool, Region)> {
    match line.trim() {
        BEGIN_SOLUTION => Some((true, Region::Solution)),
        END_SOLUTION => Some((false, Region::Solution)),
        BEGIN_PROMPT => Some((true, Region::Prompt)),
        END_PROMPT => Some((false, Region::Prompt)),
        BEGIN_HIDDEN => Some((true, Region::Hidden)),
        END_HIDDEN => Some((false, Region::Hidden)),
        _ => None,
    }
}

/// The `todo!` line that stands for a solution region without a prompt.
pub fn todo_line(indent: &str, lab: &str) -> String {
    format!("{indent}todo!(\"solve the lab: see book/src/labs/{lab}.md\")\n")
}

/// Strips the markers from `text`, the contents of `file` (named in errors), a file of the lab
/// `lab` (named in the `todo!` hint).
pub fn strip(file: &str, text: &str, lab: &str) -> Result<Stripped, String> {
    let mut out = Stripped::default();
    // The open region: its kind, the line of its BEGIN marker and that marker's indentation.
    let mut open: Option<(Region, usize, String)> = None;
    // The text of the prompt being read.
    let mut starter = String::new();
    // A closed prompt (its BEGIN line and text), waiting for the solution region it stands for.
    let mut prompt: Option<(usize, String)> = None;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let number = index + 1;
        let at = |message: String| format!("{file}:{number}: {message}");
        let content = line.trim_end_matches(['\n', '\r']);
        let trimmed = content.trim();
        match (marker(content), &open) {
            (Some((true, kind)), None) => {
                if let Some((prompt_line, _)) = &prompt
                    && kind != Region::Solution
                {
                    return Err(at(format!(
                        "// BEGIN {} after the PROMPT of line {prompt_line}: a PROMPT must be \
                         followed by a // BEGIN SOLUTION",
                        kind.name()
                    )));
                }
                let indent = &content[..content.len() - content.trim_start().len()];
                open = Some((kind, number, indent.to_owned()));
                match kind {
                    Region::Solution => out.solutions += 1,
                    Region::Hidden => out.hidden += 1,
                    Region::Prompt => starter.clear(),
                }
            }
            (Some((true, kind)), Some((outer, begun, _))) => {
                return Err(at(format!(
                    "// BEGIN {} inside the {} region opened on line {begun}: regions do not nest",
                    kind.name(),
                    outer.name()
                )));
            }
            (Some((false, kind)), None) => {
                return Err(at(format!(
                    "// END {} without a matching // BEGIN {}",
                    kind.name(),
                    kind.name()
                )));
            }
            (Some((false, kind)), Some((outer, begun, indent))) => {
                if kind != *outer {
                    return Err(at(format!(
                        "// END {} closes the {} region opened on line {begun}",
                        kind.name(),
                        outer.name()
                    )));
                }
                match kind {
                    Region::Prompt => prompt = Some((*begun, std::mem::take(&mut starter))),
                    Region::Solution => {
                        // The marker lines stay: the student writes between them, and the
                        // grader takes only what is between them (see [`splice`]).
                        out.text.push_str(&format!("{indent}{BEGIN_SOLUTION}\n"));
                        match prompt.take() {
                            Some((_, text)) => out.text.push_str(&text),
                            None => out.text.push_str(&todo_line(indent, lab)),
                        }
                        out.text.push_str(&format!("{indent}{END_SOLUTION}\n"));
                    }
                    Region::Hidden => {}
                }
                open = None;
            }
            (None, Some((kind @ (Region::Solution | Region::Hidden), _, _))) => {
                if trimmed.len() >= MIN_SECRET_LEN {
                    out.secret.push((number, trimmed.to_owned()));
                    if *kind == Region::Solution {
                        out.solution_secret.push((number, trimmed.to_owned()));
                    }
                }
            }
            (None, Some((Region::Prompt, _, _))) => {
                starter.push_str(line);
            }
            (None, None) => {
                if let Some((prompt_line, _)) = &prompt
                    && !trimmed.is_empty()
                {
                    return Err(at(format!(
                        "the PROMPT of line {prompt_line} is not followed by a // BEGIN SOLUTION"
                    )));
                }
                out.text.push_str(line);
            }
        }
    }
    if let Some((kind, begun, _)) = open {
        return Err(format!(
            "{file}:{begun}: // BEGIN {} is never closed by // END {}",
            kind.name(),
            kind.name()
        ));
    }
    if let Some((prompt_line, _)) = prompt {
        return Err(format!(
            "{file}:{prompt_line}: the PROMPT is not followed by a // BEGIN SOLUTION"
        ));
    }
    out.text = tidy_blank_lines(&out.text);
    Ok(out)
}

/// The text between each `// BEGIN SOLUTION` and `// END SOLUTION` line of `text` (the
/// contents of `file`, named in errors), in order. Only whole-line markers count; anything
/// else, other markers included, is the region's text.
pub fn solutions(file: &str, text: &str) -> Result<Vec<String>, String> {
    let mut regions = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let number = index + 1;
        match (line.trim(), &mut open) {
            (BEGIN_SOLUTION, None) => open = Some((number, String::new())),
            (BEGIN_SOLUTION, Some((begun, _))) => {
                return Err(format!(
                    "{file}:{number}: // BEGIN SOLUTION inside the region opened on line \
                     {begun}: regions do not nest"
                ));
            }
            (END_SOLUTION, None) => {
                return Err(format!(
                    "{file}:{number}: // END SOLUTION without a matching // BEGIN SOLUTION"
                ));
            }
            (END_SOLUTION, Some(_)) => {
                if let Some((_, region)) = open.take() {
                    regions.push(region);
                }
            }
            (_, Some((_, region))) => region.push_str(line),
            (_, None) => {}
        }
    }
    if let Some((begun, _)) = open {
        return Err(format!(
            "{file}:{begun}: // BEGIN SOLUTION is never closed by // END SOLUTION"
        ));
    }
    Ok(regions)
}

/// The grader's `template` (a handout's `lab.rs`, markers kept) with the text of each of its
/// solution regions replaced by the text of the same region in `submitted`, the student's
/// file: the grader's code outside the regions stays the grader's. The two must have as many
/// regions; `submitted_name` names the student's file in errors.
pub fn splice(
    template_name: &str,
    template: &str,
    submitted_name: &str,
    submitted: &str,
) -> Result<String, String> {
    let wanted = solutions(template_name, template)?.len();
    let answers = solutions(submitted_name, submitted)?;
    if answers.len() != wanted {
        return Err(format!(
            "{submitted_name} has {} solution regions where the handout has {wanted}: keep every \
             `// BEGIN SOLUTION` and `// END SOLUTION` line of the handout, and write between them",
            answers.len()
        ));
    }
    let mut answers = answers.into_iter();
    let mut out = String::with_capacity(template.len() + submitted.len());
    let mut inside = false;
    for line in template.split_inclusive('\n') {
        match line.trim() {
            BEGIN_SOLUTION => {
                out.push_str(line);
                out.push_str(&answers.next().unwrap_or_default());
                inside = true;
            }
            END_SOLUTION => {
                out.push_str(line);
                inside = false;
            }
            _ if inside => {}
            _ => out.push_str(line),
        }
    }
    Ok(out)
}

/// What rustfmt would leave after a region was cut out: never two blank lines in a row, and no
/// blank line at the end of the file (a hidden-test region is usually the last thing in one).
fn tidy_blank_lines(text: &str) -> String {
    let mut tidy = String::with_capacity(text.len());
    let mut previous_blank = false;
    for line in text.split_inclusive('\n') {
        let blank = line.trim().is_empty();
        if !(blank && previous_blank) {
            tidy.push_str(line);
        }
        previous_blank = blank;
    }
    let kept = tidy.trim_end().len();
    if kept < tidy.len() && text.ends_with('\n') {
        tidy.truncate(kept);
        tidy.push('\n');
    }
    tidy
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stripped(text: &str) -> String {
        strip("demo/src/lab.rs", text, "demo").unwrap().text
    }

    fn error(text: &str) -> String {
        strip("demo/src/lab.rs", text, "demo").unwrap_err()
    }

    #[test]
    fn cutting_a_region_leaves_no_double_or_trailing_blank_line() {
        let text = "fn a() {}\n\n// BEGIN HIDDEN TESTS\nfn b() {}\n// END HIDDEN TESTS\n\nfn c() {}\n\n\
                    // BEGIN HIDDEN TESTS\nfn d() {}\n// END HIDDEN TESTS\n";
        assert_eq!(stripped(text), "fn a() {}\n\nfn c() {}\n");
    }

    #[test]
    fn a_solution_becomes_a_todo_at_its_indentation() {
        let text = "fn f() -> u32 {\n    // BEGIN SOLUTION\n    let x = 40;\n    x + 2\n    \
                    // END SOLUTION\n}\n";
        assert_eq!(
            stripped(text),
            "fn f() -> u32 {\n    // BEGIN SOLUTION\n    todo!(\"solve the lab: see book/src/labs/demo.md\")\n    \
             // END SOLUTION\n}\n"
        );
    }

    #[test]
    fn a_prompt_replaces_the_solution_without_its_markers() {
        let text = "fn f() {\n    // BEGIN PROMPT\n    // Call g twice.\n    todo!()\n    \
                    // END PROMPT\n    // BEGIN SOLUTION\n    g();\n    g();\n    \
                    // END SOLUTION\n}\n";
        assert_eq!(
            stripped(text),
            "fn f() {\n    // BEGIN SOLUTION\n    // Call g twice.\n    todo!()\n    \
             // END SOLUTION\n}\n"
        );
    }

    #[test]
    fn hidden_tests_are_removed() {
        let text = "#[test]\nfn seen() {}\n// BEGIN HIDDEN TESTS\n#[test]\nfn unseen() {}\n\
                    // END HIDDEN TESTS\n#[test]\nfn also_seen() {}\n";
        assert_eq!(
            stripped(text),
            "#[test]\nfn seen() {}\n#[test]\nfn also_seen() {}\n"
        );
    }

    #[test]
    fn a_file_without_markers_is_unchanged() {
        let text = "fn main() {\n    println!(\"hi\");\n}";
        assert_eq!(stripped(text), text);
    }

    #[test]
    fn secret_lines_are_long_solution_and_hidden_lines() {
        let text = "fn f() {\n    // BEGIN SOLUTION\n    let secret_value = 42;\n    x\n    \
                    // END SOLUTION\n}\n// BEGIN HIDDEN TESTS\nfn hidden_checker() {}\n\
                    // END HIDDEN TESTS\n";
        let out = strip("a.rs", text, "demo").unwrap();
        assert_eq!(
            out.secret,
            vec![
                (3, "let secret_value = 42;".to_owned()),
                (8, "fn hidden_checker() {}".to_owned())
            ]
        );
        assert_eq!((out.solutions, out.hidden), (1, 1));
    }

    #[test]
    fn nested_markers_name_the_file_and_line() {
        let text = "// BEGIN SOLUTION\na\n// BEGIN SOLUTION\n// END SOLUTION\n// END SOLUTION\n";
        let problem = error(text);
        assert!(problem.starts_with("demo/src/lab.rs:3: "), "{problem}");
        assert!(problem.contains("nest"), "{problem}");
        let text = "// BEGIN HIDDEN TESTS\n  // BEGIN SOLUTION\n// END SOLUTION\n";
        assert!(error(text).starts_with("demo/src/lab.rs:2: "));
    }

    #[test]
    fn unbalanced_markers_name_the_file_and_line() {
        let never_closed = error("a\n  // BEGIN SOLUTION\nb\n");
        assert!(
            never_closed.starts_with("demo/src/lab.rs:2: "),
            "{never_closed}"
        );
        assert!(never_closed.contains("never closed"), "{never_closed}");
        let never_opened = error("a\nb\n// END SOLUTION\n");
        assert!(
            never_opened.starts_with("demo/src/lab.rs:3: "),
            "{never_opened}"
        );
        let crossed = error("// BEGIN SOLUTION\n// END HIDDEN TESTS\n");
        assert!(crossed.starts_with("demo/src/lab.rs:2: "), "{crossed}");
        let hidden_open = error("// BEGIN HIDDEN TESTS\n#[test]\n");
        assert!(
            hidden_open.starts_with("demo/src/lab.rs:1: "),
            "{hidden_open}"
        );
    }

    #[test]
    fn a_prompt_must_be_followed_by_a_solution() {
        let alone = error("// BEGIN PROMPT\n// do it\n// END PROMPT\nfn f() {}\n");
        assert!(alone.starts_with("demo/src/lab.rs:4: "), "{alone}");
        let at_end = error("// BEGIN PROMPT\n// do it\n// END PROMPT\n");
        assert!(at_end.starts_with("demo/src/lab.rs:1: "), "{at_end}");
        let hidden = error("// BEGIN PROMPT\n// END PROMPT\n// BEGIN HIDDEN TESTS\n");
        assert!(hidden.starts_with("demo/src/lab.rs:3: "), "{hidden}");
    }

    #[test]
    fn splice_takes_only_the_regions_of_the_submission() {
        let template = "#![forbid(unsafe_code)]\nfn f() -> u32 {\n    // BEGIN SOLUTION\n    \
                        todo!()\n    // END SOLUTION\n}\nfn g() {\n// BEGIN SOLUTION\n\
                        // END SOLUTION\n}\n";
        let submitted = "// the student rewrote the top\nfn f() -> u32 {\n    // BEGIN SOLUTION\n    \
                         42\n    // END SOLUTION\n}\nimpl Drop for X {}\nfn g() {\n    \
                         // BEGIN SOLUTION\n    h();\n    // END SOLUTION\n}\n";
        let spliced = splice("t.rs", template, "s.rs", submitted).unwrap();
        assert_eq!(
            spliced,
            "#![forbid(unsafe_code)]\nfn f() -> u32 {\n    // BEGIN SOLUTION\n    42\n    \
             // END SOLUTION\n}\nfn g() {\n// BEGIN SOLUTION\n    h();\n// END SOLUTION\n}\n"
        );
    }

    #[test]
    fn splice_refuses_a_submission_with_other_regions() {
        let template = "// BEGIN SOLUTION\n// END SOLUTION\n// BEGIN SOLUTION\n// END SOLUTION\n";
        let one = "// BEGIN SOLUTION\nall of it\n// END SOLUTION\n";
        let problem = splice("t.rs", template, "s.rs", one).unwrap_err();
        assert!(problem.contains("s.rs has 1 solution regions where the handout has 2"));
        let open = "// BEGIN SOLUTION\n// END SOLUTION\n// BEGIN SOLUTION\n";
        assert!(
            splice("t.rs", template, "s.rs", open)
                .unwrap_err()
                .starts_with("s.rs:3: ")
        );
    }
}
