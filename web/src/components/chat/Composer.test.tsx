import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Composer, isSendKey } from './Composer';

afterEach(cleanup);

describe('isSendKey', () => {
  const key = (extra: Partial<Parameters<typeof isSendKey>[0]>) =>
    isSendKey({ key: 'Enter', shiftKey: false, altKey: false, ctrlKey: false, metaKey: false, ...extra });
  it('sends on plain Enter only', () => {
    expect(key({})).toBe(true);
    expect(key({ shiftKey: true })).toBe(false);
    expect(key({ key: 'a' })).toBe(false);
  });
  it('never sends while an input method is composing', () => {
    expect(key({ isComposing: true })).toBe(false);
    expect(key({ keyCode: 229 })).toBe(false);
  });
});

describe('Composer', () => {
  it('sends with Enter and clears, keeps a newline with Shift+Enter, stops while streaming', async () => {
    const onSend = vi.fn(async () => true);
    const onStop = vi.fn();
    const { rerender } = render(<Composer onSend={onSend} onStop={onStop} streaming={false} />);
    const box = screen.getByTestId('composer-input') as HTMLTextAreaElement;

    fireEvent.change(box, { target: { value: 'line one' } });
    fireEvent.keyDown(box, { key: 'Enter', shiftKey: true });
    expect(onSend).not.toHaveBeenCalled();

    await act(async () => {
      fireEvent.keyDown(box, { key: 'Enter' });
    });
    expect(onSend).toHaveBeenCalledWith('line one');
    expect(box.value).toBe('');

    // Whitespace alone is not a message.
    fireEvent.change(box, { target: { value: '   ' } });
    await act(async () => {
      fireEvent.keyDown(box, { key: 'Enter' });
    });
    expect(onSend).toHaveBeenCalledTimes(1);

    rerender(<Composer onSend={onSend} onStop={onStop} streaming />);
    expect(screen.queryByTestId('send-button')).toBeNull();
    fireEvent.click(screen.getByTestId('stop-button'));
    expect(onStop).toHaveBeenCalledTimes(1);
  });

  it('keeps the text when the send is refused', async () => {
    const onSend = vi.fn(async () => false);
    render(<Composer onSend={onSend} onStop={() => undefined} streaming={false} />);
    const box = screen.getByTestId('composer-input') as HTMLTextAreaElement;
    fireEvent.change(box, { target: { value: 'keep me' } });
    await act(async () => {
      fireEvent.click(screen.getByTestId('send-button'));
    });
    expect(box.value).toBe('keep me');
  });
});
