//! The rules every fitted model shares: a tree is walked from its root, a coefficient
//! matrix has its shape and finite values, a stored count matches the one it describes.

use serde::Deserialize;

use super::{Part, StructureError};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(super) struct Matrix {
    ncols: usize,
    nrows: usize,
    /// `f32` as in the served `DenseMatrix<f32>`: 1e39 reads as infinity here as it would there.
    values: Vec<f32>,
    column_major: bool,
}

/// What the tree walk needs of a node.
pub(super) struct Split {
    pub(super) true_child: Option<usize>,
    pub(super) false_child: Option<usize>,
    pub(super) feature: usize,
    pub(super) value: Option<f64>,
}

/// A count the model stores (`found`) must be the one it describes (`expected`).
pub(super) fn count(
    part: Part,
    field: &'static str,
    found: usize,
    expected: usize,
) -> Result<(), StructureError> {
    if found == expected {
        Ok(())
    } else {
        Err(StructureError::CountMismatch {
            part,
            field,
            found,
            expected,
        })
    }
}

/// Walks a tree from its root: every node must be reached exactly once (so the walk of
/// `predict` ends at a leaf within `nodes.len()` steps), every split must have both
/// children, a finite threshold and an existing feature, and `output` must accept
/// every node reached.
pub(super) fn walk<N>(
    part: Part,
    nodes: &[N],
    n_features: usize,
    split: impl Fn(&N) -> Split,
    output: impl Fn(usize, &N) -> Result<(), StructureError>,
) -> Result<(), StructureError> {
    if nodes.is_empty() {
        return Err(StructureError::NoNodes { part });
    }
    let mut seen = vec![false; nodes.len()];
    seen[0] = true;
    // Depth-first with an explicit stack: a forged chain of a million nodes must not
    // overflow the thread's stack.
    let mut stack = vec![0usize];
    while let Some(id) = stack.pop() {
        let node = &nodes[id];
        output(id, node)?;
        let s = split(node);
        let (t, f) = match (s.true_child, s.false_child) {
            (None, None) => continue,
            (Some(t), Some(f)) => (t, f),
            _ => return Err(StructureError::HalfSplit { part, node: id }),
        };
        if s.feature >= n_features {
            return Err(StructureError::SplitFeatureOutOfRange {
                part,
                node: id,
                feature: s.feature,
                n_features,
            });
        }
        if !s.value.is_some_and(f64::is_finite) {
            return Err(StructureError::BadThreshold { part, node: id });
        }
        for child in [t, f] {
            match seen.get_mut(child) {
                None => {
                    return Err(StructureError::NodeOutOfRange {
                        part,
                        node: id,
                        child,
                        len: nodes.len(),
                    })
                }
                Some(true) => {
                    return Err(StructureError::NodeReachedTwice {
                        part,
                        node: id,
                        child,
                    })
                }
                Some(s) => *s = true,
            }
            stack.push(child);
        }
    }
    if let Some(node) = seen.iter().position(|s| !s) {
        return Err(StructureError::UnreachableNode { part, node });
    }
    Ok(())
}

/// A fitted matrix of exactly `rows` x `cols` finite values.
pub(super) fn matrix(
    part: Part,
    name: &'static str,
    matrix: &Option<Matrix>,
    rows: usize,
    cols: usize,
) -> Result<(), StructureError> {
    let m = matrix
        .as_ref()
        .ok_or(StructureError::NotFitted { part, field: name })?;
    if m.nrows != rows || m.ncols != cols || m.values.len() != rows * cols {
        return Err(StructureError::BadShape {
            part,
            matrix: name,
            rows: m.nrows,
            cols: m.ncols,
            values: m.values.len(),
            expected_rows: rows,
            expected_cols: cols,
        });
    }
    if let Some(index) = m.values.iter().position(|v| !v.is_finite()) {
        return Err(StructureError::NonFinite {
            part,
            matrix: name,
            index,
        });
    }
    Ok(())
}
