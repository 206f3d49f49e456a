import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Message } from '../../api/types';
import { MessageItem, type MessageActions } from './MessageItem';

afterEach(cleanup);

const question: Message = {
  id: 'u1',
  session_id: 's',
  topic_id: 't',
  parent_id: null,
  role: 'user',
  content: 'Where do quokkas live?',
  reasoning: '',
  model: null,
  status: 'complete',
  error: null,
  usage: null,
  cost: null,
  currency: 'USD',
  sources: [],
  siblings: null,
  created_at: 1,
  updated_at: 1,
};

/** Opens the edit box of a past question; returns its text area and the onEdit spy. */
function editQuestion() {
  const onEdit = vi.fn<MessageActions['onEdit']>();
  const noop = () => undefined;
  render(
    <MessageItem message={question} assistantAvatar="🤖" assistantName="Bot" live={false} reconnecting={0} busy={false} onCopy={noop} onEdit={onEdit} onRegenerate={noop} onDelete={noop} onSwitch={noop} />,
  );
  fireEvent.click(screen.getByTestId('action-edit'));
  const box = screen.getByTestId('edit-input') as HTMLTextAreaElement;
  fireEvent.change(box, { target: { value: 'Where do wombats live?' } });
  return { box, onEdit };
}

describe('the edit box of a past question', () => {
  it('sends with Enter, like the composer', () => {
    const { box, onEdit } = editQuestion();
    expect(fireEvent.keyDown(box, { key: 'Enter' })).toBe(false);
    expect(onEdit).toHaveBeenCalledWith(question, 'Where do wombats live?');
    expect(screen.queryByTestId('edit-input')).toBeNull();
  });

  it('keeps Shift+Enter for a newline', () => {
    const { box, onEdit } = editQuestion();
    // Not prevented: the browser inserts the newline.
    expect(fireEvent.keyDown(box, { key: 'Enter', shiftKey: true })).toBe(true);
    expect(onEdit).not.toHaveBeenCalled();
  });

  it('does not send with the Enter that confirms an input method composition', () => {
    const { box, onEdit } = editQuestion();
    fireEvent.keyDown(box, { key: 'Enter', isComposing: true });
    fireEvent.keyDown(box, { key: 'Enter', keyCode: 229 });
    expect(onEdit).not.toHaveBeenCalled();
    expect(screen.getByTestId('edit-input')).toBeTruthy();
  });

  it('does not send a blank question, and Esc cancels', () => {
    const { box, onEdit } = editQuestion();
    fireEvent.change(box, { target: { value: '  ' } });
    fireEvent.keyDown(box, { key: 'Enter' });
    expect(onEdit).not.toHaveBeenCalled();
    fireEvent.keyDown(box, { key: 'Escape' });
    expect(screen.queryByTestId('edit-input')).toBeNull();
    expect(screen.getByTestId('message-content').textContent).toBe('Where do quokkas live?');
  });

  it('tells how it sends', () => {
    const { box } = editQuestion();
    const hint = document.getElementById(box.getAttribute('aria-describedby') ?? '');
    expect(hint?.textContent).toMatch(/Enter/);
  });
});
