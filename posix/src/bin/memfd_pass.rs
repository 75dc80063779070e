//! # memfd_pass: shared memory with no name, handed to another program over a Unix socket
//!
//! `serve` makes memory with no name anywhere (`memfd_create`: no file in /dev/shm, only a
//! descriptor, shown in /proc/PID/fd as "/memfd:NAME (deleted)"), fills it (`ftruncate`, `mmap`,
//! `munmap`), seals it (`fcntl(F_ADD_SEALS)`: no more writes, no shrinking, no growing, no more
//! seals) and waits on a Unix socket. `take`, an unrelated program started in another terminal,
//! connects; `serve` sends it the descriptor in an `SCM_RIGHTS` message (`sendmsg`), and `take`
//! receives its own descriptor for the same memory (`recvmsg`), checks the seals
//! (`F_GET_SEALS`), maps it read-only and prints it.
//!
//! Why the seals: without `F_SEAL_SHRINK` the sender could `ftruncate` the memory to 0 while the
//! receiver reads it, and the receiver's next load would kill it with SIGBUS; without
//! `F_SEAL_WRITE` the text could change under it. `take` refuses a memfd missing either.
//! (`serve --seals write-only` or `--seals none` shows that refusal.)
//!
//! The socket file is removed when `serve` ends, on a stop too (INT, TERM, HUP: exit 128+n).
//!
//! Run: `cargo run -p posix --bin memfd_pass -- serve` in one terminal, then
//! `cargo run -p posix --bin memfd_pass -- take` in another.

#![forbid(unsafe_code)]

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use nix::fcntl::{FcntlArg, SealFlag, fcntl};
use nix::poll::PollFlags;
use nix::sys::memfd::{MFdFlags, memfd_create};
use posix::pshm::{
    BoundSocket, REQUIRED_SEALS, fd_link, fd_number, fstat, ftruncate, load_bytes, mmap,
    recvmsg_fds, seal_names, sendmsg_fd, store_bytes,
};
use support::cli::{Context, Failure, USAGE_ERROR, parse_args, report_error, run};
use support::stop::{Stop, StopContext, Stopped, finish};

/// Passes sealed memory with no name (memfd) from one program to another over a Unix socket.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(subcommand)]
    role: Option<Role>,
    /// The Unix socket that `take` connects to.
    #[arg(long, global = true, default_value = "/tmp/ipc-labs-memfd.sock")]
    socket: PathBuf,
}

#[derive(Subcommand)]
enum Role {
    /// Make and seal a memfd holding TEXT, then hand it to the first `take` that connects.
    Serve {
        /// What the memory holds.
        #[arg(
            long,
            default_value = "hello from a memfd, which has no name in any directory"
        )]
        text: String,
        /// Which seals to add before sending (all but `all` show the receiver's refusal).
        #[arg(long, value_enum, default_value_t = Seals::All)]
        seals: Seals,
    },
    /// Receive the memfd, check its seals, map it and print it.
    Take,
}

#[derive(Clone, Copy, ValueEnum)]
enum Seals {
    /// F_SEAL_WRITE, F_SEAL_SHRINK, F_SEAL_GROW, then F_SEAL_SEAL.
    All,
    /// F_SEAL_WRITE alone: the sender could still shrink it.
    WriteOnly,
    /// None.
    None,
}

fn main() -> ExitCode {
    let args: Args = parse_args();
    let Some(role) = &args.role else {
        report_error(
            "two programs share the memory: run `memfd_pass serve` in one terminal, then \
             `memfd_pass take` in another (see --help)",
        );
        return ExitCode::from(USAGE_ERROR);
    };
    run(|| {
        let stop = Stop::install()?;
        finish(match role {
            Role::Serve { text, seals } => serve(&args.socket, text, *seals, &stop),
            Role::Take => take(&args.socket, &stop),
        })
    })
}

