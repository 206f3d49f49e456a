// The Channels page's rows: the channels of this process's configuration with its relay's
// in-memory view (ejections, disabled keys), merged with their health from the shared request
// log (`/admin/channels/health`), which is the only view a gateway pod without a relay has.

import type { ChannelLogHealth, ChannelView, ChannelWindow } from '../../api/types';

export type ChannelState = 'suspended' | 'ejected' | 'degraded' | 'healthy' | 'unconfigured';

export interface ChannelRow {
  name: string;
  /** The channel in this process's configuration, with its relay's view; null when only the log knows it. */
  configured: ChannelView | null;
  /** Its traffic of the last 15 minutes and 24 hours; null without any. */
  log: ChannelLogHealth | null;
}

/** Success rates below this over the last 15 minutes mark a channel degraded. */
export const DEGRADED_BELOW = 0.9;
/** ...once this many requests were decided, so one early failure does not. */
const DEGRADED_AFTER = 5;

/** Configured channels in their order, then channels only the log knows (removed, or another tenant's config) by name. */
export function mergeChannels(configured: readonly ChannelView[], log: readonly ChannelLogHealth[]): ChannelRow[] {
  const byName = new Map(log.map((entry) => [entry.channel, entry] as const));
  const rows: ChannelRow[] = configured.map((channel) => ({ name: channel.name, configured: channel, log: byName.get(channel.name) ?? null }));
  const known = new Set(configured.map((channel) => channel.name));
  const extra = log.filter((entry) => !known.has(entry.channel)).sort((a, b) => a.channel.localeCompare(b.channel));
  return rows.concat(extra.map((entry) => ({ name: entry.channel, configured: null, log: entry })));
}

function decided(window: ChannelWindow): number {
  return window.requests - window.cancelled;
}

export function channelState(row: ChannelRow): ChannelState {
  const channel = row.configured;
  if (!channel) return 'unconfigured';
  if (channel.suspended) return 'suspended';
  if (channel.health.ejected) return 'ejected';
  if (channel.health.disabled_keys > 0 || channel.health.consecutive_failures > 0) return 'degraded';
  const recent = row.log?.last_15m;
  if (recent && recent.success_rate !== null && decided(recent) >= DEGRADED_AFTER && recent.success_rate < DEGRADED_BELOW) return 'degraded';
  return 'healthy';
}

/** How a success rate reads: good from 99%, poor from 90%, bad below. */
export function rateTone(rate: number | null): 'good' | 'poor' | 'bad' | null {
  if (rate === null) return null;
  if (rate >= 0.99) return 'good';
  return rate >= DEGRADED_BELOW ? 'poor' : 'bad';
}

/** A rate as a percentage with at most one decimal (`99.5%`, `100%`); `—` without one. */
export function formatRate(rate: number | null): string {
  if (rate === null) return '—';
  return `${Number((rate * 100).toFixed(1))}%`;
}
