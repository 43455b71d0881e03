//! Shopper texts of the receipt flow (upload answers, verification outcomes).

/// (key, Russian, English).
pub const TEXTS: &[(&str, &str, &str)] = &[
    (
        "receipt_accepted",
        "✅ Чек принят! Начислено билетов: {tickets}. Всего у вас билетов: {total}.",
        "✅ Receipt accepted! Tickets added: {tickets}. Your tickets in total: {total}.",
    ),
    (
        "receipt_accepted_first",
        "✅ Чек принят! Начислено билетов: {tickets}. Всего у вас билетов: {total}.\n\n🎉 Поздравляем, вы участвуете в розыгрыше призов! Загружайте новые чеки, чтобы увеличить шансы.",
        "✅ Receipt accepted! Tickets added: {tickets}. Your tickets in total: {total}.\n\n🎉 Congratulations, you are in the prize draw! Upload more receipts to raise your chances.",
    ),
    (
        "receipt_under_review",
        "🕵️ Нужна ручная проверка. Налоговая подтвердила ваш чек, но прежде чем начислить билеты, его посмотрит модератор. Мы напишем сюда, как только он примет решение.",
        "🕵️ A manual review is needed. The tax service confirmed your receipt, but a moderator will look at it before tickets are added. We will write here as soon as they decide.",
    ),
    (
        "receipt_moderation_approved",
        "✅ Модератор проверил ваш чек и принял его. Начислено билетов: {tickets}. Всего у вас билетов: {total}.",
        "✅ A moderator checked your receipt and accepted it. Tickets added: {tickets}. Your tickets in total: {total}.",
    ),
    (
        "receipt_moderation_rejected",
        "❌ Модератор проверил ваш чек и не принял его. Причина: {reason}",
        "❌ A moderator checked your receipt and did not accept it. Reason: {reason}",
    ),
    (
        "receipt_duplicate",
        "♻️ Этот чек уже был загружен ранее. Каждый чек участвует в акции только один раз.",
        "♻️ This receipt has already been uploaded. Each receipt takes part only once.",
    ),
    (
        "receipt_not_a_sale",
        "❌ Это чек возврата или другой операции, а не покупки. В акции участвуют только чеки покупки.",
        "❌ This is a refund or another operation, not a purchase. Only purchase receipts take part.",
    ),
    (
        "receipt_out_of_window",
        "📅 Чек от {date} не участвует: принимаются чеки покупок, сделанных в период акции ({period}).",
        "📅 The receipt of {date} does not take part: only purchases made during the promotion ({period}) count.",
    ),
    (
        "receipt_no_promo_items",
        "🔍 В этом чеке нет товаров-участников акции, билеты не начислены.",
        "🔍 There are no promo products in this receipt, so no tickets were added.",
    ),
    (
        "receipt_unreadable",
        "😕 Не удалось прочитать чек. Советы:\n• сфотографируйте QR-код крупно, чтобы он занимал большую часть кадра;\n• снимайте при хорошем освещении, без бликов и размытия;\n• отправьте снимок файлом (без сжатия) или текст QR-кода вида t=…&s=…&fn=…&i=…&fp=…&n=…",
        "😕 We could not read the receipt. Tips:\n• photograph the QR code close up so that it fills most of the frame;\n• use good light, avoid glare and blur;\n• send the picture as a file (uncompressed) or the QR text like t=…&s=…&fn=…&i=…&fp=…&n=…",
    ),
    (
        "receipt_not_fiscal_qr",
        "🤔 На фото QR-код, но это не QR-код кассового чека. Сфотографируйте QR-код внизу чека.",
        "🤔 The photo shows a QR code, but not the one of a receipt. Please photograph the QR code at the bottom of the receipt.",
    ),
    (
        "receipt_mismatch",
        "❌ Данные чека в налоговой не совпадают с QR-кодом. Проверьте, что это ваш чек и QR-код не повреждён.",
        "❌ The receipt data in the tax service does not match the QR code. Please check that this is your receipt and the QR code is intact.",
    ),
    (
        "receipt_fns_pending",
        "⏳ Этого чека пока нет в базе налоговой: кассы иногда передают чеки с задержкой. Мы автоматически проверим его ещё раз и сообщим результат — отправлять чек повторно не нужно.",
        "⏳ The tax service has not received this receipt yet: registers sometimes send receipts late. We will check it again automatically and tell you the result; there is no need to upload it again.",
    ),
    (
        "receipt_fns_gave_up",
        "😔 Чек так и не появился в базе налоговой за несколько часов, поэтому мы не можем его принять. Если чек настоящий, загрузите его позже ещё раз или напишите в поддержку.",
        "😔 The receipt still has not appeared in the tax service after several hours, so we cannot accept it. If the receipt is genuine, upload it again later or contact support.",
    ),
    (
        "receipt_check_unavailable",
        "⚠️ Сервис проверки чеков сейчас недоступен, и проверить ваш чек не удалось. Это не ваша ошибка: загрузите чек ещё раз позже.",
        "⚠️ The receipt checking service is unavailable right now and your receipt could not be checked. It is not your fault: please upload the receipt again later.",
    ),
    (
        "receipt_too_big",
        "📦 Файл слишком большой: не больше 10 МБ. Отправьте снимок поменьше.",
        "📦 The file is too large: 10 MB at most. Please send a smaller picture.",
    ),
    (
        "receipt_file_unavailable",
        "😕 Не удалось получить ваш снимок из Telegram. Отправьте его ещё раз, пожалуйста.",
        "😕 We could not fetch your picture from Telegram. Please send it again.",
    ),
    (
        "receipt_no_qr_found",
        "😕 Не удалось найти QR-код на фото. Попробуйте так:\n• сфотографируйте QR-код крупно, чтобы он занимал большую часть кадра, при хорошем свете и без бликов;\n• отправьте снимок файлом (без сжатия);\n• пришлите текст QR-кода или ссылку на электронный чек;\n• или нажмите кнопку ниже и введите данные с чека вручную.",
        "😕 We could not find a QR code in the photo. Try this:\n• photograph the QR code up close so it fills most of the frame, in good light and without glare;\n• send the picture as a file (uncompressed);\n• send the QR text or the e-receipt link;\n• or press the button below and type the receipt's details by hand.",
    ),
    (
        "receipt_bad_image",
        "😕 Не удалось открыть изображение. Отправьте фотографию чека в формате JPEG или PNG.",
        "😕 We could not open the picture. Please send a photo of the receipt as JPEG or PNG.",
    ),
    (
        "receipt_being_checked",
        "⏳ Этот чек уже проверяется: его только что загрузили. Результат придёт тому, кто загрузил чек первым, — повторно загружать его не нужно.",
        "⏳ This receipt is already being checked: it was uploaded moments ago. The result goes to whoever uploaded it first; there is no need to upload it again.",
    ),
    (
        "admin_quota_exhausted",
        "⚠️ Лимит запросов ProverkaCheka исчерпан (код 3). Проверка чеков приостановлена до {resume} (МСК); загруженные чеки сохранены и будут проверены автоматически. Пополните лимит в личном кабинете ProverkaCheka.",
        "⚠️ The ProverkaCheka request quota is exhausted (code 3). Receipt checks are paused until {resume} (Moscow time); uploaded receipts are kept and will be checked automatically. Top up the quota in your ProverkaCheka account.",
    ),
];
