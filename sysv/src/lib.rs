//! What the three System V IPC crates (`msgqueue`, `shm`, `semaphore`) share.
//!
//! System V objects are not files: a process finds one by a numeric [`Key`], gets back an
//! identifier (`msgget`, `shmget`, `semget`), and the object lives in the kernel until someone
//! removes it with `IPC_RMID` or the machine reboots. This crate holds the pieces around that:
//!
//! - [`Key`]: from [`ftok`], from an explicit number, or [`Key::PRIVATE`]; a [`NamedKey`] also
//!   remembers where it came from, so that every message can say `key 0x61001234 =
//!   ftok("/home/me/file", 'a')` and a student sees at once why two programs did not meet.
//! - [`Permissions`]: 0600 unless asked. The `*get` calls themselves (`msgget`, later
//!   `semget` and `shmget`) live in each crate, named after the call, so that an example shows
//!   them.
//! - [`check_owner`]: refuse an object that another user owns (unless `--accept-foreign`), and
//!   warn about one of your own that others may write to.
//! - [`Error`]: names the operation and the errno, `msgsnd: EIDRM: Identifier removed`.
//!   `support` turns it into the examples' one error type, so an example can write
//!   `ftok(path, proj)?`.
//! - [`list`]: the objects in `/proc/sysvipc/{msg,shm,sem}`, for `ipcs`-like tools and for CI's
//!   leak check.
//!
//! - [`remove`]: `IPC_RMID` of any kind of object by its id, for tests and tools that clean up
//!   after a program that was killed.
//!
//! It knows kernel objects, not command lines or signals: the key flags (`KeyArgs`) and the
//! stop mechanism live in `support`, above it. So a tool that only lists `/proc/sysvipc`
//! builds neither clap nor signal-hook.
//!
//! The only `unsafe` here is the calls to `ftok` and the three `*ctl(IPC_RMID)`.

use std::ffi::CString;
use std::fmt::{self, Display};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

/// A failed System V operation: what was attempted, the errno if the kernel gave one, and an
/// explanation in words if there is more to say.
///
/// Displays as one line: `msgsnd: EAGAIN: Try again (the queue is full)`, or
/// `check the owner of queue 3: refused: ...` when there is no errno.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    operation: String,
    errno: Option<Errno>,
    why: Option<String>,
}

impl Error {
    /// `operation` failed with `errno`.
    pub fn new(operation: impl Display, errno: Errno) -> Self {
        Self {
            operation: operation.to_string(),
            errno: Some(errno),
            why: None,
        }
    }

    /// `operation` failed with the errno the last failed call left behind.
    pub fn last(operation: impl Display) -> Self {
        Self::new(operation, Errno::last())
    }

    /// `operation` was refused by this program (not by the kernel), for the reason `why`.
    pub fn refused(operation: impl Display, why: impl Display) -> Self {
        Self {
            operation: operation.to_string(),
            errno: None,
            why: Some(why.to_string()),
        }
    }

    /// Adds an explanation in words: `msgrcv: EIDRM: Identifier removed (the queue was removed)`.
    pub fn because(mut self, why: impl Display) -> Self {
        self.why = Some(why.to_string());
        self
    }

    /// The errno, if the kernel refused the operation.
    pub fn errno(&self) -> Option<Errno> {
        self.errno
    }

    /// What was attempted, such as `msgsnd`.
    pub fn operation(&self) -> &str {
        &self.operation
    }
}

impl Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.errno, &self.why) {
            (Some(errno), Some(why)) => write!(f, "{}: {errno} ({why})", self.operation),
            (Some(errno), None) => write!(f, "{}: {errno}", self.operation),
            (None, Some(why)) => write!(f, "{}: {why}", self.operation),
            (None, None) => write!(f, "{}: failed", self.operation),
        }
    }
}

impl std::error::Error for Error {}

/// The number that names a System V object, shared by every process that wants the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key(libc::key_t);

impl Key {
    /// `IPC_PRIVATE`: every `msgget`/`shmget`/`semget` with it creates a new object that no
    /// other process can find by key. Useful when the processes sharing it are the creator's
    /// own children, which inherit the identifier.
    pub const PRIVATE: Key = Key(libc::IPC_PRIVATE);

