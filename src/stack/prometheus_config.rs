//! The stack's Prometheus config: the repository's `prometheus.yml` (a plain file,
//! also used unchanged by the NixOS module) plus what the stack's flags add to the
//! copy in the data dir: `external_labels` and one `remote_write` endpoint, read
//! from the flags by `from_flags`.
//!
//! The additions are written as YAML flow collections produced by serde_json (JSON
//! is YAML), so no value is ever spliced into the file unquoted.

use std::path::PathBuf;

use super::{StackArgs, StackError};

/// A label Prometheus adds to every series and alert it sends elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalLabel {
    pub name: String,
    pub value: String,
}

/// Why an `--external-label` was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    #[error("expected NAME=VALUE, got {0:?}")]
    NoEquals(String),
    #[error("{0:?} is not a label name: letters, digits and _, not starting with a digit")]
    BadName(String),
    #[error("{0:?} starts with __, which Prometheus reserves")]
    Reserved(String),
    #[error("label {0} has an empty value")]
    EmptyValue(String),
}

/// Parses `NAME=VALUE` (clap value parser of `--external-label`).
pub fn parse_label(text: &str) -> Result<ExternalLabel, LabelError> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| LabelError::NoEquals(text.to_owned()))?;
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(LabelError::BadName(name.to_owned()));
    }
    if name.starts_with("__") {
        return Err(LabelError::Reserved(name.to_owned()));
    }
    if value.is_empty() {
        return Err(LabelError::EmptyValue(name.to_owned()));
    }
    Ok(ExternalLabel {
        name: name.to_owned(),
        value: value.to_owned(),
    })
}

/// How Prometheus authenticates to the remote-write endpoint. Only file paths:
/// the secrets themselves never pass through the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteAuth {
    None,
    Basic {
        username: String,
        password_file: PathBuf,
    },
    BearerTokenFile(PathBuf),
}

/// One remote-write endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteWrite {
    pub url: String,
    pub auth: RemoteAuth,
}

/// What the stack adds to the repository's config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Additions {
    pub external_labels: Vec<ExternalLabel>,
    pub remote_write: Option<RemoteWrite>,
}

/// Why the additions cannot be made.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeriveError {
    #[error("external label {0} is given twice")]
    DuplicateLabel(String),
    #[error("the remote-write URL must start with http:// or https://")]
    BadUrl,
    #[error("the config already sets {0}: set it there or drop the flag, not both")]
    AlreadySet(&'static str),
    #[error("the config has no top-level `global:` block to add external_labels to")]
    NoGlobal,
}

/// The remote-write URL fit for a log line: no user info, query or fragment.
pub fn redacted_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority.rsplit('@').next().unwrap_or_default();
    format!("{scheme}://{host}{path}")
}

fn sets_key(text: &str, key: &str, top_level: bool) -> bool {
    text.lines().any(|line| {
        let body = if top_level { line } else { line.trim_start() };
        body.strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with(':'))
            && (top_level || line.starts_with([' ', '\t']))
    })
}

