//! Named pipes (FIFOs): the pieces the `fifo` examples share.
//!
//! A FIFO is a pipe with a name in the file system. Any process that may open the name can use
//! the pipe, related or not; `open()` for reading waits for a writer and `open()` for writing
//! waits for a reader. This file holds what the examples have in common:
//!
//! - [`Fifo::mkfifo_or_use`]: the creation rule. `mkfifo` the FIFO (mode 0600) if nothing is at
//!   the path, use it if a FIFO is already there, refuse anything else (a regular file, a
//!   symlink), and remove it at the end only if this process made it.
//! - [`encode_line`] and [`RecordReader`]: the course notes' wire format, fixed-size records
//!   holding NUL-terminated, NUL-padded text.
//!
//! The examples stop on SIGINT, SIGTERM and SIGHUP with `support::stop::Stop`, whose handlers
//! make a blocking `open()`, `read()` or `write()` fail with EINTR. The crate has no `unsafe`
//! code.

#![forbid(unsafe_code)]

pub mod lab;

use std::fs;
use std::io::ErrorKind;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::stat::{Mode, SFlag, fchmod, fstat};
use support::cli::{Context, Failure, explain};

/// The course notes' FIFO: `./mfifo` in the current directory.
pub const DEFAULT_PATH: &str = "./mfifo";

/// The course notes' record size, `sizeof(char buff[100])`.
pub const NOTES_RECORD_SIZE: usize = 100;

/// The largest record: a write of at most `PIPE_BUF` bytes to a pipe is atomic, so records from
/// several writers never interleave.
pub const MAX_RECORD_SIZE: usize = libc::PIPE_BUF;

/// A FIFO at a path in the file system, which this process either made or found.
///
/// [`Fifo::remove`] removes the FIFO if this process made it and the path still names that same
/// FIFO; the examples call it on the main thread when their work has ended, whichever way it
/// ended: end of file, a stop signal, or an error. Dropping it does the same, silently, on a way
/// out that skips `remove` (a panic), so that nothing is left behind.
// ANCHOR: fifo
pub struct Fifo {
    path: PathBuf,
    /// Device and inode numbers of the FIFO this process made; `None` if another process made
    /// it, or once it was removed.
    made_here: Option<(u64, u64)>,
}
// ANCHOR_END: fifo

/// Read and write for the owner only, whatever the umask.
const OWNER_ONLY: Mode = Mode::S_IRUSR.union(Mode::S_IWUSR);

impl Fifo {
    /// `mkfifo(3)`, with the notes' creation rule made safe: whoever comes first makes the FIFO,
    /// the other side uses it.
    ///
    /// `mkfifo` fails with EEXIST when anything is at the path, even a dangling symlink; then
    /// `lstat` (which does not follow symlinks) looks at it. A FIFO is used as it is; a symlink
    /// or any other kind of file is refused and left untouched.
    // ANCHOR: mkfifo_or_use
    pub fn mkfifo_or_use(path: &Path) -> Result<Self, Failure> {
        let shown = path.display();
        loop {
            match nix::unistd::mkfifo(path, OWNER_ONLY) {
                Ok(()) => return Self::take_charge(path),
                Err(Errno::EEXIST) => match fs::symlink_metadata(path) {
                    Ok(found) => {
                        refuse_unless_fifo(path, &found)?;
                        let (path, made_here) = (path.to_owned(), None);
                        return Ok(Self { path, made_here });
                    }
                    // Removed between our mkfifo and our lstat: try again.
                    Err(err) if err.kind() == ErrorKind::NotFound => continue,
                    Err(err) => return Err(err).context(format!("lstat {shown}")),
                },
                Err(errno) => return Err(errno).context(format!("mkfifo {shown}")),
            }
        }
    }
    // ANCHOR_END: mkfifo_or_use

    /// Takes charge of the FIFO that `mkfifo` just made at `path`: notes which file it is, so
    /// that only this one is removed, and makes its mode 0600 if the umask took bits away.
    // ANCHOR: take_charge
    fn take_charge(path: &Path) -> Result<Self, Failure> {
        let shown = path.display();
        let made = fs::symlink_metadata(path).context(format!("lstat {shown}"))?;
        refuse_unless_fifo(path, &made)?;
        // From here on, dropping `fifo` removes what we made, even if the chmod below fails.
        let fifo = Self {
            path: path.to_owned(),
            made_here: Some((made.dev(), made.ino())),
        };
        // mkfifo's mode went through the umask, which can only take bits away from 0600
        // (umask 0277 leaves 0400, which the owner cannot open for writing): set them back.
        // Only then: for an instant, the open that this takes makes us a reader of the FIFO.
        if made.permissions().mode() & 0o777 != 0o600 {
            fifo.fchmod_owner_only()?;
        }
        Ok(fifo)
    }
    // ANCHOR_END: take_charge