    /// An explicit key, such as the course notes' 1234. Easy to remember, and just as easy for an
    /// unrelated program to pick too.
    pub const fn from_number(key: libc::key_t) -> Key {
        Key(key)
    }

    /// The raw value for `msgget` and friends.
    pub const fn raw(self) -> libc::key_t {
        self.0
    }

    /// Whether this is `IPC_PRIVATE`.
    pub const fn is_private(self) -> bool {
        self.0 == libc::IPC_PRIVATE
    }
}

impl Display for Key {
    /// `0x6101b3f2`, the way `ipcs` prints keys; `IPC_PRIVATE` for key 0.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_private() {
            f.write_str("IPC_PRIVATE")
        } else {
            write!(f, "{:#010x}", self.0 as u32)
        }
    }
}

/// `ftok(3)`: a key computed from the file at `path` and `proj_id`: the file's inode number
/// (low 16 bits), its device (8 bits) and `proj_id` (8 bits). Two programs that name the same
/// existing file and the same `proj_id` get the same key. Deleting and re-creating the file
/// changes its inode, and so the key; two different files can collide.
///
/// A missing path fails with ENOENT, naming the absolute path (a relative one such as `./file`
/// depends on the current directory): `ftok /home/me/file: ENOENT: No such file or directory
/// (the key file must exist: ...)`. [`NamedKey::ftok`] keeps that path for later messages.
pub fn ftok(path: &Path, proj_id: u8) -> Result<Key, Error> {
    let operation = format!("ftok {}", absolute(path).display());
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::refused(&operation, "the path contains a NUL byte"))?;
    // SAFETY: `c_path` is a valid NUL-terminated string that lives across the call; ftok only
    // reads it (it calls stat) and keeps no pointer.
    let key = unsafe { libc::ftok(c_path.as_ptr(), libc::c_int::from(proj_id)) };
    if key == -1 {
        let err = Error::last(operation);
        return Err(match err.errno() {
            Some(Errno::ENOENT) => err.because(
                "the key file must exist: ftok combines its inode number with the project id",
            ),
            _ => err,
        });
    }
    Ok(Key(key))
}

/// `path` made absolute against the current directory (without resolving symlinks), or as it
/// is if the current directory cannot be found.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// A [`Key`] and where it came from, for messages: `key 0x61001234 = ftok("/home/me/file",
/// 'a')`, `key 0x000004d2` for a number given with `--key`, or `IPC_PRIVATE`.
///
/// `ftok("./file", 'a')` gives another key in every directory: a receiver started in one
/// directory and a sender started in another never meet. Naming the absolute path of the key
/// file in every message shows why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedKey {
    key: Key,
    ftok: Option<(PathBuf, u8)>,
}

impl NamedKey {
    /// [`ftok`] of `path` and `proj_id`, remembering the absolute path of the key file.
    pub fn ftok(path: &Path, proj_id: u8) -> Result<NamedKey, Error> {
        Ok(NamedKey {
            key: ftok(path, proj_id)?,
            ftok: Some((absolute(path), proj_id)),
        })
    }

    /// The key itself.
    pub fn key(&self) -> Key {
        self.key
    }

    /// The absolute path of the key file, for a key made by ftok.
    pub fn path(&self) -> Option<&Path> {
        self.ftok.as_ref().map(|(path, _)| path.as_path())
    }
}

impl From<Key> for NamedKey {
    /// A key that came from a number (`--key 1234`) or [`Key::PRIVATE`]: no file behind it.
    fn from(key: Key) -> Self {
        NamedKey { key, ftok: None }
    }
}

impl Display for NamedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.ftok {
            _ if self.key.is_private() => write!(f, "{}", self.key),
            None => write!(f, "key {}", self.key),
            Some((path, proj)) if proj.is_ascii_graphic() => {
                write!(
                    f,
                    "key {} = ftok({path:?}, '{}')",
                    self.key,
                    char::from(*proj)
                )
            }
            Some((path, proj)) => write!(f, "key {} = ftok({path:?}, {proj})", self.key),
        }
    }
}

/// The read/write bits of a new object, like a file's mode (the execute bits mean nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permissions(u16);

impl Permissions {
    /// Mode `mode & 0o777`.
    pub const fn new(mode: u16) -> Self {
        Self(mode & 0o777)
    }

    /// The mode bits.
    pub const fn mode(self) -> u16 {
        self.0
    }
}

