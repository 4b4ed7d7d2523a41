//! Finding the repository's configs (`monitoring/` and `dashboards/`): an
//! explicit folder, else the current directory, else where the package installs
//! them next to the binary.

use std::path::{Path, PathBuf};

use super::StackError;

/// Finds the folder holding `monitoring/` and `dashboards/`.
pub fn find(explicit: Option<&Path>) -> Result<PathBuf, StackError> {
    let has_configs = |dir: &Path| dir.join("monitoring/prometheus/prometheus.yml").is_file();
    if let Some(dir) = explicit {
        return if has_configs(dir) {
            Ok(dir.to_owned())
        } else {
            Err(StackError::ConfigDir(format!(
                "{} has no monitoring/prometheus/prometheus.yml",
                dir.display()
            )))
        };
    }
    let mut candidates = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        candidates.push(cwd);
    }
    if let Some(bin_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_owned))
    {
        candidates.push(bin_dir.join("../share/model-server"));
        // target/{debug,release}/model-server inside a checkout.
        candidates.push(bin_dir.join("../.."));
    }
    candidates
        .into_iter()
        .find(|d| has_configs(d))
        .ok_or_else(|| {
            StackError::ConfigDir(
                "no monitoring/ and dashboards/ found in the current directory or next to the binary; \
                 run from the repository or pass --config-dir"
                    .to_owned(),
            )
        })
}
