//! The Runn client: cursor paging at each endpoint's largest `limit`, bulk calls in chunks
//! of at most 100, `Authorization: Bearer` and `Accept-Version: 1.0.0` on every call.

mod model;

pub use model::*;

use crate::error::{ApiError, Service};
use crate::hosts::{check_url, HostPolicy};
use crate::http::{endless, CoreConfig, HttpCore, RateLimit, Reply, RetryPolicy, MAX_PAGES};
use crate::ids::{RunnActualId, RunnClientId, RunnPersonId, RunnProjectId, RunnRoleId, RunnTagId};
use async_stream::try_stream;
use chrono::NaiveDate;
use futures::stream::BoxStream;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::time::Instant;
use url::Url;

/// The largest `limit` of most list endpoints.
pub const MAX_LIMIT: u32 = 200;
/// The largest `limit` of actuals, assignments and current contracts.
pub const MAX_LIMIT_LARGE: u32 = 500;
/// The most items a bulk call takes.
pub const MAX_BULK: usize = 100;
pub const ACCEPT_VERSION: &str = "1.0.0";

/// Where an account's Runn lives. The fixed hosts are empty struct variants, not unit
/// ones, so that `{"kind": "eu", "url": ...}` is refused: serde lets a unit variant of a
/// tagged enum carry any other field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RunnHost {
    /// `https://api.runn.io`
    Eu {},
    /// `https://api.us.runn.io`
    Us {},
    /// Another host, as given in Runn's Settings > API (or a simulator).
    Custom { url: Url },
}