impl Default for Permissions {
    /// 0600: only the owner may read and write. 0666, common in tutorials, lets every local
    /// user read the messages (or the memory) and inject their own.
    fn default() -> Self {
        Self(0o600)
    }
}

impl Display for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04o}", self.0)
    }
}

/// Who owns an object and who may use it: the part of `struct ipc_perm` that `IPC_STAT` fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// The owner's user id (the creator, unless changed with `IPC_SET`).
    pub uid: libc::uid_t,
    /// The creator's user id (never changes).
    pub cuid: libc::uid_t,
    /// The read/write bits.
    pub mode: u16,
}

impl From<&libc::ipc_perm> for Owner {
    fn from(perm: &libc::ipc_perm) -> Self {
        Self {
            uid: perm.uid,
            cuid: perm.cuid,
            mode: perm.mode & 0o777,
        }
    }
}

/// What every refusal of the owner check tells the user to type.
pub const ACCEPT_FOREIGN_HINT: &str = "pass --accept-foreign to use it anyway";

/// The owner check for an object that this process opened but did not create, given what
/// `IPC_STAT` said about it (`stat`). `what` names the object in messages; `me` is this
/// process's effective user id; `accept_foreign` is the binaries' `--accept-foreign` flag.
///
/// - Yours (you own it and created it): used whatever its mode, so that the course notes' C
///   programs, which create their queues 0664, and the ports can talk. If its mode lets your
///   group or other users write to it, the answer is a one-line warning for the example to
///   print.
/// - Another user's: refused, unless `accept_foreign`; then used, with a one-line note.
/// - `IPC_STAT` refused with EACCES (it needs read permission, which a writer-only user lacks):
///   who owns it cannot be checked. Refused, unless `accept_foreign`; then used, with a note.
///
/// Every refusal ends with [`ACCEPT_FOREIGN_HINT`]. Any other `IPC_STAT` error is returned as it
/// is. `Ok(None)`: nothing to say.
pub fn check_owner(
    what: &str,
    stat: Result<Owner, Error>,
    me: libc::uid_t,
    accept_foreign: bool,
) -> Result<Option<String>, Error> {
    let owner = match stat {
        Ok(owner) => owner,
        Err(err) if err.errno() == Some(Errno::EACCES) && accept_foreign => {
            return Ok(Some(format!(
                "warning: could not check who owns {what} ({err}: IPC_STAT needs read \
                 permission); using it anyway, as --accept-foreign asks"
            )));
        }
        Err(err) if err.errno() == Some(Errno::EACCES) => {
            return Err(err.because(format!(
                "you may not read {what}, so who owns it cannot be checked; \
                 {ACCEPT_FOREIGN_HINT}"
            )));
        }
        Err(err) => return Err(err),
    };
    if owner.uid != me || owner.cuid != me {
        let whose = if owner.uid == owner.cuid {
            format!("uid {}", owner.uid)
        } else {
            format!("uid {} (created by uid {})", owner.uid, owner.cuid)
        };
        if accept_foreign {
            return Ok(Some(format!(
                "warning: {what} belongs to {whose}, not to you (uid {me}); using it, as \
                 --accept-foreign asks"
            )));
        }
        return Err(Error::refused(
            format!("check the owner of {what}"),
            format!("refused: it belongs to {whose}, not to you (uid {me}); {ACCEPT_FOREIGN_HINT}"),
        ));
    }
    let writers = match (owner.mode & 0o020 != 0, owner.mode & 0o002 != 0) {
        (true, true) => "your group and every other user",
        (true, false) => "your group",
        (false, true) => "every other user",
        (false, false) => return Ok(None),
    };
    Ok(Some(format!(
        "warning: {what} has mode {:04o}, which lets {writers} write to it; the programs here \
         create theirs with 0600",
        owner.mode
    )))
}

/// This process's effective user id, the one the kernel checks permissions against.
pub fn effective_uid() -> libc::uid_t {
    nix::unistd::geteuid().as_raw()
}

/// The three kinds of System V object, named as in `/proc/sysvipc/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Message queues, `/proc/sysvipc/msg`.
    Msg,
    /// Shared memory segments, `/proc/sysvipc/shm`.
    Shm,
    /// Semaphore sets, `/proc/sysvipc/sem`.
    Sem,
}

