// Shapes of the product and chat API (dataplane/chat/API.md, dataplane/gateway/src/views.rs).
// Times are Unix milliseconds; money is a decimal string in the price list's currency.

export interface ApiErrorBody {
  error: { code: string; message: string };
}

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  expires_in: number;
}

export type Role = 'admin' | 'user';

export interface User {
  id: string;
  username: string;
  email: string;
  display_name: string;
  role: Role | string;
  group: string;
  disabled: boolean;
  /** May name a canary lane with `x-oblivious-lane`. */
  lane_select: boolean;
  balance: string;
  currency: string;
  created_at: number;
}

export interface LoginAnswer extends TokenPair {
  user: User;
}

export interface Quota {
  balance: string;
  currency: string;
}

export interface Session {
  id: string;
  title: string;
  /** The title is a blank chat's placeholder ("New chat"), shown in the user's language until
   *  its first topic names the chat; an older server omits it. */
  title_is_placeholder?: boolean;
  avatar: string;
  description: string;
  agent_id: string | null;
  system_prompt: string;
  model: string;
  temperature: number | null;
  opening_message: string | null;
  /** Suggested first questions of its catalog agent (read live); an older server omits it. */
  opening_questions?: string[];
  pinned: boolean;
  group: string;
  /** The caller's knowledge bases its answers draw on; an older server omits it. */
  knowledge_base_ids?: string[];
  /** MCP servers its replies may call besides its agent's (`ToolServerList` refs); an older server omits it. */
  tools?: string[];
  created_at: number;
  updated_at: number;
}

export type SessionPatch = Partial<
  Pick<
    Session,
    | 'title'
    | 'avatar'
    | 'description'
    | 'system_prompt'
    | 'model'
    | 'temperature'
    | 'opening_message'
    | 'pinned'
    | 'group'
  > & { knowledge_base_ids: string[]; tools: string[] }
>;

export interface NewSession {
  agent_id?: string;
  title?: string;
  model?: string;
  system_prompt?: string;
  temperature?: number | null;
  avatar?: string;
  group?: string;
  knowledge_base_ids?: string[];
}

export interface Topic {
  id: string;
  session_id: string;
  title: string;
  active_leaf_id: string | null;
  created_at: number;
  updated_at: number;
}

export type MessageRole = 'user' | 'assistant' | 'system';
export type MessageStatus = 'complete' | 'streaming' | 'stopped' | 'error';

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cached_input_tokens?: number;
  reasoning_tokens?: number;
}

/** A passage a reply was given (API.md `Source`), cited in the reply as `[index]`. */
export interface Source {
  index: number;
  title: string;
  url: string | null;
  snippet: string;
  // Knowledge-base passages carry where they come from (older records may lack it).
  file_id?: string | null;
  chunk_id?: string | null;
  knowledge_base_id?: string | null;
  heading?: string;
  page?: number | null;
  /** Cosine similarity to the question. */
  score?: number | null;
}

/** Where a tool call stands: `running` and `awaiting_approval` are still open, the rest ended. */
export type ToolCallStatus = 'running' | 'awaiting_approval' | 'ok' | 'error' | 'rejected';

/** A tool (MCP) call of a reply (API.md `ToolCall`), as streamed and stored. */
export interface ToolCall {
  /** The model's id of the call, unique within the reply. */
  id: string;
  /** The name the model called. */
  function: string;
  /** `namespace/name` of the ToolServer, or `user:<id>` of the user's own ("" when no server has the tool). */
  server: string;
  /** What the user calls the server (their own server's name); an older server omits it. */
  server_name?: string;
  /** The server's name of the tool. */
  tool: string;
  /** The arguments: JSON as given, or the raw string when they were not JSON. */
  arguments: unknown;
  /** A newer server may add statuses; they show as they are. */
  status: ToolCallStatus | string;
  /** What the tool gave back (empty unless `ok`). */
  output: string;
  error: { code: string; message: string } | null;
  duration_ms: number;
}

