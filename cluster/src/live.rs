//! The cluster's live configuration: one record in the config bucket (key
//! [`CONFIG_KEY`]) holding the settings in force everywhere, so a reload made on one
//! server reaches every worker and every server, and a process that starts or
//! reconnects later still gets it (a KV record, not only a broadcast).
//!
//! The record ([`ConfigRecord`]) is JSON: `{"v":1,"generation":2,"settings":{..},
//! "job_timeout_ms":60000,"loaded_by":"server:server-41","loaded_at_ms":..}`, where
//! `settings` is the core's [`Settings`] object (`default_recipe`, `limits`,
//! `formats`), parsed as strictly as [`Settings::from_json`]. The generation counts the
//! cluster's configs: 1 is what each process started with when no record exists, and
//! each published reload is the previous record's plus one.
//!
//! Publishing ([`publish`]) reads the standing record and writes the next one with
//! `update` at the revision it read (or `create` when there is none), retrying on a
//! conflict, so two servers reloading at once publish two generations instead of
//! losing one. Following ([`follow`]) watches the key from its last value on and
//! hands each new revision to the caller once, re-watching after NATS drops.

use std::time::Duration;

use async_nats::jetstream::kv;
use conveyor::Settings;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::error::{one_line, ClusterError};

/// The key of the one record in the config bucket.
pub const CONFIG_KEY: &str = "live";

/// The record format version this crate writes and reads.
pub const CONFIG_VERSION: u32 = 1;

/// The settings in force across the cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigRecord {
    /// Format version ([`CONFIG_VERSION`]).
    pub v: u32,
    /// The config's generation: 1 is the start configs, each reload one more.
    pub generation: u64,
    /// The live settings every worker's pool applies with [`conveyor::Pool::reload`].
    pub settings: Settings,
    /// Each job's deadline from its acceptance, which servers put in job messages.
    pub job_timeout_ms: u64,
    /// Who published it (`server:<name>`).
    pub loaded_by: String,
    /// When it was published (Unix milliseconds).
    pub loaded_at_ms: u64,
}

/// The record as stored, before its settings are checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecord {
    v: u32,
    generation: u64,
    settings: serde_json::Value,
    job_timeout_ms: u64,
    loaded_by: String,
    loaded_at_ms: u64,
}

impl ConfigRecord {
    /// Parses and checks a stored record: the format, then the settings by the core's
    /// own strict parser (unknown fields and invalid recipes are refused). The error
    /// is one line naming the fault.
    pub fn parse(data: &[u8]) -> Result<ConfigRecord, String> {
        let raw: RawRecord =
            serde_json::from_slice(data).map_err(|e| one_line(format!("config record: {e}")))?;
        if raw.v != CONFIG_VERSION {
            return Err(format!(
                "config record: version {} (this build reads {CONFIG_VERSION})",
                raw.v
            ));
        }
        if raw.generation < 1 || raw.job_timeout_ms < 1 {
            return Err("config record: generation and job_timeout_ms must be positive".into());
        }
        let settings =
            Settings::from_json(&raw.settings.to_string()).map_err(|e| one_line(e.message))?;
        Ok(ConfigRecord {
            v: raw.v,
            generation: raw.generation,
            settings,
            job_timeout_ms: raw.job_timeout_ms,
            loaded_by: raw.loaded_by,
            loaded_at_ms: raw.loaded_at_ms,
        })
    }

    /// The job timeout.
    pub fn job_timeout(&self) -> Duration {
        Duration::from_millis(self.job_timeout_ms)
    }
}

/// The generation a stored value claims, read leniently (a record this build cannot
/// apply still moves the count on); 1 when it names none.
fn generation_of(data: &[u8]) -> u64 {
    #[derive(Deserialize)]
    struct G {
        generation: u64,
    }
    serde_json::from_slice::<G>(data).map_or(1, |g| g.generation.max(1))
}

/// The standing record's revision in the bucket, and the record (or why it cannot be
/// applied, one line).
pub type Standing = (u64, Result<ConfigRecord, String>);

/// The record in force and its revision, if one was ever published.
pub async fn current(kv: &kv::Store) -> Result<Option<Standing>, ClusterError> {
    match kv.entry(CONFIG_KEY).await.map_err(ClusterError::nats)? {
        Some(e) if e.operation == kv::Operation::Put => {
            Ok(Some((e.revision, ConfigRecord::parse(&e.value))))
        }
        _ => Ok(None),
    }
}

