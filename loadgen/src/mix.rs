//! The traffic mix, read from the mix file that goose and Locust share
//! (`loadgen/src/mix.json`, embedded here at build time; `--mix PATH` reads another).
//! Owns the file's schema and its validation; nothing here sends or samples.

use serde::{Deserialize, Serialize};

/// The mix file as built into this binary.
pub const EMBEDDED: &str = include_str!("mix.json");

#[derive(Debug, Clone, Deserialize)]
pub struct MixFile {
    pub weights: Weights,
    pub rows: Rows,
    pub ok: Ok,
    pub client_errors: Vec<ClientError>,
    pub server_errors: ServerErrors,
    pub probe: Probe,
    pub drift: Drift,
    /// Pre-rendered bodies per kind (one row, batch) and per phase (before, after drift).
    pub pool_size: usize,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
pub struct Weights {
    pub ok: usize,
    pub client_error: usize,
    pub server_error: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Rows {
    pub features: Vec<String>,
    pub classes: Vec<Class>,
    pub min: f64,
    pub decimals: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Class {
    pub name: String,
    pub mean: Vec<f64>,
    pub std_dev: Vec<f64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Ok {
    pub single: Named,
    pub batch: Batch,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Named {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Batch {
    pub name: String,
    /// Share of valid predictions sent as a batch.
    pub share: f64,
    pub min_rows: usize,
    pub max_rows: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ClientError {
    pub name: String,
    pub method: String,
    pub paths: Vec<String>,
    pub expect: u16,
    /// Empty: the request has no body.
    pub bodies: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerErrors {
    pub header: String,
    pub faults: Vec<Fault>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Fault {
    pub name: String,
    pub value: String,
    pub expect: u16,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Probe {
    pub name: String,
    pub value: String,
    pub expect: u16,
    pub error: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Drift {
    pub scale: f64,
    pub offset: Vec<f64>,
}

impl MixFile {
    /// The embedded file, or the one at `path`; validated.
    pub fn load(path: Option<&str>) -> Result<Self, String> {
        let (text, source) = match path {
            None => (EMBEDDED.to_owned(), "the embedded loadgen/src/mix.json"),
            Some(p) => (
                std::fs::read_to_string(p)
                    .map_err(|e| format!("cannot read the mix file {p}: {e}"))?,
                p,
            ),
        };
        let mix: MixFile =
            serde_json::from_str(&text).map_err(|e| format!("mix file {source}: {e}"))?;
        mix.validate()
            .map_err(|e| format!("mix file {source}: {e}"))?;
        Ok(mix)
    }

    fn validate(&self) -> Result<(), String> {
        let n = self.rows.features.len();
        if n == 0 || self.rows.classes.is_empty() {
            return Err("rows need at least one feature and one class".into());
        }
        for c in &self.rows.classes {
            if c.mean.len() != n || c.std_dev.len() != n {
                return Err(format!(
                    "class {}: mean and std_dev need {n} values",
                    c.name
                ));
            }
        }
        if self.drift.offset.len() != n {
            return Err(format!("drift.offset needs {n} values"));
        }
        let b = &self.ok.batch;
        if !(0.0..=1.0).contains(&b.share) || b.min_rows < 1 || b.min_rows > b.max_rows {
            return Err("ok.batch: share in 0..=1 and 1 <= min_rows <= max_rows".into());
        }
        if self.client_errors.iter().any(|c| c.paths.is_empty()) {
            return Err("every client error needs at least one path".into());
        }
        if self.server_errors.faults.is_empty() || self.pool_size == 0 {
            return Err("server_errors.faults and pool_size must not be empty".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_mix_file_loads_and_keeps_the_documented_defaults() {
        let mix = MixFile::load(None).unwrap();
        assert_eq!(
            mix.weights,
            Weights {
                ok: 85,
                client_error: 10,
                server_error: 5
            }
        );
        assert_eq!(mix.rows.features.len(), 4);
        let expects: Vec<u16> = mix.client_errors.iter().map(|c| c.expect).collect();
        assert_eq!(expects, [422, 400, 404]);
    }

    #[test]
    fn a_mix_file_with_inconsistent_rows_is_refused() {
        let broken = EMBEDDED.replace("[5.006, 3.428, 1.462, 0.246]", "[5.006]");
        let path = std::env::temp_dir().join(format!("loadgen-mix-{}.json", std::process::id()));
        std::fs::write(&path, broken).unwrap();
        let err = MixFile::load(Some(path.to_str().unwrap())).unwrap_err();
        std::fs::remove_file(&path).ok();
        assert!(err.contains("class setosa"), "{err}");
    }
}
