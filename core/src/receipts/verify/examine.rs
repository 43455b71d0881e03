//! Examining an upload, cheapest step first: read the QR (typed, stored, or decoded from
//! the picture), reject locally what can be rejected without paying (duplicate, refund,
//! outside the promotion), claim the one paid call, ask ProverkaCheka, and turn its
//! answer into a verdict.

use std::time::Duration;

use anyhow::Context;

use super::*;

impl Work<'_> {
    pub(super) async fn examine(&mut self) -> anyhow::Result<Verdict> {
        let input = match self.input().await? {
            Ok(input) => input,
            Err(verdict) => return Ok(verdict),
        };
        if let Input::Qr(qr) = &input {
            if let Some(verdict) = self.local_rejection(qr).await? {
                return Ok(verdict);
            }
        }
        if self.submission.too_old {
            return Ok(Verdict::failed(
                "gave_up",
                Some("still unsettled after the maximum pending age".to_owned()),
                Reply::plain(t!("receipt_check_unavailable")),
            ));
        }
        let Some(client) = self.app.proverkacheka.clone() else {
            return Ok(Verdict::failed(
                "verifier_unavailable",
                Some("PROVERKA_CHEKA_TOKEN is not configured".to_owned()),
                Reply::plain(t!("receipt_check_unavailable")),
            ));
        };
        if let Some(pause) = self.quota_pause().await? {
            return Ok(Verdict::Later {
                outcome: "quota_paused",
                detail: None,
                delay: pause,
                state: self.state,
                reply: None,
            });
        }

        match self.claim_paid_check(&input).await? {
            PaidCheckClaim::Ours => {}
            PaidCheckClaim::Stored => return Ok(duplicate()),
            PaidCheckClaim::Busy => return Ok(being_checked()),
        }

        self.provider_calls += 1;
        let mut answer = match &input {
            Input::Qr(qr) => client.check_raw(&qr.canonical()).await,
            Input::Picture(picture) => {
                client
                    .check_file(picture.bytes.clone(), picture.filename, picture.mime)
                    .await
            }
        };
        let mut local_qr = match input {
            Input::Qr(qr) => Some(qr),
            Input::Picture(_) => None,
        };
        // Some registers print seconds the tax service did not keep (domain spec 1.2):
        // one more call without them before calling the receipt invalid.
        if let (Ok(CheckOutcome::Invalid), Some(qr)) = (&answer, &local_qr) {
            if qr.time_precision() == TimePrecision::Seconds {
                let minutes = qr.with_time_precision(TimePrecision::Minutes);
                self.provider_calls += 1;
                answer = client.check_raw(&minutes.canonical()).await;
                if matches!(answer, Ok(CheckOutcome::Receipt(_))) {
                    local_qr = Some(minutes);
                }
            }
        }
        self.interpret(answer, local_qr).await
    }

    /// The fiscal QR (typed, stored, or read from the picture), or the picture when it
    /// could not be read; `Err(verdict)` when the upload is refused before any call.
    async fn input(&mut self) -> anyhow::Result<Result<Input, Verdict>> {
        if let Some(text) = self.submission.qr_raw.as_deref() {
            return Ok(match FiscalQr::parse(text) {
                Ok(qr) => Ok(Input::Qr(qr)),
                Err(error) => Err(Verdict::rejected(
                    "invalid_qr",
                    error.to_string(),
                    Reply::plain(t!("receipt_not_fiscal_qr")),
                )),
            });
        }
        let Some(file_id) = self.submission.telegram_file_id.as_deref() else {
            return Ok(Err(Verdict::failed(
                "no_input",
                Some(format!(
                    "a {} submission without a file or QR text",
                    self.submission.source
                )),
                Reply::plain(t!("receipt_file_unavailable")),
            )));
        };
        let bytes = match fetch_image(self.app, file_id).await? {
            Ok(bytes) => bytes,
            Err(verdict) => return Ok(Err(verdict)),
        };
        let (decoded, bytes) = tokio::task::spawn_blocking(move || {
            let decoded = decode_qr_text(&bytes);
            (decoded, bytes)
        })
        .await
        .context("the QR decoder task failed")?;
        Ok(match decoded {
            Ok(text) => match FiscalQr::parse(&text) {
                Ok(qr) => {
                    self.decoded_qr = Some(qr.canonical());
                    Ok(Input::Qr(qr))
                }
                Err(FiscalQrError::Empty | FiscalQrError::NotAFiscalQr) => Err(Verdict::rejected(
                    "not_fiscal_qr",
                    None,
                    Reply::plain(t!("receipt_not_fiscal_qr")),
                )),
                // A fiscal code read with a damaged field: the service may read it.
                Err(error) => self.unreadable(bytes, Some(error.to_string())),
            },
            Err(DecodeError::NoQrCode) => self.unreadable(bytes, None),
            Err(error) => Err(Verdict::rejected(
                "bad_image",
                error.to_string(),
                Reply::plain(t!("receipt_bad_image")),
            )),
        })
    }

    /// A picture we could not read: by default the shopper is asked for a better one,
    /// the QR text or the printed fields, because the paid `qrfile` call rarely finds a
    /// code we missed; an operator may turn that call back on (`paid_image_fallback`).
    fn unreadable(&self, bytes: Vec<u8>, detail: Option<String>) -> Result<Input, Verdict> {
        if self.promo.paid_image_fallback {
            return picture(bytes).map(Input::Picture);
        }
        Err(Verdict::rejected(
            "unreadable",
            detail,
            Reply {
                offer_manual_entry: true,
                ..Reply::plain(t!("receipt_no_qr_found"))
            },
        ))
    }

    /// Duplicate, not a sale, outside the promotion: decided from the QR alone.
    async fn local_rejection(&self, qr: &FiscalQr) -> anyhow::Result<Option<Verdict>> {
        if already_stored(self.app, qr).await? {
            return Ok(Some(duplicate()));
        }
        Ok(eligibility(&self.promo, qr).err())
    }

    /// Claims the one paid call for this receipt (its fiscal triple, or the picture's
    /// hash when only the service can read it). The primary key of
    /// `receipt_check_claims` settles concurrent uploads in any process; a claim whose
    /// owner settled without a receipt (rejected, failed) is taken over.
    async fn claim_paid_check(&self, input: &Input) -> anyhow::Result<PaidCheckClaim> {
        let claim_key = match input {
            Input::Qr(qr) => {
                let key = qr.dedup_key();
                format!(
                    "qr:{}:{}:{}",
                    qr.fiscal_drive_number(),
                    key.fiscal_document_number,
                    key.fiscal_sign
                )
            }
            Input::Picture(picture) => format!("img:{:x}", Sha256::digest(&picture.bytes)),
        };
        let client = self.app.pool.get().await?;
        let ours = client
            .query_opt(
                "INSERT INTO receipt_check_claims (bot_id, claim_key, submission_id)
                 VALUES ($1, $2, $3)
                 ON CONFLICT (bot_id, claim_key) DO UPDATE
                     SET submission_id = EXCLUDED.submission_id, claimed_at = now()
                     WHERE receipt_check_claims.submission_id = EXCLUDED.submission_id
                        OR NOT EXISTS (
                            SELECT 1 FROM receipt_submissions s
                            WHERE s.id = receipt_check_claims.submission_id
                              AND (s.status IN ('queued', 'processing', 'retry_scheduled')
                                   OR s.receipt_id IS NOT NULL))
                 RETURNING 1",
                &[&self.app.bot_id, &claim_key, &self.submission.id],
            )
            .await
            .context("claiming the paid receipt check")?;
        if ours.is_some() {
            return Ok(PaidCheckClaim::Ours);
        }
        let owner = client
            .query_opt(
                "SELECT s.receipt_id IS NOT NULL
                 FROM receipt_check_claims c
                 JOIN receipt_submissions s ON s.id = c.submission_id
                 WHERE c.bot_id = $1 AND c.claim_key = $2",
                &[&self.app.bot_id, &claim_key],
            )
            .await
            .context("reading the owner of the receipt check")?;
        tracing::info!(
            submission_id = self.submission.id,
            "the receipt is checked by another upload; no second paid call"
        );
        Ok(match owner {
            Some(row) if row.get::<_, bool>(0) => PaidCheckClaim::Stored,
            _ => PaidCheckClaim::Busy,
        })
    }

    async fn quota_pause(&self) -> anyhow::Result<Option<Duration>> {
        crate::receipts::quota::remaining_pause(&self.app.redis).await
    }

    async fn interpret(
        &mut self,
        answer: Result<CheckOutcome, ProviderError>,
        local_qr: Option<FiscalQr>,
    ) -> anyhow::Result<Verdict> {
        let outcome = match answer {
            Ok(outcome) => outcome,
            Err(error) => return Ok(self.provider_fault("provider_error", error.to_string())),
        };
        match outcome {
            CheckOutcome::Receipt(receipt) => self.check_receipt(receipt, local_qr).await,
            CheckOutcome::Invalid => Ok(Verdict::rejected(
                "fns_invalid",
                Some("ProverkaCheka code 0".to_owned()),
                Reply::plain(t!("receipt_unreadable")),
            )),
            CheckOutcome::Failed => Ok(Verdict::rejected(
                "fns_failed",
                Some("ProverkaCheka code 5".to_owned()),
                Reply::plain(t!("receipt_unreadable")),
            )),
            CheckOutcome::NotYetReceived => {
                let done = self.state.fns_pending as usize;
                let Some(delay) = FNS_PENDING_DELAYS.get(done).copied() else {
                    return Ok(Verdict::failed(
                        "fns_not_received",
                        Some(format!("ProverkaCheka code 2, {} times", done + 1)),
                        Reply::plain(t!("receipt_fns_gave_up")),
                    ));
                };
                Ok(Verdict::Later {
                    outcome: "fns_pending",
                    detail: Some("ProverkaCheka code 2".to_owned()),
                    delay,
                    state: RetryState {
                        fns_pending: self.state.fns_pending + 1,
                        ..self.state
                    },
                    reply: (done == 0).then(|| Reply::plain(t!("receipt_fns_pending"))),
                })
            }
            CheckOutcome::QuotaExceeded => {
                self.open_quota_breaker().await?;
                Ok(Verdict::Later {
                    outcome: "quota_paused",
                    detail: Some("ProverkaCheka code 3".to_owned()),
                    delay: QUOTA_PAUSE,
                    state: self.state,
                    reply: None,
                })
            }
            CheckOutcome::TooSoon => {
                Ok(self.provider_fault("provider_too_soon", "ProverkaCheka code 4".to_owned()))
            }
        }
    }

    fn provider_fault(&self, outcome: &'static str, detail: String) -> Verdict {
        let done = self.state.provider_failures as usize;
        match PROVIDER_RETRY_DELAYS.get(done) {
            Some(delay) => Verdict::Later {
                outcome,
                detail: Some(detail),
                delay: *delay,
                state: RetryState {
                    provider_failures: self.state.provider_failures + 1,
                    ..self.state
                },
                reply: None,
            },
            None => Verdict::failed(
                "provider_unavailable",
                Some(detail),
                Reply::plain(t!("receipt_check_unavailable")),
            ),
        }
    }

    async fn open_quota_breaker(&self) -> anyhow::Result<()> {
        // Operators must hear about this: every upload waits until the quota returns.
        tracing::error!(
            pause_secs = QUOTA_PAUSE.as_secs(),
            "ProverkaCheka quota exhausted (code 3): pausing all receipt checks"
        );
        let mut conn = self.app.redis.connection();
        // NX: only the call that opens the pause tells the admins, however many checks
        // were in flight when the quota ran out.
        let opened: Option<String> = redis::cmd("SET")
            .arg(quota_breaker_key(&self.app.redis))
            .arg(1)
            .arg("EX")
            .arg(QUOTA_PAUSE.as_secs())
            .arg("NX")
            .query_async(&mut conn)
            .await
            .context("opening the ProverkaCheka circuit breaker")?;
        if opened.is_some() {
            tell_admins_of_quota_pause(self.app).await;
        }
        Ok(())
    }

    /// Domain spec 1.5: the receipt must be the scanned one, a sale, inside the period.
    async fn check_receipt(
        &mut self,
        receipt: Box<FnsReceipt>,
        local_qr: Option<FiscalQr>,
    ) -> anyhow::Result<Verdict> {
        let qr = match local_qr {
            Some(qr) => qr,
            // Read by the service from the picture: the local checks run only now.
            None => {
                let Some(qr) = qr_of(&receipt) else {
                    return Ok(Verdict::rejected(
                        "invalid_receipt",
                        Some("the receipt's requisites do not form a valid QR".to_owned()),
                        Reply::plain(t!("receipt_mismatch")),
                    ));
                };
                self.decoded_qr = Some(qr.canonical());
                if let Some(verdict) = self.local_rejection(&qr).await? {
                    return Ok(verdict);
                }
                qr
            }
        };
        if let Err(mismatch) = receipt.validate_against(&qr) {
            return Ok(Verdict::rejected(
                "mismatch",
                mismatch.to_string(),
                Reply::plain(t!("receipt_mismatch")),
            ));
        }
        if !promo_period(&self.promo).contains_time(receipt.date_time) {
            return Ok(out_of_window(&self.promo, receipt.date_time));
        }
        Ok(Verdict::Verified { qr, receipt })
    }
}
