//! The backfill of a large object by Bulk API 2.0 query jobs (apis.md §3.6).
//!
//! An object whose record count (`limits/recordCount`, Salesforce's approximate count) is
//! at or above the sync's `bulk_threshold` is backfilled in ranges of `SystemModstamp`, as
//! the REST path is ([`super::backfill`]), but each range is read by one Bulk query job
//! instead of keyset pages: create the job, poll it with backoff until `JobComplete`, then
//! read its CSV results chunk by chunk, each chunk naming the next one's locator in its
//! `Sforce-Locator` header (`"null"` after the last). A chunk is read from its answer a
//! page at a time as it arrives ([`super::bulk_chunk`]), never held whole: memory stays
//! bounded by pages in flight, whatever the size of a chunk or of the object.
//!
//! **How parallel.** A job's chunks can only be read one after another (each locator comes
//! with the chunk before it), so the parallelism is one job per range: a fresh range is cut
//! into pieces of whole seconds, as many as the sync's request budget allows (at most
//! [`MAX_JOBS`]), before any job is created, and the pieces' jobs run and are read at once.
//!
//! **Exactly once.** Bulk results come in no order, so a `(SystemModstamp, Id)` position
//! means nothing inside a job; ORDER BY would turn off Salesforce's chunking of large
//! queries. Instead, each range's place in the checkpoint is its job's id, the locator of
//! the chunk being read and how many of its rows are written: the results are fixed when
//! the job is created and a locator can be read again while the job exists, so after a
//! crash the range goes on from the first row not written (the chunk asked for again and
//! the rows written skipped), and no record is read twice or missed. The job's creation
//! is a step of its own (an empty batch), so a restart polls the same job instead of
//! creating another. Should the job be gone (deleted, or expired after a long stop), the
//! range is read again whole by a new job: the writer's upsert keyed on `Id` and versioned
//! by `SystemModstamp` makes that harmless, and a row rewritten with the same values logs
//! no `_sync_event`. Records changed after the backfill began are read by the polls that
//! follow, as on the REST path; a job's older copy never overwrites them (versions).
//!
//! Compound fields (address, location) and base64 bodies are never columns
//! ([`super::schema`]), so never selected: Bulk refuses them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use inlet_core::{ErrorKind, PartitionPage, PartitionReader, SourceError};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::backfill::{split, StampRange};
use super::bulk_chunk::{OpenChunk, Unread};
use super::client::{invalid, SalesforceClient, API_VERSION};
use super::live::api_datetime;
use super::soql::{self, is_id};
use super::table::ObjectTable;
use crate::http::Request;
use crate::json;

/// Objects with at least this many records take Bulk when no `bulk_threshold` is set:
/// below it, REST's 2,000-record pages cost few calls and no job.
pub const DEFAULT_THRESHOLD: u64 = 50_000;

/// Rows asked for per results chunk. Each chunk is a request, and is read in pages, so its
/// size does not bound memory; it keeps one answer short enough not to time out.
const CHUNK: usize = 10_000;

/// The most jobs one object runs at once. Each job is one of the org's daily Bulk query
/// jobs, and Salesforce queues them: more at once add little.
pub const MAX_JOBS: usize = 4;

/// Polling a job: the first wait, growing by half each time up to the longest.
const FIRST_WAIT: Duration = Duration::from_millis(250);
const LONGEST_WAIT: Duration = Duration::from_secs(15);

/// One range of `SystemModstamp`s (`[from_ms, upto_ms)`, whole seconds) and how far its
/// job has got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkRange {
    pub from_ms: i64,
    pub upto_ms: i64,
    /// Cut into pieces already (or left whole): a job may be created for it.
    #[serde(default)]
    pub planned: bool,
    /// The job reading it, once created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// The locator of the chunk being read (`None`: the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locator: Option<String>,
    /// Rows of that chunk already written.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skip: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl BulkRange {
    /// A range no job has read yet.
    pub fn fresh(range: &StampRange) -> BulkRange {
        BulkRange {
            from_ms: range.from_ms,
            upto_ms: range.upto_ms,
            planned: false,
            job: None,
            locator: None,
            skip: 0,
        }
    }
}

