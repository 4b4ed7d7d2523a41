//! Local secrets the stack makes for itself (Grafana's admin password and secret
//! key): drawn from the operating system's CSPRNG, written once with mode 0600,
//! and reused by every later run on the same data dir.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::files::{io_err, write_private};
use super::StackError;

/// Characters of a token: letters and digits, safe in any config syntax.
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// 32 characters of 62: about 190 bits.
const LENGTH: usize = 32;

/// A fresh random token from the OS RNG (`getrandom`), uniform over [`ALPHABET`].
pub fn random_token() -> Result<String, StackError> {
    // Bytes at or above the largest multiple of 62 are dropped, so that `% 62`
    // favours no character.
    let limit = (256 / ALPHABET.len() * ALPHABET.len()) as u8;
    let mut token = String::with_capacity(LENGTH);
    let mut bytes = [0u8; LENGTH * 2];
    while token.len() < LENGTH {
        getrandom::fill(&mut bytes).map_err(StackError::Random)?;
        token.extend(
            bytes
                .iter()
                .filter(|&&b| b < limit)
                .map(|&b| char::from(ALPHABET[usize::from(b) % ALPHABET.len()]))
                .take(LENGTH - token.len()),
        );
    }
    Ok(token)
}

/// What [`ensure`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// No usable token: a new one was written.
    Created,
    /// The token of an earlier run, kept.
    Reused,
    /// The token of an earlier run, kept, but readable by others: made 0600.
    Tightened,
}

/// Makes sure `path` holds a token readable by its owner only: an existing,
/// non-empty one is kept (Grafana's secret key encrypts what its database
/// holds, and the admin password is what the user was told), anything else is
/// replaced by a new one.
pub fn ensure(path: &Path) -> Result<Found, StackError> {
    match fs::metadata(path) {
        Ok(meta) if meta.is_file() && meta.len() > 0 => {
            if meta.permissions().mode() & 0o077 == 0 {
                return Ok(Found::Reused);
            }
            fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(io_err(path))?;
            Ok(Found::Tightened)
        }
        Ok(_) => {
            write_private(path, random_token()?.as_bytes())?;
            Ok(Found::Created)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            write_private(path, random_token()?.as_bytes())?;
            Ok(Found::Created)
        }
        Err(e) => Err(io_err(path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn tokens_are_long_alphanumeric_and_differ() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_eq!(a.len(), LENGTH);
        assert!(a.bytes().all(|c| ALPHABET.contains(&c)), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn every_character_is_drawn() {
        // 62 characters in 200 tokens of 32: each is missing with probability
        // (61/62)^6400, about 1e-45.
        let mut seen = [false; 256];
        for _ in 0..200 {
            for c in random_token().unwrap().bytes() {
                seen[usize::from(c)] = true;
            }
        }
        let missing: Vec<char> = ALPHABET
            .iter()
            .filter(|&&c| !seen[usize::from(c)])
            .map(|&c| char::from(c))
            .collect();
        assert!(missing.is_empty(), "never drawn: {missing:?}");
    }

    #[test]
    fn a_token_is_made_once_private_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admin-password");
        assert_eq!(ensure(&path).unwrap(), Found::Created);
        assert_eq!(mode(&path), 0o600);
        let first = fs::read_to_string(&path).unwrap();
        assert_eq!(first.len(), LENGTH);
        assert_eq!(ensure(&path).unwrap(), Found::Reused);
        assert_eq!(fs::read_to_string(&path).unwrap(), first);
        // Made readable by others: kept, and private again.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(ensure(&path).unwrap(), Found::Tightened);
        assert_eq!(mode(&path), 0o600);
        assert_eq!(fs::read_to_string(&path).unwrap(), first);
        // An empty file is no secret: replaced.
        fs::write(&path, "").unwrap();
        assert_eq!(ensure(&path).unwrap(), Found::Created);
        assert_eq!(fs::read_to_string(&path).unwrap().len(), LENGTH);
        assert_eq!(mode(&path), 0o600);
    }
}
