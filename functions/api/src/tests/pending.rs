//! The mark handed over while the job it was on ends, and a follow-up the queue refuses.

use super::*;
use crate::pending::queue_job;
use shared::store::{Pending, PendingJob, StoreError};

/// The memory store, where the job marked ends and a press marks its own job just
/// before the first hand-over of the mark (which then finds it is not that job's).
struct EndsMeanwhile {
    inner: MemoryStore,
    press: std::sync::Mutex<Option<&'static str>>,
}

#[async_trait::async_trait]
impl MarkStore for EndsMeanwhile {
    async fn mark_pending(
        &self,
        id: &AccountId,
        run_id: &str,
        ttl: Duration,
    ) -> Result<Pending, StoreError> {
        self.inner.mark_pending(id, run_id, ttl).await
    }
    async fn refresh_pending(
        &self,
        id: &AccountId,
        run_id: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.inner.refresh_pending(id, run_id, ttl).await
    }
    async fn replace_pending(
        &self,
        id: &AccountId,
        from: &str,
        to: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let press = self.press.lock().unwrap().take();
        if let Some(press) = press {
            self.inner.clear_pending(id, from).await?;
            let marked = self.inner.mark_pending(id, press, ttl).await?;
            assert_eq!(marked, Pending::Marked);
        }
        self.inner.replace_pending(id, from, to, ttl).await
    }
    async fn pending(&self, id: &AccountId) -> Result<Option<PendingJob>, StoreError> {
        self.inner.pending(id).await
    }
    async fn clear_pending(&self, id: &AccountId, run_id: &str) -> Result<(), StoreError> {
        self.inner.clear_pending(id, run_id).await
    }
    async fn use_signature(
        &self,
        id: &AccountId,
        signature: &str,
        until: i64,
    ) -> Result<bool, StoreError> {
        self.inner.use_signature(id, signature, until).await
    }
}

#[tokio::test]
async fn a_follow_up_follows_the_job_pending_now_when_the_one_it_saw_ended() {
    let marks = EndsMeanwhile {
        inner: MemoryStore::default(),
        press: std::sync::Mutex::new(Some("press-people")),
    };
    let ttl = shared::queue::PENDING_TTL;
    marks
        .inner
        .mark_pending(&acme(), "first-import", ttl)
        .await
        .unwrap();
    let queue = MemoryQueue::default();
    let all = Work::Import {
        only: None,
        resume: None,
    };
    let (run_id, queued) = queue_job(&marks, &queue, &acme(), all.clone(), true)
        .await
        .unwrap();
    // Not the press's narrower job: a follow-up with the new settings, holding the mark.
    assert!(queued);
    assert_ne!(run_id, "press-people");
    let sent = queue.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!((&sent[0].run_id, &sent[0].work), (&run_id, &all));
    let pending = marks.inner.pending(&acme()).await.unwrap().unwrap();
    assert_eq!(pending.run_id, run_id);
}

#[tokio::test]
async fn a_follow_up_the_queue_refuses_leaves_no_mark_behind() {
    let store = MemoryStore::default();
    let ttl = shared::queue::PENDING_TTL;
    store
        .mark_pending(&acme(), "first-import", ttl)
        .await
        .unwrap();
    let all = Work::Import {
        only: None,
        resume: None,
    };
    let refused = queue_job(&store, &DownQueue, &acme(), all, true).await;
    let reply = refused.unwrap_err();
    assert_eq!((reply.status, error_of(&reply).0), (503, "unavailable"));
    // Not put back on the job it followed (which may have ended meanwhile): cleared, so
    // no button waits for a job that is gone; a press now queues one.
    assert_eq!(store.pending(&acme()).await.unwrap(), None);
}
