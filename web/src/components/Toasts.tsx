import { dismissToast, toastStore } from '../state/toasts';
import { useStore } from '../state/store';
import { useT } from '../i18n';

export function Toasts() {
  const t = useT();
  const toasts = useStore(toastStore, (s) => s.toasts);
  return (
    <div className="toasts" role="status" aria-live="polite">
      {toasts.map((item) => (
        <div key={item.id} className={`toast toast--${item.kind}`} data-testid="toast">
          <span>{item.text}</span>
          <button type="button" className="toast__close" aria-label={t('common.close')} onClick={() => dismissToast(item.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