/// The repository's `prometheus.yml` text with `additions`; unchanged without any.
pub fn derive(text: &str, additions: &Additions) -> Result<String, DeriveError> {
    let mut out = text.to_owned();
    if !additions.external_labels.is_empty() {
        let mut labels = serde_json::Map::new();
        for label in &additions.external_labels {
            let previous = labels.insert(label.name.clone(), label.value.clone().into());
            if previous.is_some() {
                return Err(DeriveError::DuplicateLabel(label.name.clone()));
            }
        }
        if sets_key(text, "external_labels", false) {
            return Err(DeriveError::AlreadySet("global.external_labels"));
        }
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let global = lines
            .iter()
            .position(|l| l.trim_end() == "global:")
            .ok_or(DeriveError::NoGlobal)?;
        // Indent as the block's first key does.
        let indent = lines[global + 1..]
            .iter()
            .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .map(|l| &l[..l.len() - l.trim_start().len()])
            .filter(|i| !i.is_empty())
            .unwrap_or("  ");
        let inserted = format!(
            "{indent}external_labels: {}\n",
            serde_json::Value::Object(labels)
        );
        out = lines[..=global].concat() + &inserted + &lines[global + 1..].concat();
    }
    if let Some(remote) = &additions.remote_write {
        if !(remote.url.starts_with("http://") || remote.url.starts_with("https://")) {
            return Err(DeriveError::BadUrl);
        }
        if sets_key(text, "remote_write", true) {
            return Err(DeriveError::AlreadySet("remote_write"));
        }
        let mut endpoint = serde_json::json!({
            // As the NixOS module names it.
            "name": "model-server",
            "url": remote.url,
        });
        match &remote.auth {
            RemoteAuth::None => {}
            RemoteAuth::Basic {
                username,
                password_file,
            } => {
                endpoint["basic_auth"] = serde_json::json!({
                    "username": username,
                    "password_file": password_file,
                });
            }
            RemoteAuth::BearerTokenFile(path) => {
                endpoint["authorization"] = serde_json::json!({ "credentials_file": path });
            }
        }
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&format!(
            "\n# Added by `model-server stack --remote-write-url`.\nremote_write:\n  - {endpoint}\n"
        ));
    }
    Ok(out)
}