    /// `fchmod(2)` to 0600 through a descriptor of the FIFO this process made, never through
    /// the path, which someone could have swapped for a symlink. (`fchmodat` with
    /// `AT_SYMLINK_NOFOLLOW` would do it by path, but glibc ≤ 2.31 refuses it with ENOTSUP, and
    /// later versions too where /proc is not mounted.)
    // ANCHOR: fchmod
    fn fchmod_owner_only(&self) -> Result<(), Failure> {
        let shown = self.path.display();
        // O_NONBLOCK: a FIFO's read-only open then returns at once, instead of waiting for a
        // writer. O_NOFOLLOW: a symlink at the path makes it fail (ELOOP) instead.
        let flags = OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let opened = open(&self.path, flags, Mode::empty()).context(format!("open {shown}"))?;
        let found = fstat(&opened).context(format!("fstat {shown}"))?;
        // Same device and inode: the very FIFO that mkfifo made, not a file put there since.
        if Some((found.st_dev as u64, found.st_ino as u64)) != self.made_here {
            return Err(Failure::new(format!(
                "{shown}: refused: it was replaced since mkfifo made it; its mode was not changed"
            )));
        }
        fchmod(&opened, OWNER_ONLY).context(format!("fchmod 0600 {shown}"))
        // `opened` is closed here.
    }
    // ANCHOR_END: fchmod

    /// The FIFO's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this process made the FIFO (and will remove it).
    pub fn made_here(&self) -> bool {
        self.made_here.is_some()
    }

    /// Where the FIFO came from, in words, for the examples' narration.
    pub fn origin(&self) -> String {
        let shown = self.path.display();
        if self.made_here() {
            format!("created the FIFO {shown} (mode 0600); it will remove it when it ends")
        } else {
            format!("found the FIFO {shown}, made by another process; using it (and leaving it)")
        }
    }

    /// `fstat(2)` on a descriptor just opened from the FIFO's path: refuses it unless it is a
    /// FIFO. The examples open with `O_NOFOLLOW`, so a symlink swapped in since `mkfifo_or_use`
    /// makes `open` fail (ELOOP); a regular file swapped in is opened (without `O_TRUNC`, so
    /// untouched) and refused here, before anything is written to it or read from it.
    // ANCHOR: refuse_if_replaced
    pub fn refuse_if_replaced(&self, opened: impl AsFd) -> Result<(), Failure> {
        let shown = self.path.display();
        let found = fstat(opened.as_fd()).context(format!("fstat {shown}"))?;
        if SFlag::from_bits_truncate(found.st_mode) & SFlag::S_IFMT != SFlag::S_IFIFO {
            return Err(Failure::new(format!(
                "{shown}: refused: it was replaced by something that is not a FIFO"
            )));
        }
        Ok(())
    }
    // ANCHOR_END: refuse_if_replaced
}

// ANCHOR: drop
impl Fifo {
    /// Removes the FIFO if this process made it and the path still names that same FIFO, and
    /// says what it did, for the example to print: `None` if another process made it (that one
    /// removes it). The examples call it last thing on their main path; on a way out that skips
    /// it (a panic), `Drop` does the same without a word.
    pub fn remove(mut self) -> Option<String> {
        self.remove_if_made_here()
    }

    fn remove_if_made_here(&mut self) -> Option<String> {
        // take(): once removed (or not), the Drop that follows has nothing left to do.
        let made = self.made_here.take()?;
        let shown = self.path.display();
        Some(match fs::symlink_metadata(&self.path) {
            Ok(now) if now.file_type().is_fifo() && (now.dev(), now.ino()) == made => {
                match fs::remove_file(&self.path) {
                    Ok(()) => format!("removed {shown}, the FIFO it created"),
                    Err(err) => format!("could not remove {shown}: {}", explain(&err)),
                }
            }
            Ok(_) => format!("left {shown} alone: it is no longer the FIFO this program made"),
            Err(_) => format!("{shown} is already gone; another process removed it"),
        })
    }
}

