// A tool call of a reply as a card: collapsed, the tool, its server, a status badge (icon and
// words, never colour alone) and how long it took; expanded, the arguments and the output or
// error. A call that waits for approval shows Approve and Reject; what happens next comes from
// the stream (`tool_result`), so a reload or another tab shows the same card.

import { useState } from 'react';
import { ApiError } from '../../api/http';
import type { ToolCall } from '../../api/types';
import { decideToolCall } from '../../chat/conversation';
import { formatArguments, formatDuration, formatOutput, isOpen } from '../../chat/toolCalls';
import { useT, type MessageKey } from '../../i18n';
import { toast, toastError } from '../../state/toasts';
import { Icon, type IconName } from '../Icon';

const STATUS: Record<string, { label: MessageKey; icon: IconName | null }> = {
  running: { label: 'tools.status.running', icon: null },
  awaiting_approval: { label: 'tools.status.awaiting_approval', icon: 'clock' },
  ok: { label: 'tools.status.ok', icon: 'check' },
  error: { label: 'tools.status.error', icon: 'alert' },
  rejected: { label: 'tools.status.rejected', icon: 'ban' },
};

function StatusBadge({ status }: { status: string }) {
  const t = useT();
  const known = STATUS[status];
  return (
    <span className={`tool-call__status tool-call__status--${known ? status : 'other'}`} data-testid="tool-call-status">
      {known?.icon ? <Icon name={known.icon} size={13} /> : <span className="spinner spinner--small" aria-hidden="true" />}
      <span>{known ? t(known.label) : status}</span>
    </span>
  );
}

/** A block of text that may be long: it scrolls inside a bounded box, reachable by keyboard. */
function Block({ label, text, testId, error }: { label: string; text: string; testId: string; error?: boolean }) {
  return (
    <pre className={error ? 'tool-call__pre tool-call__pre--error' : 'tool-call__pre'} tabIndex={0} aria-label={label} data-testid={testId}>
      {text}
    </pre>
  );
}

/** Why a declined call did not run: the user said no, or nobody answered in time. */
function rejectionNote(call: ToolCall, t: (key: MessageKey) => string): string {
  if (call.error?.code === 'approval_timeout') return t('tools.approvalTimeout');
  if (!call.error || call.error.code === 'rejected') return t('tools.rejectedNote');
  return call.error.message || t('tools.rejectedNote');
}

type Decision = 'approve' | 'reject';

export interface ToolCallCardProps {
  call: ToolCall;
  /** The reply the call belongs to (the approval is addressed through it). */
  messageId: string;
  /** The reply is still being generated, so a waiting call can be decided. */
  canDecide: boolean;
}

export function ToolCallCard({ call, messageId, canDecide }: ToolCallCardProps) {
  const t = useT();
  const awaiting = call.status === 'awaiting_approval';
  // What the user is asked to approve is shown at once; other calls start collapsed.
  const [open, setOpen] = useState(awaiting);
  const [sending, setSending] = useState(false);
  const [decided, setDecided] = useState<Decision | null>(null);
  const name = call.tool || call.function;

  const decide = async (decision: Decision) => {
    if (sending || decided) return;
    setSending(true);
    try {
      await decideToolCall(messageId, call.id, decision === 'approve');
      setDecided(decision);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) toast(t('tools.approvalGone'), 'error', 6000);
      else toastError(error);
    } finally {
      setSending(false);
    }
  };

  return (
    <li
      className={`tool-call tool-call--${call.status}`}
      data-testid="tool-call"
      data-call-id={call.id}
      data-status={call.status}
      aria-busy={call.status === 'running'}
    >
      <details className="tool-call__details" open={open} onToggle={(e) => setOpen(e.currentTarget.open)}>
        <summary className="tool-call__summary" data-testid="tool-call-toggle">
          <Icon name="chevron-right" size={14} className="tool-call__chevron" />
          <Icon name="wrench" size={14} />
          <span className="tool-call__name" data-testid="tool-call-name">
            {name}
          </span>
          {call.server ? (
            <span className="tool-call__server" data-testid="tool-call-server" data-ref={call.server}>
              {call.server_name || call.server}
            </span>
          ) : null}
          <StatusBadge status={call.status} />
          {!isOpen(call) && call.duration_ms > 0 ? (
            <span className="tool-call__duration" title={t('tools.durationTitle')} data-testid="tool-call-duration">
              {formatDuration(call.duration_ms)}
            </span>
          ) : null}
        </summary>
        {open ? (
          <div className="tool-call__body" data-testid="tool-call-body">
            <div className="tool-call__label">{t('tools.arguments')}</div>
            <Block label={t('tools.argumentsOf', { tool: name })} text={formatArguments(call.arguments)} testId="tool-call-arguments" />
            {call.status === 'ok' ? (
              <>
                <div className="tool-call__label">{t('tools.output')}</div>
                {call.output ? (
                  <Block label={t('tools.outputOf', { tool: name })} text={formatOutput(call.output)} testId="tool-call-output" />
                ) : (
                  <p className="tool-call__note">{t('tools.noOutput')}</p>
                )}
              </>
            ) : null}
            {call.status !== 'rejected' && (call.status === 'error' || call.error) ? (
              <>
                <div className="tool-call__label">{t('tools.error')}</div>
                <Block
                  label={t('tools.errorOf', { tool: name })}
                  text={call.error ? `${call.error.code}: ${call.error.message}` : t('tools.status.error')}
                  testId="tool-call-error"
                  error
                />
              </>
            ) : null}
            {call.status === 'rejected' ? <p className="tool-call__note">{rejectionNote(call, t)}</p> : null}
            {call.status === 'running' ? <p className="tool-call__note">{t('tools.runningNote')}</p> : null}
          </div>
        ) : null}
      </details>
      {awaiting && canDecide ? (
        <div className="tool-call__approval" data-testid="tool-call-approval">
          <p className="tool-call__prompt">{t('tools.approvalPrompt', { tool: name })}</p>
          <div className="tool-call__actions">
            <button
              type="button"
              className="button button--primary"
              disabled={sending || decided !== null}
              onClick={() => void decide('approve')}
              data-testid="tool-call-approve"
            >
              <Icon name="check" size={15} /> {t('tools.approve')}
            </button>
            <button
              type="button"
              className="button"
              disabled={sending || decided !== null}
              onClick={() => void decide('reject')}
              data-testid="tool-call-reject"
            >
              <Icon name="x" size={15} /> {t('tools.reject')}
            </button>
            <span className="tool-call__decided" role="status">
              {decided ? t(decided === 'approve' ? 'tools.approved' : 'tools.declined') : ''}
            </span>
          </div>
        </div>
      ) : null}
    </li>
  );
}

/** The reply's tool calls in the order they ran. */
export function ToolCallList({ calls, messageId, canDecide }: { calls: readonly ToolCall[]; messageId: string; canDecide: boolean }) {
  const t = useT();
  return (
    <ol className="tool-calls" aria-label={t('tools.list')} data-testid="tool-calls">
      {calls.map((call) => (
        <ToolCallCard key={call.id} call={call} messageId={messageId} canDecide={canDecide} />
      ))}
    </ol>
  );
}
