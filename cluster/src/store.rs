//! Where images live in cluster mode: an [`object_store`] behind one small type,
//! [`Store`], chosen by URL, so the same code runs on one machine and on many:
//!
//! - `file:///abs/dir`: a local folder (one machine, or a shared mount);
//! - `s3://bucket[/prefix]`: S3 or anything that speaks it. Credentials, region and
//!   endpoint come from the usual `AWS_*` environment variables
//!   (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT`,
//!   `AWS_ALLOW_HTTP`) or from the URL's query: `?endpoint=http://host:port&region=..`
//!   (an `http://` endpoint allows plain HTTP; requests are path-style then);
//! - `jetstream://bucket`: the JetStream object store of the cluster's own NATS server
//!   (no second service to run; the server's file storage holds the images). Such a
//!   store is bound to its NATS connection by [`ClusterClient`](crate::ClusterClient)
//!   (`connect`/`with_nats`), which creates the bucket (file storage) if missing.
//!   JetStream keeps objects in chunks of 128 KiB and puts them through the server,
//!   so it suits small clusters; S3 scales further (see `DESIGN.md`).
//!
//! Keys: `inputs/<job id>` (deleted once the job has its outcome) and
//! `outputs/<job id>/<name>.<ext>` (see `message.rs`). Objects are written whole; an
//! output counts only once the job's outcome record names it (see `record.rs`).

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjPath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::error::ClusterError;

/// An object store with the crate's key layout.
#[derive(Clone, Debug)]
pub struct Store {
    inner: Backend,
    url: String,
}

/// Where the objects are.
#[derive(Clone)]
enum Backend {
    /// A store of the `object_store` crate (`file://`, `s3://`).
    Objects(Arc<dyn ObjectStore>),
    /// A JetStream object store bucket, opened by [`Store::bind`].
    JetStream {
        bucket: String,
        bound: Arc<tokio::sync::OnceCell<JsObjects>>,
    },
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Objects(o) => f.debug_tuple("Objects").field(o).finish(),
            Backend::JetStream { bucket, bound } => f
                .debug_struct("JetStream")
                .field("bucket", bucket)
                .field("bound", &bound.initialized())
                .finish(),
        }
    }
}

/// How long a read from a JetStream bucket waits for its next chunk.
const CHUNK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// A JetStream object store handle.
type JsObjects = async_nats::jetstream::object_store::ObjectStore;

