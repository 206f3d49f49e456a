//! The wire protocols Oblivious speaks, both to clients and to providers.

/// Which wire format a client spoke or a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// OpenAI Chat Completions.
    OpenAi,
    /// OpenAI Responses (`/v1/responses`): its own request, answer and stream shapes; errors
    /// are shaped like Chat Completions'.
    Responses,
    Anthropic,
    Gemini,
}

impl Dialect {
    /// Stable lower-case name, used in logs, metrics and request records.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::OpenAi => "openai",
            Dialect::Responses => "responses",
            Dialect::Anthropic => "anthropic",
            Dialect::Gemini => "gemini",
        }
    }
}

impl Dialect {
    /// The dialect a request's answers (errors included) are given in, from its path: Anthropic
    /// for `/v1/messages...` and for model listings asked with Anthropic's `anthropic-version`
    /// header (its SDK lists models on OpenAI's path), Gemini for `/v1beta/...`, Responses for
    /// `/v1/responses...`, else OpenAI's
    /// (the product API's error shape is a subset of it).
    pub fn of_request(path: &str, headers: &http::HeaderMap) -> Dialect {
        let anthropic_listing = path.starts_with("/v1/models") && headers.contains_key("anthropic-version");
        if path.starts_with("/v1/responses") {
            Dialect::Responses
        } else if path.starts_with("/v1/messages") || anthropic_listing {
            Dialect::Anthropic
        } else if path.starts_with("/v1beta/") {
            Dialect::Gemini
        } else {
            Dialect::OpenAi
        }
    }
}