impl Drop for Fifo {
    fn drop(&mut self) {
        let _ = self.remove_if_made_here(); // silently: library code does not print
    }
}
// ANCHOR_END: drop

fn refuse_unless_fifo(path: &Path, found: &fs::Metadata) -> Result<(), Failure> {
    let kind = found.file_type();
    let what = if kind.is_fifo() {
        return Ok(());
    } else if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_file() {
        "a regular file"
    } else if kind.is_dir() {
        "a directory"
    } else {
        "not a FIFO"
    };
    Err(Failure::new(format!(
        "{}: refused: it is {what}, not a FIFO; it was left untouched (remove it or choose \
         another --path)",
        path.display()
    )))
}

/// The command that starts another of these examples, for the narration's "start one in
/// another terminal": `cargo run -p fifo --bin <bin>`, then `--` and `flags` if there are any,
/// each as `<name> <value>`, the value quoted when the shell would split it.
pub fn cargo_run_command(bin: &str, flags: &[(&str, String)]) -> String {
    support::cli::cargo_run_command("fifo", bin, flags)
}

/// Cuts a line into records of `record_size` bytes, ready to write one by one.
///
/// Each record is the text, a NUL, and NULs up to `record_size`: what the notes' `read.c`
/// expects (its `write.c` sends whatever follows the NUL in its buffer; we send zeros). A line
/// longer than `record_size - 1` bytes is split into several records, cut between UTF-8
/// characters. A line holding a NUL byte is refused: the reader would stop at it.
// ANCHOR: encode
pub fn encode_line(line: &[u8], record_size: usize) -> Result<Vec<Vec<u8>>, Failure> {
    if line.contains(&0) {
        return Err(Failure::new(
            "the line contains a NUL byte, which marks the end of a record's text; not sent",
        ));
    }
    let room = record_size - 1;
    let mut records = Vec::new();
    let mut rest = line;
    loop {
        let mut cut = rest.len().min(room);
        // Back up over UTF-8 continuation bytes (0b10xx_xxxx) so that no character is split.
        while cut < rest.len() && cut > 0 && rest[cut] & 0b1100_0000 == 0b1000_0000 {
            cut -= 1;
        }
        if cut == 0 && !rest.is_empty() {
            cut = rest.len().min(room); // not UTF-8 at all: cut anywhere
        }
        let mut record = rest[..cut].to_vec();
        record.resize(record_size, 0);
        records.push(record);
        rest = &rest[cut..];
        if rest.is_empty() {
            return Ok(records);
        }
    }
}

// ANCHOR_END: encode

/// The text of a record: the bytes before the first NUL.
pub fn decode_record(record: &[u8]) -> &[u8] {
    let end = record
        .iter()
        .position(|&byte| byte == 0)
        .unwrap_or(record.len());
    &record[..end]
}

/// Checks a `--record-size` value: room for at least one byte of text and its NUL, and at most
/// `PIPE_BUF` so that each record is written atomically.
pub fn parse_record_size(text: &str) -> Result<usize, String> {
    let size: usize = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if (2..=MAX_RECORD_SIZE).contains(&size) {
        Ok(size)
    } else {
        Err(format!(
            "{size} is out of range: a record holds 2 to {MAX_RECORD_SIZE} (PIPE_BUF) bytes"
        ))
    }
}

/// Collects the bytes that `read()` returns from a FIFO into whole records.
///
/// A pipe carries bytes, not messages, so one `read()` may return less than a record (a writer
/// using another record size) or several records; whole records come out in order.
// ANCHOR: record_reader
pub struct RecordReader {
    record_size: usize,
    pending: Vec<u8>,
}

impl RecordReader {
    /// A reader of records of `record_size` bytes.
    pub fn new(record_size: usize) -> Self {
        Self {
            record_size,
            pending: Vec::new(),
        }
    }

