import { cleanup, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { json, type RecordedCall, stubRecordingFetch } from '../../api/testing';
import type { ChannelLogHealth, ChannelView } from '../../api/types';
import ChannelsPage from './ChannelsPage';

afterEach(cleanup);

const channel: ChannelView = {
  name: 'default/a',
  provider: 'openai',
  models: ['gpt-4o'],
  priority: 0,
  weight: 100,
  groups: [],
  suspended: false,
  keys: 1,
  health: { ejected: false, consecutive_failures: 0, disabled_keys: 0, last_disable_reason: null, successes: 0, failures: 0 },
};

const health = (name: string, rate: number | null): ChannelLogHealth => ({
  channel: name,
  last_15m: { requests: 10, errors: 4, cancelled: 0, success_rate: rate, latency_p50_ms: 120, latency_p99_ms: 900 },
  last_24h: { requests: 40, errors: 4, cancelled: 0, success_rate: 0.9, latency_p50_ms: 110, latency_p99_ms: 800 },
  last_error: { at: Date.now() - 60_000, status: 502, error_class: 'upstream_error' },
});

let calls: RecordedCall[];
let healthStatus: number;

beforeEach(() => {
  calls = [];
  healthStatus = 200;
  stubRecordingFetch(
    (call) => calls.push(call),
    () => {
      const url = calls.at(-1)?.url ?? '';
      if (url === '/api/v1/admin/channels') return json({ version: 'v1', data: [channel] });
      if (healthStatus !== 200) return json({ error: { code: 'not_found', message: 'no route' } }, healthStatus);
      return json({ now: Date.now(), data: [health('default/a', 0.6), health('default/removed', 1)] });
    },
  );
});

const row = (name: string) => screen.getAllByTestId('channel-row').find((r) => r.getAttribute('data-channel') === name) as HTMLElement;

describe('the admin Channels page', () => {
  it("merges this relay's channels with their health from the shared request log", async () => {
    render(<ChannelsPage />);
    await waitFor(() => expect(screen.getAllByTestId('channel-row')).toHaveLength(2));
    expect(calls.map((c) => c.url).sort()).toEqual(['/api/v1/admin/channels', '/api/v1/admin/channels/health']);
    const a = row('default/a');
    expect(a.getAttribute('data-health'), 'a poor recent success rate marks it degraded').toBe('degraded');
    expect(within(a).getByTestId('channel-rate-15m').textContent).toBe('60%');
    expect(within(a).getByTestId('channel-rate-24h').textContent).toBe('90%');
    expect(within(a).getByTestId('channel-latency').textContent).toBe('110 ms / 800 ms');
    expect(within(a).getByTestId('channel-last-error').textContent).toMatch(/^upstream_error502 · /);
    expect(row('default/removed').getAttribute('data-health')).toBe('unconfigured');
  });

  it('still lists the channels when the server has no channel health', async () => {
    healthStatus = 404;
    render(<ChannelsPage />);
    await waitFor(() => expect(screen.getAllByTestId('channel-row')).toHaveLength(1));
    expect(row('default/a').getAttribute('data-health')).toBe('healthy');
    expect(within(row('default/a')).getByTestId('channel-rate-24h').textContent).toBe('—');
  });
});