/// Whether `table` is large enough for Bulk: its record count at or above `threshold`.
pub async fn is_large(
    client: &SalesforceClient,
    table: &ObjectTable,
    threshold: u64,
) -> Result<bool, SourceError> {
    if threshold == 0 {
        return Ok(true);
    }
    let name: String = url::form_urlencoded::byte_serialize(table.api.as_bytes()).collect();
    let body = client
        .data(&format!("limits/recordCount?sObjects={name}"))
        .await?;
    // An object the answer leaves out has no count: it is small.
    let count = (body["sObjects"].as_array().into_iter().flatten())
        .find(|o| o["name"].as_str() == Some(table.api.as_str()))
        .and_then(|o| o["count"].as_u64())
        .unwrap_or(0);
    Ok(count >= threshold)
}

/// One object's ranges, read by Bulk query jobs.
pub struct BulkRanges<'a> {
    client: &'a SalesforceClient,
    table: &'a ObjectTable,
    /// Streams backfilling now: they share the sync's requests in flight.
    backfilling: &'a AtomicUsize,
    /// Each job's chunk being read, its answer open, between one page and the next.
    open: Mutex<HashMap<String, OpenChunk>>,
    /// Why Salesforce refused to create a query job for the object, once it has.
    refused: Mutex<Option<String>>,
}

/// What asking for a job's chunk found.
enum Read {
    /// The chunk, its answer open.
    Chunk(OpenChunk),
    /// The job no longer exists.
    Gone,
}

impl<'a> BulkRanges<'a> {
    pub fn new(
        client: &'a SalesforceClient,
        table: &'a ObjectTable,
        backfilling: &'a AtomicUsize,
    ) -> BulkRanges<'a> {
        BulkRanges {
            client,
            table,
            backfilling,
            open: Mutex::default(),
            refused: Mutex::default(),
        }
    }

    /// Salesforce's reason, once it refused to create a query job for the object (not
    /// every object can be read by Bulk API 2.0): its backfill is then read by REST.
    pub fn refused(&self) -> Option<String> {
        self.refused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// A range no longer read by Bulk: read again by REST from its start (rows already written
/// are written again with the same version, which changes nothing).
pub fn by_rest(range: &BulkRange) -> StampRange {
    StampRange {
        from_ms: range.from_ms,
        upto_ms: range.upto_ms,
        after: None,
    }
}

impl PartitionReader for BulkRanges<'_> {
    type Partition = BulkRange;

    async fn page(&self, range: BulkRange) -> Result<PartitionPage<BulkRange>, SourceError> {
        let step = |next: BulkRange| PartitionPage {
            records: Vec::new(),
            next: Some(next),
        };
        if !range.planned {
            // A step without records, after which the range may be cut into pieces.
            return Ok(step(BulkRange {
                planned: true,
                ..range
            }));
        }
        let Some(job) = range.job.clone() else {
            let job = self.create(&range).await?;
            return Ok(step(BulkRange {
                job: Some(job),
                locator: None,
                skip: 0,
                ..range
            }));
        };
        // The chunk's answer left open by the page before, if it is where the range is
        // (after a failure the range is back at its last written page: asked for again).
        let open = self.lock().remove(&job);
        let open = open.filter(|o| o.locator == range.locator && o.rows == range.skip);
        let mut chunk = match open {
            Some(open) => open,
            None => match self.read(&job, range.locator.as_deref()).await? {
                Read::Chunk(mut chunk) => {
                    let skipped = chunk.skip(self.table, range.skip).await;
                    skipped.map_err(|e| self.unread(e))?;
                    chunk
                }
                Read::Gone => {
                    tracing::warn!(object = %self.table.api, "a bulk query job is gone; reading its range again");
                    return Ok(step(BulkRange {
                        job: None,
                        locator: None,
                        skip: 0,
                        ..range
                    }));
                }
            },
        };
        let (records, ended) = chunk.page(self.table).await.map_err(|e| self.unread(e))?;
        if !ended {
            let next = BulkRange {
                skip: chunk.rows,
                ..range
            };
            self.lock().insert(job, chunk);
            return Ok(PartitionPage {
                records,
                next: Some(next),
            });
        }
        let Some(locator) = chunk.next else {
            // Its results count against the org's Bulk storage until deleted.
            self.delete(&job).await;
            return Ok(PartitionPage {
                records,
                next: None,
            });
        };
        Ok(PartitionPage {
            records,
            next: Some(BulkRange {
                locator: Some(locator),
                skip: 0,
                ..range
            }),
        })
    }

    fn split(&self, range: &BulkRange, pieces: usize) -> Vec<BulkRange> {
        if range.job.is_some() {
            return vec![range.clone()];
        }
        let whole = StampRange {
            from_ms: range.from_ms,
            upto_ms: range.upto_ms,
            after: None,
        };
        split(&whole, pieces, None)
            .iter()
            .map(|piece| BulkRange {
                planned: true,
                ..BulkRange::fresh(piece)
            })
            .collect()
    }

    fn concurrency(&self) -> usize {
        let streams = self.backfilling.load(Ordering::Relaxed).max(1);
        (self.client.in_flight().div_ceil(streams)).clamp(1, MAX_JOBS)
    }
}

