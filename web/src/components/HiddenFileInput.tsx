// The file picker behind a visible button (call `.click()` on the ref): several files at once,
// and reset after each pick so choosing the same file again (after removing it) fires again.

import { forwardRef } from 'react';

export const HiddenFileInput = forwardRef<HTMLInputElement, { onFiles: (files: File[]) => void; testId: string }>(
  function HiddenFileInput({ onFiles, testId }, ref) {
    return (
      <input
        ref={ref}
        type="file"
        multiple
        hidden
        tabIndex={-1}
        onChange={(event) => {
          const files = [...(event.target.files ?? [])];
          event.target.value = '';
          if (files.length) onFiles(files);
        }}
        data-testid={testId}
      />
    );
  },
);
