//! The Prometheus text exposition format (version 0.0.4), written straight into
//! one caller-owned `String`.
//!
//! This module owns turning gathered [`MetricFamily`] values into the bytes
//! `GET /metrics` serves. Its output is meant to be byte-for-byte what the
//! prometheus crate's `TextEncoder` prints for the same families (the tests
//! below compare the two), so scrapers and `promtool` see no difference; what
//! differs is the cost: the encoder appends to the buffer it is given and
//! allocates nothing per family, series or sample (the reference encoder
//! allocates a `String` per sample value, per bucket bound and per type name).
//!
//! Numbers follow the reference exactly: a sample value is Rust's `Display`
//! of the `f64` (`1`, `0.25`, `inf`, `-inf`, `NaN`, `-0`, never an exponent);
//! integral values below 2^53 take a faster integer path that prints the same
//! digits. Histogram buckets print `le` as the bound's `Display` and add a
//! `+Inf` bucket unless one is present; the count of a bucket, histogram or
//! summary is the `u64` converted to `f64`, as the reference does.
//!
//! The one deliberate difference: an `UNTYPED` family is an error here, where
//! the reference panics. The OpenTelemetry exporter never produces one.

use std::fmt::Write as _;

use prometheus::proto::{LabelPair, Metric, MetricFamily, MetricType};

/// Why a family could not be encoded. Families are checked before anything of
/// them is written: the buffer then holds the families before it, complete.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EncodeError {
    #[error("metric family {0:?} has no metrics")]
    NoMetrics(String),
    #[error("a metric family has no name")]
    NoName,
    #[error("metric family {0:?} is untyped, which the text encoder does not support")]
    Untyped(String),
}

/// Appends `families` to `out` in the text format, in the order given.
pub fn encode(families: &[MetricFamily], out: &mut String) -> Result<(), EncodeError> {
    for family in families {
        encode_family(family, out)?;
    }
    Ok(())
}

