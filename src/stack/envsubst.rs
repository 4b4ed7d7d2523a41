//! A small `envsubst`: renders `$VAR`, `${VAR}` and `${VAR:-default}` from a lookup,
//! with `$$` for a literal `$`: the same syntax nixpkgs' Alertmanager module
//! renders with, so one template serves both.

/// Why a template could not be rendered.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvsubstError {
    #[error("unterminated ${{...}} starting at byte {0}")]
    Unterminated(usize),
    #[error("invalid variable name {0:?}")]
    BadName(String),
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Renders `template`, asking `lookup` for each variable. Unset variables without
/// a default render as the empty string, as envsubst does.
pub fn render(
    template: &str,
    mut lookup: impl FnMut(&str) -> Option<String>,
) -> Result<String, EnvsubstError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    let mut offset = 0;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let consumed = if after.starts_with('$') {
            out.push('$');
            2
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find('}')
                .ok_or(EnvsubstError::Unterminated(offset + i))?;
            let inner = &body[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (inner, None),
            };
            if name.is_empty() || !name.chars().all(is_name_char) {
                return Err(EnvsubstError::BadName(name.to_owned()));
            }
            match (lookup(name).filter(|v| !v.is_empty()), default) {
                (Some(value), _) => out.push_str(&value),
                (None, Some(default)) => out.push_str(default),
                (None, None) => {}
            }
            end + 3
        } else {
            let len = after
                .find(|c: char| !is_name_char(c))
                .unwrap_or(after.len());
            if len == 0 {
                // A lone `$` (e.g. in a regex): kept as is.
                out.push('$');
            } else {
                out.push_str(&lookup(&after[..len]).unwrap_or_default());
            }
            len + 1
        };
        offset += i + consumed;
        rest = &rest[i + consumed..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "A" => Some("alpha".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn renders_every_form() {
        let r = |t| render(t, env).unwrap();
        assert_eq!(r("x $A y"), "x alpha y");
        assert_eq!(r("x ${A}y"), "x alphay");
        assert_eq!(r("${MISSING:-http://127.0.0.1:9/}"), "http://127.0.0.1:9/");
        assert_eq!(r("${A:-unused}"), "alpha");
        assert_eq!(r("${EMPTY:-fallback}"), "fallback");
        assert_eq!(r("[$MISSING]"), "[]");
        assert_eq!(
            r("cost: $$5 and a lone $ sign"),
            "cost: $5 and a lone $ sign"
        );
        assert_eq!(r("no variables"), "no variables");
        assert_eq!(r("é ${A} ü"), "é alpha ü");
    }

    #[test]
    fn rejects_broken_templates() {
        assert_eq!(render("${A", env), Err(EnvsubstError::Unterminated(0)));
        assert!(matches!(
            render("${A B}", env),
            Err(EnvsubstError::BadName(_))
        ));
        assert!(matches!(render("${}", env), Err(EnvsubstError::BadName(_))));
    }
}
