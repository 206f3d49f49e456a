//! The three wire protocols Oblivious speaks, both to clients and to providers.

/// Which wire format a client spoke or a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    OpenAi,
    Anthropic,
    Gemini,
}

impl Dialect {
    /// Stable lower-case name, used in logs, metrics and request records.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::OpenAi => "openai",
            Dialect::Anthropic => "anthropic",
            Dialect::Gemini => "gemini",
        }
    }
}
