//! lab: pipe
//! into: pipe/src/lab.rs
//! Forks a busy loop into a session of its own and returns: a test of the old grader left such
//! processes running. Every process of the student's user is killed after each test: none is
//! left when grading ends, and the lab scores 0.
    let _ = stages;
    let _ = std::process::Command::new("setsid")
        .args(["-f", "sh", "-c", "while :; do :; done"])
        .spawn();
    Ok(Vec::new())
