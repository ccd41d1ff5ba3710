//! Replays the shared event script `testdata/events/events.json` (which the C, Python
//! and JS doors replay too): submit, finish, fail, reload (one refused), shutdown, with
//! one subscriber that reads everything and one with a small capacity that lags.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use conveyor::events::lagged_json;
use conveyor::{Job, Pool, PoolConfig, Recipe, RecvError, Settings, Subscription};
use serde_json::Value;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata")
}

/// The matching rule of `testdata/events/README.md`: the same keys, equal values, and
/// `"<us>"` for any non-negative integer.
fn matches(want: &Value, got: &Value) -> bool {
    match (want, got) {
        (Value::String(s), v) if s == "<us>" => v.as_u64().is_some(),
        (Value::Object(w), Value::Object(g)) => {
            w.len() == g.len()
                && w.iter()
                    .all(|(k, wv)| g.get(k).is_some_and(|gv| matches(wv, gv)))
        }
        (Value::Array(w), Value::Array(g)) => {
            w.len() == g.len() && w.iter().zip(g).all(|(a, b)| matches(a, b))
        }
        (w, g) => w == g,
    }
}

/// Every event, with lags in-band as every door shows them, until the bus closes.
fn drain(sub: &mut Subscription) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        match sub.recv() {
            Ok(e) => out.push(serde_json::to_value(&e).unwrap()),
            Err(RecvError::Lagged(n)) => out.push(lagged_json(n)),
            Err(RecvError::Closed) => return out,
        }
    }
}

#[test]
fn the_event_script_gives_the_expected_streams() {
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(testdata().join("events/events.json")).unwrap(),
    )
    .unwrap();
    let pool = Pool::from_config(PoolConfig::from_json(&doc["pool"].to_string()).unwrap()).unwrap();
    let mut subs: HashMap<String, Subscription> = HashMap::new();
    for step in doc["steps"].as_array().unwrap() {
        match step["op"].as_str().unwrap() {
            "subscribe" => {
                let mut sub = pool.subscribe();
                if let Some(c) = step["capacity"].as_u64() {
                    sub = sub.with_capacity(c as usize);
                }
                subs.insert(step["name"].as_str().unwrap().into(), sub);
            }
            "submit" => {
                let path = testdata()
                    .join("vectors/inputs")
                    .join(step["input"].as_str().unwrap());
                let mut job = Job::new(Bytes::from(std::fs::read(path).unwrap()));
                if !step["recipe"].is_null() {
                    job = job.with_recipe(Recipe::from_json(&step["recipe"].to_string()).unwrap());
                }
                let outcome = pool.submit(job).unwrap().wait();
                let want = &step["outcome"];
                assert_eq!(
                    outcome.is_ok(),
                    want["ok"].as_bool().unwrap(),
                    "{step}: {outcome:?}"
                );
                match &outcome.result {
                    Ok(report) => {
                        let names: Vec<&str> =
                            report.outputs.iter().map(|o| o.name.as_str()).collect();
                        let want: Vec<&str> = want["outputs"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|v| v.as_str().unwrap())
                            .collect();
                        assert_eq!(names, want, "{step}");
                    }
                    Err(e) => assert_eq!(e.kind.as_str(), want["code"].as_str().unwrap(), "{step}"),
                }
            }
            "reload" => {
                let settings: Result<Settings, _> =
                    serde_json::from_value(step["settings"].clone());
                let result = match settings {
                    Ok(s) => pool.reload(s).map_err(|e| e.kind.as_str().to_owned()),
                    Err(_) => Err("invalid_argument".to_owned()),
                };
                match step["error"].as_str() {
                    Some(code) => assert_eq!(result, Err(code.to_owned()), "{step}"),
                    None => assert_eq!(result, Ok(()), "{step}"),
                }
            }
            "shutdown" => pool.shutdown(),
            other => panic!("unknown op {other}"),
        }
    }
    for (name, want) in doc["expect"].as_object().unwrap() {
        let got = drain(subs.get_mut(name).unwrap());
        let want = want.as_array().unwrap();
        assert_eq!(got.len(), want.len(), "{name}: {got:#?}");
        for (i, (w, g)) in want.iter().zip(&got).enumerate() {
            assert!(matches(w, g), "{name}[{i}]: want {w}, got {g}");
        }
    }
}
