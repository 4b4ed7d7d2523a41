//! The one renderer of envsubst templates (`monitoring/alertmanager/alertmanager.yml`),
//! used by the stack and by `model-server render-config` (CI's static check).
//!
//! It follows the envsubst that the NixOS Alertmanager module runs in its preStart:
//! nixpkgs' `envsubst` package, which is a8m/envsubst (Go), run without flags. GNU
//! gettext's envsubst is a different program: it replaces only `$VAR` and `${VAR}`
//! and leaves `${VAR:-default}` as it is, so it cannot render our template.
//!
//! What is rendered, as a8m/envsubst renders it:
//!
//! | form | result |
//! |---|---|
//! | `$$` | a literal `$` |
//! | `$NAME`, `${NAME}` | the value, empty when unset; NAME is letters, digits and `_`, so `$1` is a variable too |
//! | `${NAME-word}`, `${NAME=word}` | the value when set (even empty), else word |
//! | `${NAME:-word}`, `${NAME:=word}` | the value when set and not empty, else word (`=` assigns nothing) |
//! | `${NAME+word}`, `${NAME:+word}` | word when NAME is set (even empty), else empty |
//! | `${NAME<op>}` (no word) | the value, as `${NAME}` |
//! | `$` before anything else, and `$_` | kept as is |
//!
//! `word` is literal text without `$`, or exactly one `$OTHER`, whose value it then is.
//! Everything else inside `${...}` is refused with an error rather than rendered,
//! because a8m's output there is an accident of its lexer, not a meaning: a nested
//! `${OTHER}` (a8m looks up a variable named `{OTHER` and leaves a stray `}`), text
//! mixed with a variable (`${A:-$B/x}` gives `/x`), `${A?msg}`, `${A B}`, `${}`.
//! An unterminated `${` or a line break inside one is an error in both.

/// Why a template could not be rendered. Positions are 1-based.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvsubstError {
    #[error("line {line}, column {column}: `${{` without a closing `}}` on the same line")]
    Unterminated { line: usize, column: usize },
    #[error("line {line}, column {column}: `{text}` is not a form envsubst renders predictably; use $NAME, ${{NAME}} or ${{NAME:-text}}")]
    Unsupported {
        line: usize,
        column: usize,
        text: String,
    },
}

/// Whether `c` may be part of a variable name (a8m: Unicode letters and digits, `_`).
fn is_name_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// The length in bytes of the name at the start of `text` (0 if none).
fn name_len(text: &str) -> usize {
    text.find(|c: char| !is_name_char(c)).unwrap_or(text.len())
}

/// 1-based line and column (in characters) of byte `offset` of `text`.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `-` and `=`: the word when unset.
    Unset,
    /// `:-` and `:=`: the word when unset or empty.
    UnsetOrEmpty,
    /// `+` and `:+`: the word when set, else nothing.
    Set,
}

fn operator(text: &str) -> Option<(Op, usize)> {
    let op = match text.as_bytes() {
        [b':', b'-' | b'=', ..] => (Op::UnsetOrEmpty, 2),
        [b':', b'+', ..] => (Op::Set, 2),
        [b'-' | b'=', ..] => (Op::Unset, 1),
        [b'+', ..] => (Op::Set, 1),
        _ => return None,
    };
    Some(op)
}

