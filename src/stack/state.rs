//! The stack's data dir: where it is, who holds it, and what it keeps.
//!
//! By default it is a persistent folder per user,
//! `$XDG_STATE_HOME/model-server/stack` (`~/.local/state/model-server/stack`
//! when `XDG_STATE_HOME` is unset), so that a clean stop keeps Prometheus'
//! history, Alertmanager's silences and notification log, and Grafana's data and
//! generated secrets for the next run. It is not kept beside the configs: those
//! may be read-only (the Nix store, `/usr/share`) and are shared by every user.
//! `--data-dir DIR` names another folder; `--ephemeral` takes a fresh temporary
//! one, removed on a clean stop and kept for inspection after a failure.
//!
//! While a stack runs, it holds an exclusive lock on `<dir>/lock` (which also
//! holds its pid), so that a second stack on the same folder is refused with a
//! message instead of two Prometheus fighting over one TSDB.
//!
//! Layout, state version 1 (written to `<dir>/state-version`):
//! - `config/`: the children's configs, rebuilt at every start (see `configs`);
//! - `prometheus/data/`: the TSDB;
//! - `alertmanager/data/`: silences and the notification log;
//! - `grafana/`: `data/`, `logs/`, `plugins/`, `admin-password`, `secret-key`.
//!
//! A folder without `state-version` comes from a model-server that kept the
//! config copies beside the data (`prometheus/prometheus.yml`, the rendered
//! `alertmanager/alertmanager.yml`): those copies are removed, the data is kept.
//! A folder of a newer state version is refused.

use std::ffi::OsString;
use std::fs::{self, DirBuilder, File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::files::io_err;
use super::StackError;

/// The layout this build reads and writes.
pub const STATE_VERSION: u32 = 1;
/// Below the state home.
const SUBDIR: &str = "model-server/stack";
/// Service folders whose `data/` an unversioned folder shares with config copies.
const UNVERSIONED_SERVICES: [&str; 2] = ["prometheus", "alertmanager"];

/// Which data dir the flags ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// The per-user default.
    Default,
    /// `--data-dir DIR`.
    Dir(PathBuf),
    /// `--ephemeral`.
    Ephemeral,
}

/// An open, locked data dir. The lock is released when this is dropped.
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    temp: Option<tempfile::TempDir>,
    _lock: File,
}

/// The default data dir from the environment (`var` reads a variable): XDG
/// base-directory rules, where a relative `XDG_STATE_HOME` is ignored.
pub fn default_dir(var: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let absolute = |name: &str| var(name).map(PathBuf::from).filter(|p| p.is_absolute());
    absolute("XDG_STATE_HOME")
        .or_else(|| absolute("HOME").map(|home| home.join(".local/state")))
        .map(|base| base.join(SUBDIR))
}

impl DataDir {
    /// Creates (when missing), locks and, if it comes from an older layout,
    /// tidies the data dir.
    pub fn open(choice: &Choice) -> Result<Self, StackError> {
        let (path, temp) = match choice {
            Choice::Ephemeral => {
                let temp = tempfile::Builder::new()
                    .prefix("model-server-stack-")
                    .tempdir()
                    .map_err(io_err(&std::env::temp_dir()))?;
                (temp.path().to_owned(), Some(temp))
            }
            Choice::Dir(dir) => {
                create(dir)?;
                (dir.clone(), None)
            }
            Choice::Default => {
                let dir = default_dir(|name| std::env::var_os(name))
                    .ok_or(StackError::NoDefaultDataDir)?;
                create(&dir).map_err(|e| match e {
                    StackError::Io { path, source } => StackError::DefaultDataDir { path, source },
                    other => other,
                })?;
                (dir, None)
            }
        };
        let lock = lock(&path)?;
        check_version(&path)?;
        Ok(DataDir {
            path,
            temp,
            _lock: lock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `persistent` or `ephemeral`, for the start-up lines.
    pub fn describe(&self) -> &'static str {
        if self.temp.is_some() {
            "ephemeral: removed on a clean stop"
        } else {
            "kept across runs: Prometheus history, Alertmanager silences, Grafana"
        }
    }

    /// Releases the dir once the children are stopped: an ephemeral one is
    /// removed after a clean stop and kept for a post-mortem otherwise.
    pub fn close(self, clean: bool) {
        let DataDir { path, temp, _lock } = self;
        drop(_lock);
        match temp {
            Some(temp) if clean => {
                drop(temp);
                println!("removed {}", path.display());
            }
            Some(temp) => {
                let kept = temp.keep();
                eprintln!("kept the data dir for inspection: {}", kept.display());
            }
            None => println!("data kept in {} for the next run", path.display()),
        }
    }
}

/// Creates `dir` (and missing parents) readable by its owner only: it will hold
/// the rendered Alertmanager config and Grafana's secrets.
fn create(dir: &Path) -> Result<(), StackError> {
    if dir.exists() && !dir.is_dir() {
        return Err(StackError::DataDirIsFile {
            path: dir.to_owned(),
        });
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err(dir))
}

/// Takes the exclusive lock on `<dir>/lock` and writes this process's pid into it.
fn lock(dir: &Path) -> Result<File, StackError> {
    let path = dir.join("lock");
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(io_err(&path))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = match holder.trim().parse::<u32>() {
                Ok(pid) => format!("pid {pid}"),
                Err(_) => "pid unknown".to_owned(),
            };
            return Err(StackError::DataDirBusy {
                path: dir.to_owned(),
                holder,
            });
        }
        Err(TryLockError::Error(e)) => return Err(io_err(&path)(e)),
    }
    file.set_len(0).map_err(io_err(&path))?;
    writeln!(file, "{}", std::process::id()).map_err(io_err(&path))?;
    Ok(file)
}