/** A platform `ToolServer` open to the user's group (read-only). */
export interface PlatformToolServer {
  /** What a session names it by (`namespace/name`). */
  ref: string;
  name: string;
  /** Its tools that wait for the user's approval before they run. */
  approval_tools: string[];
}

/** An MCP server the user added (Streamable HTTP). Header values are never shown back. */
export interface UserToolServer {
  /** What a session names it by (`user:<id>`). */
  ref: string;
  id: string;
  name: string;
  url: string;
  header_names: string[];
  created_at: number;
}

/** `GET /chat/tool-servers`: what the user may turn on for a session. */
export interface ToolServerList {
  platform: PlatformToolServer[];
  user: UserToolServer[];
  /** The platform lets users add their own servers (`OBLIVIOUS_USER_TOOL_SERVERS`). */
  user_servers_allowed: boolean;
}

export interface NewToolServer {
  name: string;
  url: string;
  /** Sent only when there are some. */
  headers?: Record<string, string>;
}

/** The answer of `POST /chat/messages/{id}/tool-calls/{call_id}/approval`. */
export interface ToolApproval {
  status: 'approved' | 'rejected';
}

/** A file sent with a user message. */
export interface Attachment {
  file_id: string;
  name: string;
  media_type: string;
  size: number;
  kind: 'image' | 'document' | string;
}

export interface Siblings {
  index: number;
  count: number;
  ids: string[];
}

export interface Message {
  id: string;
  session_id: string;
  topic_id: string;
  parent_id: string | null;
  role: MessageRole;
  content: string;
  reasoning: string;
  model: string | null;
  status: MessageStatus;
  error: { code: string; message: string } | null;
  usage: Usage | null;
  cost: string | null;
  currency: string;
  sources: Source[];
  /** Files sent with a user message; an older server omits the field. */
  attachments?: Attachment[];
  /** The reply's tool calls in the order they ran; an older server omits the field. */
  tool_calls?: ToolCall[];
  /** Null in stream events, where the server does not compute it. */
  siblings: Siblings | null;
  created_at: number;
  updated_at: number;
}

export interface MessagePage {
  messages: Message[];
  has_more: boolean;
  /** The topic listed (its title may have changed since the topic list was loaded). */
  topic?: Topic | null;
}

export interface SendAnswer {
  topic: Topic;
  user_message: Message;
  assistant_message: Message;
  stream_id: string;
}

export interface RegenerateAnswer {
  topic: Topic;
  assistant_message: Message;
  stream_id: string;
}

export interface SearchResult {
  message_id: string;
  session_id: string;
  topic_id: string;
  topic_title: string;
  session_title: string;
  role: MessageRole;
  snippet: string;
  created_at: number;
}

export interface Agent {
  id: string;
  source: 'catalog' | 'user';
  name: string;
  avatar: string;
  description: string;
  tags: string[];
  system_prompt: string;
  /** Null: the user's default model. */
  model: string | null;
  temperature: number | null;
  opening_message: string | null;
  /** Catalog agents' suggested first questions ([] for private ones); an older server omits it. */
  opening_questions?: string[];
  /** Private: the user's bases, copied to each new session; catalog: the administrator's. */
  knowledge_base_ids?: string[];
  created_at: number;
  updated_at: number;
}

export interface AgentInput {
  name: string;
  system_prompt?: string;
  model?: string;
  temperature?: number | null;
  avatar?: string;
  description?: string;
  opening_message?: string | null;
  tags?: string[];
  knowledge_base_ids?: string[];
}

export interface Model {
  id: string;
  provider: string;
  context_window: number | null;
  price: { input: string; output: string; currency: string } | null;
}

/** `GET/PUT /chat/preferences`: the user's default model and what a blank chat starts with. */
export interface ChatPreferences {
  /** The user's own choice; null is Automatic (the group's default, else the cheapest model). */
  default_model: string | null;
  /** What `POST /chat/sessions` without model or agent picks now; empty when no model is usable. */
  blank_chat_model: string;
}

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  models: string[];
  group: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  rpm: number | null;
  tpm: number | null;
  max_spend: string | null;
  spent: string;
}

