//! Where images live in cluster mode: an [`object_store`] behind one small type,
//! [`Store`], chosen by URL, so the same code runs on one machine and on many:
//!
//! - `file:///abs/dir`: a local folder (one machine, or a shared mount);
//! - `s3://bucket[/prefix]`: S3 or anything that speaks it. Credentials, region and
//!   endpoint come from the usual `AWS_*` environment variables
//!   (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT`,
//!   `AWS_ALLOW_HTTP`) or from the URL's query: `?endpoint=http://host:port&region=..`
//!   (an `http://` endpoint allows plain HTTP; requests are path-style then).
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
    inner: Arc<dyn ObjectStore>,
    url: String,
}

impl Store {
    /// Opens the store a URL names (see the module doc). A `file://` folder is created
    /// if missing.
    pub fn from_url(url: &str) -> Result<Store, ClusterError> {
        let parsed = url::Url::parse(url)
            .map_err(|e| ClusterError::Invalid(format!("store URL {url:?}: {e}")))?;
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
                    "store URL scheme {other:?}: use file:// or s3://"
                )))
            }
        };
        Ok(Store {
            inner,
            url: url.to_owned(),
        })
    }

    /// The URL it was opened from.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Writes an object whole.
    pub async fn put(&self, key: &str, data: Bytes) -> Result<(), ClusterError> {
        self.inner
            .put(&ObjPath::from(key), PutPayload::from_bytes(data))
            .await
            .map(|_| ())
            .map_err(ClusterError::store)
    }

    /// Reads an object; `None` when it does not exist.
    pub async fn get(&self, key: &str) -> Result<Option<Bytes>, ClusterError> {
        match self.inner.get(&ObjPath::from(key)).await {
            Ok(r) => r.bytes().await.map(Some).map_err(ClusterError::store),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(ClusterError::store(e)),
        }
    }

    /// Deletes an object; a missing one is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), ClusterError> {
        match self.inner.delete(&ObjPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(ClusterError::store(e)),
        }
    }

    /// Deletes every object under `prefix/` (a job's outputs); returns how many.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<usize, ClusterError> {
        let p = ObjPath::from(prefix);
        let mut list = self.inner.list(Some(&p));
        let mut keys = Vec::new();
        while let Some(meta) = list.next().await {
            keys.push(meta.map_err(ClusterError::store)?.location);
        }
        for k in &keys {
            self.delete(k.as_ref()).await?;
        }
        Ok(keys.len())
    }

    /// The keys under `prefix/`, sorted.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, ClusterError> {
        let p = ObjPath::from(prefix);
        let mut list = self.inner.list(Some(&p));
        let mut keys = Vec::new();
        while let Some(meta) = list.next().await {
            keys.push(meta.map_err(ClusterError::store)?.location.to_string());
        }
        keys.sort();
        Ok(keys)
    }
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
            ("ftp://x", "file:// or s3://"),
            ("s3://tb", "3-63"),
            ("s3://bucket?nope=1", "unknown parameter"),
        ] {
            let e = Store::from_url(u).unwrap_err().to_string();
            assert!(e.contains(want), "{u}: {e}");
        }
    }
}