impl Kind {
    /// All three, in the order `ipcs` lists them.
    pub const ALL: [Kind; 3] = [Kind::Msg, Kind::Shm, Kind::Sem];

    /// The header of the identifier column: `msqid`, `shmid` or `semid`.
    fn id_column(self) -> &'static str {
        match self {
            Kind::Msg => "msqid",
            Kind::Shm => "shmid",
            Kind::Sem => "semid",
        }
    }

    /// `msg`, `shm` or `sem`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Msg => "msg",
            Kind::Shm => "shm",
            Kind::Sem => "sem",
        }
    }
}

// ANCHOR: create_or_open
/// Creates a new object with `get(IPC_CREAT | IPC_EXCL | mode)`, or opens the one that has the
/// key already (EEXIST) with `get(0)`. `IPC_CREAT` alone would do both in one call but hide
/// which happened; here the handle's `created()` tells, and only the creator removes it.
pub fn create_or_open<T>(mode: i32, get: impl Fn(i32) -> Result<T, Error>) -> Result<T, Error> {
    match get(libc::IPC_CREAT | libc::IPC_EXCL | mode) {
        Err(err) if err.errno() == Some(Errno::EEXIST) => get(0),
        created => created,
    }
}
// ANCHOR_END: create_or_open

// ANCHOR: handle
/// One System V object this process opened: the identifier that `msgget`, `semget` or `shmget`
/// returned, the key it was found by, and whether this process created it. `MessageQueue`,
/// `SemaphoreSet` and `Segment` each hold one.
///
/// The creator cleans up: dropping the handle that created the object removes it
/// (`IPC_RMID`), on every way out, a panic included. Any other handle leaves it alone. A forked
/// child holds a copy that says "created" too: it must end with `_exit` (`support::run_child`),
/// which runs no drop, or it would remove its parent's object.
#[derive(Debug)]
pub struct Handle {
    kind: Kind,
    id: i32,
    key: Option<NamedKey>,
    created: bool,
}

impl Drop for Handle {
    fn drop(&mut self) {
        if self.created {
            // A drop cannot report an error: gone already (someone removed it) is fine, and
            // any other (EPERM) leaves the object, which `ipcs` and the leak check show.
            let _ = remove(self.kind, self.id);
        }
    }
}
// ANCHOR_END: handle

impl Handle {
    /// The object `id` of `kind`, found by `key`; `created`: this process made it.
    pub fn new(kind: Kind, id: i32, key: NamedKey, created: bool) -> Handle {
        let key = Some(key);
        Handle {
            kind,
            id,
            key,
            created,
        }
    }

    /// The object `id`, as `ipcs` shows it: no system call, and never removed on drop.
    pub fn from_id(kind: Kind, id: i32) -> Handle {
        let (key, created) = (None, false);
        Handle {
            kind,
            id,
            key,
            created,
        }
    }

    /// The identifier the `*get` call returned.
    pub fn id(&self) -> i32 {
        self.id
    }

    /// The key it was opened with, and where that came from (none for [`Handle::from_id`]).
    pub fn key(&self) -> Option<&NamedKey> {
        self.key.as_ref()
    }

    /// Whether this handle created the object (and so removes it when dropped).
    pub fn created(&self) -> bool {
        self.created
    }

    /// A second handle on the same object, for another thread, which never removes it.
    pub fn second(&self) -> Handle {
        let (key, created) = (self.key.clone(), false);
        Handle {
            kind: self.kind,
            id: self.id,
            key,
            created,
        }
    }

    /// Gives up the duty to remove the object: it stays in the kernel until someone removes
    /// it. Also what a handle does once it has removed the object itself.
    pub fn leave_in_kernel(&mut self) {
        self.created = false;
    }

    /// Takes on the duty to remove the object when this handle is dropped: for one that
    /// another process created and left (a child that exited), which this one cleans up.
    pub fn remove_on_drop(&mut self) {
        self.created = true;
    }

    /// The owner check (see [`check_owner`]) for an object this handle did not create, given
    /// what `IPC_STAT` says of it: one of your own passes, another user's is refused unless
    /// `accept_foreign`. An object this handle created passes without asking.
    pub fn check_owner(
        &self,
        stat: impl FnOnce() -> Result<Owner, Error>,
        accept_foreign: bool,
    ) -> Result<Option<String>, Error> {
        if self.created {
            return Ok(None);
        }
        check_owner(&self.to_string(), stat(), effective_uid(), accept_foreign)
    }
}

