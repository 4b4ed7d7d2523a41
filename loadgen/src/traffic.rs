//! What is sent: realistic rows sampled as the mix file says, the input drift applied
//! to rows sent after a given time, and every request body rendered once at start-up
//! (a pool per kind and per phase), so that a transaction only picks a prepared body.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::mix::{MixFile, Rows};

const PREDICT: &str = "/predict";

/// `--drift-after`: from `after` on (counted from the start of the load), every row
/// sent is `row * scale + offset`, feature by feature, rounded again.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftPlan {
    pub after: Duration,
    pub scale: f64,
    pub offset: Vec<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// One request, ready to send: everything borrowed from the pre-rendered traffic.
#[derive(Debug, Clone, Copy)]
pub struct Planned<'a> {
    pub method: Method,
    pub path: &'a str,
    pub name: &'a str,
    pub body: Option<&'a str>,
    /// Header name and value.
    pub header: Option<(&'a str, &'a str)>,
    pub expect: u16,
    /// Rows in the body (valid rows only), counted as predicted if the answer is 200.
    pub rows: u64,
    /// The rows were shifted by the drift.
    pub drifted: bool,
}

/// A rendered body and the number of rows it holds.
#[derive(Debug, Clone)]
pub struct Body {
    pub text: String,
    pub rows: u64,
}

#[derive(Debug, Clone)]
struct Pools {
    single: Vec<Body>,
    batch: Vec<Body>,
}

pub struct Traffic {
    pub mix: MixFile,
    before: Pools,
    /// Present with a drift plan.
    after: Option<(Duration, Pools)>,
    started: OnceLock<Instant>,
}

fn round_to(v: f64, decimals: usize) -> f64 {
    let scale = 10f64.powi(decimals as i32);
    (v * scale).round() / scale
}

/// A standard normal sample (Box–Muller).
fn gauss(rng: &mut fastrand::Rng) -> f64 {
    let u1 = 1.0 - rng.f64(); // (0, 1]
    let u2 = rng.f64();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// One row around the mean of a class picked evenly, clamped at `min` and rounded.
pub fn sample_row(rows: &Rows, rng: &mut fastrand::Rng) -> Vec<f64> {
    let class = &rows.classes[rng.usize(0..rows.classes.len())];
    class
        .mean
        .iter()
        .zip(&class.std_dev)
        .map(|(m, s)| round_to((m + s * gauss(rng)).max(rows.min), rows.decimals))
        .collect()
}

/// The drifted version of a row.
pub fn drift_row(row: &[f64], drift: &DriftPlan, decimals: usize) -> Vec<f64> {
    row.iter()
        .zip(&drift.offset)
        .map(|(v, o)| round_to(v * drift.scale + o, decimals))
        .collect()
}

fn render_row(out: &mut String, row: &[f64], decimals: usize) {
    use std::fmt::Write;
    out.push('[');
    for (i, v) in row.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{v:.decimals$}");
    }
    out.push(']');
}

/// `{"features":[…]}` for one row, `{"instances":[[…],…]}` for a batch.
pub fn render(rows: &[Vec<f64>], decimals: usize, batch: bool) -> String {
    let mut out = String::with_capacity(24 + rows.len() * 20);
    if batch {
        out.push_str("{\"instances\":[");
        for (i, row) in rows.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            render_row(&mut out, row, decimals);
        }
        out.push_str("]}");
    } else {
        out.push_str("{\"features\":");
        render_row(&mut out, &rows[0], decimals);
        out.push('}');
    }
    out
}

