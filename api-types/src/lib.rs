//! Serde DTOs shared by the admin API and the admin UI.