fn serve(socket: &Path, text: &str, seals: Seals, stop: &Stop) -> Result<ExitCode, Stopped> {
    // ANCHOR: serve
    let flags = MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING;
    let memfd = memfd_create("ipc-labs-note", flags).context("memfd_create")?;
    ftruncate(memfd.as_fd(), text.len().max(1))?;
    let map = mmap(memfd.as_fd(), text.len().max(1), true)?;
    store_bytes(map.bytes(), text.as_bytes());
    map.munmap()?; // F_SEAL_WRITE fails with EBUSY while a writable shared mapping exists
    let add = match seals {
        // F_SEAL_SEAL too: nobody may change the seals any more.
        Seals::All => {
            SealFlag::F_SEAL_WRITE
                | SealFlag::F_SEAL_SHRINK
                | SealFlag::F_SEAL_GROW
                | SealFlag::F_SEAL_SEAL
        }
        Seals::WriteOnly => SealFlag::F_SEAL_WRITE,
        Seals::None => SealFlag::empty(),
    };
    fcntl(&memfd, FcntlArg::F_ADD_SEALS(add)).context("fcntl F_ADD_SEALS")?;
    // ANCHOR_END: serve
    // ANCHOR: send
    let link = fd_link(memfd.as_fd());
    let pid = std::process::id();
    println!(
        "serve: memfd_create: /proc/{pid}/fd/{} -> {link}",
        fd_number(&memfd)
    );
    let bound = BoundSocket::bind(socket)?; // bind(2), listen(2); removed on every way out
    let sealed = fcntl(&memfd, FcntlArg::F_GET_SEALS).context("fcntl F_GET_SEALS")?;
    let (sealed, path) = (seal_names(sealed), socket.display());
    println!(
        "serve: {} bytes, seals {sealed}; waiting on {path}",
        text.len()
    );
    stop.wait(&[(bound.listener.as_fd(), PollFlags::POLLIN)], None)?; // a stop ends the wait
    let (peer, _) = bound
        .listener
        .accept()
        .context(format!("accept on {}", socket.display()))?;
    let size = (text.len() as u64).to_le_bytes(); // the data byte(s) that carry the descriptor
    sendmsg_fd(peer.as_fd(), &size, memfd.as_fd())?;
    println!("serve: sent the descriptor (SCM_RIGHTS); the memory lives on in the receiver");
    Ok(ExitCode::SUCCESS)
    // ANCHOR_END: send
}

fn take(socket: &Path, stop: &Stop) -> Result<ExitCode, Stopped> {
    // ANCHOR: take
    let stream = UnixStream::connect(socket).map_err(|err| {
        Failure::new(format!(
            "connect {}: {}; start `memfd_pass serve` first",
            socket.display(),
            support::cli::explain(&err)
        ))
    })?;
    stop.wait(&[(stream.as_fd(), PollFlags::POLLIN)], None)?;
    let mut size = [0u8; 8];
    let (count, fds) = stop
        .retry(|| recvmsg_fds(stream.as_fd(), &mut size))
        .context("recvmsg")?;
    let [memfd]: [OwnedFd; 1] = fds.try_into().map_err(|fds: Vec<OwnedFd>| {
        Failure::new(format!(
            "recvmsg: {count} bytes and {} descriptors, not 1",
            fds.len()
        ))
    })?;
    let pid = std::process::id();
    println!(
        "take: got /proc/{pid}/fd/{} -> {}",
        fd_number(&memfd),
        fd_link(memfd.as_fd())
    );
    // ANCHOR_END: take
    // ANCHOR: check
    let seals = fcntl(&memfd, FcntlArg::F_GET_SEALS).context("fcntl F_GET_SEALS")?;
    if seals & REQUIRED_SEALS != REQUIRED_SEALS {
        let why = format!(
            "its seals are {}; it needs F_SEAL_WRITE and F_SEAL_SHRINK, or the sender \
             could change or shrink it under us (SIGBUS)",
            seal_names(seals)
        );
        return Err(Stopped::Failed(Failure::new(format!(
            "refused the memfd: {why}"
        ))));
    }
    let size = fstat(memfd.as_fd())?.size; // sealed: it stays this size
    let map = mmap(memfd.as_fd(), size, false)?; // read-only: F_SEAL_WRITE forbids PROT_WRITE
    let text = load_bytes(map.bytes(), size);
    println!(
        "take: seals {}, {size} bytes: {}",
        seal_names(seals),
        String::from_utf8_lossy(&text)
    );
    Ok(ExitCode::SUCCESS)
    // ANCHOR_END: check
}
