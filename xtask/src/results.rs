//! Gradescope's `results.json`, with serde_json: the fields Gradescope documents for an
//! autograder's results (`score`, `execution_time`, `output`, `stdout_visibility`, and per test
//! `name`, `score`, `max_score`, `status`, `output`, `visibility`), and a check that a file
//! holds those fields and nothing else, with a score that adds up.

use serde::{Deserialize, Serialize};

/// When students see a test: `visible` at once, `after_due_date` once the due date has passed.
pub const VISIBLE: &str = "visible";
/// See [`VISIBLE`].
pub const AFTER_DUE_DATE: &str = "after_due_date";

/// One graded test's result, as Gradescope shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestResult {
    /// The test's name as students see it (`<lab>: <test>`).
    pub name: String,
    /// Points earned.
    pub score: f64,
    /// Points possible.
    pub max_score: f64,
    /// `passed` or `failed`.
    pub status: String,
    /// The test's output (or why it did not run).
    pub output: String,
    /// `visible` for the tests the handout holds, `after_due_date` for the hidden ones.
    pub visibility: String,
}

/// The whole file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Results {
    /// Points earned, all tests together.
    pub score: f64,
    /// Seconds the grading took.
    pub execution_time: f64,
    /// A line for the student above the tests.
    pub output: String,
    /// `hidden`: the autograder's own output may name hidden tests, so students never see it.
    pub stdout_visibility: String,
    /// Every graded test.
    pub tests: Vec<TestResult>,
}

impl Results {
    /// The file's text, pretty-printed.
    pub fn to_text(&self) -> String {
        serde_json::to_string_pretty(self).expect("results serialise") + "\n"
    }
}

/// Parses `text` as a results.json and checks it: only documented fields, a known status and
/// visibility on every test, scores within their maximum, and a total that is their sum.
pub fn check(text: &str) -> Result<Results, String> {
    let results: Results =
        serde_json::from_str(text).map_err(|err| format!("results.json: {err}"))?;
    let mut sum = 0.0;
    for test in &results.tests {
        if !matches!(test.status.as_str(), "passed" | "failed") {
            return Err(format!("{}: status {:?}", test.name, test.status));
        }
        let known = ["hidden", AFTER_DUE_DATE, "after_published", VISIBLE];
        if !known.contains(&test.visibility.as_str()) {
            return Err(format!("{}: visibility {:?}", test.name, test.visibility));
        }
        if test.score < 0.0 || test.score > test.max_score {
            return Err(format!(
                "{}: score {} out of {}",
                test.name, test.score, test.max_score
            ));
        }
        sum += test.score;
    }
    if (sum - results.score).abs() > 1e-9 {
        return Err(format!(
            "score {} is not the sum of the tests' scores, {sum}",
            results.score
        ));
    }
    let known = ["hidden", AFTER_DUE_DATE, "after_published", VISIBLE];
    if !known.contains(&results.stdout_visibility.as_str()) {
        return Err(format!("stdout_visibility {:?}", results.stdout_visibility));
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Results {
        Results {
            score: 3.0,
            execution_time: 1.5,
            output: "Score 3/5".into(),
            stdout_visibility: "hidden".into(),
            tests: vec![
                TestResult {
                    name: "demo: seen".into(),
                    score: 3.0,
                    max_score: 3.0,
                    status: "passed".into(),
                    output: "a \"quote\" and \u{1F600}".into(),
                    visibility: VISIBLE.into(),
                },
                TestResult {
                    name: "demo: unseen".into(),
                    score: 0.0,
                    max_score: 2.0,
                    status: "failed".into(),
                    output: String::new(),
                    visibility: AFTER_DUE_DATE.into(),
                },
            ],
        }
    }

    #[test]
    fn written_results_check_and_read_back() {
        let results = sample();
        assert_eq!(check(&results.to_text()).unwrap(), results);
    }

    #[test]
    fn a_wrong_total_an_unknown_field_or_visibility_is_refused() {
        let mut wrong = sample();
        wrong.score = 5.0;
        assert!(check(&wrong.to_text()).unwrap_err().contains("sum"));
        let mut unseen = sample();
        unseen.tests[1].visibility = "secret".into();
        assert!(check(&unseen.to_text()).unwrap_err().contains("visibility"));
        let extra = sample()
            .to_text()
            .replacen("\"score\"", "\"bonus\": 1, \"score\"", 1);
        assert!(check(&extra).unwrap_err().contains("bonus"));
    }
}
