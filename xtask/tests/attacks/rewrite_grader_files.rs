//! lab: pipe
//! into: pipe/src/lab.rs
//! A stub that, when the grader runs it, rewrites the grader's copy of the tests, the points and
//! the results, directly and from a detached process that outlives the test. The student's user
//! may write none of them, and every process of it is killed before results.json is written:
//! 0 points.
    let _ = stages;
    let tests = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lab.rs");
    let _ = std::fs::write(tests, "#[test]\nfn pipeline_runs() {}\n");
    let _ = std::fs::write("{{SOURCE}}/private/points.txt", "pipe pipeline_runs 86\n");
    let forged = "{\"score\": 86, \"tests\": []}";
    let results = "{{WORK}}/results/attack-rewrite_grader_files.json";
    let _ = std::fs::write(results, forged);
    let _ = std::process::Command::new("setsid")
        .args(["-f", "sh", "-c"])
        .arg(format!("while :; do echo '{forged}' > {results}; sleep 0.2; done"))
        .spawn();
    Ok(Vec::new())
