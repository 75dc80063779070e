//! # bare_psem: a named POSIX semaphore, a post from a child, a wait in the parent
//!
//! The POSIX semaphore calls in a row with nothing around them: `sem_open` creates a named
//! semaphore with value 0 (O_CREAT | O_EXCL, mode 0600), `sem_getvalue` reads it, a forked
//! child `sem_post`s through its copy of the mapping, the parent `sem_wait`s for that post,
//! `sem_close` (dropping the handle) unmaps it and `sem_unlink` removes the name. The course
//! notes teach the System V calls (`semget`, `semop`); this is the newer interface to the same
//! idea, one counter per name.
//!
//! Nothing is left behind, even when a step fails: the `Unlinker` made right after the
//! creation unlinks the name when it is dropped on the way out. For waiting with a timeout,
//! signals and several terminals, see `psem`.
//!
//! Signals: none handled; the parent's only wait ends as soon as the child posts.
//!
//! Run: `cargo run -p posix --bin bare_psem` (the name is `/ipc-labs-bare-psem-<pid>`).

#![forbid(unsafe_code)]

use std::process::ExitCode;

use posix::psem::{NamedSemaphore, OpenMode, Unlinker, sem_file};
use support::cli::{Context, Failure, parse_args, run};
use support::{Forked, describe, fork, run_child};

/// A named semaphore: sem_open, a forked child's sem_post, the parent's sem_wait, sem_unlink.
#[derive(clap::Parser)]
#[command(version)]
struct Args {
    /// The semaphore's name: one `/`, then no other (default `/ipc-labs-bare-psem-<pid>`).
    #[arg(long)]
    name: Option<String>,
}

fn bare(name: &str) -> Result<ExitCode, Failure> {
    // ANCHOR: bare
    // sem_open(3): a NEW semaphore (O_CREAT | O_EXCL), mode 0600, value 0
    let sem = NamedSemaphore::sem_open(name, OpenMode::CreateNew, 0o600, 0)
        .context(format!("sem_open {name}"))?;
    let unlinker = Unlinker::new(name); // an error below unlinks it on the way out
    let file = sem_file(name);
    println!(
        "sem_open: created {name}, value 0, mode 0600 (the file {})",
        file.display()
    );
    println!("sem_getvalue: {} before the post", sem.sem_getvalue()?);

    match fork()? {
        Forked::Child => run_child(|| {
            // The child's copy of the mapping; an unrelated process would sem_open the name.
            println!("child:  sem_post on {name}: +1, wakes the parent");
            i32::from(sem.sem_post().is_err()) // sem_post(3)
        }),
        Forked::Parent(mut child) => {
            sem.sem_wait()?; // sem_wait(3): sleeps while the value is 0, then takes 1
            println!("parent: sem_wait returned: the child's post came, and I took it");
            let status = child.waitpid_with(None)?;
            println!("parent: the child {}", describe(&status));
        }
    }
    println!("sem_getvalue: {} after the wait", sem.sem_getvalue()?);
    drop(sem); // sem_close(3): unmaps it here; the name stays
    unlinker.sem_unlink()?; // sem_unlink(3): removes the name and the file
    println!(
        "sem_close, sem_unlink: removed {name}; {} is gone",
        file.display()
    );
    // ANCHOR_END: bare
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let args: Args = parse_args(); // --help and --version
    let name = args
        .name
        .unwrap_or_else(|| format!("/ipc-labs-bare-psem-{}", std::process::id()));
    run(|| bare(&name)) // an error: one line, exit 1; a closed terminal: 129 (128 + SIGHUP)
}
