//! What the bot says to admins (and to a shopper who got tickets by hand), Russian and English.

/// (key, Russian, English); placeholders are `{name}`.
pub const TEXTS: &[(&str, &str, &str)] = &[
    (
        "admin_stats",
        "📊 Статистика\n\n👥 Пользователей: {users_total}\n✅ Зарегистрированы: {users_registered}\n🆕 Новых сегодня: {users_today}\n📝 Регистраций сегодня: {registered_today}\n\n🧾 Чеки — уникальные чеки, подтверждённые налоговой\n• приняты, билеты начислены: {receipts_accepted}\n• ждут решения модератора: {receipts_pending}\n• отклонены (нет товаров акции или решение модератора): {receipts_rejected}\n\n📤 Загрузки — каждое фото, файл или текст QR-кода от участников\n• всего: {uploads_total}, сегодня: {uploads_today}\n• стали чеками (они посчитаны выше): {uploads_with_receipt}\n• ждут проверки: {uploads_waiting}\n• отказано до появления чека: {uploads_refused}\n  – повтор уже загруженного чека: {refused_duplicate}\n  – не читается или не QR-код чека: {refused_unreadable}\n  – чек возврата, а не покупки: {refused_not_a_sale}\n  – покупка вне сроков акции: {refused_out_of_window}\n  – налоговая не подтвердила чек: {refused_tax_service}\n  – другое: {refused_other}\n• не удалось проверить (сервис проверки недоступен или чека нет в налоговой): {uploads_failed}\n\n🎟 Билетов всего: {tickets_total}",
        "📊 Statistics\n\n👥 Users: {users_total}\n✅ Registered: {users_registered}\n🆕 New today: {users_today}\n📝 Registrations today: {registered_today}\n\n🧾 Receipts: distinct receipts confirmed by the tax service\n• accepted, tickets granted: {receipts_accepted}\n• awaiting a moderator: {receipts_pending}\n• rejected (no promo products, or by a moderator): {receipts_rejected}\n\n📤 Uploads: every photo, file or QR text participants sent\n• in total: {uploads_total}, today: {uploads_today}\n• became receipts (counted above): {uploads_with_receipt}\n• waiting for a check: {uploads_waiting}\n• refused before a receipt existed: {uploads_refused}\n  – a receipt uploaded before: {refused_duplicate}\n  – unreadable or not a receipt QR code: {refused_unreadable}\n  – a refund, not a purchase: {refused_not_a_sale}\n  – bought outside the promotion dates: {refused_out_of_window}\n  – not confirmed by the tax service: {refused_tax_service}\n  – other: {refused_other}\n• could not be checked (checking service unavailable, or never reached the tax service): {uploads_failed}\n\n🎟 Tickets in total: {tickets_total}",
    ),
    (
        "admin_broadcast_ask_text",
        "📢 Отправьте текст рассылки одним сообщением (до 4096 символов). Его получат все зарегистрированные участники.",
        "📢 Send the broadcast text as one message (up to 4096 characters). Every registered participant will get it.",
    ),
    (
        "admin_broadcast_text_invalid",
        "Текст рассылки должен содержать от 1 до 4096 символов. Отправьте текст ещё раз.",
        "The broadcast text must have 1 to 4096 characters. Please send it again.",
    ),
    (
        "admin_broadcast_text_only",
        "Рассылка из бота пока поддерживает только текст. Отправьте текст сообщения.",
        "Broadcasts from the bot support text only for now. Please send the message text.",
    ),
    (
        "admin_broadcast_preview",
        "👀 Предпросмотр ниже: так сообщение увидят участники. Получателей сейчас: {recipients}.",
        "👀 Preview below: this is what participants will see. Recipients right now: {recipients}.",
    ),
    (
        "admin_broadcast_use_buttons",
        "Выберите действие кнопками под предпросмотром: «🚀 Отправить сейчас», «🕒 Запланировать» или «❌ Отмена».",
        "Choose with the buttons under the preview: «🚀 Send now», «🕒 Schedule» or «❌ Cancel».",
    ),
    ("admin_btn_send_now", "🚀 Отправить сейчас", "🚀 Send now"),
    ("admin_btn_schedule", "🕒 Запланировать", "🕒 Schedule"),
    ("admin_btn_cancel", "❌ Отмена", "❌ Cancel"),
    ("admin_btn_raffle_go", "✅ Провести розыгрыш", "✅ Run the raffle"),
    (
        "admin_broadcast_ask_time",
        "🕒 Когда отправить? Напишите дату и время по Москве в формате ДД.ММ.ГГГГ ЧЧ:ММ, например {example}.",
        "🕒 When should it go out? Type the Moscow date and time as DD.MM.YYYY HH:MM, e.g. {example}.",
    ),
    (
        "admin_time_invalid",
        "Не удалось разобрать дату. Нужен формат ДД.ММ.ГГГГ ЧЧ:ММ по Москве, например {example}.",
        "Could not read the date. Use DD.MM.YYYY HH:MM in Moscow time, e.g. {example}.",
    ),
    (
        "admin_time_past",
        "Это время уже прошло. Укажите дату и время в будущем (по Москве), например {example}.",
        "That time has passed. Give a date and time in the future (Moscow time), e.g. {example}.",
    ),
    (
        "admin_time_too_far",
        "Рассылку можно запланировать не больше чем на год вперёд. Укажите другую дату.",
        "A broadcast can be scheduled at most a year ahead. Please give another date.",
    ),
    (
        "admin_broadcast_started",
        "✅ Рассылка №{id} запущена, получателей: {recipients}. Ход отправки виден в панели.",
        "✅ Broadcast #{id} started, recipients: {recipients}. Progress is shown in the panel.",
    ),
    (
        "admin_broadcast_scheduled",
        "✅ Рассылка №{id} запланирована на {at} по Москве.",
        "✅ Broadcast #{id} is scheduled for {at} Moscow time.",
    ),
    (
        "admin_raffle_ask_prize",
        "🎁 Какой приз разыгрываем? Напишите его название (от 2 до 200 символов).",
        "🎁 What is the prize? Type its name (2 to 200 characters).",
    ),
    (
        "admin_raffle_prize_invalid",
        "Название приза должно содержать от 2 до 200 символов. Напишите его ещё раз.",
        "The prize name must have 2 to 200 characters. Please type it again.",
    ),
    (
        "admin_raffle_ask_count",
        "Сколько победителей? Введите число от 1 до 100.",
        "How many winners? Type a number from 1 to 100.",
    ),
    (
        "admin_raffle_count_invalid",
        "Нужно целое число от 1 до 100. Сколько победителей?",
        "Please type a whole number from 1 to 100. How many winners?",
    ),
    (
        "admin_raffle_confirm",
        "🎁 Розыгрыш\n\nПриз: {prize}\nПобедителей: {winner_count}\nУчастников с билетами: {participants}\n\nПобедители выбираются случайно, шанс зависит от числа билетов. Провести розыгрыш?",
        "🎁 Raffle\n\nPrize: {prize}\nWinners: {winner_count}\nParticipants with tickets: {participants}\n\nWinners are drawn at random, weighted by tickets. Run the raffle?",
    ),
    (
        "admin_raffle_use_buttons",
        "Подтвердите розыгрыш кнопкой «✅ Провести розыгрыш» или нажмите «❌ Отмена».",
        "Confirm with «✅ Run the raffle» or press «❌ Cancel».",
    ),
    (
        "admin_raffle_started",
        "✅ Розыгрыш №{id} запущен. Победители появятся в разделе «🏆 Победители».\n\nОбязательство (SHA-256 зерна), опубликовано до розыгрыша: {commitment}",
        "✅ Raffle #{id} started. The winners will appear under «🏆 Winners».\n\nCommitment (SHA-256 of the seed), published before the draw: {commitment}",
    ),
    (
        "admin_winners_empty",
        "Розыгрышей с победителями пока не было.",
        "There are no raffles with winners yet.",
    ),
    ("admin_winners_title", "🏆 Последние розыгрыши", "🏆 Latest raffles"),
    (
        "admin_winners_draw",
        "🎁 Розыгрыш №{draw}: {prize} ({date} МСК)",
        "🎁 Raffle #{draw}: {prize} ({date} Moscow time)",
    ),
    (
        "admin_winners_line",
        "{position}. {name}{username}, {phone}, билетов: {tickets}{notified}",
        "{position}. {name}{username}, {phone}, tickets: {tickets}{notified}",
    ),
    ("admin_winners_notified", " ✉️", " ✉️"),
    ("admin_winners_no_phone", "телефон не указан", "no phone"),
    (
        "admin_winners_truncated",
        "… полный список — в «📥 Экспорт победителей».",
        "… the full list is in «📥 Export winners».",
    ),
    (
        "admin_export_header",
        "Розыгрыш;Приз;Место;Имя;Username;Телефон;Билетов;Уведомлён",
        "Draw;Prize;Position;Name;Username;Phone;Tickets;Notified",
    ),
    (
        "admin_export_caption",
        "📥 Победители всех розыгрышей, строк: {rows}.",
        "📥 Winners of every raffle, rows: {rows}.",
    ),
    (
        "admin_export_failed",
        "Не удалось отправить файл. Попробуйте ещё раз чуть позже.",
        "Could not send the file. Please try again a little later.",
    ),
    (
        "admin_manual_ask_user",
        "➕ Кому начислить билеты? Отправьте Telegram ID, @username или телефон участника.",
        "➕ Who gets the tickets? Send the participant's Telegram ID, @username or phone.",
    ),
    (
        "admin_manual_query_invalid",
        "Не понял запрос. Отправьте Telegram ID (число), @username или телефон в формате +79991234567.",
        "I did not understand. Send a Telegram ID (a number), @username or a phone like +79991234567.",
    ),
    (
        "admin_manual_not_found",
        "Участник не найден. Проверьте Telegram ID, @username или телефон и отправьте ещё раз.",
        "No participant found. Check the Telegram ID, @username or phone and send it again.",
    ),
    (
        "admin_manual_not_registered",
        "Участник {shopper} ещё не завершил регистрацию: билеты начисляются только зарегистрированным. Укажите другого участника.",
        "{shopper} has not finished registration: only registered participants get tickets. Name another participant.",
    ),
    (
        "admin_manual_found",
        "Найден участник:\n{shopper}\nБилетов сейчас: {tickets}\n\nСколько билетов начислить? Введите число от 1 до 1000.",
        "Participant found:\n{shopper}\nTickets now: {tickets}\n\nHow many tickets to add? Type a number from 1 to 1000.",
    ),
    (
        "admin_manual_amount_invalid",
        "Нужно целое число от 1 до 1000. Сколько билетов начислить?",
        "Please type a whole number from 1 to 1000. How many tickets to add?",
    ),
    (
        "admin_manual_ask_reason",
        "Укажите причину начисления (от 3 до 500 символов), например «чек без QR-кода, проверен вручную».",
        "Give the reason (3 to 500 characters), e.g. «receipt without a QR code, checked by hand».",
    ),
    (
        "admin_manual_reason_invalid",
        "Причина должна содержать от 3 до 500 символов. Напишите её ещё раз.",
        "The reason must have 3 to 500 characters. Please type it again.",
    ),
    (
        "admin_manual_done",
        "✅ Начислено билетов: {amount}.\nУчастник: {shopper}\nТеперь билетов: {total}.",
        "✅ Tickets added: {amount}.\nParticipant: {shopper}\nTickets now: {total}.",
    ),
    (
        "admin_manual_unreachable",
        "Участник заблокировал бота, уведомление ему не отправлено.",
        "The participant blocked the bot, so they were not notified.",
    ),
    (
        "admin_manual_shopper_notice",
        "🎟 Вам начислено билетов: {amount}.\nПричина: {reason}\nВсего билетов: {total}. Удачи в розыгрыше!",
        "🎟 You got {amount|extra ticket|extra tickets}.\nReason: {reason}\nTickets in total: {total}. Good luck in the raffle!",
    ),
    (
        "admin_text_expected",
        "Отправьте ответ текстом или нажмите «❌ Отмена».",
        "Please answer with text or press «❌ Cancel».",
    ),
    (
        "admin_stale_action",
        "Это действие уже неактуально.",
        "This action is no longer available.",
    ),
    ("admin_cancelled_short", "Отменено", "Cancelled"),
];
