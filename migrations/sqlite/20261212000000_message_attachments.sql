-- Files a user attached to a message (API.md `Attachment`: file id, name, type, size, kind), as
-- the chat service resolved them when the message was sent. Images reach the model as image
-- parts; documents as their text.
ALTER TABLE chat_messages ADD COLUMN attachments TEXT NOT NULL DEFAULT '[]';