export interface NewApiKey {
  name: string;
  models?: string[];
  expires_at?: number;
  rpm?: number;
  tpm?: number;
  max_spend?: string;
}

export interface CreatedApiKey extends ApiKey {
  /** The secret; shown once. */
  key: string;
}

export interface UsageRow {
  bucket: string;
  model: string | null;
  requests: number;
  /** Failed requests; those the client went away from are `cancelled`, not errors. */
  errors: number;
  cancelled: number;
  input_tokens: number;
  output_tokens: number;
  cost: string;
}

export interface RedeemCode {
  id: string;
  prefix: string;
  amount: string;
  note: string;
  created_at: number;
  expires_at: number | null;
  redeemed_by: string | null;
  redeemed_at: number | null;
}

export interface MintedCode extends RedeemCode {
  code: string;
}

export interface RequestLog {
  id: string;
  created_at: number;
  key_id: string | null;
  user_id: string | null;
  /** The user's name (admin listing only). */
  username?: string | null;
  key_prefix: string;
  ingress: string;
  endpoint: string;
  model: string;
  upstream_model: string | null;
  channel: string | null;
  provider: string | null;
  status: number;
  error_class: string | null;
  attempts: number;
  stream: boolean;
  latency_ms: number;
  ttft_ms: number | null;
  input_tokens: number;
  cached_input_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  usage_estimated: boolean;
  cost_micros: number;
  currency: string | null;
  lane: string | null;
}

export interface ChannelHealth {
  ejected: boolean;
  consecutive_failures: number;
  disabled_keys: number;
  last_disable_reason: string | null;
  successes: number;
  failures: number;
}

export interface ChannelView {
  name: string;
  provider: string;
  models: string[];
  priority: number;
  weight: number;
  groups: string[];
  suspended: boolean;
  keys: number;
  health: ChannelHealth;
}

export type StatsGroup = 'day' | 'model' | 'user' | 'key' | 'channel';

/** An uploaded file (`/api/v1/files`). `url` is a signed download path valid until `url_expires_at` (Unix s). */
export interface FileInfo {
  id: string;
  name: string;
  media_type: string;
  size_bytes: number;
  sha256: string;
  created_at: number;
  url: string;
  url_expires_at: number;
}

/** A knowledge base (`/api/v1/knowledge-bases`); fractions are 0..1. */
export interface KnowledgeBase {
  id: string;
  name: string;
  description: string;
  embedding_model: string;
  embedding_dims: number | null;
  chunk_tokens: number;
  chunk_overlap: number;
  top_k: number;
  score_threshold: number;
  vector_weight: number;
  /** A rerank model that reorders the candidates; null: none. */
  rerank_model?: string | null;
  created_at: number;
  updated_at: number;
}

export type KnowledgeBaseSettings = Pick<
  KnowledgeBase,
  'name' | 'description' | 'chunk_tokens' | 'chunk_overlap' | 'top_k' | 'score_threshold' | 'vector_weight'
>;

export interface NewKnowledgeBase extends Partial<KnowledgeBaseSettings> {
  name: string;
  embedding_model: string;
  rerank_model?: string;
}

/** A change of a base: its settings, and its rerank model ("" turns reranking off). */
export type KnowledgeBaseChange = Partial<KnowledgeBaseSettings> & { rerank_model?: string };

export type KnowledgeFileStatus = 'queued' | 'parsing' | 'chunking' | 'embedding' | 'indexed' | 'failed';

/** A file in a knowledge base with its ingestion state. */
export interface KnowledgeFile {
  file_id: string;
  name: string;
  media_type: string;
  size_bytes: number;
  status: KnowledgeFileStatus | string;
  error: string | null;
  progress: { chunks_total: number; chunks_embedded: number };
  attempt: number;
  created_at: number;
  updated_at: number;
}

/** One retrieved chunk of `POST /knowledge-bases/{id}/search`. */
export interface RetrievalHit {
  chunk_id: string;
  knowledge_base_id: string;
  file_id: string;
  file_name: string;
  heading: string;
  page: number | null;
  text: string;
  /** Fused score (higher is better, not comparable across queries). */
  score: number;
  /** Cosine similarity to the query. */
  similarity: number | null;
  vector_rank: number | null;
  text_rank: number | null;
}

