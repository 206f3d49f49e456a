// Who signs a reply: the agent a chat was started from (by the chat's name, which starts as the
// agent's), otherwise the model that wrote it. A blank chat's title ("New chat") names nobody.

import type { Message, Session } from '../api/types';

export function replySignature(session: Pick<Session, 'agent_id' | 'title' | 'model'>, message: Pick<Message, 'model'>): string {
  if (session.agent_id) return session.title;
  return message.model || session.model;
}
