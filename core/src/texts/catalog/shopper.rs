//! Texts of the shopper dialogue: registration, menu, upload answers, profile, FAQ.

/// (key, Russian, English). Placeholders are `{name}`; unknown ones are left as is.
pub const TEXTS: &[(&str, &str, &str)] = &[
    (
        "welcome_new",
        "👋 Добро пожаловать в акцию «{promo}»!\n\n🎁 Призы: {prizes}\n\nПокупайте товары-участники, загружайте чеки и получайте билеты для розыгрыша.{starts}\n\nДля начала представьтесь: как вас зовут?",
        "👋 Welcome to the «{promo}» promotion!\n\n🎁 Prizes: {prizes}\n\nBuy the promo products, upload receipts and get raffle tickets.{starts}\n\nFirst, what is your name?",
    ),
    (
        "welcome_starts",
        "⏳ Акция начнётся {start}: зарегистрируйтесь сейчас, а чеки можно будет загружать с этого дня.",
        "⏳ The promotion starts on {start}: register now and upload receipts from that day on.",
    ),
    (
        "welcome_ended",
        "🏁 Акция «{promo}» завершилась {end}: регистрация и приём чеков закрыты.\n\n🎁 Призы: {prizes}\n\nПобедителей определяет розыгрыш среди участников с билетами. Бот сам напишет каждому победителю в этот чат. Спасибо за интерес к акции!",
        "🏁 The «{promo}» promotion ended on {end}: registration and receipt uploads are closed.\n\n🎁 Prizes: {prizes}\n\nThe winners are drawn among participants with tickets. The bot writes to every winner in this chat. Thank you for your interest!",
    ),
    (
        "ask_phone",
        "Приятно познакомиться, {name}! 📱 Отправьте номер телефона кнопкой «Поделиться контактом» или напишите его в формате +79991234567.",
        "Nice to meet you, {name}! 📱 Send your phone number with the «Share contact» button or type it like +79991234567.",
    ),
    // Why a name was refused, one text per reason (see `dialogue::NameError`).
    (
        "name_too_short",
        "Имя слишком короткое: нужно от 2 до 100 символов. Напишите имя полностью, например «Иван».",
        "The name is too short: it needs 2 to 100 characters. Please type your full name, e.g. «John».",
    ),
    (
        "name_too_long",
        "Имя слишком длинное: нужно от 2 до 100 символов. Напишите только имя и фамилию.",
        "The name is too long: it needs 2 to 100 characters. Please type just your first and last name.",
    ),
    (
        "name_digits",
        "В имени не должно быть цифр. Напишите имя буквами, например «Иван Петров».",
        "A name has no digits. Please write it in letters, e.g. «John Smith».",
    ),
    (
        "name_markup",
        "Похоже на разметку: теги вроде <b>…</b> в имени не нужны. Напишите имя обычным текстом{suggestion}.",
        "That looks like markup: a name needs no tags like <b>…</b>. Please type it as plain text{suggestion}.",
    ),
    ("name_markup_suggestion", ", например «{name}»", ", e.g. «{name}»"),
    (
        "name_symbols",
        "В имени не должно быть символов {symbols}. Можно использовать буквы, пробел, дефис, апостроф и точку.",
        "A name cannot contain {symbols}. Use letters, spaces, hyphens, apostrophes and dots.",
    ),
    (
        "name_no_letters",
        "В имени должны быть буквы. Напишите, как вас зовут, например «Иван».",
        "A name needs letters. Please type what you are called, e.g. «John».",
    ),
    (
        "phone_invalid",
        "Не похоже на номер телефона. Напишите его в формате +79991234567 (от 10 до 15 цифр) или нажмите «Поделиться контактом».",
        "That does not look like a phone number. Type it like +79991234567 (10 to 15 digits) or press «Share contact».",
    ),
    (
        "contact_not_own",
        "Пожалуйста, отправьте свой собственный контакт кнопкой «Поделиться контактом».",
        "Please share your own contact with the «Share contact» button.",
    ),
    (
        "registered",
        "✅ Регистрация завершена! Теперь загружайте чеки с товарами-участниками акции и получайте билеты.",
        "✅ You are registered! Now upload receipts with promo products and collect tickets.",
    ),
    (
        "welcome_back",
        "С возвращением, {name}! 🎟 Ваших билетов: {tickets}. {days_left}",
        "Welcome back, {name}! 🎟 Your tickets: {tickets}. {days_left}",
    ),
    // One line about where the promotion stands: /start, profile, /status.
    (
        "days_left",
        "До конца акции: {days|день|дня|дней}.",
        "{days|day|days} left in the promotion.",
    ),
    (
        "promo_last_day",
        "Сегодня последний день акции!",
        "Today is the last day of the promotion!",
    ),
    ("promo_open_ended", "Акция продолжается.", "The promotion is running."),
    (
        "promo_not_started",
        "⏳ Акция начнётся {start}: чеки принимаются с этого дня.",
        "⏳ The promotion starts on {start}: receipts are accepted from that day on.",
    ),
    (
        "promo_over",
        "🏁 Акция завершилась {end}, чеки больше не принимаются. Победителей определит розыгрыш, бот сам напишет каждому победителю в этот чат.",
        "🏁 The promotion ended on {end}; receipts are no longer accepted. The winners are drawn in a raffle, and the bot writes to every winner in this chat.",
    ),
    (
        "cancelled_registration",
        "Регистрация отменена. Чтобы начать заново, отправьте /start.",
        "Registration cancelled. Send /start to begin again.",
    ),
    ("cancelled", "Действие отменено.", "Cancelled."),
    (
        "hint_awaiting_name",
        "Напишите, пожалуйста, ваше имя текстом (или нажмите «❌ Отмена»).",
        "Please type your name (or press «❌ Cancel»).",
    ),
    (
        "hint_start",
        "Чтобы принять участие в акции, отправьте /start.",
        "To join the promotion, send /start.",
    ),
    (
        "hint_menu",
        "Не понял сообщение. Пожалуйста, воспользуйтесь кнопками меню.",
        "I did not understand that. Please use the menu buttons.",
    ),
    ("btn_cancel", "❌ Отмена", "❌ Cancel"),
    (
        "btn_manual_entry",
        "✍️ Ввести данные вручную",
        "✍️ Enter the details by hand",
    ),
    ("btn_share_contact", "📱 Поделиться контактом", "📱 Share contact"),
    ("btn_upload", "🧾 Загрузить чек", "🧾 Upload receipt"),
    ("btn_profile", "👤 Мой профиль", "👤 My profile"),
    ("btn_receipts", "📋 Мои чеки", "📋 My receipts"),
    ("btn_faq", "ℹ️ FAQ", "ℹ️ FAQ"),
    ("btn_support", "🆘 Поддержка", "🆘 Support"),
    ("btn_stats", "📊 Статистика", "📊 Statistics"),
    ("btn_broadcast", "📢 Рассылка", "📢 Broadcast"),
    ("btn_raffle", "🎁 Розыгрыш", "🎁 Raffle"),
    ("btn_winners", "🏆 Победители", "🏆 Winners"),
    ("btn_export_winners", "📥 Экспорт победителей", "📥 Export winners"),
    ("btn_manual_receipt", "➕ Ручное добавление", "➕ Manual receipt"),
    (
        "banned",
        "Ваш аккаунт отключён от участия в акции. Если это ошибка, напишите в поддержку.",
        "Your account has been excluded from the promotion. If this is a mistake, please contact support.",
    ),
    (
        "help",
        "ℹ️ Как пользоваться ботом\n\n🧾 «Загрузить чек» — отправьте фото QR-кода с чека и получите билеты за товары-участники.\n👤 «Мой профиль», 📋 «Мои чеки» — ваши билеты и статус чеков.\n\nКоманды:\n/start — начать или вернуться в меню\n/status — статус последнего чека и ваши билеты\n/language — язык / language\n/cancel — отменить текущее действие\n/help — эта справка",
        "ℹ️ How to use the bot\n\n🧾 «Upload receipt» — send a photo of the receipt's QR code and get tickets for promo products.\n👤 «My profile», 📋 «My receipts» — your tickets and receipt status.\n\nCommands:\n/start — begin or return to the menu\n/status — status of your latest receipt and your tickets\n/language — язык / language\n/cancel — cancel the current action\n/help — this help",
    ),
    // Receipt upload.
    (
        "upload_not_started",
        "⏳ Акция ещё не началась. Чеки принимаются с {start}.",
        "⏳ The promotion has not started yet. Receipts are accepted from {start}.",
    ),
    (
        "upload_ended",
        "🏁 Акция завершилась {end}, чеки больше не принимаются. Спасибо за участие!",
        "🏁 The promotion ended on {end}; receipts are no longer accepted. Thank you for taking part!",
    ),
    (
        "upload_limit_hour",
        "⚠️ Вы уже загрузили {limit|чек|чека|чеков} за этот час — это максимум. Попробуйте через час.",
        "⚠️ You have uploaded {limit|receipt|receipts} this hour, the maximum. Please try again in an hour.",
    ),
    (
        "upload_limit_day",
        "⚠️ Вы уже загрузили {limit|чек|чека|чеков} за сегодня — это максимум. Попробуйте завтра.",
        "⚠️ You have uploaded {limit|receipt|receipts} today, the maximum. Please try again tomorrow.",
    ),
    (
        "upload_unavailable",
        "⚠️ Сейчас не получается принять чек, попробуйте через пару минут.",
        "⚠️ We cannot accept receipts right now, please try again in a couple of minutes.",
    ),
    (
        "upload_ask",
        "📸 Сфотографируйте QR-код на чеке и отправьте фото сюда. Можно отправить снимок файлом (JPEG или PNG, так QR-код чётче) или текст QR-кода вида t=…&s=…&fn=…&i=…&fp=…&n=…",
        "📸 Take a photo of the QR code on the receipt and send it here. You can also send the picture as a file (JPEG or PNG, the QR code stays sharper) or the QR text like t=…&s=…&fn=…&i=…&fp=…&n=…",
    ),
    (
        "upload_checking",
        "⏳ Чек получен и отправлен на проверку. Результат придёт сюда через несколько минут.",
        "⏳ Receipt received and sent for checking. The result will arrive here in a few minutes.",
    ),
    (
        "upload_checking_paused",
        "⏸ Чек получен и сохранён, но проверка чеков сейчас приостановлена: сервис проверки временно не принимает запросы. Проверка возобновится примерно в {time} по Москве (через {minutes|минуту|минуты|минут}). Мы проверим ваш чек автоматически и пришлём результат сюда — отправлять его ещё раз не нужно.",
        "⏸ Receipt received and kept, but receipt checks are paused right now: the checking service is not taking requests for a while. Checks resume at about {time} Moscow time (in {minutes|minute|minutes}). We will check your receipt automatically and send the result here; there is no need to upload it again.",
    ),
    (
        "upload_too_big",
        "Файл слишком большой: не больше 10 МБ. Отправьте снимок поменьше.",
        "The file is too large: 10 MB at most. Please send a smaller picture.",
    ),
    (
        "upload_wrong_type",
        "Этот файл не подходит: нужна фотография чека в формате JPEG или PNG.",
        "This file will not do: please send a photo of the receipt as JPEG or PNG.",
    ),
    (
        "upload_qr_not_receipt",
        "Это не похоже на QR-код кассового чека. Нужна строка вида t=20240115T1230&s=1285.21&fn=9999078900012345&i=12345&fp=1234567890&n=1 — или просто отправьте фото QR-кода.",
        "This does not look like a receipt QR code. It should read like t=20240115T1230&s=1285.21&fn=9999078900012345&i=12345&fp=1234567890&n=1, or just send a photo of the QR code.",
    ),
    (
        "upload_qr_bad_field",
        "В тексте QR-кода неверное или отсутствующее поле «{field}». Скопируйте строку целиком или отправьте фото QR-кода.",
        "The QR text has a wrong or missing «{field}» field. Copy the whole line or send a photo of the QR code.",
    ),
    (
        "upload_pdf",
        "PDF-чеки пока не принимаются. Сделайте скриншот QR-кода из PDF и отправьте картинкой, пришлите ссылку на электронный чек или нажмите «✍️ Ввести данные вручную».",
        "PDF receipts are not accepted yet. Take a screenshot of the QR code in the PDF and send it as a picture, send the e-receipt link, or press «✍️ Enter the details by hand».",
    ),
    (
        "manual_ask_fn",
        "✍️ Введём чек вручную: 5 коротких вопросов.\n\n1/5. Номер ФН — 16 цифр, на чеке в строке «ФН» или «ФН №».",
        "✍️ Let us enter the receipt by hand: 5 short questions.\n\n1/5. The FN number: 16 digits, on the receipt next to «ФН» or «ФН №».",
    ),
    (
        "manual_ask_fd",
        "2/5. Номер ФД (фискальный документ) — число в строке «ФД» или «ФД №».",
        "2/5. The FD number (fiscal document): the number next to «ФД» or «ФД №».",
    ),
    (
        "manual_ask_fp",
        "3/5. ФП (фискальный признак) — до 10 цифр в строке «ФП» или «ФПД».",
        "3/5. The FP (fiscal sign): up to 10 digits next to «ФП» or «ФПД».",
    ),
    (
        "manual_ask_time",
        "4/5. Дата и время покупки, как на чеке, например 17.09.2024 18:01.",
        "4/5. Date and time of the purchase as printed, e.g. 17.09.2024 18:01.",
    ),
    (
        "manual_ask_sum",
        "5/5. Сумма чека («ИТОГ»), например 1285,21.",
        "5/5. The receipt total («ИТОГ»), e.g. 1285.21.",
    ),
    (
        "manual_bad_fn",
        "Номер ФН — это ровно 16 цифр.",
        "The FN number is exactly 16 digits.",
    ),
    (
        "manual_bad_fd",
        "Номер ФД — это число до 10 цифр.",
        "The FD number is a number of up to 10 digits.",
    ),
    (
        "manual_bad_fp",
        "ФП — это число до 10 цифр (не больше 4294967295).",
        "The FP is a number of up to 10 digits (at most 4294967295).",
    ),
    (
        "manual_bad_time",
        "Не получилось понять дату и время. Напишите как на чеке: ДД.ММ.ГГГГ ЧЧ:ММ.",
        "We could not read the date and time. Please type them as printed: DD.MM.YYYY HH:MM.",
    ),
    (
        "manual_bad_sum",
        "Сумма — число больше нуля, копейки через запятую или точку: 1285,21.",
        "The total is a number above zero, kopecks after a comma or a dot: 1285.21.",
    ),
    (
        "upload_hint",
        "Жду фото QR-кода с чека: фото, файл JPEG/PNG, текст QR-кода или ссылку на электронный чек. QR-код не читается — нажмите «✍️ Ввести данные вручную» (или «❌ Отмена»).",
        "Waiting for the receipt's QR code: a photo, a JPEG/PNG file, the QR text or the e-receipt link. QR code unreadable? Press «✍️ Enter the details by hand» (or «❌ Cancel»).",
    ),
    // Profile, status, my receipts.
    (
        "profile",
        "👤 Ваш профиль\n\nИмя: {name}\nТелефон: {phone}\nЧеков загружено: {uploads} (принято: {accepted})\n🎟 Билетов: {tickets}\n🏆 Выигрышей: {wins}\n{days_left}",
        "👤 Your profile\n\nName: {name}\nPhone: {phone}\nReceipts uploaded: {uploads} (accepted: {accepted})\n🎟 Tickets: {tickets}\n🏆 Wins: {wins}\n{days_left}",
    ),
    ("phone_unknown", "не указан", "not given"),
    (
        "status",
        "📊 Ваш статус\n\nПоследний чек: {last}\n🎟 Билетов: {tickets}\n{days_left}",
        "📊 Your status\n\nLatest receipt: {last}\n🎟 Tickets: {tickets}\n{days_left}",
    ),
    // `{n}` is the shopper's own number of the upload (1 = their first), as in "My receipts".
    ("status_last", "№{n} от {date} — {status}", "#{n} of {date}: {status}"),
    ("status_with_reason", "{status}: {reason}", "{status}: {reason}"),
    ("status_no_receipts", "чеков пока нет", "no receipts yet"),
    (
        "receipts_empty",
        "У вас пока нет загруженных чеков. Нажмите «🧾 Загрузить чек», чтобы получить билеты.",
        "You have not uploaded any receipts yet. Press «🧾 Upload receipt» to get tickets.",
    ),
    (
        "receipts_header",
        "📋 Ваши чеки ({total}), страница {page} из {pages}:",
        "📋 Your receipts ({total}), page {page} of {pages}:",
    ),
    // A line of "My receipts"; the details line below it lists only what is known.
    ("receipt_line", "{n}. {date} — {status}", "{n}. {date}: {status}"),
    ("receipt_line_sum", "Сумма: {sum} ₽", "Total: {sum} RUB"),
    ("receipt_line_tickets", "Билетов: {tickets}", "Tickets: {tickets}"),
    ("status_queued", "⏳ на проверке", "⏳ being checked"),
    ("status_processing", "🔄 проверяем прямо сейчас", "🔄 being checked right now"),
    (
        "status_retry_scheduled",
        "🕒 проверим ещё раз автоматически чуть позже",
        "🕒 will be re-checked automatically a bit later",
    ),
    ("status_accepted", "✅ принят", "✅ accepted"),
    ("status_pending_moderation", "🕵️ на модерации", "🕵️ under review"),
    ("status_rejected", "❌ отклонён", "❌ rejected"),
    ("status_failed", "⚠️ не удалось проверить", "⚠️ could not be checked"),
    // Why an upload ended where it did, in plain words: one text per verifier outcome
    // (`receipt_submissions.outcome`, listed in receipts/verify.rs).
    ("reason_duplicate", "этот чек уже загружен ранее", "this receipt was uploaded before"),
    ("reason_not_a_sale", "это чек возврата, а не покупки", "it is a refund, not a purchase"),
    (
        "reason_out_of_window",
        "покупка сделана вне сроков акции",
        "the purchase was made outside the promotion dates",
    ),
    (
        "reason_no_promo_items",
        "в чеке нет товаров-участников акции",
        "there are no promo products on it",
    ),
    (
        "reason_not_fiscal_qr",
        "на снимке не QR-код кассового чека",
        "the picture shows no receipt QR code",
    ),
    (
        "reason_invalid_qr",
        "текст QR-кода неполный или с ошибкой",
        "the QR text is incomplete or wrong",
    ),
    (
        "reason_bad_image",
        "не удалось открыть изображение",
        "the picture could not be opened",
    ),
    ("reason_too_big", "файл больше 10 МБ", "the file is larger than 10 MB"),
    (
        "reason_file_unavailable",
        "не удалось получить снимок из Telegram",
        "the picture could not be fetched from Telegram",
    ),
    (
        "reason_fns_invalid",
        "налоговая не нашла такой чек — QR-код не читается или повреждён",
        "the tax service found no such receipt: the QR code is unreadable or damaged",
    ),
    (
        "reason_fns_failed",
        "налоговая не выдала данные чека",
        "the tax service returned no data for it",
    ),
    (
        "reason_mismatch",
        "данные в налоговой не совпадают с QR-кодом",
        "the tax service's data does not match the QR code",
    ),
    (
        "reason_fns_pending",
        "чека пока нет в базе налоговой, проверим ещё раз",
        "the tax service has not received it yet; we will check again",
    ),
    (
        "reason_quota_paused",
        "проверка чеков приостановлена; чек сохранён и будет проверен автоматически",
        "receipt checks are paused; the receipt is kept and will be checked automatically",
    ),
    (
        "reason_quota_paused_until",
        "проверка чеков приостановлена примерно до {time} по Москве; чек сохранён и будет проверен автоматически",
        "receipt checks are paused until about {time} Moscow time; the receipt is kept and will be checked automatically",
    ),
    (
        "reason_provider_retry",
        "сервис проверки временно недоступен, повторим автоматически",
        "the checking service is unavailable for now; we will retry automatically",
    ),
    (
        "reason_fns_not_received",
        "чек так и не появился в базе налоговой",
        "the receipt never reached the tax service",
    ),
    (
        "reason_check_unavailable",
        "сервис проверки был недоступен — загрузите чек ещё раз",
        "the checking service was unavailable; please upload the receipt again",
    ),
    (
        "reason_being_checked",
        "этот же чек уже проверяется по другой загрузке",
        "the same receipt is already being checked from another upload",
    ),
    ("btn_prev", "◀️ Назад", "◀️ Back"),
    ("btn_next", "Далее ▶️", "Next ▶️"),
    ("callback_page_missing", "Такой страницы нет.", "There is no such page."),
    (
        "callback_stale",
        "Эта кнопка устарела. Откройте раздел заново из меню.",
        "This button is out of date. Please open the section again from the menu.",
    ),
    // FAQ and support.
    ("faq_menu", "ℹ️ Частые вопросы. Выберите тему:", "ℹ️ Frequently asked questions. Choose a topic:"),
    ("faq_btn_how", "Как участвовать", "How to take part"),
    ("faq_btn_limits", "Лимиты", "Limits"),
    ("faq_btn_winners", "Как узнать о выигрыше", "How winners are told"),
    ("faq_btn_rejected", "Почему чек отклонён", "Why a receipt is rejected"),
    ("faq_btn_dates", "Сроки акции", "Dates"),
    ("faq_btn_prizes", "Призы", "Prizes"),
    ("btn_back", "⬅️ К темам", "⬅️ Topics"),
    (
        "faq_how",
        "🛒 Как участвовать\n\n1. Купите товары-участники акции «{promo}».\n2. Нажмите «🧾 Загрузить чек» и отправьте фото QR-кода с чека.\n3. За каждый подходящий товар в чеке вы получите билеты для розыгрыша.",
        "🛒 How to take part\n\n1. Buy promo products of «{promo}».\n2. Press «🧾 Upload receipt» and send a photo of the receipt's QR code.\n3. Every promo product on the receipt earns you raffle tickets.",
    ),
    (
        "faq_limits",
        "📏 Лимиты\n\nНе больше {per_hour|чека|чеков|чеков} в час и {per_day|чека|чеков|чеков} в день на одного участника. Каждый чек засчитывается только один раз.",
        "📏 Limits\n\nAt most {per_hour|receipt|receipts} an hour and {per_day|receipt|receipts} a day per shopper. Each receipt counts only once.",
    ),
    (
        "faq_winners",
        "🏆 Как узнать о выигрыше\n\nПобедителей выбирают случайно: чем больше билетов, тем выше шанс. Победителям бот напишет сам в этот чат — не блокируйте его.",
        "🏆 How winners are told\n\nWinners are drawn at random: more tickets, better chances. The bot writes to winners in this chat, so please do not block it.",
    ),
    (
        "faq_rejected",
        "❌ Почему чек отклонён\n\n• в чеке нет товаров-участников;\n• чек уже загружен (вами или кем-то другим);\n• дата покупки вне сроков акции;\n• это чек возврата, а не покупки;\n• QR-код не читается — сфотографируйте его ближе и при хорошем свете.",
        "❌ Why a receipt is rejected\n\n• no promo products on it;\n• it was already uploaded (by you or someone else);\n• the purchase date is outside the promotion;\n• it is a refund, not a sale;\n• the QR code is unreadable — take a closer photo in good light.",
    ),
    (
        "faq_dates",
        "📅 Сроки акции\n\nНачало: {start}\nОкончание: {end}\nПринимаются чеки покупок, сделанных в эти даты.",
        "📅 Dates\n\nStart: {start}\nEnd: {end}\nReceipts of purchases made within these dates take part.",
    ),
    ("faq_prizes", "🎁 Призы\n\n{prizes}", "🎁 Prizes\n\n{prizes}"),
    ("date_running", "акция уже идёт", "already running"),
    ("date_open", "без даты окончания", "no end date"),
    (
        "support",
        "🆘 Поддержка\n\nЕсли что-то пошло не так, напишите нам — ответим как можно скорее.\n\n{contacts}",
        "🆘 Support\n\nIf something went wrong, write to us and we will answer as soon as we can.\n\n{contacts}",
    ),
    ("support_email", "✉️ E-mail: {email}", "✉️ E-mail: {email}"),
    ("support_telegram", "💬 Telegram: @{username}", "💬 Telegram: @{username}"),
    ("support_none", "Контакты поддержки скоро появятся.", "Support contacts will be published soon."),
    ("btn_support_telegram", "💬 Написать в поддержку", "💬 Message support"),
    // Language.
    ("language_choose", "Выберите язык / Choose your language:", "Choose your language / Выберите язык:"),
    ("btn_lang_ru", "🇷🇺 Русский", "🇷🇺 Русский"),
    ("btn_lang_en", "🇬🇧 English", "🇬🇧 English"),
    ("language_set", "Язык: русский ✅", "Language: English ✅"),
    ("menu_updated", "Меню обновлено 👇", "Menu updated 👇"),
    // Channel subscription before registration completes.
    (
        "subscribe_required",
        "📢 Последний шаг: подпишитесь на наш канал и нажмите «Проверить подписку».",
        "📢 One last step: join our channel and press «Check subscription».",
    ),
    (
        "hint_awaiting_subscription",
        "Чтобы завершить регистрацию, подпишитесь на канал и нажмите «Проверить подписку» (или «❌ Отмена»).",
        "To finish registration, join the channel and press «Check subscription» (or «❌ Cancel»).",
    ),
    (
        "subscribe_not_yet",
        "Подписка пока не найдена. Подпишитесь на канал и нажмите кнопку ещё раз.",
        "No subscription found yet. Join the channel and press the button again.",
    ),
    (
        "subscribe_check_failed",
        "Не получилось проверить подписку. Попробуйте ещё раз через минуту.",
        "Could not check the subscription. Please try again in a minute.",
    ),
    ("subscribe_confirmed", "✅ Подписка подтверждена.", "✅ Subscription confirmed."),
    ("btn_subscribe", "📢 Перейти в канал", "📢 Open the channel"),
    ("btn_check_subscription", "🔄 Проверить подписку", "🔄 Check subscription"),
];
