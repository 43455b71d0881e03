//! Texts of raffle draws and of the prize claim that follows, sent to shoppers.

/// (key, Russian, English).
pub const TEXTS: &[(&str, &str, &str)] = &[
    (
        "raffle_won",
        "🎉 Поздравляем! Вы выиграли в розыгрыше: {prize}. Мы свяжемся с вами, чтобы вручить приз.",
        "🎉 Congratulations! You won the raffle: {prize}. We will contact you to hand over the prize.",
    ),
    (
        "claim_deadline_line",
        "⏳ Подтвердите получение до {deadline} ({zone}), иначе приз перейдёт следующему участнику.",
        "⏳ Please confirm by {deadline} ({zone}), otherwise the prize goes to the next participant.",
    ),
    ("btn_claim_confirm", "✅ Подтвердить получение", "✅ Confirm receipt"),
    ("btn_claim_decline", "Отказаться", "Decline"),
    (
        "claim_unavailable",
        "Это действие больше недоступно.",
        "This is no longer available.",
    ),
    (
        "claim_consent",
        "Чтобы получить приз «{prize}», нужно ваше согласие на обработку персональных данных \
         (152-ФЗ): организатор использует их только для вручения приза и отчётности и хранит \
         в зашифрованном виде. Нажмите кнопку ниже, если согласны.",
        "To receive the prize \"{prize}\" we need your consent to the processing of your \
         personal data: the organiser uses it only to hand over the prize and for reporting, \
         and keeps it encrypted. Press the button below if you agree.",
    ),
    ("btn_claim_consent", "Даю согласие", "I consent"),
    (
        "claim_confirmed",
        "Спасибо! Получение приза «{prize}» подтверждено. Организатор свяжется с вами, чтобы вручить его.",
        "Thank you! You confirmed the prize \"{prize}\". The organiser will contact you to hand it over.",
    ),
    (
        "claim_documents_intro",
        "Приз «{prize}» дороже 4 000 ₽, поэтому организатор как налоговый агент должен получить \
         ваши данные. Ответьте на четыре вопроса.",
        "The prize \"{prize}\" is worth more than 4,000 ₽, so the organiser, as your tax agent, \
         needs your details. Please answer four questions.",
    ),
    (
        "claim_ask_full_name",
        "Фамилия, имя и отчество, как в паспорте (например: Иванов Иван Иванович):",
        "Your full name as in the passport (for example: Ivanov Ivan Ivanovich):",
    ),
    (
        "claim_bad_full_name",
        "Нужно 2–3 слова из русских или латинских букв, например: Иванов Иван Иванович.",
        "We need 2–3 words of Cyrillic or Latin letters, for example: Ivanov Ivan Ivanovich.",
    ),
    (
        "claim_ask_passport",
        "Серия и номер паспорта (4 и 6 цифр, например: 4510 123456):",
        "Passport series and number (4 and 6 digits, for example: 4510 123456):",
    ),
    (
        "claim_bad_passport",
        "Серия и номер — это 10 цифр: 4 цифры серии и 6 цифр номера, например 4510 123456.",
        "The series and number are 10 digits: 4 of the series and 6 of the number, e.g. 4510 123456.",
    ),
    (
        "claim_ask_inn",
        "ИНН физического лица (12 цифр):",
        "Your individual taxpayer number, INN (12 digits):",
    ),
    (
        "claim_bad_inn",
        "Это не ИНН физического лица: нужно 12 цифр с верными контрольными цифрами. Проверьте и отправьте ещё раз.",
        "This is not an individual's INN: it has 12 digits with valid check digits. Please check it and send it again.",
    ),
    (
        "claim_ask_address",
        "Адрес регистрации с индексом:",
        "Your registered address with the postal code:",
    ),
    (
        "claim_bad_address",
        "Адрес должен быть от 10 до 300 символов.",
        "The address must have 10 to 300 characters.",
    ),
    (
        "claim_documents_received",
        "Спасибо! Данные получены и сохранены в зашифрованном виде. Организатор свяжется с вами, чтобы вручить приз.",
        "Thank you! We received your details and keep them encrypted. The organiser will contact you to hand over the prize.",
    ),
    (
        "claim_decline_ask",
        "Точно отказаться от приза «{prize}»? Приз перейдёт следующему участнику, вернуть его будет нельзя.",
        "Do you really want to decline the prize \"{prize}\"? It goes to the next participant and cannot be returned.",
    ),
    ("btn_claim_decline_confirm", "Да, отказаться", "Yes, decline"),
    (
        "claim_declined",
        "Вы отказались от приза. Спасибо, что участвуете в акции!",
        "You declined the prize. Thank you for taking part in the promotion!",
    ),
];