/// The remote-write endpoint and external labels the flags ask for.
pub fn from_flags(args: &StackArgs) -> Result<Additions, StackError> {
    let credentials = |flag: &'static str, path: &PathBuf| -> Result<PathBuf, StackError> {
        // Absolute: Prometheus reads a relative path from the config's folder.
        let path = std::path::absolute(path).map_err(|source| StackError::Io {
            path: path.clone(),
            source,
        })?;
        if path.is_file() {
            Ok(path)
        } else {
            Err(StackError::CredentialsFile { flag, path })
        }
    };
    let auth = match (
        &args.remote_write_username,
        &args.remote_write_password_file,
        &args.remote_write_bearer_token_file,
    ) {
        (None, None, None) => RemoteAuth::None,
        (Some(username), Some(file), None) => RemoteAuth::Basic {
            username: username.clone(),
            password_file: credentials("password-file", file)?,
        },
        (None, None, Some(file)) => {
            RemoteAuth::BearerTokenFile(credentials("bearer-token-file", file)?)
        }
        (_, _, Some(_)) => {
            return Err(StackError::RemoteWriteFlags(
                "--remote-write-bearer-token-file and basic authentication exclude each other",
            ))
        }
        _ => {
            return Err(StackError::RemoteWriteFlags(
                "--remote-write-username and --remote-write-password-file go together",
            ))
        }
    };
    let remote_write = match &args.remote_write_url {
        Some(url) if !url.is_empty() => Some(RemoteWrite {
            url: url.clone(),
            auth,
        }),
        _ if auth != RemoteAuth::None => {
            return Err(StackError::RemoteWriteFlags(
                "remote-write credentials were given without --remote-write-url",
            ))
        }
        _ => None,
    };
    if remote_write.is_some() && !args.external_labels.iter().any(|l| l.name == "cluster") {
        eprintln!(
            "warning: remote write without --external-label cluster=...: \
             series of several stacks will mix in the store"
        );
    }
    Ok(Additions {
        external_labels: args.external_labels.clone(),
        remote_write,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPO_CONFIG: &str = include_str!("../../monitoring/prometheus/prometheus.yml");

    fn label(name: &str, value: &str) -> ExternalLabel {
        ExternalLabel {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn without_additions_the_config_is_unchanged() {
        assert_eq!(
            derive(REPO_CONFIG, &Additions::default()).unwrap(),
            REPO_CONFIG
        );
    }

    #[test]
    fn labels_go_into_global_and_remote_write_at_the_end() {
        let additions = Additions {
            external_labels: vec![label("cluster", "eu-1"), label("replica", "a\"b")],
            remote_write: Some(RemoteWrite {
                url: "https://mimir.example/api/v1/push".into(),
                auth: RemoteAuth::Basic {
                    username: "me".into(),
                    password_file: "/run/secrets/pw".into(),
                },
            }),
        };
        let text = derive(REPO_CONFIG, &additions).unwrap();
        assert!(
            text.contains(
                "global:\n  external_labels: {\"cluster\":\"eu-1\",\"replica\":\"a\\\"b\"}\n  scrape_interval:"
            ),
            "{text}"
        );
        assert!(text.ends_with(
            "remote_write:\n  - {\"basic_auth\":{\"password_file\":\"/run/secrets/pw\",\"username\":\"me\"},\
             \"name\":\"model-server\",\"url\":\"https://mimir.example/api/v1/push\"}\n"
        ), "{text}");
        // Everything the repository's file says is still there, in order.
        let kept: Vec<&str> = text
            .lines()
            .filter(|l| !l.contains("external_labels") && !l.contains("Added by"))
            .take_while(|l| *l != "remote_write:")
            .collect();
        assert_eq!(kept.join("\n").trim_end(), REPO_CONFIG.trim_end());
    }

    #[test]
    fn bearer_tokens_are_files_read_by_prometheus() {
        let additions = Additions {
            external_labels: vec![],
            remote_write: Some(RemoteWrite {
                url: "http://127.0.0.1:9009/api/v1/push".into(),
                auth: RemoteAuth::BearerTokenFile("/run/token".into()),
            }),
        };
        let text = derive("global:\n  scrape_interval: 5s\n", &additions).unwrap();
        assert!(
            text.contains("\"authorization\":{\"credentials_file\":\"/run/token\"}"),
            "{text}"
        );
    }

    #[test]
    fn refuses_what_cannot_be_added_cleanly() {
        let remote = |url: &str| Additions {
            external_labels: vec![],
            remote_write: Some(RemoteWrite {
                url: url.into(),
                auth: RemoteAuth::None,
            }),
        };
        assert_eq!(
            derive(REPO_CONFIG, &remote("mimir:9009")),
            Err(DeriveError::BadUrl)
        );
        assert_eq!(
            derive("remote_write:\n  - url: http://x\n", &remote("http://y")),
            Err(DeriveError::AlreadySet("remote_write"))
        );
        let labels = |labels: Vec<ExternalLabel>| Additions {
            external_labels: labels,
            remote_write: None,
        };
        assert_eq!(
            derive(
                "global:\n  external_labels:\n    a: b\n",
                &labels(vec![label("cluster", "x")])
            ),
            Err(DeriveError::AlreadySet("global.external_labels"))
        );
        assert_eq!(
            derive("scrape_configs: []\n", &labels(vec![label("cluster", "x")])),
            Err(DeriveError::NoGlobal)
        );
        assert_eq!(
            derive(
                REPO_CONFIG,
                &labels(vec![label("cluster", "x"), label("cluster", "y")])
            ),
            Err(DeriveError::DuplicateLabel("cluster".into()))
        );
    }

    #[test]
    fn label_flags_are_checked() {
        assert_eq!(parse_label("cluster=eu-1"), Ok(label("cluster", "eu-1")));
        assert_eq!(parse_label("k=a=b"), Ok(label("k", "a=b")));
        assert!(matches!(
            parse_label("cluster"),
            Err(LabelError::NoEquals(_))
        ));
        assert!(matches!(parse_label("1x=y"), Err(LabelError::BadName(_))));
        assert!(matches!(parse_label("a-b=y"), Err(LabelError::BadName(_))));
        assert!(matches!(parse_label("__x=y"), Err(LabelError::Reserved(_))));
        assert!(matches!(parse_label("x="), Err(LabelError::EmptyValue(_))));
    }

    #[test]
    fn urls_are_logged_without_credentials() {
        assert_eq!(
            redacted_url("https://user:secret@mimir.example:443/api/v1/push?token=t#f"),
            "https://mimir.example:443/api/v1/push"
        );
        assert_eq!(
            redacted_url("http://127.0.0.1:9009"),
            "http://127.0.0.1:9009"
        );
    }
}