/// Renders `template`, asking `lookup` for each variable: `None` is unset,
/// `Some("")` set but empty.
pub fn render(
    template: &str,
    mut lookup: impl FnMut(&str) -> Option<String>,
) -> Result<String, EnvsubstError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let start = template.len() - rest.len() + i;
        let after = &rest[i + 1..];
        let consumed = if after.starts_with('$') {
            out.push('$');
            2
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find(['}', '\n'])
                .filter(|&e| body[e..].starts_with('}'));
            let Some(end) = end else {
                let (line, column) = position(template, start);
                return Err(EnvsubstError::Unterminated { line, column });
            };
            let inner = &body[..end];
            let unsupported = || {
                let (line, column) = position(template, start);
                EnvsubstError::Unsupported {
                    line,
                    column,
                    text: format!("${{{inner}}}"),
                }
            };
            let len = name_len(inner);
            let name = &inner[..len];
            if name.is_empty() || name == "_" {
                return Err(unsupported());
            }
            let value = lookup(name);
            let rendered = if len == inner.len() {
                value
            } else {
                let (op, op_len) = operator(&inner[len..]).ok_or_else(unsupported)?;
                let word = &inner[len + op_len..];
                let word_value = |lookup: &mut dyn FnMut(&str) -> Option<String>| match word
                    .strip_prefix('$')
                {
                    None if !word.contains('$') => Ok(Some(word.to_owned())),
                    Some(other)
                        if !other.is_empty() && other != "_" && name_len(other) == other.len() =>
                    {
                        Ok(lookup(other))
                    }
                    _ => Err(unsupported()),
                };
                if word.is_empty() {
                    value
                } else {
                    // The word is checked whether or not it is used.
                    let word = word_value(&mut lookup)?;
                    match op {
                        Op::Unset if value.is_none() => word,
                        Op::UnsetOrEmpty if value.as_deref().unwrap_or("").is_empty() => word,
                        Op::Set if value.is_some() => word,
                        Op::Set => None,
                        Op::Unset | Op::UnsetOrEmpty => value,
                    }
                }
            };
            out.push_str(&rendered.unwrap_or_default());
            end + 3
        } else {
            let len = name_len(after);
            if len == 0 || &after[..len] == "_" {
                // A lone `$` (e.g. in a regex) and `$_`: kept as is.
                out.push('$');
                1
            } else {
                out.push_str(&lookup(&after[..len]).unwrap_or_default());
                len + 1
            }
        };
        rest = &rest[i + consumed..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Renders `template` from the process environment, as envsubst does.
pub fn render_from_env(template: &str) -> Result<String, EnvsubstError> {
    render(template, |name| {
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "A" => Some("alpha".into()),
            "B" => Some("beta".into()),
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
        assert_eq!(r("${EMPTY-fallback}|${MISSING-fallback}"), "|fallback");
        assert_eq!(r("${EMPTY:=x}|${EMPTY=x}"), "x|");
        assert_eq!(r("${A:+set}|${EMPTY:+set}|${MISSING:+set}"), "set|set|");
        assert_eq!(
            r("${MISSING:-$B}|${A:-$B}|${MISSING:-$NONE}"),
            "beta|alpha|"
        );
        assert_eq!(r("${A:-}|${MISSING:+}"), "alpha|");
        assert_eq!(r("[$MISSING]"), "[]");
        assert_eq!(r("$1 and ${1}"), " and ");
        assert_eq!(r("$_ and $_A"), "$_ and ");
        assert_eq!(
            r("cost: $$5 and a lone $ sign, $"),
            "cost: $5 and a lone $ sign, $"
        );
        assert_eq!(r("${MISSING:-{braces}"), "{braces");
        assert_eq!(r("no variables"), "no variables");
        assert_eq!(r("é ${A} ü $Aé"), "é alpha ü ");
    }

    #[test]
    fn refuses_forms_with_no_predictable_rendering() {
        let unsupported = |t: &str| match render(t, env) {
            Err(EnvsubstError::Unsupported { text, .. }) => text,
            other => panic!("{t}: {other:?}"),
        };
        assert_eq!(unsupported("${A:-${B}}"), "${A:-${B}");
        assert_eq!(unsupported("${A:-$B/x}"), "${A:-$B/x}");
        assert_eq!(unsupported("${A:-x$B}"), "${A:-x$B}");
        assert_eq!(unsupported("${A?oops}"), "${A?oops}");
        assert_eq!(unsupported("${A B}"), "${A B}");
        assert_eq!(unsupported("${}"), "${}");
        assert_eq!(unsupported("${_}"), "${_}");
        assert_eq!(
            render("ok\n  ${A:x}", env),
            Err(EnvsubstError::Unsupported {
                line: 2,
                column: 3,
                text: "${A:x}".into()
            })
        );
        assert_eq!(
            render("a\nb ${A", env),
            Err(EnvsubstError::Unterminated { line: 2, column: 3 })
        );
        assert_eq!(
            render("${A\n}", env),
            Err(EnvsubstError::Unterminated { line: 1, column: 1 })
        );
    }
}
