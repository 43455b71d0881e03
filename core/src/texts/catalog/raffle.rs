//! Texts of raffle draws sent to shoppers.

/// (key, Russian, English).
pub const TEXTS: &[(&str, &str, &str)] = &[(
    "raffle_won",
    "🎉 Поздравляем! Вы выиграли в розыгрыше: {prize}. Мы свяжемся с вами, чтобы вручить приз.",
    "🎉 Congratulations! You won the raffle: {prize}. We will contact you to hand over the prize.",
)];
