//! The artifact on disk: reading a regular file of bounded size without blocking on
//! whatever else the path may be, and writing atomically.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use super::{Artifact, ArtifactError};

fn file_kind(file_type: fs::FileType) -> &'static str {
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO (named pipe)"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "something else"
    }
}

/// Reads a regular file of at most `max` bytes. The type and size are checked with `stat`
/// before opening (a FIFO would block `open`, a device would never end), and again on the
/// opened file, which is opened non-blocking in case the path was swapped in between; the
/// read stops after `max + 1` bytes in case the file grows.
fn read_capped(path: &Path, max: usize) -> Result<Vec<u8>, ArtifactError> {
    let read_err = |source| ArtifactError::Read {
        path: path.to_owned(),
        source,
    };
    let check = |meta: fs::Metadata| {
        if !meta.file_type().is_file() {
            return Err(ArtifactError::NotRegularFile {
                path: path.to_owned(),
                kind: file_kind(meta.file_type()),
            });
        }
        if meta.len() > max as u64 {
            return Err(ArtifactError::TooLarge {
                path: path.to_owned(),
                size: meta.len(),
                max,
            });
        }
        Ok(meta.len())
    };
    check(fs::metadata(path).map_err(read_err)?)?;
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(read_err)?;
    let len = check(file.metadata().map_err(read_err)?)?;
    let mut bytes = Vec::with_capacity(len as usize + 1);
    file.take((max as u64).saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() > max {
        return Err(ArtifactError::GrewPastLimit {
            path: path.to_owned(),
            max,
        });
    }
    Ok(bytes)
}

impl Artifact {
    /// Writes the artifact atomically: a temporary file in the same folder, then a rename,
    /// so an interrupted write never leaves a half-written model at `path`.
    pub fn save(&self, path: &Path) -> Result<(), ArtifactError> {
        let write_err = |source| ArtifactError::Write {
            path: path.to_owned(),
            source,
        };
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if path.file_name().is_none() {
            return Err(write_err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the path has no file name",
            )));
        }
        // A temporary file in the same folder (removed if anything fails), synced, then
        // renamed over `path`.
        let mut file = tempfile::NamedTempFile::new_in(dir).map_err(write_err)?;
        // An artifact is not a secret: readable as a plain `File::create` would leave it
        // (tempfile creates 0600), so a server running as another user can load it.
        {
            use std::os::unix::fs::PermissionsExt;
            file.as_file()
                .set_permissions(fs::Permissions::from_mode(0o644))
                .map_err(write_err)?;
        }
        file.write_all(&self.to_bytes()).map_err(write_err)?;
        file.as_file().sync_all().map_err(write_err)?;
        file.persist(path).map_err(|e| write_err(e.error))?;
        Ok(())
    }

    /// Reads and verifies an artifact file of at most `max_size` bytes
    /// ([`DEFAULT_MAX_SIZE`](super::DEFAULT_MAX_SIZE) unless configured).
    pub fn load(path: &Path, max_size: usize) -> Result<Self, ArtifactError> {
        let bytes = read_capped(path, max_size)?;
        Self::from_bytes(path, &bytes)
    }
}