/// Refuses a newer layout; tidies an unversioned one; records the version.
fn check_version(dir: &Path) -> Result<(), StackError> {
    let path = dir.join("state-version");
    match fs::read_to_string(&path) {
        Ok(text) if text.trim() == STATE_VERSION.to_string() => Ok(()),
        Ok(text) => Err(StackError::OtherStateVersion {
            path: dir.to_owned(),
            found: text.trim().chars().take(20).collect(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let removed = remove_unversioned_copies(dir)?;
            if removed > 0 {
                println!(
                    "data dir: removed {removed} config copies an older model-server kept beside \
                     the data in prometheus/ and alertmanager/ (the data is kept)"
                );
            }
            fs::write(&path, format!("{STATE_VERSION}\n")).map_err(io_err(&path))
        }
        Err(e) => Err(io_err(&path)(e)),
    }
}

/// In `prometheus/` and `alertmanager/`, removes everything but `data/`.
fn remove_unversioned_copies(dir: &Path) -> Result<usize, StackError> {
    let mut removed = 0;
    for service in UNVERSIONED_SERVICES {
        let folder = dir.join(service);
        let entries = match fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err(&folder)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io_err(&folder))?;
            if entry.file_name() == "data" {
                continue;
            }
            let path = entry.path();
            let kind = entry.file_type().map_err(io_err(&path))?;
            if kind.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            }
            .map_err(io_err(&path))?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn env<'a>(vars: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn the_default_follows_the_xdg_rules() {
        assert_eq!(
            default_dir(env(&[("XDG_STATE_HOME", "/s"), ("HOME", "/h")])),
            Some(PathBuf::from("/s/model-server/stack"))
        );
        assert_eq!(
            default_dir(env(&[("HOME", "/h")])),
            Some(PathBuf::from("/h/.local/state/model-server/stack"))
        );
        // A relative XDG_STATE_HOME is ignored, as the spec says.
        assert_eq!(
            default_dir(env(&[("XDG_STATE_HOME", "rel"), ("HOME", "/h")])),
            Some(PathBuf::from("/h/.local/state/model-server/stack"))
        );
        assert_eq!(default_dir(env(&[("HOME", "")])), None);
        assert_eq!(default_dir(env(&[])), None);
    }

    #[test]
    fn a_second_open_of_a_held_dir_is_refused_naming_the_holder() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("state");
        let choice = Choice::Dir(dir.clone());
        let first = DataDir::open(&choice).unwrap();
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let err = DataDir::open(&choice).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{} is in use by another `model-server stack` (pid {}): stop it, or give this one \
                 its own folder with --data-dir DIR or --ephemeral",
                dir.display(),
                std::process::id()
            )
        );
        first.close(true);
        // Released: the next run gets it, and it is still there.
        let again = DataDir::open(&choice).unwrap();
        assert_eq!(again.path(), dir);
        again.close(true);
        assert!(dir.join("state-version").is_file());
    }

    #[test]
    fn an_older_layout_loses_its_config_copies_and_keeps_its_data() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().to_owned();
        for (file, text) in [
            ("prometheus/prometheus.yml", "old"),
            ("prometheus/rules/gone.yml", "old"),
            ("prometheus/data/wal/00000000", "tsdb"),
            ("alertmanager/alertmanager.yml", "secret"),
            ("alertmanager/data/silences", "silences"),
            ("grafana/admin-password", "pw"),
        ] {
            let path = dir.join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        let opened = DataDir::open(&Choice::Dir(dir.clone())).unwrap();
        opened.close(true);
        let mut left: Vec<String> = walk(&dir);
        left.sort();
        assert_eq!(
            left,
            [
                "alertmanager/data/silences",
                "grafana/admin-password",
                "lock",
                "prometheus/data/wal/00000000",
                "state-version",
            ]
        );
        assert_eq!(
            fs::read_to_string(dir.join("state-version")).unwrap(),
            "1\n"
        );
    }

    #[test]
    fn a_newer_layout_is_refused() {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join("state-version"), "2\n").unwrap();
        let err = DataDir::open(&Choice::Dir(root.path().to_owned())).unwrap_err();
        assert!(
            err.to_string()
                .contains("was laid out by another version of model-server (state version \"2\""),
            "{err}"
        );
    }

    #[test]
    fn an_ephemeral_dir_is_removed_on_a_clean_stop_only() {
        let dir = DataDir::open(&Choice::Ephemeral).unwrap();
        let path = dir.path().to_owned();
        assert!(path.join("lock").is_file());
        dir.close(true);
        assert!(!path.exists());
        let dir = DataDir::open(&Choice::Ephemeral).unwrap();
        let path = dir.path().to_owned();
        dir.close(false);
        assert!(path.is_dir());
        fs::remove_dir_all(path).unwrap();
    }

    fn walk(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(
                    walk(&path)
                        .into_iter()
                        .map(|p| format!("{}/{p}", path.file_name().unwrap().to_string_lossy())),
                );
            } else {
                out.push(path.file_name().unwrap().to_string_lossy().into_owned());
            }
        }
        out
    }
}
