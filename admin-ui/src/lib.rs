//! Operator web panel placeholder: the Leptos app arrives with the panel issue.