fn jobs_path(rest: &str) -> String {
    format!("/services/data/{API_VERSION}/jobs/query{rest}")
}

impl BulkRanges<'_> {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, OpenChunk>> {
        // A panic elsewhere leaves the map as it was: still usable.
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A chunk that could not be read: cut off (the network; retried from the last page
    /// written) or malformed.
    fn unread(&self, why: Unread) -> SourceError {
        let what = format!("{} bulk results", self.table.api);
        match why {
            Unread::Cut(cut) => SourceError::new(
                ErrorKind::Network,
                format!("could not read {what} from Salesforce: {cut}"),
            ),
            Unread::Malformed(said) => invalid(&what, &said),
        }
    }

    /// Creates the job that reads `range`; its id.
    async fn create(&self, range: &BulkRange) -> Result<String, SourceError> {
        let api = &self.table.api;
        let (from, upto) = (api_datetime(range.from_ms), api_datetime(range.upto_ms));
        let query =
            soql::range(api, &self.table.select(), &from, &upto).map_err(|e| invalid(api, &e))?;
        let body = json!({"operation": "query", "query": query, "contentType": "CSV",
            "columnDelimiter": "COMMA", "lineEnding": "LF"});
        let reply = (self.client)
            .send(&Request::post(jobs_path("")).json(&body), &[400])
            .await?;
        if reply.status == 400 {
            let said = super::client::refusal(&reply);
            *self.refused.lock().unwrap_or_else(|e| e.into_inner()) = Some(said.clone());
            return Err(SourceError::new(
                ErrorKind::InvalidResponse,
                format!("Salesforce would not read {api} by Bulk API 2.0: {said}"),
            ));
        }
        let info = json::parse(&reply.body)
            .map_err(|e| invalid("jobs/query", &format!("the response is not JSON ({e})")))?;
        let id = info["id"].as_str().filter(|id| is_id(id));
        let id = id.ok_or_else(|| invalid("jobs/query", "the new job has no id"))?;
        tracing::debug!(object = %api, job = id, "bulk query job created");
        Ok(id.to_string())
    }

    /// The chunk of `job`'s results at `locator` (the first without one), its answer open,
    /// once the job is complete.
    async fn read(&self, job: &str, locator: Option<&str>) -> Result<Read, SourceError> {
        if !is_id(job) {
            return Err(invalid(
                &self.table.api,
                "the saved bulk job id is not an id",
            ));
        }
        let mut wait = FIRST_WAIT;
        // A locator was handed out by a complete job.
        let mut complete = locator.is_some();
        loop {
            if !complete {
                let reply = (self.client)
                    .send(&Request::get(jobs_path(&format!("/{job}"))), &[404])
                    .await?;
                if reply.status == 404 {
                    return Ok(Read::Gone);
                }
                let info = json::parse(&reply.body).map_err(|e| {
                    invalid("jobs/query", &format!("the response is not JSON ({e})"))
                })?;
                match info["state"].as_str().unwrap_or_default() {
                    "JobComplete" => complete = true,
                    "UploadComplete" | "InProgress" => {}
                    state @ ("Failed" | "Aborted") => {
                        // Deleted, so that the retry finds it gone and starts a new one.
                        self.delete(job).await;
                        let said = info["errorMessage"].as_str();
                        return Err(failed(&self.table.api, state, said));
                    }
                    other => {
                        let what = format!("a bulk job is in the unknown state \"{other}\"");
                        return Err(invalid("jobs/query", &what));
                    }
                }
            }
            if complete {
                let mut path = jobs_path(&format!("/{job}/results?maxRecords={CHUNK}"));
                if let Some(locator) = locator {
                    path.push_str("&locator=");
                    path.extend(url::form_urlencoded::byte_serialize(locator.as_bytes()));
                }
                let request = Request::get(path);
                let (reply, body) = self.client.open(&request, &[404, 412]).await?;
                match (reply.status, body) {
                    (404, _) => return Ok(Read::Gone),
                    // Not complete after all: poll the job again.
                    (412, _) => complete = false,
                    (_, Some(body)) => {
                        let next = self.next_locator(&reply.headers)?;
                        let at = locator.map(str::to_string);
                        return Ok(Read::Chunk(OpenChunk::new(at, next, body)));
                    }
                    (status, None) => {
                        let what = format!("an answer of HTTP {status} has no body");
                        return Err(invalid(&self.table.api, &what));
                    }
                }
            }
            tokio::time::sleep(wait).await;
            wait = longer(wait);
        }
    }

    /// A results answer's locator of the next chunk (`None`: it is the last).
    fn next_locator(
        &self,
        headers: &reqwest::header::HeaderMap,
    ) -> Result<Option<String>, SourceError> {
        let what = format!("{} bulk results", self.table.api);
        let next = headers
            .get("sforce-locator")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .ok_or_else(|| invalid(&what, "no Sforce-Locator header"))?;
        Ok((!next.is_empty() && next != "null").then(|| next.to_string()))
    }

    /// Deletes a job whose results are read (or that failed); a failure only costs storage
    /// until Salesforce expires the job, so it is noted and passed over.
    async fn delete(&self, job: &str) {
        let request = Request::new(Method::DELETE, jobs_path(&format!("/{job}")));
        if let Err(e) = self.client.send(&request, &[404]).await {
            tracing::debug!(object = %self.table.api, error = %e, "could not delete a bulk query job");
        }
    }
}

