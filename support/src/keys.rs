//! The key flags: how an example is told which System V object to use. Here, above `sysv`,
//! because they are clap structs: `sysv` knows kernel objects, not command lines.
//!
//! - [`KeyArgs`]: `--key-path`, `--proj`, `--key` and `--accept-foreign`, one struct flattened
//!   into every binary of `msgqueue`, `semaphore` and xfr, so that all take the same flags.
//! - [`NotesKeyArgs`]: the same key flags without defaults, for the ports of the course notes'
//!   programs that use one fixed key (1111, 1234, `ftok("/tmp", 0x666)`).

use std::path::{Path, PathBuf};

use sysv::{Error, Key, NamedKey};

use crate::cli::{Context, Failure};

/// The course notes' key file: `ftok("./file", 'a')`.
pub const DEFAULT_KEY_PATH: &str = "./file";

/// The course notes' project id, `'a'`.
pub const DEFAULT_PROJ: u8 = b'a';

// ANCHOR: key_args
/// How the binaries find their object (a queue, a semaphore set): `ftok(--key-path, --proj)`
/// as in the notes, or `--key`. One clap struct, flattened into every binary of `msgqueue` and
/// `semaphore`, so that all of them take the same flags.
#[derive(clap::Args, Debug, Clone)]
pub struct KeyArgs {
    /// The key file for ftok: its inode number goes into the key. The default, the course notes'
    /// ./file, is in the current directory: programs started in two directories get two keys.
    /// It is created if missing (by those that may create the object); any other path must
    /// exist.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_KEY_PATH)]
    pub key_path: PathBuf,
    /// ftok's project id: one character (the course notes' 'a') or a number from 1 to 255.
    #[arg(long, value_name = "CHAR", default_value = "a", value_parser = parse_proj)]
    pub proj: u8,
    /// Use this key instead of ftok: decimal, or hex with 0x.
    #[arg(long, value_parser = parse_key, conflicts_with_all = ["key_path", "proj"])]
    pub key: Option<Key>,
    /// Use an object that another user owns, or whose owner cannot be checked because you may
    /// not read it (both refused by default). One of your own is used whatever its mode.
    #[arg(long, global = true)]
    pub accept_foreign: bool,
}

impl KeyArgs {
    /// Creates the notes' `./file` if it is the key file in use and is missing: ftok needs an
    /// existing file. Any other path must exist (a typo should fail, not make a new key).
    /// Returns the absolute path of the file it created, for the example to say so.
    pub fn make_default_key_file(&self) -> Result<Option<PathBuf>, Failure> {
        let path = &self.key_path;
        if self.key.is_some() || path != Path::new(DEFAULT_KEY_PATH) || path.exists() {
            return Ok(None);
        }
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        // create_new: never through a symlink planted at the path, never over a file.
        let created = std::fs::File::create_new(path);
        created.context(format!("create the key file {}", absolute.display()))?;
        Ok(Some(absolute))
    }
}
// ANCHOR_END: key_args

impl KeyArgs {
    /// The key flags given that differ from the defaults, as `(flag, value)` pairs: what a
    /// peer must be started with to find the same object.
    pub fn flags(&self) -> Vec<(&'static str, String)> {
        if let Some(key) = self.key {
            return vec![("--key", key.to_string())];
        }
        let mut flags = Vec::new();
        if self.key_path != Path::new(DEFAULT_KEY_PATH) {
            flags.push(("--key-path", self.key_path.display().to_string()));
        }
        if self.proj != DEFAULT_PROJ {
            flags.push(("--proj", proj_flag(self.proj)));
        }
        flags
    }

    /// The key these flags name: `ftok(3)` of `--key-path` and `--proj`, or `--key`.
    pub fn ftok_or_key(&self) -> Result<NamedKey, Error> {
        match self.key {
            Some(number) => Ok(NamedKey::from(number)),
            None => NamedKey::ftok(&self.key_path, self.proj),
        }
    }
}

/// How `--proj` is written for this project id: the character, or else the number.
pub fn proj_flag(proj: u8) -> String {
    match proj {
        graphic if graphic.is_ascii_graphic() && !graphic.is_ascii_digit() => {
            char::from(graphic).to_string()
        }
        number => number.to_string(),
    }
}