impl Pools {
    /// `pool_size` bodies of each kind; the same seed gives the same rows, so the
    /// drifted pool holds the drifted versions of the rows of the pool before.
    fn build(mix: &MixFile, seed: u64, drift: Option<&DriftPlan>) -> Self {
        let mut rng = fastrand::Rng::with_seed(seed);
        let d = mix.rows.decimals;
        let mut rows_of = |n: usize| -> Vec<Vec<f64>> {
            (0..n)
                .map(|_| {
                    let row = sample_row(&mix.rows, &mut rng);
                    match drift {
                        Some(plan) => drift_row(&row, plan, d),
                        None => row,
                    }
                })
                .collect()
        };
        let single = (0..mix.pool_size)
            .map(|_| Body {
                text: render(&rows_of(1), d, false),
                rows: 1,
            })
            .collect();
        let b = &mix.ok.batch;
        let mut sizes = fastrand::Rng::with_seed(seed ^ 0x5eed);
        let batch = (0..mix.pool_size)
            .map(|_| {
                let n = sizes.usize(b.min_rows..=b.max_rows);
                Body {
                    text: render(&rows_of(n), d, true),
                    rows: n as u64,
                }
            })
            .collect();
        Pools { single, batch }
    }
}

impl Traffic {
    pub fn new(mix: MixFile, drift: Option<DriftPlan>, seed: u64) -> Self {
        let before = Pools::build(&mix, seed, None);
        let after = drift.map(|plan| (plan.after, Pools::build(&mix, seed, Some(&plan))));
        Traffic {
            mix,
            before,
            after,
            started: OnceLock::new(),
        }
    }

    /// Starts the drift clock (the first call wins).
    pub fn start_clock(&self) {
        self.started.get_or_init(Instant::now);
    }

    fn pools(&self) -> (&Pools, bool) {
        match (&self.after, self.started.get()) {
            (Some((after, pools)), Some(t0)) if t0.elapsed() >= *after => (pools, true),
            _ => (&self.before, false),
        }
    }