/// The wait after `wait` while a job is processed: half as long again, up to the longest
/// (a job of millions of records takes minutes; polling it every quarter second would
/// spend the org's API calls for nothing).
fn longer(wait: Duration) -> Duration {
    wait.mul_f64(1.5).min(LONGEST_WAIT)
}

/// A job that ended without results, in plain words; retried with a new job.
fn failed(object: &str, state: &str, said: Option<&str>) -> SourceError {
    let what = if state == "Aborted" {
        "was aborted"
    } else {
        "failed"
    };
    let said = said
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("Salesforce gave no reason");
    SourceError::new(
        ErrorKind::ServerError,
        format!("the Bulk API query job reading {object} {what}: {said}"),
    )
    .with_fix(format!(
        "inlet reads the range again with a new job; if it keeps failing, set the sync's \
         bulk_threshold above {object}'s record count so the REST API reads it"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polling_a_job_backs_off_to_a_ceiling() {
        let waits: Vec<Duration> = std::iter::successors(Some(FIRST_WAIT), |w| Some(longer(*w)))
            .take(20)
            .collect();
        assert_eq!(waits[1], Duration::from_millis(375));
        assert!(waits.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(waits.last(), Some(&LONGEST_WAIT));
        let before_ceiling: Duration = waits.iter().take_while(|w| **w < LONGEST_WAIT).sum();
        assert!(
            before_ceiling < Duration::from_secs(60),
            "{before_ceiling:?}"
        );
    }

    #[test]
    fn a_range_reads_back_as_saved_and_a_failed_job_says_which_object_and_why() {
        let fresh = BulkRange::fresh(&StampRange {
            from_ms: 0,
            upto_ms: 10_000,
            after: None,
        });
        assert!(!fresh.planned);
        let json = serde_json::to_value(&fresh).expect("json");
        assert_eq!(
            json,
            json!({"from_ms": 0, "upto_ms": 10_000, "planned": false})
        );
        assert_eq!(
            serde_json::from_value::<BulkRange>(json).ok().as_ref(),
            Some(&fresh)
        );
        let error = failed("Account", "Failed", Some("Query timed out"));
        assert_eq!(
            error.message,
            "the Bulk API query job reading Account failed: Query timed out"
        );
        assert!(failed("Lead", "Aborted", None)
            .message
            .ends_with("was aborted: Salesforce gave no reason"));
    }
}