/// Parses `--proj`: one ASCII character that is not a digit, or a number from 1 to 255.
pub fn parse_proj(text: &str) -> Result<u8, String> {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii() && !c.is_ascii_digit() => Ok(c as u8),
        _ => match text.parse::<u8>() {
            Ok(0) | Err(_) => Err(format!(
                "{text:?} is not one ASCII character or a number from 1 to 255"
            )),
            Ok(n) => Ok(n),
        },
    }
}

/// Parses `--key`: decimal (negative too, as ipcs may print it) or hex with 0x; never 0.
pub fn parse_key(text: &str) -> Result<Key, String> {
    // A key_t is 32 bits: negative decimals (as ipcs may print them) and all of u32 go.
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16).map(|k| k as i32),
        None => text
            .parse::<i32>()
            .or_else(|_| text.parse::<u32>().map(|k| k as i32)),
    };
    match parsed {
        Ok(0) => Err(
            "key 0 is IPC_PRIVATE: every msgget, semget or shmget with it makes a new object, \
             which no process finds by key (private_recv makes a queue; send --id reaches it)"
                .to_owned(),
        ),
        Ok(key) => Ok(Key::from_number(key)),
        Err(err) if matches!(err.kind(), std::num::IntErrorKind::PosOverflow) => Err(format!(
            "{text} is out of range: a key is 32 bits (at most 4294967295, or 0xffffffff)"
        )),
        Err(_) => Err(format!(
            "{text:?} is not a number (decimal, or hex with 0x)"
        )),
    }
}

/// The key flags of the ports of the notes' shared memory pairs, whose C programs use one fixed key
/// (1111, 1234, `ftok("/tmp", 0x666)`): with none of these flags, that key. Unlike [`KeyArgs`], no
/// flag has a default of its own, so that `--proj a` is told apart from no flag at all.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct NotesKeyArgs {
    /// Use ftok(PATH, --proj) instead of the default key (below); --proj defaults to 'a'. The
    /// file must exist.
    #[arg(long, value_name = "PATH")]
    pub key_path: Option<PathBuf>,
    /// Use ftok(--key-path, CHAR) instead of the default key (below): one character or a number
    /// from 1 to 255. --key-path defaults to ./file, made if missing by the side that creates
    /// the segment.
    #[arg(long, value_name = "CHAR", value_parser = parse_proj)]
    pub proj: Option<u8>,
    /// Use this key instead of the default key (below): decimal, or hex with 0x.
    #[arg(long, value_parser = parse_key, conflicts_with_all = ["key_path", "proj"])]
    pub key: Option<Key>,
}

impl NotesKeyArgs {
    /// The key these flags name, or `course_notes` when none is given. With `may_create` (the
    /// side that creates the segment), a missing `./file` is made for `--proj` alone, as pv does.
    pub fn key_or(
        &self,
        course_notes: impl FnOnce() -> Result<NamedKey, Error>,
        may_create: bool,
    ) -> Result<NamedKey, Error> {
        if let Some(number) = self.key {
            return Ok(NamedKey::from(number));
        }
        if self.key_path.is_none() && self.proj.is_none() {
            return course_notes();
        }
        let path = self
            .key_path
            .clone()
            .unwrap_or_else(|| DEFAULT_KEY_PATH.into());
        if may_create && self.key_path.is_none() && !path.exists() {
            // create_new: never through a symlink planted at the path. A failure shows in ftok.
            let _ = std::fs::File::create_new(&path);
        }
        NamedKey::ftok(&path, self.proj.unwrap_or(DEFAULT_PROJ))
    }

    /// The flags given, as `(flag, value)` pairs: what the peer must be started with.
    pub fn flags(&self) -> Vec<(&'static str, String)> {
        let mut flags = Vec::new();
        if let Some(key) = self.key {
            flags.push(("--key", key.to_string()));
        }
        if let Some(path) = &self.key_path {
            flags.push(("--key-path", path.display().to_string()));
        }
        if let Some(proj) = self.proj {
            flags.push(("--proj", proj_flag(proj)));
        }
        flags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proj_and_key_flags_parse() {
        assert_eq!(parse_proj("a"), Ok(b'a'));
        assert_eq!(parse_proj("7"), Ok(7));
        assert!(parse_proj("0").is_err());
        assert!(parse_proj("ab").is_err());
        assert_eq!(parse_key("0x45a"), Ok(Key::from_number(0x45a)));
        assert_eq!(parse_key("1111"), Ok(Key::from_number(1111)));
        assert!(parse_key("0").is_err());
    }
}
