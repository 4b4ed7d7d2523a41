//! Shared by the benches: read criterion's estimates back and print ratios.

use std::path::PathBuf;
use std::time::Duration;

use criterion::Criterion;

/// Short warm-up and measurement: enough for stable medians of sub-ms work.
pub fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

/// criterion's output folder (`CARGO_TARGET_DIR` aware; benches run from the package root).
fn criterion_dir() -> PathBuf {
    std::env::var_os("CRITERION_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("target"))
                .join("criterion")
        })
}

/// Median time in nanoseconds of a benchmark id such as `predict/random-forest/1`.
pub fn median_ns(id: &str) -> Option<f64> {
    let path = criterion_dir().join(id).join("new").join("estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["median"]["point_estimate"].as_f64()
}

/// Prints `label: a / b = ratio` for every pair whose estimates exist (a filtered
/// run leaves some out).
pub fn print_ratios(pairs: &[(&str, &str, &str)]) {
    let mut printed = false;
    for (label, a, b) in pairs {
        if let (Some(x), Some(y)) = (median_ns(a), median_ns(b)) {
            if !printed {
                println!("\nratios (medians):");
                printed = true;
            }
            println!("  {label}: {} / {} = {:.2}x", human(x), human(y), x / y);
        }
    }
}

pub fn human(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}