/** What a webhook may subscribe to (`ping` is sent by a test only). A newer server may add some. */
export type WebhookEventType = 'reply.completed' | 'reply.failed' | 'balance.low' | 'key.created' | 'key.revoked' | 'file.indexed';

/** An endpoint that receives signed events: a user's (their events) or the platform's (everyone's). */
export interface Webhook {
  id: string;
  url: string;
  event_types: (WebhookEventType | string)[];
  description: string;
  enabled: boolean;
  scope: 'user' | 'platform' | string;
  created_at: number;
  updated_at: number;
}

/** The answer of a creation: the only time the signing secret (`whsec_…`) is shown. */
export interface CreatedWebhook extends Webhook {
  secret: string;
}

export interface NewWebhook {
  url: string;
  event_types: string[];
  /** Sent only when there is one. */
  description?: string;
  enabled?: boolean;
}

export type WebhookPatch = Partial<Pick<Webhook, 'url' | 'description' | 'enabled'> & { event_types: string[] }>;

/** `pending` waits for its next attempt; `delivering` is being sent; the other two have ended. */
export type DeliveryStatus = 'pending' | 'delivering' | 'delivered' | 'failed';

/** One event for one webhook and how sending it went. */
export interface WebhookDelivery {
  id: string;
  webhook_id: string;
  /** The `webhook-id` header: the same on every attempt and replay. */
  event_id: string;
  event_type: string;
  status: DeliveryStatus | string;
  attempts: number;
  /** When it is tried next (pending only). */
  next_attempt_at: number | null;
  last_status_code: number | null;
  last_error: string | null;
  last_attempt_at: number | null;
  delivered_at: number | null;
  created_at: number;
  /** The event as sent. */
  payload: unknown;
}

/** What the admin dashboard's series can be split by (`/api/v1/admin/series?split=`). */
export type SeriesSplit = 'model' | 'channel' | 'user' | 'lane';

/**
 * One bucket of `/admin/series`. Errors are status 400 and up except 499 (`cancelled`: the
 * client went away); `cost` is a decimal string; latencies are nearest-rank percentiles over the
 * answered requests (null when the bucket answered nothing).
 */
export interface SeriesPoint {
  requests: number;
  errors: number;
  cancelled: number;
  input_tokens: number;
  output_tokens: number;
  cost: string;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
  latency_p99_ms: number | null;
  ttft_p50_ms: number | null;
}

/** One line of `/admin/series`: one point per bucket. */
export interface SeriesLine {
  /** Model, channel, user id or lane (`baseline` outside every lane); null for requests without one, and for `other`. */
  key: string | null;
  /** The username, in a split by user. */
  name: string | null;
  /** Folds every key beyond the top ones. */
  other: boolean;
  requests: number;
  points: SeriesPoint[];
}

/** `GET /api/v1/admin/series`. */
export interface UsageSeries {
  from: number;
  to: number;
  step: 'hour' | 'day';
  step_ms: number;
  split: SeriesSplit | null;
  currency: string;
  /** Start of each bucket (ms). */
  buckets: number[];
  /** The whole range as one bucket (its percentiles are over every request of the range). */
  summary: SeriesPoint | null;
  total: SeriesLine | null;
  /** Empty without a split. */
  series: SeriesLine[];
}

/** A channel over one window of `/admin/channels/health`. */
export interface ChannelWindow {
  requests: number;
  errors: number;
  cancelled: number;
  /** Answered over requests not cancelled by their client, 0 to 1; null without any. */
  success_rate: number | null;
  latency_p50_ms: number | null;
  latency_p99_ms: number | null;
}

/** A channel's health from the shared request log: cluster-wide, unlike `ChannelHealth`. */
export interface ChannelLogHealth {
  channel: string;
  last_15m: ChannelWindow;
  last_24h: ChannelWindow;
  last_error: { at: number; status: number; error_class: string | null } | null;
}