fn encode_family(family: &MetricFamily, out: &mut String) -> Result<(), EncodeError> {
    let name = family.name();
    let metrics = family.get_metric();
    if metrics.is_empty() {
        return Err(EncodeError::NoMetrics(name.to_owned()));
    }
    if name.is_empty() {
        return Err(EncodeError::NoName);
    }
    let kind = family.get_field_type();
    let type_name = match kind {
        MetricType::COUNTER => "counter",
        MetricType::GAUGE => "gauge",
        MetricType::HISTOGRAM => "histogram",
        MetricType::SUMMARY => "summary",
        MetricType::UNTYPED => return Err(EncodeError::Untyped(name.to_owned())),
    };

    let help = family.help();
    if !help.is_empty() {
        out.push_str("# HELP ");
        out.push_str(name);
        out.push(' ');
        push_escaped(out, help, false);
        out.push('\n');
    }
    out.push_str("# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(type_name);
    out.push('\n');

    for metric in metrics {
        match kind {
            MetricType::COUNTER => {
                sample(
                    out,
                    name,
                    "",
                    metric,
                    None,
                    metric.get_counter().get_value(),
                );
            }
            MetricType::GAUGE => {
                sample(out, name, "", metric, None, metric.get_gauge().get_value());
            }
            MetricType::HISTOGRAM => histogram(out, name, metric),
            MetricType::SUMMARY => summary(out, name, metric),
            MetricType::UNTYPED => unreachable!("rejected above"),
        }
    }
    Ok(())
}

fn histogram(out: &mut String, name: &str, metric: &Metric) {
    let h = metric.get_histogram();
    let mut inf_seen = false;
    for bucket in h.get_bucket() {
        let bound = bucket.upper_bound();
        let extra = ExtraLabel::Float("le", bound);
        let count = bucket.cumulative_count() as f64;
        sample(out, name, "_bucket", metric, Some(extra), count);
        inf_seen |= bound.is_infinite() && bound.is_sign_positive();
    }
    let count = h.get_sample_count() as f64;
    if !inf_seen {
        let extra = ExtraLabel::Text("le", "+Inf");
        sample(out, name, "_bucket", metric, Some(extra), count);
    }
    sample(out, name, "_sum", metric, None, h.get_sample_sum());
    sample(out, name, "_count", metric, None, count);
}

fn summary(out: &mut String, name: &str, metric: &Metric) {
    let s = metric.get_summary();
    for q in s.get_quantile() {
        let extra = ExtraLabel::Float("quantile", q.quantile());
        sample(out, name, "", metric, Some(extra), q.value());
    }
    sample(out, name, "_sum", metric, None, s.sample_sum());
    sample(out, name, "_count", metric, None, s.sample_count() as f64);
}

/// The label a histogram bucket or summary quantile adds after the metric's own.
#[derive(Clone, Copy)]
enum ExtraLabel<'a> {
    Text(&'static str, &'a str),
    Float(&'static str, f64),
}

/// One line: `name[suffix]{labels[,extra]} value[ timestamp]`.
fn sample(
    out: &mut String,
    name: &str,
    suffix: &str,
    metric: &Metric,
    extra: Option<ExtraLabel<'_>>,
    value: f64,
) {
    out.push_str(name);
    out.push_str(suffix);
    labels(out, metric.get_label(), extra);
    out.push(' ');
    push_f64(out, value);
    let timestamp = metric.timestamp_ms();
    if timestamp != 0 {
        out.push(' ');
        out.push_str(itoa::Buffer::new().format(timestamp));
    }
    out.push('\n');
}

fn labels(out: &mut String, pairs: &[LabelPair], extra: Option<ExtraLabel<'_>>) {
    if pairs.is_empty() && extra.is_none() {
        return;
    }
    let mut separator = '{';
    for pair in pairs {
        out.push(separator);
        out.push_str(pair.name());
        out.push_str("=\"");
        push_escaped(out, pair.value(), true);
        out.push('"');
        separator = ',';
    }
    match extra {
        None => {}
        Some(ExtraLabel::Text(label, value)) => {
            out.push(separator);
            out.push_str(label);
            out.push_str("=\"");
            push_escaped(out, value, true);
            out.push('"');
        }
        Some(ExtraLabel::Float(label, value)) => {
            // A float's text has nothing to escape: digits, '.', '-', "inf", "NaN".
            out.push(separator);
            out.push_str(label);
            out.push_str("=\"");
            push_f64(out, value);
            out.push('"');
        }
    }
    out.push('}');
}

/// Appends `text` with `\` and newline escaped, and `"` too in a label value.
fn push_escaped(out: &mut String, text: &str, quote: bool) {
    let mut start = 0;
    for (i, byte) in text.bytes().enumerate() {
        let escaped = match byte {
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'"' if quote => "\\\"",
            _ => continue,
        };
        // `i` is at an ASCII byte, so both slices end on character boundaries.
        out.push_str(&text[start..i]);
        out.push_str(escaped);
        start = i + 1;
    }
    out.push_str(&text[start..]);
}

/// Below this magnitude every integer is an `f64` and `Display` prints it as
/// the plain integer; above it `Display` prints the shortest round-trip digits
/// padded with zeros, which an integer formatter would not.
const EXACT_INTEGERS: f64 = 9_007_199_254_740_992.0; // 2^53

/// Appends `value` exactly as `value.to_string()` would.
fn push_f64(out: &mut String, value: f64) {
    if value.abs() < EXACT_INTEGERS {
        let int = value as i64;
        // `-0.0` compares equal to 0 but `Display` prints it as "-0".
        if int as f64 == value && !(int == 0 && value.is_sign_negative()) {
            out.push_str(itoa::Buffer::new().format(int));
            return;
        }
    }
    // Writing into a `String` cannot fail.
    let _ = write!(out, "{value}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::proto::{Bucket, Counter, Gauge, Histogram, Quantile, Summary};
    use prometheus::{Encoder, TextEncoder};

    fn pair(name: &str, value: &str) -> LabelPair {
        let mut p = LabelPair::default();
        p.set_name(name.to_owned());
        p.set_value(value.to_owned());
        p
    }

    fn family(name: &str, help: &str, kind: MetricType, metrics: Vec<Metric>) -> MetricFamily {
        let mut f = MetricFamily::default();
        f.set_name(name.to_owned());
        f.set_help(help.to_owned());
        f.set_field_type(kind);
        f.set_metric(metrics);
        f
    }

    fn counter(labels: &[(&str, &str)], value: f64) -> Metric {
        let mut c = Counter::default();
        c.set_value(value);
        let mut m = Metric::from_label(labels.iter().map(|(n, v)| pair(n, v)).collect());
        m.set_counter(c);
        m
    }

    fn gauge(labels: &[(&str, &str)], value: f64) -> Metric {
        let mut g = Gauge::default();
        g.set_value(value);
        let mut m = Metric::from_label(labels.iter().map(|(n, v)| pair(n, v)).collect());
        m.set_gauge(g);
        m
    }

    fn histogram(labels: &[(&str, &str)], buckets: &[(f64, u64)], sum: f64, count: u64) -> Metric {
        let mut h = Histogram::default();
        h.set_bucket(
            buckets
                .iter()
                .map(|&(bound, cumulative)| {
                    let mut b = Bucket::default();
                    b.set_upper_bound(bound);
                    b.set_cumulative_count(cumulative);
                    b
                })
                .collect(),
        );
        h.set_sample_sum(sum);
        h.set_sample_count(count);
        let mut m = Metric::from_label(labels.iter().map(|(n, v)| pair(n, v)).collect());
        m.set_histogram(h);
        m
    }

    fn reference(families: &[MetricFamily]) -> String {
        let mut buf = Vec::new();
        TextEncoder::new().encode(families, &mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    fn ours(families: &[MetricFamily]) -> String {
        let mut out = String::new();
        encode(families, &mut out).unwrap();
        out
    }

    /// Ours equals the reference and is not trivially empty.
    fn assert_same(families: &[MetricFamily]) -> String {
        let expected = reference(families);
        assert!(!expected.is_empty());
        assert_eq!(ours(families), expected);
        expected
    }

    #[test]
    fn counters_and_gauges_with_labels_needing_escapes() {
        let families = [
            family(
                "requests_total",
                "Requests, by \"route\"\\path\nsecond line",
                MetricType::COUNTER,
                vec![
                    counter(&[("method", "GET"), ("route", "/a\\b\"c\nd")], 3.0),
                    counter(&[("method", "POST"), ("route", "é/ü/日本")], 0.0),
                    counter(&[("route", "\\\\\"\"\n\n")], 1e6),
                    counter(&[], 7.0),
                ],
            ),
            family(
                "in_flight",
                "",
                MetricType::GAUGE,
                vec![gauge(&[("a", "")], -2.0), gauge(&[], 0.5)],
            ),
        ];
        let text = assert_same(&families);
        // The escapes really happened (so the comparison covered them).
        assert!(text.contains(r#"route="/a\\b\"c\nd""#), "{text}");
        assert!(
            text.contains("# HELP requests_total Requests, by \"route\"\\\\path\\nsecond line\n")
        );
        assert!(!text.contains("# HELP in_flight"));
    }

    #[test]
    fn special_and_awkward_floats() {
        let values = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.1,
            1.0 / 3.0,
            123_456.789,
            1e-7,
            5e-324,
            1e15,
            1e21,
            1e300,
            -1e300,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            f64::EPSILON,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            EXACT_INTEGERS - 1.0,
            EXACT_INTEGERS,
            EXACT_INTEGERS + 2.0,
            -EXACT_INTEGERS,
            (1u64 << 60) as f64,
            u64::MAX as f64,
            i64::MIN as f64,
        ];
        let metrics = values.iter().map(|&v| gauge(&[], v)).collect();
        let text = assert_same(&[family("g", "h", MetricType::GAUGE, metrics)]);
        for needle in ["g inf\n", "g -inf\n", "g NaN\n", "g -0\n", "g 0.1\n"] {
            assert!(text.contains(needle), "{needle:?} missing from\n{text}");
        }
    }

    #[test]
    fn float_formatting_matches_display_across_magnitudes() {
        // A deterministic spread of values, integral and not, around every
        // power of two that matters for the integer fast path.
        let mut out = String::new();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for exp in 0..64 {
            let base = (1u64 << exp) as f64;
            for delta in [-1.0, -0.5, 0.0, 0.5, 1.0] {
                for sign in [1.0, -1.0] {
                    let v = sign * (base + delta);
                    out.clear();
                    push_f64(&mut out, v);
                    assert_eq!(out, v.to_string(), "{v:?}");
                }
            }
        }
        for _ in 0..100_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            for v in [
                f64::from_bits(state),
                (state >> 11) as f64,
                (state >> 40) as f64 / 1024.0,
            ] {
                out.clear();
                push_f64(&mut out, v);
                assert_eq!(out, v.to_string(), "{v:?}");
            }
        }
    }

    #[test]
    fn histograms_with_and_without_an_inf_bucket() {
        let families = [family(
            "latency_seconds",
            "Latency",
            MetricType::HISTOGRAM,
            vec![
                histogram(
                    &[("route", "/predict")],
                    &[(0.005, 1), (0.25, 4), (1.0, 9), (10.0, 9)],
                    3.75,
                    12,
                ),
                histogram(&[], &[(1.0, 1), (f64::INFINITY, 2)], 2.5, 2),
                histogram(&[("x", "\"")], &[], 0.0, 0),
                histogram(&[], &[(-1.5, 0), (1e-3, 1)], f64::NAN, u64::MAX),
            ],
        )];
        let text = assert_same(&families);
        let first: Vec<&str> = text.lines().skip(2).take(7).collect();
        assert_eq!(
            first,
            [
                r#"latency_seconds_bucket{route="/predict",le="0.005"} 1"#,
                r#"latency_seconds_bucket{route="/predict",le="0.25"} 4"#,
                r#"latency_seconds_bucket{route="/predict",le="1"} 9"#,
                r#"latency_seconds_bucket{route="/predict",le="10"} 9"#,
                r#"latency_seconds_bucket{route="/predict",le="+Inf"} 12"#,
                r#"latency_seconds_sum{route="/predict"} 3.75"#,
                r#"latency_seconds_count{route="/predict"} 12"#,
            ]
        );
    }

    #[test]
    fn summaries_and_timestamps() {
        let mut s = Summary::default();
        s.set_sample_count(5);
        s.set_sample_sum(15.5);
        s.set_quantile(
            [(0.5, 3.0), (0.99, f64::NAN)]
                .iter()
                .map(|&(q, v)| {
                    let mut quantile = Quantile::default();
                    quantile.set_quantile(q);
                    quantile.set_value(v);
                    quantile
                })
                .collect(),
        );
        let mut m = Metric::from_label(vec![pair("a", "b")]);
        m.set_summary(s);
        m.set_timestamp_ms(1_700_000_000_000);
        let mut negative = counter(&[], 1.0);
        negative.set_timestamp_ms(-5);
        assert_same(&[
            family("s", "A summary", MetricType::SUMMARY, vec![m]),
            family("c_total", "C", MetricType::COUNTER, vec![negative]),
        ]);
    }

    #[test]
    fn appends_to_what_the_buffer_holds() {
        let families = [family(
            "c_total",
            "C",
            MetricType::COUNTER,
            vec![counter(&[], 1.0)],
        )];
        let mut out = String::from("kept\n");
        encode(&families, &mut out).unwrap();
        assert_eq!(out, format!("kept\n{}", reference(&families)));
    }

    #[test]
    fn nothing_to_encode_is_empty() {
        assert_eq!(ours(&[]), "");
        assert_eq!(reference(&[]), "");
    }

    #[test]
    fn families_the_reference_rejects_are_errors() {
        let mut out = String::new();
        let empty = family("e", "E", MetricType::COUNTER, vec![]);
        assert!(TextEncoder::new()
            .encode(std::slice::from_ref(&empty), &mut Vec::new())
            .is_err());
        assert_eq!(
            encode(&[empty], &mut out),
            Err(EncodeError::NoMetrics("e".into()))
        );

        let nameless = family("", "E", MetricType::COUNTER, vec![counter(&[], 1.0)]);
        assert!(TextEncoder::new()
            .encode(std::slice::from_ref(&nameless), &mut Vec::new())
            .is_err());
        assert_eq!(encode(&[nameless], &mut out), Err(EncodeError::NoName));

        let untyped = family("u", "U", MetricType::UNTYPED, vec![Metric::default()]);
        assert_eq!(
            encode(&[untyped], &mut out),
            Err(EncodeError::Untyped("u".into()))
        );
    }
}