impl Store {
    /// Opens the store a URL names (see the module doc). A `file://` folder is created
    /// if missing.
    pub fn from_url(url: &str) -> Result<Store, ClusterError> {
        let parsed = url::Url::parse(url)
            .map_err(|e| ClusterError::Invalid(format!("store URL {url:?}: {e}")))?;
        if parsed.scheme() == "jetstream" {
            let bucket = parsed
                .host_str()
                .filter(|b| {
                    !b.is_empty()
                        && b.len() <= 64
                        && b.bytes()
                            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
                })
                .ok_or_else(|| {
                    ClusterError::Invalid(format!(
                        "store URL {url:?}: a JetStream bucket name is 1-64 of A-Z a-z 0-9 _ -"
                    ))
                })?;
            if !parsed.path().trim_matches('/').is_empty() || parsed.query().is_some() {
                return Err(ClusterError::Invalid(format!(
                    "store URL {url:?}: jetstream://bucket takes no path or parameters"
                )));
            }
            return Ok(Store {
                inner: Backend::JetStream {
                    bucket: bucket.to_owned(),
                    bound: Arc::default(),
                },
                url: url.to_owned(),
            });
        }
        let inner: Arc<dyn ObjectStore> = match parsed.scheme() {
            "file" => {
                let dir = parsed.to_file_path().map_err(|()| {
                    ClusterError::Invalid(format!("store URL {url:?}: not an absolute path"))
                })?;
                std::fs::create_dir_all(&dir)?;
                Arc::new(LocalFileSystem::new_with_prefix(&dir).map_err(ClusterError::store)?)
            }
            "s3" => {
                let bucket = parsed
                    .host_str()
                    .filter(|b| (3..=63).contains(&b.len()))
                    .ok_or_else(|| {
                        ClusterError::Invalid(format!(
                            "store URL {url:?}: bucket name must have 3-63 characters"
                        ))
                    })?;
                let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket);
                for (k, v) in parsed.query_pairs() {
                    match &*k {
                        "endpoint" => {
                            b = b
                                .with_allow_http(v.starts_with("http://"))
                                .with_endpoint(v.into_owned())
                        }
                        "region" => b = b.with_region(v.into_owned()),
                        other => {
                            return Err(ClusterError::Invalid(format!(
                                "store URL: unknown parameter {other:?} (endpoint, region)"
                            )))
                        }
                    }
                }
                let s3: Arc<dyn ObjectStore> = Arc::new(b.build().map_err(ClusterError::store)?);
                let prefix = parsed.path().trim_matches('/');
                if prefix.is_empty() {
                    s3
                } else {
                    Arc::new(PrefixStore::new(s3, prefix))
                }
            }
            other => {
                return Err(ClusterError::Invalid(format!(
                    "store URL scheme {other:?}: use file://, s3:// or jetstream://"
                )))
            }
        };
        Ok(Store {
            inner: Backend::Objects(inner),
            url: url.to_owned(),
        })
    }

    /// Opens a `jetstream://` store's bucket on `js`, creating it if missing with file
    /// storage and objects that expire after `max_age` (the outcome records' TTL: an
    /// output is served only while its record stands, and the markers JetStream leaves
    /// for deleted inputs go too); does nothing for other stores or when already bound.
    pub async fn bind(
        &self,
        js: &async_nats::jetstream::Context,
        max_age: std::time::Duration,
    ) -> Result<(), ClusterError> {
        let Backend::JetStream { bucket, bound } = &self.inner else {
            return Ok(());
        };
        bound
            .get_or_try_init(|| async {
                match js.get_object_store(bucket).await {
                    Ok(os) => Ok(os),
                    Err(_) => js
                        .create_object_store(async_nats::jetstream::object_store::Config {
                            bucket: bucket.clone(),
                            description: Some("conveyor inputs and outputs".into()),
                            storage: async_nats::jetstream::stream::StorageType::File,
                            max_age,
                            ..Default::default()
                        })
                        .await
                        .map_err(ClusterError::store),
                }
            })
            .await
            .map(|_| ())
    }

    /// The backend to use now: a bound JetStream bucket or an `object_store` store.
    fn which(&self) -> Result<Which<'_>, ClusterError> {
        match &self.inner {
            Backend::Objects(o) => Ok(Which::Objects(o)),
            Backend::JetStream { bound, .. } => {
                bound.get().map(Which::JetStream).ok_or_else(|| {
                    ClusterError::Invalid(format!(
                        "store {}: not bound to a NATS connection (open it through ClusterClient)",
                        self.url
                    ))
                })
            }
        }
    }

    /// The URL it was opened from.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Writes an object whole.
    pub async fn put(&self, key: &str, data: Bytes) -> Result<(), ClusterError> {
        match self.which()? {
            Which::JetStream(js) => js
                .put(key, &mut data.as_ref())
                .await
                .map(|_| ())
                .map_err(ClusterError::store),
            Which::Objects(o) => o
                .put(&ObjPath::from(key), PutPayload::from_bytes(data))
                .await
                .map(|_| ())
                .map_err(ClusterError::store),
        }
    }

    /// Reads an object; `None` when it does not exist.
    pub async fn get(&self, key: &str) -> Result<Option<Bytes>, ClusterError> {
        match self.which()? {
            Which::JetStream(js) => {
                use async_nats::jetstream::object_store::GetErrorKind;
                use tokio::io::AsyncReadExt;
                let mut object = match js.get(key).await {
                    Ok(o) => o,
                    Err(e) if e.kind() == GetErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(ClusterError::store(e)),
                };
                // The size comes from the object's metadata: reserve at most 64 MiB up
                // front and grow from there.
                let mut buf = Vec::new();
                buf.try_reserve(object.info().size.min(64 << 20))
                    .map_err(ClusterError::store)?;
                // An object deleted or overwritten while it is read never sends its
                // last chunk: bound the wait for each chunk instead of hanging.
                loop {
                    match tokio::time::timeout(CHUNK_WAIT, object.read_buf(&mut buf)).await {
                        Ok(Ok(0)) => break,
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => return Err(ClusterError::store(e)),
                        Err(_) => {
                            return Err(ClusterError::Store(format!(
                                "{key}: no data from the JetStream store for {} s (deleted while read?)",
                                CHUNK_WAIT.as_secs()
                            )))
                        }
                    }
                }
                Ok(Some(Bytes::from(buf)))
            }
            Which::Objects(o) => match o.get(&ObjPath::from(key)).await {
                Ok(r) => r.bytes().await.map(Some).map_err(ClusterError::store),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(ClusterError::store(e)),
            },
        }
    }

    /// Deletes an object; a missing one is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), ClusterError> {
        match self.which()? {
            Which::JetStream(js) => {
                use async_nats::jetstream::object_store::DeleteErrorKind;
                match js.delete(key).await {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == DeleteErrorKind::NotFound => Ok(()),
                    Err(e) => Err(ClusterError::store(e)),
                }
            }
            Which::Objects(o) => match o.delete(&ObjPath::from(key)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(ClusterError::store(e)),
            },
        }
    }

    /// Deletes every object under `prefix/` (a job's outputs); returns how many.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<usize, ClusterError> {
        let keys = self.list(prefix).await?;
        for k in &keys {
            self.delete(k).await?;
        }
        Ok(keys.len())
    }

    /// The keys under `prefix/`, sorted.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, ClusterError> {
        let mut keys = Vec::new();
        match self.which()? {
            Which::JetStream(js) => {
                let under = format!("{}/", prefix.trim_end_matches('/'));
                let mut list = js.list().await.map_err(ClusterError::store)?;
                while let Some(info) = list.next().await {
                    let info = info.map_err(ClusterError::store)?;
                    if !info.deleted && info.name.starts_with(&under) {
                        keys.push(info.name);
                    }
                }
            }
            Which::Objects(o) => {
                let p = ObjPath::from(prefix);
                let mut list = o.list(Some(&p));
                while let Some(meta) = list.next().await {
                    keys.push(meta.map_err(ClusterError::store)?.location.to_string());
                }
            }
        }
        keys.sort();
        Ok(keys)
    }
}