/// Publishes `settings` and `job_timeout` as the next generation, on top of whatever
/// record stands (retrying when another publisher got there between the read and the
/// write). Returns the record written.
pub async fn publish(
    kv: &kv::Store,
    settings: Settings,
    job_timeout: Duration,
    loaded_by: String,
) -> Result<ConfigRecord, ClusterError> {
    settings
        .validate()
        .map_err(|e| ClusterError::Invalid(one_line(e.message)))?;
    for _ in 0..16 {
        let standing = kv.entry(CONFIG_KEY).await.map_err(ClusterError::nats)?;
        let previous = standing
            .as_ref()
            .filter(|e| e.operation == kv::Operation::Put)
            .map_or(1, |e| generation_of(&e.value));
        let rec = ConfigRecord {
            v: CONFIG_VERSION,
            generation: previous + 1,
            settings: settings.clone(),
            job_timeout_ms: (job_timeout.as_millis() as u64).max(1),
            loaded_by: loaded_by.clone(),
            loaded_at_ms: crate::now_ms(),
        };
        let value = serde_json::to_vec(&rec)?;
        let written = match &standing {
            Some(e) => kv
                .update(CONFIG_KEY, value.into(), e.revision)
                .await
                .map_err(|e| {
                    (
                        e.kind() == kv::UpdateErrorKind::WrongLastRevision,
                        one_line(e),
                    )
                }),
            None => kv
                .create(CONFIG_KEY, value.into())
                .await
                .map_err(|e| (e.kind() == kv::CreateErrorKind::AlreadyExists, one_line(e))),
        };
        match written {
            Ok(_) => return Ok(rec),
            Err((true, _)) => continue,
            Err((false, m)) => return Err(ClusterError::Nats(m)),
        }
    }
    Err(ClusterError::Nats(
        "the config record kept changing under this publish; try again".into(),
    ))
}

/// One new value of the config record, as [`follow`] sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigUpdate {
    /// A record that parses and whose settings are valid.
    Record(ConfigRecord),
    /// A record that does not parse or whose settings are invalid: whoever follows
    /// keeps its config and logs this.
    Unreadable {
        /// The record's revision in the bucket.
        revision: u64,
        /// What is wrong, one line.
        error: String,
    },
}

/// Watches the config record and calls `on` with every revision after `after` (pass
/// the revision [`current`] returned, or 0), once each, in order; re-watches after
/// NATS drops (the watch starts from the last value, so nothing published meanwhile
/// is missed). Runs until the task is dropped.
pub async fn follow(kv: kv::Store, after: u64, mut on: impl FnMut(ConfigUpdate) + Send) {
    let mut seen = after;
    loop {
        match kv.watch_with_history(CONFIG_KEY).await {
            Ok(mut w) => {
                while let Some(entry) = w.next().await {
                    let Ok(e) = entry else { break };
                    if e.revision <= seen || e.operation != kv::Operation::Put {
                        seen = seen.max(e.revision);
                        continue;
                    }
                    seen = e.revision;
                    on(match ConfigRecord::parse(&e.value) {
                        Ok(r) => ConfigUpdate::Record(r),
                        Err(error) => ConfigUpdate::Unreadable {
                            revision: e.revision,
                            error,
                        },
                    });
                }
            }
            Err(e) => warn!(error = %one_line(e), "cannot watch the config record; retrying"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use conveyor::Limits;

    fn record() -> ConfigRecord {
        ConfigRecord {
            v: CONFIG_VERSION,
            generation: 3,
            settings: Settings {
                limits: Limits::default().with_max_width(100),
                ..Settings::default()
            },
            job_timeout_ms: 5000,
            loaded_by: "server:a".into(),
            loaded_at_ms: 1,
        }
    }

    #[test]
    fn a_record_round_trips_through_its_json() {
        let r = record();
        let json = serde_json::to_vec(&r).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["generation"], 3);
        assert_eq!(v["settings"]["limits"]["max_width"], 100);
        assert_eq!(v["job_timeout_ms"], 5000);
        assert_eq!(ConfigRecord::parse(&json).unwrap(), r);
        assert_eq!(generation_of(&json), 3);
        assert_eq!(r.job_timeout(), Duration::from_millis(5000));
    }

    #[test]
    fn a_bad_record_is_refused_in_one_line() {
        let good = serde_json::to_value(record()).unwrap();
        let with = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v = good.clone();
            f(&mut v);
            serde_json::to_vec(&v).unwrap()
        };
        for (data, want) in [
            (b"{".to_vec(), "config record"),
            (with(&|v| v["v"] = 9.into()), "version 9"),
            (with(&|v| v["generation"] = 0.into()), "positive"),
            (
                with(&|v| v["settings"]["limits"]["max_width"] = "wide".into()),
                "max_width",
            ),
            (with(&|v| v["settings"]["colour"] = 1.into()), "colour"),
            (
                with(&|v| v["settings"]["default_recipe"] = serde_json::json!({"outputs": []})),
                "output",
            ),
            (with(&|v| v["extra"] = 1.into()), "extra"),
        ] {
            let e = ConfigRecord::parse(&data).unwrap_err();
            assert!(e.contains(want), "{want}: {e}");
            assert!(!e.contains('\n') && e.len() <= 300, "{e}");
        }
        // The generation still counts for a record that cannot be applied.
        assert_eq!(
            generation_of(&with(&|v| v["settings"]["colour"] = 1.into())),
            3
        );
        assert_eq!(generation_of(b"nonsense"), 1);
    }
}
