// `await confirmAction({...})` from anywhere; one host renders the question.

import { useT } from '../i18n';
import { createStore, useStore } from '../state/store';
import { Modal } from './Modal';

interface Question {
  title: string;
  body?: string;
  confirmLabel?: string;
  danger?: boolean;
  resolve: (answer: boolean) => void;
}

const confirmStore = createStore<{ question: Question | null }>({ question: null });

export function confirmAction(question: Omit<Question, 'resolve'>): Promise<boolean> {
  return new Promise((resolve) => confirmStore.set({ question: { ...question, resolve } }));
}

function answer(value: boolean) {
  confirmStore.get().question?.resolve(value);
  confirmStore.set({ question: null });
}

export function ConfirmHost() {
  const t = useT();
  const question = useStore(confirmStore, (s) => s.question);
  if (!question) return null;
  return (
    <Modal
      title={question.title}
      onClose={() => answer(false)}
      testId="confirm-dialog"
      footer={
        <>
          <button type="button" className="button" onClick={() => answer(false)}>
            {t('common.cancel')}
          </button>
          <button
            type="button"
            className={question.danger ? 'button button--danger' : 'button button--primary'}
            data-testid="confirm-ok"
            data-autofocus
            onClick={() => answer(true)}
          >
            {question.confirmLabel ?? t('common.confirm')}
          </button>
        </>
      }
    >
      {question.body ? <p>{question.body}</p> : null}
    </Modal>
  );
}