/// The backend of one call.
enum Which<'a> {
    JetStream(&'a JsObjects),
    Objects(&'a Arc<dyn ObjectStore>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_local_store_writes_reads_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}", dir.path().join("s").display());
        let s = Store::from_url(&url).unwrap();
        s.put("outputs/a/x.jpg", Bytes::from_static(b"12"))
            .await
            .unwrap();
        s.put("outputs/a/y.webp", Bytes::from_static(b"3"))
            .await
            .unwrap();
        assert_eq!(s.get("outputs/a/x.jpg").await.unwrap().unwrap(), "12");
        assert_eq!(s.get("outputs/b").await.unwrap(), None);
        assert_eq!(s.list("outputs/a").await.unwrap().len(), 2);
        assert_eq!(s.delete_prefix("outputs/a").await.unwrap(), 2);
        assert!(s.list("outputs/a").await.unwrap().is_empty());
        s.delete("outputs/a/x.jpg").await.unwrap();
    }

    #[test]
    fn bad_urls_are_refused_with_the_fix() {
        for (u, want) in [
            ("ftp://x", "file://, s3:// or jetstream://"),
            ("jetstream://a.b", "bucket name"),
            ("jetstream://files/x", "no path"),
            ("s3://tb", "3-63"),
            ("s3://bucket?nope=1", "unknown parameter"),
        ] {
            let e = Store::from_url(u).unwrap_err().to_string();
            assert!(e.contains(want), "{u}: {e}");
        }
    }
}
