//! The whole near-real-time path over HTTP, with the real binaries, for tests and the
//! freshness benchmark: the api binary behind the API Gateway stand-in (the public URL
//! Clockify delivers to), the job and webhook queues on moto, and the worker binary fed
//! from both by the poller.

use crate::common::Running;
use crate::gateway::serve_gateway;
use crate::lambda::Function;
use crate::poller::Poller;
use crate::testkit::{unique, TestAws};

pub struct Live {
    pub api: Function,
    pub worker: Function,
    pub gateway: Running,
    pub poller: Poller,
    pub jobs_queue: String,
    pub hooks_queue: String,
}

impl Live {
    /// Starts both functions (the worker with `PUBLIC_API_URL` the gateway's) and the
    /// poller, on fresh queues of `aws`.
    pub async fn start(aws: &TestAws) -> std::io::Result<Live> {
        let (jobs_queue, hooks_queue) = (aws.queue().await, aws.queue().await);
        let secret =
            crate::backend::create_secret(&aws.config, &unique("signing"), "whsec_live").await;
        let mut env = vec![
            ("TABLE_NAME", aws.table.clone()),
            ("KMS_KEY_ID", aws.key_id.clone()),
            ("QUEUE_URL", jobs_queue.clone()),
            ("HOOK_QUEUE_URL", hooks_queue.clone()),
            ("SIGNING_SECRET_ARN", secret),
        ];
        let api = Function::start("api", &env)?;
        let gateway = serve_gateway(api.invoke_url(), 0).await?;
        env.push(("PUBLIC_API_URL", gateway.url().to_string()));
        let worker = Function::start("worker", &env)?;
        let queues = vec![jobs_queue.clone(), hooks_queue.clone()];
        let poller = Poller::spawn(aws.sqs.clone(), queues, worker.invoke_url());
        Ok(Live {
            api,
            worker,
            gateway,
            poller,
            jobs_queue,
            hooks_queue,
        })
    }
}