    /// Takes the bytes one `read()` returned; gives back the texts of the records they
    /// completed (possibly none).
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        self.pending.extend_from_slice(bytes);
        let whole = self.pending.len() / self.record_size * self.record_size;
        let texts = self.pending[..whole]
            .chunks(self.record_size)
            .map(|record| decode_record(record).to_vec())
            .collect();
        self.pending.drain(..whole);
        texts
    }

    /// How many bytes of an incomplete record it holds: at end of file, what is thrown away
    /// (0 normally).
    pub fn leftover(&self) -> usize {
        self.pending.len()
    }
}
// ANCHOR_END: record_reader

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_line_is_one_record_padded_with_nuls() {
        let records = encode_line(b"hello", NOTES_RECORD_SIZE).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].len(), 100);
        assert_eq!(&records[0][..5], b"hello");
        assert!(records[0][5..].iter().all(|&byte| byte == 0));
        assert_eq!(decode_record(&records[0]), b"hello");
    }

    #[test]
    fn an_empty_line_is_one_empty_record() {
        let records = encode_line(b"", 8).unwrap();
        assert_eq!(records, vec![vec![0; 8]]);
    }

    #[test]
    fn a_long_line_is_split_between_characters() {
        // "é" is two bytes; with 3 bytes of text per record, "aé" fits and "éé" does not.
        let line = "aéé".as_bytes();
        let texts: Vec<Vec<u8>> = encode_line(line, 4)
            .unwrap()
            .iter()
            .map(|record| decode_record(record).to_vec())
            .collect();
        assert_eq!(texts, vec!["aé".as_bytes(), "é".as_bytes()]);
        assert_eq!(texts.concat(), line);
    }

    #[test]
    fn a_line_with_a_nul_is_refused() {
        assert!(encode_line(b"a\0b", NOTES_RECORD_SIZE).is_err());
    }

    #[test]
    fn a_record_without_nul_decodes_whole() {
        assert_eq!(decode_record(b"abc"), b"abc");
    }

    #[test]
    fn record_size_is_bounded_by_pipe_buf() {
        assert_eq!(parse_record_size("100"), Ok(100));
        assert_eq!(parse_record_size("4096"), Ok(4096));
        assert!(parse_record_size("4097").is_err());
        assert!(parse_record_size("1").is_err());
        assert!(parse_record_size("x").is_err());
    }

    #[test]
    fn the_command_for_the_other_side_quotes_what_the_shell_would_split() {
        assert_eq!(
            cargo_run_command("writer", &[]),
            "cargo run -p fifo --bin writer"
        );
        let flags = [
            ("--path", "/tmp/my fifo's".to_owned()),
            ("--record-size", "64".to_owned()),
        ];
        assert_eq!(
            cargo_run_command("reader", &flags),
            r"cargo run -p fifo --bin reader -- --path '/tmp/my fifo'\''s' --record-size 64"
        );
    }

    #[test]
    fn remove_says_what_it_did_and_drop_removes_silently() {
        let dir = testkit::TempDir::new("fifo-lib-remove");
        let path = dir.path().join("mfifo");
        let made = Fifo::mkfifo_or_use(&path).unwrap();
        let found = Fifo::mkfifo_or_use(&path).unwrap();
        assert!(made.made_here() && !found.made_here());
        assert_eq!(
            found.remove(),
            None,
            "not its FIFO: nothing to say, nothing done"
        );
        let said = made.remove().expect("its own FIFO: it says what it did");
        assert_eq!(
            said,
            format!("removed {}, the FIFO it created", path.display())
        );
        assert!(fs::symlink_metadata(&path).is_err());
        // Replaced by another kind of file since: left alone.
        let made = Fifo::mkfifo_or_use(&path).unwrap();
        fs::remove_file(&path).unwrap();
        fs::write(&path, "someone else's").unwrap();
        assert!(made.remove().unwrap().contains("left"));
        assert!(fs::symlink_metadata(&path).is_ok());
        fs::remove_file(&path).unwrap();
        // The fallback: dropped without remove(), it still removes what it made.
        drop(Fifo::mkfifo_or_use(&path).unwrap());
        assert!(fs::symlink_metadata(&path).is_err());
    }

    #[test]
    fn records_come_out_whole_however_the_reads_cut_them() {
        let mut records = RecordReader::new(4);
        assert!(records.push(b"ab\0").is_empty());
        assert_eq!(records.leftover(), 3);
        assert_eq!(
            records.push(b"\0cd\0\0e"),
            vec![b"ab".to_vec(), b"cd".to_vec()]
        );
        assert_eq!(records.leftover(), 1);
    }
}
