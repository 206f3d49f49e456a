-- A user's chat preferences: the model their blank chats start with (else their group's
-- default from `ModelPricing.groupDefaultModels`, else the cheapest model they may use).
CREATE TABLE chat_preferences (
    user_id        uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    default_model  text,
    updated_at     bigint NOT NULL
);