impl Display for Handle {
    /// `queue id=7 with key 0x61001234 = ftok("/home/me/file", 'a')`, `semaphore set id=7
    /// (IPC_PRIVATE)`, or `segment id=7`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let noun = match self.kind {
            Kind::Msg => "queue",
            Kind::Sem => "semaphore set",
            Kind::Shm => "segment",
        };
        match &self.key {
            Some(key) if key.key().is_private() => write!(f, "{noun} id={} ({key})", self.id),
            Some(key) => write!(f, "{noun} id={} with {key}", self.id),
            None => write!(f, "{noun} id={}", self.id),
        }
    }
}

/// One row of a `/proc/sysvipc` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// Which table it came from.
    pub kind: Kind,
    /// Its key ([`Key::PRIVATE`] for `IPC_PRIVATE` objects and removed segments).
    pub key: Key,
    /// Its identifier, what `msgsnd`, `shmat` or `semop` take.
    pub id: i32,
    /// Owner, creator and mode.
    pub owner: Owner,
    columns: Vec<(String, String)>,
}

impl Object {
    /// A numeric column by its header name in the table, such as `qnum` and `cbytes` for
    /// queues, `size` and `nattch` for segments, `nsems` for semaphore sets.
    pub fn field(&self, name: &str) -> Option<u64> {
        self.columns
            .iter()
            .find(|(column, _)| column == name)
            .and_then(|(_, value)| value.parse().ok())
    }
}

/// Parses the text of `/proc/sysvipc/<kind>`: a header line of column names, then one line
/// per object. The `perms` column is octal, the others decimal.
pub fn parse_table(kind: Kind, text: &str) -> Result<Vec<Object>, Error> {
    let operation = format!("parse /proc/sysvipc/{}", kind.name());
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| Error::refused(&operation, "the table is empty"))?
        .split_whitespace()
        .collect();
    let mut objects = Vec::new();
    for line in lines.filter(|line| !line.trim().is_empty()) {
        let columns: Vec<(String, String)> = header
            .iter()
            .zip(line.split_whitespace())
            .map(|(name, value)| ((*name).to_owned(), value.to_owned()))
            .collect();
        let text_of = |name: &str| {
            columns
                .iter()
                .find(|(column, _)| column == name)
                .map(|(_, value)| value.as_str())
        };
        let bad = || Error::refused(&operation, format!("unexpected row {line:?}"));
        let number = |name: &str| -> Result<i64, Error> {
            text_of(name).and_then(|v| v.parse().ok()).ok_or_else(bad)
        };
        let mode = text_of("perms")
            .and_then(|v| u16::from_str_radix(v, 8).ok())
            .ok_or_else(bad)?;
        objects.push(Object {
            kind,
            key: Key::from_number(number("key")? as libc::key_t),
            id: number(kind.id_column())? as i32,
            owner: Owner {
                uid: number("uid")? as libc::uid_t,
                cuid: number("cuid")? as libc::uid_t,
                mode: mode & 0o777,
            },
            columns,
        });
    }
    Ok(objects)
}

/// The objects of `kind` that exist now, read from `/proc/sysvipc/<kind>`.
pub fn list(kind: Kind) -> Result<Vec<Object>, Error> {
    let path = format!("/proc/sysvipc/{}", kind.name());
    let text = std::fs::read_to_string(&path).map_err(|err| {
        let errno = Errno::from_raw(err.raw_os_error().unwrap_or(libc::EIO));
        Error::new(format!("read {path}"), errno)
    })?;
    parse_table(kind, &text)
}