    /// Every path a request may go to: `/predict` and the client errors' paths.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        std::iter::once(PREDICT).chain(
            self.mix
                .client_errors
                .iter()
                .flat_map(|c| c.paths.iter().map(String::as_str)),
        )
    }

    /// A valid row for the pre-flight probe (never drifted).
    pub fn probe_body(&self) -> &str {
        &self.before.single[0].text
    }

    /// A valid prediction: one row, or a batch.
    pub fn ok(&self) -> Planned<'_> {
        let (pools, drifted) = self.pools();
        let batch = fastrand::f64() < self.mix.ok.batch.share;
        let (pool, name) = if batch {
            (&pools.batch, &self.mix.ok.batch.name)
        } else {
            (&pools.single, &self.mix.ok.single.name)
        };
        let body = &pool[fastrand::usize(0..pool.len())];
        Planned {
            method: Method::Post,
            path: PREDICT,
            name,
            body: Some(&body.text),
            header: None,
            expect: 200,
            rows: body.rows,
            drifted,
        }
    }

    /// One of the client errors, evenly; `None` if the mix file lists none.
    pub fn client_error(&self) -> Option<Planned<'_>> {
        let kinds = &self.mix.client_errors;
        if kinds.is_empty() {
            return None;
        }
        let kind = &kinds[fastrand::usize(0..kinds.len())];
        let body = (!kind.bodies.is_empty())
            .then(|| kind.bodies[fastrand::usize(0..kind.bodies.len())].as_str());
        Some(Planned {
            method: if kind.method.eq_ignore_ascii_case("GET") {
                Method::Get
            } else {
                Method::Post
            },
            path: &kind.paths[fastrand::usize(0..kind.paths.len())],
            name: &kind.name,
            body,
            header: None,
            expect: kind.expect,
            rows: 0,
            drifted: false,
        })
    }

    /// A valid row with an injected fault, the faults evenly.
    pub fn server_error(&self) -> Planned<'_> {
        let (pools, drifted) = self.pools();
        let faults = &self.mix.server_errors.faults;
        let fault = &faults[fastrand::usize(0..faults.len())];
        let body = &pools.single[fastrand::usize(0..pools.single.len())];
        Planned {
            method: Method::Post,
            path: PREDICT,
            name: &fault.name,
            body: Some(&body.text),
            header: Some((&self.mix.server_errors.header, &fault.value)),
            expect: fault.expect,
            rows: body.rows,
            drifted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(after: Duration) -> DriftPlan {
        let mix = MixFile::load(None).unwrap();
        DriftPlan {
            after,
            scale: mix.drift.scale,
            offset: mix.drift.offset.clone(),
        }
    }

    fn features(body: &str) -> Vec<Vec<f64>> {
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        match (v.get("features"), v.get("instances")) {
            (Some(row), None) => vec![serde_json::from_value(row.clone()).unwrap()],
            (None, Some(rows)) => serde_json::from_value(rows.clone()).unwrap(),
            _ => panic!("neither features nor instances: {body}"),
        }
    }

    /// Population stability index of `actual` against `expected`, over `expected`'s
    /// deciles plus a below-min and an above-max bin (as the server bins inputs).
    fn psi(expected: &[f64], actual: &[f64]) -> f64 {
        let mut sorted = expected.to_vec();
        sorted.sort_by(f64::total_cmp);
        let edges: Vec<f64> = (1..10).map(|i| sorted[i * sorted.len() / 10]).collect();
        let (lo, hi) = (sorted[0], sorted[sorted.len() - 1]);
        let bin = |v: f64| {
            if v < lo {
                0
            } else if v > hi {
                11
            } else {
                1 + edges.iter().filter(|e| v >= **e).count()
            }
        };
        let shares = |xs: &[f64]| {
            let mut counts = [0f64; 12];
            for &v in xs {
                counts[bin(v)] += 1.0;
            }
            counts.map(|c| (c / xs.len() as f64).max(1e-4))
        };
        let (e, a) = (shares(expected), shares(actual));
        e.iter().zip(&a).map(|(e, a)| (a - e) * (a / e).ln()).sum()
    }

    fn column(bodies: &[String], feature: usize) -> Vec<f64> {
        bodies
            .iter()
            .flat_map(|b| features(b))
            .map(|row| row[feature])
            .collect()
    }

    #[test]
    fn bodies_are_valid_json_with_the_rows_they_claim() {
        let t = Traffic::new(MixFile::load(None).unwrap(), None, 7);
        for _ in 0..200 {
            let p = t.ok();
            let rows = features(p.body.unwrap());
            assert_eq!(rows.len() as u64, p.rows);
            assert!(rows
                .iter()
                .all(|r| r.len() == 4 && r.iter().all(|v| *v >= 0.1)));
            assert!(!p.drifted);
        }
    }

    #[test]
    fn rows_change_only_after_the_drift_time_and_by_the_documented_shift() {
        let t = Traffic::new(
            MixFile::load(None).unwrap(),
            Some(plan(Duration::from_millis(300))),
            7,
        );
        // Before the clock starts, and right after, nothing is drifted.
        assert!(!t.ok().drifted);
        t.start_clock();
        assert!(!t.ok().drifted && !t.server_error().drifted);
        std::thread::sleep(Duration::from_millis(350));
        let p = t.ok();
        assert!(p.drifted && t.server_error().drifted);
        // The drifted pool is the pool before, shifted row by row.
        let (_, after) = t.after.as_ref().unwrap();
        for (b, a) in t.before.single.iter().zip(&after.single).take(50) {
            let (b, a) = (&features(&b.text)[0], &features(&a.text)[0]);
            let expected = drift_row(b, &plan(Duration::ZERO), 1);
            assert_eq!(a, &expected, "before {b:?}");
        }
    }

    #[test]
    fn default_drift_moves_every_feature_psi_well_above_0_2() {
        let t = Traffic::new(MixFile::load(None).unwrap(), Some(plan(Duration::ZERO)), 11);
        let other = Traffic::new(MixFile::load(None).unwrap(), None, 12);
        let (_, after) = t.after.as_ref().unwrap();
        let texts = |p: &Pools| p.single.iter().map(|b| b.text.clone()).collect::<Vec<_>>();
        let (before, drifted, fresh) = (texts(&t.before), texts(after), texts(&other.before));
        for f in 0..4 {
            let reference = column(&before, f);
            let stable = psi(&reference, &column(&fresh, f));
            let shifted = psi(&reference, &column(&drifted, f));
            assert!(stable < 0.1, "feature {f}: PSI without drift {stable}");
            assert!(shifted > 1.0, "feature {f}: PSI with drift {shifted}");
        }
    }
}
