-- A user's chat preferences: the model their blank chats start with (else their group's
-- default from `ModelPricing.groupDefaultModels`, else the cheapest model they may use).
CREATE TABLE chat_preferences (
    user_id        BLOB PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    default_model  TEXT,
    updated_at     INTEGER NOT NULL
);
