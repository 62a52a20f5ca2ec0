//! The schedules' fan-out: one job per enabled account onto the queue, ten at a time. A
//! record that cannot be read is left out, logged with its key and counted; the other
//! accounts still get their jobs.

use super::JobError;
use crate::account::{AccountId, Trigger};
use crate::error::FailureClass;
use crate::metrics::FanOutMetrics;
use crate::queue::{Job, Queue, Work, PENDING_TTL};
use crate::store::{Pending, Store, StoreError};

/// Page size of the scheduler's walk through the enabled accounts (keys only: a page of
/// 1,000 stays far below DynamoDB's 1 MB per query).
pub const SCHEDULER_PAGE: u32 = 1000;

/// Sends one daily job (the import, then the actuals) per enabled account.
pub async fn fan_out(
    store: &dyn Store,
    queue: &dyn Queue,
    run_id: &str,
) -> Result<FanOutMetrics, JobError> {
    let done = fan_out_work(
        store,
        queue,
        run_id,
        Work::Import {
            only: None,
            resume: None,
        },
    )
    .await?;
    tracing::info!(
        run_id,
        accounts = done.queued,
        unreadable = done.unreadable,
        "daily imports queued"
    );
    Ok(done)
}

/// Sends one autofill job per enabled account with autofill on.
pub async fn fan_out_autofill(
    store: &dyn Store,
    queue: &dyn Queue,
    run_id: &str,
) -> Result<FanOutMetrics, JobError> {
    let done = fan_out_work(store, queue, run_id, Work::Autofill { week: None }).await?;
    tracing::info!(
        run_id,
        accounts = done.queued,
        unreadable = done.unreadable,
        "weekly autofills queued"
    );
    Ok(done)
}

fn unreadable(key: &str, error: &dyn std::fmt::Display) {
    tracing::error!(%key, %error, "an account record could not be read; it was left out, the others go on");
}

/// Whether the account's autofill is on; `None` when its record cannot be read (damaged:
/// left out). A store that cannot be reached fails the fan-out, to be retried whole.
async fn autofill_on(store: &dyn Store, id: &AccountId) -> Result<Option<bool>, StoreError> {
    match store.settings(id).await {
        Ok(s) => Ok(Some(s.is_some_and(|s| s.autofill))),
        Err(e) if e.class() == FailureClass::Permanent => {
            unreadable(&format!("ACCOUNT#{id}"), &e);
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

async fn fan_out_work(
    store: &dyn Store,
    queue: &dyn Queue,
    run_id: &str,
    work: Work,
) -> Result<FanOutMetrics, JobError> {
    let mut start = None;
    let mut done = FanOutMetrics::default();
    loop {
        let page = store.enabled_accounts(start, SCHEDULER_PAGE).await?;
        for key in &page.unreadable {
            unreadable(key, &"its id is not an account id");
        }
        done.unreadable += page.unreadable.len();
        let mut jobs = Vec::with_capacity(page.accounts.len());
        for account in page.accounts {
            if matches!(work, Work::Autofill { .. }) {
                match autofill_on(store, &account).await? {
                    Some(true) => {}
                    Some(false) => continue,
                    None => {
                        done.unreadable += 1;
                        continue;
                    }
                }
            }
            jobs.push(Job {
                account,
                run_id: run_id.to_owned(),
                trigger: Trigger::Schedule,
                work: work.clone(),
            });
        }
        // The daily import is the account's job until it ends: a press of an import
        // button meanwhile answers with its run (a button's own job keeps its mark).
        let marked = if matches!(work, Work::Import { .. }) {
            mark_pending_all(store, &jobs).await?
        } else {
            vec![]
        };
        if let Err(e) = queue.send(&jobs).await {
            for account in &marked {
                if let Err(c) = store.clear_pending(account, run_id).await {
                    tracing::warn!(%account, error = %c, "could not clear the pending mark; it expires on its own");
                }
            }
            return Err(e.into());
        }
        done.queued += jobs.len();
        match page.next {
            Some(n) => start = Some(n),
            None => break,
        }
    }
    Ok(done)
}

/// Marks each job's account as having a job queued (ten at a time); returns the accounts
/// marked now.
async fn mark_pending_all(store: &dyn Store, jobs: &[Job]) -> Result<Vec<AccountId>, StoreError> {
    use futures::StreamExt;
    let results: Vec<Result<Option<AccountId>, StoreError>> = futures::stream::iter(jobs)
        .map(|job| async move {
            let mark = store
                .mark_pending(&job.account, &job.run_id, PENDING_TTL)
                .await?;
            Ok((mark == Pending::Marked).then(|| job.account.clone()))
        })
        .buffer_unordered(10)
        .collect()
        .await;
    let mut marked = vec![];
    for r in results {
        if let Some(account) = r? {
            marked.push(account);
        }
    }
    Ok(marked)
}
