-- The tool calls of an assistant reply (API.md `ToolCall`: the call the model asked for, its
-- arguments, the result or error, and how long it took), in the order they ran. The reply's own
-- text is the model's answer after its last call.
ALTER TABLE chat_messages ADD COLUMN tool_calls TEXT NOT NULL DEFAULT '[]';