impl RunnHost {
    pub fn base(&self) -> Url {
        match self {
            RunnHost::Eu {} => Url::parse("https://api.runn.io").expect("valid"),
            RunnHost::Us {} => Url::parse("https://api.us.runn.io").expect("valid"),
            RunnHost::Custom { url } => url.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct RunnConfig {
    pub host: RunnHost,
    pub token: SecretString,
    pub rate_limit: RateLimit,
    pub retry: RetryPolicy,
    pub timeout: Duration,
    /// Page size for endpoints whose maximum is 200 (lowered only by tests).
    pub limit: u32,
    /// Page size for endpoints whose maximum is 500.
    pub limit_large: u32,
    /// Which hosts the token may go to (strict unless `ALLOW_LOCAL_HOSTS=1`).
    pub hosts: HostPolicy,
    /// The run's deadline: no request, read or wait goes past it.
    pub deadline: Option<Instant>,
}

impl RunnConfig {
    /// Defaults: 120 requests a minute, the largest pages, and a timeout that catches the
    /// multi-minute stalls Runn has been seen to have.
    pub fn new(host: RunnHost, token: SecretString) -> Self {
        Self {
            host,
            token,
            rate_limit: RateLimit::per_minute(120),
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(60),
            limit: MAX_LIMIT,
            limit_large: MAX_LIMIT_LARGE,
            hosts: HostPolicy::from_env(),
            deadline: None,
        }
    }
}

pub type PageStream<'a, T> = BoxStream<'a, Result<Vec<T>, ApiError>>;

/// Filters of `GET /projects/`.
#[derive(Clone, Debug, Default)]
pub struct ProjectFilter {
    pub external_id: Option<String>,
    pub name: Option<String>,
    /// Runn's default is to include archived projects.
    pub include_archived: bool,
}

/// Filters of `GET /people/`.
#[derive(Clone, Debug, Default)]
pub struct PeopleFilter {
    pub external_id: Option<String>,
    pub email: Option<String>,
}

/// Filters of `GET /actuals/` and `GET /assignments/`.
#[derive(Clone, Debug, Default)]
pub struct DatedFilter {
    pub min_date: Option<NaiveDate>,
    pub max_date: Option<NaiveDate>,
    /// Only records modified after this time (a deletion never shows in such a read).
    pub modified_after: Option<chrono::DateTime<chrono::Utc>>,
    pub person_id: Option<RunnPersonId>,
    pub project_id: Option<RunnProjectId>,
    pub role_id: Option<RunnRoleId>,
}

#[derive(Clone, Debug)]
pub struct RunnClient {
    core: HttpCore,
    base: String,
    token: SecretString,
    limit: u32,
    limit_large: u32,
}

type Query = Vec<(&'static str, String)>;

/// Whether a write may safely be sent twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Idempotent {
    Yes,
    No,
}

impl RunnClient {
    pub fn new(cfg: RunnConfig) -> Result<Self, ApiError> {
        let invalid = |reason: String| ApiError::Invalid {
            service: Service::Runn,
            reason,
        };
        if cfg.token.expose_secret().trim().is_empty() {
            return Err(invalid("the API token is empty".into()));
        }
        if !(1..=MAX_LIMIT).contains(&cfg.limit)
            || !(1..=MAX_LIMIT_LARGE).contains(&cfg.limit_large)
        {
            return Err(invalid(format!(
                "limits must be 1..={MAX_LIMIT} and 1..={MAX_LIMIT_LARGE}"
            )));
        }
        let base = cfg.host.base();
        check_url(&base, cfg.hosts).map_err(|e| invalid(format!("the Runn host {e}")))?;
        let core = CoreConfig {
            timeout: cfg.timeout,
            limit: cfg.rate_limit,
            retry: cfg.retry,
            hosts: cfg.hosts,
            deadline: cfg.deadline,
        };
        Ok(Self {
            core: HttpCore::new(Service::Runn, core)?,
            base: base.as_str().trim_end_matches('/').to_owned(),
            token: cfg.token,
            limit: cfg.limit,
            limit_large: cfg.limit_large,
        })
    }

    fn request(
        &self,
        http: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        http.request(method, format!("{}{path}", self.base))
            .bearer_auth(self.token.expose_secret())
            .header("Accept-Version", ACCEPT_VERSION)
    }

    async fn get<T: DeserializeOwned>(
        &self,
        label: &str,
        path: &str,
        query: &Query,
    ) -> Result<Reply<T>, ApiError> {
        self.core
            .send(label, |http| {
                self.request(http, reqwest::Method::GET, path).query(query)
            })
            .await
    }

    /// A POST; `idempotent` says whether sending it twice is harmless (upserts, tagging)
    /// or would create a second record (creates).
    async fn post<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        label: &str,
        path: &str,
        body: Option<&B>,
        idempotent: Idempotent,
    ) -> Result<T, ApiError> {
        let make = |http: &reqwest::Client| {
            let req = self.request(http, reqwest::Method::POST, path);
            match body {
                Some(b) => req.json(b),
                None => req,
            }
        };
        let reply = match idempotent {
            Idempotent::Yes => self.core.send(label, make).await?,
            Idempotent::No => self.core.send_write(label, make).await?,
        };
        Ok(reply.body)
    }

    /// Follows `nextCursor` until it is null; a cursor seen before (a server going round in
    /// a circle) or more than [`MAX_PAGES`] pages end the read with an error.
    fn paged<T: DeserializeOwned + Send + 'static>(
        &self,
        label: &'static str,
        path: String,
        mut query: Query,
        limit: u32,
    ) -> PageStream<'_, T> {
        query.push(("limit", limit.to_string()));
        Box::pin(try_stream! {
            let mut cursor: Option<String> = None;
            // Cursors seen, by hash: a server's cursors cannot grow memory without bound.
            let mut seen = std::collections::HashSet::new();
            for _ in 0..MAX_PAGES {
                let mut q = query.clone();
                if let Some(c) = &cursor {
                    q.push(("cursor", c.clone()));
                }
                let page: Page<T> = self.get(label, &path, &q).await?.body;
                if !page.values.is_empty() {
                    yield page.values;
                }
                match page.next_cursor {
                    None => return,
                    Some(next) if next.len() > MAX_CURSOR => {
                        Err(endless(Service::Runn, label, "a cursor of more than 4 KiB"))?;
                    }
                    Some(next) if !seen.insert(cursor_hash(&next)) => {
                        Err(endless(Service::Runn, label, "a cursor came back"))?;
                    }
                    Some(next) => cursor = Some(next),
                }
            }
            Err(endless(Service::Runn, label, &format!("over {MAX_PAGES} pages")))?;
        })
    }

    /// What this client has sent so far (requests, 429s, retries).
    pub fn request_counts(&self) -> crate::http::RequestCounts {
        self.core.counts()
    }

    /// Who the token is (a 403 here is the token itself refused).
    pub async fn me(&self) -> Result<Me, ApiError> {
        let reply = self
            .get("GET /me/", "/me/", &vec![])
            .await
            .map_err(ApiError::identity_refused)?;
        Ok(reply.body)
    }

