//! File operations of the stack with its error type: recursive copies that stay
//! writable, private (0600) files, and the OS error tied to the path it is about.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::StackError;

/// Maps an OS error on `path` to the stack's error naming it.
pub(super) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StackError + '_ {
    move |source| StackError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Copies `from` into `to` recursively (files and folders only). Each file is
/// replaced, not written through, and made owner-writable: the source may be
/// read-only (the Nix store's files are 0444), and the stack rewrites some copies
/// (the file_sd targets) as whatever user runs it, root or not.
pub fn copy_dir(from: &Path, to: &Path) -> Result<(), StackError> {
    fs::create_dir_all(to).map_err(io_err(to))?;
    for entry in fs::read_dir(from).map_err(io_err(from))? {
        let entry = entry.map_err(io_err(from))?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type().map_err(io_err(&entry.path()))?;
        if kind.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            match fs::remove_file(&target) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(io_err(&target)(e));
                }
                _ => {}
            }
            fs::copy(entry.path(), &target).map_err(io_err(&target))?;
            let mut permissions = fs::metadata(&target)
                .map_err(io_err(&target))?
                .permissions();
            permissions.set_mode(permissions.mode() | 0o200);
            fs::set_permissions(&target, permissions).map_err(io_err(&target))?;
        }
    }
    Ok(())
}

/// Writes a file readable by its owner only.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), StackError> {
    let _ = fs::remove_file(path);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err(path))?;
    file.write_all(contents).map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_of_read_only_files_are_owner_writable_and_replaceable() {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("from"), dir.path().join("to"));
        fs::create_dir_all(from.join("targets")).unwrap();
        fs::write(from.join("prometheus.yml"), "a").unwrap();
        fs::write(from.join("targets/node.json"), "[]").unwrap();
        // As in the Nix store: files 0444, folders 0555.
        for (path, mode) in [
            (from.join("targets/node.json"), 0o444),
            (from.join("prometheus.yml"), 0o444),
            (from.join("targets"), 0o555),
            (from.clone(), 0o555),
        ] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        }
        copy_dir(&from, &to).unwrap();
        for file in ["prometheus.yml", "targets/node.json"] {
            let mode = fs::metadata(to.join(file)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o644, "{file}");
        }
        // A second start over the same data dir replaces the copies.
        fs::set_permissions(to.join("prometheus.yml"), fs::Permissions::from_mode(0o444)).unwrap();
        copy_dir(&from, &to).unwrap();
        assert_eq!(fs::read_to_string(to.join("prometheus.yml")).unwrap(), "a");
        fs::set_permissions(&from, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(from.join("targets"), fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn private_files_are_0600_and_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        fs::write(&path, "old and longer").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, b"new").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
