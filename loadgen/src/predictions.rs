//! The check of a 200 prediction: how many predictions its answer holds, read by a
//! scan of the bytes with nothing built. Deserialising every answer with serde_json,
//! even into `IgnoredAny`, cost a fifth of the load generator's own work per request.

/// The end of the JSON string whose opening quote is at `start` (the index of its
/// closing quote).
fn string_end(body: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < body.len() {
        match body[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// The number of elements of the array at `start` (its `[`), counted at its own level.
fn array_len(body: &[u8], start: usize) -> Option<usize> {
    let (mut depth, mut count, mut empty) = (0usize, 0usize, true);
    let mut i = start + 1;
    while i < body.len() {
        match body[i] {
            b'"' => {
                i = string_end(body, i)?;
                empty = false;
            }
            b'[' | b'{' => {
                depth += 1;
                empty = false;
            }
            b']' | b'}' if depth > 0 => depth -= 1,
            b']' => return Some(if empty { 0 } else { count + 1 }),
            b',' if depth == 0 => count += 1,
            b' ' | b'\t' | b'\r' | b'\n' => {}
            _ => empty = false,
        }
        i += 1;
    }
    None
}

/// The number of predictions in a `/predict` answer (the length of the top-level
/// object's `predictions` array), if it has that shape.
pub fn prediction_count(body: &[u8]) -> Option<usize> {
    let skip_ws = |mut i: usize| {
        while body.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
            i += 1;
        }
        i
    };
    let mut i = skip_ws(0);
    if body.get(i) != Some(&b'{') {
        return None;
    }
    let mut depth = 0usize;
    while i < body.len() {
        match body[i] {
            b'"' => {
                let end = string_end(body, i)?;
                let after = skip_ws(end + 1);
                if depth == 1
                    && &body[i + 1..end] == b"predictions"
                    && body.get(after) == Some(&b':')
                {
                    let value = skip_ws(after + 1);
                    return match body.get(value) {
                        Some(b'[') => array_len(body, value),
                        _ => None,
                    };
                }
                i = end;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.checked_sub(1)?,
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::prediction_count;

    #[test]
    fn prediction_count_reads_the_shape_not_the_values() {
        let two =
            br#"{"predictions":[{"class":"setosa","probabilities":{"setosa":1.0}},{"value":2.5}]}"#;
        assert_eq!(prediction_count(two), Some(2));
        assert_eq!(prediction_count(br#"{"predictions":[]}"#), Some(0));
        assert_eq!(prediction_count(br#"{"error":"x","message":"y"}"#), None);
        assert_eq!(prediction_count(b"not json"), None);
    }

    #[test]
    fn prediction_count_finds_the_top_level_key_only() {
        let served = br#"{"predictions":[{"class":"setosa","class_id":0},{"class":"virginica","class_id":2}],"model":{"name":"iris","version":"48a4a3fb1186"}}"#;
        assert_eq!(prediction_count(served), Some(2));
        // The key later, after values that hold the word, brackets and escaped quotes.
        let tricky = br#"{ "model" : {"predictions":[1,2,3]}, "note":"a \"predictions\" [,]",
            "predictions" : [ {"class":"a,b]"} , [1,[2]] , 3 ] }"#;
        assert_eq!(prediction_count(tricky), Some(3));
        assert_eq!(prediction_count(br#"{"predictions":[ ]}"#), Some(0));
        assert_eq!(prediction_count(br#"{"predictions":{"a":1}}"#), None);
        assert_eq!(prediction_count(br#"{"predictions":[1,2"#), None);
        assert_eq!(prediction_count(br#"["predictions",[1]]"#), None);
        assert_eq!(prediction_count(b""), None);
    }

    #[test]
    fn prediction_count_agrees_with_serde_json() {
        let mut rng = fastrand::Rng::with_seed(3);
        for _ in 0..500 {
            let n = rng.usize(0..9);
            let predictions: Vec<serde_json::Value> = (0..n)
                .map(|i| match rng.u8(0..3) {
                    0 => serde_json::json!({"class": format!("c\"{i}],"), "class_id": i}),
                    1 => {
                        serde_json::json!({"value": rng.f64(), "probabilities": {"a": [0.5, 0.5]}})
                    }
                    _ => serde_json::json!([i, {"x": "}"}]),
                })
                .collect();
            let body =
                serde_json::json!({"model": {"name": "predictions"}, "predictions": predictions});
            let text = if rng.bool() {
                serde_json::to_vec_pretty(&body).unwrap()
            } else {
                serde_json::to_vec(&body).unwrap()
            };
            assert_eq!(
                prediction_count(&text),
                Some(n),
                "{}",
                String::from_utf8_lossy(&text)
            );
        }
    }
}
