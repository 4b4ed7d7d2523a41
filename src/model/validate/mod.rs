//! Structural checks of a fitted classifier or regressor, run on the artifact's JSON before
//! smartcore sees it.
//!
//! smartcore's fitted types keep their fields private and trust them at prediction time:
//! a tree node that points at itself loops forever, an out-of-range node, feature or class
//! index panics, and a coefficient matrix whose `values` disagree with its shape panics.
//! A forged artifact can carry any of these with a valid checksum, so [`check_classifier`]
//! and [`check_regressor`] parse the same JSON into mirror types of what smartcore 0.7
//! serializes (same field names and field types, so both read the same numbers) and refuse
//! anything smartcore could not have fitted. Unknown fields are refused too: a file with extra content is not one that
//! `train` wrote.
//!
//! Here, one concern a file: `classifier` and `regressor` (the mirror types of each and
//! the check of each), `rules` (what every fitted model shares: the tree walk, matrix
//! shapes, counts) and `error` (what is refused).

mod classifier;
mod error;
mod regressor;
mod rules;

pub use classifier::check_classifier;
pub use error::{CheckError, Part, StructureError};
pub use regressor::check_regressor;