    pub fn clients(&self, name: Option<&str>) -> PageStream<'_, Client> {
        let mut q: Query = vec![("sortBy", "id".into())];
        if let Some(n) = name {
            q.push(("name", n.to_owned()));
        }
        self.paged("GET /clients/", "/clients/".into(), q, self.limit)
    }

    pub async fn create_client(&self, client: &NewClient) -> Result<Client, ApiError> {
        self.post("POST /clients/", "/clients/", Some(client), Idempotent::No)
            .await
    }

    /// Creates 1 to 100 clients in one call.
    pub async fn create_clients_bulk(
        &self,
        clients: &[NewClient],
    ) -> Result<Vec<Client>, ApiError> {
        check_bulk(clients.len())?;
        #[derive(Serialize)]
        struct Body<'a> {
            clients: &'a [NewClient],
        }
        self.post(
            "POST /clients/bulk/",
            "/clients/bulk/",
            Some(&Body { clients }),
            Idempotent::No,
        )
        .await
    }

    pub fn projects(&self, filter: &ProjectFilter) -> PageStream<'_, Project> {
        let mut q: Query = vec![
            ("sortBy", "id".into()),
            ("includeArchived", filter.include_archived.to_string()),
        ];
        if let Some(x) = &filter.external_id {
            q.push(("externalId", x.clone()));
        }
        if let Some(n) = &filter.name {
            q.push(("name", n.clone()));
        }
        self.paged("GET /projects/", "/projects/".into(), q, self.limit)
    }

    pub async fn create_project(&self, project: &NewProject) -> Result<Project, ApiError> {
        self.post(
            "POST /projects/",
            "/projects/",
            Some(project),
            Idempotent::No,
        )
        .await
    }

    /// One record by its id; `None` when Runn has none (404).
    async fn one<T: DeserializeOwned>(
        &self,
        label: &str,
        path: &str,
    ) -> Result<Option<T>, ApiError> {
        match self.get(label, path, &vec![]).await {
            Ok(reply) => Ok(Some(reply.body)),
            Err(ApiError::Rejected { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A PATCH of some fields. Each sets a value whole (the reference list, the archived
    /// flag), so sending it again after an unclear answer is harmless.
    async fn patch<T: DeserializeOwned>(
        &self,
        label: &str,
        path: &str,
        body: &RecordPatch,
    ) -> Result<T, ApiError> {
        let reply = self
            .core
            .send(label, |http| {
                self.request(http, reqwest::Method::PATCH, path).json(body)
            })
            .await?;
        Ok(reply.body)
    }

    pub async fn client(&self, id: RunnClientId) -> Result<Option<Client>, ApiError> {
        self.one("GET /clients/{clientId}", &format!("/clients/{id}"))
            .await
    }

    pub async fn project(&self, id: RunnProjectId) -> Result<Option<Project>, ApiError> {
        self.one("GET /projects/{projectId}", &format!("/projects/{id}"))
            .await
    }

    pub async fn person(&self, id: RunnPersonId) -> Result<Option<Person>, ApiError> {
        self.one("GET /people/{personId}", &format!("/people/{id}"))
            .await
    }

    pub async fn update_client(
        &self,
        id: RunnClientId,
        patch: &RecordPatch,
    ) -> Result<Client, ApiError> {
        self.patch(
            "PATCH /clients/{clientId}",
            &format!("/clients/{id}"),
            patch,
        )
        .await
    }

    pub async fn update_project(
        &self,
        id: RunnProjectId,
        patch: &RecordPatch,
    ) -> Result<Project, ApiError> {
        self.patch(
            "PATCH /projects/{projectId}",
            &format!("/projects/{id}"),
            patch,
        )
        .await
    }

    pub async fn update_person(
        &self,
        id: RunnPersonId,
        patch: &RecordPatch,
    ) -> Result<Person, ApiError> {
        self.patch("PATCH /people/{personId}", &format!("/people/{id}"), patch)
            .await
    }

    /// Deletes one actual; `false` when Runn has none of that id (deleted already, by a
    /// person or by an attempt whose answer was lost), so a retry is harmless.
    pub async fn delete_actual(&self, id: RunnActualId) -> Result<bool, ApiError> {
        let path = format!("/actuals/{id}/");
        let sent = self
            .core
            .send::<serde_json::Value>("DELETE /actuals/{actualId}/", |http| {
                self.request(http, reqwest::Method::DELETE, &path)
            })
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(ApiError::Rejected { status: 404, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub fn project_tags(&self, include_archived: bool) -> PageStream<'_, ProjectTag> {
        let q: Query = vec![
            ("sortBy", "id".into()),
            ("includeArchived", include_archived.to_string()),
        ];
        self.paged("GET /project-tags/", "/project-tags/".into(), q, self.limit)
    }

    pub async fn create_project_tag(&self, name: &str) -> Result<ProjectTag, ApiError> {
        self.post(
            "POST /project-tags/",
            "/project-tags/",
            Some(&serde_json::json!({ "name": name })),
            Idempotent::No,
        )
        .await
    }

    pub async fn add_tag_to_project(
        &self,
        tag: RunnTagId,
        project: RunnProjectId,
    ) -> Result<ProjectTag, ApiError> {
        let path = format!("/project-tags/{tag}/project/{project}");
        self.post::<_, ()>(
            "POST /project-tags/{projectTagId}/project/{projectId}",
            &path,
            None,
            Idempotent::Yes,
        )
        .await
    }

    pub fn people(&self, filter: &PeopleFilter) -> PageStream<'_, CollectionPerson> {
        let mut q: Query = vec![("sortBy", "id".into())];
        if let Some(x) = &filter.external_id {
            q.push(("externalId", x.clone()));
        }
        if let Some(e) = &filter.email {
            q.push(("email", e.clone()));
        }
        self.paged("GET /people/", "/people/".into(), q, self.limit)
    }

    pub async fn create_person(&self, person: &NewPerson) -> Result<Person, ApiError> {
        self.post("POST /people/", "/people/", Some(person), Idempotent::No)
            .await
    }

    /// Every person's current contract (which carries their role).
    pub fn current_contracts(&self) -> PageStream<'_, Contract> {
        self.paged(
            "GET /people/contracts/current",
            "/people/contracts/current".into(),
            vec![],
            self.limit_large,
        )
    }

    /// Every contract of every person (a person's role lives on the contract in force).
    pub fn contracts(&self) -> PageStream<'_, Contract> {
        let q: Query = vec![("sortBy", "id".into())];
        self.paged("GET /contracts/", "/contracts/".into(), q, self.limit)
    }

    pub fn roles(&self, name: Option<&str>) -> PageStream<'_, Role> {
        let mut q: Query = vec![("sortBy", "id".into())];
        if let Some(n) = name {
            q.push(("name", n.to_owned()));
        }
        self.paged("GET /roles/", "/roles/".into(), q, self.limit)
    }

    pub async fn create_role(&self, role: &NewRole) -> Result<Role, ApiError> {
        self.post("POST /roles/", "/roles/", Some(role), Idempotent::No)
            .await
    }

    pub fn actuals(&self, filter: &DatedFilter) -> PageStream<'_, Actual> {
        let mut q: Query = vec![("sortBy", "id".into())];
        push_dated(&mut q, filter, "minDate", "maxDate");
        self.paged("GET /actuals/", "/actuals/".into(), q, self.limit_large)
    }

    /// Upserts 1 to 100 actuals in one call; each replaces its day's minutes.
    pub async fn upsert_actuals_bulk(
        &self,
        actuals: &[ActualInput],
    ) -> Result<Vec<Actual>, ApiError> {
        check_bulk(actuals.len())?;
        #[derive(Serialize)]
        struct Body<'a> {
            actuals: &'a [ActualInput],
        }
        self.post(
            "POST /actuals/bulk/",
            "/actuals/bulk/",
            Some(&Body { actuals }),
            Idempotent::Yes,
        )
        .await
    }

    pub fn assignments(&self, filter: &DatedFilter) -> PageStream<'_, Assignment> {
        let mut q: Query = vec![("sortBy", "id".into())];
        push_dated(&mut q, filter, "startDate", "endDate");
        self.paged(
            "GET /assignments/",
            "/assignments/".into(),
            q,
            self.limit_large,
        )
    }
}

/// The longest cursor taken from a server (it goes into the next request's query).
const MAX_CURSOR: usize = 4096;

fn cursor_hash(c: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    c.hash(&mut h);
    h.finish()
}

fn push_dated(q: &mut Query, f: &DatedFilter, min: &'static str, max: &'static str) {
    if let Some(d) = f.min_date {
        q.push((min, d.to_string()));
    }
    if let Some(d) = f.max_date {
        q.push((max, d.to_string()));
    }
    if let Some(p) = f.person_id {
        q.push(("personId", p.to_string()));
    }
    if let Some(p) = f.project_id {
        q.push(("projectId", p.to_string()));
    }
    if let Some(r) = f.role_id {
        q.push(("roleId", r.to_string()));
    }
    if let Some(t) = f.modified_after {
        q.push(("modifiedAfter", t.format("%Y-%m-%dT%H:%M:%SZ").to_string()));
    }
}

fn check_bulk(n: usize) -> Result<(), ApiError> {
    if n == 0 || n > MAX_BULK {
        return Err(ApiError::Invalid {
            service: Service::Runn,
            reason: format!("a bulk call takes 1 to {MAX_BULK} items, not {n}"),
        });
    }
    Ok(())
}
