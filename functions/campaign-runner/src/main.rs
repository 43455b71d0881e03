//! campaign-runner Lambda: SQS events from the campaigns queue, one job per message, partial batch failures.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, LambdaEvent};
use promo_core::app::App;
use promo_core::campaigns::runner;
use promo_core::config::Settings;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    promo_core::telemetry::init();
    let app = App::build(Settings::from_env()?).await?;
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        // The invocation's own deadline, not a fixed slice: a slice that outlived the
        // function timeout would be killed mid-send and leave its rows `unknown`, and a
        // shorter one would waste the budget the function is configured (and paid) for.
        let deadline = runner::deadline_from_epoch_millis(event.context.deadline);
        Ok::<SqsBatchResponse, lambda_runtime::Error>(
            promo_core::queue::handle_sqs_batch(event.payload, |message| {
                runner::handle_run_job(app, message, deadline)
            })
            .await,
        )
    }))
    .await
}