/// Removes the object of `kind` with identifier `id` (`msgctl`, `semctl` or `shmctl` with
/// `IPC_RMID`), whoever made it, as far as the caller's permissions go. For tests and tools
/// that clean up after a program that was killed; a program removes what it made through its
/// own crate's handle.
pub fn remove(kind: Kind, id: i32) -> Result<(), Error> {
    let (operation, result) = match kind {
        // SAFETY: IPC_RMID reads no buffer, so a null pointer is allowed (msgctl(2)).
        Kind::Msg => ("msgctl IPC_RMID", unsafe {
            libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut())
        }),
        // SAFETY: IPC_RMID takes no fourth argument (semctl(2)), so none is passed.
        Kind::Sem => ("semctl IPC_RMID", unsafe {
            libc::semctl(id, 0, libc::IPC_RMID)
        }),
        // SAFETY: IPC_RMID reads no buffer, so a null pointer is allowed (shmctl(2)).
        Kind::Shm => ("shmctl IPC_RMID", unsafe {
            libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut())
        }),
    };
    if result == -1 {
        return Err(Error::last(format!("{operation} {id}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG_TABLE: &str = "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime
1627587587          3   600          12          2  4242     0     0     0     0     0 1732270000          0 1732269990
         0          4   666           0          0     0     0  1000  1000  1000  1000          0          0 1732269991
";

    #[test]
    fn ftok_on_a_missing_path_names_the_path_and_the_errno() {
        let err = ftok(Path::new("/no/such/dir/file"), b'a').unwrap_err();
        assert_eq!(err.errno(), Some(Errno::ENOENT));
        assert_eq!(
            err.to_string(),
            "ftok /no/such/dir/file: ENOENT: No such file or directory (the key file must \
             exist: ftok combines its inode number with the project id)"
        );
    }

    #[test]
    fn ftok_gives_the_same_key_for_the_same_file_and_proj_id() {
        let path = Path::new("/proc/self");
        let a = ftok(path, b'a').unwrap();
        assert_eq!(a, ftok(path, b'a').unwrap());
        assert_ne!(a, ftok(path, b'b').unwrap());
        // proj_id goes into the top 8 bits of the key.
        assert_eq!((a.raw() as u32) >> 24, u32::from(b'a'));
    }

    #[test]
    fn errors_name_the_operation_and_the_errno() {
        let err = Error::new("msgsnd", Errno::EIDRM);
        assert_eq!(err.to_string(), "msgsnd: EIDRM: Identifier removed");
        let err = Error::new("msgsnd", Errno::EAGAIN).because("the queue is full");
        assert_eq!(
            err.to_string(),
            "msgsnd: EAGAIN: Try again (the queue is full)"
        );
        assert_eq!(
            Error::refused("open", "no").to_string(),
            "open: no",
            "a refusal has no errno"
        );
    }

    #[test]
    fn keys_display_like_ipcs() {
        assert_eq!(Key::from_number(0x45a).to_string(), "0x0000045a");
        assert_eq!(Key::from_number(-1).to_string(), "0xffffffff");
        assert_eq!(Key::PRIVATE.to_string(), "IPC_PRIVATE");
        assert_eq!(Permissions::default().to_string(), "0600");
    }

    #[test]
    fn the_proc_table_parses_into_objects() {
        let objects = parse_table(Kind::Msg, MSG_TABLE).unwrap();
        assert_eq!(objects.len(), 2);
        let first = &objects[0];
        assert_eq!(first.id, 3);
        assert_eq!(first.key.to_string(), "0x61030403");
        assert_eq!(first.owner.mode, 0o600);
        assert_eq!(first.field("qnum"), Some(2));
        assert_eq!(first.field("cbytes"), Some(12));
        assert_eq!(first.field("lspid"), Some(4242));
        assert!(objects[1].key.is_private());
        assert_eq!(objects[1].owner.uid, 1000);
        assert_eq!(objects[1].owner.mode, 0o666);
    }

    #[test]
    fn a_garbled_table_is_an_error_not_a_panic() {
        let err = parse_table(Kind::Msg, "key msqid perms\nx y z\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("parse /proc/sysvipc/msg: unexpected row")
        );
        assert!(parse_table(Kind::Sem, "").is_err());
    }

    const ME: libc::uid_t = 1000;

    fn mine(mode: u16) -> Result<Owner, Error> {
        Ok(Owner {
            uid: ME,
            cuid: ME,
            mode,
        })
    }

    #[test]
    fn your_own_object_is_used_whatever_its_mode_with_a_warning_if_others_may_write() {
        assert_eq!(check_owner("queue 3", mine(0o600), ME, false), Ok(None));
        assert_eq!(check_owner("queue 3", mine(0o640), ME, false), Ok(None));
        // The notes' C programs create their queues 0664: theirs and ours must talk.
        let notes_mode = check_owner("queue 3", mine(0o664), ME, false)
            .unwrap()
            .unwrap();
        assert_eq!(
            notes_mode,
            "warning: queue 3 has mode 0664, which lets your group write to it; the programs \
             here create theirs with 0600"
        );
        let open = check_owner("queue 3", mine(0o666), ME, false)
            .unwrap()
            .unwrap();
        assert!(open.contains("mode 0666, which lets your group and every other user write"));
        let others = check_owner("queue 3", mine(0o602), ME, true)
            .unwrap()
            .unwrap();
        assert!(others.contains("lets every other user write"), "{others}");
    }

    #[test]
    fn another_users_object_is_refused_unless_accepted_and_the_refusal_says_what_to_type() {
        let theirs = Ok(Owner {
            uid: 0,
            cuid: 0,
            mode: 0o644,
        });
        let refused = check_owner("queue 3", theirs.clone(), ME, false).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "check the owner of queue 3: refused: it belongs to uid 0, not to you (uid 1000); \
             pass --accept-foreign to use it anyway"
        );
        let accepted = check_owner("queue 3", theirs, ME, true).unwrap().unwrap();
        assert!(
            accepted.contains("belongs to uid 0, not to you"),
            "{accepted}"
        );
        assert!(accepted.contains("as --accept-foreign asks"), "{accepted}");
        // Given to you with IPC_SET, but created by someone else, who keeps every right on it.
        let given = Ok(Owner {
            uid: ME,
            cuid: 0,
            mode: 0o600,
        });
        let err = check_owner("queue 3", given, ME, false).unwrap_err();
        assert!(
            err.to_string().contains("uid 1000 (created by uid 0)"),
            "{err}"
        );
    }

    #[test]
    fn an_object_you_may_not_read_is_refused_unless_accepted() {
        let unreadable = || Err(Error::new("msgctl IPC_STAT id=3", Errno::EACCES));
        let refused = check_owner("queue 3", unreadable(), ME, false).unwrap_err();
        assert_eq!(refused.errno(), Some(Errno::EACCES));
        assert_eq!(
            refused.to_string(),
            "msgctl IPC_STAT id=3: EACCES: Permission denied (you may not read queue 3, so who \
             owns it cannot be checked; pass --accept-foreign to use it anyway)"
        );
        let accepted = check_owner("queue 3", unreadable(), ME, true)
            .unwrap()
            .unwrap();
        assert!(
            accepted.starts_with("warning: could not check who owns queue 3"),
            "{accepted}"
        );
        assert!(
            accepted.ends_with("using it anyway, as --accept-foreign asks"),
            "{accepted}"
        );
        // Any other error is no question of trust: it stays an error.
        let gone = Err(Error::new("msgctl IPC_STAT id=3", Errno::EIDRM));
        assert_eq!(
            check_owner("queue 3", gone, ME, true).unwrap_err().errno(),
            Some(Errno::EIDRM)
        );
    }

    #[test]
    fn a_named_key_says_where_it_came_from() {
        let key = NamedKey::ftok(Path::new("/proc/self"), b'a').unwrap();
        let raw = ftok(Path::new("/proc/self"), b'a').unwrap();
        assert_eq!(key.key(), raw);
        assert_eq!(
            key.to_string(),
            format!("key {raw} = ftok(\"/proc/self\", 'a')")
        );
        let seven = NamedKey::ftok(Path::new("/proc/self"), 7).unwrap();
        assert!(
            seven.to_string().ends_with("ftok(\"/proc/self\", 7)"),
            "{seven}"
        );
        assert_eq!(
            NamedKey::from(Key::from_number(1234)).to_string(),
            "key 0x000004d2"
        );
        assert_eq!(NamedKey::from(Key::PRIVATE).to_string(), "IPC_PRIVATE");
    }

    #[test]
    fn a_relative_key_path_is_named_absolute() {
        // A relative path depends on the current directory: messages name the absolute one.
        let cwd = std::env::current_dir().unwrap();
        let err = ftok(Path::new("./no-such-key-file"), b'a').unwrap_err();
        let absolute = cwd.join("no-such-key-file");
        assert!(
            err.to_string()
                .starts_with(&format!("ftok {}: ENOENT", absolute.display())),
            "{err}"
        );
        let key = NamedKey::ftok(Path::new("Cargo.toml"), b'a').unwrap();
        assert_eq!(key.path(), Some(cwd.join("Cargo.toml").as_path()));
    }
}
