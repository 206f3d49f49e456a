// Administrator endpoints (dataplane/gateway/src/routes/admin.rs).

import { api } from './client';
import type { ChannelLogHealth, ChannelView, MintedCode, RedeemCode, RequestLog, SeriesSplit, StatsGroup, UsageRow, UsageSeries, User } from './types';

export interface UserChange {
  role?: string;
  group?: string;
  disabled?: boolean;
  display_name?: string;
  lane_select?: boolean;
}

export interface LogFilter {
  limit?: number;
  model?: string;
  user_id?: string;
  /** A username, an email or a user id. */
  user?: string;
  key_id?: string;
  /** A lane tag, or `baseline` for requests outside every lane. */
  lane?: string;
  before?: number;
}

export interface SeriesQuery {
  from: number;
  to?: number;
  /** By default hours up to two days, days beyond. */
  step?: 'hour' | 'day';
  split?: SeriesSplit;
  /** Series kept apart when split (1 to 10); the rest are folded into `other`. */
  top?: number;
}

export const adminApi = {
  users: (q: string, limit = 50, offset = 0) =>
    api.get<{ data: User[]; total: number }>('/admin/users', { query: { q, limit, offset } }),
  updateUser: (userId: string, change: UserChange) => api.patch<User>(`/admin/users/${encodeURIComponent(userId)}`, change),
  adjustBalance: (userId: string, amount: string, note: string) =>
    api.post<{ balance: string }>(`/admin/users/${encodeURIComponent(userId)}/balance`, { amount, note }),
  codes: (limit = 100) => api.get<{ data: RedeemCode[] }>('/admin/redeem-codes', { query: { limit } }),
  mintCodes: (count: number, amount: string, note: string, expires_at?: number) =>
    api.post<{ data: MintedCode[] }>('/admin/redeem-codes', { count, amount, note, ...(expires_at ? { expires_at } : {}) }),
  logs: (filter: LogFilter) => api.get<{ data: RequestLog[] }>('/admin/logs', { query: { ...filter } }),
  stats: (groupBy: StatsGroup, from?: number, to?: number) =>
    api.get<{ group_by: string; data: UsageRow[]; currency: string }>('/admin/stats', {
      query: { group_by: groupBy, from, to },
    }),
  channels: () => api.get<{ version: number | string; data: ChannelView[] }>('/admin/channels'),
  series: (query: SeriesQuery) => api.get<UsageSeries>('/admin/series', { query: { ...query } }),
  channelHealth: () => api.get<{ now: number; data: ChannelLogHealth[] }>('/admin/channels/health'),
};
