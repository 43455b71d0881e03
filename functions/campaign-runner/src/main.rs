//! campaign-runner Lambda: SQS events from the campaigns queue, one job per message, partial batch failures.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, LambdaEvent};
use promo_core::app::connect_campaign_runner;
use promo_core::campaigns::{runner, Campaigns};
use promo_core::config::CampaignRunnerSettings;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    promo_core::telemetry::init();
    let campaigns = match start().await {
        Ok(campaigns) => campaigns,
        Err(problem) => return fail_every_invocation(&problem).await,
    };
    let campaigns = &campaigns;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        // The invocation's own deadline, not a fixed slice: a slice that outlived the
        // function timeout would be killed mid-send and leave its rows `unknown`, and a
        // shorter one would waste the budget the function is configured (and paid) for.
        let deadline = runner::deadline_from_epoch_millis(epoch_deadline(event.context.deadline));
        Ok::<SqsBatchResponse, lambda_runtime::Error>(
            promo_core::queue::handle_sqs_batch(event.payload, |message| {
                promo_core::worker::handle_campaigns_queue(campaigns, message, deadline)
            })
            .await,
        )
    }))
    .await
}

/// Lambda sends the deadline as milliseconds since the epoch; `cargo lambda watch` (1.9)
/// sends the function timeout instead (600000), which read as an epoch time lies in 1970
/// and left every slice without time to send. No real deadline lies before 2001, so a
/// smaller value is a timeout counted from now.
fn epoch_deadline(deadline_ms: u64) -> u64 {
    const YEAR_2001_MS: u64 = 978_307_200_000;
    if deadline_ms >= YEAR_2001_MS {
        return deadline_ms;
    }
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        });
    now_ms.saturating_add(deadline_ms)
}

/// Only this function's variables are read (see the README's configuration table).
async fn start() -> anyhow::Result<Campaigns> {
    connect_campaign_runner(CampaignRunnerSettings::from_env()?).await
}

/// Exiting at start-up would leave `cargo lambda invoke` waiting, with the error only in
/// watch's log: every invocation fails with the problem instead, and the messages go back
/// to the queue as they would after a crash.
async fn fail_every_invocation(problem: &anyhow::Error) -> Result<(), lambda_runtime::Error> {
    let message = format!("campaign-runner could not start: {problem:#}");
    tracing::error!(error = %message, "start-up failed; failing every invocation");
    lambda_runtime::run(service_fn(move |_: LambdaEvent<SqsEvent>| {
        let message = message.clone();
        async move { Err::<SqsBatchResponse, lambda_runtime::Error>(message.into()) }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_from_the_emulator_becomes_a_deadline_from_now_and_an_epoch_deadline_stays() {
        let lambda = 1_796_124_174_873;
        assert_eq!(epoch_deadline(lambda), lambda);
        let now_ms = epoch_deadline(0);
        let emulator = epoch_deadline(600_000);
        assert!(
            (now_ms + 600_000..now_ms + 601_000).contains(&emulator),
            "ten minutes from now, not 1970"
        );
    }
}
