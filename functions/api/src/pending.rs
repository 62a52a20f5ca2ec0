//! A job queued under the account's "queued or running" mark: what Save & Run and the
//! import buttons queue, one at a time per account (a preview never takes the mark).

use crate::reply::Reply;
use shared::account::{AccountId, Trigger};
use shared::queue::{Job, Queue, Work, PENDING_TTL};
use shared::store::roles::MarkStore;
use shared::store::Pending;

/// Times the mark is tried again when it changed between its read and its hand-over.
const MARK_ATTEMPTS: usize = 3;

/// Queues a job for the account unless one is queued or running: its run id, and whether
/// it was queued now. With `follow_up` (the settings just changed), a job queued or
/// running is followed by one with the new settings, which takes over the account's mark.
pub async fn queue_job<M: MarkStore + ?Sized>(
    marks: &M,
    queue: &dyn Queue,
    id: &AccountId,
    work: Work,
    follow_up: bool,
) -> Result<(String, bool), Reply> {
    let run_id = shared::jobs::new_run_id();
    for _ in 0..MARK_ATTEMPTS {
        let job = match marks.mark_pending(id, &run_id, PENDING_TTL).await {
            Ok(Pending::Marked) => return send_job(marks, queue, id, work, run_id).await,
            Ok(Pending::Already(job)) if follow_up => job,
            Ok(Pending::Already(job)) => return Ok((job.run_id, false)),
            Err(e) => return Err(Reply::store_failed(e)),
        };
        match marks
            .replace_pending(id, &job.run_id, &run_id, PENDING_TTL)
            .await
        {
            Ok(true) => {
                tracing::info!(account = %id, after = %job.run_id, "settings changed while a job was queued or running; a follow-up is queued");
                return send_job(marks, queue, id, work, run_id).await;
            }
            // That job ended (or another took the mark) meanwhile: the mark is read again,
            // and a job still pending is followed up as well.
            Ok(false) => {}
            Err(e) => return Err(Reply::store_failed(e)),
        }
    }
    Err(Reply::unavailable(
        "the account's jobs kept changing while this one was being queued; try again",
    ))
}

/// Sends the marked job. If the queue refuses it, its mark is cleared, so no button stays
/// stuck on a job never sent. A job it followed, if still running, is then unmarked: a
/// press queues a job, which the account's lease runs after it.
async fn send_job<M: MarkStore + ?Sized>(
    marks: &M,
    queue: &dyn Queue,
    id: &AccountId,
    work: Work,
    run_id: String,
) -> Result<(String, bool), Reply> {
    let job = Job {
        account: id.clone(),
        run_id: run_id.clone(),
        trigger: Trigger::Manual,
        work,
    };
    if let Err(e) = queue.send(&[job]).await {
        tracing::error!(account = %id, error = %e, "could not queue the job");
        if let Err(e) = marks.clear_pending(id, &run_id).await {
            tracing::warn!(account = %id, error = %e, "could not undo the pending mark; it expires on its own");
        }
        return Err(Reply::unavailable(
            "the import could not be queued; try again shortly",
        ));
    }
    tracing::info!(account = %id, run_id = %run_id, "job queued");
    Ok((run_id, true))
}
