import { createRef } from 'react';
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { filesApi } from '../../api/files';
import { ApiError, type UploadOptions } from '../../api/http';
import type { FileInfo } from '../../api/types';
import { Composer, pastedFiles, type ComposerHandle } from './Composer';

afterEach(cleanup);

/** Uploads that the test finishes by hand. */
let pending: { file: File; options: UploadOptions | undefined; resolve: (info: FileInfo) => void; reject: (e: unknown) => void }[] = [];

beforeEach(() => {
  pending = [];
  vi.spyOn(filesApi, 'upload').mockImplementation(
    (file, options) => new Promise<FileInfo>((resolve, reject) => pending.push({ file, options, resolve, reject })),
  );
  Object.assign(URL, { createObjectURL: vi.fn(() => 'blob:preview'), revokeObjectURL: vi.fn() });
});

const info = (id: string, file: File): FileInfo => ({
  id,
  name: file.name,
  media_type: file.type,
  size_bytes: file.size,
  sha256: '',
  created_at: 1,
  url: `/api/v1/files/${id}/content?x`,
  url_expires_at: 9e9,
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
    expect(onSend).toHaveBeenCalledWith('line one', []);
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

  it('uploads a picked file at once, waits for it, and sends its id with the text', async () => {
    const onSend = vi.fn(async () => true);
    render(<Composer onSend={onSend} onStop={() => undefined} streaming={false} />);
    const doc = new File(['# Refunds'], 'handbook.md', { type: 'text/markdown' });
    fireEvent.change(screen.getByTestId('attach-input'), { target: { files: [doc] } });
    expect(pending).toHaveLength(1);
    const chip = screen.getByTestId('attachment-chip');
    expect(chip.getAttribute('data-status')).toBe('uploading');
    expect(chip.textContent).toContain('handbook.md');

    fireEvent.change(screen.getByTestId('composer-input'), { target: { value: 'Summarize it' } });
    expect((screen.getByTestId('send-button') as HTMLButtonElement).disabled).toBe(true);
    await act(async () => {
      pending[0]?.options?.onProgress?.(4, 9);
    });
    expect(screen.getByTestId('attachment-chip').textContent).toContain('44%');
    await act(async () => pending[0]?.resolve(info('f1', doc)));
    expect(screen.getByTestId('attachment-chip').getAttribute('data-status')).toBe('done');

    await act(async () => {
      fireEvent.click(screen.getByTestId('send-button'));
    });
    expect(onSend).toHaveBeenCalledWith('Summarize it', ['f1']);
    expect(screen.queryByTestId('attachment-chip')).toBeNull();
  });

  it('sends a file without text once it is uploaded, but not nothing', async () => {
    const onSend = vi.fn(async () => true);
    render(<Composer onSend={onSend} onStop={() => undefined} streaming={false} />);
    const send = () => screen.getByTestId('send-button') as HTMLButtonElement;
    expect(send().disabled).toBe(true);
    const picture = new File(['png'], 'dot.png', { type: 'image/png' });
    fireEvent.change(screen.getByTestId('attach-input'), { target: { files: [picture] } });
    expect(send().disabled).toBe(true);
    await act(async () => pending[0]?.resolve(info('p1', picture)));
    expect(send().disabled).toBe(false);
    await act(async () => {
      fireEvent.click(send());
    });
    expect(onSend).toHaveBeenCalledWith('', ['p1']);
  });

  it('shows why the server refused a file, with its message, and sends without it', async () => {
    const onSend = vi.fn(async () => true);
    render(<Composer onSend={onSend} onStop={() => undefined} streaming={false} />);
    const big = new File(['x'], 'video.bin', { type: 'application/octet-stream' });
    fireEvent.change(screen.getByTestId('attach-input'), { target: { files: [big] } });
    await act(async () => pending[0]?.reject(new ApiError(415, 'unsupported_file_type', 'executables are refused')));
    expect(screen.getByTestId('attachment-error').textContent).toBe('Unsupported type: executables are refused');
    fireEvent.change(screen.getByTestId('composer-input'), { target: { value: 'hi' } });
    await act(async () => {
      fireEvent.click(screen.getByTestId('send-button'));
    });
    expect(onSend).toHaveBeenCalledWith('hi', []);
  });

  it('removing a chip cancels its upload and its local preview', async () => {
    render(<Composer onSend={vi.fn(async () => true)} onStop={() => undefined} streaming={false} />);
    const png = new File(['png'], 'shot.png', { type: 'image/png' });
    fireEvent.change(screen.getByTestId('attach-input'), { target: { files: [png] } });
    expect(screen.getByTestId('attachment-chip').querySelector('img')?.getAttribute('src')).toBe('blob:preview');
    fireEvent.click(screen.getByTestId('attachment-remove'));
    expect(screen.queryByTestId('attachment-chip')).toBeNull();
    expect(pending[0]?.options?.signal?.aborted).toBe(true);
    expect(URL.revokeObjectURL).toHaveBeenCalledWith('blob:preview');
  });

  it('takes at most ten files per message, across drops made before a render', () => {
    const handle = createRef<ComposerHandle>();
    render(<Composer ref={handle} onSend={vi.fn(async () => true)} onStop={() => undefined} streaming={false} />);
    const files = (n: number, tag: string) => Array.from({ length: n }, (_, i) => new File(['x'], `${tag}${i}.md`, { type: 'text/markdown' }));
    // Two drops in one batch (the conversation area and the composer): no render between them.
    act(() => {
      handle.current?.addFiles(files(6, 'a'));
      handle.current?.addFiles(files(6, 'b'));
    });
    expect(screen.getAllByTestId('attachment-chip')).toHaveLength(10);
    expect(pending).toHaveLength(10);
  });

  it('attaches images pasted from the clipboard', () => {
    render(<Composer onSend={vi.fn(async () => true)} onStop={() => undefined} streaming={false} />);
    const png = new File(['png'], 'image.png', { type: 'image/png' });
    const clipboardData = {
      items: [{ kind: 'file', getAsFile: () => png }],
      getData: () => '',
    };
    fireEvent.paste(screen.getByTestId('composer-input'), { clipboardData });
    expect(pending.map((p) => p.file.name)).toEqual(['image.png']);
    expect(screen.getByTestId('attachment-chip').getAttribute('data-name')).toBe('image.png');
  });
});

describe('pastedFiles', () => {
  it('takes the files of a paste and ignores its text', () => {
    const png = new File(['png'], 'image.png', { type: 'image/png' });
    const items = [
      { kind: 'string', getAsFile: () => null },
      { kind: 'file', getAsFile: () => png },
    ] as unknown as DataTransferItemList;
    expect(pastedFiles({ items })).toEqual([png]);
    expect(pastedFiles(null)).toEqual([]);
  });
});
